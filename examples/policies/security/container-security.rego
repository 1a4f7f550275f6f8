# METADATA
# title: Company container security
# description: >-
#   Company-specific container rules on top of the built-in attest.security
#   policy: no credentials in plain environment variables, digest-pinned
#   images in production, no images straight from Docker Hub, no privilege
#   escalation. Written in the specification's Rego v0 style (rules without
#   `if`, `in` without an import); network-policies.rego is Rego v1.
# scope: package
# custom:
#   severity: high
package company.security

# ---- helpers (shared by the three files of this package) -----------------

workload_kinds := ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]

# pod_spec_path is the dotted JSON path of the resource's pod spec.
pod_spec_path := "spec" {
	input.resource.kind == "Pod"
}

pod_spec_path := "spec.template.spec" {
	input.resource.kind in workload_kinds
}

pod_spec_path := "spec.jobTemplate.spec.template.spec" {
	input.resource.kind == "CronJob"
}

pod_spec := object.get(input.resource, split(pod_spec_path, "."), {})

# containers: every init and app container with its JSON path, so reports
# point at the container's own line.
containers[{"container": c, "path": path}] {
	t := ["initContainers", "containers"][_]
	c := pod_spec[t][i]
	path := sprintf("%s.%s[%d]", [pod_spec_path, t, i])
}

# Environment variable names that hold credentials.
secret_env_name := `(?i)(password|passwd|secret|token|api_?key|private_?key|credentials)`

# from_docker_hub(image): docker.io, or no registry host in the reference
# ("nginx:1.25", "bitnami/postgresql:15"). A first path segment with a dot
# or a port, or "localhost", is a registry.
from_docker_hub(image) {
	startswith(image, "docker.io/")
}

from_docker_hub(image) {
	not contains(image, "/")
}

from_docker_hub(image) {
	parts := split(image, "/")
	count(parts) > 1
	first := parts[0]
	not contains(first, ".")
	not contains(first, ":")
	first != "localhost"
}

# ---- rules -----------------------------------------------------------------

# METADATA
# title: No credentials in plain environment variables
# description: >-
#   A password, token or key written as an env value ends up in Git, in
#   `kubectl describe` output and in every backup of the manifest.
# custom:
#   id: plaintext-secret-env
#   severity: critical
#   remediation: >-
#     Put the value in a Secret (or the external secrets store) and read it
#     with env[].valueFrom.secretKeyRef.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: ["SOC2:CC6.1", "CIS:5.4.1"]
violation[{"violated": true, "message": msg, "severity": "critical", "details": {"field": field}}] {
	entry := containers[_]
	env := entry.container.env[i]
	regex.match(secret_env_name, env.name)
	env.value != ""
	field := sprintf("%s.env[%d].value", [entry.path, i])
	msg := sprintf("Container '%v' sets %v from a literal value; read it from a Secret", [entry.container.name, env.name])
}

# METADATA
# title: Production images are pinned by digest
# description: >-
#   A tag can be moved to other content after review; only a digest names
#   exactly what was tested and attested.
# custom:
#   id: production-image-digest
#   severity: high
#   remediation: Reference the image as registry.company.com/team/app:1.4.2@sha256:<digest>.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: ["SOC2:CC8.1", "SLSA:L2"]
violation[{"violated": true, "message": msg, "severity": "high", "details": {"field": field}}] {
	input.resource.metadata.namespace == "production"
	entry := containers[_]
	not contains(entry.container.image, "@sha256:")
	field := sprintf("%s.image", [entry.path])
	msg := sprintf("Production image '%v' (container '%v') must be pinned by digest", [entry.container.image, entry.container.name])
}

# METADATA
# title: No images pulled straight from Docker Hub
# description: >-
#   Docker Hub images are unvetted and rate-limited; third-party images are
#   mirrored and scanned under registry.company.com/mirror/.
# custom:
#   id: no-docker-hub
#   severity: high
#   remediation: Use the mirrored copy, registry.company.com/mirror/<image>.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: ["SOC2:CC7.1"]
violation[{"violated": true, "message": msg, "severity": "high", "details": {"field": field}}] {
	entry := containers[_]
	from_docker_hub(entry.container.image)
	field := sprintf("%s.image", [entry.path])
	msg := sprintf("Image '%v' comes from Docker Hub; use registry.company.com/mirror/", [entry.container.image])
}

# METADATA
# title: No privilege escalation
# description: >-
#   allowPrivilegeEscalation defaults to true; setuid binaries can then gain
#   more privileges than the container started with.
# custom:
#   id: no-privilege-escalation
#   severity: high
#   remediation: Set securityContext.allowPrivilegeEscalation to false on every container.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
#   controls: ["CIS:5.2.5", "PSS:restricted"]
violation[{"violated": true, "message": msg, "severity": "high", "details": {"field": entry.path}}] {
	entry := containers[_]
	not entry.container.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("Container '%v' must set securityContext.allowPrivilegeEscalation: false", [entry.container.name])
}
