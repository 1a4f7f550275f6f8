package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policylint"
	"github.com/continuums/attest/internal/report"
	"github.com/continuums/attest/internal/validate"
)

func newValidateCmd(s Streams) *cobra.Command {
	var format string
	var noColor bool
	c := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Validate Rego (parse, compile, METADATA), configuration files and manifests (strict Kubernetes schemas)",
		Long: `Validate what is given: .rego files and folders are parsed and compiled with their
METADATA checked; .attest/ configuration files against their schema; Kubernetes
manifests strictly against the API types of the built-in kinds (unknown fields,
wrong types, removed API versions, names). Kinds without a built-in schema are
reported as not checked. Every problem names its file, line and column.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			res := &finding.Result{}
			// Rego and config files first: they are validated as such,
			// the rest as manifests.
			lint := policylint.Paths(ctx, args)
			res.Errors = append(res.Errors, lint.Errors...)
			res.Notes = append(res.Notes, lint.Notes...)
			loader := manifest.NewLoader(manifest.WithStdin(s.In), manifest.WithSkipPaths(lint.RegoDirs...))
			files, derrs := loader.Discover(ctx, args)
			files = withoutLinted(files, lint.Files)
			v := validate.New()
			mres := check.Run(ctx, loader, nil, files, check.WithoutEvaluation(),
				check.WithResourceHook(v.Resource))
			res.Errors = append(res.Errors, derrs...)
			res.Errors = append(res.Errors, mres.Errors...)
			res.Notes = append(res.Notes, mres.Notes...)
			res.Files = append(lint.Files, mres.Files...)
			res.Resources = mres.Resources
			res.Sort()
			code := decision.Decide(res, decision.Options{FailOnViolation: true})
			r, err := report.New(format, report.WithToolVersion(Version),
				report.WithColor(!noColor && os.Getenv("NO_COLOR") == "" && isTerminal(s.Out)))
			if err != nil {
				return usageError{err}
			}
			if err := r.Report(s.Out, res); err != nil {
				return err
			}
			if code == decision.ExitOK && len(res.Errors) == 0 {
				fmt.Fprintf(s.Err, "valid: %d files, %d resources\n", len(res.Files), res.Resources)
			}
			return exitError{code}
		},
	}
	c.Flags().StringVar(&format, "format", "text", "report format: "+strings.Join(report.Formats(), ", "))
	c.Flags().BoolVar(&noColor, "no-color", false, "no colour")
	return c
}

// withoutLinted drops what the lint step has already validated: attest's
// own YAML (.attest/*.yaml, against its schema) and the policy files (Rego,
// named on the command line or found in a directory), so they are not read
// again as manifests.
func withoutLinted(files, linted []string) []string {
	seen := make(map[string]bool, len(linted))
	for _, f := range linted {
		seen[filepath.Clean(f)] = true
	}
	out := files[:0]
	for _, f := range files {
		if policylint.IsConfigFile(f) || seen[filepath.Clean(f)] || strings.EqualFold(filepath.Ext(f), ".rego") {
			continue
		}
		out = append(out, f)
	}
	return out
}
