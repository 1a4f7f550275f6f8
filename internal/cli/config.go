package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/decision"
)

func newConfigCmd(s Streams) *cobra.Command {
	var dir, file string
	var projectScope bool
	c := &cobra.Command{Use: "config", Short: "Show and change settings (global, project)"}
	c.PersistentFlags().StringVar(&dir, "project-dir", ".", "project directory (holds .attest/)")
	load := func() (*config.Config, error) {
		return config.Load(config.WithProjectDir(dir), config.WithEnv(os.Getenv))
	}
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the effective value of a setting (policy.debug, policy.fail_on_violation, ...)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			v, err := config.Get(cfg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Out, v)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every setting with its effective value and where it comes from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
			for _, kv := range config.List(cfg) {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, kv.Value, kv.Source)
			}
			return tw.Flush()
		},
	}
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change a setting in the global file (or the project's with --project)",
		Example: `  attest config set policy.debug true
  attest config set --project policy.fail_on_violation false`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := file
			if path == "" && projectScope {
				path = filepath.Join(dir, ".attest", "policies.yaml")
			}
			if path == "" {
				path = config.GlobalPath(os.Getenv)
			}
			if err := config.Set(path, args[0], args[1]); err != nil {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{decision.ExitErrors}
			}
			fmt.Fprintf(s.Err, "%s = %s (in %s)\n", args[0], args[1], path)
			return nil
		},
	}
	set.Flags().BoolVar(&projectScope, "project", false, "write the project's .attest/policies.yaml instead of the global file")
	set.Flags().StringVar(&file, "file", "", "write this configuration file")
	c.AddCommand(get, list, set)
	return c
}
