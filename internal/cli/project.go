package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/project"
)

// projectFlags select the project and its policy sources.
type projectFlags struct {
	dir       string
	config    string
	policies  []string
	noBuiltin bool
	store     string
}

func (f *projectFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.dir, "project", ".", "project directory (holds .attest/ and policies/)")
	fl.StringVar(&f.config, "config", "", "extra configuration FILE layered over the global and project files")
	fl.StringArrayVar(&f.policies, "policy", nil, "Rego file, directory or bundle (.tar.gz) to add (repeatable)")
	fl.StringVar(&f.store, "store", "", "approval store URL (sqlite:///path/attest.db or postgres://...); default: exemptions.store, else the default SQLite file if it exists")
	fl.BoolVar(&f.noBuiltin, "no-builtin", false, "leave out the built-in policy library (the project's policies/ folder and --policy paths still load)")
}

func (f *projectFlags) options(s Streams) project.Options {
	return project.Options{
		Dir:         f.dir,
		ConfigFile:  f.config,
		PolicyPaths: f.policies,
		NoBuiltin:   f.noBuiltin,
		Store:       f.store,
		Stdin:       s.In,
		Debug:       s.Err,
		Env:         os.Getenv,
	}
}
