package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetRoundTripKeepsComments(t *testing.T) {
	orig := `# Global attest settings.
policy:
  # keep enabled
  enabled: true # always
  fail_on_violation: true
  timeout: 5s # per evaluation
  custom_policies:
    - name: c
      rego_code: |
        package c
# trailing comment
`
	dir := project(t, map[string]string{"g.yaml": orig})
	path := filepath.Join(dir, "g.yaml")
	steps := []struct{ key, value string }{
		{"policy.debug", "true"},
		{"policy.timeout", "2s"},
		{"policy.fail_on_violation", "false"},
		{"policy.parallel", "4"},
		{"policy.production_namespaces", "prod-eu, prod-us"},
		{"exemptions.annotations", "ignore"},
		{"compliance.hipaa.encryption.at_rest", "optional"},
		{"policies.image-security.enforcement", "warn"},
		{"policies.image-security.enabled", "false"},
		{"policies.resource-limits.severity", "High"},
	}
	for _, s := range steps {
		if err := Set(path, s.key, s.value); err != nil {
			t.Fatalf("Set(%s, %s): %v", s.key, s.value, err)
		}
	}
	got := read(t, path)
	want := `# Global attest settings.
policy:
  # keep enabled
  enabled: true # always
  fail_on_violation: false
  timeout: 2s # per evaluation
  custom_policies:
    - name: c
      rego_code: |
        package c
  debug: true
  parallel: 4
  production_namespaces: [prod-eu, prod-us]
# trailing comment

exemptions:
  annotations: ignore
compliance:
  hipaa:
    encryption:
      at_rest: optional
policies:
  - name: image-security
    enforcement: warn
    enabled: false
  - name: resource-limits
    severity: High
`
	if got != want {
		t.Errorf("file after Set:\n%s\nwant:\n%s", got, want)
	}
	c, err := Load(WithProjectDir(t.TempDir()), WithGlobalFile(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		v, err := Get(c, s.key)
		want := strings.ReplaceAll(s.value, " ", "")
		if s.key == "policies.resource-limits.severity" {
			want = "high"
		}
		if err != nil || v != want {
			t.Errorf("Get(%s) = %q, %v; want %q", s.key, v, err, want)
		}
		if src := c.Origin(s.key); !strings.HasPrefix(src, path+":") {
			t.Errorf("Origin(%s) = %q", s.key, src)
		}
	}
}

func TestSetCreatesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xdg", "attest", "policies.yaml")
	if err := Set(path, "policy.debug", "true"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "policy:\n  debug: true\n" {
		t.Fatalf("new file = %q", got)
	}
	// an existing empty or comment-only file
	path = filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("# my settings\n"), 0o600)
	if err := Set(path, "policy.debug", "true"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); !strings.Contains(got, "# my settings") || !strings.Contains(got, "debug: true") {
		t.Fatalf("file = %q", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 kept", st.Mode().Perm())
	}
	// a section written as an empty value
	path = filepath.Join(dir, "e.yaml")
	os.WriteFile(path, []byte("policy: # settings\n"), 0o644)
	if err := Set(path, "policy.timeout", "1m"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "policy: # settings\n  timeout: 1m\n" {
		t.Fatalf("file = %q", got)
	}
	// no temporary files are left behind
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestSetKeepsIndentation(t *testing.T) {
	dir := project(t, map[string]string{"p.yaml": "policy:\n    enabled: true\n"})
	path := filepath.Join(dir, "p.yaml")
	if err := Set(path, "policy.debug", "true"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "policy:\n    enabled: true\n    debug: true\n" {
		t.Fatalf("file = %q", got)
	}
}

func TestSetGovernance(t *testing.T) {
	dir := project(t, map[string]string{GovernanceFile: "governance:\n  teams:\n    security-team: [a@b.c]\n  exemption_approval:\n    max_duration: \"30d\" # a month\n"})
	path := filepath.Join(dir, GovernanceFile)
	if err := Set(path, "governance.exemption_approval.max_duration", "2w"); err != nil {
		t.Fatal(err)
	}
	if err := Set(path, "governance.exemption_approval.required_teams", "security-team"); err != nil {
		t.Fatal(err)
	}
	c, err := Load(WithProjectDir(dir), WithGlobalFile(""))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := Get(c, "governance.exemption_approval.max_duration"); v != "2w" {
		t.Errorf("max_duration = %q", v)
	}
	if !strings.Contains(read(t, path), "# a month") {
		t.Error("comment lost")
	}
	// a team that is not declared is refused, and nothing is written
	before := read(t, path)
	err = Set(path, "governance.exemption_approval.required_teams", "security-team,nobody")
	if err == nil || !strings.Contains(err.Error(), `team "nobody" is not declared`) {
		t.Fatalf("err = %v", err)
	}
	if read(t, path) != before {
		t.Error("file changed by a refused Set")
	}
}

func TestSetErrors(t *testing.T) {
	dir := project(t, map[string]string{
		"ok.yaml":   "policy:\n  debug: false\n",
		"bad.yaml":  "policy:\n  debug: yes\n",
		"list.yaml": "policy: [1]\n",
	})
	ok := filepath.Join(dir, "ok.yaml")
	tests := []struct {
		path, key, value, want string
	}{
		{ok, "policy.debug", "yes", `policy.debug: expected true or false, got "yes"`},
		{ok, "policy.debug", "1", `policy.debug: expected true or false, got "1"`},
		{ok, "policy.parallel", "many", `policy.parallel: expected an integer, got "many"`},
		{ok, "policy.parallel", "-1", `policy.parallel: must be 0 or more, got -1`},
		{ok, "policy.timeout", "soon", `policy.timeout: invalid duration "soon" (want for example 30d, 2w, 12h or 90m)`},
		{ok, "policy.severity_threshold", "severe", `policy.severity_threshold: unknown severity "severe"`},
		{ok, "exemptions.annotations", "trust", `exemptions.annotations: unknown value "trust" (allowed: honour, ignore)`},
		{ok, "policy.production_namespaces", "prod,Live", `policy.production_namespaces: "Live" is not a valid Kubernetes namespace name`},
		{ok, "policies.a.enforcement", "block", `policies.a.enforcement: unknown enforcement "block"`},
		{ok, "policy.nope", "1", `unknown key "policy.nope" (keys under policy: policy.enabled,`},
		{ok, "nope", "1", `unknown key "nope" (keys start with policy., policies.NAME., exemptions., compliance. or governance.`},
		{ok, "policies.a.nope", "1", `unknown key "policies.a.nope" (a policy entry has: enabled, enforcement, severity, style, package)`},
		{ok, "policies.x", "1", `unknown key "policies.x": write policies.NAME.FIELD`},
		{ok, "policy.custom_policies", "x", `unknown key "policy.custom_policies"`},
		{filepath.Join(dir, "bad.yaml"), "policy.timeout", "2s", `bad.yaml:2:10: policy.debug: expected true or false, got "yes"`},
		{filepath.Join(dir, "list.yaml"), "policy.debug", "true", `list.yaml: line 1: policy is a list, not a mapping`},
	}
	for _, tt := range tests {
		before, _ := os.ReadFile(tt.path)
		err := Set(tt.path, tt.key, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Set(%s, %q) = %v\nwant an error containing %q", tt.key, tt.value, err, tt.want)
		}
		if after, _ := os.ReadFile(tt.path); string(after) != string(before) {
			t.Errorf("Set(%s, %q) changed the file after an error", tt.key, tt.value)
		}
	}
}

func TestGetErrors(t *testing.T) {
	c := Default()
	if _, err := Get(c, "policy.nope"); err == nil {
		t.Error("unknown key accepted")
	}
	if v, err := Get(c, "governance.exemption_approval.max_duration"); err != nil || v != "" {
		t.Errorf("governance key without a governance file = %q, %v", v, err)
	}
}

func TestListCoversEveryKey(t *testing.T) {
	c := Default()
	kvs := List(c)
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			t.Errorf("%s listed twice", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Source != "default" {
			t.Errorf("%s source = %q", kv.Key, kv.Source)
		}
		if _, err := Get(c, kv.Key); err != nil {
			t.Errorf("Get(%s): %v", kv.Key, err)
		}
	}
	for _, k := range []string{"policy.debug", "policy.timeout", "policy.attestation_store", "exemptions.annotations", "compliance.hipaa.data_classification.phi_detection"} {
		if !seen[k] {
			t.Errorf("%s not listed", k)
		}
	}
}

// TestEveryCheckIsKnown decodes a value into every checked field, so a
// check tag without an implementation fails here, not in a user's run.
func TestEveryCheckIsKnown(t *testing.T) {
	for _, k := range append(append(staticKeys(), governanceKeys()...), policyKeys("p")...) {
		d := newDecoder("x")
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", k.key, r)
				}
			}()
			if k.check != "" && k.check != "nonneg" && k.check != "approvals" { // int checks are the decoder's
				d.checkScalar(nil, k.key, k.check, "x")
			}
		}()
	}
}

// Teams are listed one line per team, with the file and line they come
// from, and read back with Get.
func TestListTeams(t *testing.T) {
	c, err := Load(WithProjectDir("../../examples"), WithGlobalFile(""))
	if err != nil {
		t.Fatal(err)
	}
	var team *KeyValue
	kvs := List(c)
	for i := range kvs {
		if kvs[i].Key == "governance.teams.security-team" {
			team = &kvs[i]
		}
	}
	if team == nil {
		t.Fatalf("governance.teams.security-team not listed: %+v", kvs)
	}
	want := strings.Join(c.Governance.Teams["security-team"], ",")
	if team.Value != want || !strings.Contains(team.Source, "governance.yaml:") {
		t.Errorf("listed %+v, want value %q from governance.yaml:LINE", *team, want)
	}
	if v, err := Get(c, "governance.teams.security-team"); err != nil || v != want {
		t.Errorf("Get = %q, %v", v, err)
	}
	if v, err := Get(c, "governance.teams.nobody"); err != nil || v != "" {
		t.Errorf("Get unknown team = %q, %v", v, err)
	}
}
