// Package deploy holds attest's Kubernetes manifests and Prometheus rules;
// its tests check them with the real promtool and with attest itself.
package deploy

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/project"
)

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install the Debian package prometheus to check the alert rules")
	}
	return p
}

func TestAlertRules(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "attest-alerts.yaml"},
		{"test", "rules", "attest-alerts_test.yaml"},
	} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The spec's alert, verbatim: users copy it, and it reads our series.
func TestSpecAlertVerbatim(t *testing.T) {
	b, err := exec.Command("cat", filepath.Join("prometheus", "attest-alerts.yaml")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := `  - alert: CriticalPolicyViolation
    expr: increase(attest_policy_violation_severity{severity="critical"}[5m]) > 0
    for: 0m
    labels:
      severity: critical
    annotations:
      summary: "Critical policy violation detected"
      description: "{{ $labels.policy }} policy has {{ $value }} critical violations"
`
	if !bytes.Contains(b, []byte(want)) {
		t.Error("the spec's CriticalPolicyViolation rule is not in attest-alerts.yaml as written")
	}
}

// Our own manifests pass our own built-in library: `attest policy check
// deploy/` exits 0.
func TestDeployPassesOwnPolicies(t *testing.T) {
	dir := t.TempDir()
	p, err := project.Open(context.Background(), project.Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml"), Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	files, derrs := p.Loader.Discover(context.Background(), []string{"."})
	if len(derrs) > 0 {
		t.Fatal(derrs)
	}
	var manifests []string
	for _, f := range files {
		if !strings.HasPrefix(f, "prometheus") {
			manifests = append(manifests, f)
		}
	}
	res := check.Run(context.Background(), p.Loader, p.Engine, manifests, check.WithExempter(p.Exempter))
	res.Errors = append(p.Errors, res.Errors...)
	code := decision.Decide(res, decision.Options{Threshold: p.Threshold, FailOnViolation: true})
	for _, f := range res.Findings {
		t.Logf("%s: [%s] %s (%s)", f.Location, f.Rule, f.Message, f.Enforcement)
	}
	for _, e := range res.Errors {
		t.Log(e)
	}
	if code != decision.ExitOK || res.Resources < 7 {
		t.Fatalf("attest policy check deploy/: exit %d over %d resources", code, res.Resources)
	}
}
