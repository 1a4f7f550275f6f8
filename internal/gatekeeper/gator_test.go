package gatekeeper

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/finding"
)

// The testdata below pins Gatekeeper's semantics as gator v3.23.1 shows
// them. testdata/suites/*/suite.yaml are gator verify suites whose every
// assertion is gator's answer; testdata/gatortest/*/ are gator test inputs
// with gator's violations in expected.txt ("kind namespace name constraint
// action message", the templates and constraints themselves left out: gator
// reviews them too, attest does not). When .bin/gator is there (bench/
// gatekeeper.sh installs it), the tests also check that gator still gives
// those answers.

// gatorBin is gator beside the repository, or "".
func gatorBin(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../.bin/gator")
	if err != nil {
		return ""
	}
	if _, err := os.Stat(p); err != nil || testing.Short() {
		return ""
	}
	return p
}

func dirs(t *testing.T, glob string) []string {
	t.Helper()
	out, err := filepath.Glob(glob)
	if err != nil || len(out) == 0 {
		t.Fatalf("no testdata at %s", glob)
	}
	return out
}

// TestSuitesAsGator: attest verify passes every case of the suites.
func TestSuitesAsGator(t *testing.T) {
	for _, s := range dirs(t, "testdata/suites/*/suite.yaml") {
		t.Run(filepath.Base(filepath.Dir(s)), func(t *testing.T) {
			res, err := RunSuiteFile(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					t.Errorf("%s/%s: %v", r.Test, r.Case, r.Err)
				}
			}
			if g := gatorBin(t); g != "" {
				out, err := exec.Command(g, "verify", s).CombinedOutput()
				if err != nil {
					t.Errorf("gator verify %s no longer passes: %v\n%s", s, err, out)
				}
			}
		})
	}
}

// TestGatorTestAsGator: attest gatekeeper test gives gator test's
// violations.
func TestGatorTestAsGator(t *testing.T) {
	for _, d := range dirs(t, "testdata/gatortest/*") {
		t.Run(filepath.Base(d), func(t *testing.T) {
			want := readLines(t, filepath.Join(d, "expected.txt"))
			res, err := Test(context.Background(), []string{d}, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			actions := map[finding.Enforcement]string{finding.EnforcementStrict: "deny", finding.EnforcementWarn: "warn", finding.EnforcementDryrun: "dryrun"}
			var got []string
			for _, f := range res.Findings {
				got = append(got, strings.Join([]string{f.Resource.Kind, f.Resource.Namespace, f.Resource.Name, f.Constraint, actions[f.Enforcement], f.Message}, " "))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("attest:\n%s\ngator:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if g := gatorBin(t); g != "" {
				if fromGator := runGatorTest(t, g, d); !slices.Equal(fromGator, want) {
					t.Errorf("gator test now gives:\n%s", strings.Join(fromGator, "\n"))
				}
			}
		})
	}
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func runGatorTest(t *testing.T, g, dir string) []string {
	t.Helper()
	cmd := exec.Command(g, "test", "-f", dir, "-o", "json")
	out, _ := cmd.Output() // exit 1 on violations
	var results []struct {
		Msg               string `json:"msg"`
		EnforcementAction string `json:"enforcementAction"`
		Constraint        struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"constraint"`
		Object struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct{ Name, Namespace string }
		} `json:"violatingObject"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("gator test -f %s: %v\n%s", dir, err, out)
	}
	var lines []string
	for _, r := range results {
		if r.Object.Kind == "ConstraintTemplate" || IsConstraintAPIVersion(r.Object.APIVersion) {
			continue
		}
		lines = append(lines, strings.Join([]string{r.Object.Kind, r.Object.Metadata.Namespace, r.Object.Metadata.Name, r.Constraint.Metadata.Name, r.EnforcementAction, r.Msg}, " "))
	}
	slices.Sort(lines)
	return lines
}
