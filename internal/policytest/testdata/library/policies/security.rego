package attest.security

import rego.v1

# METADATA
# title: Privileged containers
# custom:
#   severity: critical
violation contains {"violated": true, "message": msg, "severity": "critical"} if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("container %s is privileged", [c.name])
}

violation contains {"violated": true, "message": msg, "severity": "high"} if {
	some c in containers
	not attest.attestation_verified(c.image)
	input.parameters.require_attestation
	msg := sprintf("image %s has no verified attestation", [c.image])
}

containers contains c if {
	some c in input.resource.spec.containers
}

containers contains c if {
	some c in input.resource.spec.template.spec.containers
}

# Never exercised by the tests: coverage lists it.
host_network if {
	input.resource.spec.hostNetwork == true
}
