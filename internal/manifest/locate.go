package manifest

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// segment is one step of a field path: a key, an index, or (from a JSON
// pointer, which cannot tell them apart) either.
type segment struct {
	key   string
	index int // -1 when the segment is a key only
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
		if k, v := lookup(n, s.key, 0); k != nil {
			return v, k.Line, k.Column
		}
	case yaml.SequenceNode:
		if s.index >= 0 && s.index < len(n.Content) {
			e := n.Content[s.index]
			l, c := startOf(deref(e))
			if e.Kind == yaml.AliasNode {
				l, c = e.Line, e.Column
			}
			return e, l, c
		}
	}
	return nil, 0, 0
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
	var segs []segment
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

// parseBracket reads [0], ["key"], ['key'] or [key] starting at p[i] == '['.
func parseBracket(p string, i int) (int, segment, bool) {
	i++
	if i < len(p) && (p[i] == '"' || p[i] == '\'') {
		quote := p[i]
		var sb strings.Builder
		for i++; i < len(p); i++ {
			c := p[i]
			if c == '\\' && i+1 < len(p) {
				i++
				sb.WriteByte(p[i])
				continue
			}
			if c == quote {
				if i+1 < len(p) && p[i+1] == ']' {
					return i + 2, segment{key: sb.String(), index: -1}, true
				}
				return 0, segment{}, false
			}
			sb.WriteByte(c)
		}
		return 0, segment{}, false
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
