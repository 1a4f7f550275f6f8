package attest.security

import data.attest.lib

# Rules on containers and pod specs of every workload kind. One finding per
# container (or per pod spec field), with details.field pointing at it.

# METADATA
# title: No privileged containers (other workload kinds)
# description: >-
#   The privileged-containers rule of the specification covers Pods and
#   Deployments; this one covers the other workload kinds (StatefulSet,
#   DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate),
#   init and ephemeral containers included.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: privileged-container-workloads
#   severity: critical
#   remediation: >-
#     Remove securityContext.privileged: true and grant only the specific
#     capabilities the container needs.
#   kinds: [StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.1", "PSS:baseline", "SOC2:CC6.1", "NIST-800-190:4.4.3"]
violation contains {"violated": true, "message": msg, "severity": "critical", "details": d} if {
	not input.resource.kind in {"Pod", "Deployment"}
	some e in lib.containers
	e.container.securityContext.privileged == true
	msg := sprintf("Privileged containers are not allowed: %v", [e.name])
	d := {"field": concat("", [e.path, ".securityContext.privileged"]), "container": e.name}
}

# METADATA
# title: Privilege escalation must be disabled
# description: >-
#   Without allowPrivilegeEscalation: false a process can gain more
#   privileges than its parent (setuid binaries, file capabilities). The
#   restricted Pod Security Standard requires it to be false. Reported medium
#   when the field is missing, high when it is explicitly true. Privileged
#   containers are left to the privileged rules.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: privilege-escalation
#   severity: medium
#   remediation: Set securityContext.allowPrivilegeEscalation to false on the container.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.5", "PSS:restricted", "SOC2:CC6.1", "NIST-800-190:4.4.3"]
violation contains {"violated": true, "message": msg, "severity": sev, "details": d} if {
	some e in lib.containers
	not e.container.securityContext.privileged == true
	value := object.get(e.container, ["securityContext", "allowPrivilegeEscalation"], null)
	value != false
	sev := {true: "high", false: "medium"}[value == true]
	msg := sprintf("Container '%v' does not set allowPrivilegeEscalation: false", [e.name])
	d := {"field": lib.deepest(e.path, e.container, ["securityContext", "allowPrivilegeEscalation"]), "container": e.name}
}

# run_as_user is the container's effective runAsUser, and where it is set.
run_as_user(e) := [u, concat("", [e.path, ".securityContext.runAsUser"])] if {
	u := e.container.securityContext.runAsUser
} else := [u, concat("", [lib.pod_spec_path, ".securityContext.runAsUser"])] if {
	u := lib.pod_spec.securityContext.runAsUser
}

# non_root_required(e): runAsNonRoot is true on the container, or on the pod
# and not overridden by the container.
non_root_required(e) if e.container.securityContext.runAsNonRoot == true

non_root_required(e) if {
	not e.container.securityContext.runAsNonRoot == false
	lib.pod_spec.securityContext.runAsNonRoot == true
}

windows_pod if lib.pod_spec.os.name == "windows"

# METADATA
# title: Containers must not run as root (UID 0)
# description: >-
#   runAsUser: 0, on the container or inherited from the pod, runs the
#   process as root; a container breakout then starts with root on the node's
#   kernel.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: run-as-root
#   severity: high
#   remediation: Set runAsUser to a non-zero UID (and runAsNonRoot to true), or remove runAsUser 0.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.6", "PSS:restricted", "SOC2:CC6.1", "NIST-800-190:4.4.3"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in lib.containers
	[uid, field] := run_as_user(e)
	uid == 0
	msg := sprintf("Container '%v' runs as root (runAsUser: 0)", [e.name])
	d := {"field": field, "container": e.name}
}

# METADATA
# title: Containers must be required to run as non-root
# description: >-
#   Unless runAsNonRoot is true (on the container or the pod) or a non-zero
#   runAsUser is set, the container runs as whatever user the image names,
#   often root. Windows pods are skipped.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: run-as-non-root
#   severity: medium
#   remediation: >-
#     Set securityContext.runAsNonRoot: true on the pod (or container), with a
#     runAsUser the image supports.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.6", "PSS:restricted", "SOC2:CC6.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	some e in lib.containers
	not windows_pod
	not non_root_required(e)
	not run_as_user(e)
	msg := sprintf("Container '%v' may run as root: set runAsNonRoot: true", [e.name])
	d := {"field": lib.deepest(e.path, e.container, ["securityContext", "runAsNonRoot"]), "container": e.name}
}

# METADATA
# title: Root filesystem should be read-only
# description: >-
#   A writable root filesystem lets an attacker drop tools and persist
#   changes inside the container. Mount an emptyDir where the application
#   needs to write.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: readonly-root-filesystem
#   severity: low
#   remediation: >-
#     Set securityContext.readOnlyRootFilesystem: true and mount emptyDir
#     volumes for the paths the application writes (/tmp, caches).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.7.3", "NIST-800-190:4.4.4", "SOC2:CC6.8"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	some e in lib.containers
	e.type != "ephemeralContainers"
	not e.container.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("Container '%v' has a writable root filesystem", [e.name])
	d := {"field": lib.deepest(e.path, e.container, ["securityContext", "readOnlyRootFilesystem"]), "container": e.name}
}

# dangerous_capabilities give container escape or host control.
dangerous_capabilities := {
	"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO",
	"SYS_BOOT", "SYS_TIME", "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN",
	"MAC_OVERRIDE", "SYSLOG", "NET_RAW",
}

capability_name(c) := upper(trim_prefix(upper(c), "CAP_"))

# METADATA
# title: No dangerous capabilities
# description: >-
#   Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, BPF or
#   ALL give a container control of the node or its network. NET_RAW allows
#   spoofing on the pod network. One finding per capability added.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: dangerous-capabilities
#   severity: high
#   remediation: Remove the capability from securityContext.capabilities.add, or justify it with an exemption.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.8", "CIS:5.2.9", "PSS:baseline", "SOC2:CC6.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in lib.containers
	some i, cap in e.container.securityContext.capabilities.add
	capability_name(cap) in dangerous_capabilities
	msg := sprintf("Container '%v' adds the dangerous capability %v", [e.name, cap])
	d := {"field": sprintf("%s.securityContext.capabilities.add[%d]", [e.path, i]), "container": e.name}
}

# METADATA
# title: Capabilities should drop ALL
# description: >-
#   Containers start with the runtime's default capability set (CHOWN,
#   SETUID, NET_BIND_SERVICE...). The restricted Pod Security Standard asks
#   to drop ALL and add back only what is needed.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: drop-all-capabilities
#   severity: low
#   remediation: >-
#     Add securityContext.capabilities.drop: ["ALL"] and add back only the
#     capabilities the process needs.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.9", "PSS:restricted", "SOC2:CC6.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	some e in lib.containers
	e.type != "ephemeralContainers"
	not e.container.securityContext.privileged == true
	not drops_all(e.container)
	msg := sprintf("Container '%v' does not drop ALL capabilities", [e.name])
	d := {"field": lib.deepest(e.path, e.container, ["securityContext", "capabilities", "drop"]), "container": e.name}
}

drops_all(c) if {
	some cap in c.securityContext.capabilities.drop
	capability_name(cap) == "ALL"
}

# METADATA
# title: No host namespaces
# description: >-
#   hostNetwork, hostPID and hostIPC share the node's network stack, process
#   table or IPC with the pod: it can sniff traffic, see and signal every
#   process, or reach node-local services. One finding per field set.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: host-namespaces
#   severity: high
#   remediation: Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.2", "CIS:5.2.3", "CIS:5.2.4", "PSS:baseline", "SOC2:CC6.1"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some f in ["hostNetwork", "hostPID", "hostIPC"]
	lib.pod_spec[f] == true
	msg := sprintf("%v %v shares the node's namespace (%v: true)", [input.resource.kind, input.resource.metadata.name, f])
	d := {"field": concat(".", [lib.pod_spec_path, f])}
}

# sensitive_host_paths are host paths whose mount is as good as root on the node.
sensitive_host_paths := {
	"/", "/etc", "/root", "/proc", "/sys", "/dev", "/boot", "/var/lib/kubelet",
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd/containerd.sock",
	"/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/var/lib/docker",
	"/etc/kubernetes",
}

# METADATA
# title: No hostPath volumes
# description: >-
#   A hostPath volume mounts a directory of the node into the pod; many paths
#   (the container runtime socket, /etc, /var/lib/kubelet, /) hand over the
#   node. Reported critical for those paths, high otherwise.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: host-path-volumes
#   severity: high
#   remediation: Use a persistentVolumeClaim, configMap, secret or emptyDir instead of hostPath.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.12", "PSS:baseline", "SOC2:CC6.1", "NIST-800-190:4.4.4"]
violation contains {"violated": true, "message": msg, "severity": sev, "details": d} if {
	some i, v in lib.pod_spec.volumes
	v.hostPath
	p := object.get(v.hostPath, "path", "")
	sev := host_path_severity(p)
	msg := sprintf("Volume '%v' mounts the host path %v", [v.name, p])
	d := {"field": sprintf("%s.volumes[%d].hostPath", [lib.pod_spec_path, i])}
}

host_path_severity(p) := "critical" if {
	p == "/"
} else := "critical" if {
	trim_suffix(p, "/") in sensitive_host_paths
} else := "high"

# METADATA
# title: No hostPort
# description: >-
#   hostPort binds the container to a port of the node, bypassing network
#   policies and limiting scheduling to one pod per node and port.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: host-ports
#   severity: medium
#   remediation: Remove hostPort and expose the container through a Service.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.2.13", "PSS:baseline", "SOC2:CC6.6"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	some e in lib.containers
	some i, p in e.container.ports
	p.hostPort > 0
	msg := sprintf("Container '%v' binds host port %v", [e.name, p.hostPort])
	d := {"field": sprintf("%s.ports[%d].hostPort", [e.path, i]), "container": e.name}
}

seccomp_unconfined_annotation := "seccomp.security.alpha.kubernetes.io/pod"

# METADATA
# title: Seccomp must not be Unconfined
# description: >-
#   seccompProfile type Unconfined (on the pod or a container) turns off
#   system call filtering, exposing the whole kernel API to the container.
# related_resources:
#   - ref: https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: seccomp-unconfined
#   severity: high
#   remediation: Use seccompProfile type RuntimeDefault (or a Localhost profile).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.7.2", "PSS:baseline", "SOC2:CC6.8"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some [field, who] in seccomp_unconfined
	msg := sprintf("Seccomp is Unconfined for %v", [who])
	d := {"field": field}
}

seccomp_unconfined contains [concat("", [lib.pod_spec_path, ".securityContext.seccompProfile.type"]), "the pod"] if {
	lib.pod_spec.securityContext.seccompProfile.type == "Unconfined"
}

seccomp_unconfined contains [concat("", [e.path, ".securityContext.seccompProfile.type"]), sprintf("container '%v'", [e.name])] if {
	some e in lib.containers
	e.container.securityContext.seccompProfile.type == "Unconfined"
}

seccomp_unconfined contains [sprintf("%s.annotations[%q]", [lib.pod_meta_path, seccomp_unconfined_annotation]), "the pod (annotation)"] if {
	lower(lib.pod_meta.annotations[seccomp_unconfined_annotation]) == "unconfined"
}

# METADATA
# title: Seccomp profile should be RuntimeDefault
# description: >-
#   Without a seccomp profile on the pod (or on every container) the
#   container runs Unconfined on most clusters. Reported once per pod spec.
# related_resources:
#   - ref: https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: seccomp-profile-missing
#   severity: low
#   remediation: Set spec.securityContext.seccompProfile.type to RuntimeDefault in the pod spec.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.7.2", "PSS:restricted", "SOC2:CC6.8"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	lib.pod_spec
	not windows_pod
	not lib.pod_spec.securityContext.seccompProfile.type
	not lib.pod_meta.annotations[seccomp_unconfined_annotation]
	some e in lib.containers
	e.type != "ephemeralContainers"
	not e.container.securityContext.seccompProfile.type
	msg := sprintf("%v %v sets no seccomp profile: set seccompProfile type RuntimeDefault", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest(lib.pod_spec_path, lib.pod_spec, ["securityContext", "seccompProfile"])}
}

apparmor_prefix := "container.apparmor.security.beta.kubernetes.io/"

# METADATA
# title: AppArmor must not be unconfined
# description: >-
#   An AppArmor profile of unconfined (appArmorProfile type Unconfined, or the
#   legacy container.apparmor.security.beta.kubernetes.io annotation) removes
#   the mandatory access control the node's default profile gives.
# related_resources:
#   - ref: https://kubernetes.io/docs/tutorials/security/apparmor/
# custom:
#   id: apparmor-unconfined
#   severity: high
#   remediation: Use appArmorProfile type RuntimeDefault or Localhost.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.7.2", "PSS:baseline", "SOC2:CC6.8"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some [field, who] in apparmor_unconfined
	msg := sprintf("AppArmor is unconfined for %v", [who])
	d := {"field": field}
}

apparmor_unconfined contains [concat("", [lib.pod_spec_path, ".securityContext.appArmorProfile.type"]), "the pod"] if {
	lib.pod_spec.securityContext.appArmorProfile.type == "Unconfined"
}

apparmor_unconfined contains [concat("", [e.path, ".securityContext.appArmorProfile.type"]), sprintf("container '%v'", [e.name])] if {
	some e in lib.containers
	e.container.securityContext.appArmorProfile.type == "Unconfined"
}

apparmor_unconfined contains [sprintf("%s.annotations[%q]", [lib.pod_meta_path, k]), sprintf("container '%v'", [name])] if {
	some k, v in lib.pod_meta.annotations
	startswith(k, apparmor_prefix)
	lower(v) == "unconfined"
	name := substring(k, count(apparmor_prefix), -1)
}

# METADATA
# title: procMount must be Default
# description: >-
#   procMount: Unmasked exposes the host's /proc paths that the runtime
#   normally masks.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: proc-mount-unmasked
#   severity: high
#   remediation: Remove securityContext.procMount or set it to Default.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["PSS:baseline", "SOC2:CC6.8"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in lib.containers
	e.container.securityContext.procMount == "Unmasked"
	msg := sprintf("Container '%v' unmasks /proc (procMount: Unmasked)", [e.name])
	d := {"field": concat("", [e.path, ".securityContext.procMount"]), "container": e.name}
}

# METADATA
# title: Service account token should not be mounted automatically
# description: >-
#   Unless automountServiceAccountToken is false, every container gets a
#   token for the Kubernetes API; a compromised container can use it. Most
#   applications never call the API.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
# custom:
#   id: service-account-token-automount
#   severity: low
#   remediation: >-
#     Set automountServiceAccountToken: false in the pod spec (or on the
#     ServiceAccount) unless the application calls the Kubernetes API.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.1.6", "SOC2:CC6.1", "SOC2:CC6.3"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	spec := lib.pod_spec
	is_object(spec)
	object.get(spec, "automountServiceAccountToken", null) != false
	msg := sprintf("%v %v mounts a service account token: set automountServiceAccountToken: false", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest(lib.pod_spec_path, spec, ["automountServiceAccountToken"])}
}

# METADATA
# title: Use a dedicated service account
# description: >-
#   Pods that run as the namespace's default service account share its
#   permissions with every other such pod; RBAC cannot tell them apart.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
# custom:
#   id: default-service-account
#   severity: low
#   remediation: Create a ServiceAccount for the workload and set serviceAccountName.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.1.5", "SOC2:CC6.1", "SOC2:CC6.3"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	spec := lib.pod_spec
	is_object(spec)
	object.get(spec, "serviceAccountName", object.get(spec, "serviceAccount", "default")) in {"", "default"}
	msg := sprintf("%v %v runs as the default service account", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest(lib.pod_spec_path, spec, ["serviceAccountName"])}
}

# secret_name matches environment variable names that hold credentials.
secret_name := `(?i)(passw(or)?d|passwd|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|credential|auth[_-]?key|client[_-]?secret|conn(ection)?[_-]?str)`

# secret_value matches well-known credential formats, whatever the name.
secret_value := `(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,}|sk_live_[0-9a-zA-Z]{24}|AIza[0-9A-Za-z_-]{35}|://[^/:@\s]+:[^/@\s]+@)`

# placeholder values are not secrets.
placeholder(v) if v == ""

placeholder(v) if contains(v, "$(")

placeholder(v) if regex.match(`^\$\(.*\)$|^\$\{.*\}$|^<.*>$|^(changeme|change-me|xxx+|\*+|none|null|true|false|[0-9]{1,5})$`, lower(v))

# METADATA
# title: No secrets in environment variable values
# description: >-
#   An environment variable whose name says password, token, secret or key
#   (or whose value looks like a cloud key, a private key or a URL with a
#   password) is written in the manifest in clear text, so it ends up in Git
#   and in the object anyone with read access sees.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   id: secrets-in-env
#   severity: high
#   remediation: >-
#     Move the value to a Secret (or an external secret store) and use
#     valueFrom.secretKeyRef; rotate the exposed credential.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.4.1", "SOC2:CC6.1", "SOC2:CC6.7", "HIPAA:164.312(a)(2)(iv)", "GDPR:Art.32"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	some e in lib.containers
	some i, env in e.container.env
	value := env.value
	is_string(value)
	not placeholder(value)
	looks_secret(env.name, value)
	msg := sprintf("Container '%v' sets %v to a literal secret value", [e.name, env.name])
	d := {"field": sprintf("%s.env[%d].value", [e.path, i]), "container": e.name}
}

looks_secret(name, _) if regex.match(secret_name, name)

looks_secret(_, value) if regex.match(secret_value, value)

# METADATA
# title: Workload images must carry an ATTEST attestation
# description: >-
#   The image-attestation rule of the specification checks Pods only; this
#   one checks every container (init and ephemeral included) of the other
#   workload kinds. Only enforced when attestation is required.
# custom:
#   id: workload-image-attestation
#   severity: high
#   remediation: >-
#     Build the image through the attested pipeline so its digest has an
#     attestation in the store, or reference an image that does.
#   kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:CC8.1", "SOC2:CC7.1", "NIST-SSDF:PS.2", "SLSA:L2"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind != "Pod"
	some img in lib.images
	not has_attest_attestation(img.image)
	msg := sprintf("Container image '%v' lacks required ATTEST attestation", [img.image])
	d := {"field": img.path, "container": img.name}
}
