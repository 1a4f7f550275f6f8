package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// badInput is where raw bytes stop being YAML: invalid UTF-8 or a character
// YAML forbids. yaml.v3 reports these without a line, so they are found
// here first.
type badInput struct {
	offset, line, column int
	msg                  string
}

// isBinary is the usual sniff (git, grep): a NUL byte near the start.
func isBinary(data []byte) (int, bool) {
	head := data[:min(len(data), binarySniffLen)]
	i := bytes.IndexByte(head, 0)
	return i, i >= 0
}

// scanInput finds the first invalid UTF-8 sequence or character that YAML
// does not allow (C0 controls but tab, CR and LF; DEL; C1 controls but NEL;
// U+FFFE and U+FFFF), with its 1-based line and column (in characters).
func scanInput(data []byte) *badInput {
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				line, lineStart = line+1, i+1
			case c < 0x20 && c != '\t' && c != '\r', c == 0x7f:
				return bad(data, i, line, lineStart, fmt.Sprintf("control character U+%04X is not allowed in YAML", c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return bad(data, i, line, lineStart, fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", c))
		case r >= 0x80 && r <= 0x9f && r != 0x85, r == 0xfffe, r == 0xffff:
			return bad(data, i, line, lineStart, fmt.Sprintf("character U+%04X is not allowed in YAML", r))
		}
		i += size
	}
	return nil
}

func bad(data []byte, offset, line, lineStart int, msg string) *badInput {
	return &badInput{offset: offset, line: line, column: utf8.RuneCount(data[lineStart:offset]) + 1, msg: msg}
}

// lastDocumentStart is the offset of the "---" line that starts the
// document holding offset, or 0: what precedes it is whole documents.
func lastDocumentStart(data []byte, offset int) int {
	for end := offset; end > 0; {
		i := bytes.LastIndex(data[:end], []byte("\n---"))
		if i < 0 {
			break
		}
		if isDocumentMarker(data[i+1:]) {
			return i + 1
		}
		end = i
	}
	return 0
}

// nextDocumentStart is the offset of the first "---" line that begins at or
// after offset, or -1.
func nextDocumentStart(data []byte, offset int) int {
	for offset < len(data) {
		if isDocumentMarker(data[offset:]) && (offset == 0 || data[offset-1] == '\n') {
			return offset
		}
		i := bytes.IndexByte(data[offset:], '\n')
		if i < 0 {
			return -1
		}
		offset += i + 1
	}
	return -1
}

// isDocumentMarker reports whether b starts with a "---" document marker.
func isDocumentMarker(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("---")) {
		return false
	}
	return len(b) == 3 || b[3] == ' ' || b[3] == '\t' || b[3] == '\n' || b[3] == '\r'
}

// lineOffset returns the byte offset where 1-based line n starts.
func lineOffset(data []byte, n int) int {
	off := 0
	for ; n > 1; n-- {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}

// jsonSyntaxError checks data as a stream of JSON values and places the
// first syntax error.
func jsonSyntaxError(data []byte) *badInput {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			off := int(dec.InputOffset())
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				off = int(se.Offset) - 1
			case errors.Is(err, io.ErrUnexpectedEOF):
				off = len(data)
			}
			if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
				off += 3
			}
			off = max(0, min(off, len(data)))
			line := 1 + bytes.Count(data[:off], []byte("\n"))
			lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
			b := bad(data, off, line, lineStart, err.Error())
			if errors.Is(err, io.ErrUnexpectedEOF) {
				b.msg = "unexpected end of input"
			}
			return b
		}
	}
}
