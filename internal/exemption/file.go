package exemption

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/safefile"
	"github.com/continuums/attest/internal/suggest"
)

// DefaultFile is where a project keeps its exemptions.
const DefaultFile = ".attest/exemptions.yaml"

// maxFileSize bounds what LoadFile reads: an exemptions file is written by
// hand or exported from the store, never anywhere near this.
const maxFileSize = 8 << 20

// The keys of one entry, in the order the docs list them.
var entryKeys = []string{
	"id", "policy_name", "rule", "resource_kind", "resource_name", "resource_namespace",
	"reason", "expires_at", "approved_by", "emergency",
}

// LoadFile reads an exemptions file (spec section 6). A missing file gives
// nothing and no error. Every problem is an error with file:line:col, and an
// entry with an error is left out; the other entries are still returned. An
// entry without a reason, an approver or an expiry is returned: it is not
// honoured, and Matcher.Apply says so where it would have applied.
func LoadFile(path string) ([]Exemption, []finding.Error) {
	data, err := safefile.ReadFile(path, maxFileSize)
	loc := finding.Location{File: path}
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, safefile.ErrDirectory):
		return nil, []finding.Error{{Location: loc, Message: "is a directory, not an exemptions file"}}
	case errors.Is(err, safefile.ErrNotRegular):
		return nil, []finding.Error{{Location: loc, Message: "is not a regular file (a pipe, socket or device), not an exemptions file"}}
	case errors.As(err, &tooLarge):
		return nil, []finding.Error{{Location: loc, Message: fmt.Sprintf("exemptions file is larger than %d MiB", maxFileSize>>20)}}
	case err != nil:
		return nil, []finding.Error{{Location: loc, Message: "cannot read exemptions: " + err.Error()}}
	}
	return Parse(path, data)
}

// Parse reads the content of an exemptions file; path names it in
// locations and in each exemption's Source ("file:<path>").
func Parse(path string, data []byte) (list []Exemption, errs []finding.Error) {
	p := parser{path: path}
	defer func() {
		// yaml.v3 has panicked on hostile input before; a bad file must
		// never take the run down.
		if r := recover(); r != nil {
			list, errs = nil, []finding.Error{{Location: finding.Location{File: path}, Message: fmt.Sprintf("cannot parse exemptions: %v", r)}}
		}
	}()
	p.parse(data)
	if len(p.errs) > maxErrors {
		more := len(p.errs) - maxErrors
		p.errs = append(p.errs[:maxErrors:maxErrors], finding.Error{Location: finding.Location{File: path},
			Message: fmt.Sprintf("%d more errors not shown", more)})
	}
	return p.list, p.errs
}

// maxErrors bounds the errors reported for one file.
const maxErrors = 50

type parser struct {
	path string
	list []Exemption
	errs []finding.Error
	ids  map[string]int // explicit id -> line
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	loc := finding.Location{File: p.path}
	if n != nil {
		loc.Line, loc.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, finding.Error{Location: loc, Message: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	loc := finding.Location{File: p.path}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		loc.Line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
	}
	p.errs = append(p.errs, finding.Error{Location: loc, Message: "invalid YAML: " + msg})
}

func (p *parser) parse(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.yamlError(err)
		}
		return
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.errorf(&extra, "more than one YAML document: an exemptions file holds one")
		return
	case !errors.Is(err, io.EOF):
		p.yamlError(err)
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if isNull(root) {
		return
	}
	// Anchors and aliases are refused wherever they are: on the document,
	// the list, a key or a whole entry as much as on a value.
	if root.Anchor != "" || root.Kind == yaml.AliasNode {
		p.errorf(root, "YAML anchors and aliases are not supported in an exemptions file")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Anchor != "" || k.Kind == yaml.AliasNode {
			p.errorf(k, "YAML anchors and aliases are not supported in an exemptions file")
			return
		}
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "want a mapping with an exemptions list, found %s", describe(root))
		return
	}
	var seq *yaml.Node
	p.fields(root, []string{"exemptions"}, func(key string, v *yaml.Node) {
		seq = v
	})
	if seq == nil || isNull(seq) {
		return
	}
	if seq.Kind != yaml.SequenceNode {
		p.errorf(seq, "exemptions: want a list, found %s", describe(seq))
		return
	}
	for _, item := range seq.Content {
		p.entry(item)
	}
	p.assignIDs()
}

// assignIDs names the entries without an id by their target. Two entries
// for one target are allowed (a renewal beside the entry it renews): the
// second gets "#2", and so does a target whose plain id an explicit id
// took.
func (p *parser) assignIDs() {
	for i := range p.list {
		e := &p.list[i]
		if e.ID != "" {
			continue
		}
		base := strings.Replace(e.Target(), " on ", ":", 1)
		e.ID = base
		for n := 2; ; n++ {
			if _, dup := p.ids[e.ID]; !dup {
				break
			}
			e.ID = base + "#" + strconv.Itoa(n)
		}
		p.ids[e.ID] = e.Location.Line
	}
}

// firstAnchor is the first node under n (n included) with an anchor or
// that is an alias; aliases are not followed.
func firstAnchor(n *yaml.Node) *yaml.Node {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := firstAnchor(c); a != nil {
			return a
		}
	}
	return nil
}

// fields walks a mapping strictly: keys must be plain strings among allowed,
// at most once each, and no value may be an alias.
func (p *parser) fields(m *yaml.Node, allowed []string, fn func(key string, v *yaml.Node)) {
	p.walkFields(m, allowed, false, fn)
}

// entryFields is fields for an entry's mapping: an anchor or alias
// anywhere in a value is refused, not only on the value itself.
func (p *parser) entryFields(m *yaml.Node, allowed []string, fn func(key string, v *yaml.Node)) {
	p.walkFields(m, allowed, true, fn)
}

func (p *parser) walkFields(m *yaml.Node, allowed []string, deep bool, fn func(key string, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "want a plain key, found %s", describe(k))
			continue
		}
		if k.Anchor != "" {
			p.errorf(k, "%s: YAML anchors and aliases are not supported in an exemptions file", k.Value)
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			msg := fmt.Sprintf("unknown field %s (want %s)", describe(k), strings.Join(allowed, ", "))
			if s := closest(k.Value, allowed); s != "" {
				msg = fmt.Sprintf("unknown field %s: did you mean %q?", describe(k), s)
			}
			p.errorf(k, "%s", msg)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "field %q given twice (first on line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		a := v
		if deep {
			a = firstAnchor(v)
		} else if v.Anchor == "" && v.Kind != yaml.AliasNode {
			a = nil
		}
		if a != nil {
			p.errorf(a, "%s: YAML anchors and aliases are not supported in an exemptions file", k.Value)
			continue
		}
		fn(k.Value, v)
	}
}

func (p *parser) entry(item *yaml.Node) {
	if item.Anchor != "" || item.Kind == yaml.AliasNode {
		// The entry is left out, as any entry with an error is.
		p.errorf(item, "exemption: YAML anchors and aliases are not supported in an exemptions file")
		return
	}
	if item.Kind != yaml.MappingNode {
		p.errorf(item, "exemption: want a mapping of %s, found %s", strings.Join(entryKeys, ", "), describe(item))
		return
	}
	e := Exemption{
		Source:   SourceFilePrefix + p.path,
		Location: finding.Location{File: p.path, Line: item.Line, Column: item.Column},
	}
	before := len(p.errs)
	var idNode *yaml.Node
	p.entryFields(item, entryKeys, func(key string, v *yaml.Node) {
		if key == "emergency" {
			if isNull(v) {
				return
			}
			b, err := strconv.ParseBool(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || (v.Tag != "!!bool" && v.Tag != "!!str") {
				p.errorf(v, "emergency: want true or false, found %s", describe(v))
				return
			}
			e.Emergency = b
			return
		}
		s, ok := p.scalar(key, v)
		if !ok {
			return
		}
		switch key {
		case "id":
			e.ID, idNode = s, v
		case "policy_name":
			if strings.Contains(s, "/") {
				policy, _, _ := strings.Cut(s, "/")
				p.errorf(v, "policy_name %q is a rule id: write policy_name: %s and rule: %s", s, policy, s)
				return
			}
			if strings.ContainsAny(s, "* \t") {
				p.errorf(v, "policy_name %q: want one policy's name, such as attest-security", s)
				return
			}
			e.Policy = s
		case "rule":
			e.Rule = s
			if strings.ContainsAny(s, "* \t") {
				p.errorf(v, "%v", CheckRule("", s))
				e.Rule = ""
			}
		case "resource_kind":
			if strings.Contains(s, "*") {
				// The Matcher finds exemptions by kind: a glob would load
				// and never match.
				p.errorf(v, "resource_kind %q: a kind takes no globs; write one exemption per kind (with resource_name \"*\" for every name)", s)
				return
			}
			if !kindRE.MatchString(s) {
				p.errorf(v, "resource_kind %q is not a Kubernetes kind (letters and digits, such as Pod)", s)
				return
			}
			e.Kind = s
		case "resource_name":
			if err := checkGlob(s, false); err != nil {
				p.errorf(v, "resource_name: %v", err)
				return
			}
			e.Name = s
		case "resource_namespace":
			if err := checkGlob(s, true); err != nil {
				p.errorf(v, "resource_namespace: %v", err)
				return
			}
			e.Namespace = s
		case "reason":
			e.Reason = s
		case "approved_by":
			e.ApprovedBy = s
		case "expires_at":
			if s == "" {
				return
			}
			t, err := ParseExpiry(s)
			if err != nil {
				p.errorf(v, "expires_at: %v", err)
				return
			}
			e.ExpiresAt = t
		}
	})
	if len(p.errs) > before {
		return
	}
	var missing []string
	if e.Policy == "" {
		missing = append(missing, "policy_name")
	}
	if e.Kind == "" {
		missing = append(missing, "resource_kind")
	}
	if e.Name == "" {
		missing = append(missing, "resource_name")
	}
	if len(missing) > 0 {
		msg := "exemption: missing " + strings.Join(missing, ", ")
		if e.Namespace != "" && e.Policy != "" {
			// The common mistake: a namespace alone, meant for all of it.
			msg += fmt.Sprintf(` (an exemption names a kind; to exempt every resource of a kind in namespace %s, write resource_kind and resource_name: "*", one entry per kind)`, e.Namespace)
		}
		p.errorf(item, "%s", msg)
		return
	}
	if err := CheckRule(e.Policy, e.Rule); err != nil {
		p.errorf(item, "%v", err)
		return
	}
	// Ids are unique in the file, the ones made from an entry's target
	// included: notes, reports and the expired list name entries by id.
	if p.ids == nil {
		p.ids = map[string]int{}
	}
	if e.ID == "" {
		// Named once every explicit id is known (assignIDs), so which one
		// gets "#2" does not depend on the order of the entries.
	} else {
		if line, dup := p.ids[e.ID]; dup {
			p.errorf(idNode, "id %q is used twice (first on line %d)", e.ID, line)
			return
		}
		p.ids[e.ID] = idNode.Line
	}
	p.list = append(p.list, e)
}

// scalar reads a string field; null reads as empty.
func (p *parser) scalar(key string, v *yaml.Node) (string, bool) {
	if isNull(v) {
		return "", true
	}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "%s: want a string, found %s", key, describe(v))
		return "", false
	}
	return strings.TrimSpace(v.Value), true
}

// checkGlob accepts a name or namespace, with at most one "*" at its end.
func checkGlob(s string, namespace bool) error {
	prefix, glob := strings.CutSuffix(s, "*")
	if strings.Contains(prefix, "*") {
		return fmt.Errorf("%q: '*' may only end the pattern (a prefix glob, such as legacy-*)", s)
	}
	if glob && prefix == "" {
		return nil
	}
	if namespace {
		for _, r := range prefix {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("%q is not a namespace (lower-case letters, digits and '-')", s)
			}
		}
		return nil
	}
	if glob {
		if strings.ContainsAny(prefix, " \t\r\n%") {
			return fmt.Errorf("%q holds a space or '%%'", s)
		}
		return nil
	}
	return checkName(prefix)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "something else"
}

// closest suggests the allowed key nearest to a misspelt one.
func closest(s string, allowed []string) string { return suggest.Closest(s, allowed) }
