package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

// MaxFileSize caps every configuration file: a real one is a few kilobytes,
// and a bigger one is a mistake (or an attack) that should fail fast.
const MaxFileSize = 4 << 20

const (
	maxDepth     = 64      // nesting of mappings and lists
	maxNodes     = 200_000 // nodes visited per file, aliases counted each time they are followed
	maxFileErrs  = 50      // errors reported per file; the rest are counted
	maxValueShow = 40      // characters of a bad value quoted in a message
)

// DecodeStrict decodes the YAML document in data into the struct (or map,
// or slice) that into points to, strictly: an unknown key, a value of the
// wrong type, a duplicate key, a YAML 1.1 boolean (yes/no/on/off), a merge
// key (<<) or a second document is an error that names path:line:col, and
// every such problem is reported, not just the first. The field names are
// the yaml tags of the target; a `check:"..."` tag adds value checks (see
// checkScalar) and `required:"true"` makes a key mandatory.
//
// The returned error is a *LoadError. An empty document decodes to nothing
// and is not an error.
func DecodeStrict(path string, data []byte, into any) error {
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config.DecodeStrict: want a non-nil pointer, got %T", into)
	}
	d := newDecoder(path)
	d.decodeBytes(data, rv.Elem())
	return d.err()
}

// decoder walks a yaml.v3 node tree against Go types, collecting errors
// and the dotted path of every key that was written (for merging and for
// `attest config list`).
type decoder struct {
	file  string
	errs  []finding.Error
	extra int                   // errors beyond maxFileErrs
	set   map[string]*yaml.Node // "policy.debug", "policies[0].enabled" -> value node
	nodes int
	bombs bool // the node budget ran out; reported once
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, set: map[string]*yaml.Node{}}
}

func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	errs := d.errs
	if d.extra > 0 {
		errs = append(errs, finding.Error{Location: finding.Location{File: d.file},
			Message: fmt.Sprintf("%d more errors not shown", d.extra)})
	}
	return &LoadError{Errors: errs}
}

func (d *decoder) errorAt(line, col int, format string, args ...any) {
	if len(d.errs) >= maxFileErrs {
		d.extra++
		return
	}
	d.errs = append(d.errs, finding.Error{
		Location: finding.Location{File: d.file, Line: line, Column: col},
		Message:  fmt.Sprintf(format, args...),
	})
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.errorAt(line, col, format, args...)
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse turns data into the root node of its only document. It returns nil
// (with errors recorded) when data is not usable YAML, and an empty
// mapping for an empty or comment-only document.
func (d *decoder) parse(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		d.errorAt(0, 0, "file is larger than %d MiB; a configuration file is never that big", MaxFileSize>>20)
		return nil
	}
	if !d.precheck(data) {
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := safeDecode(dec, &doc)
	if errors.Is(err, io.EOF) {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	}
	if err != nil {
		d.yamlError(err)
		return nil
	}
	var second yaml.Node
	if err := safeDecode(dec, &second); err == nil {
		d.errorf(&second, "a configuration file holds one YAML document; remove the second one (or the \"---\" before it)")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	}
	return doc.Content[0]
}

// safeDecode turns a panic inside yaml.v3 into an error: a hostile file
// must never take the run down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(n)
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errorAt(line, 0, "invalid YAML: %s", m[2])
		return
	}
	// yaml.v3 reports a few problems without a position; precheck catches
	// the ones we know of, so this is the rare rest.
	d.errorAt(1, 0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// precheck finds what yaml.v3 would reject without saying where: binary
// content, invalid UTF-8 and control characters. It reports the first one
// with its line and column.
func (d *decoder) precheck(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		d.errorAt(1, 1, "the file is UTF-16; configuration files must be UTF-8")
		return false
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := position(data, i)
		d.errorAt(line, col, "binary data (a NUL byte): not a YAML configuration file")
		return false
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			d.errorAt(line, col, "invalid UTF-8 (byte 0x%02x); configuration files must be UTF-8", data[i])
			return false
		case r == '\n':
			line, col = line+1, 1
			i += size
			continue
		case !yamlPrintable(r):
			d.errorAt(line, col, "control character %U is not allowed in YAML", r)
			return false
		}
		col++
		i += size
	}
	return true
}

// position is the 1-based line and column (in characters) of byte offset i.
func position(data []byte, i int) (line, col int) {
	line = 1 + bytes.Count(data[:i], []byte("\n"))
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:i])
}

// yamlPrintable is the character set of YAML 1.2 (what yaml.v3's reader
// accepts).
func yamlPrintable(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0x7E) || r == 0x85 ||
		(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

func (d *decoder) decodeBytes(data []byte, v reflect.Value) {
	root := d.parse(data)
	if root == nil {
		return
	}
	d.value(root, v, "", "", 0)
}

// resolve follows aliases, charging the node budget so that an alias bomb
// ends in an error instead of a hang.
func (d *decoder) resolve(n *yaml.Node, depth int) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > maxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// charge counts one visited node; false once the budget or the depth is
// exhausted (reported once).
func (d *decoder) charge(n *yaml.Node, depth int) bool {
	d.nodes++
	if d.nodes > maxNodes || depth > maxDepth {
		if !d.bombs {
			d.bombs = true
			if depth > maxDepth {
				d.errorf(n, "nesting deeper than %d levels (or an alias that contains itself)", maxDepth)
			} else {
				d.errorf(n, "document too large after expanding aliases (more than %d nodes): a YAML alias bomb?", maxNodes)
			}
		}
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// where names a path for messages.
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

func label(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe says what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > maxValueShow {
			v = v[:maxValueShow] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "the boolean " + v
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!str":
			return strconv.Quote(v)
		}
		return fmt.Sprintf("%s %s", n.ShortTag(), strconv.Quote(v))
	}
	return "something else"
}

// value decodes n into v. check is the field's `check` tag.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path, check string, depth int) {
	n = d.resolve(n, depth)
	if n == nil || !d.charge(n, depth) {
		return
	}
	if isNull(n) && v.Kind() != reflect.Interface {
		return // an empty value leaves the default
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path, check, depth)
	case reflect.Struct:
		d.structValue(n, v, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "%s: expected a list, got %s", label(path), describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			if ri := d.resolve(item, depth); ri != nil {
				d.set[ip] = ri
			}
			d.value(item, s.Index(i), ip, check, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		d.mapValue(n, v, path, check, depth)
	case reflect.Interface:
		if x, ok := d.freeForm(n, path, depth); ok {
			if x == nil {
				v.Set(reflect.Zero(v.Type()))
			} else {
				v.Set(reflect.ValueOf(x))
			}
		}
	case reflect.String:
		s, ok := d.scalarString(n, path)
		if !ok {
			return
		}
		if s, ok = d.checkScalar(n, path, check, s); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if b, ok := d.scalarBool(n, path); ok {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if i, ok := d.scalarInt(n, path, v.Type().Bits()); ok {
			if msg := checkInt(check, i); msg != "" {
				d.errorf(n, "%s: %s", label(path), msg)
				return
			}
			v.SetInt(i)
		}
	default:
		d.errorf(n, "%s: cannot decode into %s", label(path), v.Type())
	}
}

func (d *decoder) scalarString(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected a string, got %s", label(path), describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str":
		return n.Value, true
	case "!!int", "!!float", "!!bool", "!!timestamp":
		d.errorf(n, "%s: expected a string, got %s (put it in quotes if you mean the text)", label(path), describe(n))
	default:
		d.errorf(n, "%s: expected a string, got %s", label(path), describe(n))
	}
	return "", false
}

func (d *decoder) scalarBool(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	hint := ""
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "yes", "no", "on", "off", "y", "n":
			hint = " (YAML 1.1 booleans such as yes/no/on/off are not accepted: write true or false)"
		case "true", "false":
			hint = " (remove the quotes)"
		}
	}
	d.errorf(n, "%s: expected true or false, got %s%s", label(path), describe(n), hint)
	return false, false
}

func (d *decoder) scalarInt(n *yaml.Node, path string, bits int) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		i, err := strconv.ParseInt(n.Value, 0, bits)
		if err == nil {
			return i, true
		}
		if u, uerr := strconv.ParseUint(n.Value, 0, 64); uerr == nil && u <= math.MaxInt64 && bits == 64 {
			return int64(u), true
		}
		d.errorf(n, "%s: integer %s is out of range", label(path), n.Value)
		return 0, false
	}
	d.errorf(n, "%s: expected an integer, got %s", label(path), describe(n))
	return 0, false
}

// fieldInfo is one YAML key of a struct.
type fieldInfo struct {
	key      string
	index    []int
	check    string
	required bool
}

// fieldsOf lists the YAML keys of a struct type in declaration order,
// flattening `yaml:",inline"` fields. Fields tagged `yaml:"-"` and
// unexported fields are not keys.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{
			key:      name,
			index:    []int{i},
			check:    f.Tag.Get("check"),
			required: f.Tag.Get("required") == "true",
		})
	}
	return out
}

func allowedKeys(fields []fieldInfo) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return strings.Join(keys, ", ")
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping with keys %s, got %s", label(path), allowedKeys(fields), describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i], depth), n.Content[i+1]
		if k == nil || !d.mappingKey(k, path) {
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, where(path), prev.Line)
			continue
		}
		seen[k.Value] = k
		var fi *fieldInfo
		for j := range fields {
			if fields[j].key == k.Value {
				fi = &fields[j]
				break
			}
		}
		if fi == nil {
			d.errorf(k, "unknown key %q %s (allowed: %s)", k.Value, where(path), allowedKeys(fields))
			continue
		}
		p := joinPath(path, k.Value)
		if rv := d.resolve(val, depth); rv != nil && !isNull(rv) {
			d.set[p] = rv
		}
		d.value(val, v.FieldByIndex(fi.index), p, fi.check, depth+1)
	}
	for _, f := range fields {
		if f.required && seen[f.key] == nil {
			d.errorf(n, "missing required key %q %s", f.key, where(path))
		}
	}
}

// mappingKey checks that k is a usable key: a plain string, not a merge key.
func (d *decoder) mappingKey(k *yaml.Node, path string) bool {
	if k.Kind != yaml.ScalarNode {
		d.errorf(k, "%s: a key must be a string, got %s", label(path), describe(k))
		return false
	}
	if k.ShortTag() == "!!merge" {
		d.errorf(k, "merge keys (<<) are not supported %s: write the keys out", where(path))
		return false
	}
	return true
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, path, check string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, got %s", label(path), describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, "%s: cannot decode into %s", label(path), v.Type())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i], depth)
		if k == nil || !d.mappingKey(k, path) {
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, where(path), prev.Line)
			continue
		}
		seen[k.Value] = k
		elem := reflect.New(v.Type().Elem()).Elem()
		p := joinPath(path, k.Value)
		d.value(n.Content[i+1], elem, p, check, depth+1)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
}

// freeForm converts a node into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil), as policy parameters need them.
func (d *decoder) freeForm(n *yaml.Node, path string, depth int) (any, bool) {
	n = d.resolve(n, depth)
	if n == nil || !d.charge(n, depth) {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		seen := map[string]*yaml.Node{}
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i], depth)
			if k == nil || !d.mappingKey(k, path) {
				ok = false
				continue
			}
			if prev, dup := seen[k.Value]; dup {
				d.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, where(path), prev.Line)
				ok = false
				continue
			}
			seen[k.Value] = k
			x, xok := d.freeForm(n.Content[i+1], joinPath(path, k.Value), depth+1)
			ok = ok && xok
			m[k.Value] = x
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		ok := true
		for i, item := range n.Content {
			x, xok := d.freeForm(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && xok
			s[i] = x
		}
		return s, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			return d.scalarBool(n, path)
		case "!!int":
			i, ok := d.scalarInt(n, path, 64)
			if !ok {
				return nil, false
			}
			if i >= math.MinInt && i <= math.MaxInt {
				return int(i), true
			}
			return i, true
		case "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil {
				switch strings.ToLower(n.Value) {
				case ".inf", "+.inf", ".nan", "-.inf":
					d.errorf(n, "%s: infinity and NaN are not allowed", label(path))
				default:
					d.errorf(n, "%s: invalid number %s", label(path), n.Value)
				}
				return nil, false
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				d.errorf(n, "%s: infinity and NaN are not allowed", label(path))
				return nil, false
			}
			return f, true
		default: // !!str, !!timestamp, !!binary: the text as written
			return n.Value, true
		}
	}
	d.errorf(n, "%s: unsupported YAML value", label(path))
	return nil, false
}

// sortedKeys returns a map's keys in order (for deterministic errors).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
