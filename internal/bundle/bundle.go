// Package bundle reads, writes, signs and verifies policy bundles in OPA's
// own bundle format (.manifest, roots, .signatures.json) with OPA's own
// bundle package, so a bundle attest builds runs in `opa run` and a bundle
// `opa build --signing-key` makes loads in attest. It also fetches bundles
// from a URL with ETag revalidation.
//
// Verification follows spec section 15 ("sign policy bundles"): when any
// public key is configured, a bundle without a valid signature over every
// file is refused; nothing falls back to the unsigned content.
package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/safefile"
)

// MaxSize caps a bundle, compressed or not: policies are small and a huge
// bundle is a mistake or an attack on memory.
const MaxSize = 64 << 20

// maxKeyFile caps a verification key file: a PEM key is a few kilobytes.
const maxKeyFile = 1 << 20

// Keys are the public keys bundles are verified with; nil or empty means
// bundles are not verified.
type Keys struct {
	vc *opabundle.VerificationConfig
}

// Required reports whether bundles must be signed.
func (k *Keys) Required() bool { return k != nil && k.vc != nil }

// KeysFromConfig reads `policy.bundle_verification.public_keys`. A key's
// Path is relative to dir (the project).
func KeysFromConfig(list []config.PublicKey, dir string) (*Keys, error) {
	if len(list) == 0 {
		return &Keys{}, nil
	}
	m := make(map[string]*opabundle.KeyConfig, len(list))
	for _, k := range list {
		pem := k.Key
		if k.Path != "" {
			p := k.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := safefile.ReadFile(p, maxKeyFile)
			if err != nil {
				return nil, fmt.Errorf("bundle verification key %q: %w", k.ID, err)
			}
			pem = string(b)
		}
		if strings.TrimSpace(pem) == "" {
			return nil, fmt.Errorf("bundle verification key %q: no key (path or key)", k.ID)
		}
		alg := k.Algorithm
		if alg == "" {
			alg = "RS256"
		}
		m[k.ID] = &opabundle.KeyConfig{Key: pem, Algorithm: alg}
	}
	// No key id: the signature's own kid picks the key, so keys can be
	// rotated by adding the new one before signing with it.
	return &Keys{vc: opabundle.NewVerificationConfig(m, "", "", nil)}, nil
}

// NewKeys makes Keys from id -> (PEM public key, algorithm) pairs.
func NewKeys(keys map[string][2]string) *Keys {
	m := make(map[string]*opabundle.KeyConfig, len(keys))
	for id, k := range keys {
		m[id] = &opabundle.KeyConfig{Key: k[0], Algorithm: k[1]}
	}
	return &Keys{vc: opabundle.NewVerificationConfig(m, "", "", nil)}
}

func (k *Keys) reader(r *opabundle.Reader) *opabundle.Reader {
	r = r.WithSizeLimitBytes(MaxSize).WithLazyLoadingMode(false)
	if k.Required() {
		return r.WithBundleVerificationConfig(k.vc)
	}
	return r.WithSkipBundleVerification(true)
}

// Read reads a bundle archive (.tar.gz) and, when keys are required,
// verifies its signature over every file.
func Read(data []byte, keys *Keys) (*opabundle.Bundle, error) {
	if err := checkArchive(data); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	loader := opabundle.NewTarballLoaderWithBaseURL(bytes.NewReader(data), "").WithSizeLimitBytes(MaxSize)
	b, err := keys.reader(opabundle.NewCustomReader(loader)).Read()
	if err != nil {
		return nil, describe(err, keys)
	}
	return checkContent(&b)
}

// checkContent refuses what attest cannot use as a set of policies: a
// delta bundle (patch.json changes to another bundle's data, which attest
// does not keep), and a bundle with neither Rego nor data, which would
// swap every policy out for none.
func checkContent(b *opabundle.Bundle) (*opabundle.Bundle, error) {
	if b.Type() == opabundle.DeltaBundleType {
		return nil, errors.New("a delta bundle (patch.json): attest loads snapshot bundles only")
	}
	if len(b.Modules) == 0 && len(b.Data) == 0 {
		return nil, errors.New("no Rego and no data: an empty bundle would leave no policy in force")
	}
	return b, nil
}

// ReadPath reads a bundle archive or a bundle directory.
func ReadPath(path string, keys *Keys) (*opabundle.Bundle, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if !fi.IsDir() {
		data, err := safefile.ReadFile(path, MaxSize)
		var tooLarge *safefile.TooLargeError
		switch {
		case errors.As(err, &tooLarge):
			return nil, fmt.Errorf("bundle %s: %d bytes, over the %d limit", path, tooLarge.Size, MaxSize)
		case err != nil:
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
		b, err := Read(data, keys)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
		return b, nil
	}
	if err := checkDir(path); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	b, err := keys.reader(opabundle.NewCustomReader(opabundle.NewDirectoryLoader(path).WithSizeLimitBytes(MaxSize))).Read()
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, describe(err, keys))
	}
	cb, err := checkContent(&b)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	return cb, nil
}

// checkDir holds a bundle folder to an archive's limits (checkArchive):
// the regular files OPA's reader takes, at most 64 MiB together and
// maxEntries of them, a Rego file at most MaxRegoFile.
func checkDir(dir string) error {
	var files budget
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return files.add(p, info.Size(), strings.HasSuffix(p, ".rego"))
	})
}

// describe makes OPA's verification errors say what the operator should
// look at.
func describe(err error, keys *Keys) error {
	if keys.Required() {
		return fmt.Errorf("refused: signature verification failed (policy.bundle_verification has keys): %w", err)
	}
	return fmt.Errorf("read: %w", err)
}

// Write writes b as a bundle archive.
func Write(w io.Writer, b *opabundle.Bundle) error {
	if err := opabundle.NewWriter(w).UseModulePath(true).Write(*b); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// BuildOptions say what goes into the manifest and how to sign.
type BuildOptions struct {
	Revision string
	Roots    []string // default: every package's first path segment
	// SigningKey is a PEM private key (or an HMAC secret); empty: unsigned.
	SigningKey string
	Algorithm  string // default RS256
	KeyID      string // the key id verifiers look the public key up by
}

// Build packs the Rego and data files of dir into a bundle, OPA's way
// (`opa build` does the same), with a manifest naming its revision and
// roots, signed when a key is given.
func Build(dir string, o BuildOptions) (*opabundle.Bundle, error) {
	b, err := opabundle.NewCustomReader(opabundle.NewDirectoryLoader(dir).WithSizeLimitBytes(MaxSize)).
		WithSkipBundleVerification(true).WithSizeLimitBytes(MaxSize).Read()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	// Drop any signatures of the source: they would not match once the
	// manifest changes.
	b.Signatures = opabundle.SignaturesConfig{}
	if len(b.Modules) == 0 {
		return nil, fmt.Errorf("%s has no .rego files", dir)
	}
	b.Manifest.Init()
	if o.Revision != "" {
		b.Manifest.Revision = o.Revision
	}
	roots := o.Roots
	if len(roots) == 0 && (b.Manifest.Roots == nil || len(*b.Manifest.Roots) == 0 || (*b.Manifest.Roots)[0] == "") {
		seen := map[string]bool{}
		for _, m := range b.Modules {
			if m.Parsed == nil || len(m.Parsed.Package.Path) < 2 {
				continue
			}
			root, ok := m.Parsed.Package.Path[1].Value.(ast.String)
			if ok && !seen[string(root)] {
				seen[string(root)] = true
				roots = append(roots, string(root))
			}
		}
		if len(b.Data) > 0 {
			// Data files need their own roots; without knowing them the
			// whole tree is the bundle's.
			roots = []string{""}
		}
	}
	if len(roots) > 0 {
		b.Manifest.Roots = &roots
	}
	if o.SigningKey != "" {
		if err := Sign(&b, o.SigningKey, o.Algorithm, o.KeyID); err != nil {
			return nil, err
		}
	}
	return &b, nil
}

// Sign replaces b's signatures with one over every file, as `opa sign` does.
func Sign(b *opabundle.Bundle, key, alg, keyID string) error {
	if alg == "" {
		alg = "RS256"
	}
	if keyID == "" {
		keyID = "default"
	}
	if err := b.GenerateSignature(opabundle.NewSigningConfig(key, alg, ""), keyID, true); err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	return nil
}

// Revision is the manifest's revision.
func Revision(b *opabundle.Bundle) string { return b.Manifest.Revision }

// ErrNotModified is Fetch's answer to a 304.
var ErrNotModified = errors.New("bundle not modified")
