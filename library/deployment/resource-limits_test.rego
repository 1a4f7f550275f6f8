package attest.resource_limits_test

import data.attest.fixtures as f
import data.attest.resource_limits

results(inp) := v if v := resource_limits.violation with input as inp

found(resource, params) := {[v.message, v.severity, object.get(v, ["details", "field"], "")] | some v in results(f.input_with(resource, params, {}))}

with_resources(res) := f.workload("Deployment", {"containers": [{"name": "app", "image": "x:1", "resources": res}]})

c0 := "spec.template.spec.containers[0]"

full := {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}

limit_cases := [
	{"note": "complete", "res": full, "params": {}, "want": set()},
	{
		"note": "nothing set",
		"res": {}, "params": {},
		"want": {
			["Container 'app' has no cpu or memory limit", "medium", "spec.template.spec.containers[0].resources"],
			["Container 'app' has no cpu or memory request", "low", "spec.template.spec.containers[0].resources"],
		},
	},
	{
		"note": "limits only (requests default to limits)",
		"res": {"limits": {"cpu": "1", "memory": "1Gi"}}, "params": {},
		"want": set(),
	},
	{
		"note": "memory limit missing",
		"res": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1"}}, "params": {},
		"want": {["Container 'app' has no memory limit", "medium", "spec.template.spec.containers[0].resources.limits"]},
	},
	{
		"note": "require_limits false",
		"res": {"requests": {"cpu": "1", "memory": "1Gi"}}, "params": {"require_limits": false},
		"want": set(),
	},
	{
		"note": "spec example: within max",
		"res": full, "params": {"max_cpu": "2000m", "max_memory": "4Gi", "require_limits": true},
		"want": set(),
	},
	{
		"note": "above max cpu and memory",
		"res": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2500m", "memory": "5Gi"}},
		"params": {"max_cpu": "2000m", "max_memory": "4Gi"},
		"want": {
			["Container 'app' asks for 2500m cpu, above max_cpu 2000m", "medium", "spec.template.spec.containers[0].resources.limits.cpu"],
			["Container 'app' asks for 5Gi memory, above max_memory 4Gi", "medium", "spec.template.spec.containers[0].resources.limits.memory"],
		},
	},
	{
		"note": "milli is not mega (memory)",
		"res": {"limits": {"cpu": "1", "memory": "4000M"}},
		"params": {"max_memory": "4Gi"},
		"want": set(),
	},
	{
		"note": "request counts without limit",
		"res": {"requests": {"cpu": "3", "memory": "1Gi"}},
		"params": {"max_cpu": "2", "require_limits": false},
		"want": {["Container 'app' asks for 3 cpu, above max_cpu 2", "medium", "spec.template.spec.containers[0].resources.requests.cpu"]},
	},
	{
		"note": "request above limit",
		"res": {"requests": {"cpu": "1500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}},
		"params": {},
		"want": {["Container 'app' requests 1500m cpu, more than its limit 1", "high", "spec.template.spec.containers[0].resources.requests.cpu"]},
	},
	{
		"note": "invalid quantity",
		"res": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2GB"}},
		"params": {},
		"want": {["Container 'app' has an invalid limits.memory quantity 2GB", "high", "spec.template.spec.containers[0].resources.limits.memory"]},
	},
	{
		"note": "invalid parameter",
		"res": full,
		"params": {"max_cpu": "two"},
		"want": {["resource-limits parameter max_cpu is not a Kubernetes quantity: two", "high", ""]},
	},
]

test_resource_limits[note] if {
	some c in limit_cases
	note := c.note
	found(with_resources(c.res), c.params) == c.want
}

test_every_kind[kind] if {
	some kind in f.kinds
	r := f.workload(kind, {"initContainers": [{"name": "init", "image": "x:1"}], "containers": [{"name": "app", "image": "x:1", "resources": full}], "ephemeralContainers": [{"name": "dbg", "image": "x:1"}]})
	found(r, {}) == {
		["Container 'init' has no cpu or memory limit", "medium", sprintf("%s.initContainers[0]", [f.spec_path[kind]])],
		["Container 'init' has no cpu or memory request", "low", sprintf("%s.initContainers[0]", [f.spec_path[kind]])],
	}
}

test_not_workloads if {
	count(results(f.input_with({"kind": "Service", "metadata": {"name": "s"}, "spec": {}}, {"max_cpu": "bad"}, {}))) == 0
}
