package attest.image_security_test

import data.attest.fixtures as f
import data.attest.image_security

results(inp) := v if v := image_security.violation with input as inp

found(resource, params, ctx) := {[v.message, v.severity, object.get(v, ["details", "field"], "")] | some v in results(f.input_with(resource, params, ctx))}

deployment(images) := f.workload("Deployment", {"containers": [{"name": sprintf("c%d", [i]), "image": img} | some i, img in images]})

digest := "@sha256:0000000000000000000000000000000000000000000000000000000000000000"

trusted := {"trusted_registries": ["gcr.io/", "registry.company.com/", "docker.io/library/"]}

c := "spec.template.spec.containers"

image_cases := [
	{"note": "pinned, trusted", "images": [concat("", ["registry.company.com/app:1.0", digest])], "params": trusted, "ctx": {}, "want": set()},
	{
		"note": "untrusted registry",
		"images": [concat("", ["quay.io/x/app:1.0", digest]), concat("", ["gcr.io/p/app:2", digest]), concat("", ["nginx:1.27", digest])],
		"params": trusted, "ctx": {},
		"want": {[sprintf("Container image 'quay.io/x/app:1.0%v' is not from a trusted registry (gcr.io/, registry.company.com/, docker.io/library/)", [digest]), "high", "spec.template.spec.containers[0].image"]},
	},
	{"note": "no registry list, no check", "images": [concat("", ["quay.io/x/app:1.0", digest])], "params": {}, "ctx": {}, "want": set()},
	{
		"note": "latest and untagged",
		"images": ["nginx", "nginx:latest", "registry:5000/app"],
		"params": {}, "ctx": {},
		"want": {
			["Container image 'nginx' uses the mutable latest tag", "medium", "spec.template.spec.containers[0].image"],
			["Container image 'nginx:latest' uses the mutable latest tag", "medium", "spec.template.spec.containers[1].image"],
			["Container image 'registry:5000/app' uses the mutable latest tag", "medium", "spec.template.spec.containers[2].image"],
		},
	},
	{
		"note": "tag without digest is low",
		"images": ["nginx:1.27"], "params": {}, "ctx": {},
		"want": {["Container image 'nginx:1.27' is not pinned by digest", "low", "spec.template.spec.containers[0].image"]},
	},
	{
		"note": "digest required with attestation (parameter)",
		"images": ["nginx:1.27"], "params": {"require_attestation": true}, "ctx": {},
		"want": {["Container image 'nginx:1.27' is not pinned by digest", "high", "spec.template.spec.containers[0].image"]},
	},
	{
		"note": "digest required with attestation (context)",
		"images": ["nginx:1.27"], "params": {}, "ctx": {"require_attestation": true},
		"want": {["Container image 'nginx:1.27' is not pinned by digest", "high", "spec.template.spec.containers[0].image"]},
	},
	{"note": "latest pinned by digest", "images": [concat("", ["nginx:latest", digest])], "params": {}, "ctx": {}, "want": set()},
]

test_images[note] if {
	some tc in image_cases
	note := tc.note
	found(deployment(tc.images), tc.params, tc.ctx) == tc.want
}

test_pull_policy if {
	r := f.workload("Pod", {"containers": [
		{"name": "a", "image": "nginx:latest", "imagePullPolicy": "IfNotPresent"},
		{"name": "b", "image": "nginx:latest", "imagePullPolicy": "Always"},
		{"name": "c", "image": "nginx:1.27", "imagePullPolicy": "Never"},
	]})
	{[v.message, v.details.field] | some v in results(f.input_for(r)); v.severity == "low"; contains(v.message, "imagePullPolicy")} == {["Container 'a' pulls the mutable image 'nginx:latest' with imagePullPolicy IfNotPresent", "spec.containers[0].imagePullPolicy"]}
}

test_canonical if {
	image_security.canonical("nginx") == "docker.io/library/nginx"
	image_security.canonical("org/app:1") == "docker.io/org/app:1"
	image_security.canonical("gcr.io/p/app") == "gcr.io/p/app"
	image_security.canonical("localhost/app") == "localhost/app"
	image_security.canonical("registry:5000/app") == "registry:5000/app"
}

test_init_containers_checked if {
	r := f.workload("CronJob", {"initContainers": [{"name": "init", "image": "busybox"}], "containers": [{"name": "c", "image": concat("", ["gcr.io/x:1", digest])}]})
	found(r, {"trusted_registries": ["gcr.io/"]}, {}) == {
		["Container image 'busybox' is not from a trusted registry (gcr.io/)", "high", "spec.jobTemplate.spec.template.spec.initContainers[0].image"],
		["Container image 'busybox' uses the mutable latest tag", "medium", "spec.jobTemplate.spec.template.spec.initContainers[0].image"],
	}
}
