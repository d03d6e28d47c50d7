package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newServeCmd is implemented by the lead.
func newServeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "serve", Short: "Run the server", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented yet") }}
}
