package gatekeeper

import "testing"

func TestMatch(t *testing.T) {
	pod := Object{Kind: "Pod", Name: "web-1", Namespace: "prod-eu", Labels: map[string]string{"app": "web"}}
	deploy := Object{Group: "apps", Kind: "Deployment", Name: "api", Namespace: "kube-system"}
	node := Object{Kind: "Node", Name: "n1", Cluster: true}
	ns := Object{Kind: "Namespace", Name: "prod-eu", Labels: map[string]string{"env": "prod"}, Cluster: true}
	lookup := func(n string) (map[string]string, bool) {
		if n == "prod-eu" {
			return map[string]string{"env": "prod"}, true
		}
		return nil, false
	}
	sel := func(key, op string, vals ...string) *Selector {
		return &Selector{MatchExpressions: []Requirement{{Key: key, Operator: op, Values: vals}}}
	}
	tests := []struct {
		name string
		m    Match
		o    Object
		want bool
	}{
		{"empty matches all", Match{}, pod, true},
		{"kind", Match{Kinds: []KindMatch{{APIGroups: []string{""}, Kinds: []string{"Pod"}}}}, pod, true},
		{"group differs", Match{Kinds: []KindMatch{{APIGroups: []string{"apps"}, Kinds: []string{"Pod"}}}}, pod, false},
		{"wildcards", Match{Kinds: []KindMatch{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}}, deploy, true},
		{"scope cluster", Match{Scope: "Cluster"}, pod, false},
		{"scope cluster node", Match{Scope: "Cluster"}, node, true},
		{"scope namespaced", Match{Scope: "Namespaced"}, node, false},
		{"namespace glob", Match{Namespaces: []string{"prod-*"}}, pod, true},
		{"namespace other", Match{Namespaces: []string{"staging"}}, pod, false},
		{"namespaces do not affect cluster scope", Match{Namespaces: []string{"staging"}}, node, true},
		{"excluded", Match{ExcludedNamespaces: []string{"kube-*"}}, deploy, false},
		{"no namespace means default", Match{Namespaces: []string{"default"}}, Object{Kind: "Pod", Name: "p"}.defaulted(), true},
		{"no namespace is not staging", Match{Namespaces: []string{"staging"}}, Object{Kind: "Pod", Name: "p"}.defaulted(), false},
		{"cluster-scoped stays without namespace", Match{Scope: "Cluster"}, Object{Kind: "Node", Name: "n", Cluster: true}.defaulted(), true},
		{"excluded namespace object by its name", Match{ExcludedNamespaces: []string{"prod-eu"}}, ns, false},
		{"name glob", Match{Name: "web-*"}, pod, true},
		{"name suffix glob", Match{Name: "*-2"}, pod, false},
		{"labels", Match{LabelSelector: &Selector{MatchLabels: map[string]string{"app": "web"}}}, pod, true},
		{"labels miss", Match{LabelSelector: &Selector{MatchLabels: map[string]string{"app": "db"}}}, pod, false},
		{"In", Match{LabelSelector: sel("app", "In", "web", "db")}, pod, true},
		{"NotIn", Match{LabelSelector: sel("app", "NotIn", "web")}, pod, false},
		{"Exists", Match{LabelSelector: sel("app", "Exists")}, pod, true},
		{"DoesNotExist", Match{LabelSelector: sel("app", "DoesNotExist")}, pod, false},
		{"namespaceSelector", Match{NamespaceSelector: sel("env", "In", "prod")}, pod, true},
		{"namespaceSelector unknown namespace", Match{NamespaceSelector: sel("env", "In", "prod")}, deploy, false},
		{"namespaceSelector on Namespace itself", Match{NamespaceSelector: &Selector{MatchLabels: map[string]string{"env": "prod"}}}, ns, true},
		{"namespaceSelector cluster-scoped", Match{NamespaceSelector: sel("env", "In", "prod")}, node, true},
	}
	for _, tt := range tests {
		if got := tt.m.Matches(tt.o, lookup); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
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
