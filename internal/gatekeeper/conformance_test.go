package gatekeeper

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// conformanceDir is the Gatekeeper library subset shared beside the
// repository; a fresh clone has none and the test skips.
const conformanceDir = "../../../shared/conformance/gatekeeper-library"

func TestConformance(t *testing.T) {
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Skipf("no conformance suites at %s", conformanceDir)
	}
	var suites []string
	_ = filepath.WalkDir(conformanceDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "suite.yaml" {
			suites = append(suites, p)
		}
		return nil
	})
	if len(suites) == 0 {
		t.Fatal("no suite.yaml found")
	}
	passed := 0
	for _, s := range suites {
		res, err := RunSuiteFile(context.Background(), s)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, r := range res {
			if r.Err != nil {
				t.Errorf("%s %s/%s: %v", filepath.Dir(s), r.Test, r.Case, r.Err)
			} else if !r.Skipped {
				passed++
			}
		}
	}
	t.Logf("%d suites, %d cases passed", len(suites), passed)
}
