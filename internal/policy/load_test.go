package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A folder named twice, once relative and once absolute (the project's
// policies/ and --policy), is read once: a file in it that cannot be read
// is one error, and its good files one module each.
func TestFolderNamedTwice(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("pol", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("pol", "ok.rego"), []byte("package ok\n\ndeny contains \"x\" if false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join("pol", "dangling.rego")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	set, errs := Load(context.Background(), WithPaths("pol", filepath.Join(dir, "pol"), "pol/"))
	if len(errs) != 1 || !strings.Contains(errs[0].Location.File, "dangling.rego") {
		t.Errorf("errors %v, want one for dangling.rego", errs)
	}
	if len(set.Modules) != 1 {
		t.Errorf("%d modules, want 1", len(set.Modules))
	}
}

// The input a package gets follows from what it reads.
func TestGuessStyle(t *testing.T) {
	// Helper packages some cases use: no result rules, so not policies.
	const (
		attestLib     = "package lib.attesty\n\ncontainers contains c if some c in input.resource.spec.containers\n"
		conftestLib   = "package lib.k8s\n\nis_pod if input.kind == \"Pod\"\n"
		gatekeeperLib = "package lib.gk\n\nobj := input.review.object\n"
	)
	for _, tc := range []struct {
		name, src string
		helpers   []string
		want      Style
	}{
		{"attest", "package p\n\ndeny contains \"x\" if input.resource.kind == \"Pod\"\n", nil, StyleAttest},
		{"attest with parameters", "package p\n\ndeny contains \"x\" if input.resource.spec.replicas < input.parameters.min\n", nil, StyleAttest},
		{"attest reading context", "package p\n\ndeny contains \"x\" if input.context.mode == \"cli\"\n", nil, StyleAttest},
		{"gatekeeper", "package p\n\nviolation contains {\"msg\": \"x\"} if input.review.object.kind == \"Pod\"\n", nil, StyleGatekeeper},
		{"gatekeeper with parameters", "package p\n\nviolation contains {\"msg\": m} if {\n\tinput.review.object.kind == \"Pod\"\n\tm := input.parameters.message\n}\n", nil, StyleGatekeeper},
		// Gatekeeper style is what builds input.review; the rest of the
		// input is the same as attest's.
		{"review and resource: gatekeeper", "package p\n\ndeny contains \"x\" if {\n\tinput.review.object\n\tinput.resource\n}\n", nil, StyleGatekeeper},
		{"review and context: gatekeeper", "package p\n\ndeny contains \"x\" if {\n\tinput.review.object.kind == \"Pod\"\n\tinput.context.mode == \"cli\"\n}\n", nil, StyleGatekeeper},
		{"manifest fields: conftest", "package p\n\ndeny contains \"x\" if input.kind == \"Pod\"\n", nil, StyleConftest},
		{"manifest and attest: attest", "package p\n\ndeny contains \"x\" if {\n\tinput.kind\n\tinput.resource\n}\n", nil, StyleAttest},
		{"package main", "package main\n\ndeny contains \"x\" if input.resource\n", nil, StyleConftest},
		{"whole input only", "package p\n\ndeny contains \"x\" if walk(input, [_, \"latest\"])\n", nil, StyleAttest},
		{"not a manifest field: attest", "package p\n\ndeny contains \"x\" if input.dry_run\n", nil, StyleAttest},
		{"own package through data: conftest", "package p\n\nbad if input.kind == \"Pod\"\n\ndeny contains \"x\" if data.p.bad\n", nil, StyleConftest},
		// What the packages a package uses read counts as its own.
		{"manifest field and an attest helper: attest", "package p\n\nimport data.lib.attesty\n\ndeny contains \"x\" if {\n\tsome c in attesty.containers\n\tinput.kind == \"Pod\"\n}\n", []string{attestLib}, StyleAttest},
		{"a conftest helper: conftest", "package p\n\nimport data.lib.k8s\n\ndeny contains \"x\" if k8s.is_pod\n", []string{conftestLib}, StyleConftest},
		{"a Gatekeeper helper: gatekeeper", "package p\n\nviolation contains {\"msg\": \"x\"} if data.lib.gk.obj.kind == \"Pod\"\n", []string{gatekeeperLib}, StyleGatekeeper},
		{"a namespace of helpers: attest", "package p\n\ndeny contains \"x\" if {\n\tdata.lib[_]\n\tinput.kind\n}\n", []string{attestLib, conftestLib}, StyleAttest},
		{"data that is no package: conftest", "package p\n\ndeny contains \"x\" if {\n\tnot input.metadata.labels.team in data.teams\n}\n", nil, StyleConftest},
		{"an import of a namespace, one helper used: conftest", "package p\n\nimport data.lib\n\ndeny contains \"x\" if lib.k8s.is_pod\n", []string{attestLib, conftestLib}, StyleConftest},
		{"a namespace that is also a package: attest", "package p\n\ndeny contains \"x\" if {\n\tdata.lib[_]\n\tinput.kind\n}\n", []string{"package lib\n\nx := 1\n", attestLib}, StyleAttest},
		{"dynamic key", "package p\n\ndeny contains \"x\" if {\n\tsome k\n\tinput[k] == 1\n}\n", nil, StyleAttest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithInline("p.rego", tc.src)}
			for i, h := range tc.helpers {
				opts = append(opts, WithInline(fmt.Sprintf("helper%d.rego", i), h))
			}
			set, errs := Load(context.Background(), opts...)
			if len(errs) != 0 || len(set.Policies) != 1 {
				t.Fatalf("%d policies, errors %v", len(set.Policies), errs)
			}
			if got := set.Policies[0].Style; got != tc.want {
				t.Errorf("style %s, want %s", got, tc.want)
			}
		})
	}
}
