package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGatekeeper = flag.Bool("update-gatekeeper", false, "rewrite the gatekeeper generate golden files")

// runGK executes `attest gatekeeper ARGS` through the command itself (the
// integrator registers it in root.go).
func runGK(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := Streams{In: &bytes.Buffer{}, Out: &out, Err: &errb}
	c := newGatekeeperCmd(s)
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		if ee, ok := err.(exitError); ok {
			code = ee.code
		} else {
			code = 2
			errb.WriteString(err.Error())
		}
	}
	return code, out.String(), errb.String()
}

// TestGatekeeperGenerateExamples: generate from examples/ matches the golden
// files (go test -run GatekeeperGenerate -update-gatekeeper rewrites them),
// and the output is accepted back by attest's Gatekeeper loader.
func TestGatekeeperGenerateExamples(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runGK(t, "generate", "--project", "../../examples", "--output", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "attest-security: not expressible in Gatekeeper: calls attest.attestation_verified") {
		t.Errorf("want a note on attest-security:\n%s", errs)
	}
	for _, name := range []string{"templates.yaml", "constraints.yaml"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "gatekeeper", name)
		if *updateGatekeeper {
			_ = os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s (run with -update-gatekeeper)", name, golden)
		}
	}
	code, out, errs = runGK(t, "test", "-f", dir, "-f", "../../examples/k8s")
	if code != 1 || errs != "" || !strings.Contains(out, "[deny attest-image-security] Container image 'python:latest' uses the mutable latest tag") {
		t.Fatalf("test: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestGatekeeperVerifyConformance(t *testing.T) {
	dir := "../../../shared/conformance/gatekeeper-library"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no conformance suites")
	}
	// DIR and gator's DIR/... both mean every suite under DIR.
	for _, arg := range []string{dir, dir + "/..."} {
		code, out, errs := runGK(t, "verify", arg)
		if code != 0 || !strings.Contains(out, "20 suites: 101 passed, 0 failed") {
			t.Fatalf("%s: exit %d\n%s\n%s", arg, code, out, errs)
		}
	}
}

func TestGatekeeperVerifyBad(t *testing.T) {
	code, _, errs := runGK(t, "verify", "../gatekeeper/testdata/bad/missing-suite.yaml")
	if code != 1 {
		t.Fatalf("exit %d %s", code, errs)
	}
	code, _, _ = runGK(t, "verify", "no-such-suite.yaml")
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// A bad configuration file is reported, the rest is generated, and the
// exit code says the output is not the whole project.
func TestGatekeeperGenerateBadConfigExits2(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".attest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".attest", "policies.yaml"), []byte("policies:\n  - name: image-security\n    enforcment: strict\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	out := filepath.Join(dir, "gen")
	code, stdout, stderr := runGK(t, "generate", "--project", dir, "--output", out)
	if code != 2 || !strings.Contains(stderr, "policies.yaml:3") {
		t.Fatalf("exit %d, want 2 with the file and line\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"templates.yaml", "constraints.yaml"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
