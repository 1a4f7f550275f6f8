package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const policyKeysList = "enabled, opa_enabled, gatekeeper_enabled, fail_on_violation, policy_bundle_url, policy_bundle_path, custom_policies, debug, timeout, severity_threshold, parallel, production_namespaces, attestation_store, bundle_verification"

// TestPolicyFileErrors: every error a policies file can have, with its
// exact text as the user sees it.
func TestPolicyFileErrors(t *testing.T) {
	const f = ".attest/policies.yaml:"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top key", "polcy:\n  debug: true\n",
			[]string{f + `1:1: unknown key "polcy" at the top level (allowed: policy, policies, compliance, exemptions, server)`}},
		{"token without hash", "server:\n  auth:\n    tokens:\n      - identity: alice@company.com\n",
			[]string{f + `4:9: missing required key "sha256" in server.auth.tokens[0]`}},
		{"token in clear", "server:\n  auth:\n    tokens:\n      - identity: alice@company.com\n        sha256: s3cret-token\n",
			[]string{f + "5:17: server.auth.tokens[0].sha256: \"s3cret-token\" is not a SHA-256 hash (64 hex digits, from `attest serve hash-token`); never put the token itself here"}},
		{"token identity not an address", "server:\n  auth:\n    tokens:\n      - identity: alice\n        sha256: " + strings.Repeat("ab", 32) + "\n",
			[]string{f + `4:19: server.auth.tokens[0].identity: "alice" is not an e-mail address`}},
		{"one token two identities", "server:\n  auth:\n    tokens:\n      - identity: alice@company.com\n        sha256: " + strings.Repeat("ab", 32) + "\n      - identity: bob@company.com\n        sha256: " + strings.Repeat("AB", 32) + "\n",
			[]string{f + `7:17: server.auth.tokens: this token hash is already listed for alice@company.com; a token authenticates one identity`}},
		{"unknown auth key", "server:\n  auth:\n    token: x\n",
			[]string{f + `3:5: unknown key "token" in server.auth (allowed: tokens, client_ca)`}},
		{"unknown policy key", "policy:\n  foo: 1\n",
			[]string{f + `2:3: unknown key "foo" in policy (allowed: ` + policyKeysList + `)`}},
		{"unknown nested key", "compliance:\n  hipaa:\n    encryption:\n      at_rst: required\n",
			[]string{f + `4:7: unknown key "at_rst" in compliance.hipaa.encryption (allowed: at_rest, in_transit)`}},
		{"unknown key in list entry", "policies:\n  - name: a\n    enforce: warn\n",
			[]string{f + `3:5: unknown key "enforce" in policies[0] (allowed: name, enabled, enforcement, parameters, severity, style, package)`}},
		{"yes is not a boolean", "policy:\n  debug: yes\n",
			[]string{f + `2:10: policy.debug: expected true or false, got "yes" (YAML 1.1 booleans such as yes/no/on/off are not accepted: write true or false)`}},
		{"quoted boolean", "policy:\n  enabled: \"true\"\n",
			[]string{f + `2:12: policy.enabled: expected true or false, got "true" (remove the quotes)`}},
		{"number for boolean", "policy:\n  enabled: 1\n",
			[]string{f + `2:12: policy.enabled: expected true or false, got the integer 1`}},
		{"string for int", "policy:\n  parallel: four\n",
			[]string{f + `2:13: policy.parallel: expected an integer, got "four"`}},
		{"negative int", "policy:\n  parallel: -2\n",
			[]string{f + `2:13: policy.parallel: must be 0 or more, got -2`}},
		{"int overflow", "policy:\n  parallel: 99999999999999999999\n",
			[]string{f + `2:13: policy.parallel: expected an integer, got the number 99999999999999999999`}},
		{"number for string", "policy:\n  timeout: 5\n",
			[]string{f + `2:12: policy.timeout: expected a string, got the integer 5 (put it in quotes if you mean the text)`}},
		{"bad timeout", "policy:\n  timeout: soon\n",
			[]string{f + `2:12: policy.timeout: invalid duration "soon" (want for example 30d, 2w, 12h or 90m)`}},
		{"zero timeout", "policy:\n  timeout: 0s\n",
			[]string{f + `2:12: policy.timeout: must be longer than zero, got "0s"`}},
		{"bad severity", "policy:\n  severity_threshold: severe\n",
			[]string{f + `2:23: policy.severity_threshold: unknown severity "severe" (allowed: info, low, medium, high, critical; any case)`}},
		{"bad url", "policy:\n  policy_bundle_url: policies.company.com\n",
			[]string{f + `2:22: policy.policy_bundle_url: "policies.company.com" is not an absolute URL (for example https://policies.example.com/bundle.tar.gz)`}},
		{"bad store", "policy:\n  attestation_store: \"a b\"\n",
			[]string{f + `2:22: policy.attestation_store: "a b" is not a store URL (for example sqlite:///var/lib/attest/attest.db or https://attest.example.com)`}},
		{"empty path", "policy:\n  policy_bundle_path: \"\"\n",
			[]string{f + `2:23: policy.policy_bundle_path: must not be empty (leave the key out instead)`}},
		{"bad namespace", "policy:\n  production_namespaces: [prod, Live]\n",
			[]string{f + `2:33: policy.production_namespaces[1]: "Live" is not a valid Kubernetes namespace name`}},
		{"scalar for list", "policy:\n  production_namespaces: prod\n",
			[]string{f + `2:26: policy.production_namespaces: expected a list, got "prod"`}},
		{"list for section", "policy:\n  - debug\n",
			[]string{f + `2:3: policy: expected a mapping with keys ` + policyKeysList + `, got a list`}},
		{"top level list", "- policy\n",
			[]string{f + `1:1: the file: expected a mapping with keys policy, policies, compliance, exemptions, server, got a list`}},
		{"duplicate key", "policy:\n  debug: true\n  debug: false\n",
			[]string{f + `3:3: duplicate key "debug" in policy (first at line 2)`}},
		{"duplicate parameter", "policies:\n  - name: a\n    parameters:\n      x: 1\n      x: 2\n",
			[]string{f + `5:7: duplicate key "x" in policies[0].parameters (first at line 4)`}},
		{"merge key", "policy:\n  <<: {debug: true}\n",
			[]string{f + `2:3: merge keys (<<) are not supported in policy: write the keys out`}},
		{"policy without name", "policies:\n  - enabled: true\n",
			[]string{f + `2:5: missing required key "name" in policies[0]`}},
		{"bad policy name", "policies:\n  - name: image security\n",
			[]string{f + `2:11: policies[0].name: "image security" is not a valid name (letters, digits, '.', '_', '-', '/', ':'; no spaces)`}},
		{"policy twice", "policies:\n  - name: a\n  - name: a\n",
			[]string{f + `3:11: policy "a" is listed twice in policies (first at line 2); merge the two entries`}},
		{"bad enforcement", "policies:\n  - name: a\n    enforcement: block\n",
			[]string{f + `3:18: policies[0].enforcement: unknown enforcement "block" (allowed: strict, warn, dryrun)`}},
		{"bad style", "policies:\n  - name: a\n    style: opa\n",
			[]string{f + `3:12: policies[0].style: unknown style "opa" (allowed: attest, conftest, gatekeeper)`}},
		{"bad package", "policies:\n  - name: a\n    package: company-security\n",
			[]string{f + `3:14: policies[0].package: "company-security" is not a Rego package path (for example company.security)`}},
		{"parameters not a map", "policies:\n  - name: a\n    parameters: [1]\n",
			[]string{f + `3:17: policies[0].parameters: expected a mapping, got a list`}},
		{"parameters infinity", "policies:\n  - name: a\n    parameters: {x: .inf}\n",
			[]string{f + `3:21: policies[0].parameters.x: infinity and NaN are not allowed`}},
		{"parameters with a yes", "policies:\n  - name: a\n    parameters: {x: yes}\n",
			nil}, // free-form: yes is the string "yes"
		{"custom policy without rego", "policy:\n  custom_policies:\n    - name: c\n",
			[]string{f + `3:7: missing required key "rego_code" in policy.custom_policies[0]`}},
		{"custom policy empty rego", "policy:\n  custom_policies:\n    - name: c\n      rego_code: \"  \"\n",
			[]string{f + `4:18: policy.custom_policies[0].rego_code: must not be empty`}},
		{"custom policy twice", "policy:\n  custom_policies:\n    - {name: c, rego_code: x}\n    - {name: c, rego_code: y}\n",
			[]string{f + `4:14: custom policy "c" is defined twice in policy.custom_policies (first at line 3)`}},
		{"bad level", "policy:\n  custom_policies:\n    - {name: c, rego_code: x, level: Global}\n",
			[]string{f + `3:38: policy.custom_policies[0].level: unknown level "Global" (allowed: Cluster, Namespace)`}},
		{"bad custom severity", "policy:\n  custom_policies:\n    - {name: c, rego_code: x, severity: Huge}\n",
			[]string{f + `3:41: policy.custom_policies[0].severity: unknown severity "Huge" (allowed: info, low, medium, high, critical; any case)`}},
		{"bad annotations mode", "exemptions:\n  annotations: trust\n",
			[]string{f + `2:16: exemptions.annotations: unknown value "trust" (allowed: honour, ignore)`}},
		{"bad hipaa value", "compliance:\n  hipaa:\n    encryption:\n      at_rest: yes-please\n",
			[]string{f + `4:16: compliance.hipaa.encryption.at_rest: unknown value "yes-please" (allowed: required, optional)`}},
		{"bad phi detection", "compliance:\n  hipaa:\n    data_classification:\n      phi_detection: on\n",
			[]string{f + `4:22: compliance.hipaa.data_classification.phi_detection: unknown value "on" (allowed: enabled, disabled)`}},
		{"bad annotation key", "compliance:\n  gdpr:\n    data_protection:\n      required_annotations: [\"gdpr/a/b\"]\n",
			[]string{f + `4:30: compliance.gdpr.data_protection.required_annotations[0]: "gdpr/a/b" is not a valid annotation key`}},
		{"soc2 control without policy", "compliance:\n  soc2:\n    controls:\n      - control: CC6.1\n",
			[]string{f + `4:9: missing required key "policy" in compliance.soc2.controls[0]`}},
		{"bundle key with both", "policy:\n  bundle_verification:\n    public_keys:\n      - {id: k, path: k.pem, key: abc}\n",
			[]string{f + `4:35: policy.bundle_verification.public_keys[0]: give either path or key, not both`}},
		{"bundle key with neither", "policy:\n  bundle_verification:\n    public_keys:\n      - {id: k}\n",
			[]string{f + `4:14: policy.bundle_verification.public_keys[0]: needs path (a PEM file) or key (the PEM text)`}},
		{"bundle key id twice", "policy:\n  bundle_verification:\n    public_keys:\n      - {id: k, key: a}\n      - {id: k, key: b}\n",
			[]string{f + `5:14: key id "k" is used twice in policy.bundle_verification.public_keys (first at line 4)`}},
		{"bad algorithm", "policy:\n  bundle_verification:\n    public_keys:\n      - {id: k, key: a, algorithm: md5}\n",
			[]string{f + `4:36: policy.bundle_verification.public_keys[0].algorithm: unknown algorithm "md5" (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512)`}},
		{"two documents", "policy:\n  debug: true\n---\npolicy: {}\n",
			[]string{f + `3:1: a configuration file holds one YAML document; remove the second one (or the "---" before it)`}},
		{"syntax error", "policy:\n  debug: [true\n",
			[]string{f + `1: invalid YAML: did not find expected ',' or ']'`}},
		{"tab indentation", "policy:\n\tdebug: true\n",
			[]string{f + `2: invalid YAML: found character that cannot start any token`}},
		{"binary", "policy:\n  debug: \x00\x01\x02",
			[]string{f + `2:10: binary data (a NUL byte): not a YAML configuration file`}},
		{"invalid utf-8", "policy:\n  policy_bundle_path: \"caf\xe9\"\n",
			[]string{f + `2:27: invalid UTF-8 (byte 0xe9); configuration files must be UTF-8`}},
		{"control character", "policy:\n  policy_bundle_path: \"a\x1bb\"\n",
			[]string{f + `2:25: control character U+001B is not allowed in YAML`}},
		{"several errors at once", "policy:\n  debug: on\n  parallel: x\npolicies:\n  - name: a\n    enforcement: nope\n",
			[]string{
				f + `2:10: policy.debug: expected true or false, got "on" (YAML 1.1 booleans such as yes/no/on/off are not accepted: write true or false)`,
				f + `3:13: policy.parallel: expected an integer, got "x"`,
				f + `6:18: policies[0].enforcement: unknown enforcement "nope" (allowed: strict, warn, dryrun)`,
			}},
		{"empty file", "", nil},
		{"comments only", "# nothing here\n", nil},
		{"empty sections", "policy:\npolicies:\ncompliance:\nexemptions:\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadProject(t, tt.yaml)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestGovernanceErrors(t *testing.T) {
	const f = ".attest/governance.yaml:"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "governance:\n  approvals: {}\n",
			[]string{f + `2:3: unknown key "approvals" in governance (allowed: policy_approval, exemption_approval, emergency_override, teams)`}},
		{"missing governance", "policy_approval: {}\n",
			[]string{f + `1:1: unknown key "policy_approval" at the top level (allowed: governance)`, f + `1:1: missing required key "governance" at the top level`}},
		{"negative reviewers", "governance:\n  policy_approval:\n    required_reviewers: -1\n",
			[]string{f + `3:25: governance.policy_approval.required_reviewers: must be 0 or more, got -1`}},
		{"negative approvers", "governance:\n  exemption_approval:\n    required_approvers: -3\n",
			[]string{f + `3:25: governance.exemption_approval.required_approvers: must be 1 or more, got -3 (an exemption always needs an approval by someone other than its requester)`}},
		{"no approvers", "governance:\n  emergency_override:\n    required_approvers: 0\n",
			[]string{f + `3:25: governance.emergency_override.required_approvers: must be 1 or more, got 0 (an exemption always needs an approval by someone other than its requester)`}},
		{"bad max_duration", "governance:\n  exemption_approval:\n    max_duration: 30 days\n",
			[]string{f + `3:19: governance.exemption_approval.max_duration: unknown unit " days" in duration "30 days" (units: ns, us, ms, s, m, h, d, w)`}},
		{"zero max_duration", "governance:\n  exemption_approval:\n    max_duration: 0d\n",
			[]string{f + `3:19: governance.exemption_approval.max_duration: must be longer than zero, got "0d"`}},
		{"auto_merge yes", "governance:\n  policy_approval:\n    auto_merge: no\n",
			[]string{f + `3:17: governance.policy_approval.auto_merge: expected true or false, got "no" (YAML 1.1 booleans such as yes/no/on/off are not accepted: write true or false)`}},
		{"bad audit trail", "governance:\n  emergency_override:\n    audit_trail: sometimes\n",
			[]string{f + `3:18: governance.emergency_override.audit_trail: unknown value "sometimes" (allowed: required, optional)`}},
		{"undeclared team", "governance:\n  teams:\n    security-team: [alice@company.com]\n  policy_approval:\n    required_teams: [security-team, compliance-team]\n  exemption_approval:\n    required_teams:\n      - secuirty-team\n",
			[]string{
				f + `5:37: governance.policy_approval.required_teams: team "compliance-team" is not declared in governance.teams (declared: security-team)`,
				f + `8:9: governance.exemption_approval.required_teams: team "secuirty-team" is not declared in governance.teams (declared: security-team)`,
			}},
		{"teams not declared: no check", "governance:\n  exemption_approval:\n    required_teams: [anyone]\n", nil},
		{"bad member", "governance:\n  teams:\n    security-team: [alice]\n",
			[]string{f + `3:21: governance.teams.security-team[0]: "alice" is not an e-mail address`}},
		{"bad team name", "governance:\n  teams:\n    security team: [a@b.c]\n",
			[]string{f + `3:5: governance.teams: "security team" is not a valid team name (letters, digits, '.', '_', '-'; no spaces)`}},
		{"teams differing only in case", "governance:\n  teams:\n    security-team: [alice@company.com]\n    Security-Team: [mallory@company.com]\n",
			[]string{f + `4:5: governance.teams: "security-team" and "Security-Team" differ only in case; team names are compared without case`}},
		{"teams as list", "governance:\n  teams: [a, b]\n",
			[]string{f + `2:10: governance.teams: expected a mapping, got a list`}},
		{"override in both places", "governance:\n  emergency_override: {enabled: true}\n  exemption_approval:\n    emergency_override: {enabled: true}\n",
			[]string{f + `4:25: emergency_override is given both here and in governance (line 2); keep one`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{GovernanceFile: tt.yaml})
			_, err := Load(WithProjectDir(dir), WithGlobalFile(""))
			err = relErr(dir, err)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestGovernanceDefaults(t *testing.T) {
	g, err := ParseGovernance("g.yaml", []byte("governance:\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Governance{
		PolicyApproval:    PolicyApproval{RequiredReviewers: 1},
		ExemptionApproval: ExemptionApproval{RequiredApprovers: 1},
		EmergencyOverride: EmergencyOverride{RequiredApprovers: 1, AuditTrail: "required"},
		File:              "g.yaml",
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v\nwant %+v", g, want)
	}
	// the nested spelling keeps the defaults it does not override
	g, err = ParseGovernance("g.yaml", []byte("governance:\n  exemption_approval:\n    max_duration: 2w\n    emergency_override:\n      enabled: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !g.EmergencyOverride.Enabled || g.EmergencyOverride.RequiredApprovers != 1 || g.EmergencyOverride.AuditTrail != "required" ||
		g.ExemptionApproval.MaxDurationValue != 14*24*time.Hour {
		t.Fatalf("got %+v", g)
	}
	_, err = ParseGovernance("g.yaml", []byte("governance:\n  x: 1\n"))
	var le *LoadError
	if !errors.As(err, &le) || le.Errors[0].Location.Line != 2 {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeStrict(t *testing.T) {
	type entry struct {
		Name   string `yaml:"name" required:"true"`
		Reason string `yaml:"reason" check:"nonempty"`
		Count  int    `yaml:"count" check:"nonneg"`
	}
	type file struct {
		Exemptions []entry `yaml:"exemptions"`
	}
	var f file
	err := DecodeStrict("e.yaml", []byte("exemptions:\n  - name: a\n    reason: r\n    count: 2\n"), &f)
	if err != nil || !reflect.DeepEqual(f, file{[]entry{{"a", "r", 2}}}) {
		t.Fatalf("DecodeStrict = %+v, %v", f, err)
	}
	err = DecodeStrict("e.yaml", []byte("exemptions:\n  - reason: \"\"\n    extra: 1\n"), &f)
	want := "e.yaml:2:13: exemptions[0].reason: must not be empty\n" +
		"e.yaml:3:5: unknown key \"extra\" in exemptions[0] (allowed: name, reason, count)\n" +
		"e.yaml:2:5: missing required key \"name\" in exemptions[0]"
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
	if err := DecodeStrict("e.yaml", nil, f); err == nil {
		t.Fatal("a non-pointer target must be refused")
	}
	var m map[string][]int
	if err := DecodeStrict("m.yaml", []byte("a: [1, 2]\nb: []\n"), &m); err != nil || len(m["a"]) != 2 {
		t.Fatalf("map: %v %v", m, err)
	}
}

// TestHostileInput: bombs, huge, deep and binary files end in an error
// quickly, never a hang or a panic.
func TestHostileInput(t *testing.T) {
	bomb := "policies:\n  - name: x\n    parameters:\n      a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += "      " + n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"alias bomb", bomb, "document too large after expanding aliases"},
		{"self-referencing alias", "policies:\n  - name: x\n    parameters: {a: &a [*a]}\n", "nesting deeper than 64 levels"},
		{"deep nesting", "policies:\n  - name: x\n    parameters: " + strings.Repeat("{a: ", 200) + "1" + strings.Repeat("}", 200) + "\n", "nesting deeper than 64 levels"},
		{"very deep flow", "policies: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n", "invalid YAML"},
		{"huge", "policy:\n  policy_bundle_path: \"" + strings.Repeat("a", MaxFileSize) + "\"\n", "file is larger than 4 MiB"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00", "binary data"},
		{"utf-16", "\xff\xfep\x00o\x00", "1:1: the file is UTF-16; configuration files must be UTF-8"},
		{"latin-1", "policy:\n  policy_bundle_path: caf\xe9\n", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := loadProject(t, tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %.300v, want %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestNotRegularFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ProjectFile), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(WithProjectDir(dir), WithGlobalFile(""))
	if err == nil || !strings.Contains(err.Error(), "is a directory, not a configuration file") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"12h", 12 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1w2d3h", (9*24 + 3) * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"0.5w", 84 * time.Hour, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"2us", 2 * time.Microsecond, ""},
		{"2µs", 2 * time.Microsecond, ""},
		{"10ns", 10, ""},
		{"-1d", -24 * time.Hour, ""},
		{"+1d", 24 * time.Hour, ""},
		{"0", 0, ""},
		{"", 0, "empty duration"},
		{"30", 0, `missing unit in duration "30" (units: ns, us, ms, s, m, h, d, w)`},
		{"30 d", 0, `unknown unit " d" in duration "30 d" (units: ns, us, ms, s, m, h, d, w)`},
		{"3y", 0, `unknown unit "y" in duration "3y" (units: ns, us, ms, s, m, h, d, w)`},
		{"d", 0, `invalid duration "d" (want for example 30d, 2w, 12h or 90m)`},
		{"1..2d", 0, `invalid duration "1..2d" (want for example 30d, 2w, 12h or 90m)`},
		{"-", 0, `invalid duration "-"`},
		{"100000w", 0, `duration "100000w" is out of range`},
		{"99999999999999999999s", 0, `duration "99999999999999999999s" is out of range`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		// everything Go reads, we read the same
		if goD, goErr := time.ParseDuration(tt.in); goErr == nil && goD != got {
			t.Errorf("ParseDuration(%q) = %v, Go says %v", tt.in, got, goD)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 720 * time.Hour: "30d", 336 * time.Hour: "2w", 90 * time.Minute: "1h30m0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzLoad: the parser never panics, and every error it reports for a
// file of reasonable size names a line.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"policy:\n  enabled: true\n  timeout: 2s\n",
		"policies:\n  - name: a\n    parameters: {x: [1, 2.5, true, null, \"s\"]}\n",
		"governance:\n  teams: {t: [a@b.c]}\n  exemption_approval: {required_teams: [t], max_duration: 30d}\n",
		"a: &a [*a]\n",
		"policy: {custom_policies: [{name: x, rego_code: y}]}\n",
		"compliance:\n  hipaa: {encryption: {at_rest: required}}\n",
		"\xff", "{", "--- !!binary\n", "policy: !!int x\n", "? [a]\n: b\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, decode := range []func(*decoder){
			func(d *decoder) {
				var fs fileSchema
				d.decodeBytes(data, reflectOf(&fs))
				d.validateFile(&fs)
			},
			func(d *decoder) { d.decodeGovernance(data) },
		} {
			d := newDecoder("f.yaml")
			decode(d)
			err := d.err()
			if err == nil {
				continue
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is %T, not *LoadError", err)
			}
			for _, e := range le.Errors {
				if e.Location.File != "f.yaml" {
					t.Fatalf("error without file: %v", e)
				}
				if e.Location.Line <= 0 && !strings.HasSuffix(e.Message, "more errors not shown") {
					t.Fatalf("error without a line: %q for %q", e.Error(), data)
				}
			}
		}
		// Set never panics on what it reads either
		d := newDecoder("f.yaml")
		if doc := d.parseDocument(data); doc != nil {
			n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}
			if setIn(doc.Content[0], "policy.debug", n) == nil {
				if err := yaml.NewEncoder(io.Discard).Encode(doc); err != nil {
					t.Logf("encode: %v", err)
				}
			}
		}
	})
}
