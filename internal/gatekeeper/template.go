package gatekeeper

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
)

// compiledTemplate is a template's Rego, parsed, checked and moved under
// its own namespace.
type compiledTemplate struct {
	t         *Template
	main      *policy.Module
	libs      []*policy.Module
	inventory bool // reads data.inventory
}

// namespaceRef is where a template's Rego lives in the engine:
// data.__gatekeeper["<template name>"]. Gatekeeper itself keeps each
// template under its kind, so two templates may use the same package name
// and each sees only its own libs.
func namespaceRef(name string) ast.Ref {
	return ast.Ref{ast.DefaultRootDocument, ast.StringTerm("__gatekeeper"), ast.StringTerm(name)}
}

var (
	dataLib       = ast.MustParseRef("data.lib")
	dataInventory = ast.MustParseRef("data.inventory")
)

// gatekeeperCapabilities are OPA's built-ins without http.send: Gatekeeper
// refuses templates that call out over the network.
func gatekeeperCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return b.Name == "http.send" })
	return caps
}

// compileTemplate parses and checks a template as Gatekeeper does: Rego v0
// unless the source says v1; a `violation` rule; libs in packages under
// lib; reads of data limited to data.inventory and data.lib; no http.send.
// It returns errors with the template file's lines.
func compileTemplate(t *Template) (*compiledTemplate, []finding.Error) {
	file := t.Location.File
	opts := ast.ParserOptions{RegoVersion: t.Version, ProcessAnnotation: true}
	parse := func(s Source) (*ast.Module, []finding.Error) {
		// Blank lines in front make OPA's line numbers the YAML file's.
		src := strings.Repeat("\n", max(s.Line-1, 0)) + s.Code
		m, err := ast.ParseModuleWithOpts(file, src, opts)
		if err != nil {
			return nil, prefixErrors(t, policy.RegoErrors(file, err))
		}
		return m, nil
	}
	main, errs := parse(t.Rego)
	if errs != nil {
		return nil, errs
	}
	ct := &compiledTemplate{t: t}
	orig := main.Package.Path.Copy()
	if !slices.ContainsFunc(main.Rules, func(r *ast.Rule) bool {
		return r.Head.Name == "violation" || len(r.Head.Reference) > 0 && r.Head.Reference[0].Equal(ast.VarTerm("violation"))
	}) {
		return nil, []finding.Error{templateError(t, t.Rego.Line, "the Rego has no violation rule")}
	}
	if orig.HasPrefix(dataLib) {
		return nil, []finding.Error{templateError(t, t.Rego.Line, "the template's package %s may not be under data.lib (that is for libs)", orig)}
	}
	var libs []*ast.Module
	for _, l := range t.Libs {
		m, errs := parse(l)
		if errs != nil {
			return nil, errs
		}
		if !m.Package.Path.HasPrefix(dataLib) || len(m.Package.Path) < 3 {
			return nil, []finding.Error{templateError(t, l.Line, "lib package %s must be under data.lib", m.Package.Path)}
		}
		libs = append(libs, m)
	}
	all := append([]*ast.Module{main}, libs...)
	var errsOut []finding.Error
	for _, m := range all {
		check := func(r ast.Ref) bool {
			if !r[0].Equal(ast.DefaultRootDocument) {
				return false
			}
			if r.HasPrefix(dataInventory) {
				ct.inventory = true
				return false
			}
			if r.HasPrefix(dataLib) && len(r) > 2 {
				return false
			}
			line := 0
			if r[0].Location != nil {
				line = r[0].Location.Row
			}
			errsOut = append(errsOut, templateError(t, line, "reads %s: a template may read only data.inventory and data.lib", r))
			return false
		}
		// Not the package path: a package is not a read.
		for _, r := range m.Rules {
			ast.WalkRefs(r, check)
		}
		for _, imp := range m.Imports {
			if msg := badImport(imp); msg != "" {
				errsOut = append(errsOut, templateError(t, imp.Location.Row, "%s", msg))
			}
		}
	}
	if errsOut != nil {
		return nil, errsOut
	}
	// Move everything under the template's own namespace.
	ns := namespaceRef(t.Name)
	rewrite := func(r ast.Ref) ast.Ref {
		switch {
		case r.HasPrefix(dataLib):
			return append(ns.Copy(), r[1:]...)
		case r.HasPrefix(orig):
			return append(append(ns.Copy(), ast.StringTerm("template")), r[len(orig):]...)
		}
		return r
	}
	for _, m := range all {
		if _, err := ast.TransformRefs(m, func(r ast.Ref) (ast.Value, error) { return rewrite(r), nil }); err != nil {
			return nil, []finding.Error{templateError(t, t.Rego.Line, "rewriting references: %v", err)}
		}
		for _, imp := range m.Imports {
			if ref, ok := imp.Path.Value.(ast.Ref); ok {
				imp.Path.Value = rewrite(ref)
			}
		}
		m.Package.Path = rewrite(m.Package.Path)
		for _, r := range m.Rules {
			r.Module = m
		}
	}
	// Compile alone, with Gatekeeper's capabilities, so a broken template
	// is reported against its own file and does not touch the others.
	mods := map[string]*ast.Module{}
	for i, m := range all {
		mods[fmt.Sprintf("%s#%d", file, i)] = m
	}
	c := ast.NewCompiler().WithCapabilities(gatekeeperCapabilities())
	c.Compile(mods)
	if c.Failed() {
		return nil, prefixErrors(t, policy.RegoErrors(file, c.Errors))
	}
	ct.main = &policy.Module{Path: file + "#" + t.Name, Source: []byte(t.Rego.Code), Parsed: main}
	for i, m := range libs {
		ct.libs = append(ct.libs, &policy.Module{Path: fmt.Sprintf("%s#%s.libs[%d]", file, t.Name, i), Source: []byte(t.Libs[i].Code), Parsed: m})
	}
	return ct, nil
}

func templateError(t *Template, line int, format string, args ...any) finding.Error {
	loc := t.Location
	if line > 0 {
		loc.Line, loc.Column = line, 0
	}
	return finding.Error{Location: loc, Message: "ConstraintTemplate " + t.Name + ": " + fmt.Sprintf(format, args...)}
}

func prefixErrors(t *Template, errs []finding.Error) []finding.Error {
	for i := range errs {
		errs[i].Location.File = t.Location.File
		errs[i].Location.Document = t.Location.Document
		errs[i].Message = "ConstraintTemplate " + t.Name + ": " + errs[i].Message
	}
	return errs
}

// badImport says why Gatekeeper refuses an import, or "". Its Rego
// rewriter accepts only imports under data.lib and future.keywords: not
// input, not data.inventory (read it by reference instead), not rego.v1 -
// in a v0 and in a v1 template alike.
func badImport(imp *ast.Import) string {
	ref, ok := imp.Path.Value.(ast.Ref)
	if !ok || len(ref) == 0 {
		return fmt.Sprintf("bad import %v", imp.Path)
	}
	switch {
	case ref[0].Equal(ast.InputRootDocument):
		return fmt.Sprintf("cannot import input (%v)", ref)
	case ref.HasPrefix(dataLib) && len(ref) > 2:
		return ""
	case len(ref) >= 2 && ref[0].Equal(ast.VarTerm("future")) && ref[1].Equal(ast.StringTerm("keywords")):
		return ""
	}
	return fmt.Sprintf("bad import %v: a template may import only data.lib.* and future.keywords", ref)
}
