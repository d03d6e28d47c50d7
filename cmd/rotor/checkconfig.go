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
			"variables and flags) and prints \"config OK\", or every problem by its dotted\n" +
			"path (engine.type) and exits non-zero.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := g.loadConfig(cmd); err != nil {
				return fmt.Errorf("invalid config:\n%w", err)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "config OK")
			return err
		},
	}
}
