// Command rotor is Rotor's server and command-line tool (docs/configuration.md, Command line): serve,
// genconfig, checkconfig, token, publish, passwd and version. It is the only
// package that reads flags, the environment and files; everything else
// takes the typed config.Config built here.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
)

// globalFlags holds what every command shares: the --config flag and the
// environment, passed in so tests run hermetically.
type globalFlags struct {
	configPath string
	environ    []string
}

// loadConfig builds the configuration for cmd: defaults, the --config
// file (or ROTOR_CONFIG), ROTOR_* variables, then the flags given to cmd.
// The result has passed Validate.
func (g *globalFlags) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(g.configPath, g.environ, cmd.Flags())
}

// newRootCmd returns the rotor command with every subcommand. environ is
// os.Environ() in production and a fixed list in tests.
func newRootCmd(environ []string) *cobra.Command {
	g := &globalFlags{environ: environ}
	root := &cobra.Command{
		Use:   "rotor",
		Short: "Rotor: a self-hosted real-time messaging server",
		Long: "Rotor is a self-hosted real-time messaging server: backends publish over HTTP,\n" +
			"browsers receive over Server-Sent Events with a long-poll fallback.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "YAML config file (default: $ROTOR_CONFIG, else built-in defaults)")
	config.RegisterFlags(root.PersistentFlags())
	root.AddCommand(
		newServeCmd(g),
		newGenconfigCmd(),
		newCheckconfigCmd(g),
		newTokenCmd(g),
		newPublishCmd(g),
		newBenchCmd(g),
		newPasswdCmd(),
		newVersionCmd(),
	)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rotor:", err)
		os.Exit(1)
	}
}
