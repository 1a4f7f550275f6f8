package attest.deployment

import data.attest.lib

receipt_annotation := "attest.continuu.ms/receipt"

# has_attest_receipt is true when receipts are not required
# (input.context.require_attestation is not true, the default: receipts are
# required exactly when attestation is), or when the resource carries the
# attest.continuu.ms/receipt annotation and attest.receipt_verified accepts
# it for this very object. With no attestation store nothing verifies, so
# with require_attestation on every Deployment is reported. The store is
# only asked when receipts are required.
has_attest_receipt if not lib.require_attestation

has_attest_receipt if {
	lib.require_attestation
	receipt := input.resource.metadata.annotations[receipt_annotation]
	is_string(receipt)
	attest.receipt_verified(receipt, input.resource)
}

# is_production_namespace: see data.attest.lib.is_production_namespace.
is_production_namespace if lib.is_production_namespace
