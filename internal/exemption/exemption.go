// Package exemption decides which findings an exemption covers and whether
// the exemption is valid. Exemptions come from three places: annotations on
// the resource itself, the project's .attest/exemptions.yaml, and (through
// Provider) the approval store. An exemption is honoured only with a reason,
// an approver and an expiry still in the future; one that is not honoured
// is reported with the reason why, never silently dropped or applied.
package exemption

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/continuums/attest/internal/finding"
)

// Sources of exemptions, as they appear in Exemption.Source and in reports.
const (
	SourceAnnotation = "annotation"
	SourceStore      = "store"
	// SourceFilePrefix is followed by the file's path: "file:.attest/exemptions.yaml".
	SourceFilePrefix = "file:"
)

// Exemption is one exemption, from whichever source.
type Exemption struct {
	// ID names the exemption in reports: the file's `id`, else derived from
	// what it exempts ("attest-security:Pod/monitoring/legacy"); for
	// annotations, the resource ("Pod/monitoring/legacy"); the store's id.
	ID string
	// Source is "annotation", "file:<path>" or "store".
	Source string
	// Policy is the policy name ("attest-security"); empty means every
	// policy (annotation value "true").
	Policy string
	// Rule, when set, narrows the exemption to one rule: a full rule id
	// ("attest-security/privileged-container") or the id within Policy
	// ("privileged-container").
	Rule string
	// Kind, Namespace and Name select the resource. Namespace and Name may
	// end in "*" (a prefix glob; "*" alone matches anything). An empty
	// Namespace matches only resources without one (cluster-scoped kinds,
	// or manifests that leave metadata.namespace out).
	Kind, Namespace, Name string

	Reason     string
	ApprovedBy string
	// ExpiresAt is when the exemption stops applying; zero means none was
	// given, and an exemption without an expiry is never honoured.
	ExpiresAt time.Time
	// Emergency marks a break-glass override; reports flag it loudly.
	Emergency bool
	// Location is where the exemption was written: the file entry, or the
	// annotated resource.
	Location finding.Location

	// badExpiry holds an expiry that did not parse, so the note can say so.
	badExpiry string
}

// Provider supplies exemptions from elsewhere: the approval store.
type Provider interface {
	Exemptions(ctx context.Context) ([]Exemption, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context) ([]Exemption, error)

// Exemptions calls f.
func (f ProviderFunc) Exemptions(ctx context.Context) ([]Exemption, error) { return f(ctx) }

// Collect gathers the exemptions of several providers, in order. It stops at
// the first error, naming the provider's position.
func Collect(ctx context.Context, providers ...Provider) ([]Exemption, error) {
	var all []Exemption
	for i, p := range providers {
		list, err := p.Exemptions(ctx)
		if err != nil {
			return nil, fmt.Errorf("exemption provider %d: %w", i+1, err)
		}
		all = append(all, list...)
	}
	return all, nil
}

// Validate says why an exemption cannot be honoured at now, or nil. Every
// problem is named: "no reason; no approver; expired on 2024-02-01T12:00:00Z".
func Validate(e Exemption, now time.Time) error {
	var problems []string
	if strings.TrimSpace(e.Reason) == "" {
		problems = append(problems, "no reason")
	}
	if strings.TrimSpace(e.ApprovedBy) == "" {
		problems = append(problems, "no approver")
	}
	switch {
	case e.badExpiry != "":
		problems = append(problems, fmt.Sprintf("bad expiry %q (want RFC 3339 such as 2024-02-01T12:00:00Z, or a date such as 2024-02-01)", e.badExpiry))
	case e.ExpiresAt.IsZero():
		problems = append(problems, "no expiry")
	case !now.Before(e.ExpiresAt):
		problems = append(problems, "expired on "+FormatExpiry(e.ExpiresAt))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// Expired reports whether the exemption has an expiry that is not after now.
func (e Exemption) Expired(now time.Time) bool {
	return e.badExpiry == "" && !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt)
}

// Finding is what a finding records about the exemption that covers it.
func (e Exemption) Finding() finding.Exemption {
	out := finding.Exemption{
		Source:     e.Source,
		ID:         e.ID,
		Reason:     e.Reason,
		ApprovedBy: e.ApprovedBy,
		Emergency:  e.Emergency,
	}
	if !e.ExpiresAt.IsZero() {
		t := e.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

// Target is what the exemption names: "attest-security/privileged-container
// on Pod/monitoring/legacy".
func (e Exemption) Target() string {
	what := e.Policy
	switch {
	case e.Rule != "":
		what = fullRule(e.Policy, e.Rule)
	case what == "":
		what = "all policies"
	}
	return what + " on " + finding.ResourceRef{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name}.String()
}

// ParseExpiry reads an expiry: RFC 3339 ("2024-02-01T12:00:00Z", with an
// offset or fractional seconds too), or a bare date ("2024-02-01") meaning
// the end of that day in UTC (23:59:59.999999999Z).
func ParseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	// RFC 3339 allows "t" and "z" in lower case (section 5.6), and a leap
	// second (":60"), which Go's layout refuses: read as the next second.
	u := strings.ToUpper(s)
	if t, err := time.Parse(time.RFC3339Nano, u); err == nil {
		return t, nil
	}
	if len(u) > 19 && u[10] == 'T' && u[16] == ':' && u[17:19] == "60" {
		if t, err := time.Parse(time.RFC3339Nano, u[:17]+"59"+u[19:]); err == nil {
			return t.Add(time.Second), nil
		}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	return time.Time{}, fmt.Errorf("bad expiry %q (want RFC 3339 such as 2024-02-01T12:00:00Z, or a date such as 2024-02-01)", s)
}

// FormatExpiry writes an expiry in UTC to the second; an end-of-day expiry
// (as a bare date gives) is written as the date alone.
func FormatExpiry(t time.Time) string {
	u := t.UTC()
	if u.Hour() == 23 && u.Minute() == 59 && u.Second() == 59 && u.Nanosecond() == 999999999 {
		return u.Format(time.DateOnly)
	}
	return u.Truncate(time.Second).Format(time.RFC3339)
}

// fullRule gives the full rule id of rule within policy.
func fullRule(policy, rule string) string {
	if policy == "" || strings.Contains(rule, "/") {
		return rule
	}
	return policy + "/" + rule
}

var (
	kindRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// ParseResourceRef reads "Kind/namespace/name" or, for cluster-scoped kinds,
// "Kind/name", as the exemption commands take them.
func ParseResourceRef(s string) (finding.ResourceRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return finding.ResourceRef{}, errors.New("empty resource reference (want Kind/namespace/name, or Kind/name for a cluster-scoped kind)")
	}
	parts := strings.Split(s, "/")
	var ref finding.ResourceRef
	switch len(parts) {
	case 2:
		ref = finding.ResourceRef{Kind: parts[0], Name: parts[1]}
	case 3:
		ref = finding.ResourceRef{Kind: parts[0], Namespace: parts[1], Name: parts[2]}
	default:
		return finding.ResourceRef{}, fmt.Errorf("resource reference %q has %d parts (want Kind/namespace/name, or Kind/name for a cluster-scoped kind)", s, len(parts))
	}
	if !kindRE.MatchString(ref.Kind) {
		return finding.ResourceRef{}, fmt.Errorf("resource reference %q: kind %q is not a Kubernetes kind (letters and digits, starting with a letter, such as Pod)", s, ref.Kind)
	}
	if len(parts) == 3 && (len(ref.Namespace) > 63 || !namespaceRE.MatchString(ref.Namespace)) {
		return finding.ResourceRef{}, fmt.Errorf("resource reference %q: namespace %q is not a valid namespace (lower-case letters, digits and '-', at most 63)", s, ref.Namespace)
	}
	// The same names an exemptions file takes (a prefix glob at most), so
	// an approved request exports to a file that loads.
	if err := checkGlob(ref.Name, false); err != nil {
		return finding.ResourceRef{}, fmt.Errorf("resource reference %q: %v", s, err)
	}
	return ref, nil
}

// CheckRule says whether rule can narrow an exemption of policy: one
// rule's id, bare or with the policy in front ("privileged-container" or
// "attest-security/privileged-container"). Empty means the whole policy.
func CheckRule(policy, rule string) error {
	if rule == "" {
		return nil
	}
	if strings.ContainsAny(rule, "* \t") {
		return fmt.Errorf("rule %q: want one rule's id, such as privileged-container or attest-security/privileged-container", rule)
	}
	if p, _, ok := strings.Cut(rule, "/"); ok && p != policy {
		return fmt.Errorf("rule %q is not in policy %q", rule, policy)
	}
	return nil
}

// checkName accepts any Kubernetes object name (RBAC names may hold ':'),
// refusing only what no object can be called.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q is not allowed", name)
	case len(name) > 253:
		return fmt.Errorf("name is %d characters long (at most 253)", len(name))
	case strings.ContainsAny(name, " \t\r\n%"):
		return fmt.Errorf("name %q holds a space or '%%'", name)
	}
	return nil
}
