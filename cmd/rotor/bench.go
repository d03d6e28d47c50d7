package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/loadgen"
)

type benchOptions struct {
	cfg       loadgen.Config
	sourceIPs string
	jsonOut   bool
	strict    bool
	profile   string
}

func newBenchCmd(g *globalFlags) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench --url URL --project P (--secret S | --token T) --api-key K [flags]",
		Short: "Load-test a Rotor server: SSE or long-poll subscribers, API publishers",
		Long: "bench opens --subscribers SSE or long-poll connections spread over --channels,\n" +
			"publishes through /api/publish at --rate msg/s (0: closed loop with --inflight\n" +
			"requests), and reports the connect rate, deliveries/s, publish→receive latency,\n" +
			"loss and duplicates counted per subscriber, and — with --pid — the server's RSS\n" +
			"and CPU. It stops after --duration or --messages. With --config, the project's\n" +
			"secret and API key default to the configured ones. See docs/benchmarks.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.fillFromConfig(cmd, g); err != nil {
				return err
			}
			ips, err := parseIPs(o.sourceIPs)
			if err != nil {
				return err
			}
			o.cfg.SourceIPs = ips
			o.cfg.Progress = cmd.ErrOrStderr()
			if o.profile != "" {
				stop, err := startCPUProfile(o.profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			rep, runErr := loadgen.Run(cmd.Context(), o.cfg)
			if rep != nil {
				if o.jsonOut {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if err := enc.Encode(rep); err != nil {
						return fmt.Errorf("write report: %w", err)
					}
				} else if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
					return fmt.Errorf("write report: %w", err)
				}
			}
			if runErr != nil {
				return runErr
			}
			if o.strict && !rep.OK() {
				return errors.New("bench: messages lost or duplicated, or requests failed")
			}
			return nil
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVar(&c.URL, "url", "", "server base URL (default: from the config's http.address)")
	f.StringVar(&c.Project, "project", "", "project id (required)")
	f.StringVar(&c.Secret, "secret", "", "project secret, to mint one connection token per subscriber")
	f.StringVar(&c.Token, "token", "", "one connection token for every subscriber (instead of --secret)")
	f.StringVar(&c.APIKey, "api-key", "", "project API key for /api/publish")
	f.StringVar(&c.Namespace, "namespace", "", "namespace of the bench channels (default: the project's default); its history must be on")
	f.StringVar(&c.Transport, "transport", loadgen.TransportSSE, "sse or poll")
	f.IntVar(&c.Subscribers, "subscribers", 100, "connections to open")
	f.IntVar(&c.Channels, "channels", 1, "channels; subscriber i listens to channel i mod N")
	f.Float64Var(&c.Rate, "rate", 0, "publications per second; 0 = closed loop with --inflight publishers")
	f.IntVar(&c.Inflight, "inflight", 8, "concurrent publish requests")
	f.BoolVar(&c.Idle, "idle", false, "connect and hold for --duration without publishing")
	f.DurationVar(&c.Duration, "duration", 10*time.Second, "length of the publishing (or idle) phase")
	f.Uint64Var(&c.Messages, "messages", 0, "stop after this many publications (0 = no cap)")
	f.IntVar(&c.Payload, "payload", 100, "publication data size in bytes (JSON with a sequence number and a send time)")
	f.IntVar(&c.PID, "pid", 0, "server process id, to report its RSS and CPU (same machine)")
	f.StringVar(&o.sourceIPs, "source-ips", "", "comma-separated local addresses to spread connections over (e.g. 127.0.0.1,127.0.0.2)")
	f.Float64Var(&c.ConnectRate, "connect-rate", 0, "new connections per second (0 = as fast as possible)")
	f.IntVar(&c.ConnectConcurrency, "connect-concurrency", 256, "handshakes in progress at once")
	f.DurationVar(&c.ConnectTimeout, "connect-timeout", time.Minute, "bound on the connect phase")
	f.DurationVar(&c.Drain, "drain", 10*time.Second, "wait after the last publication for subscribers to catch up")
	f.DurationVar(&c.Settle, "settle", time.Second, "pause after connecting before reading the server's RSS")
	f.IntVar(&c.PollTimeout, "poll-timeout", 25, "long-poll timeout in seconds")
	f.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	f.BoolVar(&o.strict, "strict", false, "exit non-zero on any loss, duplicate or failed request")
	f.StringVar(&o.profile, "cpuprofile", "", "write the generator's own CPU profile to this file (to check it is not the bottleneck)")
	_ = cmd.MarkFlagRequired("project")
	return cmd
}

// fillFromConfig takes the URL, secret and API key from the configuration
// when a config file is given and the flags leave them out.
func (o *benchOptions) fillFromConfig(cmd *cobra.Command, g *globalFlags) error {
	c := &o.cfg
	if c.URL != "" && (c.Secret != "" || c.Token != "") && (c.APIKey != "" || c.Idle) {
		return nil
	}
	if g.configPath == "" && os.Getenv("ROTOR_CONFIG") == "" {
		if c.URL == "" {
			return errors.New("bench: give --url (or --config)")
		}
		return nil
	}
	cfg, err := g.loadConfig(cmd)
	if err != nil {
		return err
	}
	if c.URL == "" {
		if c.URL, err = serverURL(cfg.HTTP); err != nil {
			return err
		}
	}
	if c.Secret == "" && c.Token == "" || c.APIKey == "" {
		p, err := findProject(cmd.Context(), cfg, c.Project)
		if err != nil {
			return err
		}
		if c.Secret == "" && c.Token == "" {
			c.Secret = p.Secret
		}
		if c.APIKey == "" {
			c.APIKey = p.APIKey
		}
	}
	return nil
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func parseIPs(s string) ([]net.IP, error) {
	if s == "" {
		return nil, nil
	}
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(part))
		if ip == nil {
			return nil, fmt.Errorf("--source-ips: %q is not an IP address", part)
		}
		out = append(out, ip)
	}
	return out, nil
}
