package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/finding"
)

// Resources that were checked and passed show up as passing test cases,
// one each, so JUnit and TAP counts mean something.
func TestPassingResourcesAreTestCases(t *testing.T) {
	loc := func(doc, line int) finding.Location {
		return finding.Location{File: "k8s/app.yaml", Document: doc, Line: line}
	}
	bad := finding.ResourceRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "bad"}
	good := finding.ResourceRef{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "good"}
	res := &finding.Result{
		Files: []string{"k8s/app.yaml"},
		Findings: []finding.Finding{{Policy: "p", Rule: "p/r", Kind: finding.KindViolation, Severity: finding.SeverityHigh,
			Enforcement: finding.EnforcementStrict, Message: "broken", Resource: bad, Location: loc(0, 3)}},
		Checked:   []finding.Checked{{Resource: bad, Location: loc(0, 1)}, {Resource: good, Location: loc(1, 20)}},
		Resources: 2,
	}
	for _, format := range []string{"junit", "tap"} {
		r, err := New(format)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := r.Report(&buf, res); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Count(out, "passed all policies") != 1 || !strings.Contains(out, "Service/shop/good passed all policies") {
			t.Errorf("%s: want exactly one passing case, for the Service:\n%s", format, out)
		}
	}
}
