package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type run struct {
	code   int
	stdout string
	stderr string
}

func execute(t *testing.T, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return run{code, out.String(), errb.String()}
}

// inExamples runs the test from examples/, as the CI files do; the global
// config is pointed at an empty directory so the machine's own settings do
// not leak in.
func inExamples(t *testing.T) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	t.Chdir(filepath.Join("..", "..", "examples"))
}

type jsonReport struct {
	Violations int `json:"violations"`
	Findings   []struct {
		Policy   string `json:"policy"`
		Rule     string `json:"rule"`
		Message  string `json:"message"`
		Severity string `json:"severity"`
		Kind     string `json:"kind"`
		Resource struct {
			Kind, Namespace, Name string
		} `json:"resource"`
		Location struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
			Field  string `json:"field"`
		} `json:"location"`
		Exemption *struct {
			Source string `json:"source"`
		} `json:"exemption"`
	} `json:"findings"`
	Expired []json.RawMessage `json:"expired_exemptions"`
	Notes   []struct {
		Message string `json:"message"`
	} `json:"notes"`
}

// The Jenkins pipeline of spec section 14, command by command.
func TestJenkinsExample(t *testing.T) {
	inExamples(t)
	if r := execute(t, "", "policy", "validate", "k8s/"); r.code != 0 {
		t.Fatalf("validate k8s/: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := execute(t, "", "policy", "check", "k8s/", "--format", "json")
	if r.code != 1 {
		t.Fatalf("check k8s/: exit %d, want 1\n%s", r.code, r.stderr)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("json report: %v", err)
	}
	if rep.Violations == 0 {
		t.Fatal("violations = 0; the Jenkins example reads result.violations > 0")
	}
	var privileged, exemptedLegacy, hotfix bool
	for _, f := range rep.Findings {
		if f.Message == "Privileged containers are not allowed: netshoot" {
			privileged = true
			if f.Location.File != "k8s/staging/debug-tools.json" || f.Location.Line <= 1 {
				t.Errorf("privileged finding location = %+v", f.Location)
			}
		}
		if f.Resource.Name == "legacy-monitoring" && f.Policy == "attest-security" && f.Kind == "violation" {
			if f.Exemption == nil {
				t.Errorf("legacy-monitoring finding not exempted: %s", f.Message)
			}
			exemptedLegacy = true
		}
		if f.Resource.Name == "checkout-hotfix" && f.Exemption != nil && f.Exemption.Source == "annotation" {
			hotfix = true
		}
		if f.Resource.Name == "exempted-pod" && f.Exemption != nil {
			t.Errorf("exempted-pod's expired annotation exemption was honoured: %s", f.Message)
		}
	}
	if !privileged || !exemptedLegacy || !hotfix {
		t.Errorf("privileged=%v legacy exempted=%v hotfix exempted=%v", privileged, exemptedLegacy, hotfix)
	}
	if len(rep.Expired) == 0 {
		t.Error("the expired search-indexer exemption is not listed")
	}
	var skipped bool
	for _, n := range rep.Notes {
		if strings.Contains(n.Message, "not a Kubernetes object") {
			skipped = true
		}
	}
	if !skipped {
		t.Error("values.yaml was not skipped with a note")
	}
}

// The GitLab job of spec section 14.
func TestGitLabExample(t *testing.T) {
	inExamples(t)
	if r := execute(t, "", "policy", "validate", "manifests/"); r.code != 0 {
		t.Fatalf("validate manifests/: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "policy-results.xml")
	r := execute(t, "", "policy", "check", "manifests/", "--strict", "-o", "junit="+out, "-o", "text")
	if r.code != 1 {
		t.Fatalf("--strict with a warning: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "cost-center") {
		t.Errorf("text report lacks the cost-center warning:\n%s", r.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("junit: %v", err)
	}
	if !strings.Contains(string(data), "cost-center") {
		t.Errorf("junit lacks the warning:\n%s", data)
	}
	// Under --strict the warning fails the run, so it is a failed case.
	if suites.Failures != 1 {
		t.Errorf("junit failures = %d, want 1 (the warning fails under --strict)", suites.Failures)
	}
	if r := execute(t, "", "policy", "check", "manifests/"); r.code != 0 {
		t.Fatalf("without --strict: exit %d, want 0\n%s", r.code, r.stdout)
	}
}

// The GitHub workflow of spec section 10.
func TestGitHubExample(t *testing.T) {
	inExamples(t)
	if r := execute(t, "", "policy", "validate", "policies/"); r.code != 0 {
		t.Fatalf("validate policies/: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := execute(t, "", "policy", "test", "policies/"); r.code != 0 {
		t.Fatalf("test policies/: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sarif := filepath.Join(t.TempDir(), "policy-scan.sarif")
	r := execute(t, "", "policy", "scan", "--format", "sarif", "--output", sarif)
	if r.code != 1 {
		t.Fatalf("scan: exit %d, want 1\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string            `json:"ruleId"`
				Suppress  []json.RawMessage `json:"suppressions"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("sarif: %v", err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("sarif: version %q, %d runs", doc.Version, len(doc.Runs))
	}
	var suppressed int
	for _, res := range doc.Runs[0].Results {
		if len(res.Suppress) > 0 {
			suppressed++
		}
		for _, l := range res.Locations {
			if strings.HasPrefix(l.PhysicalLocation.ArtifactLocation.URI, "policies/") {
				t.Errorf("scan looked into policies/: %s", l.PhysicalLocation.ArtifactLocation.URI)
			}
			if l.PhysicalLocation.Region.StartLine < 1 {
				t.Errorf("result without a start line: %s", res.RuleID)
			}
		}
	}
	if suppressed == 0 {
		t.Error("no exempted result carries suppressions")
	}
}

func TestSpecSection7Commands(t *testing.T) {
	inExamples(t)
	if r := execute(t, "", "policy", "test-all"); r.code != 0 {
		t.Fatalf("test-all: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := execute(t, "", "policy", "test", "attest-security"); r.code != 0 {
		t.Fatalf("test attest-security: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := execute(t, "", "policy", "test", "attest-security", "--resource", "k8s/deployment.yaml"); r.code != 0 {
		t.Fatalf("--resource compliant file: exit %d\n%s", r.code, r.stdout)
	}
	r := execute(t, "", "policy", "test", "company-security", "--resource", "k8s/worker.yaml", "--format", "json")
	if r.code != 1 || !strings.Contains(r.stdout, "QUEUE_PASSWORD") {
		t.Fatalf("--resource worker.yaml: exit %d\n%s", r.code, r.stdout)
	}
}

func TestStdinAndMultipleReports(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: default
spec:
  containers:
    - name: app
      image: nginx
      securityContext:
        privileged: true
`
	dir := t.TempDir()
	r := execute(t, pod, "policy", "check", "-", "--format", "json",
		"-o", "sarif="+filepath.Join(dir, "a.sarif"), "-o", "tap="+filepath.Join(dir, "a.tap"))
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "Privileged containers are not allowed: app") {
			found = true
			// The spec's rule names the container in its message: the
			// finding points at that container, not at line 1.
			if f.Location.File != "-" || f.Location.Line != 8 || f.Location.Field != "spec.containers[0]" {
				t.Errorf("location = %+v, want -:8 (the container)", f.Location)
			}
		}
	}
	if !found {
		t.Fatalf("privileged finding missing: %s", r.stdout)
	}
	for _, name := range []string{"a.sarif", "a.tap"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	if r := execute(t, pod, "policy", "check", "-", "-o", "text", "-o", "json"); r.code != 2 {
		t.Errorf("two reports to stdout: exit %d, want 2", r.code)
	}
}

func TestBadInputGoesOn(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n")
	write("bin.yaml", "\x00\x01\x02binary")
	write("bomb.yaml", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n")
	write("good.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  containers:\n    - name: app\n      image: nginx\n      securityContext:\n        privileged: true\n")
	r := execute(t, "", "policy", "check", ".", "--format", "json")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stdout)
	}
	var rep struct {
		Findings []struct{ Message string } `json:"findings"`
		Errors   []struct {
			Location struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"location"`
			Message string `json:"message"`
		} `json:"errors_detail"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	files := map[string]bool{}
	for _, e := range rep.Errors {
		files[e.Location.File] = true
	}
	for _, f := range []string{"bad.yaml", "bin.yaml", "bomb.yaml"} {
		if !files[f] {
			t.Errorf("no error for %s: %+v", f, rep.Errors)
		}
	}
	var good bool
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "Privileged containers are not allowed: app") {
			good = true
		}
	}
	if !good {
		t.Error("good.yaml was not checked")
	}
}

func TestBadRegoAndConfig(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll("policies", 0o755))
	must(os.MkdirAll(".attest", 0o755))
	must(os.WriteFile("policies/broken.rego", []byte("package broken\n\nviolation[msg] {\n  msg := \n}\n"), 0o644))
	must(os.WriteFile(".attest/policies.yaml", []byte("policies:\n  - name: image-security\n    enforcment: strict\n"), 0o644))
	must(os.WriteFile("pod.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  containers:\n    - name: app\n      image: nginx\n      securityContext:\n        privileged: true\n"), 0o644))
	r := execute(t, "", "policy", "check", "pod.yaml", "--no-color")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stdout)
	}
	for _, want := range []string{"policies/broken.rego:", ".attest/policies.yaml:3", "Privileged containers are not allowed: app"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := execute(t, "", "policy", "validate", "policies/"); r.code != 2 || !strings.Contains(r.stdout, "broken.rego:") {
		t.Errorf("validate broken policy: exit %d\n%s", r.code, r.stdout)
	}
}

func TestConfigSetGet(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	if r := execute(t, "", "config", "set", "policy.debug", "true"); r.code != 0 {
		t.Fatalf("set: exit %d %s", r.code, r.stderr)
	}
	r := execute(t, "", "config", "get", "policy.debug")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "true" {
		t.Fatalf("get: exit %d %q", r.code, r.stdout)
	}
	if r := execute(t, "", "config", "list"); !strings.Contains(r.stdout, "policy.debug") {
		t.Errorf("list lacks policy.debug:\n%s", r.stdout)
	}
	if r := execute(t, "", "config", "set", "policy.debug", "maybe"); r.code != 2 {
		t.Errorf("bad value accepted: exit %d", r.code)
	}
}

func TestDebugShowsFiredRules(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	if r := execute(t, "", "config", "set", "policy.debug", "true"); r.code != 0 {
		t.Fatalf("set: %s", r.stderr)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: app\n      image: nginx\n      securityContext:\n        privileged: true\n"
	r := execute(t, pod, "policy", "check", "-", "--quiet")
	if !strings.Contains(r.stderr, "fired attest-security/privileged-containers on Pod/p") {
		t.Fatalf("debug output lacks the fired rule:\n%s", r.stderr)
	}
}

func TestCoverageArtifacts(t *testing.T) {
	inExamples(t)
	dir := t.TempDir()
	lcov, cob := filepath.Join(dir, "coverage.lcov"), filepath.Join(dir, "coverage.xml")
	r := execute(t, "", "policy", "test-all", "--coverage", "--lcov", lcov, "--cobertura", cob)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	l, _ := os.ReadFile(lcov)
	if !strings.Contains(string(l), "SF:policies/") || !strings.Contains(string(l), "end_of_record") {
		t.Errorf("lcov:\n%.400s", l)
	}
	c, _ := os.ReadFile(cob)
	var cov struct {
		LineRate float64 `xml:"line-rate,attr"`
	}
	if err := xml.Unmarshal(c, &cov); err != nil || cov.LineRate <= 0 {
		t.Errorf("cobertura: %v %+v", err, cov)
	}
	if r := execute(t, "", "policy", "test-all", "--threshold", "100"); r.code != 1 {
		t.Errorf("threshold 100: exit %d, want 1", r.code)
	}
}

// An existing conftest policy folder runs unmodified, with conftest's
// input (the manifest itself) and its exception rules.
func TestConftestPolicyFolder(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll("policy", 0o755))
	must(os.WriteFile("policy/deny.rego", []byte(`package main

deny[msg] {
  input.kind == "Deployment"
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

deny_latest[msg] {
  input.kind == "Deployment"
  image := input.spec.template.spec.containers[_].image
  endswith(image, ":latest")
  msg := sprintf("image %s uses latest", [image])
}

warn[msg] {
  input.kind == "Service"
  msg := "services are watched"
}

exception[rules] {
  input.metadata.name == "legacy"
  rules := ["latest"]
}
`), 0o644))
	must(os.WriteFile("deploy.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:latest
---
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  ports: [{port: 80}]
`), 0o644))
	r := execute(t, "", "policy", "check", "--no-builtin", "--policy", "policy", "deploy.yaml", "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep jsonReport
	must(json.Unmarshal([]byte(r.stdout), &rep))
	got := map[string]string{}
	for _, f := range rep.Findings {
		state := f.Kind
		if f.Exemption != nil {
			state = "exempted:" + f.Exemption.Source
		}
		got[f.Message] = state
	}
	want := map[string]string{
		"Containers must not run as root in Deployment legacy": "violation",
		"image nginx:latest uses latest":                       "exempted:conftest-exception",
		"services are watched":                                 "warning",
	}
	if len(got) != len(want) {
		t.Fatalf("findings = %v", got)
	}
	for m, s := range want {
		if got[m] != s {
			t.Errorf("%q: %q, want %q", m, got[m], s)
		}
	}
}

// Spec section 7: attest policy validate-bundle.
func TestValidateBundle(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("rules", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("rules/r.rego", []byte("package company.rules\nimport rego.v1\ndeny contains \"x\" if input.kind == \"Pod\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := execute(t, "", "policy", "bundle", "build", "rules", "-o", "b.tar.gz"); r.code != 0 {
		t.Fatalf("build: exit %d %s", r.code, r.stderr)
	}
	if r := execute(t, "", "policy", "validate-bundle", "b.tar.gz"); r.code != 0 {
		t.Fatalf("validate-bundle: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile("bad.tar.gz", []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := execute(t, "", "policy", "validate-bundle", "bad.tar.gz"); r.code == 0 {
		t.Fatal("garbage bundle validated")
	}
}

// Spec section 7: `attest policy validate policies/security.rego`, one Rego
// file named on its own: validated as Rego, never read as a manifest.
func TestValidateOneRegoFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("policies", 0o755); err != nil {
		t.Fatal(err)
	}
	good := "package company.security\n\nimport rego.v1\n\nviolation contains {\"violated\": true, \"message\": \"no\"} if input.resource.kind == \"Secret\"\n"
	if err := os.WriteFile("policies/security.rego", []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execute(t, "", "policy", "validate", "policies/security.rego", "--no-color")
	if r.code != 0 || strings.Contains(r.stdout, "invalid YAML") || !strings.Contains(r.stdout, "in 1 file") {
		t.Fatalf("validate a good .rego: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile("policies/security.rego", []byte("package company.security\n\nviolation[msg] {\n  msg := \n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = execute(t, "", "policy", "validate", "policies/security.rego", "--no-color")
	if r.code != 2 || !strings.Contains(r.stdout, "policies/security.rego:") || strings.Contains(r.stdout, "invalid YAML") {
		t.Fatalf("validate a broken .rego: exit %d\n%s", r.code, r.stdout)
	}
}
