package exemption

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/suggest"
)

// Matcher applies exemptions to findings. It is built once per run and is
// safe for concurrent use: Apply may be called from several goroutines. The
// zero Matcher has no exemptions and ignores annotations.
type Matcher struct {
	list   []Exemption
	byKind map[string][]int // lower-case kind -> indexes into list
	used   []atomic.Bool

	honour bool
	now    func() time.Time

	// Team check for annotation approvers; off when no team is declared.
	teamsDeclared bool
	approving     []string            // approving team names, sorted, lower-case
	approvers     map[string]bool     // lower-case member emails of approving teams
	teamDomains   map[string][]string // approving team -> its members' email domains

	// The run's policies (WithPolicies): their names, for suggestions, and
	// each name and package mapped to the name. nil: not checked.
	policies  []string
	policyFor map[string]string
}

type config struct {
	list      []Exemption
	honour    bool
	teams     map[string][]string
	approving []string
	now       func() time.Time
	policies  map[string]string
}

// Option configures a Matcher.
type Option func(*config)

// WithExemptions adds exemptions from the file or a Provider. Options add
// up: several WithExemptions keep every list, in order.
func WithExemptions(list []Exemption) Option {
	return func(c *config) { c.list = append(c.list, list...) }
}

// WithAnnotations says whether annotation exemptions are honoured
// (`exemptions.annotations: honour`). Without this option they are not:
// anyone who can edit a manifest can write one.
func WithAnnotations(honour bool) Option { return func(c *config) { c.honour = honour } }

// WithTeams declares the governance teams (team name -> member emails) and
// the teams whose members may approve (exemption_approval.required_teams).
// When teams are declared, an annotation exemption is honoured only if its
// approver is a member of an approving team or names an approving team; an
// empty approving list makes every declared team approving.
func WithTeams(teams map[string][]string, approving []string) Option {
	return func(c *config) { c.teams, c.approving = teams, approving }
}

// WithPolicies gives every policy of the run, enabled or not, keyed by its
// name and by its package, each mapped to its name. An exemption may name
// a policy either way (governance accepts both), and findings carry the
// name. With it, an exemption that names another policy is noted
// (UnknownPolicies, and in Apply for annotations): a typo in a policy name
// exempts nothing, silently. Without it, names are not checked.
func WithPolicies(byNameOrPackage map[string]string) Option {
	return func(c *config) {
		if c.policies == nil {
			c.policies = map[string]string{}
		}
		maps.Copy(c.policies, byNameOrPackage)
	}
}

// WithClock sets the clock expiries are compared with (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// NewMatcher builds a Matcher. It copies what it is given.
func NewMatcher(opts ...Option) *Matcher {
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	m := &Matcher{
		list:   slices.Clone(c.list),
		byKind: map[string][]int{},
		honour: c.honour,
		now:    c.now,
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.used = make([]atomic.Bool, len(m.list))
	for i, e := range m.list {
		k := strings.ToLower(e.Kind)
		m.byKind[k] = append(m.byKind[k], i)
	}
	m.setTeams(c.teams, c.approving)
	if c.policies != nil {
		m.policyFor = maps.Clone(c.policies)
		m.policies = slices.Compact(slices.Sorted(maps.Values(m.policyFor)))
		for i := range m.list {
			m.canonical(&m.list[i])
		}
	}
	return m
}

// canonical names e's policy, and the policy part of its rule, by the
// policy's name when they were given by package
// ("attest.security/privileged-container"), each on its own: governance
// checks neither against the other.
func (m *Matcher) canonical(e *Exemption) {
	if prefix, rest, isRule := strings.Cut(e.Rule, "/"); isRule {
		if name, ok := m.policyFor[prefix]; ok {
			e.Rule = name + "/" + rest
		}
	}
	if name, ok := m.policyFor[e.Policy]; ok && e.Policy != "" {
		e.Policy = name
	}
}

// unknownPolicy says what is wrong with the policy e names, or "" when it
// names none, names a policy of the run, or names are not checked.
func (m *Matcher) unknownPolicy(e *Exemption) string {
	if m.policyFor == nil || e.Policy == "" {
		return ""
	}
	if _, ok := m.policyFor[e.Policy]; ok {
		return ""
	}
	msg := fmt.Sprintf("names policy %q, which this run does not have, so it exempts nothing", e.Policy)
	if s := suggest.Closest(e.Policy, m.policies); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// UnknownPolicies notes the file and store exemptions that name a policy
// the run does not have (see WithPolicies).
func (m *Matcher) UnknownPolicies() []finding.Note {
	var notes []finding.Note
	for i := range m.list {
		e := &m.list[i]
		if msg := m.unknownPolicy(e); msg != "" {
			notes = append(notes, finding.Note{Location: e.Location,
				Message: "exemption " + e.ID + " from " + sourceLabel(e.Source) + " " + msg})
		}
	}
	return notes
}

func (m *Matcher) setTeams(teams map[string][]string, approving []string) {
	if len(teams) == 0 {
		return
	}
	m.teamsDeclared = true
	m.approvers = map[string]bool{}
	m.teamDomains = map[string][]string{}
	lowerTeams := map[string][]string{}
	for t, members := range teams {
		lt := strings.ToLower(strings.TrimSpace(t))
		lowerTeams[lt] = append(lowerTeams[lt], members...)
	}
	if len(approving) == 0 {
		for t := range lowerTeams {
			approving = append(approving, t)
		}
	}
	for _, t := range approving {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || slices.Contains(m.approving, t) {
			continue
		}
		m.approving = append(m.approving, t)
		m.teamDomains[t] = nil
		for _, member := range lowerTeams[t] {
			addr := normalizeAddress(member)
			if addr == "" {
				continue
			}
			m.approvers[addr] = true
			if _, domain, ok := strings.Cut(addr, "@"); ok && !slices.Contains(m.teamDomains[t], domain) {
				m.teamDomains[t] = append(m.teamDomains[t], domain)
			}
		}
	}
	slices.Sort(m.approving)
}

// normalizeAddress lower-cases an address and takes it out of a
// "Name <address>" form.
func normalizeAddress(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// approverProblem says why approvedBy does not count under the declared
// teams, or "". An approver counts when it is a member of an approving team,
// or names an approving team: by its name ("security-team") or by an address
// whose local part is the team and whose domain is that of one of the team's
// members ("security-team@company.com"). Several approvers may be given,
// separated by commas: one that counts is enough.
func (m *Matcher) approverProblem(approvedBy string) string {
	if !m.teamsDeclared {
		return ""
	}
	for _, a := range strings.Split(approvedBy, ",") {
		addr := normalizeAddress(a)
		if addr == "" {
			continue
		}
		if m.approvers[addr] {
			return ""
		}
		local, domain, hasDomain := strings.Cut(addr, "@")
		domains, isTeam := m.teamDomains[local]
		if isTeam && (!hasDomain || slices.Contains(domains, domain)) {
			return ""
		}
	}
	teams := "no team may approve"
	if len(m.approving) > 0 {
		teams = strings.Join(m.approving, ", ")
	}
	return "approver " + strings.TrimSpace(approvedBy) + " is not in an approving team (" + teams + ")"
}

// match reports whether pattern (with an optional trailing "*") matches s.
func match(pattern, s string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, prefix)
	}
	return pattern == s
}

// selects reports whether e names resource r.
func selects(e *Exemption, r *manifest.Resource) bool {
	return strings.EqualFold(e.Kind, r.Kind) && match(e.Namespace, r.Namespace) && match(e.Name, r.Name)
}

// covers reports whether e exempts f (resource already selected).
func covers(e *Exemption, f *finding.Finding) bool {
	if e.Policy != "" && e.Policy != f.Policy {
		return false
	}
	return e.Rule == "" || fullRule(e.Policy, e.Rule) == fullRule(f.Policy, f.Rule)
}

// rank orders exemptions from most to least specific.
func rank(e *Exemption) int {
	switch {
	case e.Rule != "":
		return 0
	case e.Policy != "":
		return 1
	}
	return 2
}

type candidate struct {
	e       *Exemption
	listIdx int    // index into m.list, or -1 for an annotation
	problem string // why it is not honoured, or ""
	matched bool
}

// Apply marks the findings of one resource: each finding covered by an
// honoured exemption gets finding.Exemption set (the most specific one: a
// rule before a policy before all policies; then file and store exemptions,
// in order, before annotations). Error findings are never exempted, and a
// finding already marked is left alone. It returns a note for every
// exemption that covers a finding of r but is not honoured, saying why, and
// the expired exemptions that covered a finding, for Result.Expired.
func (m *Matcher) Apply(r *manifest.Resource, findings []finding.Finding) (notes []finding.Note, expired []finding.Exemption) {
	if r == nil || len(findings) == 0 {
		return nil, nil
	}
	var cands []candidate
	for _, i := range m.byKind[strings.ToLower(r.Kind)] {
		if e := &m.list[i]; selects(e, r) {
			cands = append(cands, candidate{e: e, listIdx: i})
		}
	}
	annotations := FromAnnotations(r)
	for i := range annotations {
		if msg := m.unknownPolicy(&annotations[i]); msg != "" {
			ref := r.Ref()
			ref.APIVersion = ""
			notes = append(notes, finding.Note{Location: annotations[i].Location,
				Message: "exemption in annotations of " + ref.String() + " " + msg})
		}
		m.canonical(&annotations[i])
		cands = append(cands, candidate{e: &annotations[i], listIdx: -1})
	}
	if len(cands) == 0 {
		return notes, nil
	}
	clock := m.now
	if clock == nil { // a zero Matcher
		clock = time.Now
	}
	now := clock()
	for i := range cands {
		cands[i].problem = m.problem(cands[i].e, now)
	}
	for i := range findings {
		f := &findings[i]
		if f.Kind == finding.KindError || f.Exemption != nil {
			continue
		}
		best := -1
		for j := range cands {
			c := &cands[j]
			if !covers(c.e, f) {
				continue
			}
			c.matched = true
			if c.problem == "" && (best < 0 || rank(c.e) < rank(cands[best].e)) {
				best = j
			}
		}
		if best >= 0 {
			x := cands[best].e.Finding()
			f.Exemption = &x
		}
	}
	ref := r.Ref()
	ref.APIVersion = ""
	seenExpired := map[int]bool{} // by list index; every annotation is -1: they share one expiry
	notedAnnotations := false
	for i := range cands {
		c := &cands[i]
		if !c.matched {
			continue
		}
		if c.listIdx >= 0 {
			m.used[c.listIdx].Store(true)
		}
		ignored := c.listIdx < 0 && !m.honour
		if !ignored && c.e.Expired(now) && !seenExpired[c.listIdx] {
			seenExpired[c.listIdx] = true
			expired = append(expired, c.e.Finding())
		}
		if c.problem == "" {
			continue
		}
		if c.listIdx < 0 {
			// One note for the resource's annotations, whatever they list.
			if notedAnnotations {
				continue
			}
			notedAnnotations = true
			notes = append(notes, finding.Note{Location: c.e.Location,
				Message: "exemption in annotations of " + ref.String() + " not honoured: " + c.problem})
			continue
		}
		notes = append(notes, finding.Note{Location: c.e.Location,
			Message: "exemption " + c.e.ID + " from " + sourceLabel(c.e.Source) + " not honoured for " + ref.String() + ": " + c.problem})
	}
	return notes, expired
}

// problem says why e is not honoured at now, or "".
func (m *Matcher) problem(e *Exemption, now time.Time) string {
	if e.Source == SourceAnnotation && !m.honour {
		return "annotations are ignored by configuration (exemptions.annotations: ignore)"
	}
	var problems []string
	if err := Validate(*e, now); err != nil {
		problems = append(problems, err.Error())
	}
	if e.Source == SourceAnnotation && strings.TrimSpace(e.ApprovedBy) != "" {
		if p := m.approverProblem(e.ApprovedBy); p != "" {
			problems = append(problems, p)
		}
	}
	return strings.Join(problems, "; ")
}

func sourceLabel(source string) string {
	switch {
	case source == SourceStore:
		return "the approval store"
	case strings.HasPrefix(source, SourceFilePrefix):
		return strings.TrimPrefix(source, SourceFilePrefix)
	case source == "":
		return "an unnamed source"
	}
	return source
}

// Unused lists the exemptions given with WithExemptions that have not
// covered any finding in the calls to Apply so far, in the order given.
// Exemptions that covered a finding but were not honoured count as used:
// Apply has reported them.
func (m *Matcher) Unused() []Exemption {
	var out []Exemption
	for i := range m.list {
		if !m.used[i].Load() {
			out = append(out, m.list[i])
		}
	}
	return out
}
