package attest.deployment_test

import data.attest.fixtures as f

prod(r) := json.patch(r, [{"op": "add", "path": "/metadata/namespace", "value": "production"}])

spread_spec := object.union(f.hardened_spec([f.hardened("app")]), {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]})

pdb(spec) := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"}, "spec": spec}

availability_cases := [
	{
		"note": "statefulset single replica in prod",
		"resource": prod(json.patch(f.workload("StatefulSet", spread_spec), [{"op": "replace", "path": "/spec/replicas", "value": 1}])),
		"needle": "replicas",
		"want": {["Production StatefulSet w must have at least 2 replicas for high availability", "spec.replicas"]},
	},
	{
		"note": "statefulset outside prod",
		"resource": json.patch(f.workload("StatefulSet", spread_spec), [{"op": "replace", "path": "/spec/replicas", "value": 1}]),
		"needle": "replicas",
		"want": set(),
	},
	{
		"note": "not spread",
		"resource": prod(f.workload("Deployment", f.hardened_spec([f.hardened("app")]))),
		"needle": "spread",
		"want": {["Deployment w does not spread its 2 replicas across nodes", "spec.template.spec"]},
	},
	{"note": "spread", "resource": prod(f.workload("Deployment", spread_spec)), "needle": "spread", "want": set()},
	{
		"note": "anti-affinity counts",
		"resource": prod(f.workload("Deployment", object.union(f.hardened_spec([f.hardened("app")]), {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}}))),
		"needle": "spread",
		"want": set(),
	},
	{
		"note": "maxUnavailable 100%",
		"resource": json.patch(f.workload("Deployment", spread_spec), [{"op": "add", "path": "/spec/strategy", "value": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}}}]),
		"needle": "rollout",
		"want": {["Deployment w can take all pods down during a rollout (maxUnavailable: 100%)", "spec.strategy.rollingUpdate.maxUnavailable"]},
	},
	{
		"note": "maxUnavailable equals replicas",
		"resource": json.patch(f.workload("Deployment", spread_spec), [{"op": "add", "path": "/spec/strategy", "value": {"rollingUpdate": {"maxUnavailable": 2}}}]),
		"needle": "rollout",
		"want": {["Deployment w can take all pods down during a rollout (maxUnavailable: 2)", "spec.strategy.rollingUpdate.maxUnavailable"]},
	},
	{
		"note": "maxUnavailable 25%",
		"resource": json.patch(f.workload("Deployment", spread_spec), [{"op": "add", "path": "/spec/strategy", "value": {"rollingUpdate": {"maxUnavailable": "25%"}}}]),
		"needle": "rollout",
		"want": set(),
	},
	{
		"note": "recreate in prod",
		"resource": prod(json.patch(f.workload("Deployment", spread_spec), [{"op": "add", "path": "/spec/strategy", "value": {"type": "Recreate"}}])),
		"needle": "Recreate",
		"want": {["Production Deployment w uses the Recreate strategy: every rollout is an outage", "spec.strategy.type"]},
	},
	{
		"note": "pdb maxUnavailable 0",
		"resource": pdb({"maxUnavailable": 0, "selector": {}}),
		"needle": "PodDisruptionBudget",
		"want": {["PodDisruptionBudget pdb blocks every eviction (maxUnavailable: 0)", "spec.maxUnavailable"]},
	},
	{
		"note": "pdb minAvailable 100%",
		"resource": pdb({"minAvailable": "100%"}),
		"needle": "PodDisruptionBudget",
		"want": {["PodDisruptionBudget pdb blocks every eviction (minAvailable: 100%)", "spec.minAvailable"]},
	},
	{"note": "pdb minAvailable 1", "resource": pdb({"minAvailable": 1}), "needle": "PodDisruptionBudget", "want": set()},
]

test_availability[note] if {
	some c in availability_cases
	note := c.note
	found(c.resource, c.needle) == c.want
}
