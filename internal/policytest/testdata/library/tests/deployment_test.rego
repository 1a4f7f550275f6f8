package attest.deployment_test

import rego.v1

import data.attest.deployment

deploy(replicas, containers) := {"resource": {
	"kind": "Deployment",
	"spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}},
}}

test_missing_limits if {
	some v in deployment.violation with input as deploy(3, [{"name": "web"}])
	v.message == "container web has no resource limits"
}

test_limits_and_replicas_pass if {
	count(deployment.violation) == 0 with input as deploy(3, [{"name": "web", "resources": {"limits": {"cpu": "1"}}}])
}
