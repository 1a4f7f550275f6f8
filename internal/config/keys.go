package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// A settable key is a scalar (or list of strings) leaf of the policy,
// exemptions and compliance sections, of a policies entry
// ("policies.NAME.enforcement"), or of the governance file
// ("governance.exemption_approval.max_duration").

// keyField is one settable key.
type keyField struct {
	key   string
	typ   reflect.Type
	check string
}

// leafKeys lists the settable leaves of a struct type under prefix.
func leafKeys(t reflect.Type, prefix string) []keyField {
	var out []keyField
	for _, fi := range fieldsOf(t) {
		ft := t.FieldByIndex(fi.index).Type
		k := joinPath(prefix, fi.key)
		if ft.Kind() == reflect.Struct {
			out = append(out, leafKeys(ft, k)...)
			continue
		}
		if settable(ft) {
			out = append(out, keyField{key: k, typ: ft, check: fi.check})
		}
	}
	return out
}

func settable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Int:
		return true
	case reflect.Pointer:
		return t.Elem().Kind() == reflect.Bool
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// staticKeys are the keys of every policies file, in documentation order.
func staticKeys() []keyField {
	t := reflect.TypeOf(fileSchema{})
	var out []keyField
	for _, fi := range fieldsOf(t) {
		ft := t.FieldByIndex(fi.index).Type
		if ft.Kind() == reflect.Struct {
			out = append(out, leafKeys(ft, fi.key)...)
		}
	}
	return out
}

func policyKeys(name string) []keyField {
	var out []keyField
	for _, k := range leafKeys(reflect.TypeOf(PolicyConfig{}), "policies."+name) {
		if !strings.HasSuffix(k.key, ".name") {
			out = append(out, k)
		}
	}
	return out
}

func governanceKeys() []keyField {
	return leafKeys(reflect.TypeOf(Governance{}), "governance")
}

// findKey resolves a dotted key to its definition.
func findKey(key string) (keyField, error) {
	if rest, ok := strings.CutPrefix(key, "policies."); ok {
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 {
			return keyField{}, fmt.Errorf("unknown key %q: write policies.NAME.FIELD, for instance policies.image-security.enforcement", key)
		}
		name := rest[:i]
		for _, k := range policyKeys(name) {
			if k.key == key {
				return k, nil
			}
		}
		return keyField{}, fmt.Errorf("unknown key %q (a policy entry has: %s)", key, suffixes(policyKeys(name), "policies."+name+"."))
	}
	all := staticKeys()
	if strings.HasPrefix(key, "governance.") {
		all = governanceKeys()
	}
	for _, k := range all {
		if k.key == key {
			return k, nil
		}
	}
	section, _, _ := strings.Cut(key, ".")
	var near []keyField
	for _, k := range append(staticKeys(), governanceKeys()...) {
		if strings.HasPrefix(k.key, section+".") {
			near = append(near, k)
		}
	}
	if len(near) > 0 {
		return keyField{}, fmt.Errorf("unknown key %q (keys under %s: %s)", key, section, suffixes(near, ""))
	}
	return keyField{}, fmt.Errorf("unknown key %q (keys start with policy., policies.NAME., exemptions., compliance. or governance.; `attest config list` shows them all)", key)
}

func suffixes(ks []keyField, trim string) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = strings.TrimPrefix(k.key, trim)
	}
	return strings.Join(s, ", ")
}

// lookup walks c to the field a key names; ok is false when the value is
// not there (no such policy entry, no governance file).
func lookup(c *Config, key string) (reflect.Value, bool) {
	var v reflect.Value
	var rest string
	switch {
	case strings.HasPrefix(key, "policies."):
		r := strings.TrimPrefix(key, "policies.")
		i := strings.LastIndexByte(r, '.')
		name := r[:i]
		for j := range c.Policies {
			if c.Policies[j].Name == name {
				return lookupIn(reflect.ValueOf(&c.Policies[j]).Elem(), r[i+1:])
			}
		}
		return reflect.Value{}, false
	case strings.HasPrefix(key, "governance."):
		if c.Governance == nil {
			return reflect.Value{}, false
		}
		v, rest = reflect.ValueOf(c.Governance).Elem(), strings.TrimPrefix(key, "governance.")
	default:
		v, rest = reflect.ValueOf(c).Elem(), key
		section, r, _ := strings.Cut(rest, ".")
		for _, fi := range fieldsOf(reflect.TypeOf(fileSchema{})) {
			if fi.key == section {
				f, _ := reflect.TypeOf(Config{}).FieldByName(reflect.TypeOf(fileSchema{}).FieldByIndex(fi.index).Name)
				v, rest = v.FieldByIndex(f.Index), r
				break
			}
		}
	}
	return lookupIn(v, rest)
}

func lookupIn(v reflect.Value, rest string) (reflect.Value, bool) {
	for _, seg := range strings.Split(rest, ".") {
		found := false
		for _, fi := range fieldsOf(v.Type()) {
			if fi.key == seg {
				v, found = v.FieldByIndex(fi.index), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

func format(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return format(v.Elem())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.String:
		return v.String()
	case reflect.Slice:
		s := make([]string, v.Len())
		for i := range s {
			s[i] = v.Index(i).String()
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v.Interface())
}

// Get returns the effective value of a key, as `attest config get` prints
// it: true/false, a number, a string, a comma-separated list, or "" for
// a key nobody set that has no default.
func Get(c *Config, key string) (string, error) {
	if team, ok := strings.CutPrefix(key, "governance.teams."); ok && team != "" {
		if c.Governance == nil {
			return "", nil
		}
		return strings.Join(c.Governance.Teams[team], ","), nil
	}
	if _, err := findKey(key); err != nil {
		return "", err
	}
	v, ok := lookup(c, key)
	if !ok {
		return "", nil
	}
	return format(v), nil
}

// List returns every settable key with its effective value and the file
// (file:line) it came from, or "default": the policies file keys first,
// then each policies entry, then the governance file's keys when there is
// one.
func List(c *Config) []KeyValue {
	var keys []keyField
	keys = append(keys, staticKeys()...)
	for _, p := range c.Policies {
		keys = append(keys, policyKeys(p.Name)...)
	}
	if c.Governance != nil {
		keys = append(keys, governanceKeys()...)
	}
	out := make([]KeyValue, 0, len(keys))
	for _, k := range keys {
		v, ok := lookup(c, k.key)
		val := ""
		if ok {
			val = format(v)
		}
		out = append(out, KeyValue{Key: k.key, Value: val, Source: c.Origin(k.key)})
	}
	// Teams are a map, not fixed keys: one line per team, its members.
	if c.Governance != nil {
		for _, name := range sortedKeys(c.Governance.Teams) {
			key := "governance.teams." + name
			src := c.Origin(key)
			if src == "default" {
				src = c.Origin("governance.teams")
			}
			out = append(out, KeyValue{Key: key, Value: strings.Join(c.Governance.Teams[name], ","), Source: src})
		}
	}
	return out
}

// Set writes one key into the YAML file at path, in place: comments, key
// order and the other keys are kept; the file and its parent directories
// are created when missing. The value is checked (type, allowed values)
// and the whole file is validated as Load would before anything is
// written; the write is atomic (a temporary file renamed over the old).
//
// Booleans take true or false, numbers decimal integers, lists a
// comma-separated value ("production,prod"; "" for an empty list).
func Set(path string, key, value string) error {
	kf, err := findKey(key)
	if err != nil {
		return err
	}
	node, err := valueNode(kf, value)
	if err != nil {
		return err
	}
	// check the value alone first, for an error that names the key
	// rather than a line of a file the user did not write
	scalars := []*yaml.Node{node}
	if node.Kind == yaml.SequenceNode {
		scalars = node.Content
	}
	for _, n := range scalars {
		if n.Tag != "!!str" {
			continue
		}
		d := newDecoder(path)
		if _, ok := d.checkScalar(n, key, kf.check, n.Value); !ok {
			return errors.New(d.errs[0].Message)
		}
	}

	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved // write through a symlinked config file, not over the link
	}
	data, ferr := readFile(target, false)
	if ferr != nil {
		return ferr
	}
	d := newDecoder(path)
	doc := d.parseDocument(data)
	if doc == nil {
		return d.err()
	}
	root := doc.Content[0]
	if err := setIn(root, key, node); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(detectIndent(data))
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("%s: cannot write YAML: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("%s: cannot write YAML: %w", path, err)
	}
	out := buf.Bytes()

	// validate the result exactly as Load will read it
	vd := newDecoder(path)
	if strings.HasPrefix(key, "governance.") {
		vd.decodeGovernance(out)
	} else {
		var f fileSchema
		vd.decodeBytes(out, reflectOf(&f))
		vd.validateFile(&f)
	}
	if err := vd.err(); err != nil {
		return err
	}
	return writeAtomic(target, out)
}

// valueNode turns the command line's text into a YAML node of the key's
// type.
func valueNode(kf keyField, value string) (*yaml.Node, error) {
	t := kf.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		switch value {
		case "true", "false":
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: value}, nil
		}
		return nil, fmt.Errorf("%s: expected true or false, got %q", kf.key, value)
	case reflect.Int:
		i, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s: expected an integer, got %q", kf.key, value)
		}
		if msg := checkInt(kf.check, int64(i)); msg != "" {
			return nil, fmt.Errorf("%s: %s", kf.key, msg)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}, nil
	case reflect.String:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}, nil
	case reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
			}
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%s cannot be set from the command line", kf.key)
}

// parseDocument is parse keeping the document node (and its comments);
// an empty file gives a document holding an empty mapping.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		d.errorAt(0, 0, "file is larger than %d MiB; a configuration file is never that big", MaxFileSize>>20)
		return nil
	}
	if !d.precheck(data) {
		return nil
	}
	var doc yaml.Node
	err := safeDecode(yaml.NewDecoder(bytes.NewReader(data)), &doc)
	if err != nil && !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode {
		doc = yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if len(doc.Content) == 0 {
			// a comment-only file: keep the comments above the new keys
			var comments []string
			for _, line := range strings.Split(string(data), "\n") {
				if line = strings.TrimSpace(line); strings.HasPrefix(line, "#") {
					comments = append(comments, line)
				}
			}
			m.HeadComment = strings.Join(comments, "\n")
		} else {
			m.HeadComment = doc.Content[0].HeadComment
			m.LineComment = doc.Content[0].LineComment
			m.FootComment = doc.Content[0].FootComment
		}
		doc.Content = []*yaml.Node{m}
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		d.errorf(doc.Content[0], "expected a mapping at the top level, got %s", describe(doc.Content[0]))
		return nil
	}
	return &doc
}

// setIn writes value under the dotted key in a mapping node.
func setIn(root *yaml.Node, key string, value *yaml.Node) error {
	if rest, ok := strings.CutPrefix(key, "policies."); ok {
		i := strings.LastIndexByte(rest, '.')
		name, field := rest[:i], rest[i+1:]
		seq, err := child(root, "policies", yaml.SequenceNode)
		if err != nil {
			return err
		}
		var entry *yaml.Node
		for _, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			if n := get(item, "name"); n != nil && n.Value == name {
				entry = item
				break
			}
		}
		if entry == nil {
			entry = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			entry.Content = append(entry.Content, scalarKey("name"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name})
			seq.Content = append(seq.Content, entry)
		}
		put(entry, field, value)
		return nil
	}
	segs := strings.Split(key, ".")
	m := root
	for _, s := range segs[:len(segs)-1] {
		next, err := child(m, s, yaml.MappingNode)
		if err != nil {
			return err
		}
		m = next
	}
	put(m, segs[len(segs)-1], value)
	return nil
}

func scalarKey(k string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k} }

func get(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// child returns the value of key in m, creating it (or replacing an empty
// value) with a node of kind.
func child(m *yaml.Node, key string, kind yaml.Kind) (*yaml.Node, error) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind == yaml.AliasNode {
			return nil, fmt.Errorf("line %d: %s is a YAML alias; edit the file by hand", v.Line, key)
		}
		if isNull(v) {
			n := &yaml.Node{Kind: kind, Tag: tagOf(kind), LineComment: v.LineComment, HeadComment: v.HeadComment, FootComment: v.FootComment}
			m.Content[i+1] = n
			return n, nil
		}
		if v.Kind != kind {
			return nil, fmt.Errorf("line %d: %s is %s, not %s", v.Line, key, describe(v), describe(&yaml.Node{Kind: kind}))
		}
		return v, nil
	}
	n := &yaml.Node{Kind: kind, Tag: tagOf(kind)}
	m.Content = append(m.Content, scalarKey(key), n)
	return n, nil
}

func tagOf(k yaml.Kind) string {
	if k == yaml.SequenceNode {
		return "!!seq"
	}
	return "!!map"
}

// put sets key to value in m, keeping the comments of a value it replaces.
func put(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			value.HeadComment, value.LineComment, value.FootComment = old.HeadComment, old.LineComment, old.FootComment
			if old.Kind == yaml.SequenceNode && value.Kind == yaml.SequenceNode {
				value.Style = old.Style // keep block lists block
			}
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, scalarKey(key), value)
}

// detectIndent guesses the file's indentation (the smallest indent of a
// line that has one), so that an edit does not reindent the whole file.
func detectIndent(data []byte) int {
	best := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " ")
		ind := len(line) - len(trimmed)
		if ind == 0 || len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if best == 0 || ind < best {
			best = ind
		}
	}
	if best < 2 || best > 8 {
		return 2
	}
	return best
}

// writeAtomic replaces path with data through a temporary file in the same
// directory, keeping the old file's permissions.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
