# Resource rules of package company.deployment, in Rego v1. The built-in
# resource-limits policy checks the limits (and their maximums, from
# .attest/policies.yaml); the company also wants requests, which the
# scheduler and the cluster autoscaler plan with, and a cost-center label,
# which the monthly charge-back report groups by.
package company.deployment

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec_path := "spec" if input.resource.kind == "Pod"

pod_spec_path := "spec.template.spec" if input.resource.kind in workload_kinds

pod_spec_path := "spec.jobTemplate.spec.template.spec" if input.resource.kind == "CronJob"

pod_spec := object.get(input.resource, split(pod_spec_path, "."), {})

# app_containers: the containers that run for the pod's life, with paths.
app_containers contains {"container": c, "path": sprintf("%s.containers[%d]", [pod_spec_path, i])} if {
	some i, c in pod_spec.containers
}

# METADATA
# title: Containers request CPU and memory
# custom:
#   id: resource-requests
#   severity: medium
#   remediation: Set resources.requests.cpu and resources.requests.memory from observed usage.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: ["SOC2:A1.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": entry.path}} if {
	some entry in app_containers
	some r in ["cpu", "memory"]
	not entry.container.resources.requests[r]
	msg := sprintf("Container '%v' has no %v request", [entry.container.name, r])
}

# METADATA
# title: Workloads carry a cost-center label
# custom:
#   id: cost-center-label
#   severity: low
#   remediation: Add metadata.labels.cost-center (finance's code, such as cc-1042).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: []
violation contains {"violated": true, "message": msg, "severity": "low", "details": {"field": "metadata"}} if {
	pod_spec_path
	not input.resource.metadata.labels["cost-center"]
	msg := sprintf("%v '%v' has no cost-center label", [input.resource.kind, input.resource.metadata.name])
}
