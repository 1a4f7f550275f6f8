package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/exemption"
)

// govExecute runs the governance constructors under a root of their own
// (root.go registers them in the real binary), mapping errors to exit
// codes as Execute does.
func govExecute(t *testing.T, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	root := &cobra.Command{Use: "attest", SilenceUsage: true, SilenceErrors: true}
	pol := &cobra.Command{Use: "policy"}
	pol.AddCommand(newExemptCmd(s), newExemptionsCmd(s), newOverrideCmd(s), newCheckCmd(s))
	root.AddCommand(pol, newAuditCmd(s))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			errb.WriteString("attest: " + err.Error() + "\n")
			code = 2
		}
	}
	return run{code, out.String(), errb.String()}
}

const governanceYAML = `governance:
  exemption_approval:
    required_approvers: 1
    required_teams: ["security-team"]
    max_duration: "30d"
  emergency_override:
    enabled: true
    required_approvers: 2
    audit_trail: required
  teams:
    security-team: [alice@company.com, bob@company.com]
`

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: legacy-app
  namespace: monitoring
spec:
  containers:
    - name: app
      image: nginx:1.25
      securityContext:
        privileged: true
`

// TestGovernanceCommands: the spec's section 11 commands end to end on a
// SQLite store, and attest policy check honouring the approved exemption.
func TestGovernanceCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	os.MkdirAll(filepath.Join(dir, ".attest"), 0o755)
	os.WriteFile(filepath.Join(dir, ".attest", "governance.yaml"), []byte(governanceYAML), 0o644)
	pod := filepath.Join(dir, "pod.yaml")
	os.WriteFile(pod, []byte(privilegedPod), 0o644)

	// A fresh project: policy check creates no database.
	r := govExecute(t, "policy", "check", pod, "--project", dir, "--format", "json")
	if r.code != 1 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "attest", "attest.db")); !os.IsNotExist(err) {
		t.Fatalf("policy check created the store: %v", err)
	}

	exempt := []string{"policy", "exempt", "--project", dir, "--policy", "attest-security", "--resource", "Pod/monitoring/legacy-app",
		"--reason", "Legacy app migration in progress", "--approver", "security-team@company.com", "--requested-by", "dev@company.com"}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "31d"}, "longer than governance.exemption_approval.max_duration"},
		{[]string{"--duration", "soon"}, `invalid duration "soon"`},
		{[]string{"--duration", "30d", "--policy", "nope"}, `unknown policy "nope"`},
		{[]string{"--duration", "30d", "--resource", "Pod"}, "has 1 parts"},
	} {
		r := govExecute(t, append(append([]string{}, exempt...), bad.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("%v: exit %d, %s; want %q", bad.args, r.code, r.stderr, bad.want)
		}
	}
	r = govExecute(t, append(exempt, "--duration", "30d")...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "exemption-1" {
		t.Fatalf("exempt: exit %d, %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = govExecute(t, "policy", "exemptions", "list", "--project", dir, "--status", "pending")
	if r.code != 0 || !strings.Contains(r.stdout, "exemption-1") || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = govExecute(t, "policy", "exempt", "approve", "exemption-1", "--project", dir, "--approver", "dev@company.com"); r.code != 2 || !strings.Contains(r.stderr, "cannot approve") {
		t.Fatalf("self-approval: %d %s", r.code, r.stderr)
	}
	if r = govExecute(t, "policy", "exempt", "approve", "exemption-9", "--project", dir, "--approver", "alice@company.com"); r.code != 2 || !strings.Contains(r.stderr, "exemption-9: no such exemption") {
		t.Fatalf("unknown id: %d %s", r.code, r.stderr)
	}
	r = govExecute(t, "policy", "exempt", "approve", "exemption-1", "--project", dir, "--approver", "alice@company.com", "--comment", "Approved for migration period")
	if r.code != 0 || !strings.Contains(r.stdout, "exemption-1: approved") {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// policy check honours it, from the default store that now exists.
	r = govExecute(t, "policy", "check", pod, "--project", dir, "--format", "json")
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check json: %v\n%s", err, r.stderr)
	}
	exempted := 0
	for _, f := range rep.Findings {
		if f.Policy == "attest-security" {
			if f.Exemption == nil || f.Exemption.Source != exemption.SourceStore {
				t.Errorf("attest-security finding not exempted by the store: %+v", f)
			}
			exempted++
		}
	}
	if exempted == 0 {
		t.Fatal("no attest-security findings to exempt")
	}

	// Export loads as an exemptions file.
	out := filepath.Join(dir, "exported.yaml")
	if r = govExecute(t, "policy", "exemptions", "export", "--project", dir, "--output", out); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	if list, errs := exemption.LoadFile(out); len(errs) != 0 || len(list) != 1 || list[0].ID != "exemption-1" {
		t.Fatalf("exported file: %+v %v", list, errs)
	}

	// Emergency override, its own two approvals.
	r = govExecute(t, "policy", "override", "--project", dir, "--policy", "attest-deployment", "--resource", "Pod/monitoring/legacy-app",
		"--reason", "incident 42", "--duration", "2h", "--approver", "security-team", "--requested-by", "oncall@company.com")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "exemption-2" {
		t.Fatalf("override: %d %q %s", r.code, r.stdout, r.stderr)
	}
	govExecute(t, "policy", "exempt", "approve", "exemption-2", "--project", dir, "--approver", "alice@company.com")
	if r = govExecute(t, "policy", "exempt", "approve", "exemption-2", "--project", dir, "--approver", "bob@company.com"); !strings.Contains(r.stdout, "approved [EMERGENCY]") {
		t.Fatalf("override approval: %s %s", r.stdout, r.stderr)
	}

	if r = govExecute(t, "policy", "exempt", "revoke", "exemption-1", "--project", dir, "--approver", "bob@company.com", "--comment", "done"); r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	r = govExecute(t, "policy", "check", pod, "--project", dir, "--format", "json")
	rep = jsonReport{}
	json.Unmarshal([]byte(r.stdout), &rep)
	for _, f := range rep.Findings {
		if f.Policy == "attest-security" && f.Exemption != nil {
			t.Fatalf("revoked exemption still applies: %+v", f)
		}
	}

	r = govExecute(t, "audit", "log", "--format", "json")
	var entries []struct {
		Action, Actor, Identity string
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) != 6 {
		t.Fatalf("audit log: %v %d\n%s", err, len(entries), r.stdout)
	}
	if entries[1].Action != "approve" || entries[1].Identity != "self-declared" {
		t.Errorf("approval entry %+v", entries[1])
	}
	if r = govExecute(t, "audit", "log", "--since", "tomorrow"); r.code != 2 {
		t.Errorf("--since tomorrow: exit %d", r.code)
	}
	if r = govExecute(t, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "intact: 6 entries, 2 exemptions") {
		t.Fatalf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// An explicit --store URL is another store.
	other := "sqlite://" + filepath.Join(t.TempDir(), "other.db")
	if r = govExecute(t, "policy", "exemptions", "list", "--store", other, "--format", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("other store: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// A requester writes the reason: a line break, a tab or an escape in it
// cannot forge a row of `exemptions list` or reach the terminal.
func TestExemptionsListShowsHostileReasonAsText(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	os.MkdirAll(filepath.Join(dir, ".attest"), 0o755)
	os.WriteFile(filepath.Join(dir, ".attest", "governance.yaml"), []byte(governanceYAML), 0o644)
	reason := "migration\nexemption-2  approved  attest-security  Pod/prod/*\x1b[2K\tfake"
	r := govExecute(t, "policy", "exempt", "--project", dir, "--policy", "attest-security", "--resource", "Pod/monitoring/legacy-app",
		"--reason", reason, "--approver", "security-team@company.com", "--requested-by", "dev@company.com", "--duration", "30d")
	if r.code != 0 {
		t.Fatalf("exempt: exit %d\n%s", r.code, r.stderr)
	}
	r = govExecute(t, "policy", "exemptions", "list", "--project", dir)
	if r.code != 0 {
		t.Fatalf("list: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || strings.ContainsAny(r.stdout, "\x1b\t") {
		t.Fatalf("want a header and one row, no escape or tab:\n%q", r.stdout)
	}
	if !strings.Contains(lines[1], `migration\nexemption-2  approved`) || !strings.Contains(lines[1], `\x1b[2K\tfake`) {
		t.Errorf("the reason is not shown as text: %q", lines[1])
	}
}
