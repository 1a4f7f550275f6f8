package gatekeeper

import (
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// Object is what matching looks at.
type Object struct {
	Group, Kind, Name, Namespace string
	Labels                       map[string]string
	// Cluster: the kind is cluster-scoped.
	Cluster bool
}

// objectOf reads a resource for matching.
func objectOf(r *manifest.Resource) Object {
	g, _ := splitAPIVersion(r.APIVersion)
	o := Object{Group: g, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace, Labels: r.Labels,
		Cluster: engine.ClusterScoped(r.APIVersion, r.Kind)}
	return o.defaulted()
}

// defaulted puts a namespaced object that names no namespace in
// "default", where kubectl (and gator) put it: a manifest without a
// namespace is matched by namespaces: ["default"] and not by a
// namespace list that leaves default out.
func (o Object) defaulted() Object {
	if !o.Cluster && o.Namespace == "" && !o.isNamespace() {
		o.Namespace = "default"
	}
	return o
}

// objectOfValue reads an object given as a Rego value (an AdmissionReview's
// oldObject).
func objectOfValue(v ast.Value) (Object, bool) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Object{}, false
	}
	str := func(t *ast.Term) string {
		if t == nil {
			return ""
		}
		if s, ok := t.Value.(ast.String); ok {
			return string(s)
		}
		return ""
	}
	av := str(obj.Get(ast.StringTerm("apiVersion")))
	o := Object{Kind: str(obj.Get(ast.StringTerm("kind")))}
	o.Group, _ = splitAPIVersion(av)
	o.Cluster = engine.ClusterScoped(av, o.Kind)
	if md, ok := obj.Get(ast.StringTerm("metadata")).Value.(ast.Object); ok {
		o.Name = str(md.Get(ast.StringTerm("name")))
		o.Namespace = str(md.Get(ast.StringTerm("namespace")))
		if lt := md.Get(ast.StringTerm("labels")); lt != nil {
			if lo, ok := lt.Value.(ast.Object); ok {
				o.Labels = map[string]string{}
				lo.Foreach(func(k, v *ast.Term) {
					if ks, ok := k.Value.(ast.String); ok {
						o.Labels[string(ks)] = str(v)
					}
				})
			}
		}
	}
	return o, true
}

func splitAPIVersion(av string) (group, version string) {
	if i := strings.LastIndexByte(av, '/'); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}

// isNamespace: a Namespace object is matched on its own name and labels
// by the namespace criteria, as Gatekeeper does.
func (o Object) isNamespace() bool { return o.Group == "" && o.Kind == "Namespace" }

// nsName is the namespace the namespace criteria look at.
func (o Object) nsName() string {
	if o.isNamespace() {
		return o.Name
	}
	return o.Namespace
}

// NamespaceLookup gives a namespace's labels, if the namespace is known.
type NamespaceLookup func(name string) (map[string]string, bool)

// Matches applies Gatekeeper's match semantics: every criterion given must
// hold. Cluster-scoped objects are not affected by the namespace criteria;
// a namespaceSelector on an object whose namespace is unknown does not
// match (Gatekeeper cannot evaluate it either).
func (m *Match) Matches(o Object, ns NamespaceLookup) bool {
	if len(m.Kinds) > 0 && !slices.ContainsFunc(m.Kinds, func(k KindMatch) bool {
		return anyOrContains(k.APIGroups, o.Group) && anyOrContains(k.Kinds, o.Kind)
	}) {
		return false
	}
	namespaced := !o.Cluster && o.Namespace != ""
	switch m.Scope {
	case "Cluster":
		if namespaced {
			return false
		}
	case "Namespaced":
		if !namespaced {
			return false
		}
	}
	if n := o.nsName(); n != "" || o.isNamespace() {
		if len(m.Namespaces) > 0 && !slices.ContainsFunc(m.Namespaces, func(p string) bool { return glob(p, n) }) {
			return false
		}
		if slices.ContainsFunc(m.ExcludedNamespaces, func(p string) bool { return glob(p, n) }) {
			return false
		}
	}
	if m.Name != "" && !glob(m.Name, o.Name) {
		return false
	}
	if m.LabelSelector != nil && !m.LabelSelector.Matches(o.Labels) {
		return false
	}
	if m.NamespaceSelector != nil {
		switch {
		case o.isNamespace():
			if !m.NamespaceSelector.Matches(o.Labels) {
				return false
			}
		case o.Namespace == "":
			// Cluster-scoped: namespaceSelector does not apply.
		default:
			var labels map[string]string
			ok := false
			if ns != nil {
				labels, ok = ns(o.Namespace)
			}
			if !ok || !m.NamespaceSelector.Matches(labels) {
				return false
			}
		}
	}
	return true
}

func anyOrContains(list []string, v string) bool {
	return len(list) == 0 || slices.Contains(list, "*") || slices.Contains(list, v)
}

// glob is Gatekeeper's wildcard: a trailing * matches any suffix, a leading
// * any prefix.
func glob(pattern, s string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "*") && strings.HasPrefix(pattern, "*") && len(pattern) > 1:
		return strings.Contains(s, pattern[1:len(pattern)-1])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(s, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(s, strings.TrimPrefix(pattern, "*"))
	}
	return pattern == s
}

// Matches applies a label selector.
func (s *Selector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := labels[r.Key]
		switch r.Operator {
		case "In":
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// EnforcementAt gives the constraint's enforcement at an enforcement
// point, and false when the constraint does not act there (a scoped
// action naming other points).
func (c *Constraint) EnforcementAt(point string) (finding.Enforcement, bool) {
	action := strings.ToLower(c.EnforcementAction)
	if action == "scoped" {
		// The strongest action that names this point wins.
		best := ""
		for _, s := range c.Scoped {
			if !slices.Contains(s.Points, "*") && !slices.Contains(s.Points, point) {
				continue
			}
			a := strings.ToLower(s.Action)
			if rank(a) > rank(best) {
				best = a
			}
		}
		if best == "" {
			return "", false
		}
		action = best
	}
	e, err := finding.ParseEnforcement(action)
	if err != nil {
		return "", false
	}
	return e, true
}

func rank(a string) int {
	switch a {
	case "deny":
		return 3
	case "warn":
		return 2
	case "dryrun":
		return 1
	}
	return 0
}

// Cluster is what a first pass over the inputs learns: the namespaces'
// labels (for namespaceSelector) and Gatekeeper's data.inventory. It is
// filled before evaluation starts and only read afterwards.
type Cluster struct {
	mu         sync.RWMutex
	namespaces map[string]map[string]string
	inventory  map[string]any
	objects    int
}

// NewCluster makes an empty cluster.
func NewCluster() *Cluster {
	return &Cluster{
		namespaces: map[string]map[string]string{},
		inventory:  map[string]any{"cluster": map[string]any{}, "namespace": map[string]any{}},
	}
}

// Observe adds one object. It is safe for concurrent use.
func (c *Cluster) Observe(r *manifest.Resource) {
	if r == nil {
		return
	}
	c.add(r.APIVersion, r.Kind, r.Name, r.Namespace, r.Labels, r.Object())
}

func (c *Cluster) add(apiVersion, kind, name, namespace string, labels map[string]string, obj map[string]any) {
	if kind == "" || name == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.objects++
	if apiVersion == "v1" && kind == "Namespace" {
		c.namespaces[name] = labels
	}
	// Gatekeeper's layout: namespace[ns][apiVersion][kind][name] and
	// cluster[apiVersion][kind][name].
	var at map[string]any
	if namespace == "" || engine.ClusterScoped(apiVersion, kind) {
		at = c.inventory["cluster"].(map[string]any)
	} else {
		at = sub(c.inventory["namespace"].(map[string]any), namespace)
	}
	sub(sub(at, apiVersion), kind)[name] = obj
}

func sub(m map[string]any, k string) map[string]any {
	if v, ok := m[k].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[k] = v
	return v
}

// Namespace gives a namespace's labels.
func (c *Cluster) Namespace(name string) (map[string]string, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.namespaces[name]
	return l, ok
}

// Inventory is data.inventory.
func (c *Cluster) Inventory() map[string]any {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.inventory
}

// Reset forgets everything observed (gator verify: each case has its own
// inventory).
func (c *Cluster) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.namespaces = map[string]map[string]string{}
	c.inventory = map[string]any{"cluster": map[string]any{}, "namespace": map[string]any{}}
	c.objects = 0
}
