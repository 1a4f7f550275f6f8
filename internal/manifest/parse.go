package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

// noteNotObject is the note for a document that is not a Kubernetes object.
const noteNotObject = "skipped: not a Kubernetes object (no apiVersion/kind)"

// Parse parses data that is already in memory: stdin, tests, request bodies.
// path only names the source in locations. The result is never nil, and a
// bad document never hides the good ones before it, nor (where the YAML
// can be resynchronised at the next "---") after it.
func (l *Loader) Parse(path string, data []byte) (f *File) {
	f = &File{Path: path}
	defer func() {
		// yaml.v3 has had panics on hostile input; a policy run must go on.
		if r := recover(); r != nil {
			f.Errors = append(f.Errors, finding.Error{
				Location: finding.Location{File: path},
				Message:  fmt.Sprintf("internal error while parsing: %v", r),
			})
		}
	}()
	if off, ok := isBinary(data); ok {
		f.Errors = append(f.Errors, finding.Error{
			Location: finding.Location{File: path},
			Message:  fmt.Sprintf("binary file (NUL byte at offset %d), not YAML or JSON", off),
		})
		return f
	}
	p := parser{loader: l, file: f, format: formatOf(path, data)}
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		// A .json file is held to JSON, as kubectl does when it sees JSON:
		// YAML would accept `"kind": }` as a null. Other input that merely
		// starts with '{' may be a YAML flow mapping and is read as YAML.
		if b := jsonSyntaxError(data); b != nil {
			f.Errors = append(f.Errors, finding.Error{
				Location: finding.Location{File: path, Line: b.line, Column: b.column},
				Message:  "invalid JSON: " + b.msg,
			})
			return f
		}
	}
	if b := scanInput(data); b != nil {
		docs := p.decode(data[:lastDocumentStart(data, b.offset)])
		f.Errors = append(f.Errors, finding.Error{
			Location: finding.Location{File: path, Document: docs, Line: b.line, Column: b.column},
			Message:  b.msg,
		})
		return f
	}
	p.decode(data)
	return f
}

// parser holds the state of one Parse call.
type parser struct {
	loader *Loader
	file   *File
	format string // "YAML" or "JSON", for messages
	conv   *converter
}

// formatOf says whether input is JSON, for messages and for accepting a
// top-level array of objects.
func formatOf(path string, data []byte) string {
	if strings.HasSuffix(strings.ToLower(path), ".json") || looksLikeJSON(data) {
		return "JSON"
	}
	return "YAML"
}

// looksLikeJSON is kubectl's sniff: the first non-space byte opens an object
// (or here also an array).
func looksLikeJSON(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// decode parses every document of data and returns how many it saw. After a
// syntax error yaml.v3 cannot go on, so decoding restarts at the next "---"
// line with a new decoder and the lines are shifted back into place.
func (p *parser) decode(data []byte) int {
	p.conv = newConverter(p.loader.maxDepth, p.loader.maxAliasExpansion)
	doc, lineBase := 0, 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return doc
		}
		if err != nil {
			line, msg := splitYAMLError(err)
			// An error at the end of input is reported on the line after
			// the last one; the user's problem is on the last one.
			line = min(line, lineCount(data))
			loc := finding.Location{File: p.file.Path, Document: doc}
			if line > 0 {
				loc.Line = line + lineBase
			}
			p.file.Errors = append(p.file.Errors, finding.Error{Location: loc, Message: "invalid " + p.format + ": " + msg})
			if line == 0 {
				return doc + 1
			}
			start := lineOffset(data, line)
			next := nextDocumentStart(data, start)
			if next == 0 {
				next = nextDocumentStart(data, lineOffset(data, 2))
			}
			if next <= 0 {
				return doc + 1
			}
			lineBase += bytes.Count(data[:next], []byte("\n"))
			data = data[next:]
			dec = yaml.NewDecoder(bytes.NewReader(data))
			doc++
			continue
		}
		if lineBase > 0 {
			shiftLines(&root, lineBase)
		}
		p.document(&root, doc)
		doc++
	}
}

var yamlErrorLine = regexp.MustCompile(`^line (\d+): `)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). yaml.v3 reports their line 0-based, and leaves it out on the
// first line; splitYAMLError corrects both.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// splitYAMLError takes yaml.v3's "yaml: line 3: did not find expected key"
// apart into a 1-based line and a message.
func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if parserProblems[msg] {
		line++
	}
	return line, msg
}

// shiftLines moves a tree decoded from the middle of a file to its real
// lines. Aliases are not followed: their targets are in the tree already.
func shiftLines(n *yaml.Node, delta int) {
	n.Line += delta
	for _, c := range n.Content {
		shiftLines(c, delta)
	}
}

// document turns one YAML document into resources, notes or errors.
func (p *parser) document(root *yaml.Node, doc int) {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	// One alias budget for the whole document, List items included, so
	// that items (or Lists) aliased many times cannot multiply it.
	p.conv.reset()
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == tagNull && n.Style&yaml.TaggedStyle == 0:
		// An empty document, from "---" at the end of a file or between
		// two markers: nothing to say about it.
	case n.Kind == yaml.SequenceNode && p.format == "JSON" && n.Style&yaml.FlowStyle != 0:
		// A JSON array of objects reads as a List.
		p.items(n, doc, 1)
	case n.Kind == yaml.MappingNode:
		p.item(n, doc, -1, 0)
	default:
		p.note(n, doc)
	}
}

// maxListDepth is how many Lists may nest, one inside the other (a List
// of Lists is 2). Kubernetes tools produce one level; the bound only stops
// hostile input.
const maxListDepth = 16

// noteEmptyList is the note for a List without items.
const noteEmptyList = "skipped: empty List (no items)"

// items expands the items of a List at depth (1 for a top-level List), one
// by one, so that a bad item does not take its siblings down. It reports
// false when the document must not go on: its alias budget is spent.
func (p *parser) items(items *yaml.Node, doc, depth int) bool {
	for i, it := range items.Content {
		if !p.item(it, doc, i, depth) {
			return false
		}
	}
	return true
}

// item turns one node into a resource, or, when it is a List, into the
// resources of its items, Lists among them expanded in turn, each item
// keeping its own position. An empty List (items null or []) is skipped
// with a note. index is the node's index in the List that holds it (-1 at
// the top of a document); depth is how many Lists hold it. What is reached
// through an alias is charged to the document's alias budget, the List
// walk's nodes as the converter's, so aliased Lists cannot multiply into
// a bomb, and an anchor whose List holds itself is an error. item reports
// false when the budget is spent and the document must not go on.
func (p *parser) item(n *yaml.Node, doc, index, depth int) bool {
	c := p.conv
	if n.Kind == yaml.AliasNode {
		if c.enter(n) != nil {
			// An unknown anchor or one that holds itself: the converter
			// says so, as it would anywhere else.
			p.object(n, doc, index)
			return c.budget >= 0
		}
		defer c.leave()
		n = n.Alias
	}
	if !p.charge(n, doc) {
		return false
	}
	items, isList := listItems(n)
	if !isList {
		p.object(n, doc, index)
		return c.budget >= 0
	}
	if depth >= maxListDepth {
		line, col := startOf(n)
		p.errorAt(&nodeError{line: line, column: col, msg: fmt.Sprintf("Lists nested deeper than %d levels", maxListDepth)}, doc)
		return true
	}
	if items != nil && items.Kind == yaml.AliasNode {
		if err := c.enter(items); err != nil {
			p.errorAt(err, doc)
			return true
		}
		defer c.leave()
		items = items.Alias
		if !p.charge(items, doc) {
			return false
		}
	}
	if items == nil || len(items.Content) == 0 {
		p.noteMsg(n, doc, noteEmptyList)
		return true
	}
	return p.items(items, doc, depth+1)
}

// charge spends one node of the document's alias budget on n when it is
// reached through an alias; false, with the error, when the budget is
// spent.
func (p *parser) charge(n *yaml.Node, doc int) bool {
	if err := p.conv.charge(n); err != nil {
		p.errorAt(err, doc)
		return false
	}
	return true
}

// listItems tells whether n is a "kind: ...List" object with items, and
// returns its items: a sequence, an alias of one, or nil when the List is
// empty (items: null). A "*List" without items, or whose items are not a
// sequence, is an object of its own.
func listItems(n *yaml.Node) (*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	var kind, items *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; {
		case k.Kind != yaml.ScalarNode:
		case k.Value == "kind":
			kind = n.Content[i+1]
		case k.Value == "items":
			items = n.Content[i+1]
		}
	}
	if kind == nil || items == nil || kind.Kind != yaml.ScalarNode || !strings.HasSuffix(kind.Value, "List") {
		return nil, false
	}
	target := items
	if target.Kind == yaml.AliasNode && target.Alias != nil {
		target = target.Alias
	}
	switch {
	case target.Kind == yaml.SequenceNode:
		return items, true
	case target.Kind == yaml.ScalarNode && target.Tag == tagNull:
		return nil, true
	}
	return nil, false
}

func (p *parser) errorAt(ne *nodeError, doc int) {
	p.file.Errors = append(p.file.Errors, finding.Error{
		Location: finding.Location{File: p.file.Path, Document: doc, Line: ne.line, Column: ne.column},
		Message:  ne.msg,
	})
}

func (p *parser) note(n *yaml.Node, doc int) {
	p.noteMsg(n, doc, noteNotObject)
}

func (p *parser) noteMsg(n *yaml.Node, doc int, msg string) {
	line, col := startOf(n)
	p.file.Notes = append(p.file.Notes, finding.Note{
		Location: finding.Location{File: p.file.Path, Document: doc, Line: line, Column: col},
		Message:  msg,
	})
}

// object converts one mapping into a Resource.
func (p *parser) object(n *yaml.Node, doc, item int) {
	// An alias is converted as such, so that the converter charges its
	// expansion and finds an anchor that contains itself.
	at := n
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		at = n.Alias
	}
	if at.Kind != yaml.MappingNode {
		p.note(at, doc)
		return
	}
	v, err := p.conv.value(n, 0)
	if err != nil {
		loc := finding.Location{File: p.file.Path, Document: doc}
		msg := err.Error()
		var ne *nodeError
		if errors.As(err, &ne) {
			loc.Line, loc.Column, msg = ne.line, ne.column, ne.msg
		}
		p.file.Errors = append(p.file.Errors, finding.Error{Location: loc, Message: msg})
		return
	}
	r := newResource(v, at)
	if r == nil {
		p.note(at, doc)
		return
	}
	r.Location = finding.Location{File: p.file.Path, Document: doc}
	r.Location.Line, r.Location.Column = startOf(at)
	r.Item = item
	p.file.Resources = append(p.file.Resources, r)
}

// startOf is where a node begins for a reader: a mapping's first key.
func startOf(n *yaml.Node) (int, int) {
	if n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return n.Content[0].Line, n.Content[0].Column
	}
	return n.Line, n.Column
}

// lineCount is the number of lines in data, counting an unterminated last
// line.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
