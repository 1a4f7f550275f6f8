# Health check rules of package company.deployment, in the specification's
# Rego v0 style.
package company.deployment

probed_kinds := ["Deployment", "StatefulSet", "DaemonSet"]

# METADATA
# title: Long-running containers have a readiness probe
# description: >-
#   Without a readiness probe a pod receives traffic as soon as its process
#   starts, and a rollout of a broken version goes through.
# custom:
#   id: readiness-probe
#   severity: medium
#   remediation: Add readinessProbe (httpGet on the health endpoint, or tcpSocket).
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   controls: ["SOC2:A1.2"]
violation[{"violated": true, "message": msg, "severity": "medium", "details": {"field": entry.path}}] {
	input.resource.kind in probed_kinds
	entry := app_containers[_]
	not entry.container.readinessProbe
	msg := sprintf("Container '%v' of %v '%v' has no readiness probe", [entry.container.name, input.resource.kind, input.resource.metadata.name])
}

# METADATA
# title: Long-running containers have a liveness probe
# custom:
#   id: liveness-probe
#   severity: low
#   remediation: Add livenessProbe so that a hung process is restarted.
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   controls: ["SOC2:A1.2"]
violation[{"violated": true, "message": msg, "severity": "low", "details": {"field": entry.path}}] {
	input.resource.kind in probed_kinds
	entry := app_containers[_]
	not entry.container.livenessProbe
	msg := sprintf("Container '%v' of %v '%v' has no liveness probe", [entry.container.name, input.resource.kind, input.resource.metadata.name])
}
