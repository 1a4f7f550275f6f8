package attest.context_test

import data.attest.context
import data.attest.fixtures as f

msg := "Production deployments must meet stricter requirements"

ready := {
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "d", "labels": {"environment": "production"}, "annotations": {"monitoring.company.com/enabled": "true"}},
	"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "resources": {"limits": {"memory": "1Gi"}}}]}}},
}

cases := [
	{"note": "meets requirements", "resource": ready, "want": false},
	{"note": "two replicas", "resource": json.patch(ready, [{"op": "replace", "path": "/spec/replicas", "value": 2}]), "want": true},
	{"note": "no limits", "resource": json.patch(ready, [{"op": "remove", "path": "/spec/template/spec/containers/0/resources"}]), "want": true},
	{"note": "no monitoring", "resource": json.patch(ready, [{"op": "remove", "path": "/metadata/annotations"}]), "want": true},
	{"note": "not production", "resource": json.patch(ready, [{"op": "replace", "path": "/metadata/labels/environment", "value": "staging"}, {"op": "remove", "path": "/metadata/annotations"}]), "want": false},
	{"note": "not a deployment", "resource": json.patch(ready, [{"op": "replace", "path": "/kind", "value": "StatefulSet"}, {"op": "remove", "path": "/metadata/annotations"}]), "want": false},
]

test_production_requirements[note] if {
	some c in cases
	note := c.note
	vs := context.violation with input as f.input_for(c.resource)
	want := {true: {{"violated": true, "message": msg}}, false: set()}[c.want]
	vs == want
}
