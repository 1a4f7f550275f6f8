// Package policylint validates policy-side files for `attest policy
// validate`: Rego (parse, compile, METADATA) and attest's own configuration
// files (schema), each problem at its file, line and column.
package policylint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/safefile"
	"github.com/continuums/attest/library"
)

// Result is what Paths found.
type Result struct {
	Errors []finding.Error
	Notes  []finding.Note
	Files  []string
	// RegoDirs are directories holding Rego, for the manifest loader to
	// skip (a policies/ folder has no manifests).
	RegoDirs []string
}

// Paths validates every .rego file and every attest configuration file
// under paths. Rego is compiled together with the built-in library, so
// policies that extend its packages or call its helpers validate.
func Paths(ctx context.Context, paths []string) Result {
	var res Result
	var rego []string
	for _, root := range paths {
		if root == "-" {
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // the manifest loader reports unreadable paths
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") && d.Name() != ".attest" {
					return fs.SkipDir
				}
				return nil
			}
			switch {
			case strings.HasSuffix(p, ".rego"):
				rego = append(rego, p)
				dir := filepath.Dir(p)
				if len(res.RegoDirs) == 0 || res.RegoDirs[len(res.RegoDirs)-1] != dir {
					res.RegoDirs = append(res.RegoDirs, dir)
				}
			case IsConfigFile(p):
				res.Files = append(res.Files, p)
				res.Errors = append(res.Errors, configFile(p)...)
			}
			return nil
		})
	}
	if len(rego) == 0 {
		return res
	}
	res.Files = append(res.Files, rego...)
	set, errs := policy.Load(ctx, policy.WithBuiltin(library.FS()), policy.WithPaths(rego...))
	res.Errors = append(res.Errors, errs...)
	_, cerrs, _ := engine.New(ctx, set)
	res.Errors = append(res.Errors, cerrs...)
	for _, p := range set.Policies {
		if p.Builtin {
			continue
		}
		res.Notes = append(res.Notes, finding.Note{
			Location: finding.Location{File: p.Modules[0].Path},
			Message:  "policy " + p.Name + " (" + string(p.Style) + " style): " + plural(len(p.Rules), "rule"),
		})
		res.Notes = append(res.Notes, positionalNotes(p)...)
	}
	return res
}

// positionalNotes warns about rule ids that are only a position (deny-2):
// a rule added above renumbers them, and exemptions, SARIF rule ids and
// dashboards that name them then point at another rule.
func positionalNotes(p *policy.Policy) []finding.Note {
	var out []finding.Note
	for _, r := range p.Rules {
		if !r.Positional || r.Body == nil || r.Body.Location == nil {
			continue
		}
		out = append(out, finding.Note{
			Location: finding.Location{File: r.Module.Path, Line: r.Body.Location.Row, Column: r.Body.Location.Col},
			Message: "rule id " + r.ID + " is its position among the " + r.Name + " rules: a rule added above renumbers it; " +
				"give it a METADATA title or custom.id (or a comment above it) so exemptions and report ids keep naming it",
		})
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// IsConfigFile reports whether path is one of attest's own YAML files.
func IsConfigFile(path string) bool {
	dir := filepath.Base(filepath.Dir(path))
	base := filepath.Base(path)
	if dir != ".attest" {
		return false
	}
	return base == "policies.yaml" || base == "governance.yaml" || base == "exemptions.yaml"
}

func configFile(path string) []finding.Error {
	switch filepath.Base(path) {
	case "exemptions.yaml":
		_, errs := exemption.LoadFile(path)
		return errs
	case "governance.yaml":
		data, err := safefile.ReadFile(path, config.MaxFileSize)
		if err != nil {
			return []finding.Error{{Location: finding.Location{File: path}, Message: err.Error()}}
		}
		_, err = config.ParseGovernance(path, data)
		return asErrors(path, err)
	}
	// A policies file alone: no global file, no project around it.
	_, err := config.Load(config.WithFile(path), config.WithGlobalFile(""),
		config.WithProjectDir(filepath.Join(os.TempDir(), "attest-validate-no-project")))
	return asErrors(path, err)
}

func asErrors(path string, err error) []finding.Error {
	if err == nil {
		return nil
	}
	var le *config.LoadError
	if errors.As(err, &le) {
		return le.Findings()
	}
	return []finding.Error{{Location: finding.Location{File: path}, Message: err.Error()}}
}

// Bundle compiles a bundle as the server would load it: read back by the
// bundle reader (the manifest's roots against the packages, the limits),
// then its Rego compiled by attest's engine beside the built-in library,
// with its data as the base document. Each problem names name#module; err is for failures of
// attest itself.
func Bundle(ctx context.Context, b *opabundle.Bundle, name string) ([]finding.Error, error) {
	var buf bytes.Buffer
	if err := bundle.Write(&buf, b); err != nil {
		return nil, err
	}
	rb, err := bundle.Read(buf.Bytes(), nil)
	if err != nil {
		return []finding.Error{{Location: finding.Location{File: name}, Message: err.Error()}}, nil
	}
	// With the built-in library, as the server and policy check load it:
	// a bundle's Rego may call data.attest.lib.
	set, errs := policy.Load(ctx, policy.WithBuiltin(library.FS()), policy.WithBundle(name, rb))
	_, cerrs, cerr := engine.New(ctx, set)
	errs = append(errs, cerrs...)
	if cerr != nil {
		errs = append(errs, finding.Error{Location: finding.Location{File: name}, Message: cerr.Error()})
	}
	return errs, nil
}
