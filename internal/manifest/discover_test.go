package manifest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"k8s/app.yaml", "k8s/b/svc.yml", "k8s/b/c.JSON", "k8s/readme.md", "k8s/.hidden.yaml",
		".git/config.yaml", "k8s/.cache/x.yaml", "vendor/v.yaml", "node_modules/n.yaml",
		"policies/p.yaml", "other/policies/keep.yaml", "notes.txt",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("a: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "k8s"), filepath.Join(root, "other/loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "k8s/app.yaml"), filepath.Join(root, "other/link.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	l := NewLoader(WithSkipDirs("vendor", "node_modules"), WithSkipPaths(filepath.Join(root, "policies")))
	files, errs := l.Discover(context.Background(), []string{".", "notes.txt", "k8s/app.yaml", "-", "missing.yaml", "-", "./k8s"})
	want := []string{
		"k8s/app.yaml", "k8s/b/c.JSON", "k8s/b/svc.yml",
		"other/link.yaml", "other/policies/keep.yaml",
		"notes.txt", "-",
	}
	if !slices.Equal(files, want) {
		t.Errorf("files\n got %q\nwant %q", files, want)
	}
	if len(errs) != 1 || errs[0].Location.File != "missing.yaml" || errs[0].Message != "no such file or directory" {
		t.Errorf("errors = %v", errs)
	}

	// A skipped or hidden directory named explicitly is walked.
	files, errs = l.Discover(context.Background(), []string{"vendor", ".git"})
	if want := []string{"vendor/v.yaml", ".git/config.yaml"}; !slices.Equal(files, want) || errs != nil {
		t.Errorf("explicit dirs: %q %v", files, errs)
	}
}

func TestDiscoverUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads directories whatever their permissions")
	}
	root := t.TempDir()
	locked := filepath.Join(root, "locked")
	if err := os.Mkdir(locked, 0o000); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)
	if err := os.WriteFile(filepath.Join(root, "ok.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files, errs := NewLoader().Discover(context.Background(), []string{root})
	if len(files) != 1 || len(errs) != 1 || errs[0].Location.File != locked {
		t.Errorf("files %v errors %v", files, errs)
	}
}
