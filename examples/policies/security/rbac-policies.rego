# RBAC rules of package company.security, in the specification's Rego v0 style.
package company.security

rbac_role_kinds := ["Role", "ClusterRole"]

rbac_binding_kinds := ["RoleBinding", "ClusterRoleBinding"]

# METADATA
# title: No wildcards in RBAC rules
# description: >-
#   "*" in verbs, resources or apiGroups grants everything that exists now and
#   everything that will be added later (CRDs included).
# custom:
#   id: rbac-wildcard
#   severity: critical
#   remediation: List the verbs, resources and API groups the role needs.
#   kinds: [Role, ClusterRole]
#   controls: ["SOC2:CC6.3", "CIS:5.1.3"]
violation[{"violated": true, "message": msg, "severity": "critical", "details": {"field": field}}] {
	input.resource.kind in rbac_role_kinds
	rule := input.resource.rules[i]
	some key in ["verbs", "resources", "apiGroups"]
	"*" in rule[key]
	field := sprintf("rules[%d].%v", [i, key])
	msg := sprintf("%v '%v' grants '*' in %v", [input.resource.kind, input.resource.metadata.name, key])
}

# METADATA
# title: No bindings to cluster-admin
# custom:
#   id: cluster-admin-binding
#   severity: critical
#   remediation: Bind a role that grants only what the subject needs.
#   kinds: [RoleBinding, ClusterRoleBinding]
#   controls: ["SOC2:CC6.3", "CIS:5.1.1"]
violation[{"violated": true, "message": msg, "severity": "critical", "details": {"field": "roleRef.name"}}] {
	input.resource.kind in rbac_binding_kinds
	input.resource.roleRef.name == "cluster-admin"
	msg := sprintf("%v '%v' binds cluster-admin", [input.resource.kind, input.resource.metadata.name])
}
