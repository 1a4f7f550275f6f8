package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/safefile"
)

// maxRegoFile caps one Rego file; policies are small and a huge file is a
// mistake (or an attack on the parser). Bundles have the same limit.
const maxRegoFile = bundle.MaxRegoFile

// Set is everything loaded: the policies that produce findings, every
// module (helpers too) for the compiler, and the test modules.
type Set struct {
	Policies []*Policy
	Modules  []*Module // non-test modules, in load order
	Tests    []*Module
	// Roots are the directories policies were loaded from, so scans can
	// skip them.
	Roots []string
	// Data is the base document the bundles' data files make (data.json
	// and data.yaml at their paths), nil when none has any.
	Data map[string]any
}

type loadOptions struct {
	builtin fs.FS
	paths   []string
	bundles []namedBundle
	inline  []inline
}

type namedBundle struct {
	name string
	b    *opabundle.Bundle
}

type inline struct{ name, code string }

// Option configures Load.
type Option func(*loadOptions)

// WithBuiltin adds the embedded library.
func WithBuiltin(fsys fs.FS) Option { return func(o *loadOptions) { o.builtin = fsys } }

// WithPaths adds Rego files, directories of them (walked recursively) and
// OPA bundles (.tar.gz).
func WithPaths(paths ...string) Option {
	return func(o *loadOptions) { o.paths = append(o.paths, paths...) }
}

// WithBundle adds a bundle already read (policy bundle build/validate):
// its modules, named name#path, and its data, as a bundle path gives them.
func WithBundle(name string, b *opabundle.Bundle) Option {
	return func(o *loadOptions) { o.bundles = append(o.bundles, namedBundle{name, b}) }
}

// WithInline adds a policy written in config (custom_policies rego_code);
// name labels its module in errors.
func WithInline(name, code string) Option {
	return func(o *loadOptions) { o.inline = append(o.inline, inline{name, code}) }
}

// Load reads every source. Bad files become errors naming file and line;
// the good ones are still returned so the run can go on.
func Load(ctx context.Context, opts ...Option) (*Set, []finding.Error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	var mods []*Module
	var errs []finding.Error
	seen := map[string]bool{}
	add := func(path string, src []byte, builtin bool) {
		// The same file reached twice (policies/ and --policy policies/)
		// is one module.
		key := filepath.Clean(path)
		if seen[key] {
			return
		}
		seen[key] = true
		m, err := ParseModule(path, src)
		if err != nil {
			errs = append(errs, regoErrors(path, err)...)
			return
		}
		mods = append(mods, &Module{Path: path, Source: src, Parsed: m, Builtin: builtin, Test: isTest(path, m)})
	}
	if o.builtin != nil {
		_ = fs.WalkDir(o.builtin, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
				return err
			}
			src, err := fs.ReadFile(o.builtin, p)
			if err != nil {
				return err
			}
			add("library/"+p, src, true)
			return nil
		})
	}
	set := &Set{}
	// A bundle's data merges into the set's first, so a bundle whose data
	// clashes adds no module either.
	addBundle := func(name string, b *opabundle.Bundle) error {
		if len(b.Data) > 0 {
			if set.Data == nil {
				set.Data = map[string]any{}
			}
			if err := mergeData(set.Data, b.Data, ""); err != nil {
				return err
			}
		}
		mods := slices.SortedFunc(slices.Values(b.Modules), func(x, y opabundle.ModuleFile) int { return strings.Compare(x.Path, y.Path) })
		for _, m := range mods {
			add(name+"#"+strings.TrimPrefix(m.Path, "/"), m.Raw, false)
		}
		return nil
	}
	read := safefile.Visited{}
	for _, root := range o.paths {
		if ctx.Err() != nil {
			break
		}
		info, err := os.Stat(root)
		if err != nil && !isBundle(root) {
			errs = append(errs, finding.Error{Location: finding.Location{File: root}, Message: "policy path: " + errText(err)})
			continue
		}
		if isBundleSource(root, info) {
			if !read.First(root) {
				continue // the same bundle named twice is read once
			}
			b, err := bundle.ReadPath(root, nil)
			if err == nil {
				err = addBundle(root, b)
			}
			if err != nil {
				errs = append(errs, finding.Error{Location: finding.Location{File: root}, Message: err.Error()})
			}
			continue
		}
		if info.IsDir() {
			set.Roots = append(set.Roots, root)
		}
		werr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, finding.Error{Location: finding.Location{File: p}, Message: errText(err)})
				return nil
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".rego") || !read.First(p) {
				return nil
			}
			src, err := readCapped(p)
			if err != nil {
				errs = append(errs, finding.Error{Location: finding.Location{File: p}, Message: err.Error()})
				return nil
			}
			add(p, src, false)
			return nil
		})
		if werr != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: root}, Message: werr.Error()})
		}
	}
	for _, nb := range o.bundles {
		if err := addBundle(nb.name, nb.b); err != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: nb.name}, Message: err.Error()})
		}
	}
	for _, in := range o.inline {
		add(in.name, []byte(in.code), false)
	}
	for _, m := range mods {
		if m.Test {
			set.Tests = append(set.Tests, m)
		} else {
			set.Modules = append(set.Modules, m)
		}
	}
	pols, perrs := build(mods)
	set.Policies = pols
	errs = append(errs, perrs...)
	return set, errs
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func readCapped(path string) ([]byte, error) {
	data, err := safefile.ReadFile(path, maxRegoFile)
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("policy file is %d bytes, over the %d limit", tooLarge.Size, maxRegoFile)
	case err != nil:
		return nil, fmt.Errorf("read: %s", errText(err))
	}
	return data, nil
}

// isTest: OPA's convention is the _test.rego suffix; a module whose every
// rule is a test_ rule is a test module too, whatever its name.
func isTest(path string, m *ast.Module) bool {
	if strings.HasSuffix(path, "_test.rego") {
		return true
	}
	if len(m.Rules) == 0 {
		return false
	}
	for _, r := range m.Rules {
		if !strings.HasPrefix(ruleName(r), "test_") && !strings.HasPrefix(ruleName(r), "todo_test_") {
			return false
		}
	}
	return true
}

func regoErrors(path string, err error) []finding.Error {
	var aerrs ast.Errors
	if !errors.As(err, &aerrs) {
		return []finding.Error{{Location: finding.Location{File: path}, Message: err.Error()}}
	}
	out := make([]finding.Error, 0, len(aerrs))
	for _, e := range aerrs {
		loc := finding.Location{File: path}
		if e.Location != nil {
			if e.Location.File != "" {
				loc.File = e.Location.File
			}
			loc.Line, loc.Column = e.Location.Row, e.Location.Col
		}
		msg := e.Message
		if e.Code != "" {
			// OPA's own words: rego_parse_error, rego_type_error, ...
			msg = e.Code + ": " + msg
		}
		out = append(out, finding.Error{Location: loc, Message: msg})
	}
	return out
}

// RegoErrors turns OPA parse or compile errors into errors with file, line
// and column.
func RegoErrors(path string, err error) []finding.Error { return regoErrors(path, err) }

// IsObjectFile says whether p is named as a file of Kubernetes objects
// (YAML or JSON): the gatekeeper package reads those among policy
// sources, and a policy source of that name is not a bundle archive.
func IsObjectFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// isBundleSource says whether a policy source is read as an OPA bundle:
// an archive by its name; a file that is neither Rego nor Kubernetes
// objects (the gatekeeper package reads those), whatever its name,
// since skipping it would load no policy without a word
// (policy_bundle_path: policy.bundle once did); or a folder with a
// .manifest or .signatures.json, whose data files are data as in an
// archive. info is nil when the source could not be looked at.
func isBundleSource(root string, info fs.FileInfo) bool {
	switch {
	case isBundle(root):
		return true
	case info == nil:
		return false
	case info.Mode().IsRegular():
		return !strings.HasSuffix(root, ".rego") && !IsObjectFile(root)
	case info.IsDir():
		return isBundleDir(root)
	}
	return false
}

func isBundleDir(dir string) bool {
	for _, f := range []string{".manifest", ".signatures.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func isBundle(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// mergeData adds src's documents into dst. Two bundles may fill the same
// object, not the same value: which one would win is not theirs to say.
func mergeData(dst, src map[string]any, at string) error {
	for k, v := range src {
		path := at + "." + k
		cur, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		cm, ok1 := cur.(map[string]any)
		vm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("bundle data: data%s is given by another bundle too", path)
		}
		if err := mergeData(cm, vm, path); err != nil {
			return err
		}
	}
	return nil
}
