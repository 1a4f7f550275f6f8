package attest.compliance_test

import data.attest.fixtures as f

soc2_cases := [
	{
		"note": "no owner",
		"resource": f.workload("Deployment", {"containers": []}),
		"needle": "owner", "ctx": {},
		"want": {["Deployment w names no owner (label owner or team)", "low", "metadata"]},
	},
	{"note": "team label", "resource": f.with_meta(f.workload("Job", {"containers": []}), "labels", {"team": "data"}), "needle": "owner", "ctx": {}, "want": set()},
	{"note": "owner on pod template", "resource": json.patch(f.workload("Deployment", {}), [{"op": "add", "path": "/spec/template/metadata/labels", "value": {"owner": "x"}}]), "needle": "owner", "ctx": {}, "want": set()},
	{"note": "services need no owner", "resource": {"kind": "Service", "metadata": {"name": "s"}}, "needle": "owner", "ctx": {}, "want": set()},
	{
		"note": "production without ticket",
		"resource": prod(app),
		"needle": "change ticket", "ctx": {},
		"want": {["Production Deployment w references no change ticket (change.attest.continuu.ms/ticket)", "low", "metadata"]},
	},
	{"note": "production with ticket", "resource": annotate(prod(app), {"change.attest.continuu.ms/ticket": "CHG-42"}), "needle": "change ticket", "ctx": {}, "want": set()},
	{"note": "ticket not needed outside production", "resource": app, "needle": "change ticket", "ctx": {}, "want": set()},
	{
		"note": "production statefulset without audit",
		"resource": prod(owned(f.workload("StatefulSet", {"containers": []}))),
		"needle": "audit", "ctx": {},
		"want": {["Production StatefulSet w must enable audit logging for SOC2 compliance", "high", "metadata"]},
	},
	{
		"note": "audit on the pod template",
		"resource": prod(json.patch(owned(f.workload("DaemonSet", {})), [{"op": "add", "path": "/spec/template/metadata/annotations", "value": {"audit.attest.continuu.ms/enabled": "true"}}])),
		"needle": "audit", "ctx": {},
		"want": set(),
	},
]

test_soc2[note] if {
	some c in soc2_cases
	note := c.note
	found(c.resource, c.ctx, c.needle) == c.want
}
