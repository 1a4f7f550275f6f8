package library_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/continuums/attest/library"
)

var update = flag.Bool("update", false, "rewrite docs/policies.md")

func TestDocsUpToDate(t *testing.T) {
	got, err := library.RenderDocs(library.FS())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "policies.md")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./library -run TestDocsUpToDate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/policies.md is stale: run go test ./library -run TestDocsUpToDate -update")
	}
}
