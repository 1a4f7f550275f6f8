package attest.security_test

import rego.v1

import data.attest.security

pod(c) := {"resource": {"kind": "Pod", "spec": {"containers": [c]}}}

test_privileged_container_denied if {
	some v in security.violation with input as pod({"name": "app", "image": "nginx", "securityContext": {"privileged": true}})
	v.message == "container app is privileged"
}

test_unprivileged_container_allowed if {
	count(security.violation) == 0 with input as pod({"name": "app", "image": "nginx"})
}

test_unattested_image_denied_without_store if {
	some v in security.violation with input as object.union(pod({"name": "app", "image": "nginx"}), {"parameters": {"require_attestation": true}})
	v.severity == "high"
}

test_attested_image_allowed_with_mock if {
	count(security.violation) == 0 with input as object.union(pod({"name": "app", "image": "nginx"}), {"parameters": {"require_attestation": true}})
		with attest.attestation_verified as true
}
