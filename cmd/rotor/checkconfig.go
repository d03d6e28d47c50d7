package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCheckconfigCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "checkconfig",
		Short: "Check a config file and name every bad field",
		Long: "checkconfig loads the configuration as serve would (the --config file, ROTOR_*\n" +
			"variables and flags) and prints \"config OK\" (with warnings on standard error for\n" +
			"settings that are valid but ignored), or every problem by its dotted path\n" +
			"(engine.type) and exits non-zero.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return fmt.Errorf("invalid config:\n%w", err)
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "config OK")
			return err
		},
	}
}
