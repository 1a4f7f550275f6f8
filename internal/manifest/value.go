package manifest

import (
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
)

// FromValue makes a resource of an object that is already an OPA value,
// such as the object of an admission request decoded straight from JSON
// without a YAML parse. It returns nil when v is not a Kubernetes object
// (not an object, or no apiVersion or kind).
//
// Such a resource has no source positions: Find and Containers walk the
// value, so fields and containers are still named, with line 0.
func FromValue(file string, v ast.Value) *Resource {
	r := newResource(v, nil)
	if r == nil {
		return nil
	}
	r.fromValue = true
	r.Location = finding.Location{File: file}
	return r
}

// Find is Locate that also says whether anything matched: found is true
// when at least the path's first segment exists (line and column are then
// those of the deepest node that exists; 0 for a resource made by
// FromValue), exact when the whole path does.
func (r *Resource) Find(path string) (line, col int, found, exact bool) {
	if r != nil && r.fromValue {
		found, exact = r.findValue(path)
		return 0, 0, found, exact
	}
	line, col, exact = r.Locate(path)
	return line, col, line > 0, exact
}

func (r *Resource) findValue(path string) (found, exact bool) {
	segs, ok := parsePath(path)
	if !ok || len(segs) == 0 {
		return false, false
	}
	v := r.Value
	for i, s := range segs {
		if v = stepValue(v, s); v == nil {
			return i > 0, false
		}
	}
	return true, true
}

// stepValue goes one segment down in a value, as step does in a node.
func stepValue(v ast.Value, s segment) ast.Value {
	switch x := v.(type) {
	case ast.Object:
		if s.filter != nil {
			return nil
		}
		if t := x.Get(ast.StringTerm(s.key)); t != nil {
			return t.Value
		}
	case *ast.Array:
		if s.filter != nil {
			for j := range x.Len() {
				if e := x.Elem(j).Value; s.filter.matchValue(e) {
					return e
				}
			}
			return nil
		}
		if s.index >= 0 && s.index < x.Len() {
			return x.Elem(s.index).Value
		}
	}
	return nil
}

// containersValue is Containers for a resource made by FromValue.
func (r *Resource) containersValue(prefix string) []Container {
	segs, _ := parsePath(prefix)
	v := r.Value
	for _, s := range segs {
		if v = stepValue(v, s); v == nil {
			return nil
		}
	}
	spec, ok := v.(ast.Object)
	if !ok {
		return nil
	}
	var lists [3]*ast.Array
	n := 0
	for i, name := range []string{"containers", "initContainers", "ephemeralContainers"} {
		if list, ok := field(spec, name).(*ast.Array); ok {
			lists[i] = list
			n += list.Len()
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Container, 0, n)
	for i, name := range []string{"containers", "initContainers", "ephemeralContainers"} {
		list := lists[i]
		if list == nil {
			continue
		}
		for j := range list.Len() {
			c := Container{Path: prefix + "." + name + "[" + strconv.Itoa(j) + "]"}
			if co, ok := list.Elem(j).Value.(ast.Object); ok {
				c.Name = stringField(co, "name")
				c.Image = stringField(co, "image")
			}
			out = append(out, c)
		}
	}
	return out
}

// MaxDepth is the deepest nesting the loader accepts, for callers that
// decode JSON themselves (FromValue) and keep to the same limit.
func (l *Loader) MaxDepth() int { return l.maxDepth }
