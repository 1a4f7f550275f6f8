package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/policylint"
	"github.com/continuums/attest/internal/server"
)

// newBundleCmd is the `policy bundle` group: OPA bundles that `attest
// serve` loads from policy_bundle_path or policy_bundle_url.
func newBundleCmd(s Streams) *cobra.Command {
	c := &cobra.Command{Use: "bundle", Short: "Build, sign and validate OPA policy bundles"}
	c.AddCommand(newBundleBuildCmd(s), newBundleSignCmd(s), newBundleValidateCmd(s))
	return c
}

type signFlags struct {
	key, alg, keyID string
}

func (f *signFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.key, "signing-key", "", "private key FILE (PEM) to sign with")
	c.Flags().StringVar(&f.alg, "signing-alg", "RS256", "JWS algorithm (RS256, PS256, ES256, EdDSA, HS256, ...)")
	c.Flags().StringVar(&f.keyID, "key-id", "default", "key id written into the signature; verifiers look the public key up by it")
}

func newBundleBuildCmd(s Streams) *cobra.Command {
	var sf signFlags
	var out, revision string
	var roots []string
	c := &cobra.Command{
		Use:   "build DIR",
		Short: "Pack a folder of Rego (and data) files into an OPA bundle (.tar.gz), optionally signed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := bundle.BuildOptions{Revision: revision, Roots: roots, Algorithm: sf.alg, KeyID: sf.keyID}
			if sf.key != "" {
				k, err := os.ReadFile(sf.key)
				if err != nil {
					return usageError{fmt.Errorf("--signing-key: %w", err)}
				}
				o.SigningKey = string(k)
			}
			b, err := bundle.Build(args[0], o)
			if err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{2}
			}
			// Nothing is written that validate, or the server, would refuse.
			dir := filepath.Clean(args[0])
			problems, err := policylint.Bundle(cmd.Context(), b, dir)
			if err != nil {
				return err
			}
			if len(problems) > 0 {
				for _, p := range problems {
					// A module is named by its file in the folder built.
					fmt.Fprintln(s.Err, strings.Replace(p.Error(), dir+"#", dir+string(filepath.Separator), 1))
				}
				fmt.Fprintln(s.Err, "attest: no bundle written")
				return exitError{2}
			}
			return writeBundle(s, out, func(w io.Writer) error { return bundle.Write(w, b) })
		},
	}
	sf.register(c)
	c.Flags().StringVarP(&out, "output", "o", "bundle.tar.gz", "bundle FILE to write (- for stdout)")
	c.Flags().StringVar(&revision, "revision", "", "revision recorded in the manifest (shown in attest_bundle_info)")
	c.Flags().StringArrayVar(&roots, "root", nil, "manifest root (repeatable; default: each package's first segment)")
	return c
}

func newBundleSignCmd(s Streams) *cobra.Command {
	var sf signFlags
	var out string
	c := &cobra.Command{
		Use:   "sign BUNDLE --signing-key FILE",
		Short: "Sign an OPA bundle (.tar.gz): write .signatures.json over every file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sf.key == "" {
				return usageError{errors.New("--signing-key is required")}
			}
			k, err := os.ReadFile(sf.key)
			if err != nil {
				return usageError{fmt.Errorf("--signing-key: %w", err)}
			}
			b, err := bundle.ReadPath(args[0], nil)
			if err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{2}
			}
			if err := bundle.Sign(b, string(k), sf.alg, sf.keyID); err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{2}
			}
			if out == "" {
				if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
					// A folder cannot be replaced by an archive in place.
					return usageError{fmt.Errorf("%s is a folder: give --output FILE for the signed archive", args[0])}
				}
				out = args[0]
			}
			return writeBundle(s, out, func(w io.Writer) error { return bundle.Write(w, b) })
		},
	}
	sf.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "signed bundle FILE (default: replace BUNDLE)")
	return c
}

func newBundleValidateCmd(s Streams) *cobra.Command {
	var pf projectFlags
	var keyFile, keyAlg, keyID string
	c := &cobra.Command{
		Use:   "validate FILE|DIR|URL",
		Short: "Check a bundle: readable, signed with a configured key (when keys are configured), and its Rego compiles",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBundleValidate(cmd.Context(), s, pf, args[0], keyFile, keyAlg, keyID)
		},
	}
	pf.register(c)
	c.Flags().StringVar(&keyFile, "verification-key", "", "public key FILE (PEM) to verify with, instead of policy.bundle_verification")
	c.Flags().StringVar(&keyAlg, "verification-alg", "RS256", "JWS algorithm of --verification-key")
	c.Flags().StringVar(&keyID, "key-id", "default", "key id of --verification-key")
	return c
}

func runBundleValidate(ctx context.Context, s Streams, pf projectFlags, target, keyFile, keyAlg, keyID string) error {
	var keys *bundle.Keys
	if keyFile != "" {
		k, err := os.ReadFile(keyFile)
		if err != nil {
			return usageError{fmt.Errorf("--verification-key: %w", err)}
		}
		keys = bundle.NewKeys(map[string][2]string{keyID: {string(k), keyAlg}})
	} else {
		cfg, err := server.LoadConfig(pf.options(s))
		if err != nil {
			fmt.Fprintln(s.Err, "attest:", err)
			return exitError{2}
		}
		if keys, err = bundle.KeysFromConfig(cfg.Policy.BundleVerification.PublicKeys, pf.dir); err != nil {
			fmt.Fprintln(s.Err, "attest:", err)
			return exitError{2}
		}
	}
	path := target
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		data, _, err := bundle.NewFetcher(target).Fetch(ctx, false)
		if err != nil {
			fmt.Fprintln(s.Err, "attest:", err)
			return exitError{2}
		}
		dir, err := os.MkdirTemp("", "attest-validate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "bundle.tar.gz")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	b, err := bundle.ReadPath(path, keys)
	if err != nil {
		fmt.Fprintln(s.Err, "attest:", err)
		return exitError{2}
	}
	problems, err := policylint.Bundle(ctx, b, target)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(s.Err, p.Error())
	}
	if len(problems) > 0 {
		return exitError{2}
	}
	signed := "unsigned"
	if len(b.Signatures.Signatures) > 0 {
		signed = "signed"
		if keys.Required() {
			signed = "signature verified"
		}
	}
	fmt.Fprintf(s.Out, "%s: %d modules, revision %q, %s\n", target, len(b.Modules), bundle.Revision(b), signed)
	return nil
}

func writeBundle(s Streams, out string, fn func(io.Writer) error) error {
	if out == "-" {
		return fn(s.Out)
	}
	if err := writeFile(out, fn); err != nil {
		fmt.Fprintln(s.Err, "attest:", err)
		return exitError{2}
	}
	return nil
}

// newValidateBundleCmd is spec section 7's spelling,
// `attest policy validate-bundle URL`, of `attest policy bundle validate`.
func newValidateBundleCmd(s Streams) *cobra.Command {
	c := newBundleValidateCmd(s)
	c.Use = "validate-bundle FILE|DIR|URL"
	c.Short = "Same as `attest policy bundle validate`: " + c.Short
	return c
}
