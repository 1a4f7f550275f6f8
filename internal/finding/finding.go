// Package finding holds the data that flows from the engine to the reports:
// what a rule said about a resource, and the result of a whole run. It has no
// behaviour beyond ordering and small helpers so every other package can
// depend on it without pulling in OPA or YAML.
package finding

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity is ordered: a threshold keeps findings at or above it.
type Severity int

const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// DefaultSeverity is used when neither the rule's result, its METADATA nor the
// configuration names one. Medium: a finding nobody classified should not be
// ignored by a "high" threshold's absence, nor page anyone.
const DefaultSeverity = SeverityMedium

var severityNames = [...]string{"unknown", "info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity accepts any case ("High", "CRITICAL", as the spec's config
// writes it) and the common synonyms "warning" (medium) and "error" (high).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info", "informational", "note":
		return SeverityInfo, nil
	case "low", "minor":
		return SeverityLow, nil
	case "medium", "moderate", "warning", "warn":
		return SeverityMedium, nil
	case "high", "major", "error":
		return SeverityHigh, nil
	case "critical", "blocker":
		return SeverityCritical, nil
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want low, medium, high or critical)", s)
}

// MarshalText makes severities read as words in JSON and YAML.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Enforcement says what a finding does to the decision.
type Enforcement string

const (
	// Strict findings fail the run (and deny at admission).
	EnforcementStrict Enforcement = "strict"
	// Warn findings are reported, fail only under --strict, and become
	// admission warnings.
	EnforcementWarn Enforcement = "warn"
	// Dryrun findings are counted and logged, never fail anything.
	EnforcementDryrun Enforcement = "dryrun"
)

// ParseEnforcement also accepts Gatekeeper's enforcementAction words.
func ParseEnforcement(s string) (Enforcement, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "strict", "deny", "enforce":
		return EnforcementStrict, nil
	case "warn", "warning", "audit":
		return EnforcementWarn, nil
	case "dryrun", "dry-run", "dry_run":
		return EnforcementDryrun, nil
	}
	return "", fmt.Errorf("unknown enforcement %q (want strict, warn or dryrun)", s)
}

// Kind separates what a rule reported from what went wrong.
type Kind string

const (
	KindViolation Kind = "violation" // a rule's deny/violation result
	KindWarning   Kind = "warning"   // a conftest warn rule's result
	KindError     Kind = "error"     // evaluation failed or timed out
)

// ResourceRef names a Kubernetes object.
type ResourceRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

// String gives Kind/namespace/name, the form the exemption commands take.
func (r ResourceRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Location points into a source file. Line and Column are 1-based; zero
// means unknown.
type Location struct {
	File     string `json:"file"`
	Document int    `json:"document"` // 0-based index of the YAML document in the file
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	// Field is the JSON path of the field the finding is about, when the
	// rule named one (details.field, a JSON pointer, or a container name).
	Field string `json:"field,omitempty"`
}

func (l Location) String() string {
	switch {
	case l.Line > 0 && l.Column > 0:
		return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Column)
	case l.Line > 0:
		return fmt.Sprintf("%s:%d", l.File, l.Line)
	}
	return l.File
}

// Exemption records why a finding does not count.
type Exemption struct {
	Source     string     `json:"source"` // "annotation", "file:.attest/exemptions.yaml", "store"
	ID         string     `json:"id,omitempty"`
	Reason     string     `json:"reason"`
	ApprovedBy string     `json:"approved_by"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Emergency  bool       `json:"emergency,omitempty"` // break-glass override: reports flag it loudly
}

// Finding is one thing one rule said about one resource.
type Finding struct {
	Policy      string         `json:"policy"`               // "attest-security"
	Rule        string         `json:"rule"`                 // stable rule id, "attest-security/privileged-container"
	Engine      string         `json:"engine"`               // "opa" or "gatekeeper"
	Constraint  string         `json:"constraint,omitempty"` // Gatekeeper constraint name
	Kind        Kind           `json:"kind"`
	Severity    Severity       `json:"severity"`
	Enforcement Enforcement    `json:"enforcement"`
	Message     string         `json:"message"`
	Resource    ResourceRef    `json:"resource"`
	Location    Location       `json:"location"`
	Details     map[string]any `json:"details,omitempty"`
	Exemption   *Exemption     `json:"exemption,omitempty"`
}

// Exempted reports whether an exemption covers the finding.
func (f *Finding) Exempted() bool { return f.Exemption != nil }

// Rule is the metadata of one rule, for SARIF rule descriptors, docs and
// help text. Fields come from OPA METADATA annotations where present.
type Rule struct {
	ID          string   `json:"id"`
	Policy      string   `json:"policy"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	Severity    Severity `json:"severity"`
	Kinds       []string `json:"kinds,omitempty"`
	Controls    []string `json:"controls,omitempty"` // "SOC2:CC6.1", "GDPR:Art.25", "HIPAA:164.312(a)(1)"
	HelpURI     string   `json:"help_uri,omitempty"`
}

// Note is something the user should know that is not a finding: a skipped
// document, an exemption that was not honoured, an unknown kind not checked.
type Note struct {
	Location Location `json:"location"`
	Message  string   `json:"message"`
}

// Error is bad input: a file that could not be read or parsed, a policy that
// did not compile. It names the place so the user can go straight to it.
type Error struct {
	Location Location `json:"location"`
	Message  string   `json:"message"`
}

func (e Error) Error() string { return e.Location.String() + ": " + e.Message }

// Result is everything one run produced, in deterministic order.
type Result struct {
	Findings  []Finding `json:"findings"`
	Rules     []Rule    `json:"rules"`
	Notes     []Note    `json:"notes,omitempty"`
	Errors    []Error   `json:"errors,omitempty"`
	Files     []string  `json:"files"`     // every input file, in order (stdin is "-")
	Resources int       `json:"resources"` // number of Kubernetes objects evaluated
	// Expired lists exemptions that matched a finding but have run out, so
	// they can be renewed or removed.
	Expired []Exemption `json:"expired,omitempty"`
	// Checked lists every evaluated resource, so reports can show the ones
	// that passed (JUnit and TAP test cases).
	Checked []Checked `json:"-"`
	// Summary is filled in by the decision package once exemptions are applied.
	Summary Summary `json:"summary"`
}

// Checked is one evaluated resource.
type Checked struct {
	Resource ResourceRef
	Location Location
}

// Summary counts what decides the exit code.
type Summary struct {
	// Violations counts findings that fail the run: the number the spec's
	// Jenkins example reads from the JSON report.
	Violations int  `json:"violations"`
	Warnings   int  `json:"warnings"` // reported, not failing
	Dryrun     int  `json:"dryrun"`
	Exempted   int  `json:"exempted"`
	Errors     int  `json:"errors"`
	Passed     bool `json:"passed"`
}

// Sort orders findings by file, document, line, column, policy, rule and
// message, so output does not depend on evaluation order.
func (r *Result) Sort() {
	slices.SortStableFunc(r.Findings, Compare)
	slices.SortStableFunc(r.Notes, func(a, b Note) int {
		return cmp.Or(compareLoc(a.Location, b.Location), cmp.Compare(a.Message, b.Message))
	})
	slices.SortStableFunc(r.Errors, func(a, b Error) int {
		return cmp.Or(compareLoc(a.Location, b.Location), cmp.Compare(a.Message, b.Message))
	})
	slices.SortFunc(r.Rules, func(a, b Rule) int { return cmp.Compare(a.ID, b.ID) })
}

// Compare is the canonical finding order.
func Compare(a, b Finding) int {
	return cmp.Or(
		compareLoc(a.Location, b.Location),
		cmp.Compare(a.Policy, b.Policy),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Resource.String(), b.Resource.String()),
	)
}

func compareLoc(a, b Location) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Document, b.Document),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
	)
}

// RuleByID indexes the rule metadata.
func (r *Result) RuleByID() map[string]*Rule {
	m := make(map[string]*Rule, len(r.Rules))
	for i := range r.Rules {
		m[r.Rules[i].ID] = &r.Rules[i]
	}
	return m
}
