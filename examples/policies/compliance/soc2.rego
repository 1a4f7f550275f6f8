# METADATA
# title: Company compliance
# description: >-
#   Company rules for SOC2, GDPR and HIPAA that go beyond the built-in
#   attest.compliance policy: ownership labels, monitoring of production
#   workloads, valid GDPR annotation values on every workload kind, and
#   where PHI may run.
# scope: package
# custom:
#   severity: high
package company.compliance

owned_kinds := {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "Service", "Ingress"}

long_running_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

monitored if annotations["monitoring.company.com/enabled"] == "true"

labels := object.get(input.resource, ["metadata", "labels"], {})

annotations := object.get(input.resource, ["metadata", "annotations"], {})

# METADATA
# title: Owner and team labels
# description: >-
#   Every workload, Service and Ingress names the team that owns it and a
#   person to call, so that access reviews and incidents reach a human.
# custom:
#   id: owner-labels
#   severity: medium
#   remediation: Add metadata.labels.team and metadata.labels.owner (the owner's user name).
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod, Service, Ingress]
#   controls: ["SOC2:CC6.1", "SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "metadata"}} if {
	input.resource.kind in owned_kinds
	some label in ["team", "owner"]
	not labels[label]
	msg := sprintf("%v '%v' has no '%v' label", [input.resource.kind, input.resource.metadata.name, label])
}

# METADATA
# title: Production workloads are monitored
# description: >-
#   SOC2 CC7.2 asks for monitoring of the system's components; the
#   monitoring operator only scrapes and alerts on workloads that opt in.
# custom:
#   id: production-monitoring
#   severity: medium
#   remediation: Add the annotation monitoring.company.com/enabled "true" and expose metrics.
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   controls: ["SOC2:CC7.2"]
violation contains {"violated": true, "message": msg, "severity": "medium"} if {
	input.resource.kind in long_running_kinds
	input.resource.metadata.namespace == "production"
	not monitored
	msg := sprintf("%v '%v' in production must be monitored (monitoring.company.com/enabled: \"true\")", [input.resource.kind, input.resource.metadata.name])
}
