package gatekeeper

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/finding"
)

func TestApplyDefaults(t *testing.T) {
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"max":         map[string]any{"type": "integer", "default": 7},
			"labels":      map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"allowedRegex": map[string]any{"type": "string", "default": ".*"}}}},
			"nested":      map[string]any{"type": "object", "properties": map[string]any{"on": map[string]any{"type": "boolean", "default": true}}},
			"withDefault": map[string]any{"type": "object", "default": map[string]any{}, "properties": map[string]any{"x": map[string]any{"type": "string", "default": "y"}}},
		},
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", `{}`, `{"max":7,"withDefault":{"x":"y"}}`},
		{"given wins", `{"max":3}`, `{"max":3,"withDefault":{"x":"y"}}`},
		{"array items", `{"labels":[{"key":"a"},{"key":"b","allowedRegex":"^b"}]}`, `{"labels":[{"allowedRegex":".*","key":"a"},{"allowedRegex":"^b","key":"b"}],"max":7,"withDefault":{"x":"y"}}`},
		{"absent object not created", `{"max":1}`, `{"max":1,"withDefault":{"x":"y"}}`},
		{"present object defaulted", `{"nested":{}}`, `{"max":7,"nested":{"on":true},"withDefault":{"x":"y"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in map[string]any
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(in)
			got, _ := json.Marshal(applyDefaults(schema, in))
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			after, _ := json.Marshal(in)
			if string(before) != string(after) {
				t.Errorf("input changed: %s -> %s", before, after)
			}
		})
	}
	// The default is copied: changing one result does not change the next.
	a := applyDefaults(schema, map[string]any{}).(map[string]any)
	a["withDefault"].(map[string]any)["x"] = "changed"
	b := applyDefaults(schema, map[string]any{}).(map[string]any)
	if b["withDefault"].(map[string]any)["x"] != "y" {
		t.Fatal("defaults share state between constraints")
	}
}

// A constraint's parameters get the template schema's defaults before the
// Rego sees them, as in the cluster (gator gives {"max": 7} here too).
func TestConstraintParametersDefaulted(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8smaxreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sMaxReplicas
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max:
              type: integer
              default: 7
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8smaxreplicas
        violation[{"msg": msg}] {
          input.review.object.spec.replicas > input.parameters.max
          msg := sprintf("replicas above %v", [input.parameters.max])
        }
`,
		"constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sMaxReplicas
metadata:
  name: max-replicas
spec:
  parameters: {}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, errs := loadDirForTest(t, dir)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	cs := set.constraints["K8sMaxReplicas"]
	if len(cs) != 1 {
		t.Fatalf("%d constraints", len(cs))
	}
	got, _ := json.Marshal(cs[0].Parameters)
	if !strings.Contains(string(got), `"max":7`) {
		t.Fatalf("parameters %s, want the schema's default max 7", got)
	}
}

func loadDirForTest(t *testing.T, dir string) (*Set, []finding.Error) {
	t.Helper()
	objs, errs := LoadPaths(context.Background(), dir)
	if len(errs) > 0 {
		return nil, errs
	}
	return Build(objs)
}

// data.inventory places an object by its metadata.namespace alone, as
// Gatekeeper's target handler does, whatever its kind.
func TestInventoryByNamespaceField(t *testing.T) {
	c := NewCluster()
	c.add("rbac.authorization.k8s.io/v1", "ClusterRole", "odd", "team-a", nil, map[string]any{"kind": "ClusterRole"})
	c.add("v1", "Pod", "loose", "", nil, map[string]any{"kind": "Pod"})
	inv := c.Inventory()
	ns := inv["namespace"].(map[string]any)
	if _, ok := ns["team-a"].(map[string]any)["rbac.authorization.k8s.io/v1"].(map[string]any)["ClusterRole"].(map[string]any)["odd"]; !ok {
		t.Errorf("ClusterRole with a namespace not under namespace[team-a]: %v", inv)
	}
	if _, ok := inv["cluster"].(map[string]any)["v1"].(map[string]any)["Pod"].(map[string]any)["loose"]; !ok {
		t.Errorf("Pod without a namespace not under cluster: %v", inv)
	}
}
