package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
)

func TestParseModuleVersions(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		version ast.RegoVersion
		errLine int
	}{
		{"spec v0 with in, no import", "package a\nviolation[msg] {\n  input.kind in [\"Pod\"]\n  msg := \"x\"\n}\n", ast.RegoV0, 0},
		{"v1", "package a\nviolation contains msg if {\n  msg := \"x\"\n}\n", ast.RegoV1, 0},
		{"v0 with contains() builtin call", "package a\ndeny[msg] {\n  contains(input.image, \":latest\")\n  msg := \"latest\"\n}\n", ast.RegoV0, 0},
		{"v1 syntax error is reported at its line", "package a\nimport rego.v1\nviolation contains msg if {\n  msg := \n}\n", 0, 5},
		{"v0 syntax error is reported at its line", "package a\n\nviolation[msg] {\n  msg := [\n}\n", 0, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseModule("p.rego", []byte(c.src))
			if c.errLine > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				errs := RegoErrors("p.rego", err)
				if len(errs) == 0 || errs[0].Location.Line != c.errLine {
					t.Fatalf("errors = %+v, want line %d", errs, c.errLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.RegoVersionSpan().Min() != c.version {
				t.Fatalf("version = %v, want %v", m.RegoVersionSpan().Min(), c.version)
			}
		})
	}
	if _, err := ParseModule("bin.rego", []byte("package a\x00")); err == nil || !strings.Contains(err.Error(), "binary") {
		t.Fatalf("binary file: %v", err)
	}
}

func TestStylesAndNames(t *testing.T) {
	fsys := fstest.MapFS{
		"main.rego":     {Data: []byte("package main\nimport rego.v1\ndeny contains \"x\" if input.kind == \"Pod\"\n")},
		"gk.rego":       {Data: []byte("package k8s.required\nviolation[{\"msg\": \"m\"}] { input.review.object.kind == \"Pod\" }\n")},
		"attest.rego":   {Data: []byte("package attest.things\nimport rego.v1\nviolation contains {\"message\": \"m\"} if input.resource.kind == \"Pod\"\n")},
		"helpers.rego":  {Data: []byte("package lib.k8s\nimport rego.v1\nis_pod if input.kind == \"Pod\"\n")},
		"named.rego":    {Data: []byte("# METADATA\n# scope: package\n# title: Named\n# custom:\n#   policy: image-security\n#   severity: high\npackage attest.image_security\nimport rego.v1\nviolation contains \"m\" if true\n")},
		"a_test.rego":   {Data: []byte("package attest.things_test\nimport rego.v1\ntest_x if true\n")},
		"only_tests.rg": {Data: []byte("ignored")},
	}
	set, errs := Load(context.Background(), WithBuiltin(fsys))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := map[string]string{}
	for _, p := range set.Policies {
		got[p.Name] = string(p.Style)
	}
	want := map[string]string{
		"main":           "conftest",
		"k8s-required":   "gatekeeper",
		"attest-things":  "attest",
		"image-security": "attest",
	}
	if len(got) != len(want) {
		t.Fatalf("policies = %v, want %v (helper-only packages are not policies)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: style %q, want %q", k, got[k], v)
		}
	}
	if len(set.Tests) != 1 || len(set.Modules) != 5 {
		t.Errorf("tests %d, modules %d", len(set.Tests), len(set.Modules))
	}
	for _, p := range set.Policies {
		if p.Name == "image-security" && (p.Title != "Named" || p.MetaSeverity != finding.SeverityHigh) {
			t.Errorf("package metadata not read: %+v", p)
		}
	}
}

func TestConfigure(t *testing.T) {
	fsys := fstest.MapFS{"a.rego": {Data: []byte("package a\nimport rego.v1\nviolation contains \"m\" if true\n")}}
	set, _ := Load(context.Background(), WithBuiltin(fsys))
	off := false
	if !set.Configure("a", Settings{Enabled: &off, Enforcement: finding.EnforcementWarn}) {
		t.Fatal("no match by name")
	}
	if len(set.Enabled()) != 0 || set.Policies[0].Enforcement != finding.EnforcementWarn {
		t.Fatalf("settings not applied: %+v", set.Policies[0])
	}
	if set.Configure("nope", Settings{}) {
		t.Fatal("matched an unknown policy")
	}
}

func TestLoadFoldersBundlesAndErrors(t *testing.T) {
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
	write("policies/ok.rego", "package ok\nimport rego.v1\nviolation contains \"m\" if true\n")
	write("policies/bad.rego", "package bad\nimport rego.v1\nviolation contains msg if {\n")
	write("policies/.hidden/skip.rego", "package hidden\n")

	archive := func(files map[string]string) string {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for name, body := range files {
			_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
			_, _ = tw.Write([]byte(body))
		}
		tw.Close()
		gz.Close()
		return buf.String()
	}
	write("bundle.tar.gz", archive(map[string]string{
		"/.manifest":         `{"revision": "r1", "roots": ["bundled"]}`,
		"/bundled/rule.rego": "package bundled\nimport rego.v1\nviolation contains \"b\" if true\n",
		"/bundled/data.json": `{"allowed": true}`,
	}))
	// An archive under a name that does not say so: still a bundle (it
	// once loaded nothing, silently).
	write("other/policy.bundle", archive(map[string]string{
		"/bundled/rule.rego": "package bundled\nimport rego.v1\nviolation contains \"b\" if true\n",
	}))
	// Gatekeeper objects named as a source are not archives (the
	// gatekeeper package reads them).
	write("gk/templates.yaml", "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\n")
	// A folder with a .manifest is a bundle folder: its data files load.
	write("bdir/.manifest", `{"revision": "d", "roots": ["dirdata"]}`)
	write("bdir/dirdata/data.json", `{"on": true}`)
	write("bdir/dirdata/p.rego", "package dirdata\nimport rego.v1\nviolation contains \"d\" if data.dirdata.on\n")
	// Two bundles may not both set one value of data.
	write("clash.tar.gz", archive(map[string]string{"/bundled/data.json": `{"allowed": false}`}))

	set, errs := Load(context.Background(),
		WithPaths(filepath.Join(dir, "policies"), filepath.Join(dir, "bundle.tar.gz"), filepath.Join(dir, "missing"),
			filepath.Join(dir, "other", "policy.bundle"), filepath.Join(dir, "clash.tar.gz"),
			filepath.Join(dir, "gk", "templates.yaml"), filepath.Join(dir, "bdir"), filepath.Join(dir, "bundle.tar.gz")),
		WithInline("custom-security", "package custom.security\nviolation[{\"violated\": true, \"message\": msg}] { msg := \"inline\" }\n"))
	names := map[string]bool{}
	for _, p := range set.Policies {
		names[p.Name] = true
	}
	for _, n := range []string{"ok", "bundled", "custom-security"} {
		if !names[n] {
			t.Errorf("policy %s not loaded: %v", n, names)
		}
	}
	if names["hidden"] {
		t.Error("hidden directory was loaded")
	}
	var badLine, missing bool
	for _, e := range errs {
		if strings.HasSuffix(e.Location.File, "bad.rego") && e.Location.Line > 0 {
			badLine = true
		}
		if strings.HasSuffix(e.Location.File, "missing") {
			missing = true
		}
	}
	if !badLine || !missing {
		t.Errorf("errors = %+v", errs)
	}
	if got, _ := set.Data["bundled"].(map[string]any); got == nil || got["allowed"] != true {
		t.Errorf("the bundle's data file: set.Data = %v", set.Data)
	}
	if got, _ := set.Data["dirdata"].(map[string]any); got == nil || got["on"] != true {
		t.Errorf("the bundle folder's data file: set.Data = %v", set.Data)
	}
	for _, e := range errs {
		if strings.Contains(e.Location.File, "templates.yaml") || strings.HasSuffix(e.Location.File, "bundle.tar.gz") {
			t.Errorf("a Gatekeeper file read as a bundle: %v", e)
		}
	}
	var clash bool
	for _, e := range errs {
		clash = clash || strings.HasSuffix(e.Location.File, "clash.tar.gz") && strings.Contains(e.Message, "data.bundled.allowed is given by another bundle too")
	}
	if !clash {
		t.Errorf("two bundles setting data.bundled.allowed: errors %+v", errs)
	}
	var fromOther bool
	for _, m := range set.Modules {
		fromOther = fromOther || strings.HasSuffix(m.Path, "policy.bundle#bundled/rule.rego")
	}
	if !fromOther {
		t.Errorf("the archive named policy.bundle was not read as a bundle")
	}
	if len(set.Roots) != 1 {
		t.Errorf("roots = %v", set.Roots)
	}
}

func TestCommentAboveGivesTitle(t *testing.T) {
	fsys := fstest.MapFS{"s.rego": {Data: []byte("package attest.security\n\n# Deny privileged containers\nviolation[{\"violated\": true, \"message\": \"m\", \"severity\": \"critical\"}] {\n  true\n}\n")}}
	set, _ := Load(context.Background(), WithBuiltin(fsys))
	r := set.Policies[0].Rules[0]
	if r.ID != "attest-security/deny-privileged-containers" || r.Title != "Deny privileged containers" {
		t.Fatalf("rule = %s %q", r.ID, r.Title)
	}
}
