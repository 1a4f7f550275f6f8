package company.security_test

import data.company.security

# ---- fixtures ---------------------------------------------------------------

good_container := {
	"name": "api",
	"image": "registry.company.com/shop/api:2.4.1@sha256:0d5f3c0e6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5",
	"securityContext": {"allowPrivilegeEscalation": false},
	"env": [
		{"name": "LOG_LEVEL", "value": "info"},
		{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
	],
}

deployment(ns, c) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": ns},
	"spec": {"template": {"spec": {"containers": [c]}}},
}

messages(resource) := {v.message | some v in security.violation with input as {"resource": resource}}

# ---- container security -------------------------------------------------------

test_compliant_production_deployment_passes if {
	count(messages(deployment("production", good_container))) == 0
}

test_literal_password_in_env if {
	c := object.union(good_container, {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]})
	some v in security.violation with input as {"resource": deployment("staging", c)}
	v.severity == "critical"
	v.message == "Container 'api' sets DB_PASSWORD from a literal value; read it from a Secret"
	v.details.field == "spec.template.spec.containers[0].env[0].value"
}

test_env_from_secret_is_fine if {
	count(messages(deployment("staging", good_container))) == 0
}

test_production_image_needs_digest if {
	c := object.union(good_container, {"image": "registry.company.com/shop/api:2.4.1"})
	messages(deployment("production", c)) == {"Production image 'registry.company.com/shop/api:2.4.1' (container 'api') must be pinned by digest"}
}

test_staging_image_may_use_a_tag if {
	c := object.union(good_container, {"image": "registry.company.com/shop/api:2.4.1"})
	count(messages(deployment("staging", c))) == 0
}

test_docker_hub_images if {
	every image in ["nginx:1.25", "docker.io/library/redis:7", "bitnami/postgresql:15"] {
		c := object.union(good_container, {"image": image})
		sprintf("Image '%v' comes from Docker Hub; use registry.company.com/mirror/", [image]) in messages(deployment("staging", c))
	}
}

test_registry_with_port_is_not_docker_hub if {
	c := object.union(good_container, {"image": "localhost:5000/api:1"})
	count(messages(deployment("staging", c))) == 0
}

test_privilege_escalation_must_be_off if {
	c := object.remove(good_container, ["securityContext"])
	messages(deployment("staging", c)) == {"Container 'api' must set securityContext.allowPrivilegeEscalation: false"}
}

test_cronjob_init_containers_are_checked if {
	cj := {
		"kind": "CronJob",
		"metadata": {"name": "report", "namespace": "staging"},
		"spec": {"jobTemplate": {"spec": {"template": {"spec": {
			"initContainers": [object.union(good_container, {"name": "init", "image": "busybox"})],
			"containers": [good_container],
		}}}}},
	}
	some v in security.violation with input as {"resource": cj}
	v.details.field == "spec.jobTemplate.spec.template.spec.initContainers[0].image"
}

# ---- network ----------------------------------------------------------------------

ingress(host, tls) := {
	"kind": "Ingress",
	"metadata": {"name": "web", "namespace": "production"},
	"spec": object.union({"rules": [{"host": host}]}, tls),
}

test_ingress_under_company_domain_with_tls if {
	count(messages(ingress("shop.company.com", {"tls": [{"hosts": ["shop.company.com"], "secretName": "shop-tls"}]}))) == 0
}

test_ingress_foreign_host_and_no_tls if {
	messages(ingress("shop.example.org", {})) == {
		"Ingress host 'shop.example.org' is not under company.com",
		"Ingress 'web' has no TLS section",
	}
}

test_ingress_domains_parameter if {
	r := ingress("shop.company.io", {"tls": [{"secretName": "x"}]})
	count(security.violation) == 0 with input as {"resource": r, "parameters": {"ingress_domains": ["company.com", "company.io"]}}
}

test_company_com_itself_is_not_a_subdomain if {
	count(messages(ingress("evilcompany.com", {"tls": [{"secretName": "x"}]}))) == 1
}

test_nodeport_service if {
	svc := {"kind": "Service", "metadata": {"name": "admin", "namespace": "staging"}, "spec": {"type": "NodePort"}}
	messages(svc) == {"Service 'admin' is a NodePort; expose it through the Ingress instead"}
	count(messages(object.union(svc, {"spec": {"type": "ClusterIP"}}))) == 0
}

# ---- RBAC ---------------------------------------------------------------------------

test_rbac_wildcard if {
	role := {"kind": "ClusterRole", "metadata": {"name": "ops"}, "rules": [
		{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
		{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]},
	]}
	messages(role) == {"ClusterRole 'ops' grants '*' in apiGroups", "ClusterRole 'ops' grants '*' in resources"}
	fields := {v.details.field | some v in security.violation with input as {"resource": role}}
	fields == {"rules[1].apiGroups", "rules[1].resources"}
}

test_narrow_role_passes if {
	role := {"kind": "Role", "metadata": {"name": "reader", "namespace": "production"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
	count(messages(role)) == 0
}

test_cluster_admin_binding if {
	b := {"kind": "ClusterRoleBinding", "metadata": {"name": "ci"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}
	messages(b) == {"ClusterRoleBinding 'ci' binds cluster-admin"}
}
