package attest.security_test

import data.attest.fixtures as f

role(kind, rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "r"}, "rules": rules}

binding(kind, role_name, subjects) := {
	"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
	"subjects": subjects,
}

rbac_cases := [
	{"note": "read-only role", "resource": role("Role", [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list"]}]), "want": set()},
	{
		"note": "wildcards",
		"resource": role("ClusterRole", [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}]),
		"want": {
			["ClusterRole r grants all verbs (\"*\") in rule 0", "rules[0].verbs"],
			["ClusterRole r grants all resources (\"*\") in rule 0", "rules[0].resources"],
		},
	},
	{
		"note": "secrets read",
		"resource": role("Role", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]),
		"want": {["Role r can read all Secrets (rule 1)", "rules[1].resources"]},
	},
	{"note": "secrets by name", "resource": role("Role", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["tls"], "verbs": ["get"]}]), "want": set()},
	{"note": "secrets create only", "resource": role("Role", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]), "want": set()},
	{
		"note": "pod exec",
		"resource": role("Role", [{"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["create"]}]),
		"want": {["Role r grants pods/exec (rule 0)", "rules[0].resources"]},
	},
	{
		"note": "escalation verbs",
		"resource": role("ClusterRole", [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind", "escalate"]}]),
		"want": {
			["ClusterRole r grants the bind verb (rule 0)", "rules[0].verbs"],
			["ClusterRole r grants the escalate verb (rule 0)", "rules[0].verbs"],
		},
	},
	{
		"note": "cluster-admin",
		"resource": binding("ClusterRoleBinding", "cluster-admin", [{"kind": "ServiceAccount", "name": "ci", "namespace": "ci"}]),
		"want": {["ClusterRoleBinding b binds cluster-admin", "roleRef.name"]},
	},
	{"note": "cluster-admin to system:masters", "resource": binding("ClusterRoleBinding", "cluster-admin", [{"kind": "Group", "name": "system:masters"}]), "want": set()},
	{"note": "ordinary binding", "resource": binding("RoleBinding", "view", [{"kind": "User", "name": "alice"}]), "want": set()},
	{
		"note": "anonymous",
		"resource": binding("RoleBinding", "view", [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "system:anonymous"}]),
		"want": {["RoleBinding b binds view to system:anonymous", "subjects[1].name"]},
	},
]

test_rbac[note] if {
	some c in rbac_cases
	note := c.note
	{[v.message, object.get(v, ["details", "field"], "")] | some v in results(f.input_for(c.resource))} == c.want
}

test_rbac_authenticated_is_high if {
	r := binding("ClusterRoleBinding", "view", [{"kind": "Group", "name": "system:authenticated"}, {"kind": "Group", "name": "system:unauthenticated"}])
	{[v.severity, v.details.field] | some v in results(f.input_for(r))} == {["high", "subjects[0].name"], ["critical", "subjects[1].name"]}
}
