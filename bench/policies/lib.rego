# Helpers shared by the benchmark rules. Plain conftest style: package main,
# the manifest itself is the input, Rego v1 syntax (conftest 0.71's default).
package main

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.template.spec if input.kind in workload_kinds

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

# Every container of the pod template, init containers included.
containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

# "Kind/name", how every message names its object.
obj := sprintf("%s/%s", [input.kind, input.metadata.name])
