package manifest

import (
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
)

// segment is one step of a field path: a key, an index, (from a JSON
// pointer, which cannot tell them apart) either, or a filter.
type segment struct {
	key   string
	index int // -1 when the segment is a key only
	// filter, when set, makes the segment pick an array element by a
	// field's value instead: [?(@.name=='app')].
	filter *filter
}

// filter is a JSONPath filter of the form Kubernetes paths use,
// [?(@.name=='app')] or [?(@.name=="app")]: the first array element whose
// field (a key, or keys below it: @.valueFrom.secretKeyRef.name) is that
// string. A filter with no field, for syntax that is not understood,
// matches nothing, so the path falls back as for a missing field.
type filter struct {
	field []string
	value string
}

// Locate returns the 1-based line and column of the field at path, as
// policies name fields: "spec.containers[0].image", "$.spec...", ".spec...",
// the JSON pointer "/spec/containers/0/image", or with bracketed keys,
// metadata.annotations["a.b/c"]. For a key it is the key's position; for an
// array element, the element's. When the path goes further than the object,
// it is the deepest node that exists, with exact false; (0, 0, false) when
// nothing matches or the path cannot be read.
func (r *Resource) Locate(path string) (line, col int, exact bool) {
	if r == nil || r.node == nil {
		return 0, 0, false
	}
	segs, ok := parsePath(path)
	if !ok {
		return 0, 0, false
	}
	n := r.node
	line, col = startOf(n)
	for i, s := range segs {
		next, l, c := step(n, s)
		if next == nil {
			if i == 0 {
				return 0, 0, false
			}
			return line, col, false
		}
		n, line, col = next, l, c
	}
	return line, col, true
}

// step goes one segment down from n; the position is the key's for a
// mapping entry and the element's own for a sequence element.
func step(n *yaml.Node, s segment) (*yaml.Node, int, int) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		if s.filter != nil {
			break
		}
		if k, v := lookup(n, s.key, 0); k != nil {
			return v, k.Line, k.Column
		}
	case yaml.SequenceNode:
		i := s.index
		if s.filter != nil {
			i = slices.IndexFunc(n.Content, s.filter.matchNode)
		}
		if i >= 0 && i < len(n.Content) {
			e := n.Content[i]
			l, c := startOf(deref(e))
			if e.Kind == yaml.AliasNode {
				l, c = e.Line, e.Column
			}
			return e, l, c
		}
	}
	return nil, 0, 0
}

// matchNode says whether the array element e has the filter's field, as a
// string (with the loader's scalar rules, so name: 1 is a number), equal
// to the filter's value.
func (f *filter) matchNode(e *yaml.Node) bool {
	if len(f.field) == 0 {
		return false
	}
	n := e
	for _, key := range f.field {
		if n = deref(n); n.Kind != yaml.MappingNode {
			return false
		}
		if _, n = lookup(n, key, 0); n == nil {
			return false
		}
	}
	if n = deref(n); n.Kind != yaml.ScalarNode {
		return false
	}
	sc, err := resolveNode(n)
	return err == nil && sc.kind == kindString && sc.s == f.value
}

// matchValue is matchNode for an element of a value.
func (f *filter) matchValue(v ast.Value) bool {
	if len(f.field) == 0 {
		return false
	}
	for _, key := range f.field {
		obj, ok := v.(ast.Object)
		if !ok {
			return false
		}
		if v = field(obj, key); v == nil {
			return false
		}
	}
	str, ok := v.(ast.String)
	return ok && string(str) == f.value
}

// lookup finds key in a mapping, looking into "<<" merges as yaml.v2 does
// (a merge's keys are positioned where the merged mapping wrote them).
func lookup(n *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if depth > 16 {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		if isMergeKey(kn) {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if kn.Kind == yaml.ScalarNode && kn.Value == key {
			k, v = kn, n.Content[i+1] // the last one wins, as in the value
		}
	}
	if k != nil {
		return k, v
	}
	for _, m := range merges {
		m = deref(m)
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if src = deref(src); src.Kind == yaml.MappingNode {
				if k, v := lookup(src, key, depth+1); k != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// parsePath reads the path syntaxes Locate accepts.
func parsePath(p string) ([]segment, bool) {
	if strings.HasPrefix(p, "/") {
		return parsePointer(p), true
	}
	p = strings.TrimPrefix(p, "$")
	// One allocation: a path has at most one segment per separator, plus one.
	segs := make([]segment, 0, 1+strings.Count(p, ".")+strings.Count(p, "["))
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			i++
		case '[':
			end, seg, ok := parseBracket(p, i)
			if !ok {
				return nil, false
			}
			segs = append(segs, seg)
			i = end
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, segment{key: p[i:j], index: -1})
			i = j
		}
	}
	return segs, true
}

// parseBracket reads [0], ["key"], ['key'], [key] or a filter [?(...)]
// starting at p[i] == '['.
func parseBracket(p string, i int) (int, segment, bool) {
	i++
	if j := skipSpace(p, i); j < len(p) && p[j] == '?' {
		return parseFilter(p, j)
	}
	if i < len(p) && (p[i] == '"' || p[i] == '\'') {
		key, j, ok := readQuoted(p, i)
		if !ok || j >= len(p) || p[j] != ']' {
			return 0, segment{}, false
		}
		return j + 1, segment{key: key, index: -1}, true
	}
	end := strings.IndexByte(p[i:], ']')
	if end < 0 {
		return 0, segment{}, false
	}
	inner := strings.TrimSpace(p[i : i+end])
	if n, err := strconv.Atoi(inner); err == nil && n >= 0 {
		return i + end + 1, segment{key: inner, index: n}, true
	}
	return i + end + 1, segment{key: inner, index: -1}, true
}

// parsePointer reads an RFC 6901 JSON pointer.
func parsePointer(p string) []segment {
	if p == "/" {
		return nil
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, len(parts))
	for i, part := range parts {
		key := strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		index := -1
		if n, err := strconv.Atoi(key); err == nil && n >= 0 && (key == "0" || key[0] != '0') {
			index = n
		}
		segs[i] = segment{key: key, index: index}
	}
	return segs
}

func skipSpace(p string, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t') {
		i++
	}
	return i
}

// parseFilter reads a filter from p[i] == '?' to its closing ']', which
// is the first one outside quotes. A filter that is not of the form
// ?(@.field=='value') (parentheses optional, spaces allowed, single or
// double quotes, backslash escapes) is kept as one that matches nothing.
func parseFilter(p string, i int) (int, segment, bool) {
	end := -1
	var quote byte
	for j := i + 1; j < len(p) && end < 0; j++ {
		switch c := p[j]; {
		case quote != 0 && c == '\\':
			j++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ']':
			end = j
		}
	}
	if end < 0 {
		return 0, segment{}, false
	}
	// Not understood: no field, a filter that matches nothing.
	field, value, _ := readFilter(strings.TrimSpace(p[i+1 : end]))
	return end + 1, segment{index: -1, filter: &filter{field: field, value: value}}, true
}

// readFilter reads "(@.a.b == 'v')" or "@.a.b=='v'"; nil, "" and false
// for anything else.
func readFilter(s string) ([]string, string, bool) {
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if !strings.HasPrefix(s, "@.") {
		return nil, "", false
	}
	s = s[1:]
	var field []string
	for strings.HasPrefix(s, ".") {
		j := 1
		for j < len(s) && isFieldChar(s[j]) {
			j++
		}
		if j == 1 {
			return nil, "", false
		}
		field = append(field, s[1:j])
		s = s[j:]
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "==") {
		return nil, "", false
	}
	s = strings.TrimSpace(s[2:])
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return nil, "", false
	}
	value, j, ok := readQuoted(s, 0)
	if !ok || strings.TrimSpace(s[j:]) != "" {
		return nil, "", false
	}
	return field, value, true
}

// readQuoted reads the string quoted by s[i] (' or "), with backslash
// escapes, and returns it and the index just past its closing quote; ok
// is false when the quote is not closed.
func readQuoted(s string, i int) (string, int, bool) {
	quote := s[i]
	var sb strings.Builder
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '\\' && j+1 < len(s) {
			j++
			sb.WriteByte(s[j])
			continue
		}
		if c == quote {
			return sb.String(), j + 1, true
		}
		sb.WriteByte(c)
	}
	return "", 0, false
}

// isFieldChar is what a field name in a filter is made of: Kubernetes
// field names, and the - and _ of map keys.
func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
