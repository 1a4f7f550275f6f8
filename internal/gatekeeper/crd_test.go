package gatekeeper

import (
	"strings"
	"testing"
)

// templateYAML is a template of kind K8sP with the given apiVersion and
// validation block (indented under spec.crd.spec).
func templateYAML(apiVersion, validation string) string {
	return `apiVersion: ` + apiVersion + `
kind: ConstraintTemplate
metadata:
  name: k8sp
spec:
  crd:
    spec:
      names:
        kind: K8sP
` + validation + `  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sp
        violation[{"msg": "x"}] { false }
`
}

const paramsValidation = `      validation:
        openAPIV3Schema:
          type: object
          properties:
            max: {type: integer}
            nested:
              type: object
              properties:
                a: {type: string}
            labels:
              type: object
              additionalProperties: {type: string}
            free:
              type: object
              x-kubernetes-preserve-unknown-fields: true
`

// TestConstraintSchema: each case is what gator v3.23.1 does when it adds
// the constraint (checked with gator test): accepted, or rejected by the
// schema ("schema validation failed"), for unknown fields ("invalid
// Constraint: unknown fields"), or before either ("invalid Constraint").
// Errors name the file, the line and the field.
func TestConstraintSchema(t *testing.T) {
	v1 := templateYAML("templates.gatekeeper.sh/v1", paramsValidation)
	v1beta1 := templateYAML("templates.gatekeeper.sh/v1beta1", paramsValidation)
	v1NoSchema := templateYAML("templates.gatekeeper.sh/v1", "")
	v1beta1NoSchema := templateYAML("templates.gatekeeper.sh/v1beta1", "")
	v1Legacy := templateYAML("templates.gatekeeper.sh/v1", strings.Replace(paramsValidation, "      validation:\n", "      validation:\n        legacySchema: true\n", 1))
	v1beta1Strict := templateYAML("templates.gatekeeper.sh/v1beta1", strings.Replace(paramsValidation, "      validation:\n", "      validation:\n        legacySchema: false\n", 1))
	v1Preserve := templateYAML("templates.gatekeeper.sh/v1", strings.Replace(paramsValidation, "          type: object\n", "          type: object\n          x-kubernetes-preserve-unknown-fields: true\n", 1))
	constraint := func(spec string) string {
		return "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sP\nmetadata:\n  name: c\nspec:\n" + spec
	}
	const (
		ok      = ""
		schema  = "schema"
		unknown = "unknown"
		invalid = "invalid"
	)
	tests := []struct {
		name       string
		template   string
		constraint string
		want       string // ok, or the category
		errs       []string
	}{
		{"known parameters", v1, constraint("  parameters:\n    max: 1\n    labels: {a: b}\n    free: {x: {y: 1}}\n"), ok, nil},
		{"unknown parameter, v1", v1, constraint("  parameters:\n    max: 1\n    extra: 2\n"), unknown,
			[]string{"c.yaml:8:5: K8sP c: spec.parameters.extra: unknown field; Gatekeeper rejects"}},
		{"unknown nested parameter, v1", v1, constraint("  parameters:\n    nested: {a: x, b: y}\n"), unknown,
			[]string{"c.yaml:7:20: K8sP c: spec.parameters.nested.b: unknown field;"}},
		{"unknown parameter, v1beta1 (legacySchema)", v1beta1, constraint("  parameters:\n    max: 1\n    extra: 2\n    nested: {b: y}\n"), ok, nil},
		{"unknown parameter, legacySchema: true in v1", v1Legacy, constraint("  parameters:\n    extra: 2\n"), ok, nil},
		{"unknown parameter, legacySchema: false in v1beta1", v1beta1Strict, constraint("  parameters:\n    extra: 2\n"), unknown, []string{"spec.parameters.extra: unknown field"}},
		{"preserve-unknown-fields at the root", v1Preserve, constraint("  parameters:\n    extra: 2\n"), ok, nil},
		{"preserve-unknown-fields is not inherited", v1Preserve, constraint("  parameters:\n    nested: {b: y}\n"), unknown, []string{"spec.parameters.nested.b: unknown field"}},
		{"declared fields are still checked under preserve", v1Preserve, constraint("  parameters:\n    max: three\n"), schema,
			[]string{"c.yaml:7:10: K8sP c: spec.parameters.max: must be an integer, not string"}},
		{"wrong type, v1beta1", v1beta1, constraint("  parameters:\n    nested: {a: 1}\n"), schema, []string{"spec.parameters.nested.a: must be a string, not integer"}},
		{"parameters, v1 template without a schema", v1NoSchema, constraint("  parameters:\n    max: 1\n"), unknown,
			[]string{"c.yaml:6:3: K8sP c: spec.parameters: unknown field: ConstraintTemplate k8sp declares no parameters"}},
		{"null parameters, v1 template without a schema", v1NoSchema, constraint("  parameters:\n"), unknown, []string{"spec.parameters: unknown field"}},
		{"any parameters, v1beta1 template without a schema", v1beta1NoSchema, constraint("  parameters:\n    whatever: [1]\n"), ok, nil},
		{"null parameters with a schema", v1, constraint("  parameters:\n"), schema, []string{"spec.parameters: must be an object, not null"}},
		{"parameters not an object", v1, constraint("  parameters: [1, 2]\n"), schema, []string{"spec.parameters: must be an object, not array"}},
		{"match typo", v1, constraint("  match:\n    excludedNamespace: [kube-system]\n"), unknown,
			[]string{"c.yaml:7:5: K8sP c: spec.match.excludedNamespace: unknown field (did you mean excludedNamespaces?)"}},
		{"kinds typo", v1, constraint("  match:\n    kinds:\n      - apiGroups: [\"\"]\n        kind: [Pod]\n"), unknown,
			[]string{"c.yaml:9:9: K8sP c: spec.match.kinds[0].kind: unknown field (did you mean kinds?)"}},
		{"selector typo", v1, constraint("  match:\n    labelSelector:\n      matchLabel: {a: b}\n"), unknown, []string{"spec.match.labelSelector.matchLabel: unknown field (did you mean matchLabels?)"}},
		{"unknown spec field", v1, constraint("  enforcement: deny\n"), unknown, []string{"c.yaml:6:3: K8sP c: spec.enforcement: unknown field"}},
		{"unknown top-level field", v1, constraint("  match: {}\nbogus: 1\nstatus: {anything: 1}\n"), unknown, []string{"c.yaml:7:1: K8sP c: bogus: unknown field"}},
		{"metadata is Kubernetes'", v1, strings.Replace(constraint("  match: {}\n"), "  name: c\n", "  name: c\n  labels: {a: b}\n  foo: 1\n", 1), ok, nil},
		{"merge key", v1, constraint("  parameters:\n    <<: {max: 1, extra: 2}\n"), unknown, []string{"spec.parameters.extra: unknown field"}},
		{"namespaces must be a list", v1, constraint("  match:\n    namespaces: prod\n"), schema, []string{"spec.match.namespaces: must be an array, not string"}},
		{"namespace pattern", v1, constraint("  match:\n    namespaces: [Prod]\n"), schema, []string{`spec.match.namespaces[0]: must match the pattern`}},
		{"source enum", v1, constraint("  match:\n    source: Foo\n"), schema, []string{`spec.match.source: must be one of "All", "Generated", "Original"`}},
		{"source Generated", v1, constraint("  match:\n    source: Generated\n"), ok, nil},
		{"scope is any string", v1, constraint("  match:\n    scope: cluster\n"), ok, nil},
		{"matchExpressions need key and operator", v1, constraint("  match:\n    labelSelector:\n      matchExpressions: [{operator: Exists}]\n"), schema, []string{"spec.match.labelSelector.matchExpressions[0]: key is required"}},
		{"name too long", v1, strings.Replace(constraint("  match: {}\n"), "name: c\n", "name: "+strings.Repeat("a", 64)+"\n", 1), schema, []string{"metadata.name: must be at most 63 characters long"}},
		{"name not DNS-1123", v1, strings.Replace(constraint("  match: {}\n"), "name: c\n", "name: Bad_Name\n", 1), invalid, []string{"c.yaml:4:9: K8sP Bad_Name: metadata.name must be a lowercase RFC 1123 subdomain"}},
		{"version not served", v1, strings.Replace(constraint("  match: {}\n"), "/v1beta1", "/v1", 1), invalid, []string{`c.yaml:1:13: K8sP c: version "v1" is not served`}},
		{"schema before unknown fields", v1, constraint("  parameters:\n    max: x\n    extra: 1\n"), schema, []string{"spec.parameters.max: must be an integer", "spec.parameters.extra: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tobjs, errs := Parse("t.yaml", []byte(tt.template))
			if errs != nil || len(tobjs.Templates) != 1 {
				t.Fatalf("template: %v", errs)
			}
			cobjs, errs := Parse("c.yaml", []byte(tt.constraint))
			if errs != nil || len(cobjs.Constraints) != 1 {
				t.Fatalf("constraint: %v", errs)
			}
			p := checkConstraint(tobjs.Templates[0], cobjs.Constraints[0])
			got := ok
			switch {
			case len(p.invalid) > 0:
				got = invalid
			case len(p.schema) > 0:
				got = schema
			case len(p.unknown) > 0:
				got = unknown
			}
			var texts []string
			for _, e := range p.all() {
				texts = append(texts, e.Error())
			}
			all := strings.Join(texts, "\n")
			if got != tt.want {
				t.Fatalf("got %q, want %q:\n%s", got, tt.want, all)
			}
			if p.rejectedBySchema() != (tt.want == schema) {
				t.Errorf("rejectedBySchema: %v", p.rejectedBySchema())
			}
			for _, w := range tt.errs {
				if !strings.Contains(all, w) {
					t.Errorf("want %q in:\n%s", w, all)
				}
			}
			// Build reports the same and leaves the constraint out.
			set, berrs := Build(Objects{Templates: tobjs.Templates, Constraints: cobjs.Constraints})
			if (len(berrs) == 0) != (tt.want == ok) || (len(set.constraints["K8sP"]) == 1) != (tt.want == ok) {
				t.Errorf("Build: errors %v, constraints %d", berrs, len(set.constraints["K8sP"]))
			}
		})
	}
}
