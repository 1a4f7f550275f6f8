# Written in Rego v0 on purpose: test files, like policies, may use either
# version.
package company.deployment_test

import data.company.deployment

container := {
	"name": "web",
	"image": "registry.company.com/shop/web:1",
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
	"readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"livenessProbe": {"httpGet": {"path": "/livez", "port": 8080}},
}

deploy(ns, replicas, c) = d {
	d := {
		"kind": "Deployment",
		"metadata": {"name": "web", "namespace": ns, "labels": {"cost-center": "cc-1042"}},
		"spec": {"replicas": replicas, "template": {"spec": {"containers": [c]}}},
	}
}

messages(r) = {m | v := deployment.violation[_] with input as {"resource": r}; m := v.message}

test_compliant_deployment {
	count(messages(deploy("production", 3, container))) == 0
}

test_production_replicas {
	messages(deploy("production", 1, container)) == {"Deployment 'web' runs 1 replica(s) in production; the minimum is 3"}
}

test_production_replicas_default_is_one {
	d := json.remove(deploy("production", 3, container), ["spec/replicas"])
	messages(d) == {"Deployment 'web' runs 1 replica(s) in production; the minimum is 3"}
}

test_staging_may_run_one_replica {
	count(messages(deploy("staging", 1, container))) == 0
}

test_missing_requests_and_probes {
	c := {"name": "web", "image": "registry.company.com/shop/web:1"}
	messages(deploy("staging", 2, c)) == {
		"Container 'web' has no cpu request",
		"Container 'web' has no memory request",
		"Container 'web' of Deployment 'web' has no readiness probe",
		"Container 'web' of Deployment 'web' has no liveness probe",
	}
}

test_probe_finding_points_at_container {
	c := json.remove(container, ["readinessProbe"])
	v := deployment.violation[_] with input as {"resource": deploy("staging", 2, c)}
	v.details.field == "spec.template.spec.containers[0]"
	v.severity == "medium"
}

test_cost_center_label {
	d := json.remove(deploy("staging", 2, container), ["metadata/labels"])
	messages(d) == {"Deployment 'web' has no cost-center label"}
}

test_default_namespace {
	svc := {"kind": "Service", "metadata": {"name": "web"}, "spec": {}}
	messages(svc) == {"Service 'web' is in the default namespace; set metadata.namespace"}
	cm := {"kind": "ConfigMap", "metadata": {"name": "web", "namespace": "default"}}
	messages(cm) == {"ConfigMap 'web' is in the default namespace; set metadata.namespace"}
}

test_cluster_scoped_kinds_have_no_namespace {
	count(messages({"kind": "Namespace", "metadata": {"name": "production"}})) == 0
}
