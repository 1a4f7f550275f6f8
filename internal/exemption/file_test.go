package exemption

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

const specExample = `# spec section 6
exemptions:
  - policy_name: "attest-security"
    resource_kind: "Pod"
    resource_name: "legacy-monitoring"
    resource_namespace: "monitoring"
    reason: "Legacy monitoring tool pending security upgrade"
    expires_at: "2024-06-30T23:59:59Z"
    approved_by: "security-team@company.com"
  - id: ex-2
    policy_name: attest-security
    rule: privileged-container
    resource_kind: ClusterRole
    resource_name: legacy-*
    reason: Migration
    expires_at: 2024-03-01
    approved_by: alice@company.com
    emergency: true
`

func TestParseSpecExample(t *testing.T) {
	list, errs := Parse(".attest/exemptions.yaml", []byte(specExample))
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	want := []Exemption{
		{
			ID: "attest-security:Pod/monitoring/legacy-monitoring", Source: "file:.attest/exemptions.yaml",
			Policy: "attest-security", Kind: "Pod", Namespace: "monitoring", Name: "legacy-monitoring",
			Reason: "Legacy monitoring tool pending security upgrade", ApprovedBy: "security-team@company.com",
			ExpiresAt: time.Date(2024, 6, 30, 23, 59, 59, 0, time.UTC),
			Location:  finding.Location{File: ".attest/exemptions.yaml", Line: 3, Column: 5},
		},
		{
			ID: "ex-2", Source: "file:.attest/exemptions.yaml",
			Policy: "attest-security", Rule: "privileged-container", Kind: "ClusterRole", Name: "legacy-*",
			Reason: "Migration", ApprovedBy: "alice@company.com",
			ExpiresAt: time.Date(2024, 3, 1, 23, 59, 59, 999999999, time.UTC), Emergency: true,
			Location: finding.Location{File: ".attest/exemptions.yaml", Line: 10, Column: 5},
		},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d exemptions: %+v", len(list), list)
	}
	for i := range want {
		if !list[i].ExpiresAt.Equal(want[i].ExpiresAt) {
			t.Errorf("%d: expires %v, want %v", i, list[i].ExpiresAt, want[i].ExpiresAt)
		}
		list[i].ExpiresAt, want[i].ExpiresAt = time.Time{}, time.Time{}
		if list[i] != want[i] {
			t.Errorf("%d:\n got %+v\nwant %+v", i, list[i], want[i])
		}
	}
}

func TestParseKeepsIncompleteEntries(t *testing.T) {
	// Missing reason, approver and expiry are not file errors: the entry is
	// kept and Apply says why it is not honoured.
	list, errs := Parse("x.yaml", []byte("exemptions:\n- policy_name: p\n  resource_kind: Pod\n  resource_name: a\n  reason: ~\n"))
	if errs != nil || len(list) != 1 {
		t.Fatalf("list %+v errs %v", list, errs)
	}
	if err := Validate(list[0], now); err == nil || err.Error() != "no reason; no approver; no expiry" {
		t.Errorf("Validate = %v", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "---\n", "exemptions:\n", "exemptions: []\n", "~\n"} {
		list, errs := Parse("x.yaml", []byte(in))
		if list != nil || errs != nil {
			t.Errorf("Parse(%q) = %v, %v", in, list, errs)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const entry = "- policy_name: p\n  resource_kind: Pod\n  resource_name: a\n"
	cases := []struct {
		name, in string
		want     []string // "line:col: message substring"
		kept     int
	}{
		{"yaml syntax", "exemptions:\n  - policy_name: [\n", []string{"2:0: invalid YAML: did not find expected node content"}, 0},
		{"tab indentation", "exemptions:\n\t- policy_name: p\n", []string{"2:0: invalid YAML: found character that cannot start any token"}, 0},
		{"top level list", "- policy_name: p\n", []string{"1:1: want a mapping with an exemptions list, found a list"}, 0},
		{"unknown top key", "exemption:\n" + entry, []string{`1:1: unknown field "exemption": did you mean "exemptions"?`}, 0},
		{"exemptions not list", "exemptions: yes\n", []string{`1:13: exemptions: want a list, found "yes"`}, 0},
		{"entry not mapping", "exemptions:\n- just a string\n", []string{"2:3: exemption: want a mapping"}, 0},
		{"unknown key with suggestion", "exemptions:\n" + entry + "  resource_nmespace: x\n", []string{`5:3: unknown field "resource_nmespace": did you mean "resource_namespace"?`}, 0},
		{"unknown key listing", "exemptions:\n" + entry + "  owner: x\n", []string{`5:3: unknown field "owner" (want id, policy_name, rule,`}, 0},
		{"duplicate key", "exemptions:\n" + entry + "  resource_name: b\n", []string{`5:3: field "resource_name" given twice (first on line 4)`}, 0},
		{"missing required", "exemptions:\n- reason: r\n", []string{"2:3: exemption: missing policy_name, resource_kind, resource_name"}, 0},
		{"wrong type", "exemptions:\n" + entry + "  reason: [a, b]\n", []string{"5:11: reason: want a string, found a list"}, 0},
		{"bad expiry", "exemptions:\n" + entry + "  expires_at: tomorrow\n", []string{`5:15: expires_at: bad expiry "tomorrow"`}, 0},
		{"bad kind", "exemptions:\n- policy_name: p\n  resource_kind: pod-thing\n  resource_name: a\n", []string{`3:18: resource_kind "pod-thing" is not a Kubernetes kind`}, 0},
		{"glob in the middle", "exemptions:\n- policy_name: p\n  resource_kind: Pod\n  resource_name: a*b\n", []string{`4:18: resource_name: "a*b": '*' may only end the pattern`}, 0},
		{"bad namespace", "exemptions:\n" + entry + "  resource_namespace: Prod\n", []string{`5:23: resource_namespace: "Prod" is not a namespace`}, 0},
		{"policy_name is a rule id", "exemptions:\n- policy_name: p/r\n  resource_kind: Pod\n  resource_name: a\n", []string{`2:16: policy_name "p/r" is a rule id: write policy_name: p and rule: p/r`}, 0},
		{"rule of another policy", "exemptions:\n" + entry + "  rule: q/r\n", []string{`2:3: rule "q/r" is not in policy "p"`}, 0},
		{"bad emergency", "exemptions:\n" + entry + "  emergency: maybe\n", []string{`5:14: emergency: want true or false, found "maybe"`}, 0},
		{"duplicate id", "exemptions:\n" + entry + "  id: a\n" + entry + "  id: a\n", []string{`9:7: id "a" is used twice (first on line 5)`}, 1},
		{"alias", "exemptions:\n- policy_name: &p p\n  resource_kind: Pod\n  resource_name: *p\n", []string{"2:16: policy_name: YAML anchors and aliases are not supported", "4:18: resource_name: YAML anchors and aliases"}, 0},
		{"an anchored entry", "exemptions:\n- &e1\n  policy_name: p\n  resource_kind: Pod\n  resource_name: a\n" + entry, []string{"2:3: exemption: YAML anchors and aliases are not supported"}, 1},
		{"an anchored key", "exemptions:\n- &k policy_name: p\n  resource_kind: Pod\n  resource_name: a\n", []string{"2:3: policy_name: YAML anchors and aliases are not supported"}, 0},
		{"an anchored document", "--- &root\nexemptions:\n" + entry, []string{"1:5: YAML anchors and aliases are not supported"}, 0},
		{"an anchor inside a value", "exemptions:\n" + entry + "  approved_by: [&a alice@company.com]\n", []string{"5:17: approved_by: YAML anchors and aliases are not supported"}, 0},
		{"an id that another entry's target makes", "exemptions:\n" + entry + entry + "  id: p:Pod/a\n", nil, 2},
		{"two entries for one target", "exemptions:\n" + entry + entry, nil, 2},
		{"two documents", "exemptions: []\n---\nexemptions: []\n", []string{"2:1: more than one YAML document"}, 0},
		{"good entries survive a bad one", "exemptions:\n" + entry + "- policy_name: q\n" + entry, []string{"5:3: exemption: missing resource_kind, resource_name"}, 2},
		{"non-string key", "exemptions:\n- ? [a]\n  : b\n", []string{"2:5: want a plain key, found a list"}, 0},
		{"a namespace alone", "exemptions:\n- policy_name: p\n  resource_namespace: sandbox\n", []string{`2:3: exemption: missing resource_kind, resource_name (an exemption names a kind; to exempt every resource of a kind in namespace sandbox, write resource_kind and resource_name: "*", one entry per kind)`}, 0},
		{"a kind glob", "exemptions:\n- policy_name: p\n  resource_kind: \"*\"\n  resource_name: \"*\"\n  resource_namespace: sandbox\n", []string{`3:18: resource_kind "*": a kind takes no globs; write one exemption per kind (with resource_name "*" for every name)`}, 0},
		{"a kind prefix glob", "exemptions:\n- policy_name: p\n  resource_kind: Po*\n  resource_name: a\n", []string{`3:18: resource_kind "Po*": a kind takes no globs`}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, errs := Parse("x.yaml", []byte(c.in))
			if len(list) != c.kept {
				t.Errorf("kept %d entries, want %d: %+v", len(list), c.kept, list)
			}
			if len(errs) != len(c.want) {
				t.Fatalf("errors = %v, want %q", errs, c.want)
			}
			for i, e := range errs {
				if e.Location.File != "x.yaml" {
					t.Errorf("error %d in file %q", i, e.Location.File)
				}
				got := strings.Join([]string{itoa(e.Location.Line), itoa(e.Location.Column)}, ":") + ": " + e.Message
				if !strings.HasPrefix(got, c.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got, c.want[i])
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	if list, errs := LoadFile(filepath.Join(dir, "missing.yaml")); list != nil || errs != nil {
		t.Errorf("missing file: %v, %v", list, errs)
	}
	if _, errs := LoadFile(dir); len(errs) != 1 || !strings.Contains(errs[0].Message, "directory") {
		t.Errorf("directory: %v", errs)
	}
	p := filepath.Join(dir, "exemptions.yaml")
	if err := os.WriteFile(p, []byte(specExample), 0o600); err != nil {
		t.Fatal(err)
	}
	list, errs := LoadFile(p)
	if errs != nil || len(list) != 2 || list[0].Source != "file:"+p || list[0].Location.File != p {
		t.Errorf("LoadFile = %+v, %v", list, errs)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs := LoadFile(big); len(errs) != 1 || !strings.Contains(errs[0].Message, "larger than") {
		t.Errorf("big file: %v", errs)
	}
}

func TestLoadedExemptionsMatch(t *testing.T) {
	list, errs := Parse(".attest/exemptions.yaml", []byte(specExample))
	if errs != nil {
		t.Fatal(errs)
	}
	m := NewMatcher(WithExemptions(list), WithClock(func() time.Time { return time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC) }))
	fs := []finding.Finding{fnd("attest-security", "privileged-container"), fnd("attest-security", "other")}
	m.Apply(res("ClusterRole", "", "legacy-reader", nil), fs)
	if !fs[0].Exempted() || fs[1].Exempted() || !fs[0].Exemption.Emergency || fs[0].Exemption.ID != "ex-2" {
		t.Errorf("findings = %+v / %+v", fs[0].Exemption, fs[1].Exemption)
	}
	if u := m.Unused(); len(u) != 1 || u[0].Name != "legacy-monitoring" {
		t.Errorf("Unused = %+v", u)
	}
}

func FuzzLoadFile(f *testing.F) {
	f.Add([]byte(specExample))
	f.Add([]byte("exemptions:\n- policy_name: &a p\n  resource_kind: *a\n"))
	f.Add([]byte("exemptions: [{policy_name: p, resource_kind: Pod, resource_name: 'x*', expires_at: 2024-01-01}]"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\n"))
	f.Add([]byte("exemptions:\n- {id: 1, id: 2}\n---\nx"))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "exemptions.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		list, errs := LoadFile(path)
		for _, e := range errs {
			if e.Location.File != path || e.Message == "" {
				t.Fatalf("error without place or message: %+v", e)
			}
		}
		for _, e := range list {
			if e.Policy == "" || e.Kind == "" || e.Name == "" || e.ID == "" || e.Location.Line == 0 {
				t.Fatalf("incomplete exemption returned: %+v", e)
			}
			if !strings.HasPrefix(e.Source, SourceFilePrefix) {
				t.Fatalf("source %q", e.Source)
			}
			// Whatever was loaded must be safe to match.
			m := NewMatcher(WithExemptions([]Exemption{e}), WithClock(clock))
			m.Apply(res(e.Kind, strings.TrimSuffix(e.Namespace, "*"), strings.TrimSuffix(e.Name, "*"), nil), []finding.Finding{fnd(e.Policy, "r")})
		}
	})
}

func TestParseBoundsErrors(t *testing.T) {
	in := "exemptions:\n" + strings.Repeat("- reason: r\n", 200)
	_, errs := Parse("x.yaml", []byte(in))
	if len(errs) != 51 || errs[50].Message != "150 more errors not shown" {
		t.Errorf("%d errors, last %v", len(errs), errs[len(errs)-1])
	}
	_, errs = Parse("x.yaml", []byte("exemptions:\n- "+strings.Repeat("k", 5000)+": 1\n"))
	if len(errs) != 1 || len(errs[0].Message) > 300 {
		t.Errorf("long key error: %d errors, %d bytes", len(errs), len(errs[0].Message))
	}
}

// TestWholeNamespaceShapes: the shapes that exempt every resource of a kind
// in a namespace (what gatekeeper generate turns into excludedNamespaces)
// load, and the Matcher, which check and serve use, applies them to every
// name of that kind in that namespace and to nothing else.
func TestWholeNamespaceShapes(t *testing.T) {
	cases := []struct {
		name, entry string
		kind, ns    string // what loads
		covers      []*manifest.Resource
		misses      []*manifest.Resource
	}{
		{"a namespace", "resource_kind: Pod\n  resource_name: \"*\"\n  resource_namespace: sandbox", "Pod", "sandbox",
			[]*manifest.Resource{res("Pod", "sandbox", "a", nil), res("pod", "sandbox", "b", nil)},
			[]*manifest.Resource{res("Deployment", "sandbox", "a", nil), res("Pod", "sandbox-2", "a", nil), res("Pod", "", "a", nil)}},
		{"a namespace glob", "resource_kind: Deployment\n  resource_name: \"*\"\n  resource_namespace: team-*", "Deployment", "team-*",
			[]*manifest.Resource{res("Deployment", "team-a", "x", nil), res("Deployment", "team-", "y", nil)},
			[]*manifest.Resource{res("Deployment", "teams", "x", nil), res("Pod", "team-a", "x", nil)}},
		{"every namespace", "resource_kind: Pod\n  resource_name: \"*\"\n  resource_namespace: \"*\"", "Pod", "*",
			[]*manifest.Resource{res("Pod", "sandbox", "a", nil), res("Pod", "", "a", nil)},
			[]*manifest.Resource{res("Job", "sandbox", "a", nil)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "exemptions:\n- policy_name: p\n  " + c.entry + "\n  reason: r\n  approved_by: a@b.c\n  expires_at: 2024-02-01\n"
			list, errs := Parse("x.yaml", []byte(src))
			if errs != nil || len(list) != 1 {
				t.Fatalf("list %+v errs %v", list, errs)
			}
			if e := list[0]; e.Kind != c.kind || e.Namespace != c.ns || e.Name != "*" || e.Rule != "" {
				t.Fatalf("loaded %+v", e)
			}
			m := NewMatcher(WithExemptions(list), WithClock(clock))
			for _, r := range c.covers {
				fs := []finding.Finding{fnd("p", "a"), fnd("p", "b"), fnd("q", "a")}
				m.Apply(r, fs)
				if fs[0].Exemption == nil || fs[1].Exemption == nil || fs[2].Exemption != nil {
					t.Errorf("%s: exempted %v %v %v, want the policy's two findings only", r.Ref(), fs[0].Exemption, fs[1].Exemption, fs[2].Exemption)
				}
			}
			for _, r := range c.misses {
				fs := []finding.Finding{fnd("p", "a")}
				m.Apply(r, fs)
				if fs[0].Exemption != nil {
					t.Errorf("%s: exempted", r.Ref())
				}
			}
		})
	}
}

// TestIDsAreUnique: two entries for one target (a renewal beside the entry
// it renews) both load, under ids of their own.
func TestIDsAreUnique(t *testing.T) {
	const entry = "- policy_name: p\n  resource_kind: Pod\n  resource_name: a\n"
	list, errs := Parse("x.yaml", []byte("exemptions:\n"+entry+entry+entry))
	if len(errs) > 0 || len(list) != 3 {
		t.Fatalf("%d entries, errors %v", len(list), errs)
	}
	if got := []string{list[0].ID, list[1].ID, list[2].ID}; got[0] != "p:Pod/a" || got[1] != "p:Pod/a#2" || got[2] != "p:Pod/a#3" {
		t.Fatalf("ids %q", got)
	}
	// An explicit id that a target would make: the target's entry gets
	// "#2", whichever comes first.
	for _, in := range []string{entry + entry + "  id: p:Pod/a\n", entry + "  id: p:Pod/a\n" + entry} {
		list, errs := Parse("x.yaml", []byte("exemptions:\n"+in))
		if len(errs) > 0 || len(list) != 2 {
			t.Fatalf("%d entries, errors %v", len(list), errs)
		}
		ids := []string{list[0].ID, list[1].ID}
		slices.Sort(ids)
		if ids[0] != "p:Pod/a" || ids[1] != "p:Pod/a#2" {
			t.Fatalf("ids %q", ids)
		}
	}
}
