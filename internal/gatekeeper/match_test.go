package gatekeeper

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/manifest"
)

// TestMatch pins Gatekeeper's match.Matches: each case names the object,
// the Namespace object the review came with (nil: none) and the outcome.
func TestMatch(t *testing.T) {
	pod := Object{Kind: "Pod", Name: "web-1", Namespace: "prod-eu", Labels: map[string]string{"app": "web"}}
	deploy := Object{Group: "apps", Kind: "Deployment", Name: "api", Namespace: "kube-system"}
	node := Object{Kind: "Node", Name: "n1"}
	nsObj := Object{Kind: "Namespace", Name: "prod-eu", Labels: map[string]string{"env": "prod"}}
	nons := Object{Kind: "Pod", Name: "p"}
	widget := Object{Group: "example.com", Kind: "Widget", Name: "w"}
	prodEU := &Namespace{Name: "prod-eu", Labels: map[string]string{"env": "prod"}}
	empty := &Namespace{} // gator test's Namespace for an object that names none
	sel := func(key, op string, vals ...string) *Selector {
		return &Selector{MatchExpressions: []Requirement{{Key: key, Operator: op, Values: vals}}}
	}
	tests := []struct {
		name    string
		m       Match
		o       Object
		ns      *Namespace
		want    bool
		wantErr bool
	}{
		{"empty matches all", Match{}, pod, prodEU, true, false},
		{"kind", Match{Kinds: []KindMatch{{APIGroups: []string{""}, Kinds: []string{"Pod"}}}}, pod, prodEU, true, false},
		{"group differs", Match{Kinds: []KindMatch{{APIGroups: []string{"apps"}, Kinds: []string{"Pod"}}}}, pod, prodEU, false, false},
		{"wildcards", Match{Kinds: []KindMatch{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}}, deploy, nil, true, false},
		{"scope cluster", Match{Scope: "Cluster"}, pod, prodEU, false, false},
		{"scope cluster node", Match{Scope: "Cluster"}, node, nil, true, false},
		{"scope namespaced node", Match{Scope: "Namespaced"}, node, nil, false, false},
		{"scope typo matches all", Match{Scope: "cluster"}, pod, prodEU, true, false},
		{"namespace glob", Match{Namespaces: []string{"prod-*"}}, pod, prodEU, true, false},
		{"namespace other", Match{Namespaces: []string{"staging"}}, pod, prodEU, false, false},
		{"namespace from the object without a Namespace", Match{Namespaces: []string{"staging"}}, deploy, nil, false, false},
		{"excluded", Match{ExcludedNamespaces: []string{"kube-*"}}, deploy, nil, false, false},
		{"excluded namespace object by its name", Match{ExcludedNamespaces: []string{"prod-eu"}}, nsObj, nil, false, false},
		{"Namespace is cluster-scoped", Match{Scope: "Cluster"}, nsObj, nil, true, false},

		// An object that names no namespace, in gator verify and admission
		// (no Namespace object): cluster-scoped for every criterion,
		// whatever its kind.
		{"verify: namespaces do not apply to a Pod without namespace", Match{Namespaces: []string{"staging"}}, nons, nil, true, false},
		{"verify: namespaces do not apply to a node", Match{Namespaces: []string{"staging"}}, node, nil, true, false},
		{"verify: excluded default does not exclude it", Match{ExcludedNamespaces: []string{"default"}}, nons, nil, true, false},
		{"verify: scope Cluster matches a Pod without namespace", Match{Scope: "Cluster"}, nons, nil, true, false},
		{"verify: scope Namespaced does not", Match{Scope: "Namespaced"}, nons, nil, false, false},
		{"verify: an unknown kind is not namespaced", Match{Scope: "Namespaced"}, widget, nil, false, false},
		{"verify: namespaceSelector does not apply", Match{NamespaceSelector: sel("env", "In", "prod")}, nons, nil, true, false},

		// The same object in gator test: it comes with an empty Namespace,
		// so it has a namespace, named "".
		{"test: namespaces do not match \"\"", Match{Namespaces: []string{"staging"}}, nons, empty, false, false},
		{"test: nor does default", Match{Namespaces: []string{"default"}}, widget, empty, false, false},
		{"test: * matches \"\"", Match{Namespaces: []string{"*"}}, node, empty, true, false},
		{"test: excluded default does not exclude it", Match{ExcludedNamespaces: []string{"default"}}, nons, empty, true, false},
		{"test: scope Cluster does not match a node", Match{Scope: "Cluster"}, node, empty, false, false},
		{"test: scope Namespaced matches a node", Match{Scope: "Namespaced"}, node, empty, true, false},
		{"test: scope Cluster matches a Namespace", Match{Scope: "Cluster"}, nsObj, empty, true, false},
		{"test: namespaceSelector reads no labels", Match{NamespaceSelector: sel("env", "NotIn", "prod")}, nons, empty, true, false},
		{"test: namespaceSelector reads no labels (Exists)", Match{NamespaceSelector: sel("env", "Exists")}, nons, empty, false, false},

		{"name glob", Match{Name: "web-*"}, pod, prodEU, true, false},
		{"name suffix glob", Match{Name: "*-2"}, pod, prodEU, false, false},
		{"generateName", Match{Name: "web-*"}, Object{Kind: "Pod", GenerateName: "web-"}, nil, true, false},
		{"generateName needs a trailing *", Match{Name: "*-"}, Object{Kind: "Pod", GenerateName: "web-"}, nil, false, false},
		{"labels", Match{LabelSelector: &Selector{MatchLabels: map[string]string{"app": "web"}}}, pod, prodEU, true, false},
		{"labels miss", Match{LabelSelector: &Selector{MatchLabels: map[string]string{"app": "db"}}}, pod, prodEU, false, false},
		{"In", Match{LabelSelector: sel("app", "In", "web", "db")}, pod, prodEU, true, false},
		{"NotIn", Match{LabelSelector: sel("app", "NotIn", "web")}, pod, prodEU, false, false},
		{"Exists", Match{LabelSelector: sel("app", "Exists")}, pod, prodEU, true, false},
		{"DoesNotExist", Match{LabelSelector: sel("app", "DoesNotExist")}, pod, prodEU, false, false},
		{"namespaceSelector", Match{NamespaceSelector: sel("env", "In", "prod")}, pod, prodEU, true, false},
		{"namespaceSelector unknown namespace is an error", Match{NamespaceSelector: sel("env", "In", "prod")}, deploy, nil, false, true},
		{"criteria before namespaceSelector decide first", Match{Namespaces: []string{"other"}, NamespaceSelector: sel("env", "In", "prod")}, deploy, nil, false, false},
		{"namespaceSelector on Namespace itself", Match{NamespaceSelector: &Selector{MatchLabels: map[string]string{"env": "prod"}}}, nsObj, nil, true, false},
		{"namespaceSelector cluster-scoped", Match{NamespaceSelector: sel("env", "In", "prod")}, node, nil, true, false},
		{"source Generated never matches", Match{Source: "Generated"}, pod, prodEU, false, false},
		{"source Original", Match{Source: "Original"}, pod, prodEU, true, false},
	}
	for _, tt := range tests {
		got, err := tt.m.Matches(tt.o, tt.ns)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: got %v, %v; want %v (error: %v)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEnforcementAt(t *testing.T) {
	c := &Constraint{EnforcementAction: "scoped", Scoped: []ScopedAction{
		{Action: "warn", Points: []string{PointGator}},
		{Action: "deny", Points: []string{PointValidation}},
	}}
	if e, ok := c.EnforcementAt(PointGator); !ok || e != "warn" {
		t.Errorf("gator: %v %v", e, ok)
	}
	if e, ok := c.EnforcementAt(PointValidation); !ok || e != "strict" {
		t.Errorf("validation: %v %v", e, ok)
	}
	if _, ok := c.EnforcementAt(PointAudit); ok {
		t.Error("audit: want not enforced")
	}
	for in, want := range map[string]string{"": "strict", "deny": "strict", "warn": "warn", "dryrun": "dryrun"} {
		if e, _ := (&Constraint{EnforcementAction: in}).EnforcementAt(PointGator); string(e) != want {
			t.Errorf("%q: got %v", in, e)
		}
	}
}

func TestValidateSchema(t *testing.T) {
	s := map[string]any{"type": "object", "properties": map[string]any{
		"n":    map[string]any{"type": "integer", "minimum": int64(1)},
		"e":    map[string]any{"type": "string", "enum": []any{"a", "b"}},
		"free": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
	}, "required": []any{"n"}}
	if errs := Validate(s, map[string]any{"n": int64(2), "e": "a", "free": map[string]any{"x": 1}, "unknown": true}); errs != nil {
		t.Errorf("valid: %v", errs)
	}
	errs := Validate(s, map[string]any{"n": int64(0), "e": "c"})
	if len(errs) != 2 {
		t.Errorf("want 2 errors, got %v", errs)
	}
	if errs := Validate(s, map[string]any{}); len(errs) != 1 || errs[0].Message != "n is required" {
		t.Errorf("required: %v", errs)
	}
}

// On an UPDATE the old object decides a match the new one failed: its
// labels are read when a selector needs them, and not otherwise (the old
// object is read once per constraint the new one did not match).
func TestReviewOldObjectLabels(t *testing.T) {
	s := &Set{}
	r := manifest.NewLoader().Parse("in.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\n")).Resources[0]
	old := ast.MustParseTerm(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns", "labels": {"app": "web"}}}`).Value
	bySelector := &Match{LabelSelector: &Selector{MatchLabels: map[string]string{"app": "web"}}}
	if ok, err := s.review(context.Background(), bySelector, r, old); !ok || err != nil {
		t.Errorf("labelSelector app=web: %v, %v; want a match through the old object's labels", ok, err)
	}
	otherKind := &Match{Kinds: []KindMatch{{APIGroups: []string{""}, Kinds: []string{"Pod"}}}}
	if ok, err := s.review(context.Background(), otherKind, r, old); ok || err != nil {
		t.Errorf("kinds [Pod]: %v, %v; want no match", ok, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = objectOfValueFor(old, false) }); n != 0 {
		t.Errorf("reading the old object without its labels: %v allocations, want 0", n)
	}
	if o, _ := objectOfValueFor(old, true); o.Labels["app"] != "web" {
		t.Errorf("labels %v", o.Labels)
	}
}
