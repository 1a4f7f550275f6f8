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
	inline  []inline
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
		// A file named as a source that is neither Rego nor a Gatekeeper
		// object (YAML, JSON: the gatekeeper package reads those) is a
		// bundle archive, whatever its name: skipping it would load no
		// policy without a word (policy_bundle_path: policy.bundle once
		// did). A folder with a .manifest or .signatures.json is a bundle
		// folder: its data files are data, as in an archive.
		if isBundle(root) || (info.Mode().IsRegular() && !strings.HasSuffix(root, ".rego") && !IsObjectFile(root)) ||
			(info.IsDir() && isBundleDir(root)) {
			if !read.First(root) {
				continue // the same bundle named twice is read once
			}
			bmods, data, err := readBundle(root)
			if err == nil && len(data) > 0 {
				if set.Data == nil {
					set.Data = map[string]any{}
				}
				err = mergeData(set.Data, data, "")
			}
			if err != nil {
				errs = append(errs, finding.Error{Location: finding.Location{File: root}, Message: err.Error()})
				continue
			}
			for _, bm := range bmods {
				add(bm.path, bm.src, false)
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

type bundleModule struct {
	path string
	src  []byte
}

// readBundle reads the Rego of an OPA bundle. Signature verification is
// the server's business (policy bundles in attest serve); here a bundle is
// a packaging of files like a directory is.
func readBundle(path string) ([]bundleModule, map[string]any, error) {
	// The bundle package's reader, without keys: the same limits on an
	// archive's sizes and entries as a verified bundle gets.
	b, err := bundle.ReadPath(path, nil)
	if err != nil {
		return nil, nil, err
	}
	out := make([]bundleModule, 0, len(b.Modules))
	for _, m := range b.Modules {
		out = append(out, bundleModule{path: path + "#" + strings.TrimPrefix(m.Path, "/"), src: m.Raw})
	}
	slices.SortFunc(out, func(a, b bundleModule) int { return strings.Compare(a.path, b.path) })
	return out, b.Data, nil
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
