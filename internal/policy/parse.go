package policy

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	"github.com/open-policy-agent/opa/v1/ast"
)

// v1Hint matches syntax that only Rego v1 (or v0 with future imports)
// accepts, used to pick which parse error to show when both versions fail.
var v1Hint = regexp.MustCompile(`(?m)(\bimport\s+rego\.v1\b|\)\s*if\s*\{|\bcontains\s+\w+\s+if\b|\s+if\s*\{)`)

// ParseModule parses a Rego file written for either Rego version. Files are
// tried as v1 first; a file that is not valid v1 is tried as v0 with the
// `in` keyword enabled, which is how the spec's snippets are written (v0
// rules that use `in` without importing it). METADATA annotations are kept.
func ParseModule(path string, src []byte) (*ast.Module, error) {
	if bytes.IndexByte(src, 0) >= 0 {
		return nil, fmt.Errorf("%s: binary file, not Rego", path)
	}
	m1, err1 := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{
		RegoVersion:       ast.RegoV1,
		ProcessAnnotation: true,
	})
	if err1 == nil {
		return m1, nil
	}
	m0, err0 := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{
		RegoVersion:       ast.RegoV0,
		FutureKeywords:    []string{"in"},
		ProcessAnnotation: true,
	})
	if err0 == nil {
		return m0, nil
	}
	// Both failed: report the error of the version the author most likely
	// meant, so the line number points at the real mistake.
	if v1Hint.Match(src) {
		return nil, err1
	}
	return nil, err0
}

// ErrorLocations flattens OPA's parse/compile errors into file:line:col
// messages, one per error.
func ErrorLocations(err error) []string {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Location != nil {
			out = append(out, fmt.Sprintf("%s:%d:%d: %s", e.Location.File, e.Location.Row, e.Location.Col, e.Message))
		} else {
			out = append(out, e.Message)
		}
	}
	return out
}
