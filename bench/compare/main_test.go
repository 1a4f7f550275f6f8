package main

import (
	"strings"
	"testing"
)

const conftestJSON = `[
 {"filename": "/c/ns/a.yaml", "namespace": "main", "successes": 3,
  "failures": [{"msg": "Pod/a: privileged", "metadata": {"query": "data.main.deny"}},
               {"msg": "Pod/a: privileged", "metadata": {"query": "data.main.deny"}}],
  "warnings": [{"msg": "Service/a: NodePort"}]},
 {"filename": "/c/ns/b.yaml", "namespace": "main", "successes": 4}
]`

const attestJSON = `{"violations": 2, "findings": [
 {"policy": "main", "kind": "warning", "message": "Service/a: NodePort", "location": {"file": "/c/ns/a.yaml", "line": 9}},
 {"policy": "main", "kind": "violation", "message": "Pod/a: privileged", "location": {"file": "/c/ns/a.yaml", "line": 3}},
 {"policy": "main", "kind": "violation", "message": "Pod/a: privileged", "location": {"file": "/c/ns/a.yaml", "line": 4}}
]}`

func TestSameFindings(t *testing.T) {
	a, err := ParseConftest(strings.NewReader(conftestJSON), "/c")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseAttest(strings.NewReader(attestJSON), "/c/")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || a[0].File != "ns/a.yaml" {
		t.Fatalf("conftest items: %v", a)
	}
	if x, y := Diff(a, b); len(x)+len(y) != 0 {
		t.Fatalf("differences: %v / %v", x, y)
	}
}

func TestDuplicatesCount(t *testing.T) {
	a, _ := ParseConftest(strings.NewReader(conftestJSON), "/c")
	b, _ := ParseAttest(strings.NewReader(strings.Replace(attestJSON,
		`{"policy": "main", "kind": "violation", "message": "Pod/a: privileged", "location": {"file": "/c/ns/a.yaml", "line": 4}}`,
		`{"policy": "main", "kind": "violation", "message": "Pod/a: other", "location": {"file": "/c/ns/a.yaml", "line": 4}}`, 1)), "/c")
	x, y := Diff(a, b)
	if len(x) != 1 || len(y) != 1 || y[0].Message != "Pod/a: other" {
		t.Fatalf("want one difference each way, got %v / %v", x, y)
	}
}

func TestRelativeNames(t *testing.T) {
	for _, c := range []struct{ root, file, want string }{
		{"corpus", "corpus/a/b.yaml", "a/b.yaml"},
		{"./corpus/", "corpus/a/b.yaml", "a/b.yaml"},
		{"", "./a.yaml", "a.yaml"},
		{"/x", "/y/a.yaml", "/y/a.yaml"},
	} {
		if got := Rel(c.root, c.file); got != c.want {
			t.Errorf("Rel(%q, %q) = %q, want %q", c.root, c.file, got, c.want)
		}
	}
}

func TestErrorFindingIsReported(t *testing.T) {
	_, err := ParseAttest(strings.NewReader(`{"findings": [{"kind": "error", "message": "timeout", "location": {"file": "a.yaml"}}]}`), "")
	if err == nil {
		t.Fatal("an evaluation error was taken for a finding")
	}
}
