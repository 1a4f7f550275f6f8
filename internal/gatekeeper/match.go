package gatekeeper

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// Object is one object of a review, as Gatekeeper's matcher reads it.
type Object struct {
	Group, Kind, Name, GenerateName string
	// Namespace is the object's own metadata.namespace ("" when it names
	// none: attest does not guess one from the kind).
	Namespace string
	Labels    map[string]string
}

// Namespace is the Namespace object Gatekeeper's matcher is handed with a
// review; a nil *Namespace is none. Which one it gets, if any, is where
// gator test, gator verify and the admission webhook differ (see matchMode).
type Namespace struct {
	Name   string
	Labels map[string]string
	// load, when set, gives the labels (instead of Labels), read from
	// the cluster the first time a namespaceSelector needs them
	// (admission with a NamespaceLookup): the other criteria need only
	// the name, so a review that no selector reaches costs no lookup.
	load func() (map[string]string, error)
}

// labels are the Namespace's labels, read from the cluster if need be.
func (n *Namespace) labels() (map[string]string, error) {
	if n.load != nil {
		return n.load()
	}
	return n.Labels, nil
}

// objectOf reads a resource for matching. The namespace is the object's
// metadata.namespace, which is r.Namespace for a manifest read from a
// file; a resource made from an AdmissionReview carries the request's
// namespace in r.Namespace instead.
func objectOf(r *manifest.Resource) Object {
	g, _ := splitAPIVersion(r.APIVersion)
	o := Object{Group: g, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace, Labels: r.Labels}
	if _, ok := r.Value.(ast.Object); ok {
		md := get(r.Value, keyMetadata)
		o.Namespace = stringAt(md, keyNamespace)
		o.GenerateName = stringAt(md, keyGenerateName)
	}
	return o
}

// The keys of the object fields the match reads, made once: ast.StringTerm
// allocates, and objectOf runs for every constraint of every review.
var (
	keyAPIVersion   = ast.StringTerm("apiVersion")
	keyKind         = ast.StringTerm("kind")
	keyMetadata     = ast.StringTerm("metadata")
	keyName         = ast.StringTerm("name")
	keyGenerateName = ast.StringTerm("generateName")
	keyNamespace    = ast.StringTerm("namespace")
	keyLabels       = ast.StringTerm("labels")
)

// get is v[key] when v is an object, else nil.
func get(v ast.Value, key *ast.Term) ast.Value {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil
	}
	if t := obj.Get(key); t != nil {
		return t.Value
	}
	return nil
}

// stringAt is v[key] when it is a string, else "".
func stringAt(v ast.Value, key *ast.Term) string {
	s, _ := get(v, key).(ast.String)
	return string(s)
}

// objectOfValue reads an object given as a Rego value (an AdmissionReview's
// oldObject), labels included.
func objectOfValue(v ast.Value) (Object, bool) {
	return objectOfValueFor(v, true)
}

// objectOfValueFor is objectOfValue, with the labels only when asked for:
// a match without selectors never reads them, and on an UPDATE the old
// object is read once per constraint that the new one did not match.
func objectOfValueFor(v ast.Value, labels bool) (Object, bool) {
	if _, ok := v.(ast.Object); !ok {
		return Object{}, false
	}
	o := Object{Kind: stringAt(v, keyKind)}
	o.Group, _ = splitAPIVersion(stringAt(v, keyAPIVersion))
	if md, ok := get(v, keyMetadata).(ast.Object); ok {
		o.Name = stringAt(md, keyName)
		o.GenerateName = stringAt(md, keyGenerateName)
		o.Namespace = stringAt(md, keyNamespace)
		if lo, ok := get(md, keyLabels).(ast.Object); ok && labels {
			o.Labels = map[string]string{}
			lo.Foreach(func(k, v *ast.Term) {
				if ks, ok := k.Value.(ast.String); ok {
					vs, _ := v.Value.(ast.String)
					o.Labels[string(ks)] = string(vs)
				}
			})
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

// errMissingNamespace is Gatekeeper's match error for a namespaceSelector
// on an object in a namespace whose Namespace object it was not given.
var errMissingNamespace = errors.New("namespace selector for namespace-scoped object but missing Namespace")

// Matches is Gatekeeper's match.Matches (pkg/mutation/match) for one
// object and the Namespace object the review came with (nil: none), the
// criteria in its order: kinds, scope, namespaces, excludedNamespaces,
// labelSelector, namespaceSelector, name, source.
//
// Gatekeeper never looks at the kind's scope. An object "has a namespace"
// when it names one or a Namespace object came with it; the namespace the
// namespaces and excludedNamespaces lists compare is a Namespace object's
// own name, else the name of the Namespace that came with the object, else
// the object's metadata.namespace; with none of those the lists do not
// apply. A namespaceSelector does not apply to an object that names no
// namespace and came without a Namespace; on an object that names one but
// came without its Namespace it cannot be evaluated: errMissingNamespace,
// which Gatekeeper turns into a violation (autoreject). A Namespace whose
// labels are read from the cluster fails the match with the lookup's
// error when they cannot be had.
func (m *Match) Matches(o Object, ns *Namespace) (bool, error) {
	if len(m.Kinds) > 0 && !slices.ContainsFunc(m.Kinds, func(k KindMatch) bool {
		return anyOrContains(k.Kinds, o.Kind) && anyOrContains(k.APIGroups, o.Group)
	}) {
		return false, nil
	}
	isNS := o.isNamespace()
	hasNamespace := o.Namespace != "" || ns != nil
	switch m.Scope {
	case "Cluster":
		if !isNS && hasNamespace {
			return false, nil
		}
	case "Namespaced":
		if isNS || !hasNamespace {
			return false, nil
		}
	}
	// Any other scope, typos included, matches everything, as in
	// Gatekeeper (its schema does not restrict the value).
	nsName, applies := o.Name, true
	switch {
	case isNS:
	case ns != nil:
		nsName = ns.Name
	case o.Namespace != "":
		nsName = o.Namespace
	default:
		applies = false
	}
	if applies && len(m.Namespaces) > 0 && !slices.ContainsFunc(m.Namespaces, func(p string) bool { return glob(p, nsName) }) {
		return false, nil
	}
	if applies && slices.ContainsFunc(m.ExcludedNamespaces, func(p string) bool { return glob(p, nsName) }) {
		return false, nil
	}
	if m.LabelSelector != nil && !m.LabelSelector.Matches(o.Labels) {
		return false, nil
	}
	if m.NamespaceSelector != nil {
		switch {
		case isNS:
			if !m.NamespaceSelector.Matches(o.Labels) {
				return false, nil
			}
		case ns == nil && o.Namespace == "":
			// Not in a namespace: the selector does not apply.
		case ns == nil:
			return false, errMissingNamespace
		default:
			labels, err := ns.labels()
			if err != nil {
				return false, err
			}
			if !m.NamespaceSelector.Matches(labels) {
				return false, nil
			}
		}
	}
	if m.Name != "" && !glob(m.Name, o.Name) && !globGenerateName(m.Name, o.GenerateName) {
		return false, nil
	}
	// source: attest reviews objects as they are written (Gatekeeper's
	// Original), never resources generated by expansion.
	if m.Source == "Generated" {
		return false, nil
	}
	return true, nil
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

// globGenerateName is Gatekeeper's MatchesGenerateName: a generateName is
// a prefix, so only a pattern with a trailing * can match it, as glob
// matches it.
func globGenerateName(pattern, prefix string) bool {
	return prefix != "" && strings.HasSuffix(pattern, "*") && glob(pattern, prefix)
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
	// cluster[apiVersion][kind][name], chosen by metadata.namespace alone
	// (frameworks' target handler), not by what the kind is.
	var at map[string]any
	if namespace == "" {
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

// namespaceObject is the Namespace called name among the observed
// objects, or nil.
func (c *Cluster) namespaceObject(name string) *Namespace {
	if l, ok := c.Namespace(name); ok {
		return &Namespace{Name: name, Labels: l}
	}
	return nil
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
