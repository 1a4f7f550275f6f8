package attest.deployment_test

import data.attest.fixtures as f

no_probes := json.patch(f.hardened("app"), [
	{"op": "remove", "path": "/livenessProbe"},
	{"op": "remove", "path": "/readinessProbe"},
])

worker := json.remove(no_probes, ["ports"])

probe_cases := [
	{
		"note": "no probes",
		"resource": f.workload("Deployment", f.hardened_spec([no_probes])),
		"want": {
			["Container 'app' has no liveness probe", "spec.template.spec.containers[0]"],
			["Container 'app' serves ports but has no readiness probe", "spec.template.spec.containers[0]"],
		},
	},
	{
		"note": "worker without ports needs only liveness",
		"resource": f.workload("StatefulSet", f.hardened_spec([worker])),
		"want": {["Container 'app' has no liveness probe", "spec.template.spec.containers[0]"]},
	},
	{"note": "jobs need no probes", "resource": f.workload("CronJob", f.hardened_spec([no_probes])), "want": set()},
	{"note": "init containers need no probes", "resource": f.workload("Deployment", object.union(f.hardened_spec([f.hardened("app")]), {"initContainers": [worker]})), "want": set()},
	{"note": "probed", "resource": f.workload("Pod", f.hardened_spec([f.hardened("app")])), "want": set()},
	{
		"note": "probe on undeclared port name",
		"resource": f.workload("Deployment", f.hardened_spec([json.patch(f.hardened("app"), [{"op": "replace", "path": "/readinessProbe/httpGet/port", "value": "web"}])])),
		"want": {["Container 'app' readinessProbe uses port 'web', which the container does not declare", "spec.template.spec.containers[0].readinessProbe.httpGet.port"]},
	},
	{
		"note": "numeric probe port",
		"resource": f.workload("Deployment", f.hardened_spec([json.patch(f.hardened("app"), [{"op": "replace", "path": "/readinessProbe/httpGet/port", "value": 8080}])])),
		"want": set(),
	},
]

test_probes[note] if {
	some c in probe_cases
	note := c.note
	found(c.resource, "robe") == c.want
}
