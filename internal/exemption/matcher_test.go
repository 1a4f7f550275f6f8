package exemption

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

var now = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func res(kind, ns, name string, ann map[string]string) *manifest.Resource {
	return &manifest.Resource{
		Location:    finding.Location{File: "k8s/app.yaml", Document: 1, Line: 3, Column: 1},
		Item:        -1,
		APIVersion:  "v1",
		Kind:        kind,
		Namespace:   ns,
		Name:        name,
		Annotations: ann,
	}
}

func fnd(policy, rule string) finding.Finding {
	return finding.Finding{Policy: policy, Rule: policy + "/" + rule, Kind: finding.KindViolation, Message: rule}
}

// ann builds valid exemption annotations exempting value.
func ann(value string) map[string]string {
	return map[string]string{
		AnnotationExempt:     value,
		AnnotationReason:     "Emergency hotfix deployment",
		AnnotationApprovedBy: "incident-commander@company.com",
		AnnotationExpires:    "2024-02-01T12:00:00Z",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func fileEx(policy, rule, kind, ns, name string) Exemption {
	e := Exemption{
		Source: "file:.attest/exemptions.yaml", Policy: policy, Rule: rule,
		Kind: kind, Namespace: ns, Name: name,
		Reason: "Legacy monitoring tool pending security upgrade", ApprovedBy: "security-team@company.com",
		ExpiresAt: time.Date(2024, 6, 30, 23, 59, 59, 0, time.UTC),
		Location:  finding.Location{File: ".attest/exemptions.yaml", Line: 2, Column: 3},
	}
	e.ID = strings.Replace(e.Target(), " on ", ":", 1)
	return e
}

var teams = map[string][]string{
	"security-team":   {"alice@company.com", "Bob <bob@company.com>"},
	"compliance-team": {"carol@company.com"},
	"dev-team":        {"dave@company.com"},
}

func TestApply(t *testing.T) {
	sec := fnd("attest-security", "privileged-container")
	sec2 := fnd("attest-security", "run-as-root")
	dep := fnd("attest-deployment", "receipt")
	errF := fnd("attest-security", "privileged-container")
	errF.Kind = finding.KindError
	warnF := fnd("attest-security", "latest-tag")
	warnF.Kind = finding.KindWarning

	honour := WithAnnotations(true)
	type tc struct {
		name     string
		r        *manifest.Resource
		opts     []Option
		findings []finding.Finding
		exempted []bool   // per finding
		notes    []string // substrings, one per note, in order
		expired  int
	}
	cases := []tc{
		{name: "annotation true exempts every policy", r: res("Pod", "prod", "x", ann("true")), opts: []Option{honour},
			findings: []finding.Finding{sec, dep, warnF}, exempted: []bool{true, true, true}},
		{name: "annotation * is true", r: res("Pod", "prod", "x", ann("*")), opts: []Option{honour},
			findings: []finding.Finding{sec, dep}, exempted: []bool{true, true}},
		{name: "annotation false exempts nothing", r: res("Pod", "prod", "x", ann("false")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "annotation ignored by configuration", r: res("Pod", "prod", "x", ann("true")),
			findings: []finding.Finding{sec, dep}, exempted: []bool{false, false},
			notes: []string{"exemption in annotations of Pod/prod/x not honoured: annotations are ignored by configuration"}},
		{name: "annotation ignored explicitly", r: res("Pod", "prod", "x", ann("true")), opts: []Option{WithAnnotations(false)},
			findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"annotations are ignored by configuration"}},
		{name: "ignored annotation that covers nothing says nothing", r: res("Pod", "prod", "x", ann("attest-compliance")),
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "policy list", r: res("Pod", "prod", "x", ann("attest-security, attest-compliance")), opts: []Option{honour},
			findings: []finding.Finding{sec, sec2, dep}, exempted: []bool{true, true, false}},
		{name: "rule id in annotation", r: res("Pod", "prod", "x", ann("attest-security/privileged-container")), opts: []Option{honour},
			findings: []finding.Finding{sec, sec2, dep}, exempted: []bool{true, false, false}},
		{name: "rule id and policy mixed", r: res("Pod", "prod", "x", ann("attest-security/run-as-root,attest-deployment")), opts: []Option{honour},
			findings: []finding.Finding{sec, sec2, dep}, exempted: []bool{false, true, true}},
		{name: "no reason", r: res("Pod", "prod", "x", with(ann("true"), AnnotationReason, "<delete>")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"exemption in annotations of Pod/prod/x not honoured: no reason"}},
		{name: "blank reason", r: res("Pod", "prod", "x", with(ann("true"), AnnotationReason, "  ")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"not honoured: no reason"}},
		{name: "no approver", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "<delete>")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"exemption in annotations of Pod/prod/x not honoured: no approver"}},
		{name: "no expiry", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "<delete>")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"not honoured: no expiry"}},
		{name: "expired", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "2024-01-01T12:00:00Z")), opts: []Option{honour},
			findings: []finding.Finding{sec, dep}, exempted: []bool{false, false},
			notes: []string{"not honoured: expired on 2024-01-01T12:00:00Z"}, expired: 1},
		{name: "expiry at this very instant is expired", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, now.Format(time.RFC3339))), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"expired on 2024-01-15T10:00:00Z"}, expired: 1},
		{name: "date-only expiry today still valid", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "2024-01-15")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "date-only expiry yesterday", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "2024-01-14")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"expired on 2024-01-14"}, expired: 1},
		{name: "expiry with offset", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "2024-01-15T11:30:00+02:00")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"expired on 2024-01-15T09:30:00Z"}, expired: 1},
		{name: "bad expiry", r: res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "next tuesday")), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{`not honoured: bad expiry "next tuesday"`}},
		{name: "every problem named", r: res("Pod", "prod", "x", map[string]string{AnnotationExempt: "true"}), opts: []Option{honour},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"not honoured: no reason; no approver; no expiry"}},
		{name: "error findings never exempted", r: res("Pod", "prod", "x", ann("true")), opts: []Option{honour},
			findings: []finding.Finding{errF, sec}, exempted: []bool{false, true}},
		{name: "only error findings: no note", r: res("Pod", "prod", "x", with(ann("true"), AnnotationReason, "<delete>")), opts: []Option{honour},
			findings: []finding.Finding{errF}, exempted: []bool{false}},

		// Teams.
		{name: "approver member of required team", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "Alice@Company.com")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "approver written Name <email>", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "Bob B <bob@company.com>")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "approver not in required team", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "carol@company.com")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"not honoured: approver carol@company.com is not in an approving team (security-team)"}},
		{name: "approver unknown", r: res("Pod", "prod", "x", ann("true")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team", "compliance-team"})}, findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"approver incident-commander@company.com is not in an approving team (compliance-team, security-team)"}},
		{name: "no required teams: any declared team approves", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "dave@company.com")),
			opts: []Option{honour, WithTeams(teams, nil)}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "no teams declared: any approver", r: res("Pod", "prod", "x", ann("true")),
			opts: []Option{honour, WithTeams(nil, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "team address of approving team", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "security-team@company.com")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "bare team name of approving team", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "Security-Team")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "team address on a foreign domain", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "security-team@evil.example")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"approver security-team@evil.example is not in an approving team"}},
		{name: "team address of a non-approving team", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "dev-team@company.com")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{false},
			notes: []string{"approver dev-team@company.com is not in an approving team (security-team)"}},
		{name: "one of several approvers counts", r: res("Pod", "prod", "x", with(ann("true"), AnnotationApprovedBy, "dave@company.com, alice@company.com")),
			opts: []Option{honour, WithTeams(teams, []string{"security-team"})}, findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "teams do not apply to file exemptions", r: res("Pod", "monitoring", "legacy", nil),
			opts:     []Option{WithTeams(teams, []string{"compliance-team"}), WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},

		// File and store exemptions.
		{name: "file policy exemption", r: res("Pod", "monitoring", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec, sec2, dep, errF}, exempted: []bool{true, true, false, false}},
		{name: "file exemption kind is case-insensitive", r: res("Pod", "monitoring", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "file rule exemption short id", r: res("Pod", "monitoring", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "run-as-root", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec, sec2}, exempted: []bool{false, true}},
		{name: "file rule exemption full id", r: res("Pod", "monitoring", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "attest-security/run-as-root", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec, sec2}, exempted: []bool{false, true}},
		{name: "store rule exemption without policy", r: res("Pod", "monitoring", "legacy", nil),
			opts: []Option{WithExemptions([]Exemption{func() Exemption {
				e := fileEx("", "attest-security/run-as-root", "Pod", "monitoring", "legacy")
				e.Source = SourceStore
				return e
			}()})},
			findings: []finding.Finding{sec, sec2}, exempted: []bool{false, true}},
		{name: "other namespace not matched", r: res("Pod", "default", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "other kind not matched", r: res("Deployment", "monitoring", "legacy", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy")})},
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "name glob", r: res("Pod", "monitoring", "legacy-exporter", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy-*")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "name glob not matching", r: res("Pod", "monitoring", "new-exporter", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "monitoring", "legacy-*")})},
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "namespace glob", r: res("Pod", "team-a-prod", "api", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "team-a-*", "*")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "star namespace matches no namespace", r: res("Pod", "", "api", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "*", "api")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "cluster-scoped kind", r: res("ClusterRole", "", "admin", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "ClusterRole", "", "admin")})},
			findings: []finding.Finding{sec}, exempted: []bool{true}},
		{name: "empty namespace does not match a namespaced resource", r: res("Pod", "prod", "api", nil),
			opts:     []Option{WithExemptions([]Exemption{fileEx("attest-security", "", "Pod", "", "api")})},
			findings: []finding.Finding{sec}, exempted: []bool{false}},
		{name: "file exemption expired", r: res("Pod", "monitoring", "legacy", nil),
			opts: []Option{WithExemptions([]Exemption{func() Exemption {
				e := fileEx("attest-security", "", "Pod", "monitoring", "legacy")
				e.ExpiresAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
				return e
			}()})},
			findings: []finding.Finding{sec, sec2}, exempted: []bool{false, false},
			notes: []string{"exemption attest-security:Pod/monitoring/legacy from .attest/exemptions.yaml not honoured for Pod/monitoring/legacy: expired on 2024-01-01T00:00:00Z"}, expired: 1},
		{name: "file exemption without approver", r: res("Pod", "monitoring", "legacy", nil),
			opts: []Option{WithExemptions([]Exemption{func() Exemption {
				e := fileEx("attest-security", "", "Pod", "monitoring", "legacy")
				e.ApprovedBy = ""
				return e
			}()})},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"not honoured for Pod/monitoring/legacy: no approver"}},
		{name: "invalid file exemption, valid annotation", r: res("Pod", "monitoring", "legacy", ann("attest-security")),
			opts: []Option{honour, WithExemptions([]Exemption{func() Exemption {
				e := fileEx("attest-security", "", "Pod", "monitoring", "legacy")
				e.Reason = ""
				return e
			}()})},
			findings: []finding.Finding{sec}, exempted: []bool{true}, notes: []string{"from .attest/exemptions.yaml not honoured for Pod/monitoring/legacy: no reason"}},
		{name: "store exemption note", r: res("Pod", "monitoring", "legacy", nil),
			opts: []Option{WithExemptions([]Exemption{func() Exemption {
				e := fileEx("attest-security", "", "Pod", "monitoring", "legacy")
				e.Source, e.ID, e.ExpiresAt = SourceStore, "exemption-123", time.Time{}
				return e
			}()})},
			findings: []finding.Finding{sec}, exempted: []bool{false}, notes: []string{"exemption exemption-123 from the approval store not honoured for Pod/monitoring/legacy: no expiry"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMatcher(append([]Option{WithClock(clock)}, c.opts...)...)
			fs := append([]finding.Finding(nil), c.findings...)
			notes, expired := m.Apply(c.r, fs)
			for i, f := range fs {
				if f.Exempted() != c.exempted[i] {
					t.Errorf("finding %d (%s, %s): exempted = %v, want %v", i, f.Rule, f.Kind, f.Exempted(), c.exempted[i])
				}
			}
			if len(notes) != len(c.notes) {
				t.Fatalf("notes = %v, want %d like %q", notes, len(c.notes), c.notes)
			}
			for i, n := range notes {
				if !strings.Contains(n.Message, c.notes[i]) {
					t.Errorf("note %d = %q, want it to contain %q", i, n.Message, c.notes[i])
				}
			}
			if len(expired) != c.expired {
				t.Errorf("expired = %v, want %d", expired, c.expired)
			}
		})
	}
}

func TestApplyRecordsWhichExemption(t *testing.T) {
	store := fileEx("attest-security", "", "Pod", "prod", "x")
	store.Source, store.ID, store.Emergency = SourceStore, "override-7", true
	m := NewMatcher(WithClock(clock), WithAnnotations(true), WithExemptions([]Exemption{store}))
	fs := []finding.Finding{fnd("attest-security", "a"), fnd("attest-deployment", "b"), fnd("attest-security", "c")}
	r := res("Pod", "prod", "x", ann("attest-deployment,attest-security/c"))
	if notes, expired := m.Apply(r, fs); notes != nil || expired != nil {
		t.Fatalf("notes %v expired %v", notes, expired)
	}
	want := []finding.Exemption{
		{Source: SourceStore, ID: "override-7", Reason: store.Reason, ApprovedBy: store.ApprovedBy, Emergency: true},
		{Source: SourceAnnotation, ID: "Pod/prod/x", Reason: "Emergency hotfix deployment", ApprovedBy: "incident-commander@company.com"},
		// The rule-level annotation is more specific than the store's policy-level exemption.
		{Source: SourceAnnotation, ID: "Pod/prod/x", Reason: "Emergency hotfix deployment", ApprovedBy: "incident-commander@company.com"},
	}
	wantExp := []time.Time{store.ExpiresAt, time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)}
	for i, f := range fs {
		if f.Exemption == nil {
			t.Fatalf("finding %d not exempted", i)
		}
		got := *f.Exemption
		if got.ExpiresAt == nil || !got.ExpiresAt.Equal(wantExp[i]) {
			t.Errorf("finding %d: expires %v, want %v", i, got.ExpiresAt, wantExp[i])
		}
		got.ExpiresAt = nil
		if got != want[i] {
			t.Errorf("finding %d: exemption %+v, want %+v", i, got, want[i])
		}
	}
	if fs[0].Exemption.ExpiresAt == fs[2].Exemption.ExpiresAt {
		t.Error("findings share an ExpiresAt pointer")
	}
}

func TestApplyLeavesExemptedFindingsAlone(t *testing.T) {
	m := NewMatcher(WithClock(clock), WithAnnotations(true))
	f := fnd("main", "deny")
	f.Exemption = &finding.Exemption{Source: "conftest exception", Reason: "r"}
	fs := []finding.Finding{f}
	m.Apply(res("Pod", "prod", "x", ann("true")), fs)
	if fs[0].Exemption.Source != "conftest exception" {
		t.Errorf("exemption overwritten: %+v", fs[0].Exemption)
	}
}

func TestApplyExpiredListedOncePerResource(t *testing.T) {
	e := fileEx("attest-security", "", "Pod", "prod", "*")
	e.ExpiresAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMatcher(WithClock(clock), WithAnnotations(true), WithExemptions([]Exemption{e}))
	fs := []finding.Finding{fnd("attest-security", "a"), fnd("attest-security", "b"), fnd("attest-deployment", "c")}
	r := res("Pod", "prod", "x", with(ann("attest-security,attest-deployment"), AnnotationExpires, "2023-12-31"))
	notes, expired := m.Apply(r, fs)
	if len(expired) != 2 {
		t.Fatalf("expired = %+v, want the file's and the annotations'", expired)
	}
	if expired[0].ID != e.ID || expired[1].Source != SourceAnnotation {
		t.Errorf("expired = %+v", expired)
	}
	if len(notes) != 2 {
		t.Errorf("notes = %+v, want one for the file entry and one for the annotations", notes)
	}
	if notes[0].Location != e.Location {
		t.Errorf("file note at %v, want %v", notes[0].Location, e.Location)
	}
	if notes[1].Location.File != "k8s/app.yaml" || notes[1].Location.Line != 3 || !strings.Contains(notes[1].Location.Field, AnnotationExempt) {
		t.Errorf("annotation note at %+v", notes[1].Location)
	}
}

func TestIgnoredAnnotationsAreNotListedExpired(t *testing.T) {
	m := NewMatcher(WithClock(clock))
	_, expired := m.Apply(res("Pod", "prod", "x", with(ann("true"), AnnotationExpires, "2020-01-01")), []finding.Finding{fnd("p", "r")})
	if expired != nil {
		t.Errorf("expired = %v", expired)
	}
}

func TestClockIsConsulted(t *testing.T) {
	current := now
	m := NewMatcher(WithClock(func() time.Time { return current }), WithAnnotations(true))
	r := res("Pod", "prod", "x", ann("true"))
	fs := []finding.Finding{fnd("p", "r")}
	m.Apply(r, fs)
	if !fs[0].Exempted() {
		t.Fatal("not exempted before expiry")
	}
	current = time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	fs = []finding.Finding{fnd("p", "r")}
	notes, expired := m.Apply(r, fs)
	if fs[0].Exempted() || len(notes) != 1 || len(expired) != 1 {
		t.Errorf("after expiry: exempted %v, notes %v, expired %v", fs[0].Exempted(), notes, expired)
	}
}

func TestUnusedConcurrent(t *testing.T) {
	var list []Exemption
	for i := range 20 {
		list = append(list, fileEx("attest-security", "", "Pod", "prod", fmt.Sprintf("app-%d", i)))
	}
	unmatched := fileEx("attest-security", "", "Pod", "prod", "gone")
	wrongRule := fileEx("attest-security", "nope", "Pod", "prod", "app-1")
	list = append(list, unmatched, wrongRule)
	m := NewMatcher(WithClock(clock), WithExemptions(list))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				fs := []finding.Finding{fnd("attest-security", "privileged-container")}
				m.Apply(res("Pod", "prod", fmt.Sprintf("app-%d", i), nil), fs)
				if !fs[0].Exempted() {
					t.Errorf("app-%d not exempted", i)
				}
			}
		}()
	}
	wg.Wait()
	got := m.Unused()
	if len(got) != 2 || got[0].Name != "gone" || got[1].Rule != "nope" {
		t.Errorf("Unused = %+v", got)
	}
}

func TestNewMatcherCopiesInput(t *testing.T) {
	list := []Exemption{fileEx("attest-security", "", "Pod", "prod", "x")}
	tm := map[string][]string{"security-team": {"alice@company.com"}}
	m := NewMatcher(WithClock(clock), WithExemptions(list), WithTeams(tm, nil))
	list[0].Name = "changed"
	tm["security-team"][0] = "mallory@company.com"
	fs := []finding.Finding{fnd("attest-security", "r")}
	m.Apply(res("Pod", "prod", "x", nil), fs)
	if !fs[0].Exempted() {
		t.Error("matcher saw the caller's later change to the list")
	}
	if p := m.approverProblem("alice@company.com"); p != "" {
		t.Errorf("matcher saw the caller's later change to the teams: %s", p)
	}
}

func TestValidate(t *testing.T) {
	good := fileEx("attest-security", "", "Pod", "prod", "x")
	cases := []struct {
		name string
		edit func(*Exemption)
		want string // "" for valid
	}{
		{"valid", func(*Exemption) {}, ""},
		{"no reason", func(e *Exemption) { e.Reason = " " }, "no reason"},
		{"no approver", func(e *Exemption) { e.ApprovedBy = "" }, "no approver"},
		{"no expiry", func(e *Exemption) { e.ExpiresAt = time.Time{} }, "no expiry"},
		{"past expiry", func(e *Exemption) { e.ExpiresAt = now.Add(-time.Second) }, "expired on 2024-01-15T09:59:59Z"},
		{"date-only past expiry", func(e *Exemption) { e.ExpiresAt, _ = ParseExpiry("2024-01-14") }, "expired on 2024-01-14"},
		{"bad expiry", func(e *Exemption) { e.badExpiry = "soon" }, `bad expiry "soon"`},
		{"all", func(e *Exemption) { *e = Exemption{} }, "no reason; no approver; no expiry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := good
			c.edit(&e)
			err := Validate(e, now)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case c.want != "" && (err == nil || err.Error() != c.want && !strings.Contains(err.Error(), c.want)):
				t.Errorf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2024-02-01T12:00:00Z", time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC), false},
		{" 2024-02-01T12:00:00.5+01:00 ", time.Date(2024, 2, 1, 11, 0, 0, 5e8, time.UTC), false},
		{"2024-02-01", time.Date(2024, 2, 1, 23, 59, 59, 999999999, time.UTC), false},
		{"2024-02-30", time.Time{}, true},
		{"02/01/2024", time.Time{}, true},
		{"", time.Time{}, true},
		{"2024-02-01 12:00:00", time.Time{}, true},
		{"2099-01-01t00:00:00z", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2099-06-30T23:59:60Z", time.Date(2099, 7, 1, 0, 0, 0, 0, time.UTC), false},
		{"2099-06-30T23:59:61Z", time.Time{}, true},
	}
	for _, c := range cases {
		got, err := ParseExpiry(c.in)
		if (err != nil) != c.err || !got.Equal(c.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v, err %v", c.in, got, err, c.want, c.err)
		}
	}
	if s := FormatExpiry(time.Date(2024, 2, 1, 23, 59, 59, 999999999, time.UTC)); s != "2024-02-01" {
		t.Errorf("FormatExpiry(end of day) = %q", s)
	}
}

func TestParseResourceRef(t *testing.T) {
	cases := []struct {
		in   string
		want finding.ResourceRef
		err  string
	}{
		{in: "Pod/monitoring/legacy-app", want: finding.ResourceRef{Kind: "Pod", Namespace: "monitoring", Name: "legacy-app"}},
		{in: " ClusterRole/system:controller:foo ", want: finding.ResourceRef{Kind: "ClusterRole", Name: "system:controller:foo"}},
		{in: "Namespace/prod", want: finding.ResourceRef{Kind: "Namespace", Name: "prod"}},
		{in: "", err: "empty resource reference"},
		{in: "Pod", err: "has 1 parts"},
		{in: "Pod/a/b/c", err: "has 4 parts"},
		{in: "/ns/x", err: `kind ""`},
		{in: "pod-x/ns/x", err: `kind "pod-x"`},
		{in: "Pod/Prod/x", err: `namespace "Prod"`},
		{in: "Pod//x", err: `namespace ""`},
		{in: "Pod/ns/", err: "empty name"},
		{in: "Pod/ns/a b", err: "holds a space"},
	}
	for _, c := range cases {
		got, err := ParseResourceRef(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseResourceRef(%q) = %v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseResourceRef(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseResourceRef(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", c.in, again, err)
		}
	}
}

// exempter is the shape internal/check expects.
type exempter interface {
	Apply(r *manifest.Resource, findings []finding.Finding) (notes []finding.Note, expired []finding.Exemption)
}

var _ exempter = (*Matcher)(nil)

func TestZeroMatcher(t *testing.T) {
	var m Matcher
	fs := []finding.Finding{fnd("p", "r")}
	notes, expired := m.Apply(res("Pod", "prod", "x", ann("true")), fs)
	if fs[0].Exempted() || len(notes) != 1 || expired != nil || m.Unused() != nil {
		t.Errorf("zero matcher: exempted %v, notes %v, expired %v", fs[0].Exempted(), notes, expired)
	}
	if n, e := m.Apply(nil, fs); n != nil || e != nil {
		t.Error("nil resource")
	}
}

// An exemption naming a policy the run does not have exempts nothing: it
// is noted, with the closest name, wherever it was written.
func TestUnknownPolicies(t *testing.T) {
	file := []Exemption{
		{ID: "typo", Source: "file:.attest/exemptions.yaml", Policy: "atest-security", Kind: "Pod", Name: "api",
			Location: finding.Location{File: ".attest/exemptions.yaml", Line: 2, Column: 5}},
		{ID: "good", Source: "file:.attest/exemptions.yaml", Policy: "attest-security", Kind: "Pod", Name: "api"},
		{ID: "all", Source: "file:.attest/exemptions.yaml", Kind: "Pod", Name: "api"},
		{ID: "far", Source: "file:.attest/exemptions.yaml", Policy: "no-such-thing", Kind: "Pod", Name: "api"},
	}
	policies := map[string]string{"attest-security": "attest-security", "attest.security": "attest-security",
		"attest-deployment": "attest-deployment", "attest.deployment": "attest-deployment"}
	m := NewMatcher(WithExemptions(file), WithAnnotations(true), WithClock(clock), WithPolicies(policies))
	notes := m.UnknownPolicies()
	if len(notes) != 2 {
		t.Fatalf("notes %v, want 2 (typo, far)", notes)
	}
	if n := notes[0]; n.Location.Line != 2 || !strings.Contains(n.Message, `exemption typo`) ||
		!strings.Contains(n.Message, `names policy "atest-security"`) || !strings.Contains(n.Message, `did you mean "attest-security"?`) {
		t.Errorf("note %+v", n)
	}
	if strings.Contains(notes[1].Message, "did you mean") {
		t.Errorf("no close name, yet: %s", notes[1].Message)
	}

	r := res("Pod", "prod", "api", ann("atest-security, attest-deployment"))
	got, _ := m.Apply(r, []finding.Finding{fnd("attest-deployment", "replicas")})
	var unknown int
	for _, n := range got {
		if strings.Contains(n.Message, `names policy "atest-security"`) {
			unknown++
		}
	}
	if unknown != 1 {
		t.Errorf("Apply notes %v, want one naming atest-security", got)
	}

	// A policy named by its package (governance accepts both) is known, and
	// covers the findings, which carry the name.
	byPackage := []Exemption{{ID: "pkg", Source: "store", Policy: "attest.security", Kind: "Pod", Namespace: "prod", Name: "api",
		Reason: "r", ApprovedBy: "alice@company.com", ExpiresAt: now.Add(time.Hour)}}
	mp := NewMatcher(WithExemptions(byPackage), WithClock(clock), WithPolicies(policies))
	if notes := mp.UnknownPolicies(); notes != nil {
		t.Errorf("a package name: notes %v", notes)
	}
	byPackage = append(byPackage, Exemption{ID: "pkg-rule", Source: "store", Policy: "attest.security",
		Rule: "attest.security/run-as-root", Kind: "Pod", Namespace: "prod", Name: "api",
		Reason: "r", ApprovedBy: "alice@company.com", ExpiresAt: now.Add(time.Hour)})
	byPackage = append(byPackage, Exemption{ID: "mixed", Source: "store", Policy: "attest-security",
		Rule: "attest.security/read-only-root", Kind: "Pod", Namespace: "prod", Name: "api",
		Reason: "r", ApprovedBy: "alice@company.com", ExpiresAt: now.Add(time.Hour)})
	mp = NewMatcher(WithExemptions(byPackage), WithClock(clock), WithPolicies(policies))
	fs := []finding.Finding{fnd("attest-security", "privileged-container"), fnd("attest-security", "run-as-root"),
		fnd("attest-security", "read-only-root")}
	if notes, _ := mp.Apply(res("Pod", "prod", "api", nil), fs); notes != nil {
		t.Logf("notes %v", notes)
	}
	if fs[0].Exemption == nil || fs[0].Exemption.ID != "pkg" {
		t.Errorf("an exemption naming the package does not cover the finding: %+v", fs[0])
	}
	if fs[1].Exemption == nil || fs[1].Exemption.ID != "pkg-rule" {
		t.Errorf("a rule named under the package does not cover its finding: %+v", fs[1])
	}
	if fs[2].Exemption == nil || fs[2].Exemption.ID != "mixed" {
		t.Errorf("a policy by name with its rule by package does not cover the finding: %+v", fs[2])
	}

	// Without WithPolicies, names are not checked.
	if notes := NewMatcher(WithExemptions(file)).UnknownPolicies(); notes != nil {
		t.Errorf("unchecked: notes %v", notes)
	}
}
