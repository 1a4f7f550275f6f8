# METADATA
# title: Resource limits
# description: >-
#   CPU and memory requests and limits of every container, with Kubernetes
#   quantity semantics (2000m = 2 cores, 4Gi = 4 x 2^30 bytes, 1G = 10^9
#   bytes). The project configures it as the policy named resource-limits
#   (spec section 4).
# scope: package
# custom:
#   policy: resource-limits
#   parameters:
#     - name: max_cpu
#       type: quantity
#       default: null
#       description: >-
#         Largest CPU limit (or request, when no limit is set) a container may
#         ask for, e.g. "2000m" or "2". No maximum when unset.
#     - name: max_memory
#       type: quantity
#       default: null
#       description: >-
#         Largest memory limit (or request) a container may ask for, e.g.
#         "4Gi". No maximum when unset.
#     - name: require_limits
#       type: boolean
#       default: true
#       description: Every container must set limits.cpu and limits.memory.
#     - name: require_requests
#       type: boolean
#       default: true
#       description: >-
#         Every container must set requests.cpu and requests.memory (a limit
#         alone counts, as Kubernetes then defaults the request to it).
package attest.resource_limits

import data.attest.lib

params := object.get(input, "parameters", {})

default require_limits := true

require_limits := false if params.require_limits == false

default require_requests := true

require_requests := false if params.require_requests == false

compute := ["cpu", "memory"]

# resource_containers: containers that take resources (ephemeral containers
# cannot set any).
resource_containers contains e if {
	some e in lib.containers
	e.type != "ephemeralContainers"
}

resources(e) := object.get(e.container, "resources", {})

missing(e, kind) := [r | some r in compute; not resources(e)[kind][r]]

# METADATA
# title: Containers must set CPU and memory limits
# description: >-
#   Without a memory limit a container can take the node's memory and get
#   other pods killed; without a CPU limit it can starve its neighbours.
#   Enforced while require_limits is true (the default). One finding per
#   container, naming what is missing.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: limits-required
#   severity: medium
#   remediation: Set resources.limits.cpu and resources.limits.memory on the container.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.7.4", "SOC2:A1.1", "SOC2:CC7.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	require_limits
	some e in resource_containers
	m := missing(e, "limits")
	count(m) > 0
	msg := sprintf("Container '%v' has no %v limit", [e.name, concat(" or ", m)])
	d := {"field": lib.deepest(e.path, e.container, ["resources", "limits"]), "container": e.name}
}

# METADATA
# title: Containers should set CPU and memory requests
# description: >-
#   The scheduler places pods by their requests; a container without them
#   is BestEffort, the first evicted under pressure. A limit without a
#   request counts (Kubernetes copies it). Enforced while require_requests
#   is true (the default).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: requests-required
#   severity: low
#   remediation: Set resources.requests.cpu and resources.requests.memory to what the container normally uses.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:A1.1", "SOC2:CC7.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	require_requests
	some e in resource_containers
	m := [r | some r in missing(e, "requests"); not resources(e).limits[r]]
	count(m) > 0
	msg := sprintf("Container '%v' has no %v request", [e.name, concat(" or ", m)])
	d := {"field": lib.deepest(e.path, e.container, ["resources", "requests"]), "container": e.name}
}

# effective(e, r) is the amount the container may use: its limit, else its
# request; with the field that says so.
effective(e, r) := [q, sprintf("%s.resources.limits.%s", [e.path, r])] if {
	q := resources(e).limits[r]
} else := [q, sprintf("%s.resources.requests.%s", [e.path, r])] if {
	q := resources(e).requests[r]
}

maximum := {"cpu": object.get(params, "max_cpu", null), "memory": object.get(params, "max_memory", null)}

max_name := {"cpu": "max_cpu", "memory": "max_memory"}

# METADATA
# title: CPU must not exceed max_cpu
# description: >-
#   A container's CPU limit (or its request, when it sets no limit) must not
#   exceed the policy's max_cpu. Not checked when max_cpu is unset.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: cpu-above-max
#   severity: medium
#   remediation: Lower the container's CPU, split the work, or raise max_cpu in .attest/policies.yaml.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:A1.1", "SOC2:CC6.8"]
violation contains v if {
	some v in above_max("cpu")
}

# METADATA
# title: Memory must not exceed max_memory
# description: >-
#   A container's memory limit (or its request, when it sets no limit) must
#   not exceed the policy's max_memory. Not checked when max_memory is unset.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: memory-above-max
#   severity: medium
#   remediation: Lower the container's memory, or raise max_memory in .attest/policies.yaml.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:A1.1", "SOC2:CC6.8"]
violation contains v if {
	some v in above_max("memory")
}

above_max(r) := {{"violated": true, "message": msg, "severity": "medium", "details": d} |
	maximum[r] != null
	top := lib.quantity(maximum[r])
	some e in resource_containers
	[q, field] := effective(e, r)
	lib.quantity(q) > top
	msg := sprintf("Container '%v' asks for %v %v, above %v %v", [e.name, q, r, max_name[r], maximum[r]])
	d := {"field": field, "container": e.name}
}

# METADATA
# title: Requests must not exceed limits
# description: >-
#   A request above its limit is rejected by the API server; the manifest
#   cannot be applied.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: requests-exceed-limits
#   severity: high
#   remediation: Lower the request or raise the limit so that request <= limit.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:A1.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in resource_containers
	some r, req in resources(e).requests
	limit := resources(e).limits[r]
	lib.quantity(req) > lib.quantity(limit)
	msg := sprintf("Container '%v' requests %v %v, more than its limit %v", [e.name, req, r, limit])
	d := {"field": sprintf("%s.resources.requests.%s", [e.path, r]), "container": e.name}
}

# METADATA
# title: Resource quantities must be valid
# description: >-
#   A request or limit that is not a Kubernetes quantity ("1K", "2 Gi",
#   "500MB") is rejected by the API server. One with no digits at all
#   ("Mi", "k") is accepted there and read as 0, which is never what its
#   author meant, so it is reported too.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
# custom:
#   id: invalid-quantity
#   severity: high
#   remediation: >-
#     Write quantities as Kubernetes does: cpu 500m, 1, 2.5; memory 128974848,
#     129e6, 129M, 123Mi, 4Gi (M is mega, Mi mebi, m milli).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in resource_containers
	some kind in ["requests", "limits"]
	some r, q in resources(e)[kind]
	not lib.quantity(q)
	msg := sprintf("Container '%v' has an invalid %v.%v quantity %v", [e.name, kind, r, q])
	d := {"field": sprintf("%s.resources.%s.%s", [e.path, kind, r]), "container": e.name}
}

# METADATA
# title: max_cpu and max_memory must be quantities
# description: >-
#   A max_cpu or max_memory parameter that is not a Kubernetes quantity
#   cannot be checked; it is reported on every workload until the
#   configuration is fixed, rather than silently ignored.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
# custom:
#   id: invalid-parameter
#   severity: high
#   remediation: Fix max_cpu / max_memory of resource-limits in .attest/policies.yaml (e.g. "2000m", "4Gi").
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": {"parameter": name}} if {
	lib.is_workload
	some r, name in max_name
	value := params[name]
	value != null
	not lib.quantity(value)
	msg := sprintf("resource-limits parameter %v is not a Kubernetes quantity: %v", [name, value])
}
