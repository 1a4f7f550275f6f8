package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/continuums/attest/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Parse reads the text format with Prometheus' own parser, as a scrape does.
func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, text)
	}
	return fams
}

// value finds the sample of fam whose labels include every pair of want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func fnd(policy string, sev finding.Severity, enf finding.Enforcement, kind finding.Kind, exempt bool) finding.Finding {
	f := finding.Finding{Policy: policy, Rule: policy + "/r", Engine: "opa", Kind: kind, Severity: sev, Enforcement: enf, Message: "m",
		Resource: finding.ResourceRef{Kind: "Pod", Namespace: "default", Name: "p"}}
	if exempt {
		f.Exemption = &finding.Exemption{Source: "annotation", Reason: "r", ApprovedBy: "a"}
	}
	return f
}

func TestRecordResource(t *testing.T) {
	policies := []string{"attest-security", "resource-limits", "image-security"}
	tests := []struct {
		name     string
		findings []finding.Finding
		want     map[string]float64 // "name{k=v,...}" -> value
	}{
		{
			name: "all pass",
			want: map[string]float64{
				`attest_policy_evaluations_total{policy=attest-security,result=passed}`: 1,
				`attest_policy_evaluations_total{policy=resource-limits,result=passed}`: 1,
			},
		},
		{
			name: "critical strict violation",
			findings: []finding.Finding{
				fnd("attest-security", finding.SeverityCritical, finding.EnforcementStrict, finding.KindViolation, false),
				fnd("attest-security", finding.SeverityHigh, finding.EnforcementStrict, finding.KindViolation, false),
			},
			want: map[string]float64{
				`attest_policy_evaluations_total{policy=attest-security,result=failed}`:                       1,
				`attest_policy_evaluations_total{policy=image-security,result=passed}`:                        1,
				`attest_policy_violation_severity{severity=critical,policy=attest-security}`:                  1,
				`attest_policy_violations_total{policy=attest-security,severity=high,enforcement=strict}`:     1,
				`attest_policy_violations_total{policy=attest-security,severity=critical,enforcement=strict}`: 1,
			},
		},
		{
			name: "warn and dryrun are counted, exempted only as exemptions",
			findings: []finding.Finding{
				fnd("resource-limits", finding.SeverityMedium, finding.EnforcementWarn, finding.KindViolation, false),
				fnd("image-security", finding.SeverityHigh, finding.EnforcementDryrun, finding.KindViolation, false),
				fnd("attest-security", finding.SeverityCritical, finding.EnforcementStrict, finding.KindViolation, true),
			},
			want: map[string]float64{
				`attest_policy_evaluations_total{policy=attest-security,result=passed}`:                   1,
				`attest_policy_evaluations_total{policy=resource-limits,result=failed}`:                   1,
				`attest_policy_evaluations_total{policy=image-security,result=failed}`:                    1,
				`attest_policy_violations_total{policy=resource-limits,severity=medium,enforcement=warn}`: 1,
				`attest_policy_violations_total{policy=image-security,severity=high,enforcement=dryrun}`:  1,
				`attest_policy_exemptions_total{policy=attest-security}`:                                  1,
			},
		},
		{
			name: "a conftest warn rule counts as warn",
			findings: []finding.Finding{
				fnd("resource-limits", finding.SeverityMedium, finding.EnforcementStrict, finding.KindWarning, false),
			},
			want: map[string]float64{
				`attest_policy_violations_total{policy=resource-limits,severity=medium,enforcement=warn}`: 1,
			},
		},
		{
			name: "an evaluation error fails the policy",
			findings: []finding.Finding{
				fnd("image-security", finding.SeverityHigh, finding.EnforcementStrict, finding.KindError, false),
			},
			want: map[string]float64{
				`attest_policy_evaluations_total{policy=image-security,result=failed}`: 1,
				`attest_policy_evaluation_errors_total{policy=image-security}`:         1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.RecordResource(policies, tt.findings)
			var buf bytes.Buffer
			if err := m.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			fams := parse(t, buf.Bytes())
			for series, want := range tt.want {
				name, labels := splitSeries(series)
				got, ok := value(fams, name, labels)
				if !ok || got != want {
					t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
				}
			}
			if _, ok := value(fams, ViolationSeverity, map[string]string{"severity": "critical", "policy": "attest-security"}); ok && tt.name == "all pass" {
				t.Error("a series for a violation that did not happen")
			}
		})
	}
}

func splitSeries(s string) (string, map[string]string) {
	name, rest, _ := strings.Cut(s, "{")
	labels := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		labels[k] = v
	}
	return name, labels
}

// The textfile a CI run writes, byte for byte (the load time masked).
func TestWriteFileGolden(t *testing.T) {
	m := New()
	res := &finding.Result{
		Checked: []finding.Checked{
			{Resource: finding.ResourceRef{Kind: "Pod", Namespace: "default", Name: "a"}, Location: finding.Location{File: "a.yaml"}},
			{Resource: finding.ResourceRef{Kind: "Pod", Namespace: "default", Name: "b"}, Location: finding.Location{File: "b.yaml"}},
		},
		Findings: []finding.Finding{{
			Policy: "attest-security", Kind: finding.KindViolation, Severity: finding.SeverityCritical, Enforcement: finding.EnforcementStrict,
			Resource: finding.ResourceRef{Kind: "Pod", Namespace: "default", Name: "a"}, Location: finding.Location{File: "a.yaml"},
		}},
	}
	m.RecordResult([]string{"attest-security", "resource-limits"}, res)
	m.ObserveDuration("opa", 3*time.Millisecond)
	m.BundleLoaded(time.Unix(1700000000, 0), "local", "", 2)
	path := filepath.Join(t.TempDir(), "attest.prom")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, got)
	golden := filepath.Join("testdata", "check.prom")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("textfile differs from %s (go test -update to accept):\n%s", golden, got)
	}
	if regexp.MustCompile(`(?m)^(go|process)_`).Match(got) {
		t.Error("the textfile has runtime series node_exporter would refuse as duplicates")
	}
}

func TestRuntimeAndServerSeries(t *testing.T) {
	m := New(WithRuntime(), WithServer())
	m.ObserveHTTP("admission", 200, time.Millisecond)
	m.Admission("CREATE", "denied")
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, buf.Bytes())
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", HTTPRequests, HTTPDuration, AdmissionReviews, Duration} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if fams[ViolationSeverity] != nil {
		t.Error("violation severity family present with no violation")
	}
}

// A directory given as the metrics file is named as the problem, and
// nothing is left behind in it.
func TestWriteFileToADirectory(t *testing.T) {
	dir := t.TempDir()
	err := New().WriteFile(dir)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v, want one saying it is a directory", err)
	}
	if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 1 {
		t.Errorf("left in the parent: %v", left)
	}
}
