package main

import (
	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
)

func newGenconfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "genconfig",
		Short: "Print a commented config file with fresh secrets",
		Long: "genconfig prints a YAML configuration with every key at its default, a comment\n" +
			"on each, and fresh random secrets. Save it, edit it, then check it:\n" +
			"  rotor genconfig > rotor.yaml && rotor checkconfig --config rotor.yaml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return config.Generate(cmd.OutOrStdout())
		},
	}
}
