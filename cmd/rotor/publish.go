package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
)

type publishOptions struct {
	project, channel, data, url, apiKey string
}

func newPublishCmd(g *globalFlags) *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:   "publish --project P --channel C --data JSON [--url URL] [--api-key K]",
		Short: "Publish to a channel through the server API",
		Long: "publish POSTs {channel, data} to URL/api/publish (docs/protocol.md) and prints the reply.\n" +
			"The key is --api-key, else the project's api_key from the configured structure,\n" +
			"else admin.api_key. The URL defaults to the config's http.address.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			return runPublish(cmd.Context(), cfg, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "project id (required)")
	f.StringVar(&o.channel, "channel", "", "channel (required)")
	f.StringVar(&o.data, "data", "", "publication data, any JSON value (required)")
	f.StringVar(&o.url, "url", "", "server base URL (default: from http.address, e.g. http://127.0.0.1:8000)")
	f.StringVar(&o.apiKey, "api-key", "", "API key (default: the project's api_key, else admin.api_key)")
	for _, name := range []string{"project", "channel", "data"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runPublish(ctx context.Context, cfg *config.Config, o publishOptions, out io.Writer) error {
	if !json.Valid([]byte(o.data)) {
		return fmt.Errorf("--data is not valid JSON: %q", o.data)
	}
	key, err := publishKey(ctx, cfg, o)
	if err != nil {
		return err
	}
	base := o.url
	if base == "" {
		if base, err = serverURL(cfg.HTTP); err != nil {
			return err
		}
	}
	// project is sent too: a global admin key needs it (docs/protocol.md, Server API), and a
	// project key must agree with it.
	body, err := json.Marshal(struct {
		Project string          `json:"project"`
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{o.project, o.channel, json.RawMessage(o.data)})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/publish", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "apikey "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("publish: read reply: %w", err)
	}
	reply = bytes.TrimSpace(reply)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: HTTP %d: %s", resp.StatusCode, reply)
	}
	var parsed struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(reply, &parsed); err != nil {
		return fmt.Errorf("publish: reply is not JSON: %q", reply)
	}
	if _, err := fmt.Fprintf(out, "%s\n", reply); err != nil {
		return err
	}
	if len(parsed.Error) > 0 && string(parsed.Error) != "null" {
		return fmt.Errorf("publish: %s", parsed.Error)
	}
	return nil
}

// publishKey picks the API key: the flag, else the project's own key,
// else the global admin key.
func publishKey(ctx context.Context, cfg *config.Config, o publishOptions) (string, error) {
	if o.apiKey != "" {
		return o.apiKey, nil
	}
	p, err := findProject(ctx, cfg, o.project)
	if err == nil && p.APIKey != "" {
		return p.APIKey, nil
	}
	if cfg.Admin.APIKey != "" {
		return cfg.Admin.APIKey, nil
	}
	if err != nil {
		return "", fmt.Errorf("no API key: give --api-key or set admin.api_key: %w", err)
	}
	return "", fmt.Errorf("no API key: project %q has none; give --api-key or set admin.api_key", o.project)
}

// serverURL turns a listen address into a URL to reach it from this
// machine: ":8000" and "0.0.0.0:8000" become http://127.0.0.1:8000,
// "[::]:8000" becomes http://[::1]:8000; https when TLS is configured.
func serverURL(h config.HTTP) (string, error) {
	host, port, err := net.SplitHostPort(h.Address)
	if err != nil {
		return "", fmt.Errorf("http.address %q: %w", h.Address, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if h.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}
