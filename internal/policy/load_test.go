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
		t.Fatal(err)
	}
	set, errs := Load(context.Background(), WithPaths("pol", filepath.Join(dir, "pol"), "pol/"))
	if len(errs) != 1 || !strings.Contains(errs[0].Location.File, "dangling.rego") {
		t.Errorf("errors %v, want one for dangling.rego", errs)
	}
	if len(set.Modules) != 1 {
		t.Errorf("%d modules, want 1", len(set.Modules))
	}
}
