package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/xeipuuv/gojsonschema"

	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

var stdOpts = []Option{WithToolVersion("1.2.3"), WithBaseDir("/work/repo")}

func render(t *testing.T, res *finding.Result, format string, opts ...Option) []byte {
	t.Helper()
	r, err := New(format, append(slices.Clone(stdOpts), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Report(&b, res); err != nil {
		t.Fatal(err)
	}
	// Rendering twice gives the same bytes: no map order or clock leaks in.
	var again bytes.Buffer
	if err := r.Report(&again, res); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) && format != FormatGitHub {
		t.Fatalf("%s output is not deterministic", format)
	}
	return b.Bytes()
}

// The fixture's hand-written summary is what the decision package computes.
func TestFixtureSummaryMatchesDecision(t *testing.T) {
	res := fixture(0)
	want := res.Summary
	decision.Decide(res, decision.Options{FailOnViolation: true})
	if res.Summary != want {
		t.Fatalf("decision says %+v, fixture says %+v", res.Summary, want)
	}
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			golden(t, format+".golden", render(t, fixture(0), format))
		})
	}
	t.Run("text-color", func(t *testing.T) {
		golden(t, "text-color.golden", render(t, fixture(0), FormatText, WithColor(true)))
	})
	t.Run("text-quiet", func(t *testing.T) {
		golden(t, "text-quiet.golden", render(t, fixture(0), FormatText, WithQuiet(true)))
	})
	t.Run("github-summary", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "summary.md")
		if err := os.WriteFile(p, []byte("# earlier step\n\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := New(FormatGitHub, append(slices.Clone(stdOpts), WithStepSummary(p))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Report(&bytes.Buffer{}, fixture(0)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("# earlier step\n\n## attest policy check: failed")) {
			t.Errorf("summary was not appended:\n%s", b)
		}
		golden(t, "github-summary.golden", b)
	})
	t.Run("empty", func(t *testing.T) {
		empty := &finding.Result{Files: []string{"k8s/ok.yaml"}, Resources: 3, Summary: finding.Summary{Passed: true}}
		for _, format := range Formats() {
			golden(t, "empty/"+format+".golden", render(t, empty, format))
		}
	})
}

func TestNewUnknownFormat(t *testing.T) {
	_, err := New("xml")
	if err == nil {
		t.Fatal("no error for an unknown format")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if r, err := New(" SARIF "); err != nil || r == nil {
		t.Errorf("format names are case-insensitive: %v", err)
	}
}

func TestLevel(t *testing.T) {
	ex := &finding.Exemption{Source: "annotation", Reason: "r", ApprovedBy: "a"}
	for _, tc := range []struct {
		name string
		f    finding.Finding
		want string
	}{
		{"strict violation", finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementStrict}, "error"},
		{"no enforcement means strict", finding.Finding{Kind: finding.KindViolation}, "error"},
		{"warn violation", finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementWarn}, "warning"},
		{"dryrun violation", finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementDryrun}, "note"},
		{"warning kind", finding.Finding{Kind: finding.KindWarning, Enforcement: finding.EnforcementStrict}, "warning"},
		{"dryrun warning", finding.Finding{Kind: finding.KindWarning, Enforcement: finding.EnforcementDryrun}, "note"},
		{"exempted violation", finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementStrict, Exemption: ex}, "note"},
		{"exempted warning", finding.Finding{Kind: finding.KindWarning, Exemption: ex}, "note"},
		{"error", finding.Finding{Kind: finding.KindError, Enforcement: finding.EnforcementDryrun}, "error"},
		{"exempted error still an error", finding.Finding{Kind: finding.KindError, Exemption: ex}, "error"},
	} {
		if got := Level(&tc.f); got != tc.want {
			t.Errorf("%s: Level = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSeverityMappings(t *testing.T) {
	for _, tc := range []struct {
		s                 finding.Severity
		score, level, cq  string
		githubBand        string
		scoreLow, scoreHi float64
	}{
		{finding.SeverityCritical, "9.5", "error", "blocker", "critical", 9.0, 10},
		{finding.SeverityHigh, "8.0", "error", "critical", "high", 7.0, 8.9},
		{finding.SeverityMedium, "5.5", "warning", "major", "medium", 4.0, 6.9},
		{finding.SeverityLow, "3.0", "warning", "minor", "low", 0.1, 3.9},
		{finding.SeverityInfo, "1.0", "note", "info", "low", 0.1, 3.9},
		{finding.SeverityUnknown, "5.5", "warning", "major", "medium", 4.0, 6.9},
	} {
		if got := severityScore(tc.s); got != tc.score {
			t.Errorf("%s: security-severity %s, want %s", tc.s, got, tc.score)
		}
		// GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
		v, _ := strconv.ParseFloat(severityScore(tc.s), 64)
		if v < tc.scoreLow || v > tc.scoreHi || (tc.githubBand == "critical" && v <= 9.0) {
			t.Errorf("%s: %v is outside GitHub's %s band", tc.s, v, tc.githubBand)
		}
		if got := severityLevel(tc.s); got != tc.level {
			t.Errorf("%s: SARIF level %s, want %s", tc.s, got, tc.level)
		}
		if got := codeQualitySeverity(tc.s); got != tc.cq {
			t.Errorf("%s: Code Quality severity %s, want %s", tc.s, got, tc.cq)
		}
	}
}

func TestJSON(t *testing.T) {
	out := render(t, fixture(0), FormatJSON)
	res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(JSONSchema()), gojsonschema.NewBytesLoader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("json report does not match its schema: %v", res.Errors())
	}
	var doc struct {
		SchemaVersion string `json:"schema_version"`
		Violations    int    `json:"violations"`
		Errors        int    `json:"errors"`
		Passed        bool   `json:"passed"`
		Emergency     int    `json:"emergency_overrides"`
		Findings      []struct {
			Rule      string `json:"rule"`
			Fails     bool   `json:"fails"`
			Level     string `json:"level"`
			Exempted  bool   `json:"exempted"`
			Location  struct{ Line int }
			Exemption *struct {
				ExpiresAt string `json:"expires_at"`
			} `json:"exemption"`
		} `json:"findings"`
		Expired []any `json:"expired_exemptions"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	// The spec's Jenkins pipeline reads result.violations.
	if doc.SchemaVersion != "1" || doc.Violations != 4 || doc.Errors != 2 || doc.Passed || doc.Emergency != 1 {
		t.Errorf("top level: %+v", doc)
	}
	if len(doc.Findings) != len(fixture(0).Findings) || len(doc.Expired) != 1 {
		t.Fatalf("%d findings, %d expired", len(doc.Findings), len(doc.Expired))
	}
	fails, exempted := 0, 0
	for _, f := range doc.Findings {
		if f.Fails {
			fails++
		}
		if f.Exempted {
			exempted++
			if f.Exemption == nil || f.Exemption.ExpiresAt == "" {
				t.Errorf("%s: exemption not carried", f.Rule)
			}
		}
	}
	if fails != 4 || exempted != 2 {
		t.Errorf("fails=%d exempted=%d", fails, exempted)
	}

	// The empty report validates too, with arrays rather than nulls.
	empty := render(t, &finding.Result{Summary: finding.Summary{Passed: true}}, FormatJSON)
	res, err = gojsonschema.Validate(gojsonschema.NewStringLoader(JSONSchema()), gojsonschema.NewBytesLoader(empty))
	if err != nil || !res.Valid() {
		t.Fatalf("empty report: %v %v", err, res.Errors())
	}
	if bytes.Contains(empty, []byte("null")) {
		t.Errorf("empty report has nulls:\n%s", empty)
	}
}

// The schema rejects what it should, so the validation above means something.
func TestJSONSchemaRejects(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		strings.Replace(string(render(t, fixture(0), FormatJSON)), `"violations": 4`, `"violations": "4"`, 1),
		strings.Replace(string(render(t, fixture(0), FormatJSON)), `"level": "error"`, `"level": "fatal"`, 1),
	} {
		res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(JSONSchema()), gojsonschema.NewStringLoader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid() {
			t.Errorf("schema accepted an invalid report: %.80s", doc)
		}
	}
}

func parseSARIF(t *testing.T, b []byte) *sarif.Report {
	t.Helper()
	rep, err := sarif.FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	return rep
}

func TestSARIF(t *testing.T) {
	res := fixture(0)
	rep := parseSARIF(t, render(t, res, FormatSARIF))
	if rep.Version != "2.1.0" || len(rep.Runs) != 1 {
		t.Fatalf("version %s, %d runs", rep.Version, len(rep.Runs))
	}
	run := rep.Runs[0]
	if *run.Tool.Driver.Name != "attest" || *run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver %s %s", *run.Tool.Driver.Name, *run.Tool.Driver.Version)
	}
	rules := run.Tool.Driver.Rules
	// Seven rules with metadata plus two seen only in findings.
	if len(rules) != 9 {
		t.Errorf("%d rules", len(rules))
	}
	for _, r := range rules {
		sev, _ := r.Properties.Properties["security-severity"].(string)
		if sev == "" || r.Help == nil || r.Help.Markdown == nil || r.ShortDescription == nil || r.DefaultConfiguration == nil {
			t.Errorf("rule %s lacks GitHub metadata", *r.ID)
		}
		if !slices.Contains(r.Properties.Tags, "security") {
			t.Errorf("rule %s lacks the security tag", *r.ID)
		}
	}
	if len(run.Results) != len(res.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(res.Findings))
	}
	suppressed := 0
	for i, r := range run.Results {
		f := res.Findings[i]
		if *rules[r.RuleIndex].ID != *r.RuleID {
			t.Errorf("result %d: ruleIndex %d is %s, ruleId %s", i, r.RuleIndex, *rules[r.RuleIndex].ID, *r.RuleID)
		}
		pl := r.Locations[0].PhysicalLocation
		line := *pl.Region.StartLine
		if line < 1 || (f.Location.Line > 0 && line != f.Location.Line) {
			t.Errorf("result %d: startLine %d for line %d", i, line, f.Location.Line)
		}
		uri := *pl.ArtifactLocation.URI
		switch f.Location.File {
		case "-":
			if uri != "stdin" || pl.ArtifactLocation.URIBaseID != nil {
				t.Errorf("stdin as %q", uri)
			}
		case "/work/repo/k8s/ingress.yaml":
			if uri != "k8s/ingress.yaml" || *pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
				t.Errorf("absolute path not made relative: %q", uri)
			}
		default:
			if uri != f.Location.File || *pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
				t.Errorf("uri %q for %s", uri, f.Location.File)
			}
		}
		if r.Level != Level(&f) {
			t.Errorf("result %d level %s", i, r.Level)
		}
		if r.PartialFingerprints[sarifFingerprintKey] == "" {
			t.Errorf("result %d has no fingerprint", i)
		}
		if f.Exemption != nil {
			suppressed++
			s := r.Suppressions[0]
			want := "external"
			if f.Exemption.Source == "annotation" {
				want = "inSource"
			}
			if *s.Kind != want || *s.Status != "accepted" || !strings.Contains(*s.Justification, f.Exemption.Reason) {
				t.Errorf("suppression %s %s %s", *s.Kind, *s.Status, *s.Justification)
			}
		} else if len(r.Suppressions) != 0 {
			t.Errorf("result %d suppressed without an exemption", i)
		}
		if ref := resourceRef(f.Resource); ref != "" && *r.Locations[0].LogicalLocations[0].FullyQualifiedName != ref {
			t.Errorf("logical location %s", *r.Locations[0].LogicalLocations[0].FullyQualifiedName)
		}
	}
	if suppressed != 2 {
		t.Errorf("%d suppressed results", suppressed)
	}
	// An empty run is valid SARIF too, and successful.
	empty := parseSARIF(t, render(t, &finding.Result{Files: []string{"a.yaml"}, Summary: finding.Summary{Passed: true}}, FormatSARIF))
	if r := empty.Runs[0]; len(r.Results) != 0 || !*r.Invocations[0].ExecutionSuccessful {
		t.Errorf("empty run: %d results", len(r.Results))
	}
	inv := run.Invocations[0]
	if *inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 3 {
		t.Errorf("invocation: successful=%v, %d notifications", *inv.ExecutionSuccessful, len(inv.ToolExecutionNotifications))
	}
}

// Moving resources down a file must not change any fingerprint, or GitHub
// and GitLab would open new alerts for old problems.
func TestFingerprintsStableAcrossLineMoves(t *testing.T) {
	a, b := fixture(0), fixture(17)
	fa, fb := fingerprints(&options{}, a), fingerprints(&options{}, b)
	if !slices.Equal(fa, fb) {
		t.Fatalf("fingerprints changed when lines moved:\n%v\n%v", fa, fb)
	}
	seen := map[string]bool{}
	for _, f := range fa {
		if seen[f] {
			t.Errorf("duplicate fingerprint %s", f)
		}
		seen[f] = true
	}
	// Through the formats too.
	ra := parseSARIF(t, render(t, a, FormatSARIF)).Runs[0].Results
	rb := parseSARIF(t, render(t, b, FormatSARIF)).Runs[0].Results
	for i := range ra {
		if ra[i].PartialFingerprints[sarifFingerprintKey] != rb[i].PartialFingerprints[sarifFingerprintKey] {
			t.Errorf("SARIF result %d fingerprint changed", i)
		}
		if *ra[i].Locations[0].PhysicalLocation.Region.StartLine == *rb[i].Locations[0].PhysicalLocation.Region.StartLine &&
			a.Findings[i].Location.Line > 0 {
			t.Errorf("result %d: the shift did not move the line", i)
		}
	}
	var ca, cb []struct{ Fingerprint string }
	if err := json.Unmarshal(render(t, a, FormatCodeQuality), &ca); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(render(t, b, FormatCodeQuality), &cb); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ca, cb) {
		t.Error("Code Quality fingerprints changed when lines moved")
	}
	// Identical findings still get distinct fingerprints.
	dup := fixture(0)
	dup.Findings = append(dup.Findings, dup.Findings[0])
	fd := fingerprints(&options{}, dup)
	if fd[0] == fd[len(fd)-1] {
		t.Error("two identical findings share a fingerprint")
	}
	// Message, rule, file and resource each change it.
	c := fixture(0)
	c.Findings[0].Message += "!"
	if fingerprints(&options{}, c)[0] == fa[0] {
		t.Error("fingerprint ignores the message")
	}
}

func TestJUnit(t *testing.T) {
	res := fixture(0)
	out := render(t, res, FormatJUnit)
	var doc junitTestsuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	tests, failures, errors, skipped := 0, 0, 0, 0
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			key := c.Classname + "\x00" + c.Name
			if seen[key] {
				t.Errorf("classname+name not unique: %s %s", c.Classname, c.Name)
			}
			seen[key] = true
			if s.File != "" && c.File != s.File {
				t.Errorf("case %s: file %q in suite %q", c.Name, c.File, s.File)
			}
			tests++
			switch {
			case c.Failure != nil:
				failures++
			case c.Error != nil:
				errors++
			case c.Skipped != nil:
				skipped++
			}
		}
	}
	// Failures: web's two privileged containers are one case (same resource
	// and rule), plus ingress-tls and trusted-registry.
	if failures != 3 || errors != 2 || skipped != 2 {
		t.Errorf("failures=%d errors=%d skipped=%d", failures, errors, skipped)
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errors || doc.Skipped != skipped {
		t.Errorf("testsuites counts %d/%d/%d/%d, cases say %d/%d/%d/%d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, tests, failures, errors, skipped)
	}
	if !seen["k8s/clean.yaml\x00all resources passed all policies"] {
		t.Error("no passing case for the clean file")
	}
	if !bytes.Contains(out, []byte(`name="Deployment/prod/web attest-security/privileged-container"`)) {
		t.Error("case names are not Kind/ns/name rule")
	}
	// --strict: warnings fail too when the caller says so.
	strict := render(t, res, FormatJUnit, WithFailFunc(func(f *finding.Finding) bool {
		return decision.Fails(f, decision.Options{Strict: true})
	}))
	var sdoc junitTestsuites
	if err := xml.Unmarshal(strict, &sdoc); err != nil {
		t.Fatal(err)
	}
	if sdoc.Failures != 5 {
		t.Errorf("strict: %d failures", sdoc.Failures)
	}
}

func TestJUnitUniqueNames(t *testing.T) {
	// Two documents in one file with the same resource and rule.
	f := finding.Finding{Policy: "p", Rule: "p/r", Kind: finding.KindViolation, Message: "m",
		Resource: finding.ResourceRef{Kind: "Pod", Name: "a"}, Location: finding.Location{File: "x.yaml", Line: 1}}
	g := f
	g.Location.Document, g.Location.Line = 1, 9
	h := f
	h.Location.Document, h.Location.Line = 2, 19
	h.Resource.Name = "" // a resource without a name
	h.Resource.Kind = ""
	k := h
	k.Location.Document = 3
	res := &finding.Result{Files: []string{"x.yaml"}, Findings: []finding.Finding{f, g, h, k}}
	var doc junitTestsuites
	if err := xml.Unmarshal(render(t, res, FormatJUnit), &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range doc.Suites[0].Cases {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
	}
	if len(seen) != 4 {
		t.Errorf("%d cases: %v", len(seen), seen)
	}
}

func TestCodeQuality(t *testing.T) {
	res := fixture(0)
	var issues []struct {
		Description string `json:"description"`
		CheckName   string `json:"check_name"`
		Fingerprint string `json:"fingerprint"`
		Severity    string `json:"severity"`
		Location    struct {
			Path  string `json:"path"`
			Lines struct {
				Begin int `json:"begin"`
			} `json:"lines"`
		} `json:"location"`
	}
	if err := json.Unmarshal(render(t, res, FormatCodeQuality), &issues); err != nil {
		t.Fatal(err)
	}
	if len(issues) != len(res.Findings)+len(res.Errors) {
		t.Fatalf("%d issues", len(issues))
	}
	valid := []string{"info", "minor", "major", "critical", "blocker"}
	fps := map[string]bool{}
	for i, is := range issues {
		if is.Description == "" || is.CheckName == "" || is.Fingerprint == "" || is.Location.Path == "" || is.Location.Lines.Begin < 1 {
			t.Errorf("issue %d incomplete: %+v", i, is)
		}
		if !slices.Contains(valid, is.Severity) {
			t.Errorf("issue %d severity %q", i, is.Severity)
		}
		if fps[is.Fingerprint] {
			t.Errorf("duplicate fingerprint %s", is.Fingerprint)
		}
		fps[is.Fingerprint] = true
		if strings.HasPrefix(is.Location.Path, "/") {
			t.Errorf("absolute path %s", is.Location.Path)
		}
		if i < len(res.Findings) {
			f := res.Findings[i]
			if f.Location.Line > 0 && is.Location.Lines.Begin != f.Location.Line {
				t.Errorf("issue %d line %d, finding line %d", i, is.Location.Lines.Begin, f.Location.Line)
			}
			if f.Exempted() && (is.Severity != "info" || !strings.HasPrefix(is.Description, "[exempted")) {
				t.Errorf("exempted issue %d: %s %s", i, is.Severity, is.Description)
			}
		}
	}
}

func TestTAP(t *testing.T) {
	out := string(render(t, fixture(0), FormatTAP))
	lines := strings.Split(out, "\n")
	if lines[0] != "TAP version 14" {
		t.Fatalf("first line %q", lines[0])
	}
	var plan int
	if _, err := fmt.Sscanf(lines[1], "1..%d", &plan); err != nil {
		t.Fatalf("plan line %q", lines[1])
	}
	point := regexp.MustCompile(`^(not ok|ok) (\d+) - `)
	n, notOK, skips := 0, 0, 0
	for _, l := range lines {
		m := point.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n++
		if m[2] != strconv.Itoa(n) {
			t.Errorf("test point %s out of order", m[2])
		}
		if m[1] == "not ok" {
			notOK++
		}
		if strings.Contains(l, " # SKIP exempted") || strings.Contains(l, " # SKIP EMERGENCY OVERRIDE") {
			skips++
		}
		if strings.Contains(strings.SplitN(l, " # SKIP", 2)[0], " #scope") {
			t.Errorf("unescaped # in description: %s", l)
		}
	}
	// 10 findings, 1 input error, 1 clean file.
	if n != plan || plan != 12 {
		t.Errorf("plan %d, %d test points", plan, n)
	}
	// 4 failing violations, the evaluation error and the input error.
	if notOK != 6 || skips != 2 {
		t.Errorf("not ok %d, skips %d", notOK, skips)
	}
}

func TestGitHubCommands(t *testing.T) {
	out := string(render(t, fixture(0), FormatGitHub))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// One line per finding, error, note and expired exemption: no raw
	// newline leaks out of a message.
	if len(lines) != 10+1+1+1 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	cmd := regexp.MustCompile(`^::(error|warning|notice) ([^:]*)::(.*)$`)
	counts := map[string]int{}
	for _, l := range lines {
		m := cmd.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a workflow command: %q", l)
			continue
		}
		counts[m[1]]++
		for _, prop := range strings.Split(m[2], ",") {
			k, _, ok := strings.Cut(prop, "=")
			if !ok || !slices.Contains([]string{"file", "line", "col", "title"}, k) {
				t.Errorf("bad property %q in %q", prop, l)
			}
		}
	}
	if counts["error"] != 6 || counts["warning"] != 3 || counts["notice"] != 4 {
		t.Errorf("counts %v", counts)
	}
	if !strings.Contains(out, "Role grants 100%25 of verbs: get, list%0Aconsider narrowing") {
		t.Errorf("message not escaped:\n%s", out)
	}
	if !strings.Contains(out, "file=k8s/ingress.yaml,line=6,col=3") {
		t.Error("absolute path not made relative")
	}
	if strings.Contains(out, "file=-") || strings.Contains(out, "file=stdin") {
		t.Error("stdin annotated as a file")
	}
	if got := ghEscapeProperty("a,b:c%d\ne"); got != "a%2Cb%3Ac%25d%0Ae" {
		t.Errorf("property escape %q", got)
	}
	if got := ghEscapeData("a,b:c%d\r\ne"); got != "a,b:c%25d%0D%0Ae" {
		t.Errorf("data escape %q", got)
	}
}

func TestTextGroupsByFileInResultOrder(t *testing.T) {
	out := string(render(t, fixture(0), FormatText))
	var headers []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			headers = append(headers, l)
		}
	}
	want := []string{"k8s/deployment.yaml", "k8s/rbac.yaml", "k8s/clean.yaml", "k8s/broken.yaml", "/work/repo/k8s/ingress.yaml", "- (stdin)",
		"Expired exemptions (renew or remove them)", "EMERGENCY OVERRIDE: 1 finding bypassed by break-glass exemptions",
		"8 resources in 6 files: 4 violations, 2 warnings, 1 dry-run, 2 exempted, 2 errors"}
	if !slices.Equal(headers, want) {
		t.Errorf("headers:\n%q\nwant\n%q", headers, want)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without WithColor")
	}
	for _, s := range []string{
		"exempted by annotation, approved by alice@example.com until 2027-03-31: legacy image",
		"EMERGENCY OVERRIDE exempted by store (EMERG-7), approved by oncall@example.com",
		"k8s/deployment.yaml:24:13  [attest-security/privileged-container] Container \"web\" is privileged (Deployment/prod/web)",
		"[main/warn]",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q", s)
		}
	}
	quiet := string(render(t, fixture(0), FormatText, WithQuiet(true)))
	if strings.Contains(quiet, "EXEMPT") || strings.Contains(quiet, "WARNING") || strings.Contains(quiet, "NOTE") {
		t.Errorf("quiet output has non-failing findings:\n%s", quiet)
	}
}

func TestDisplayPath(t *testing.T) {
	o := &options{baseDir: "/work/repo"}
	for in, want := range map[string]string{
		"-":                       "stdin",
		"k8s/a.yaml":              "k8s/a.yaml",
		"/work/repo/k8s/a.yaml":   "k8s/a.yaml",
		"/work/other/a.yaml":      "/work/other/a.yaml",
		"/work/repository/a.yaml": "/work/repository/a.yaml",
	} {
		if got := o.displayPath(in); got != want {
			t.Errorf("displayPath(%q) = %q, want %q", in, got, want)
		}
	}
	if uri, rel := fileURI("dir with space/a.yaml"); uri != "dir%20with%20space/a.yaml" || !rel {
		t.Errorf("fileURI = %q %v", uri, rel)
	}
	if uri, rel := fileURI("/abs/a.yaml"); uri != "file:///abs/a.yaml" || rel {
		t.Errorf("fileURI = %q %v", uri, rel)
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 1000, true)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.Add(1)
	p.Add(1) // within 100ms of the first draw: no redraw
	if got := strings.Count(buf.String(), "\r["); got != 1 {
		t.Errorf("%d draws, want 1 (throttled)", got)
	}
	now = now.Add(150 * time.Millisecond)
	p.Add(498)
	if !strings.Contains(buf.String(), " 500/1000 files") || !strings.Contains(buf.String(), "[===============>") {
		t.Errorf("bar: %q", buf.String())
	}
	p.Done()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("Done did not clear the line: %q", buf.String())
	}
	n := buf.Len()
	p.Add(1)
	if buf.Len() != n {
		t.Error("drew after Done")
	}

	// Disabled and nil bars write nothing; concurrent Add is safe.
	var off bytes.Buffer
	q := NewProgress(&off, 10, false)
	var nilBar *Progress
	var wg sync.WaitGroup
	live := NewProgress(&bytes.Buffer{}, 800, true)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				q.Add(1)
				nilBar.Add(1)
				live.Add(1)
			}
		})
	}
	wg.Wait()
	q.Done()
	nilBar.Done()
	live.Done()
	if off.Len() != 0 {
		t.Error("disabled bar wrote")
	}
	if live.done != 800 {
		t.Errorf("lost updates: %d", live.done)
	}
}

func TestProgressWanted(t *testing.T) {
	env := func(set ...string) func(string) (string, bool) {
		return func(k string) (string, bool) { return "1", slices.Contains(set, k) }
	}
	if !progressWanted(true, env()) {
		t.Error("terminal outside CI: want a bar")
	}
	if progressWanted(false, env()) {
		t.Error("not a terminal: no bar")
	}
	for _, v := range []string{"CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_NUMBER"} {
		if progressWanted(true, env(v)) {
			t.Errorf("%s set: no bar", v)
		}
	}
	if ProgressWanted(nil) {
		t.Error("nil file")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if ProgressWanted(f) {
		t.Error("a regular file is not a terminal")
	}
}
