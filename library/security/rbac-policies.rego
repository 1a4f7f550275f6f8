package attest.security

# RBAC: Roles, ClusterRoles and their bindings.

role_kinds := {"Role", "ClusterRole"}

binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

# METADATA
# title: No wildcard verbs in RBAC rules
# description: >-
#   verbs ["*"] grants every present and future verb, including escalate,
#   bind and impersonate.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-wildcard-verbs
#   severity: high
#   remediation: List the verbs the subject needs (get, list, watch...).
#   kinds: [Role, ClusterRole]
#   controls: ["CIS:5.1.3", "SOC2:CC6.1", "SOC2:CC6.3", "HIPAA:164.312(a)(1)"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in role_kinds
	some i, rule in input.resource.rules
	"*" in rule.verbs
	msg := sprintf("%v %v grants all verbs (\"*\") in rule %d", [input.resource.kind, input.resource.metadata.name, i])
	d := {"field": sprintf("rules[%d].verbs", [i])}
}

# METADATA
# title: No wildcard resources in RBAC rules
# description: >-
#   resources ["*"] grants access to every resource of the API groups,
#   Secrets and future resources included.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-wildcard-resources
#   severity: high
#   remediation: List the resources the subject needs.
#   kinds: [Role, ClusterRole]
#   controls: ["CIS:5.1.3", "SOC2:CC6.1", "SOC2:CC6.3", "HIPAA:164.312(a)(1)"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in role_kinds
	some i, rule in input.resource.rules
	"*" in rule.resources
	msg := sprintf("%v %v grants all resources (\"*\") in rule %d", [input.resource.kind, input.resource.metadata.name, i])
	d := {"field": sprintf("rules[%d].resources", [i])}
}

core_group(rule) if "" in rule.apiGroups

core_group(rule) if "*" in rule.apiGroups

grants(rule, verbs) if {
	some v in rule.verbs
	v in verbs
}

# METADATA
# title: Limit read access to Secrets
# description: >-
#   get, list or watch on secrets reads every Secret of the namespace (of
#   the cluster for a ClusterRole): service account tokens, TLS keys,
#   database passwords.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-secrets-access
#   severity: medium
#   remediation: >-
#     Remove secrets from the rule, or restrict it with resourceNames to the
#     Secrets the subject needs.
#   kinds: [Role, ClusterRole]
#   controls: ["CIS:5.1.2", "SOC2:CC6.1", "HIPAA:164.312(a)(1)", "GDPR:Art.32"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind in role_kinds
	some i, rule in input.resource.rules
	core_group(rule)
	"secrets" in rule.resources
	count(object.get(rule, "resourceNames", [])) == 0
	grants(rule, {"get", "list", "watch", "*"})
	msg := sprintf("%v %v can read all Secrets (rule %d)", [input.resource.kind, input.resource.metadata.name, i])
	d := {"field": sprintf("rules[%d].resources", [i])}
}

exec_resources := {"pods/exec", "pods/attach", "pods/*", "pods/portforward"}

# METADATA
# title: Limit exec and attach into pods
# description: >-
#   pods/exec, pods/attach and pods/portforward give a shell (or a tunnel)
#   into running containers, with their service account tokens and secrets.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-pod-exec
#   severity: high
#   remediation: Grant exec/attach/portforward only to break-glass roles, not to applications or broad groups.
#   kinds: [Role, ClusterRole]
#   controls: ["SOC2:CC6.1", "SOC2:CC6.3", "HIPAA:164.312(a)(1)"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in role_kinds
	some i, rule in input.resource.rules
	core_group(rule)
	some res in rule.resources
	res in exec_resources
	grants(rule, {"create", "get", "*"})
	msg := sprintf("%v %v grants %v (rule %d)", [input.resource.kind, input.resource.metadata.name, res, i])
	d := {"field": sprintf("rules[%d].resources", [i])}
}

# METADATA
# title: No escalate, bind or impersonate
# description: >-
#   escalate and bind let a subject grant itself permissions it does not
#   have; impersonate lets it act as any user, group or service account.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-escalation-verbs
#   severity: high
#   remediation: Remove escalate, bind and impersonate unless the role is for a trusted controller.
#   kinds: [Role, ClusterRole]
#   controls: ["CIS:5.1.8", "SOC2:CC6.1", "SOC2:CC6.3"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in role_kinds
	some i, rule in input.resource.rules
	some verb in rule.verbs
	verb in {"escalate", "bind", "impersonate"}
	msg := sprintf("%v %v grants the %v verb (rule %d)", [input.resource.kind, input.resource.metadata.name, verb, i])
	d := {"field": sprintf("rules[%d].verbs", [i])}
}

# only_system_masters: every subject is the system:masters group, as in the
# bindings kubeadm creates.
only_system_masters if {
	count(input.resource.subjects) > 0
	every s in input.resource.subjects {
		s.kind == "Group"
		s.name == "system:masters"
	}
}

# METADATA
# title: No cluster-admin bindings
# description: >-
#   Binding cluster-admin gives full control of the cluster (or of the
#   namespace, for a RoleBinding). Bindings to system:masters only are not
#   reported.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-cluster-admin-binding
#   severity: critical
#   remediation: Bind a role with the permissions the subject needs instead of cluster-admin.
#   kinds: [ClusterRoleBinding, RoleBinding]
#   controls: ["CIS:5.1.1", "SOC2:CC6.1", "SOC2:CC6.3", "HIPAA:164.312(a)(1)"]
violation contains {"violated": true, "message": msg, "severity": "critical", "details": {"field": "roleRef.name"}} if {
	input.resource.kind in binding_kinds
	input.resource.roleRef.kind == "ClusterRole"
	input.resource.roleRef.name == "cluster-admin"
	not only_system_masters
	msg := sprintf("%v %v binds cluster-admin", [input.resource.kind, input.resource.metadata.name])
}

# broad_subjects: who they are and how bad binding to them is.
broad_subjects := {
	"system:anonymous": "critical",
	"system:unauthenticated": "critical",
	"system:authenticated": "high",
}

# METADATA
# title: No bindings to anonymous or all users
# description: >-
#   A binding to system:anonymous or system:unauthenticated grants its role
#   to anyone who can reach the API server; system:authenticated to every
#   identity the cluster accepts (for some clouds, any account of the cloud);
#   the latter is reported high, the former critical.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: rbac-anonymous-binding
#   severity: critical
#   remediation: Remove the subject; bind the role to the specific users, groups or service accounts.
#   kinds: [ClusterRoleBinding, RoleBinding]
#   controls: ["CIS:5.1.1", "SOC2:CC6.1", "SOC2:CC6.2", "HIPAA:164.312(d)"]
violation contains {"violated": true, "message": msg, "severity": sev, "details": d} if {
	input.resource.kind in binding_kinds
	some i, s in input.resource.subjects
	sev := broad_subjects[s.name]
	msg := sprintf("%v %v binds %v to %v", [input.resource.kind, input.resource.metadata.name, input.resource.roleRef.name, s.name])
	d := {"field": sprintf("subjects[%d].name", [i])}
}
