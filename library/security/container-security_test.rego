package attest.security_test

import data.attest.fixtures as f

# found(resource, needle) is {[message, field]} of the findings whose message
# contains needle.
found(resource, needle) := {[v.message, object.get(v, ["details", "field"], "")] |
	some v in results(f.input_for(resource))
	contains(v.message, needle)
}

severities(resource, needle) := {v.severity |
	some v in results(f.input_for(resource))
	contains(v.message, needle)
}

# patched(patch) is a Deployment whose only container is hardened and then patched.
patched(patch) := f.workload("Deployment", f.hardened_spec([json.patch(f.hardened("app"), patch)]))

spec_patched(patch) := f.workload("Deployment", json.patch(f.hardened_spec([f.hardened("app")]), patch))

c0 := "spec.template.spec.containers[0]"

# A hardened workload of every kind gets no container security finding.
test_hardened_is_clean[kind] if {
	some kind in f.kinds
	count(results(f.input_for(f.workload(kind, f.hardened_spec([f.hardened("app")]))))) == 0
}

cases := [
	{
		"note": "privilege escalation missing",
		"resource": patched([{"op": "remove", "path": "/securityContext/allowPrivilegeEscalation"}]),
		"needle": "allowPrivilegeEscalation",
		"want": {["Container 'app' does not set allowPrivilegeEscalation: false", "spec.template.spec.containers[0].securityContext"]},
	},
	{
		"note": "privilege escalation true",
		"resource": patched([{"op": "replace", "path": "/securityContext/allowPrivilegeEscalation", "value": true}]),
		"needle": "allowPrivilegeEscalation",
		"want": {["Container 'app' does not set allowPrivilegeEscalation: false", "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"]},
	},
	{
		"note": "run as root on container",
		"resource": patched([{"op": "add", "path": "/securityContext/runAsUser", "value": 0}]),
		"needle": "runs as root",
		"want": {["Container 'app' runs as root (runAsUser: 0)", "spec.template.spec.containers[0].securityContext.runAsUser"]},
	},
	{
		"note": "run as root inherited from pod",
		"resource": spec_patched([{"op": "add", "path": "/securityContext/runAsUser", "value": 0}]),
		"needle": "runs as root",
		"want": {["Container 'app' runs as root (runAsUser: 0)", "spec.template.spec.securityContext.runAsUser"]},
	},
	{
		"note": "container uid overrides pod root",
		"resource": spec_patched([
			{"op": "add", "path": "/securityContext/runAsUser", "value": 0},
			{"op": "add", "path": "/containers/0/securityContext/runAsUser", "value": 1000},
		]),
		"needle": "runs as root",
		"want": set(),
	},
	{
		"note": "runAsNonRoot missing everywhere",
		"resource": spec_patched([
			{"op": "remove", "path": "/securityContext/runAsNonRoot"},
			{"op": "remove", "path": "/containers/0/securityContext/runAsNonRoot"},
		]),
		"needle": "may run as root",
		"want": {["Container 'app' may run as root: set runAsNonRoot: true", "spec.template.spec.containers[0].securityContext"]},
	},
	{
		"note": "runAsNonRoot from pod is enough",
		"resource": spec_patched([{"op": "remove", "path": "/containers/0/securityContext/runAsNonRoot"}]),
		"needle": "may run as root",
		"want": set(),
	},
	{
		"note": "non-zero runAsUser is enough",
		"resource": spec_patched([
			{"op": "remove", "path": "/securityContext/runAsNonRoot"},
			{"op": "replace", "path": "/containers/0/securityContext", "value": {"runAsUser": 1000}},
		]),
		"needle": "may run as root",
		"want": set(),
	},
	{
		"note": "windows pods skipped",
		"resource": spec_patched([
			{"op": "remove", "path": "/securityContext/runAsNonRoot"},
			{"op": "remove", "path": "/containers/0/securityContext/runAsNonRoot"},
			{"op": "add", "path": "/os", "value": {"name": "windows"}},
		]),
		"needle": "may run as root",
		"want": set(),
	},
	{
		"note": "writable root filesystem",
		"resource": patched([{"op": "replace", "path": "/securityContext/readOnlyRootFilesystem", "value": false}]),
		"needle": "writable root",
		"want": {["Container 'app' has a writable root filesystem", "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem"]},
	},
	{
		"note": "dangerous capability",
		"resource": patched([{"op": "add", "path": "/securityContext/capabilities/add", "value": ["NET_BIND_SERVICE", "CAP_SYS_ADMIN"]}]),
		"needle": "dangerous capability",
		"want": {["Container 'app' adds the dangerous capability CAP_SYS_ADMIN", "spec.template.spec.containers[0].securityContext.capabilities.add[1]"]},
	},
	{
		"note": "harmless capability",
		"resource": patched([{"op": "add", "path": "/securityContext/capabilities/add", "value": ["NET_BIND_SERVICE"]}]),
		"needle": "dangerous capability",
		"want": set(),
	},
	{
		"note": "drop ALL missing",
		"resource": patched([{"op": "replace", "path": "/securityContext/capabilities/drop", "value": ["NET_RAW"]}]),
		"needle": "drop ALL",
		"want": {["Container 'app' does not drop ALL capabilities", "spec.template.spec.containers[0].securityContext.capabilities.drop"]},
	},
	{
		"note": "drop all lower case",
		"resource": patched([{"op": "replace", "path": "/securityContext/capabilities/drop", "value": ["all"]}]),
		"needle": "drop ALL",
		"want": set(),
	},
	{
		"note": "host namespaces",
		"resource": spec_patched([{"op": "add", "path": "/hostNetwork", "value": true}, {"op": "add", "path": "/hostPID", "value": true}, {"op": "add", "path": "/hostIPC", "value": false}]),
		"needle": "shares the node",
		"want": {
			["Deployment w shares the node's namespace (hostNetwork: true)", "spec.template.spec.hostNetwork"],
			["Deployment w shares the node's namespace (hostPID: true)", "spec.template.spec.hostPID"],
		},
	},
	{
		"note": "hostPath volume",
		"resource": spec_patched([{"op": "add", "path": "/volumes", "value": [{"name": "cfg", "configMap": {"name": "x"}}, {"name": "data", "hostPath": {"path": "/data"}}]}]),
		"needle": "host path",
		"want": {["Volume 'data' mounts the host path /data", "spec.template.spec.volumes[1].hostPath"]},
	},
	{
		"note": "host port",
		"resource": patched([{"op": "add", "path": "/ports/0/hostPort", "value": 80}]),
		"needle": "host port",
		"want": {["Container 'app' binds host port 80", "spec.template.spec.containers[0].ports[0].hostPort"]},
	},
	{
		"note": "seccomp unconfined on container",
		"resource": patched([{"op": "replace", "path": "/securityContext/seccompProfile/type", "value": "Unconfined"}]),
		"needle": "Seccomp is Unconfined",
		"want": {["Seccomp is Unconfined for container 'app'", "spec.template.spec.containers[0].securityContext.seccompProfile.type"]},
	},
	{
		"note": "seccomp missing",
		"resource": spec_patched([
			{"op": "remove", "path": "/securityContext/seccompProfile"},
			{"op": "remove", "path": "/containers/0/securityContext/seccompProfile"},
		]),
		"needle": "no seccomp profile",
		"want": {["Deployment w sets no seccomp profile: set seccompProfile type RuntimeDefault", "spec.template.spec.securityContext"]},
	},
	{
		"note": "seccomp on every container is enough",
		"resource": spec_patched([{"op": "remove", "path": "/securityContext/seccompProfile"}]),
		"needle": "no seccomp profile",
		"want": set(),
	},
	{
		"note": "apparmor unconfined",
		"resource": patched([{"op": "add", "path": "/securityContext/appArmorProfile", "value": {"type": "Unconfined"}}]),
		"needle": "AppArmor",
		"want": {["AppArmor is unconfined for container 'app'", "spec.template.spec.containers[0].securityContext.appArmorProfile.type"]},
	},
	{
		"note": "procMount unmasked",
		"resource": patched([{"op": "add", "path": "/securityContext/procMount", "value": "Unmasked"}]),
		"needle": "procMount",
		"want": {["Container 'app' unmasks /proc (procMount: Unmasked)", "spec.template.spec.containers[0].securityContext.procMount"]},
	},
	{
		"note": "token automount",
		"resource": spec_patched([{"op": "remove", "path": "/automountServiceAccountToken"}]),
		"needle": "service account token",
		"want": {["Deployment w mounts a service account token: set automountServiceAccountToken: false", "spec.template.spec"]},
	},
	{
		"note": "default service account",
		"resource": spec_patched([{"op": "replace", "path": "/serviceAccountName", "value": "default"}]),
		"needle": "default service account",
		"want": {["Deployment w runs as the default service account", "spec.template.spec.serviceAccountName"]},
	},
	{
		"note": "secret in env",
		"resource": patched([{"op": "add", "path": "/env", "value": [
			{"name": "LOG_LEVEL", "value": "debug"},
			{"name": "DB_PASSWORD", "value": "hunter2"},
			{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
			{"name": "AWS_KEY_ID", "value": "AKIAABCDEFGHIJKLMNOP"},
			{"name": "SECRET_PATH", "value": "$(MOUNT)/secret"},
			{"name": "DATABASE_URL", "value": "postgres://app:s3cr3t@db:5432/app"},
			{"name": "TOKEN_TTL", "value": "3600"},
		]}]),
		"needle": "literal secret",
		"want": {
			["Container 'app' sets DB_PASSWORD to a literal secret value", "spec.template.spec.containers[0].env[1].value"],
			["Container 'app' sets AWS_KEY_ID to a literal secret value", "spec.template.spec.containers[0].env[3].value"],
			["Container 'app' sets DATABASE_URL to a literal secret value", "spec.template.spec.containers[0].env[5].value"],
		},
	},
]

test_container_security[note] if {
	some c in cases
	note := c.note
	found(c.resource, c.needle) == c.want
}

test_host_path_critical_paths if {
	r := spec_patched([{"op": "add", "path": "/volumes", "value": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}])
	severities(r, "host path") == {"critical"}
	r2 := spec_patched([{"op": "add", "path": "/volumes", "value": [{"name": "root", "hostPath": {"path": "/"}}]}])
	severities(r2, "host path") == {"critical"}
}

test_privilege_escalation_severity if {
	severities(patched([{"op": "replace", "path": "/securityContext/allowPrivilegeEscalation", "value": true}]), "allowPrivilegeEscalation") == {"high"}
	severities(patched([{"op": "remove", "path": "/securityContext/allowPrivilegeEscalation"}]), "allowPrivilegeEscalation") == {"medium"}
}

test_one_finding_per_container if {
	r := f.workload("StatefulSet", f.hardened_spec([
		f.hardened("a"),
		json.patch(f.hardened("b"), [{"op": "remove", "path": "/securityContext/readOnlyRootFilesystem"}]),
		json.patch(f.hardened("c"), [{"op": "remove", "path": "/securityContext/readOnlyRootFilesystem"}]),
	]))
	found(r, "writable root") == {
		["Container 'b' has a writable root filesystem", "spec.template.spec.containers[1].securityContext"],
		["Container 'c' has a writable root filesystem", "spec.template.spec.containers[2].securityContext"],
	}
}

test_apparmor_annotation if {
	r := json.patch(f.workload("Deployment", f.hardened_spec([f.hardened("app")])), [{
		"op": "add", "path": "/spec/template/metadata/annotations",
		"value": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"},
	}])
	found(r, "AppArmor") == {["AppArmor is unconfined for container 'app'", "spec.template.metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/app\"]"]}
}

test_plain_workload_findings_are_distinct if {
	# An ordinary Deployment: one finding per rule, no repeats.
	r := f.workload("Deployment", {"containers": [{"name": "web", "image": "nginx:1.27"}]})
	vs := results(f.input_for(r))
	count(vs) == count({v.message | some v in vs})
	count(vs) == 7
}
