package gatekeeper

import (
	"os"
	"path/filepath"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := Parse("f.yaml", data)
		for _, tpl := range objs.Templates {
			_, _ = compileTemplate(tpl)
		}
		for _, c := range objs.Constraints {
			_ = ValidateConstraint(&Template{Schema: map[string]any{"type": "object"}}, c)
		}
		_, _ = ParseSuite("f.yaml", data)
	})
}
