package attest.compliance

import data.attest.lib

# The specification's compliance rules call these helpers; they are
# defined (and documented) in data.attest.lib.

# is_production_namespace: namespace in input.context.production_namespaces
# (default production, prod) or label environment: production.
is_production_namespace if lib.is_production_namespace

# has_audit_logging_enabled: audit.attest.continuu.ms/enabled: "true" on the
# resource or its pod template.
has_audit_logging_enabled if lib.has_audit_logging_enabled

# processes_personal_data: gdpr.attest.continuu.ms/personal-data: "true" or
# a personal data classification.
processes_personal_data if lib.processes_personal_data

# has_data_protection_annotations: every required GDPR annotation present.
has_data_protection_annotations if lib.has_data_protection_annotations
