package decision

import (
	"testing"

	"github.com/continuums/attest/internal/finding"
)

func TestFails(t *testing.T) {
	base := finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementStrict, Severity: finding.SeverityHigh}
	with := func(mod func(*finding.Finding)) finding.Finding { f := base; mod(&f); return f }
	cases := []struct {
		name string
		f    finding.Finding
		opts Options
		want bool
	}{
		{"strict violation fails", base, Options{}, true},
		{"exempted does not fail", with(func(f *finding.Finding) { f.Exemption = &finding.Exemption{} }), Options{}, false},
		{"dryrun never fails", with(func(f *finding.Finding) { f.Enforcement = finding.EnforcementDryrun }), Options{Strict: true}, false},
		{"warn enforcement passes", with(func(f *finding.Finding) { f.Enforcement = finding.EnforcementWarn }), Options{}, false},
		{"warn enforcement fails under --strict", with(func(f *finding.Finding) { f.Enforcement = finding.EnforcementWarn }), Options{Strict: true}, true},
		{"warn rule passes", with(func(f *finding.Finding) { f.Kind = finding.KindWarning }), Options{}, false},
		{"warn rule fails under --strict", with(func(f *finding.Finding) { f.Kind = finding.KindWarning }), Options{Strict: true}, true},
		{"below threshold passes", with(func(f *finding.Finding) { f.Severity = finding.SeverityLow }), Options{Threshold: finding.SeverityMedium}, false},
		{"at threshold fails", with(func(f *finding.Finding) { f.Severity = finding.SeverityMedium }), Options{Threshold: finding.SeverityMedium}, true},
		{"error is not a violation", with(func(f *finding.Finding) { f.Kind = finding.KindError }), Options{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Fails(&c.f, c.opts); got != c.want {
				t.Fatalf("Fails = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	fail := finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementStrict, Severity: finding.SeverityHigh}
	warn := finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementWarn, Severity: finding.SeverityHigh}
	dry := finding.Finding{Kind: finding.KindViolation, Enforcement: finding.EnforcementDryrun, Severity: finding.SeverityHigh}
	errf := finding.Finding{Kind: finding.KindError}
	ex := fail
	ex.Exemption = &finding.Exemption{Reason: "r"}
	cases := []struct {
		name     string
		findings []finding.Finding
		errors   []finding.Error
		opts     Options
		code     int
		sum      finding.Summary
	}{
		{"clean", nil, nil, Options{FailOnViolation: true}, ExitOK, finding.Summary{Passed: true}},
		{"violation", []finding.Finding{fail, warn, dry, ex}, nil, Options{FailOnViolation: true}, ExitViolations,
			finding.Summary{Violations: 1, Warnings: 1, Dryrun: 1, Exempted: 1}},
		{"fail_on_violation false", []finding.Finding{fail}, nil, Options{}, ExitOK, finding.Summary{Violations: 1, Passed: true}},
		{"strict counts warnings", []finding.Finding{warn}, nil, Options{Strict: true, FailOnViolation: true}, ExitViolations, finding.Summary{Violations: 1}},
		{"errors win", []finding.Finding{fail, errf}, []finding.Error{{Message: "bad"}}, Options{FailOnViolation: true}, ExitErrors,
			finding.Summary{Violations: 1, Errors: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := &finding.Result{Findings: c.findings, Errors: c.errors}
			if code := Decide(res, c.opts); code != c.code {
				t.Fatalf("code = %d, want %d", code, c.code)
			}
			if res.Summary != c.sum {
				t.Fatalf("summary = %+v, want %+v", res.Summary, c.sum)
			}
		})
	}
}
