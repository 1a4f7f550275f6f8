package policy

import (
	"strings"

	"github.com/continuums/attest/internal/finding"
)

// Settings is what configuration says about one named policy.
type Settings struct {
	Enabled     *bool
	Enforcement finding.Enforcement
	Parameters  map[string]any
	Severity    finding.Severity
	Style       Style
	// NamespacedOnly limits the policy to namespaced kinds (custom
	// policies with level: Namespace).
	NamespacedOnly bool
}

// Configure applies settings to the policy with that name (or package).
// It reports whether a policy matched, so config naming a policy that does
// not exist can be reported.
func (s *Set) Configure(name string, st Settings) bool {
	matched := false
	for _, p := range s.Policies {
		if p.Name != name && p.Package != name {
			continue
		}
		matched = true
		if st.Enabled != nil {
			p.Enabled = *st.Enabled
		}
		if st.Enforcement != "" {
			p.Enforcement = st.Enforcement
		}
		if st.Parameters != nil {
			p.Parameters = st.Parameters
		}
		if st.Severity != finding.SeverityUnknown {
			p.Severity = st.Severity
		}
		if st.Style != "" {
			p.Style = st.Style
		}
		if st.NamespacedOnly {
			p.NamespacedOnly = true
		}
	}
	return matched
}

// Enabled returns the policies that are switched on.
func (s *Set) Enabled() []*Policy {
	var out []*Policy
	for _, p := range s.Policies {
		if p.Enabled {
			out = append(out, p)
		}
	}
	return out
}

// Rules returns every rule's metadata, with the effective severity.
func (s *Set) Rules() []finding.Rule {
	var out []finding.Rule
	for _, p := range s.Enabled() {
		for _, r := range p.Rules {
			rule := r.Rule
			rule.Severity = p.SeverityOf(r, finding.SeverityUnknown)
			out = append(out, rule)
		}
	}
	return out
}

// SeverityOf picks a finding's severity: the rule's result first, then the
// rule's METADATA, then config, then the package's METADATA, then the
// default.
func (p *Policy) SeverityOf(r *RuleSpec, fromResult finding.Severity) finding.Severity {
	switch {
	case fromResult != finding.SeverityUnknown:
		return fromResult
	case r != nil && r.Explicit:
		return r.Severity
	case p.Severity != finding.SeverityUnknown:
		return p.Severity
	case p.MetaSeverity != finding.SeverityUnknown:
		return p.MetaSeverity
	}
	return finding.DefaultSeverity
}

// Rename gives the policy a new name, and its rules ids under that name.
func (p *Policy) Rename(name string) {
	if name == "" || name == p.Name {
		return
	}
	for _, r := range p.Rules {
		r.ID = name + "/" + strings.TrimPrefix(r.ID, p.Name+"/")
		r.Policy = name
	}
	p.Name = name
}
