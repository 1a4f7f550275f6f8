package manifest

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
)

// nodeError is a conversion failure at a node; the caller adds the file and
// document.
type nodeError struct {
	line, column int
	msg          string
}

func (e *nodeError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errAt(n *yaml.Node, format string, args ...any) *nodeError {
	return &nodeError{line: n.Line, column: n.Column, msg: fmt.Sprintf(format, args...)}
}

// converter turns yaml.v3 nodes straight into OPA values, without the
// map[string]any and JSON round trip that sigs.k8s.io/yaml goes through. One
// converter serves one document: the alias budget is per document.
type converter struct {
	maxDepth int
	// budget is how many more nodes may be produced by expanding aliases;
	// nodes outside aliases do not count, so a big honest document is never
	// refused, while a billion-laughs document stops after budget nodes.
	budget    int
	maxBudget int
	// active holds the targets of the aliases being expanded, to report an
	// anchor that contains itself rather than recursing until the depth
	// limit; uses holds the alias nodes themselves, so that a budget error
	// points at the outermost alias, where the user can see it.
	active []*yaml.Node
	uses   []*yaml.Node
}

func newConverter(maxDepth, aliasBudget int) *converter {
	return &converter{maxDepth: maxDepth, budget: aliasBudget, maxBudget: aliasBudget}
}

// reset prepares the converter for the next document.
func (c *converter) reset() {
	c.budget = c.maxBudget
	c.active = c.active[:0]
	c.uses = c.uses[:0]
}

// overBudget is the alias bomb error, placed at the outermost alias.
func (c *converter) overBudget(n *yaml.Node) *nodeError {
	if len(c.uses) > 0 {
		n = c.uses[0]
	}
	return errAt(n, "aliases expand to more than %d nodes (a YAML alias bomb?)", c.maxBudget)
}

// charge spends one node of the alias budget on n when n is reached
// through an alias; the alias bomb error once the budget is spent.
func (c *converter) charge(n *yaml.Node) *nodeError {
	if len(c.active) == 0 {
		return nil
	}
	c.budget--
	if c.budget < 0 {
		return c.overBudget(n)
	}
	return nil
}

func (c *converter) value(n *yaml.Node, depth int) (ast.Value, error) {
	if err := c.charge(n); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.ScalarNode:
		r, err := resolveNode(n)
		if err != nil {
			return nil, errAt(n, "%s", err.Error())
		}
		v, err := scalarValue(r)
		if err != nil {
			return nil, errAt(n, "value %s %s", n.Value, err.Error())
		}
		return v, nil
	case yaml.MappingNode:
		if depth >= c.maxDepth {
			return nil, errAt(n, "nested deeper than %d levels", c.maxDepth)
		}
		return c.mapping(n, depth+1)
	case yaml.SequenceNode:
		if depth >= c.maxDepth {
			return nil, errAt(n, "nested deeper than %d levels", c.maxDepth)
		}
		terms := make([]*ast.Term, len(n.Content))
		for i, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(v)
		}
		return ast.NewArray(terms...), nil
	case yaml.AliasNode:
		return c.alias(n, depth, c.value)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return ast.InternedNullValue, nil
		}
		return c.value(n.Content[0], depth)
	}
	return nil, errAt(n, "unexpected YAML node kind %d", n.Kind)
}

// alias expands an alias node with f, guarding against self-reference.
func (c *converter) alias(n *yaml.Node, depth int, f func(*yaml.Node, int) (ast.Value, error)) (ast.Value, error) {
	if err := c.enter(n); err != nil {
		return nil, err
	}
	v, err := f(n.Alias, depth)
	c.leave()
	return v, err
}

// enter starts the expansion of the alias a (the converter's, or the
// parser's walk through a List): an error when a names no anchor or one
// being expanded already, an anchor that contains itself.
func (c *converter) enter(a *yaml.Node) *nodeError {
	if a.Alias == nil {
		return errAt(a, "unknown anchor %q", a.Value)
	}
	if slices.Contains(c.active, a.Alias) {
		return errAt(a, "anchor %q contains itself", a.Value)
	}
	c.active = append(c.active, a.Alias)
	c.uses = append(c.uses, a)
	return nil
}

// leave ends the expansion enter started.
func (c *converter) leave() {
	c.active = c.active[:len(c.active)-1]
	c.uses = c.uses[:len(c.uses)-1]
}

// smallMapping is the size up to which duplicate keys are found by a linear
// scan: cheaper than a map for the mappings Kubernetes objects are made of.
const smallMapping = 12

func (c *converter) mapping(n *yaml.Node, depth int) (ast.Value, error) {
	content := n.Content
	for i := 0; i+1 < len(content); i += 2 {
		if isMergeKey(content[i]) {
			return c.mergedMapping(n, depth)
		}
	}
	pairs := make([][2]*ast.Term, len(content)/2)
	keys := make([]string, len(content)/2)
	var seen map[string]int
	if len(pairs) > smallMapping {
		seen = make(map[string]int, len(pairs))
	}
	for i := 0; i+1 < len(content); i += 2 {
		kn := content[i]
		k, err := c.key(kn)
		if err != nil {
			return nil, err
		}
		j := i / 2
		if seen != nil {
			if first, dup := seen[k]; dup {
				return nil, duplicateKey(kn, k, content[2*first])
			}
			seen[k] = j
		} else {
			for f := range j {
				if keys[f] == k {
					return nil, duplicateKey(kn, k, content[2*f])
				}
			}
		}
		keys[j] = k
		v, err := c.value(content[i+1], depth)
		if err != nil {
			return nil, err
		}
		pairs[j] = [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v)}
	}
	return ast.NewObject(pairs...), nil
}

func duplicateKey(n *yaml.Node, k string, first *yaml.Node) *nodeError {
	return errAt(n, "duplicate key %q (first at line %d)", k, first.Line)
}

// isMergeKey is yaml.v2's isMerge: a plain or !!merge-tagged "<<".
func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && n.Tag == tagMerge
}

// mergedMapping applies "<<" merge keys with yaml.v2's semantics, which are
// order dependent: a merge overrides the keys before it, the keys after it
// override the merge, and in a list of merged mappings the earlier wins.
// Duplicates are only reported between keys written in this mapping.
func (c *converter) mergedMapping(n *yaml.Node, depth int) (ast.Value, error) {
	var pairs [][2]*ast.Term
	index := map[string]int{}
	explicit := map[string]*yaml.Node{}
	set := func(k string, v *ast.Term) {
		if i, ok := index[k]; ok {
			pairs[i][1] = v
			return
		}
		index[k] = len(pairs)
		pairs = append(pairs, [2]*ast.Term{ast.StringTerm(k), v})
	}
	merge := func(vn *yaml.Node) error {
		target := vn
		if vn.Kind == yaml.AliasNode && vn.Alias != nil {
			target = vn.Alias
		}
		if target.Kind != yaml.MappingNode {
			return errAt(vn, "map merge requires a mapping or a list of mappings")
		}
		v, err := c.value(vn, depth)
		if err != nil {
			return err
		}
		obj, ok := v.(ast.Object)
		if !ok {
			return errAt(vn, "map merge requires a mapping or a list of mappings")
		}
		obj.Foreach(func(k, v *ast.Term) { set(string(k.Value.(ast.String)), v) })
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if isMergeKey(kn) {
			if vn.Kind == yaml.SequenceNode {
				for j := len(vn.Content) - 1; j >= 0; j-- {
					if err := merge(vn.Content[j]); err != nil {
						return nil, err
					}
				}
				continue
			}
			if err := merge(vn); err != nil {
				return nil, err
			}
			continue
		}
		k, err := c.key(kn)
		if err != nil {
			return nil, err
		}
		if first, dup := explicit[k]; dup {
			return nil, duplicateKey(kn, k, first)
		}
		explicit[k] = kn
		v, err := c.value(vn, depth)
		if err != nil {
			return nil, err
		}
		set(k, ast.NewTerm(v))
	}
	return ast.NewObject(pairs...), nil
}

// key converts a mapping key to the string sigs.k8s.io/yaml would use.
func (c *converter) key(n *yaml.Node) (string, error) {
	if n.Kind == yaml.ScalarNode && n.Style == 0 && n.Value != "" && !maybeSpecial(n.Value[0]) {
		return n.Value, nil // the usual key: a plain word
	}
	switch n.Kind {
	case yaml.ScalarNode:
		r, err := resolveNode(n)
		if err != nil {
			return "", errAt(n, "%s", err.Error())
		}
		k, err := scalarKey(r)
		if err != nil {
			return "", errAt(n, "%s", err.Error())
		}
		return k, nil
	case yaml.AliasNode:
		if n.Alias != nil && n.Alias.Kind == yaml.ScalarNode {
			if err := c.charge(n); err != nil {
				return "", err
			}
			return c.key(n.Alias)
		}
	}
	return "", errAt(n, "a mapping or sequence cannot be an object key")
}

// maybeSpecial reports whether a plain scalar starting with c may resolve
// to something other than a string.
func maybeSpecial(c byte) bool {
	switch {
	case c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '+', '-', '.', 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		return true
	}
	return false
}
