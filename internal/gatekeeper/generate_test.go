package gatekeeper

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
)

var genNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ex is an exemption attest honours at genNow, of every name of kind in
// namespace ns.
func ex(policyName, kind, ns string) exemption.Exemption {
	return exemption.Exemption{
		ID: policyName + ":" + kind + "/" + ns + "/*", Source: "file:.attest/exemptions.yaml",
		Policy: policyName, Kind: kind, Namespace: ns, Name: "*",
		Reason: "load tests", ApprovedBy: "security-team@company.com",
		ExpiresAt: time.Date(2030, 6, 30, 0, 0, 0, 0, time.UTC),
	}
}

func pol(name string, kinds ...[]string) *policy.Policy {
	p := &policy.Policy{Name: name}
	for _, ks := range kinds {
		p.Rules = append(p.Rules, &policy.RuleSpec{Rule: finding.Rule{Kinds: ks}, Name: "violation"})
	}
	return p
}

func TestMatchForExemptions(t *testing.T) {
	podOnly := pol("p", []string{"Pod"})
	podDeploy := pol("p", []string{"Pod"}, []string{"Deployment"})
	withRole := pol("p", []string{"Pod", "ClusterRole"})
	withNS := pol("p", []string{"Pod", "Namespace"})
	anyKind := pol("p", nil)
	with := func(e exemption.Exemption, f func(*exemption.Exemption)) exemption.Exemption {
		f(&e)
		return e
	}
	cases := []struct {
		name     string
		p        *policy.Policy
		exs      []exemption.Exemption
		excluded []string // want excludedNamespaces
		carried  []string // want carried ids
		notes    []string // each want note holds this text, in order
	}{
		{name: "whole namespace of the only kind", p: podOnly, exs: []exemption.Exemption{ex("p", "Pod", "sandbox")},
			excluded: []string{"sandbox"}, carried: []string{"p:Pod/sandbox/*"},
			notes: []string{"namespace sandbox is excluded from the constraint (exemption p:Pod/sandbox/*); Gatekeeper knows no expiry: generate and apply again when it expires on 2030-06-30T00:00:00Z"}},
		{name: "kind compared without case", p: podOnly, exs: []exemption.Exemption{ex("p", "pod", "sandbox")},
			excluded: []string{"sandbox"}, carried: []string{"p:pod/sandbox/*"}, notes: []string{"is excluded"}},
		{name: "prefix glob", p: podOnly, exs: []exemption.Exemption{ex("p", "Pod", "team-*")},
			excluded: []string{"team-*"}, carried: []string{"p:Pod/team-*/*"}, notes: []string{"is excluded"}},
		{name: "other policy", p: podOnly, exs: []exemption.Exemption{ex("q", "Pod", "sandbox")}},
		{name: "every policy", p: podOnly, exs: []exemption.Exemption{ex("", "Pod", "sandbox")},
			excluded: []string{"sandbox"}, carried: []string{":Pod/sandbox/*"}, notes: []string{"is excluded"}},
		{name: "a kind missing", p: podDeploy, exs: []exemption.Exemption{ex("p", "Pod", "sandbox")},
			notes: []string{"exemption p:Pod/sandbox/* is not carried over to Gatekeeper: the constraint also matches Deployment, which excludedNamespaces sandbox would exempt too"}},
		{name: "every kind named", p: podDeploy, exs: []exemption.Exemption{ex("p", "Pod", "sandbox"), ex("p", "Deployment", "sandbox"), ex("p", "Pod", "perf")},
			excluded: []string{"sandbox"}, carried: []string{"p:Pod/sandbox/*", "p:Deployment/sandbox/*"},
			notes: []string{"namespace sandbox is excluded", "exemption p:Pod/perf/* is not carried over to Gatekeeper: the constraint also matches Deployment"}},
		{name: "cluster-scoped kinds need no exemption", p: withRole, exs: []exemption.Exemption{ex("p", "Pod", "sandbox")},
			excluded: []string{"sandbox"}, carried: []string{"p:Pod/sandbox/*"}, notes: []string{"is excluded"}},
		{name: "Namespace objects", p: withNS, exs: []exemption.Exemption{ex("p", "Pod", "sandbox")},
			notes: []string{"would exempt the Namespace sandbox itself"}},
		{name: "every kind", p: anyKind, exs: []exemption.Exemption{ex("p", "Pod", "sandbox")},
			notes: []string{"the constraint matches every kind"}},
		{name: "one resource", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.Name = "big" })},
			notes: []string{"it exempts one resource (big), and a constraint's match can select a name (match.name) but not exclude one"}},
		{name: "a name glob", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.Name = "legacy-*" })},
			notes: []string{"it exempts resources by name (legacy-*)"}},
		{name: "one rule", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.Rule = "r" })},
			notes: []string{"it exempts one rule (r)"}},
		{name: "every namespace", p: podOnly, exs: []exemption.Exemption{ex("p", "Pod", "*")},
			notes: []string{"it names every namespace"}},
		{name: "no namespace", p: podOnly, exs: []exemption.Exemption{ex("p", "Pod", "")},
			notes: []string{"resources without a namespace"}},
		{name: "expired", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.ExpiresAt = genNow })},
			notes: []string{"p: exemption p:Pod/sandbox/* is not carried over to Gatekeeper: attest does not honour it (expired on 2026-01-01T00:00:00Z) either"}},
		{name: "no approver, no reason", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.ApprovedBy, e.Reason = "", " " })},
			notes: []string{"attest does not honour it (no reason; no approver)"}},
		{name: "no expiry", p: podOnly, exs: []exemption.Exemption{with(ex("p", "Pod", "sandbox"), func(e *exemption.Exemption) { e.ExpiresAt = time.Time{} })},
			notes: []string{"(no expiry)"}},
		{name: "an honoured and an expired one", p: podDeploy, exs: []exemption.Exemption{ex("p", "Pod", "sandbox"), with(ex("p", "Deployment", "sandbox"), func(e *exemption.Exemption) { e.ExpiresAt = genNow.Add(-time.Hour) })},
			notes: []string{"p:Deployment/sandbox/* is not carried over to Gatekeeper: attest does not honour it", "also matches Deployment"}},
		{name: "the earliest expiry", p: podDeploy, exs: []exemption.Exemption{ex("p", "Pod", "sandbox"), with(ex("p", "Deployment", "sandbox"), func(e *exemption.Exemption) { e.ExpiresAt = genNow.AddDate(0, 0, 1) })},
			excluded: []string{"sandbox"}, carried: []string{"p:Pod/sandbox/*", "p:Deployment/sandbox/*"},
			notes: []string{"(exemption p:Deployment/sandbox/*); Gatekeeper knows no expiry: generate and apply again when it expires on 2026-01-02T00:00:00Z"}},
		{name: "default", p: podOnly, exs: []exemption.Exemption{ex("p", "Pod", "def*")},
			excluded: []string{"def*"}, carried: []string{"p:Pod/def*/*"},
			notes: []string{"is excluded", "manifests without metadata.namespace (they land in default)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var notes []string
			m, done := matchFor(c.p, c.exs, genNow, &notes)
			var got []string
			if v, ok := m["excludedNamespaces"]; ok {
				for _, x := range v.([]any) {
					got = append(got, x.(string))
				}
			}
			if !slices.Equal(got, c.excluded) {
				t.Errorf("excludedNamespaces %q, want %q", got, c.excluded)
			}
			var ids []string
			for _, d := range done {
				ids = append(ids, d.ID)
			}
			if !slices.Equal(ids, c.carried) {
				t.Errorf("carried %q, want %q", ids, c.carried)
			}
			if len(notes) != len(c.notes) {
				t.Fatalf("notes:\n  %s\nwant %d", strings.Join(notes, "\n  "), len(c.notes))
			}
			for i, want := range c.notes {
				if !strings.Contains(notes[i], want) {
					t.Errorf("note %d: %s\nwant it to hold %q", i, notes[i], want)
				}
			}
		})
	}
}

func TestMatchForNamespacedOnly(t *testing.T) {
	p := pol("p", []string{"Pod", "ClusterRole"})
	p.NamespacedOnly = true
	m, _ := matchFor(p, nil, genNow, new([]string))
	b, _ := json.Marshal(m)
	if want := `{"kinds":[{"apiGroups":[""],"kinds":["Pod"]}]}`; string(b) != want {
		t.Errorf("match %s, want %s", b, want)
	}
	p = pol("p", nil)
	p.NamespacedOnly = true
	m, _ = matchFor(p, nil, genNow, new([]string))
	b, _ = json.Marshal(m)
	if want := `{"kinds":[{"apiGroups":["*"],"kinds":["*"]}],"scope":"Namespaced"}`; string(b) != want {
		t.Errorf("match %s, want %s", b, want)
	}
	p.NamespacedOnly = false
	m, _ = matchFor(p, nil, genNow, new([]string))
	if _, ok := m["scope"]; ok {
		t.Errorf("scope without level Namespace: %v", m)
	}
}

const podPolicy = `package company.pods

import rego.v1

# METADATA
# title: No privileged pods
# custom:
#   kinds: [Pod]
violation contains {"violated": true, "message": "privileged"} if {
	some c in input.resource.spec.containers
	c.securityContext.privileged
}
`

// TestGenerateExcludedNamespaces: Generate writes the exclusion and the
// annotation naming the exemptions behind it, and judges them by its clock.
func TestGenerateExcludedNamespaces(t *testing.T) {
	set, errs := policy.Load(context.Background(), policy.WithInline("company-pods", podPolicy))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	exs := []exemption.Exemption{ex("company-pods", "Pod", "sandbox")}
	g, err := Generate(GenerateInput{Policies: set, Exemptions: exs, Now: func() time.Time { return genNow }})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Metadata struct{ Annotations map[string]string }
		Spec     struct {
			Match struct {
				ExcludedNamespaces []string `yaml:"excludedNamespaces"`
			}
		}
	}
	if err := yaml.Unmarshal(g.Constraints, &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Spec.Match.ExcludedNamespaces, []string{"sandbox"}) {
		t.Errorf("excludedNamespaces %q\n%s", c.Spec.Match.ExcludedNamespaces, g.Constraints)
	}
	if got, want := c.Metadata.Annotations[ExemptionsAnnotation], `[{"id":"company-pods:Pod/sandbox/*","namespace":"sandbox","expires_at":"2030-06-30T00:00:00Z"}]`; got != want {
		t.Errorf("annotation %s, want %s", got, want)
	}
	// After the expiry: nothing carried, a note saying why.
	g, err = Generate(GenerateInput{Policies: set, Exemptions: exs, Now: func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(g.Constraints), "excludedNamespaces") || strings.Contains(string(g.Constraints), ExemptionsAnnotation) {
		t.Errorf("an expired exemption was carried over:\n%s", g.Constraints)
	}
	if !slices.ContainsFunc(g.Notes, func(n string) bool { return strings.Contains(n, "expired on 2030-06-30T00:00:00Z") }) {
		t.Errorf("notes %q", g.Notes)
	}
	if _, err := Generate(GenerateInput{}); err == nil {
		t.Error("Generate without policies: no error")
	}
}

func TestConstraintName(t *testing.T) {
	for _, tc := range []struct{ policy, want string }{
		{"attest-security", "attest-attest-security"},
		{"image-security", "attest-image-security"},
		{"company-my_policy", "attest-company-my-policy"},
		{"Company.Policy", "attest-company-policy"},
		{"weird__name--", "attest-weird-name"},
		{"ünïcode", "attest-n-code"},
		{strings.Repeat("a", 80), "attest-" + strings.Repeat("a", 56)},
	} {
		got := constraintName(tc.policy)
		if got != tc.want {
			t.Errorf("constraintName(%q) = %q, want %q", tc.policy, got, tc.want)
		}
		if !dnsLabel.MatchString(got) || len(got) > 63 {
			t.Errorf("constraintName(%q) = %q is not an RFC 1123 label", tc.policy, got)
		}
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
