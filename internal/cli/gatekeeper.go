package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/gatekeeper"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/report"
)

// newGatekeeperCmd is `attest gatekeeper`: generate, test and verify.
// The integrator registers it in root.go.
func newGatekeeperCmd(s Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "gatekeeper",
		Short: "Gatekeeper: generate ConstraintTemplates, test and verify them offline (as gator does)",
	}
	c.AddCommand(newGatekeeperGenerateCmd(s), newGatekeeperTestCmd(s), newGatekeeperVerifyCmd(s))
	return c
}

func newGatekeeperVerifyCmd(s Streams) *cobra.Command {
	var verbose bool
	c := &cobra.Command{
		Use:   "verify SUITE.yaml|DIR...",
		Short: "Run gator-style Suite files (kind: Suite); a directory (or gator's DIR/...) means every suite.yaml under it",
		Long: `Run Gatekeeper-library style suites, as gator verify does: each test pairs a
template with a constraint, each case reviews an object (or an AdmissionReview)
and asserts a number of violations, optionally matching a message regex.
Exit codes: 0 every case passed, 1 a case failed, 2 a suite could not be read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := suiteFiles(args)
			if err != nil {
				return usageError{err}
			}
			code := decision.ExitOK
			passed, failed, skipped := 0, 0, 0
			for _, f := range files {
				res, err := gatekeeper.RunSuiteFile(cmd.Context(), f)
				if err != nil {
					fmt.Fprintln(s.Err, "attest:", report.PrintableLines(err.Error()))
					code = decision.ExitErrors
					continue
				}
				for _, r := range res {
					name := r.Test
					if r.Case != "" {
						name += "/" + r.Case
					}
					switch {
					case r.Skipped:
						skipped++
						if verbose {
							fmt.Fprintf(s.Out, "SKIP  %s  %s\n", report.Printable(f), report.Printable(name))
						}
					case r.Err != nil:
						failed++
						fmt.Fprintf(s.Out, "FAIL  %s  %s\n      %s\n", report.Printable(f), report.Printable(name),
							strings.ReplaceAll(report.PrintableLines(r.Err.Error()), "\n", "\n      "))
					default:
						passed++
						if verbose {
							fmt.Fprintf(s.Out, "ok    %s  %s\n", report.Printable(f), report.Printable(name))
						}
					}
				}
			}
			fmt.Fprintf(s.Out, "%d suites: %d passed, %d failed, %d skipped\n", len(files), passed, failed, skipped)
			if failed > 0 && code == decision.ExitOK {
				code = decision.ExitViolations
			}
			return exitError{code}
		},
	}
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every case, not only failures")
	return c
}

func suiteFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		// gator's DIR/... (every suite under DIR) is what DIR means here.
		if a == "..." {
			a = "."
		} else if d, ok := strings.CutSuffix(a, string(filepath.Separator)+"..."); ok {
			a = d
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("suite %s: %w", a, err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		_ = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == "suite.yaml" {
				out = append(out, p)
			}
			return nil
		})
	}
	return out, nil
}

func newGatekeeperTestCmd(s Streams) *cobra.Command {
	var files []string
	c := &cobra.Command{
		Use:   "test -f PATH...",
		Short: "Evaluate the objects among PATHs against the ConstraintTemplates and Constraints among them (as gator test)",
		Long: `Read every file under the -f paths: ConstraintTemplates and Constraints are the
policies, every other Kubernetes object is reviewed, as gator test does.
Namespaces among the objects serve namespaceSelector; all objects form
data.inventory. Exit codes: 0 no deny violation, 1 deny violations, 2 errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return usageError{fmt.Errorf("give at least one -f PATH")}
			}
			return runGatekeeperTest(cmd.Context(), s, files)
		},
	}
	c.Flags().StringArrayVarP(&files, "filename", "f", nil, "file or directory of templates, constraints and objects (repeatable)")
	return c
}

func runGatekeeperTest(ctx context.Context, s Streams, paths []string) error {
	res, err := gatekeeper.Test(ctx, paths, 0)
	for _, e := range res.Errors {
		fmt.Fprintln(s.Err, "attest:", report.PrintableLines(e.Error()))
	}
	if err != nil {
		return exitError{decision.ExitErrors}
	}
	code := decision.ExitOK
	if len(res.Errors) > 0 {
		code = decision.ExitErrors
	}
	actions := map[finding.Enforcement]string{finding.EnforcementStrict: "deny", finding.EnforcementWarn: "warn", finding.EnforcementDryrun: "dryrun"}
	for _, f := range res.Findings {
		action := actions[f.Enforcement]
		if f.Kind == finding.KindError {
			action = "error"
			code = decision.ExitErrors
		}
		fmt.Fprintf(s.Out, "%s: %s [%s %s] %s\n", report.Printable(f.Location.String()), report.Printable(f.Resource.String()), action,
			report.Printable(f.Constraint), report.Printable(f.Message))
		if f.Enforcement == finding.EnforcementStrict && code == decision.ExitOK {
			code = decision.ExitViolations
		}
	}
	fmt.Fprintf(s.Out, "%d objects reviewed, %d violations\n", res.Resources, len(res.Findings))
	return exitError{code}
}

func newGatekeeperGenerateCmd(s Streams) *cobra.Command {
	var pf projectFlags
	var output string
	c := &cobra.Command{
		Use:   "generate [--output DIR]",
		Short: "Write ConstraintTemplates and Constraints for the project's enabled attest policies",
		Long: `Write templates.yaml (ConstraintTemplates, templates.gatekeeper.sh/v1) and
constraints.yaml (constraints.gatekeeper.sh/v1beta1) from the project's
configuration and policies, ready for kubectl apply -f DIR (apply the
templates first). Without --output both go to stdout. Exemptions come from
the exemptions file and the approval store (--store, as for policy check);
those Gatekeeper can express become excludedNamespaces. Bad configuration
or policy files are reported, the rest is generated, and the exit code is 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := project.Open(cmd.Context(), pf.options(s))
			if err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{decision.ExitErrors}
			}
			for _, e := range p.Errors {
				fmt.Fprintln(s.Err, "attest:", e.Error())
			}
			g, err := gatekeeper.Generate(gatekeeper.GenerateInput{
				Policies:   p.Policies,
				Context:    p.EngineContext(),
				Exemptions: p.Exemptions(),
			})
			if err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{decision.ExitErrors}
			}
			for _, n := range g.Notes {
				fmt.Fprintln(s.Err, "note:", n)
			}
			// Bad config or policy files were reported above; what could be
			// generated is written, and the exit code says it was not all.
			done := func() error {
				if len(p.Errors) > 0 {
					return exitError{decision.ExitErrors}
				}
				return nil
			}
			if output == "" {
				fmt.Fprint(s.Out, string(g.Templates))
				fmt.Fprintln(s.Out, "---")
				fmt.Fprint(s.Out, string(g.Constraints))
				return done()
			}
			if err := os.MkdirAll(output, 0o755); err != nil {
				return err
			}
			for name, data := range map[string][]byte{"templates.yaml": g.Templates, "constraints.yaml": g.Constraints} {
				if err := os.WriteFile(filepath.Join(output, name), data, 0o644); err != nil {
					return fmt.Errorf("write %s: %w", name, err)
				}
			}
			fmt.Fprintf(s.Out, "wrote %d ConstraintTemplates and Constraints to %s (kubectl apply -f %s)\n",
				len(g.Kinds), output, filepath.Join(output, "templates.yaml"))
			return done()
		},
	}
	pf.register(c)
	c.Flags().StringVar(&output, "output", "", "directory to write templates.yaml and constraints.yaml to")
	return c
}
