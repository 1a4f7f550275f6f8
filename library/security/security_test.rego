package attest.security_test

import data.attest.fixtures as f
import data.attest.security

results(inp) := v if v := security.violation with input as inp

messages(inp) := {v.message | some v in results(inp)}

pod := f.workload("Pod", f.hardened_spec([f.hardened("app")]))

attestation_msg := sprintf("Container image '%v' lacks required ATTEST attestation", [f.image])

# Spec rule: image-attestation.

test_attestation_quiet_by_default if {
	not attestation_msg in messages(f.input_for(pod))
}

test_attestation_required_without_store if {
	inp := f.input_with(pod, {}, {"require_attestation": true})
	some v in results(inp)
	v == {"violated": true, "message": attestation_msg, "severity": "high"}
}

test_attestation_required_and_verified if {
	inp := f.input_with(pod, {}, {"require_attestation": true})
	not attestation_msg in messages(inp) with attest.attestation_verified as true
}

test_attestation_spec_rule_only_pods if {
	d := f.workload("Deployment", f.hardened_spec([f.hardened("app")]))
	inp := f.input_with(d, {}, {"require_attestation": true})
	vs := [v | some v in results(inp); v.message == attestation_msg]
	count(vs) == 1
	vs[0].details.field == "spec.template.spec.containers[0].image" # the workload rule
}

test_has_attest_attestation if {
	security.has_attest_attestation("x") with input as f.input_for(pod)
	not security.has_attest_attestation("x") with input as f.input_with(pod, {}, {"require_attestation": true})
	security.has_attest_attestation("x") with input as f.input_with(pod, {}, {"require_attestation": true})
		with attest.attestation_verified as true
}

# Spec rule: privileged-containers (Pod, Deployment) and the workload rule.

privileged_spec := f.hardened_spec([
	f.hardened("ok"),
	json.patch(f.hardened("root"), [{"op": "add", "path": "/securityContext/privileged", "value": true}]),
])

test_privileged[kind] if {
	some kind in f.kinds
	vs := [v | some v in results(f.input_for(f.workload(kind, privileged_spec))); v.message == "Privileged containers are not allowed: root"]
	count(vs) == 1
	vs[0].severity == "critical"
	field := {true: null, false: sprintf("%s.containers[1].securityContext.privileged", [f.spec_path[kind]])}[kind in {"Pod", "Deployment"}]
	object.get(vs[0], ["details", "field"], null) == field
}

test_not_privileged[kind] if {
	some kind in f.kinds
	spec := f.hardened_spec([f.hardened("a")])
	every m in messages(f.input_for(f.workload(kind, spec))) {
		not startswith(m, "Privileged")
	}
}

test_get_containers_includes_init_and_ephemeral if {
	spec := {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}], "ephemeralContainers": [{"name": "e"}]}
	names := {c.name | some c in security.get_containers} with input as f.input_for(f.workload("CronJob", spec))
	names == {"i", "c", "e"}
}
