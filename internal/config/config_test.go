package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// project writes files (relative path -> content) under a new temporary
// project directory and returns it.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadProject loads a project that has only .attest/policies.yaml (and no
// global file).
func loadProject(t *testing.T, policies string) (*Config, error) {
	t.Helper()
	dir := project(t, map[string]string{ProjectFile: policies})
	c, err := Load(WithProjectDir(dir), WithGlobalFile(""))
	return c, relErr(dir, err)
}

// relErr rewrites the temporary directory out of an error's text so tests
// can compare it.
type relError struct{ msg string }

func (e relError) Error() string { return e.msg }

func relErr(dir string, err error) error {
	if err == nil {
		return nil
	}
	return relError{strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")}
}

func noEnv(string) string { return "" }

func TestDefault(t *testing.T) {
	c := Default()
	want := map[string]string{
		"policy.enabled":               "true",
		"policy.opa_enabled":           "true",
		"policy.gatekeeper_enabled":    "true",
		"policy.fail_on_violation":     "true",
		"policy.debug":                 "false",
		"policy.timeout":               "5s",
		"policy.parallel":              "0",
		"policy.severity_threshold":    "",
		"policy.production_namespaces": "production,prod",
		"policy.attestation_store":     "",
		"exemptions.annotations":       "honour",
		"exemptions.file":              ".attest/exemptions.yaml",
		"compliance.hipaa.enabled":     "",
	}
	for k, v := range want {
		got, err := Get(c, k)
		if err != nil || got != v {
			t.Errorf("Get(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
	// every call is a fresh value: nothing is shared
	a, b := Default(), Default()
	*a.Policy.Enabled = false
	a.Policy.ProductionNamespaces[0] = "x"
	if !*b.Policy.Enabled || b.Policy.ProductionNamespaces[0] != "production" {
		t.Fatal("Default() values share memory")
	}
}

func TestGlobalPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/attest/policies.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/home/u"}, "/home/u/.config/attest/policies.yaml"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.config/attest/policies.yaml"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		if got := GlobalPath(env(tt.env)); got != filepath.FromSlash(tt.want) {
			t.Errorf("GlobalPath(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestLoadUsesXDG(t *testing.T) {
	xdg := project(t, map[string]string{"attest/policies.yaml": "policy:\n  debug: true\n"})
	dir := t.TempDir()
	c, err := Load(WithProjectDir(dir), WithEnv(func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return xdg
		}
		return ""
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Policy.Debug {
		t.Fatal("global file under XDG_CONFIG_HOME was not read")
	}
	if want := []string{filepath.Join(xdg, "attest", "policies.yaml")}; !reflect.DeepEqual(c.Sources, want) {
		t.Fatalf("Sources = %v, want %v", c.Sources, want)
	}
	// no env at all: no global file, defaults
	c, err = Load(WithProjectDir(dir), WithEnv(noEnv))
	if err != nil || len(c.Sources) != 0 {
		t.Fatalf("Load with no env = %v, %v", c, err)
	}
}

// TestKeys loads one value for every key and reads it back with Get.
func TestKeys(t *testing.T) {
	tests := []struct {
		yaml, key, want string
	}{
		{"policy:\n  enabled: false", "policy.enabled", "false"},
		{"policy:\n  opa_enabled: false", "policy.opa_enabled", "false"},
		{"policy:\n  gatekeeper_enabled: false", "policy.gatekeeper_enabled", "false"},
		{"policy:\n  fail_on_violation: false", "policy.fail_on_violation", "false"},
		{"policy:\n  fail_on_violation: FALSE", "policy.fail_on_violation", "false"},
		{"policy:\n  policy_bundle_url: \"https://policies.company.com/attest-bundle\"", "policy.policy_bundle_url", "https://policies.company.com/attest-bundle"},
		{"policy:\n  policy_bundle_path: \"policies/\"", "policy.policy_bundle_path", "policies/"},
		{"policy:\n  debug: true", "policy.debug", "true"},
		{"policy:\n  timeout: 2s", "policy.timeout", "2s"},
		{"policy:\n  timeout: 1m30s", "policy.timeout", "1m30s"},
		{"policy:\n  timeout: 1d", "policy.timeout", "24h0m0s"},
		{"policy:\n  severity_threshold: High", "policy.severity_threshold", "high"},
		{"policy:\n  severity_threshold: CRITICAL", "policy.severity_threshold", "critical"},
		{"policy:\n  parallel: 4", "policy.parallel", "4"},
		{"policy:\n  parallel: 0", "policy.parallel", "0"},
		{"policy:\n  production_namespaces: [prod-eu, prod-us]", "policy.production_namespaces", "prod-eu,prod-us"},
		{"policy:\n  production_namespaces: []", "policy.production_namespaces", ""},
		{"policy:\n  attestation_store: sqlite:///var/lib/attest.db", "policy.attestation_store", "sqlite:///var/lib/attest.db"},
		{"policy:\n  timeout:", "policy.timeout", "5s"}, // an empty value keeps the default
		{"policy:", "policy.enabled", "true"},
		{"exemptions:\n  annotations: ignore", "exemptions.annotations", "ignore"},
		{"exemptions:\n  annotations: Honor", "exemptions.annotations", "honour"},
		{"exemptions:\n  file: ops/exemptions.yaml", "exemptions.file", "ops/exemptions.yaml"},
		{"compliance:\n  soc2:\n    enabled: true", "compliance.soc2.enabled", "true"},
		{"compliance:\n  gdpr:\n    enabled: false", "compliance.gdpr.enabled", "false"},
		{"compliance:\n  gdpr:\n    data_protection:\n      require_annotations: true", "compliance.gdpr.data_protection.require_annotations", "true"},
		{"compliance:\n  gdpr:\n    data_protection:\n      required_annotations: [\"gdpr.attest.continuu.ms/lawful-basis\", team]", "compliance.gdpr.data_protection.required_annotations", "gdpr.attest.continuu.ms/lawful-basis,team"},
		{"compliance:\n  gdpr:\n    data_protection:\n      privacy_by_design: true", "compliance.gdpr.data_protection.privacy_by_design", "true"},
		{"compliance:\n  hipaa:\n    enabled: true", "compliance.hipaa.enabled", "true"},
		{"compliance:\n  hipaa:\n    encryption:\n      at_rest: Required", "compliance.hipaa.encryption.at_rest", "required"},
		{"compliance:\n  hipaa:\n    encryption:\n      in_transit: optional", "compliance.hipaa.encryption.in_transit", "optional"},
		{"compliance:\n  hipaa:\n    access_controls:\n      minimum_necessary: true", "compliance.hipaa.access_controls.minimum_necessary", "true"},
		{"compliance:\n  hipaa:\n    access_controls:\n      audit_logging: optional", "compliance.hipaa.access_controls.audit_logging", "optional"},
		{"compliance:\n  hipaa:\n    audit_logging: optional", "compliance.hipaa.audit_logging", "optional"},
		// where the Rego library reads it
		{"compliance:\n  hipaa:\n    audit_logging: optional", "compliance.hipaa.access_controls.audit_logging", "optional"},
		{"compliance:\n  hipaa:\n    data_classification:\n      phi_detection: disabled", "compliance.hipaa.data_classification.phi_detection", "disabled"},
		{"policies:\n  - name: image-security\n    enabled: false", "policies.image-security.enabled", "false"},
		{"policies:\n  - name: image-security\n    enforcement: Warn", "policies.image-security.enforcement", "warn"},
		{"policies:\n  - name: image-security\n    enforcement: dry-run", "policies.image-security.enforcement", "dryrun"},
		{"policies:\n  - name: image-security\n    enforcement: deny", "policies.image-security.enforcement", "strict"},
		{"policies:\n  - name: image-security\n    severity: low", "policies.image-security.severity", "low"},
		{"policies:\n  - name: legacy\n    style: Conftest", "policies.legacy.style", "conftest"},
		{"policies:\n  - name: company-security\n    package: company.security", "policies.company-security.package", "company.security"},
		{"policies:\n  - name: x", "policies.x.enabled", ""},
		{"policies:\n  - name: x", "policies.other.enabled", ""},
	}
	for _, tt := range tests {
		c, err := loadProject(t, tt.yaml+"\n")
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		got, err := Get(c, tt.key)
		if err != nil || got != tt.want {
			t.Errorf("%q: Get(%s) = %q, %v; want %q", tt.yaml, tt.key, got, err, tt.want)
		}
	}
}

func TestSpecExamples(t *testing.T) {
	global := `# ~/.config/attest/policies.yaml
policy:
  enabled: true
  opa_enabled: true
  gatekeeper_enabled: true
  fail_on_violation: true
  # Policy sources
  policy_bundle_url: "https://policies.company.com/attest-bundle"
  policy_bundle_path: "policies/"
  # Custom policies
  custom_policies:
    - name: "custom-security"
      description: "Custom security policy"
      level: "Cluster"
      severity: "High"
      rego_code: |
        package custom.security
        violation[{"violated": true, "message": msg}] {
          # Policy logic here
        }
`
	proj := `# .attest/policies.yaml
policies:
  - name: "image-security"
    enabled: true
    enforcement: "strict"
    parameters:
      trusted_registries:
        - "gcr.io/"
        - "registry.company.com/"
      require_attestation: true
  - name: "resource-limits"
    enabled: true
    enforcement: "warn"
    parameters:
      max_cpu: "2000m"
      max_memory: "4Gi"
      require_limits: true
compliance:
  soc2:
    enabled: true
    controls:
      - control: "CC6.1"
        policy: "access-control"
        description: "Logical access security measures"
      - control: "CC6.3"
        policy: "authentication"
        description: "Multi-factor authentication"
  gdpr:
    enabled: true
    data_protection:
      require_annotations: true
      required_annotations:
        - "gdpr.attest.continuu.ms/lawful-basis"
        - "gdpr.attest.continuu.ms/data-controller"
        - "gdpr.attest.continuu.ms/retention-period"
      privacy_by_design: true
  hipaa:
    enabled: true
    encryption:
      at_rest: required
      in_transit: required
    access_controls:
      minimum_necessary: true
    audit_logging: required
    data_classification:
      phi_detection: enabled
`
	gov := `# .attest/governance.yaml
governance:
  policy_approval:
    required_reviewers: 2
    required_teams: ["security-team", "compliance-team"]
    auto_merge: false
  exemption_approval:
    required_approvers: 1
    required_teams: ["security-team"]
    max_duration: "30d"
    emergency_override:
      enabled: true
      required_approvers: 2
      audit_trail: required
`
	dir := project(t, map[string]string{"global.yaml": global, ProjectFile: proj, GovernanceFile: gov})
	c, err := Load(WithProjectDir(dir), WithGlobalFile(filepath.Join(dir, "global.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policy.CustomPolicies) != 1 {
		t.Fatalf("custom policies: %+v", c.Policy.CustomPolicies)
	}
	cp := c.Policy.CustomPolicies[0]
	if cp.Name != "custom-security" || cp.Level != "Cluster" || cp.Severity != "high" ||
		!strings.HasPrefix(cp.RegoCode, "package custom.security\n") || cp.Source != filepath.Join(dir, "global.yaml")+":12" {
		t.Errorf("custom policy = %+v", cp)
	}
	pc, ok := c.PolicyConfig("image-security")
	if !ok || pc.Enforcement != "strict" || pc.Parameters["require_attestation"] != true ||
		!reflect.DeepEqual(pc.Parameters["trusted_registries"], []any{"gcr.io/", "registry.company.com/"}) {
		t.Errorf("image-security = %+v", pc)
	}
	pc, _ = c.PolicyConfig("resource-limits")
	if pc.Enforcement != "warn" || pc.Parameters["max_cpu"] != "2000m" || pc.Parameters["require_limits"] != true {
		t.Errorf("resource-limits = %+v", pc)
	}
	if len(c.Compliance.SOC2.Controls) != 2 || c.Compliance.SOC2.Controls[1].Control != "CC6.3" {
		t.Errorf("soc2 = %+v", c.Compliance.SOC2)
	}
	g := c.Governance
	if g == nil || g.PolicyApproval.RequiredReviewers != 2 || g.ExemptionApproval.MaxDurationValue != 30*24*time.Hour ||
		!g.EmergencyOverride.Enabled || g.EmergencyOverride.RequiredApprovers != 2 || g.EmergencyOverride.AuditTrail != "required" {
		t.Errorf("governance = %+v", g)
	}
	if len(c.Sources) != 3 {
		t.Errorf("Sources = %v", c.Sources)
	}

	// compliance reaches the Rego library as written: nothing invented
	b, err := json.Marshal(c.Compliance)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	hipaa := m["hipaa"].(map[string]any)
	if hipaa["access_controls"].(map[string]any)["audit_logging"] != "required" {
		t.Errorf("hipaa.audit_logging not copied to access_controls: %s", b)
	}
	c2 := Default()
	b, _ = json.Marshal(c2.Compliance)
	if string(b) != "{}" {
		t.Errorf("empty compliance marshals to %s, want {}", b)
	}
	c2.Compliance.GDPR.DataProtection.RequireAnnotations = new(bool)
	b, _ = json.Marshal(c2.Compliance)
	if string(b) != `{"gdpr":{"data_protection":{"require_annotations":false}}}` {
		t.Errorf("compliance = %s", b)
	}
}

func TestExampleProject(t *testing.T) {
	c, err := Load(WithProjectDir("../../examples"), WithGlobalFile(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Governance == nil || len(c.Governance.Teams["security-team"]) != 2 || len(c.Policies) != 3 {
		t.Fatalf("examples config = %+v", c)
	}
}

func TestMergePrecedence(t *testing.T) {
	global := `policy:
  debug: true
  timeout: 2s
  parallel: 3
  fail_on_violation: false
  production_namespaces: [live]
  custom_policies:
    - name: g
      rego_code: package g
policies:
  - name: image-security
    enforcement: warn
    severity: low
    parameters: {a: 1, b: 2}
exemptions:
  annotations: ignore
`
	proj := `policy:
  timeout: 3s
  custom_policies:
    - name: p
      rego_code: package p
policies:
  - name: image-security
    enabled: false
    parameters: {b: 20, c: 30}
  - name: resource-limits
    enforcement: dryrun
compliance:
  gdpr:
    enabled: true
`
	extra := `policy:
  parallel: 8
policies:
  - name: resource-limits
    enforcement: strict
compliance:
  gdpr:
    data_protection:
      require_annotations: false
`
	dir := project(t, map[string]string{"g.yaml": global, ProjectFile: proj, "extra.yaml": extra})
	g, p, x := filepath.Join(dir, "g.yaml"), filepath.Join(dir, ProjectFile), filepath.Join(dir, "extra.yaml")
	c, err := Load(WithProjectDir(dir), WithGlobalFile(g), WithFile(x))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"policy.debug":                                        {"true", g + ":2"},
		"policy.timeout":                                      {"3s", p + ":2"},
		"policy.parallel":                                     {"8", x + ":2"},
		"policy.fail_on_violation":                            {"false", g + ":5"},
		"policy.enabled":                                      {"true", "default"},
		"policy.production_namespaces":                        {"live", g + ":6"},
		"policies.image-security.enforcement":                 {"warn", g + ":12"},
		"policies.image-security.severity":                    {"low", g + ":13"},
		"policies.image-security.enabled":                     {"false", p + ":8"},
		"policies.resource-limits.enforcement":                {"strict", x + ":5"},
		"exemptions.annotations":                              {"ignore", g + ":16"},
		"compliance.gdpr.enabled":                             {"true", p + ":14"},
		"compliance.gdpr.data_protection.require_annotations": {"false", x + ":9"},
	}
	got := map[string][2]string{}
	for _, kv := range List(c) {
		got[kv.Key] = [2]string{kv.Value, kv.Source}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	pc, _ := c.PolicyConfig("image-security")
	if !reflect.DeepEqual(pc.Parameters, map[string]any{"a": 1, "b": 20, "c": 30}) {
		t.Errorf("parameters = %v", pc.Parameters)
	}
	if pc.Source != p+":7" {
		t.Errorf("Source = %q", pc.Source)
	}
	if names := []string{c.Policy.CustomPolicies[0].Name, c.Policy.CustomPolicies[1].Name}; !reflect.DeepEqual(names, []string{"g", "p"}) {
		t.Errorf("custom policies = %v", names)
	}
	if !reflect.DeepEqual(c.Sources, []string{g, p, x}) {
		t.Errorf("Sources = %v", c.Sources)
	}
	if c.EnabledFor("image-security") || !c.EnabledFor("resource-limits") || !c.EnabledFor("not-listed") {
		t.Error("EnabledFor")
	}
}

func TestPolicyConfigByPackage(t *testing.T) {
	c, err := loadProject(t, "policies:\n  - name: company\n    package: company.security\n    enabled: false\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"company", "company.security", "company-security"} {
		if _, ok := c.PolicyConfig(name); !ok {
			t.Errorf("PolicyConfig(%q) not found", name)
		}
		if c.EnabledFor(name) {
			t.Errorf("EnabledFor(%q) = true", name)
		}
	}
	c, _ = loadProject(t, "policy:\n  enabled: false\n")
	if c.EnabledFor("anything") {
		t.Error("policy.enabled: false must disable every policy")
	}
}

func TestCustomPolicyClash(t *testing.T) {
	dir := project(t, map[string]string{
		"g.yaml":    "policy:\n  custom_policies:\n    - name: same\n      rego_code: package a\n",
		ProjectFile: "policy:\n  custom_policies:\n    - name: other\n      rego_code: package b\n    - name: same\n      rego_code: package c\n",
	})
	_, err := Load(WithProjectDir(dir), WithGlobalFile(filepath.Join(dir, "g.yaml")))
	want := ".attest/policies.yaml:5:13: custom policy \"same\" is already defined at g.yaml:3; rename one of them"
	if err == nil || relErr(dir, err).Error() != want {
		t.Fatalf("err = %v\nwant %s", relErr(dir, err), want)
	}
	var le *LoadError
	if !errors.As(err, &le) || len(le.Findings()) != 1 || le.Findings()[0].Location.Line != 5 {
		t.Fatalf("LoadError = %#v", err)
	}
}

func TestWithFileMustExist(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(WithProjectDir(dir), WithGlobalFile(""), WithFile(filepath.Join(dir, "nope.yaml")))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml: cannot read configuration: no such file or directory") {
		t.Fatalf("err = %v", err)
	}
	// a directory is not a file
	_, err = Load(WithProjectDir(dir), WithGlobalFile(dir))
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorsFromAllFiles(t *testing.T) {
	dir := project(t, map[string]string{
		"g.yaml":       "policy:\n  debug: yes\n",
		ProjectFile:    "policies: {}\n",
		GovernanceFile: "governance:\n  teams: []\n",
	})
	_, err := Load(WithProjectDir(dir), WithGlobalFile(filepath.Join(dir, "g.yaml")))
	var le *LoadError
	if !errors.As(err, &le) || len(le.Errors) != 3 {
		t.Fatalf("want 3 errors, one per file, got %v", err)
	}
}

// TestServerAuth: token hashes are normalised to lower case, layers
// replace the list as a whole, and client_ca is kept as written.
func TestServerAuth(t *testing.T) {
	hash := strings.Repeat("AB", 32)
	c, err := loadProject(t, "server:\n  auth:\n    client_ca: certs/ca.pem\n    tokens:\n      - identity: alice@company.com\n        sha256: "+hash+"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := ServerAuth{ClientCA: "certs/ca.pem", Tokens: []AuthToken{{Identity: "alice@company.com", SHA256: strings.ToLower(hash)}}}
	if !reflect.DeepEqual(c.Server.Auth, want) {
		t.Fatalf("server.auth = %+v, want %+v", c.Server.Auth, want)
	}
	if got := c.Origin("server.auth.tokens"); !strings.HasSuffix(got, "policies.yaml:5") {
		t.Errorf("origin of server.auth.tokens = %q", got)
	}
}
