package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A CI run counted with the server's series: the textfile parses, and the
// violations the JSON report shows are the ones counted.
func TestCheckMetricsFile(t *testing.T) {
	inExamples(t)
	path := filepath.Join(t.TempDir(), "attest.prom")
	r := execute(t, "", "policy", "check", "k8s/", "--format", "json", "--metrics-file", path)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, name := range []string{"attest_policy_evaluations_total", "attest_policy_violation_severity", "attest_policy_violations_total"} {
		if fams[name] == nil || len(fams[name].Metric) == 0 {
			t.Errorf("no %s in the metrics file", name)
		}
	}
	failed := 0.0
	for _, m := range fams["attest_policy_evaluations_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "result" && l.GetValue() == "failed" {
				failed += m.Counter.GetValue()
			}
		}
	}
	if failed == 0 {
		t.Error("no failed evaluation counted for a run that fails")
	}
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Errorf("runtime series %s in a textfile", name)
		}
	}
}
