package gatekeeper

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/continuums/attest/internal/manifest"
)

// FuzzParse: templates, constraints and suites never panic the parsers.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("kind: Suite\ntests:\n- template: t\n  cases: [{object: o, assertions: [{violations: 2}]}]\n"))
	f.Add([]byte("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: X\nmetadata: {name: a}\nspec: {match: {labelSelector: {matchExpressions: [{key: a, operator: In}]}}}\n"))
	f.Add([]byte("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: X\nmetadata: {name: a}\nspec: {match: {namespaceSelector: {matchLabels: {a: b}}, name: \"x-*\"}, parameters: {<<: {a: 1}}}\n---\napiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: x-, namespace: n, labels: {a: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := Parse("f.yaml", data)
		for _, tpl := range objs.Templates {
			_, _ = compileTemplate(tpl)
		}
		for _, c := range objs.Constraints {
			_ = ValidateConstraint(&Template{Schema: map[string]any{"type": "object"}}, c)
			_ = ValidateConstraint(&Template{LegacySchema: true}, c)
		}
		// Matching never panics on what the manifest reader makes of it.
		for _, r := range manifest.NewLoader().Parse("f.yaml", data).Resources {
			o := objectOf(r)
			old, _ := objectOfValue(r.Value)
			for _, c := range objs.Constraints {
				for _, ns := range []*Namespace{nil, {}, {Name: "x"}} {
					_, _ = c.Match.Matches(o, ns)
					_, _ = c.Match.Matches(old, ns)
				}
			}
		}
		_, _ = ParseSuite("f.yaml", data)
	})
}
