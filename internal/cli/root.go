// Package cli wires commands to packages: each command turns its flags
// into options, calls one package, and maps the outcome to an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/decision"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Streams are the command's standard files.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// exitError carries an exit code out of a command without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a bad flag or argument: exit 2, message to stderr.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, s Streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return decision.ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(s.Err, "attest:", err)
	return decision.ExitErrors
}

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "attest",
		Short:         "Policy checks and governance for Kubernetes manifests, on Open Policy Agent",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	var cpuProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for performance work)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	var stopProfile func()
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {}
	cobra.OnFinalize(func() {
		if stopProfile != nil {
			stopProfile()
			stopProfile = nil
		}
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	policyCmd := &cobra.Command{Use: "policy", Short: "Check manifests, validate and test policies"}
	policyCmd.AddCommand(newCheckCmd(s), newScanCmd(s), newValidateCmd(s), newTestAllCmd(s), newTestCmd(s),
		newExemptCmd(s), newExemptionsCmd(s), newOverrideCmd(s), newBundleCmd(s), newValidateBundleCmd(s))
	root.AddCommand(policyCmd, newConfigCmd(s), newGatekeeperCmd(s), newAuditCmd(s), newServeCmd(s))
	return root
}

// isTerminal reports whether w is a terminal (colour, progress bars).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
