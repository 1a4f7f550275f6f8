// Package config loads attest's configuration files, validates them
// strictly (every error with file:line:col) and merges them:
//
//	defaults < global policies.yaml < project .attest/policies.yaml < --config FILE
//
// plus the project's .attest/governance.yaml. It also reads and edits
// single keys for `attest config get|set|list`. docs/configuration.md
// documents every key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/safefile"
)

// LoadError is every problem found in the configuration files, each with
// its file, line and column.
type LoadError struct {
	Errors []finding.Error
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Findings returns the errors as findings for a report.
func (e *LoadError) Findings() []finding.Error { return append([]finding.Error(nil), e.Errors...) }

// Option configures Load.
type Option func(*options)

type options struct {
	globalFile    string
	globalFileSet bool
	projectDir    string
	extraFile     string
	env           func(string) string
}

// WithGlobalFile replaces the global file's location; "" means no global
// file.
func WithGlobalFile(path string) Option {
	return func(o *options) { o.globalFile, o.globalFileSet = path, true }
}

// WithProjectDir sets the project directory (default "."): its
// .attest/policies.yaml and .attest/governance.yaml are read.
func WithProjectDir(dir string) Option { return func(o *options) { o.projectDir = dir } }

// WithFile adds a file (--config) applied after all others. Unlike the
// others it must exist.
func WithFile(path string) Option { return func(o *options) { o.extraFile = path } }

// WithEnv sets how environment variables (XDG_CONFIG_HOME, HOME) are read;
// default os.Getenv.
func WithEnv(lookup func(string) string) Option { return func(o *options) { o.env = lookup } }

// GlobalPath is the global file's location: $XDG_CONFIG_HOME/attest/
// policies.yaml when XDG_CONFIG_HOME is an absolute path, else
// $HOME/.config/attest/policies.yaml; "" when neither is set.
func GlobalPath(env func(string) string) string {
	if env == nil {
		env = os.Getenv
	}
	if x := env("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "attest", "policies.yaml")
	}
	if h := env("HOME"); h != "" {
		return filepath.Join(h, ".config", "attest", "policies.yaml")
	}
	return ""
}

// ProjectFile and GovernanceFile are the project's files, from its root.
const (
	ProjectFile    = ".attest/policies.yaml"
	GovernanceFile = ".attest/governance.yaml"
)

// Load reads and merges the configuration. Missing files are fine (their
// keys keep the defaults), except the WithFile one. Any problem in any file
// makes it return a *LoadError listing all of them, and no Config.
func Load(opts ...Option) (*Config, error) {
	o := options{projectDir: ".", env: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	if o.env == nil {
		o.env = os.Getenv
	}
	if !o.globalFileSet {
		o.globalFile = GlobalPath(o.env)
	}
	if o.projectDir == "" {
		o.projectDir = "."
	}

	c := Default()
	var errs []finding.Error
	layer := func(path string, mustExist bool) {
		if path == "" {
			return
		}
		data, ferr := readFile(path, mustExist)
		if ferr != nil {
			errs = append(errs, *ferr)
			return
		}
		if data == nil {
			return
		}
		var f fileSchema
		d := newDecoder(path)
		d.decodeBytes(data, reflectOf(&f))
		d.validateFile(&f)
		if err := d.err(); err != nil {
			errs = append(errs, err.(*LoadError).Errors...)
			return
		}
		if merr := c.merge(&f, d); merr != nil {
			errs = append(errs, merr...)
			return
		}
		c.Sources = append(c.Sources, path)
	}
	layer(o.globalFile, false)
	layer(filepath.Join(o.projectDir, filepath.FromSlash(ProjectFile)), false)
	gpath := filepath.Join(o.projectDir, filepath.FromSlash(GovernanceFile))
	g, gorigins, gerrs := loadGovernance(gpath)
	errs = append(errs, gerrs...)
	if g != nil {
		c.Governance = g
		c.Sources = append(c.Sources, gpath)
		for k, v := range gorigins {
			c.origins[k] = v
		}
	}
	if o.extraFile != "" {
		layer(o.extraFile, true)
	}
	if len(errs) > 0 {
		return nil, &LoadError{Errors: errs}
	}
	c.finish()
	return c, nil
}

// readFile returns the file's content, nil for a missing optional file,
// or an error located at the file.
func readFile(path string, mustExist bool) ([]byte, *finding.Error) {
	loc := finding.Location{File: path}
	data, err := safefile.ReadFile(path, MaxFileSize)
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.Is(err, fs.ErrNotExist) && !mustExist:
		return nil, nil
	case errors.Is(err, safefile.ErrDirectory):
		return nil, &finding.Error{Location: loc, Message: "is a directory, not a configuration file"}
	case errors.Is(err, safefile.ErrNotRegular):
		return nil, &finding.Error{Location: loc, Message: "is not a regular file (a pipe, socket or device); name a configuration file"}
	case errors.As(err, &tooLarge):
		return nil, &finding.Error{Location: loc, Message: fmt.Sprintf("file is larger than %d MiB; a configuration file is never that big", MaxFileSize>>20)}
	case err != nil:
		return nil, &finding.Error{Location: loc, Message: "cannot read configuration: " + unwrapPathError(err)}
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// loadGovernance reads .attest/governance.yaml; nil when it is missing.
func loadGovernance(path string) (*Governance, map[string]string, []finding.Error) {
	data, ferr := readFile(path, false)
	if ferr != nil {
		return nil, nil, []finding.Error{*ferr}
	}
	if data == nil {
		return nil, nil, nil
	}
	return parseGovernance(path, data)
}

func parseGovernance(path string, data []byte) (*Governance, map[string]string, []finding.Error) {
	d := newDecoder(path)
	g := d.decodeGovernance(data)
	if err := d.err(); err != nil {
		return nil, nil, err.(*LoadError).Errors
	}
	g.File = path
	origins := map[string]string{}
	for p, n := range d.set {
		origins[p] = d.origin(n)
	}
	return g, origins, nil
}

// ParseGovernance reads the content of a governance file (spec section
// 11), strictly, with the same defaults Load applies. The error is a
// *LoadError.
func ParseGovernance(path string, data []byte) (*Governance, error) {
	g, _, errs := parseGovernance(path, data)
	if errs != nil {
		return nil, &LoadError{Errors: errs}
	}
	return g, nil
}

// finish fills what is derived from the merged values.
func (c *Config) finish() {
	h := &c.Compliance.HIPAA
	if h.AccessControls.AuditLogging == "" && h.AuditLogging != "" {
		h.AccessControls.AuditLogging = h.AuditLogging
	}
}

// PolicyConfig returns the project's settings for the policy with this
// name; a name also matches an entry's package, with dots or with dashes.
func (c *Config) PolicyConfig(name string) (PolicyConfig, bool) {
	for _, p := range c.Policies {
		if p.Name == name {
			return p, true
		}
	}
	for _, p := range c.Policies {
		if p.Package != "" && (p.Package == name || strings.ReplaceAll(p.Package, ".", "-") == name) {
			return p, true
		}
	}
	return PolicyConfig{}, false
}

// EnabledFor reports whether the named policy runs: false when checks are
// off altogether (policy.enabled: false) or the policy's entry says
// enabled: false; true otherwise, including for policies not listed.
func (c *Config) EnabledFor(name string) bool {
	if !BoolValue(c.Policy.Enabled, true) {
		return false
	}
	if p, ok := c.PolicyConfig(name); ok {
		return BoolValue(p.Enabled, true)
	}
	return true
}

// Origin is "file:line" of the file that set a key last ("policy.debug",
// "policies.image-security.enforcement"), or "default".
func (c *Config) Origin(key string) string {
	if s, ok := c.origins[key]; ok {
		return s
	}
	return "default"
}
