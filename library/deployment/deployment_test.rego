package attest.deployment_test

import data.attest.deployment
import data.attest.fixtures as f

results(inp) := v if v := deployment.violation with input as inp

messages(inp) := {v.message | some v in results(inp)}

found(resource, needle) := {[v.message, object.get(v, ["details", "field"], "")] |
	some v in results(f.input_for(resource))
	contains(v.message, needle)
}

app := f.workload("Deployment", f.hardened_spec([f.hardened("app")]))

receipt_msg := "Deployment must include valid ATTEST receipt"

with_receipt := f.with_meta(app, "annotations", {"attest.continuu.ms/receipt": "eyJhbGciOi..."})

test_receipt_not_required_by_default if {
	not receipt_msg in messages(f.input_for(app))
}

test_receipt_required_without_store if {
	some v in results(f.input_with(app, {}, {"require_attestation": true}))
	v == {"violated": true, "message": receipt_msg, "severity": "critical"}
	receipt_msg in messages(f.input_with(with_receipt, {}, {"require_attestation": true}))
}

test_receipt_verified if {
	not receipt_msg in messages(f.input_with(with_receipt, {}, {"require_attestation": true})) with attest.receipt_verified as true
	# no annotation: nothing to verify
	receipt_msg in messages(f.input_with(app, {}, {"require_attestation": true})) with attest.receipt_verified as true
}

test_receipt_only_deployments if {
	not receipt_msg in messages(f.input_with(f.workload("StatefulSet", f.hardened_spec([f.hardened("app")])), {}, {"require_attestation": true}))
}

replicas_msg := "Production deployments must have at least 2 replicas for high availability"

in_namespace(r, ns) := json.patch(r, [{"op": "add", "path": "/metadata/namespace", "value": ns}])

one_replica := json.patch(app, [{"op": "replace", "path": "/spec/replicas", "value": 1}])

replica_cases := [
	{"note": "prod namespace, 1 replica", "resource": in_namespace(one_replica, "prod"), "ctx": {}, "want": true},
	{"note": "production label", "resource": f.with_meta(one_replica, "labels", {"environment": "production"}), "ctx": {}, "want": true},
	{"note": "staging", "resource": in_namespace(one_replica, "staging"), "ctx": {}, "want": false},
	{"note": "prod, 2 replicas", "resource": in_namespace(app, "prod"), "ctx": {}, "want": false},
	{"note": "configured namespaces", "resource": in_namespace(one_replica, "live"), "ctx": {"production_namespaces": ["live"]}, "want": true},
]

test_production_replicas[note] if {
	some c in replica_cases
	note := c.note
	(replicas_msg in messages(f.input_with(c.resource, {}, c.ctx))) == c.want
}
