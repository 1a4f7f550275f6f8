package server

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestAdmissionWarnings(t *testing.T) {
	t.Run("control characters become spaces", func(t *testing.T) {
		got := admissionWarnings(nil, []string{"[p] line1\nline2\ttab\x07bell\u0085"})
		if len(got) != 1 || got[0] != "[p] line1 line2 tab bell " {
			t.Fatalf("%q", got)
		}
	})
	t.Run("the same text once, as kube-apiserver passes it", func(t *testing.T) {
		got := admissionWarnings([]string{"u"}, []string{"a", "u", "a", "b"})
		if strings.Join(got, ",") != "u,a,b" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("the count of the rest fits the budget", func(t *testing.T) {
		var many []string
		for i := range 1000 {
			many = append(many, fmt.Sprintf("w%08d", i))
		}
		got := admissionWarnings(nil, many)
		total := 0
		for _, w := range got {
			total += utf8.RuneCountInString(w)
		}
		if total > warningsTotalRunes || !strings.Contains(got[len(got)-1], "more warnings not shown") {
			t.Fatalf("%d runes in all; last %q", total, got[len(got)-1])
		}
	})
	t.Run("few are kept whole and in order", func(t *testing.T) {
		got := admissionWarnings([]string{"urgent"}, []string{"a", strings.Repeat("b", 1000)})
		if len(got) != 3 || got[0] != "urgent" || len(got[2]) != 1000 {
			t.Fatalf("%q", got)
		}
	})
	t.Run("many: urgent first, within kube's budget, the rest counted", func(t *testing.T) {
		var many []string
		for i := range 200 {
			many = append(many, fmt.Sprintf("[probe] %d ", i)+strings.Repeat("x", 300))
		}
		got := admissionWarnings([]string{"attest: EMERGENCY OVERRIDE e1 lets through: [p] m"}, many)
		if !strings.HasPrefix(got[0], "attest: EMERGENCY OVERRIDE") {
			t.Fatalf("first warning %q, want the emergency override", got[0])
		}
		total := 0
		for _, w := range got {
			n := utf8.RuneCountInString(w)
			if n > warningRunes {
				t.Errorf("a warning of %d runes", n)
			}
			if strings.ContainsFunc(w, unicode.IsControl) {
				t.Errorf("control character in %q", w)
			}
			total += n
		}
		if total > warningsTotalRunes {
			t.Errorf("%d runes in all, over %d", total, warningsTotalRunes)
		}
		last := got[len(got)-1]
		if !strings.Contains(last, "more warnings not shown") {
			t.Errorf("last warning %q, want the count of the rest", last)
		}
	})
}

func TestEvalDeadline(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  time.Duration
	}{
		{"", 3 * time.Second},
		{"?timeout=10s", 3 * time.Second},
		{"?timeout=5s", 3 * time.Second},
		{"?timeout=4s", 2900 * time.Millisecond},
		{"?timeout=3s", 1900 * time.Millisecond},
		{"?timeout=2s", time.Second},
		{"?timeout=1s", 500 * time.Millisecond},
		{"?timeout=30s", 3 * time.Second},
		{"?timeout=nonsense", 3 * time.Second},
		{"?timeout=-1s", 3 * time.Second},
	} {
		r := httptest.NewRequest("POST", "/v1/admission"+tc.query, nil)
		if got := evalDeadline(r, 3*time.Second); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestClusterScopedObjectGetsNoNamespace: for a Namespace's own UPDATE or
// DELETE, kube-apiserver sets request.namespace to the Namespace's name;
// that is not the object's namespace (exemptions by namespace would
// otherwise stop matching on UPDATE).
func TestClusterScopedObjectGetsNoNamespace(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		obj, want string
	}{
		{`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"foo"}}`, ""},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"foo"}}`, ""},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`, "foo"},
	} {
		v, err := parseJSONValue([]byte(tc.obj), 64, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.resource(&admissionRequest{uid: "u", namespace: "foo"}, v)
		if err != nil {
			t.Fatal(err)
		}
		if r.Namespace != tc.want {
			t.Errorf("%s: namespace %q, want %q", tc.obj, r.Namespace, tc.want)
		}
	}
}
