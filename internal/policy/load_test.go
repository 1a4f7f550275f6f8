package policy

import (
	"context"
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
	for _, tc := range []struct {
		name, src string
		want      Style
	}{
		{"attest", "package p\n\ndeny contains \"x\" if input.resource.kind == \"Pod\"\n", StyleAttest},
		{"attest with parameters", "package p\n\ndeny contains \"x\" if input.resource.spec.replicas < input.parameters.min\n", StyleAttest},
		{"attest reading context", "package p\n\ndeny contains \"x\" if input.context.mode == \"cli\"\n", StyleAttest},
		{"gatekeeper", "package p\n\nviolation contains {\"msg\": \"x\"} if input.review.object.kind == \"Pod\"\n", StyleGatekeeper},
		{"gatekeeper with parameters", "package p\n\nviolation contains {\"msg\": m} if {\n\tinput.review.object.kind == \"Pod\"\n\tm := input.parameters.message\n}\n", StyleGatekeeper},
		// Gatekeeper style is what builds input.review; the rest of the
		// input is the same as attest's.
		{"review and resource: gatekeeper", "package p\n\ndeny contains \"x\" if {\n\tinput.review.object\n\tinput.resource\n}\n", StyleGatekeeper},
		{"review and context: gatekeeper", "package p\n\ndeny contains \"x\" if {\n\tinput.review.object.kind == \"Pod\"\n\tinput.context.mode == \"cli\"\n}\n", StyleGatekeeper},
		{"manifest fields: conftest", "package p\n\ndeny contains \"x\" if input.kind == \"Pod\"\n", StyleConftest},
		{"manifest and attest: attest", "package p\n\ndeny contains \"x\" if {\n\tinput.kind\n\tinput.resource\n}\n", StyleAttest},
		{"package main", "package main\n\ndeny contains \"x\" if input.resource\n", StyleConftest},
		{"whole input only", "package p\n\ndeny contains \"x\" if walk(input, [_, \"latest\"])\n", StyleAttest},
		{"manifest field and a helper package: attest", "package p\n\nimport data.attest.lib\n\ndeny contains \"x\" if {\n\tsome c in lib.containers\n\tinput.kind == \"Pod\"\n}\n", StyleAttest},
		{"manifest field through data: attest", "package p\n\ndeny contains \"x\" if {\n\tdata.helpers.ok\n\tinput.spec\n}\n", StyleAttest},
		{"not a manifest field: attest", "package p\n\ndeny contains \"x\" if input.dry_run\n", StyleAttest},
		{"own package through data: conftest", "package p\n\nbad if input.kind == \"Pod\"\n\ndeny contains \"x\" if data.p.bad\n", StyleConftest},
		{"dynamic key", "package p\n\ndeny contains \"x\" if {\n\tsome k\n\tinput[k] == 1\n}\n", StyleAttest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, errs := Load(context.Background(), WithInline("p.rego", tc.src))
			if len(errs) != 0 || len(set.Policies) != 1 {
				t.Fatalf("%d policies, errors %v", len(set.Policies), errs)
			}
			if got := set.Policies[0].Style; got != tc.want {
				t.Errorf("style %s, want %s", got, tc.want)
			}
		})
	}
}
