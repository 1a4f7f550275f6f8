package policylint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policies/ok.rego", "package company.ok\nimport rego.v1\nviolation contains {\"message\": \"m\"} if input.resource.kind == \"Pod\"\n")
	// Extends the built-in library's package and calls its helper: valid.
	write("policies/extends.rego", "package attest.security\nimport rego.v1\nviolation contains {\"message\": c.name} if {\n\tsome c in get_containers\n\tc.name == \"x\"\n}\n")
	write("policies/syntax.rego", "package company.syntax\nimport rego.v1\nviolation contains msg if {\n")
	write("policies/compile.rego", "package company.compile\nimport rego.v1\n\nviolation contains msg if not_a_function(input)\n")
	write("policies/meta.rego", "package company.meta\n\n# METADATA\n# custom:\n#   severity: urgent\nviolation[{\"message\": \"m\"}] { true }\n")
	write(".attest/policies.yaml", "policies:\n  - name: company-ok\n    enforcment: warn\n")
	write(".attest/governance.yaml", "governance:\n  exemption_approval:\n    max_duration: forever\n")
	write(".attest/exemptions.yaml", "exemptions:\n  - policy_name: company-ok\n    bogus: 1\n")

	res := Paths(context.Background(), []string{dir})
	want := map[string]int{ // file suffix -> line
		"syntax.rego":     4,
		"compile.rego":    4,
		"meta.rego":       3,
		"policies.yaml":   3,
		"governance.yaml": 3,
		"exemptions.yaml": 3,
	}
	for suffix, line := range want {
		found := false
		for _, e := range res.Errors {
			if strings.HasSuffix(e.Location.File, suffix) && e.Location.Line == line {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s at line %d; errors: %+v", suffix, line, res.Errors)
		}
	}
	for _, e := range res.Errors {
		if strings.HasSuffix(e.Location.File, "ok.rego") || strings.HasSuffix(e.Location.File, "extends.rego") {
			t.Errorf("valid file reported: %+v", e)
		}
	}
	if len(res.RegoDirs) == 0 {
		t.Error("Rego directories not returned for the manifest loader to skip")
	}
}

// Rules whose id is only their position get a note each; named ones none.
func TestPositionalIDNotes(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\ndeny contains \"a\" if input.kind == \"Pod\"\n\ndeny contains \"b\" if input.kind == \"Service\"\n\n# METADATA\n# title: Named one\ndeny contains \"c\" if input.kind == \"Job\"\n\n# Jobs need a deadline\nwarn contains \"d\" if input.kind == \"Job\"\n"
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res := Paths(context.Background(), []string{dir})
	var lines []int
	for _, n := range res.Notes {
		if strings.Contains(n.Message, "is its position") {
			lines = append(lines, n.Location.Line)
		}
	}
	if len(lines) != 2 || lines[0] != 3 || lines[1] != 5 {
		t.Fatalf("positional notes at lines %v, want [3 5]; notes: %+v", lines, res.Notes)
	}
}
