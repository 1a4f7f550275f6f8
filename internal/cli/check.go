package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/report"
)

// checkFlags are shared by `policy check` and `policy scan`.
type checkFlags struct {
	project   projectFlags
	format    string
	output    string
	reports   []string
	strict    bool
	threshold string
	parallel  int
	noColor   bool
	quiet     bool
	// metricsFile receives the run's Prometheus metrics (internal/metrics).
	metricsFile string
}

func (f *checkFlags) register(c *cobra.Command, defaultFormat string) {
	f.project.register(c)
	fl := c.Flags()
	fl.StringVar(&f.format, "format", defaultFormat, "report format: "+strings.Join(report.Formats(), ", "))
	fl.StringVar(&f.output, "output", "", "write the --format report to FILE instead of stdout")
	fl.StringArrayVarP(&f.reports, "report", "o", nil, "extra report FORMAT or FORMAT=FILE (repeatable): -o junit=policy-results.xml -o sarif=scan.sarif -o text")
	fl.BoolVar(&f.strict, "strict", false, "warnings fail the run too")
	fl.StringVar(&f.threshold, "severity-threshold", "", "only violations at or above this severity fail the run (low, medium, high, critical)")
	fl.IntVar(&f.parallel, "parallel", 0, "files checked at once (default: number of CPUs)")
	fl.BoolVar(&f.noColor, "no-color", false, "no colour in text output (also NO_COLOR)")
	fl.BoolVar(&f.quiet, "quiet", false, "text output shows only failing findings and the summary")
	fl.StringVar(&f.metricsFile, "metrics-file", "", "also write the run's Prometheus metrics to FILE (text format, for node_exporter's textfile collector or a Pushgateway)")
}

func newCheckCmd(s Streams) *cobra.Command {
	var f checkFlags
	c := &cobra.Command{
		Use:   "check PATH... | -",
		Short: "Check manifests (files, directories, or - for stdin) against the policies",
		Long: `Check Kubernetes manifests against the built-in library, the project's policies/
folder and any --policy paths. Exit codes: 0 nothing fails, 1 failing violations,
2 errors (bad input, config or policy; findings for the rest are still reported).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, s, &f, args, false)
		},
	}
	f.register(c, "text")
	return c
}

func newScanCmd(s Streams) *cobra.Command {
	var f checkFlags
	c := &cobra.Command{
		Use:   "scan [PATH]",
		Short: "Find the manifests in a repository and check them",
		Long: `Walk a repository (default: the current directory), skipping .git, vendor,
node_modules and the policy folders, and check every Kubernetes manifest found.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			return runCheck(cmd, s, &f, args, true)
		},
	}
	f.register(c, "text")
	return c
}

func runCheck(cmd *cobra.Command, s Streams, f *checkFlags, args []string, scan bool) error {
	ctx := cmd.Context()
	outs, err := parseOutputs(f.format, f.output, f.reports)
	if err != nil {
		return usageError{err}
	}
	var threshold finding.Severity
	if f.threshold != "" {
		if threshold, err = finding.ParseSeverity(f.threshold); err != nil {
			return usageError{fmt.Errorf("--severity-threshold: %w", err)}
		}
	}
	opts := f.project.options(s)
	opts.Scan = scan
	p, err := project.Open(ctx, opts)
	if err != nil {
		fmt.Fprintln(s.Err, "attest:", err)
		return exitError{decision.ExitErrors}
	}
	files, derrs := p.Loader.Discover(ctx, args)
	parallel := f.parallel
	if parallel == 0 {
		parallel = p.Parallel
	}
	prog := report.NewProgress(s.Err, len(files), len(files) > 20 && progressWanted(s.Err))
	res := check.Run(ctx, p.Loader, p.Engine, files,
		check.WithParallel(parallel),
		check.WithExempter(p.Exempter),
		check.WithProgress(func(int) { prog.Add(1) }))
	prog.Done()
	res.Errors = append(append(p.Errors, derrs...), res.Errors...)
	res.Notes = append(p.Notes, res.Notes...)
	res.Rules = p.Engine.Rules()
	res.Sort()
	if threshold == finding.SeverityUnknown {
		threshold = p.Threshold
	}
	dopts := decision.Options{
		Strict:          f.strict,
		Threshold:       threshold,
		FailOnViolation: p.FailOnViolation,
	}
	code := decision.Decide(res, dopts)
	if f.metricsFile != "" {
		if err := writeMetricsFile(f.metricsFile, p, res); err != nil {
			fmt.Fprintln(s.Err, "attest:", err)
			code = decision.ExitErrors
		}
	}
	color := !f.noColor && os.Getenv("NO_COLOR") == ""
	if err := writeReports(s, outs, res, color, f.quiet, func(x *finding.Finding) bool { return decision.Fails(x, dopts) }); err != nil {
		fmt.Fprintln(s.Err, "attest:", err)
		return exitError{decision.ExitErrors}
	}
	return exitError{code}
}
