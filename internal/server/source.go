package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/project"
)

// Source loads the project the way `attest policy check` does, plus the
// bundles of `policy_bundle_url` and (when keys are configured) a verified
// `policy_bundle_path`. Its Load is the server's LoadFunc.
type Source struct {
	base    project.Options
	tmp     string // verified bundle copies
	fetchOp []bundle.FetchOption

	mu          sync.Mutex
	fetcher     *bundle.Fetcher
	fingerprint string
	urlBundle   string // path of the verified copy of the URL's bundle in use
	urlRev      string
	pending     pendingBundle
	seq         int
}

// SourceOption configures NewSource.
type SourceOption func(*Source)

// WithFetchOptions passes options to the bundle fetcher (client, timeout).
func WithFetchOptions(opts ...bundle.FetchOption) SourceOption {
	return func(s *Source) { s.fetchOp = append(s.fetchOp, opts...) }
}

// NewSource loads from the project options o (Mode is set to admission).
func NewSource(o project.Options, opts ...SourceOption) (*Source, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	o.Mode = "admission"
	o.BundleURLLoaded = true
	tmp, err := os.MkdirTemp("", "attest-bundles-")
	if err != nil {
		return nil, fmt.Errorf("bundle cache: %w", err)
	}
	s := &Source{base: o, tmp: tmp}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

// Close removes the verified bundle copies.
func (s *Source) Close() error { return os.RemoveAll(s.tmp) }

// Load is a LoadFunc.
func (s *Source) Load(ctx context.Context, force bool) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.base
	cfg, err := LoadConfig(o)
	if err != nil {
		return nil, &LoadError{Source: "local", Reason: "config", Err: err}
	}
	fp := s.localFingerprint(project.BundlePath(cfg, o.Dir))
	localChanged := force || fp != s.fingerprint

	keys, err := bundle.KeysFromConfig(cfg.Policy.BundleVerification.PublicKeys, o.Dir)
	if err != nil {
		return nil, &LoadError{Source: "local", Reason: "config", Err: err}
	}
	snap := &Snapshot{Source: "local"}

	// policy_bundle_url: downloaded, verified, kept as a verified copy.
	var etag string
	var degraded *LoadError
	urlChanged := false
	if u := cfg.Policy.PolicyBundleURL; u != "" {
		snap.Source = "url"
		if s.fetcher == nil || s.fetcher.URL() != u {
			s.fetcher = bundle.NewFetcher(u, s.fetchOp...)
			if s.urlBundle != "" {
				// The old URL's copy: loaded already, and never again.
				os.Remove(s.urlBundle)
			}
			s.urlBundle = ""
		}
		data, tag, err := s.fetcher.Fetch(ctx, s.urlBundle != "")
		reason := "download"
		var b *opabundle.Bundle
		if err == nil {
			reason = "verify"
			b, err = bundle.Read(data, keys)
		}
		switch {
		case errors.Is(err, bundle.ErrNotModified):
			s.pending = pendingBundle{s.urlBundle, s.urlRev}
		case err != nil && s.urlBundle != "" && localChanged:
			// The URL is down or serves a bad bundle, but the local files
			// changed: they apply, with the verified copy of the URL's
			// bundle in use. The failure is still counted and logged
			// (Degraded).
			s.pending = pendingBundle{s.urlBundle, s.urlRev}
			degraded = &LoadError{Source: "url", Reason: reason, Err: err}
		case err != nil:
			return nil, &LoadError{Source: "url", Reason: reason, Err: err}
		default:
			path, err := s.keep("url", data)
			if err != nil {
				return nil, &LoadError{Source: "url", Reason: "read", Err: err}
			}
			urlChanged = true
			etag = tag
			defer func(prev string) {
				// The new copy stays only if it is now the one in use.
				if s.urlBundle != path {
					os.Remove(path)
				} else if prev != "" && prev != path {
					os.Remove(prev)
				}
			}(s.urlBundle)
			s.pendingURL(path, bundle.Revision(b))
		}
		o.PolicyPaths = append(append([]string(nil), o.PolicyPaths...), s.pending.path)
		snap.Revision = s.pending.rev
	}
	if !localChanged && !urlChanged {
		return nil, nil
	}

	// policy_bundle_path with keys: read once and verified, and what was
	// verified is written to a copy of its own that the project loads
	// instead of the path. Reading the path again could load other bytes
	// (a file swapped in between with the same size and time) or files the
	// signature does not cover (a symbolic link in a bundle directory,
	// which OPA's reader skips and a policy folder follows).
	bundlePath := project.BundlePath(cfg, o.Dir)
	if bundlePath != "" && snap.Source == "local" {
		snap.Source = "path"
	}
	if bundlePath != "" && keys.Required() {
		b, err := bundle.ReadPath(bundlePath, keys)
		if err != nil {
			return nil, &LoadError{Source: "path", Reason: "verify", Err: err}
		}
		copyPath, err := s.keepBundle(b)
		if err != nil {
			return nil, &LoadError{Source: "path", Reason: "read", Err: err}
		}
		defer os.Remove(copyPath) // the project has read it by then
		o.BundleCopy = copyPath
		if snap.Source == "path" {
			snap.Revision = bundle.Revision(b)
		}
	}

	p, err := project.Open(ctx, o)
	if err != nil {
		return nil, &LoadError{Source: snap.Source, Reason: "compile", Err: err}
	}
	if len(p.Errors) > 0 {
		// Errors name what the operator configured, not the private copies.
		errs := renameFiles(p.Errors, o.BundleCopy, bundlePath)
		if cfg.Policy.PolicyBundleURL != "" {
			errs = renameFiles(errs, s.pending.path, cfg.Policy.PolicyBundleURL)
		}
		return nil, &LoadError{Source: snap.Source, Reason: "compile", Err: joinErrors(errs)}
	}
	snap.Project = p
	snap.LoadedAt = time.Now()
	snap.Degraded = degraded
	s.fingerprint = fp
	if urlChanged {
		s.urlBundle, s.urlRev = s.pending.path, s.pending.rev
		s.fetcher.Accept(etag)
	}
	return snap, nil
}

// pending is the URL bundle this load tries; it becomes urlBundle only
// when the load succeeds.
type pendingBundle struct{ path, rev string }

func (s *Source) pendingURL(path, rev string) { s.pending = pendingBundle{path, rev} }

// keepBundle writes a verified bundle to an archive of its own.
func (s *Source) keepBundle(b *opabundle.Bundle) (string, error) {
	var buf bytes.Buffer
	if err := bundle.Write(&buf, b); err != nil {
		return "", err
	}
	return s.keep("path", buf.Bytes())
}

// keep writes verified bundle bytes to a file of their own, named for
// where they came from (url, path).
func (s *Source) keep(from string, data []byte) (string, error) {
	s.seq++
	path := filepath.Join(s.tmp, fmt.Sprintf("%s-bundle-%d.tar.gz", from, s.seq))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// renameFiles returns errs with the file from (and from#module) named to
// instead.
func renameFiles(errs []finding.Error, from, to string) []finding.Error {
	if from == "" {
		return errs
	}
	out := make([]finding.Error, len(errs))
	for i, e := range errs {
		if rest, ok := strings.CutPrefix(e.Location.File, from); ok && (rest == "" || rest[0] == '#') {
			e.Location.File = to + rest
		}
		e.Message = strings.ReplaceAll(e.Message, from, to)
		out[i] = e
	}
	return out
}

func joinErrors(list []finding.Error) error {
	const show = 5
	var b strings.Builder
	for i, e := range list {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(list)-show)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return errors.New(b.String())
}

// LoadConfig reads the configuration as project.Open will, for the bundle
// settings a load needs first.
func LoadConfig(o project.Options) (*config.Config, error) { return project.LoadConfig(o) }

// localFingerprint summarises the local files a load reads (configuration,
// policies, exemptions, the bundle path) by name, size and modification
// time, so polling notices an edit without compiling anything.
func (s *Source) localFingerprint(bundlePath string) string {
	o := s.base
	roots := []string{filepath.Join(o.Dir, ".attest"), filepath.Join(o.Dir, "policies")}
	if o.ConfigFile != "" {
		roots = append(roots, o.ConfigFile)
	}
	if o.GlobalFile != "" {
		roots = append(roots, o.GlobalFile)
	}
	if bundlePath != "" {
		roots = append(roots, bundlePath)
	}
	roots = append(roots, o.PolicyPaths...)
	return fingerprint(roots...)
}

// fingerprint hashes the names, sizes and modification times of every
// file under roots.
func fingerprint(roots ...string) string {
	h := sha256.New()
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "%s:missing\n", p)
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				fmt.Fprintf(h, "%s:%d:%d\n", p, fi.Size(), fi.ModTime().UnixNano())
			}
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
