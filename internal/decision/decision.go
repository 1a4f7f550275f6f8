// Package decision turns findings, once exemptions are applied, into the
// verdict: what fails, what only warns, and the exit code.
package decision

import "github.com/continuums/attest/internal/finding"

// Exit codes, documented in docs/cli.md.
const (
	ExitOK         = 0 // nothing fails
	ExitViolations = 1 // at least one failing violation
	ExitErrors     = 2 // bad input, config or policy (findings for the rest are still reported)
)

// Options are the knobs of the verdict.
type Options struct {
	// Strict makes warnings (warn enforcement, warn rules) fail too.
	Strict bool
	// Threshold ignores failing findings below this severity for the exit
	// code (they are still reported, as warnings).
	Threshold finding.Severity
	// FailOnViolation false reports violations without failing (the
	// spec's fail_on_violation setting).
	FailOnViolation bool
}

// Fails reports whether one finding fails the run under opts.
func Fails(f *finding.Finding, opts Options) bool {
	if f.Exempted() || f.Kind == finding.KindError {
		return false
	}
	if f.Enforcement == finding.EnforcementDryrun {
		return false
	}
	if opts.Threshold != finding.SeverityUnknown && f.Severity < opts.Threshold {
		return false
	}
	if f.Kind == finding.KindWarning || f.Enforcement == finding.EnforcementWarn {
		return opts.Strict
	}
	return true
}

// Decide fills res.Summary and returns the exit code.
func Decide(res *finding.Result, opts Options) int {
	s := finding.Summary{Errors: len(res.Errors)}
	for i := range res.Findings {
		f := &res.Findings[i]
		switch {
		case f.Kind == finding.KindError:
			s.Errors++
		case f.Exempted():
			s.Exempted++
		case f.Enforcement == finding.EnforcementDryrun:
			s.Dryrun++
		case Fails(f, opts):
			s.Violations++
		default:
			s.Warnings++
		}
	}
	code := ExitOK
	if s.Violations > 0 && opts.FailOnViolation {
		code = ExitViolations
	}
	if s.Errors > 0 {
		code = ExitErrors
	}
	s.Passed = code == ExitOK
	res.Summary = s
	return code
}
