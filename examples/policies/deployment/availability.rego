# METADATA
# title: Company deployment practices
# description: >-
#   Availability, health checks and resource requests as the platform team
#   runs them. Its enforcement is "warn" in .attest/policies.yaml: findings
#   are reported, and fail only under --strict.
# scope: package
# custom:
#   severity: medium
package company.deployment

namespaced_kinds := {
	"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service",
	"Ingress", "ConfigMap", "Secret", "Role", "RoleBinding", "NetworkPolicy", "PodDisruptionBudget",
	"ServiceAccount", "HorizontalPodAutoscaler",
}

# METADATA
# title: Production Deployments run at least 3 replicas
# description: >-
#   Three replicas spread over three zones survive a zone outage and a
#   rolling update at the same time. (The built-in attest.deployment policy
#   asks for 2.)
# custom:
#   id: production-replicas
#   severity: medium
#   remediation: Set spec.replicas to 3 or more (or let an HPA with minReplicas 3 manage it).
#   kinds: [Deployment, StatefulSet]
#   controls: ["SOC2:A1.2"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "spec.replicas"}} if {
	input.resource.kind in {"Deployment", "StatefulSet"}
	input.resource.metadata.namespace == "production"
	replicas := object.get(input.resource.spec, "replicas", 1)
	replicas < 3
	msg := sprintf("%v '%v' runs %v replica(s) in production; the minimum is 3", [input.resource.kind, input.resource.metadata.name, replicas])
}

# METADATA
# title: Nothing in the default namespace
# description: >-
#   Objects without a namespace land wherever kubectl points; "default" has
#   no quotas, network policies or RBAC of its own.
# custom:
#   id: no-default-namespace
#   severity: low
#   remediation: Set metadata.namespace to the team's namespace.
#   kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod, Service, Ingress, ConfigMap]
#   controls: ["SOC2:CC6.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": {"field": "metadata"}} if {
	input.resource.kind in namespaced_kinds
	object.get(input.resource.metadata, "namespace", "default") == "default"
	msg := sprintf("%v '%v' is in the default namespace; set metadata.namespace", [input.resource.kind, input.resource.metadata.name])
}
