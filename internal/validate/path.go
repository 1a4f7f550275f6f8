package validate

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// segment is one step of a field path: a map key or an array index.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// plainKey matches keys that can be written after a dot.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)

// formatPath writes a path the way manifest.Resource.Locate reads it:
// spec.containers[0].image, with keys that are not plain identifiers
// (label keys such as "app.kubernetes.io/name") in brackets and quotes:
// metadata.labels["app.kubernetes.io/name"].
func formatPath(p []segment) string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case plainKey.MatchString(s.key):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteString("[")
			b.WriteString(strconv.Quote(s.key))
			b.WriteString("]")
		}
	}
	return b.String()
}

// errKind classifies a decoding error.
type errKind int

const (
	errOther     errKind = iota // no field named: quantity or time syntax, for instance
	errUnknown                  // unknown field "a.b[0].c"
	errDuplicate                // duplicate field "a.b"
	errType                     // json: cannot unmarshal X into Go struct field T.a.b of type Y
)

// decodeError is one problem the strict decoder reported, taken apart.
type decodeError struct {
	kind errKind
	// path is the field path as the decoder wrote it. For unknown and
	// duplicate fields it holds array indexes ("spec.containers[0].x");
	// for type errors it has none ("spec.containers.x") and may hold the
	// Go names of inlined structs ("ProbeHandler"). Map keys are joined
	// with dots even when they contain dots: resolve against the object.
	path string
	got  string // JSON type found: string, number, bool, array, object
	want string // Go type expected: int32, string, v1.PodSpec...
	msg  string // the decoder's message, for errOther
}

var (
	// strictRe matches one strict error; the path is a Go-quoted string.
	strictRe = regexp.MustCompile(`^(unknown|duplicate) field ("(?:[^"\\]|\\.)*")$`)
	// typeRe matches encoding/json's UnmarshalTypeError, as sigs.k8s.io/json
	// and json-iterator word it. The number's value is optional.
	typeRe = regexp.MustCompile(`^(?:json: )?cannot unmarshal (\w+)(?: .*?)? into Go (?:struct field (\S*)|value) of type (\S+)$`)
)

// parseDecodeError takes one message of the strict decoder apart. It never
// fails: a message it does not recognise comes back as errOther.
func parseDecodeError(msg string) decodeError {
	m := strings.TrimSpace(msg)
	m = strings.TrimPrefix(m, "strict decoding error: ")
	m = strings.TrimPrefix(m, "json: ")
	if sm := strictRe.FindStringSubmatch(m); sm != nil {
		p, err := strconv.Unquote(sm[2])
		if err == nil {
			k := errUnknown
			if sm[1] == "duplicate" {
				k = errDuplicate
			}
			return decodeError{kind: k, path: p}
		}
	}
	if tm := typeRe.FindStringSubmatch(m); tm != nil {
		p := tm[2]
		// The first element is the Go type holding the field
		// ("DeploymentSpec"); the JSON path follows it.
		if i := strings.IndexByte(p, '.'); i >= 0 {
			p = p[i+1:]
		} else {
			p = ""
		}
		return decodeError{kind: errType, path: p, got: tm[1], want: tm[3]}
	}
	return decodeError{kind: errOther, msg: m}
}

// splitStrictPath splits a strict error's path into dot-separated words
// and array indexes, in order. Words may have to be joined again when a
// map key holds dots: resolve does that against the object.
type rawStep struct {
	word    string
	index   int
	isIndex bool
}

func splitRawPath(p string) []rawStep {
	var out []rawStep
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
			// An empty word between two dots (or a trailing dot) is an empty
			// map key.
			if p == "" || p[0] == '.' {
				out = append(out, rawStep{word: ""})
			}
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end > 1 {
				if n, err := strconv.Atoi(p[1:end]); err == nil && n >= 0 {
					out = append(out, rawStep{index: n, isIndex: true})
					p = p[end+1:]
					continue
				}
			}
			// Not an index: part of a word.
			w, rest := takeWord(p)
			out = append(out, rawStep{word: w})
			p = rest
		default:
			w, rest := takeWord(p)
			out = append(out, rawStep{word: w})
			p = rest
		}
	}
	return out
}

// takeWord reads up to the next dot or index.
func takeWord(p string) (string, string) {
	for i := 1; i < len(p); i++ {
		if p[i] == '.' {
			return p[:i], p[i:]
		}
		if p[i] == '[' {
			if end := strings.IndexByte(p[i:], ']'); end > 1 {
				if _, err := strconv.Atoi(p[i+1 : i+end]); err == nil {
					return p[:i], p[i:]
				}
			}
		}
	}
	return p, ""
}

// jsonType names the JSON type of a decoded value as encoding/json's
// errors do.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case json.Number, float64, float32, int, int64, int32, uint64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return ""
}

// resolve turns a decoder path into exact segments by walking obj. Words
// are joined back when a map key contains dots; for type errors (want !=
// "") array indexes are missing from the path, so every element is tried
// and the one holding a value of type got wins, and words that are not
// keys are skipped as the Go names of inlined structs. ok is false when the
// path does not lead anywhere in obj.
func resolve(obj any, raw []rawStep, got string) (path []segment, ok bool) {
	typeErr := got != ""
	// The search can branch at every array and every inlined name: a budget
	// keeps a hostile path from making it exponential.
	budget := 10000
	var walk func(v any, steps []rawStep, acc []segment) ([]segment, bool)
	walk = func(v any, steps []rawStep, acc []segment) ([]segment, bool) {
		if budget--; budget < 0 {
			return nil, false
		}
		if len(steps) == 0 {
			if !typeErr || jsonType(v) == got {
				return acc, true
			}
			// A map's or array's element has the wrong type: the
			// decoder names the container, we name the element.
			switch x := v.(type) {
			case map[string]any:
				for _, k := range sortedKeys(x) {
					if jsonType(x[k]) == got {
						return append(acc, segment{key: k}), true
					}
				}
			case []any:
				for i, e := range x {
					if jsonType(e) == got {
						return append(acc, segment{index: i, isIndex: true}), true
					}
				}
			}
			return nil, false
		}
		switch x := v.(type) {
		case map[string]any:
			if steps[0].isIndex {
				return nil, false
			}
			// Longest key first: "a.b/c" before "a".
			for n := len(steps); n >= 1; n-- {
				key, okKey := joinWords(steps[:n])
				if !okKey {
					continue
				}
				if child, found := x[key]; found {
					if p, ok := walk(child, steps[n:], appendSeg(acc, segment{key: key})); ok {
						return p, true
					}
				}
			}
			if typeErr && len(steps) > 1 {
				// An inlined struct's Go name ("ProbeHandler").
				return walk(v, steps[1:], acc)
			}
			return nil, false
		case []any:
			if steps[0].isIndex {
				if steps[0].index < len(x) {
					return walk(x[steps[0].index], steps[1:], appendSeg(acc, segment{index: steps[0].index, isIndex: true}))
				}
				return nil, false
			}
			if !typeErr {
				return nil, false
			}
			for i, e := range x {
				if p, ok := walk(e, steps, appendSeg(acc, segment{index: i, isIndex: true})); ok {
					return p, true
				}
			}
			return nil, false
		}
		return nil, false
	}
	return walk(obj, raw, nil)
}

// appendSeg appends to a copy, so sibling branches of the search do not
// share a backing array.
func appendSeg(acc []segment, s segment) []segment {
	out := make([]segment, len(acc), len(acc)+1)
	copy(out, acc)
	return append(out, s)
}

// joinWords rebuilds a map key that the decoder split at its dots.
func joinWords(steps []rawStep) (string, bool) {
	var b strings.Builder
	for i, s := range steps {
		if s.isIndex {
			return "", false
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.word)
	}
	return b.String(), true
}
