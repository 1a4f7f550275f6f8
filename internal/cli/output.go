package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/report"
)

// output is one report to write: a format and a file ("" = stdout).
type output struct {
	format string
	file   string
}

// parseOutputs combines --format/--output with the -o FORMAT[=FILE] list.
// At most one report may go to stdout.
func parseOutputs(format, file string, extra []string) ([]output, error) {
	outs := []output{}
	if len(extra) == 0 || format != "text" || file != "" {
		outs = append(outs, output{format: format, file: file})
	}
	for _, e := range extra {
		f, path, _ := strings.Cut(e, "=")
		outs = append(outs, output{format: strings.TrimSpace(f), file: strings.TrimSpace(path)})
	}
	stdout := 0
	for _, o := range outs {
		if !slices.Contains(report.Formats(), o.format) {
			return nil, fmt.Errorf("unknown report format %q (want one of %s)", o.format, strings.Join(report.Formats(), ", "))
		}
		if o.file == "" || o.file == "-" {
			stdout++
		}
	}
	if stdout > 1 {
		return nil, errors.New("only one report can go to stdout: give the others a file (-o FORMAT=FILE)")
	}
	return outs, nil
}

func writeReports(s Streams, outs []output, res *finding.Result, color, quiet bool, fails func(*finding.Finding) bool) error {
	var errs []error
	cwd, _ := os.Getwd()
	for _, o := range outs {
		toStdout := o.file == "" || o.file == "-"
		opts := []report.Option{
			report.WithToolVersion(Version),
			report.WithQuiet(quiet),
			report.WithColor(color && toStdout && isTerminal(s.Out)),
			report.WithStepSummary(os.Getenv("GITHUB_STEP_SUMMARY")),
			report.WithBaseDir(cwd),
		}
		if fails != nil {
			opts = append(opts, report.WithFailFunc(fails))
		}
		r, err := report.New(o.format, opts...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if toStdout {
			errs = append(errs, r.Report(s.Out, res))
			continue
		}
		errs = append(errs, writeFile(o.file, func(w io.Writer) error { return r.Report(w, res) }))
	}
	return errors.Join(errs...)
}

// writeFile writes through a temporary file and a rename, so a reader (a
// CI artifact upload) never sees half a report.
func writeFile(path string, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func progressWanted(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && report.ProgressWanted(f)
}
