package attest.deployment

import data.attest.lib

# Probes of long-running workloads (Jobs and CronJobs are batch: no probes
# expected).

# METADATA
# title: Containers need a liveness probe
# description: >-
#   Without a liveness probe a hung process keeps its pod Running and
#   Ready forever; the kubelet only restarts containers that exit.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: liveness-probe
#   severity: medium
#   remediation: Add a livenessProbe (httpGet, tcpSocket, grpc or exec) that fails when the process is stuck.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController]
#   controls: ["SOC2:A1.1", "SOC2:CC7.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind in lib.long_running_kinds
	some e in lib.app_containers
	not e.container.livenessProbe
	msg := sprintf("Container '%v' has no liveness probe", [e.name])
	d := {"field": e.path, "container": e.name}
}

# METADATA
# title: Serving containers need a readiness probe
# description: >-
#   A container that declares ports serves traffic; without a readiness
#   probe it receives requests before it can answer them, during every
#   start and rollout. Containers without ports (workers) are not reported.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: readiness-probe
#   severity: medium
#   remediation: Add a readinessProbe that succeeds only when the container can serve requests.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController]
#   controls: ["SOC2:A1.1", "SOC2:CC7.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind in lib.long_running_kinds
	some e in lib.app_containers
	count(object.get(e.container, "ports", [])) > 0
	not e.container.readinessProbe
	msg := sprintf("Container '%v' serves ports but has no readiness probe", [e.name])
	d := {"field": e.path, "container": e.name}
}

probe_kinds := ["livenessProbe", "readinessProbe", "startupProbe"]

# METADATA
# title: Probes must use a declared port name
# description: >-
#   A probe that names its port (port: http) needs a container port of that
#   name; otherwise the probe always fails and the container is restarted
#   (liveness) or never Ready (readiness).
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: probe-named-port
#   severity: high
#   remediation: Name the container port as the probe does, or give the probe the port number.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:A1.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in lib.containers
	some probe in probe_kinds
	some handler in ["httpGet", "tcpSocket"]
	port := e.container[probe][handler].port
	is_string(port)
	not port_named(e.container, port)
	msg := sprintf("Container '%v' %v uses port '%v', which the container does not declare", [e.name, probe, port])
	d := {"field": sprintf("%s.%s.%s.port", [e.path, probe, handler]), "container": e.name}
}

port_named(c, name) if c.ports[_].name == name
