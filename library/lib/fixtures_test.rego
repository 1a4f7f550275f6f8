# Fixtures shared by the library's tests.
package attest.fixtures

image := "registry.company.com/app:1.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"

# container(name, extra) is a container with an image, merged with extra.
container(name, extra) := object.union({"name": name, "image": image}, extra)

# workload(kind, spec) wraps a pod spec the way kind does.
workload(kind, spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"}, "spec": spec} if {
	kind == "Pod"
} else := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "w"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"metadata": {}, "spec": spec}}}}} if {
	kind == "CronJob"
} else := {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "w"}, "template": {"metadata": {}, "spec": spec}} if {
	kind == "PodTemplate"
} else := {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"}, "spec": {"replicas": 2, "template": {"metadata": {}, "spec": spec}}}

# spec_path is where workload(kind, _) keeps the pod spec.
spec_path := {
	"Pod": "spec",
	"Deployment": "spec.template.spec",
	"StatefulSet": "spec.template.spec",
	"DaemonSet": "spec.template.spec",
	"ReplicaSet": "spec.template.spec",
	"ReplicationController": "spec.template.spec",
	"Job": "spec.template.spec",
	"CronJob": "spec.jobTemplate.spec.template.spec",
	"PodTemplate": "template.spec",
}

kinds := [k | some k, _ in spec_path]

# with_meta(resource, path, obj) merges obj into the object at path.
with_meta(resource, key, obj) := json.patch(resource, [{"op": "add", "path": concat("/", ["", "metadata", key]), "value": obj}])

input_for(resource) := {"resource": resource, "parameters": {}, "context": {}}

input_with(resource, parameters, context) := {"resource": resource, "parameters": parameters, "context": context}

# hardened is a container that passes every container security rule.
hardened(name) := container(name, {
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"runAsNonRoot": true,
		"readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
	"ports": [{"name": "http", "containerPort": 8080}],
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
})

hardened_spec(containers) := {
	"serviceAccountName": "app",
	"automountServiceAccountToken": false,
	"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": containers,
}
