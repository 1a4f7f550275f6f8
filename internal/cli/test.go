package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/policytest"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/report"
)

type testFlags struct {
	project   projectFlags
	format    string
	run       string
	verbose   bool
	coverage  bool
	threshold float64
	lcov      string
	cobertura string
	output    string
}

func (f *testFlags) register(c *cobra.Command) {
	f.project.register(c)
	fl := c.Flags()
	fl.StringVar(&f.format, "format", "text", "text, json or junit")
	fl.StringVar(&f.output, "output", "", "write the report to FILE instead of stdout")
	fl.StringVar(&f.run, "run", "", "only tests whose full name (data.<package>.<test>) matches this regular expression")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "list every test and print() output")
	fl.BoolVar(&f.coverage, "coverage", false, "measure coverage and list uncovered lines")
	fl.Float64Var(&f.threshold, "threshold", 0, "fail when coverage is below this percentage (implies --coverage)")
	fl.StringVar(&f.lcov, "lcov", "", "write coverage as LCOV to FILE (implies --coverage)")
	fl.StringVar(&f.cobertura, "cobertura", "", "write coverage as Cobertura XML to FILE (implies --coverage)")
}

func newTestAllCmd(s Streams) *cobra.Command {
	var f testFlags
	c := &cobra.Command{
		Use:   "test-all",
		Short: "Run the Rego unit tests of the built-in library, the project's policies/ and custom policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, errs := policy.Load(cmd.Context(), projectSources(f.project)...)
			return runTests(cmd, s, &f, set, nil, len(errs))
		},
	}
	f.register(c)
	return c
}

func newTestCmd(s Streams) *cobra.Command {
	var f testFlags
	var resources []string
	c := &cobra.Command{
		Use:   "test NAME|PATH",
		Short: "Run the tests of one policy (attest-security) or of a folder (policies/); with --resource, show what the policy says about a file",
		Example: `  attest policy test attest-security
  attest policy test policies/
  attest policy test attest-security --resource k8s/deployment.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if len(resources) > 0 {
				return runPolicyOn(cmd, s, &f, name, resources)
			}
			if fi, err := os.Stat(name); err == nil {
				// A folder or file of policies and their tests; the
				// library's modules are there for helpers, its tests not.
				opts := append(projectSources(f.project), policy.WithPaths(name))
				set, errs := policy.Load(cmd.Context(), opts...)
				only := map[string]bool{}
				for _, m := range append(set.Modules, set.Tests...) {
					if !m.Builtin && underPath(m.Path, name, fi.IsDir()) {
						only[m.Path] = true
					}
				}
				return runTests(cmd, s, &f, set, only, len(errs))
			}
			set, errs := policy.Load(cmd.Context(), projectSources(f.project)...)
			for _, p := range set.Policies {
				if p.Name == name || p.Package == name {
					if f.run == "" {
						f.run = policytest.PackageFilter(p.Package)
					}
					return runTests(cmd, s, &f, set, nil, len(errs))
				}
			}
			return usageError{fmt.Errorf("no policy or path named %q (see `attest policy test-all -v` for the policies)", name)}
		},
	}
	f.register(c)
	c.Flags().StringArrayVar(&resources, "resource", nil, "evaluate the policy on this manifest FILE and show its findings (repeatable)")
	return c
}

func underPath(p, root string, dir bool) bool {
	if !dir {
		return p == root
	}
	root = strings.TrimSuffix(root, "/") + "/"
	return strings.HasPrefix(p, root) || root == "./"
}

func projectSources(f projectFlags) []policy.Option {
	return project.PolicySources(project.Options{Dir: f.dir, ConfigFile: f.config, PolicyPaths: f.policies, NoBuiltin: f.noBuiltin, Env: os.Getenv})
}

// runTests runs the test modules of set (only those in `only`, when given,
// though every module is compiled so helpers resolve).
func runTests(cmd *cobra.Command, s Streams, f *testFlags, set *policy.Set, only map[string]bool, loadErrors int) error {
	var mods []policytest.Module
	for _, m := range set.Modules {
		mods = append(mods, policytest.Module{Path: m.Path, Source: m.Source})
	}
	for _, m := range set.Tests {
		if only != nil && !only[m.Path] {
			continue
		}
		mods = append(mods, policytest.Module{Path: m.Path, Source: m.Source})
	}
	cover := f.coverage || f.threshold > 0 || f.lcov != "" || f.cobertura != ""
	res, err := policytest.Run(cmd.Context(), mods, policytest.Options{Run: f.run, Coverage: cover})
	if err != nil {
		return usageError{err}
	}
	if cover && only != nil && res.Coverage != nil {
		res.Coverage = onlyFiles(res.Coverage, only)
	}
	write := func(w io.Writer) error {
		switch f.format {
		case "json":
			return policytest.WriteJSON(w, res)
		case "junit":
			return policytest.WriteJUnit(w, res)
		case "text":
			return policytest.WriteText(w, res, f.verbose)
		}
		return fmt.Errorf("unknown format %q (want text, json or junit)", f.format)
	}
	if f.output != "" {
		err = writeFile(f.output, write)
	} else {
		err = write(s.Out)
	}
	if err != nil {
		return usageError{err}
	}
	if cover && res.Coverage != nil {
		if f.lcov != "" {
			if err := writeFile(f.lcov, func(w io.Writer) error { return policytest.WriteLCOV(w, res.Coverage) }); err != nil {
				return err
			}
		}
		if f.cobertura != "" {
			if err := writeFile(f.cobertura, func(w io.Writer) error { return policytest.WriteCobertura(w, res.Coverage, ".") }); err != nil {
				return err
			}
		}
	}
	switch {
	case len(res.Errors) > 0 || loadErrors > 0:
		return exitError{decision.ExitErrors}
	case !res.OK():
		return exitError{decision.ExitViolations}
	case f.threshold > 0 && res.Coverage != nil && res.Coverage.Below(f.threshold):
		// Two decimals: 98.96% must not read as "99.0% is below 99.0%".
		fmt.Fprintf(s.Err, "coverage %.2f%% is below the threshold %g%%\n", res.Coverage.Percent, f.threshold)
		return exitError{decision.ExitViolations}
	}
	return nil
}

// onlyFiles keeps the coverage of the selected files.
func onlyFiles(c *policytest.Coverage, only map[string]bool) *policytest.Coverage {
	out := &policytest.Coverage{}
	for _, fc := range c.Files {
		if !only[fc.File] {
			continue
		}
		out.Files = append(out.Files, fc)
		out.CoveredLines += fc.CoveredLines
		out.NotCoveredLines += fc.NotCoveredLines
	}
	if total := out.CoveredLines + out.NotCoveredLines; total > 0 {
		out.Percent = 100 * float64(out.CoveredLines) / float64(total)
	}
	return out
}

// runPolicyOn shows what one policy says about some manifests: the same
// check as `policy check`, with every other policy switched off.
func runPolicyOn(cmd *cobra.Command, s Streams, f *testFlags, name string, files []string) error {
	ctx := cmd.Context()
	opts := f.project.options(s)
	opts.OnlyPolicy = name
	p, err := project.Open(ctx, opts)
	if err != nil {
		fmt.Fprintln(s.Err, "attest:", err)
		return exitError{decision.ExitErrors}
	}
	if len(p.Engine.Policies()) == 0 {
		return usageError{fmt.Errorf("no enabled policy named %q", name)}
	}
	found, derrs := p.Loader.Discover(ctx, files)
	res := check.Run(ctx, p.Loader, p.Engine, found, check.WithExempter(p.Exempter))
	res.Errors = append(append(p.Errors, derrs...), res.Errors...)
	res.Rules = p.Engine.Rules()
	res.Sort()
	code := decision.Decide(res, decision.Options{FailOnViolation: true})
	r, err := report.New(f.format, report.WithToolVersion(Version))
	if err != nil {
		return usageError{err}
	}
	if err := r.Report(s.Out, res); err != nil {
		return err
	}
	return exitError{code}
}
