package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
	"github.com/rotor-rt/rotor/transport/apiclient"
)

type publishOptions struct {
	project, channel, data, url, apiKey, idempotencyKey string
}

func newPublishCmd(g *globalFlags) *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:   "publish --project P --channel C --data JSON [--url URL] [--api-key K] [--idempotency-key K]",
		Short: "Publish to a channel through the server API",
		Long: "publish POSTs {channel, data, idempotency_key} to URL/api/publish (docs/protocol.md) and prints the reply.\n" +
			"The key is --api-key, else the project's api_key from the configured structure,\n" +
			"else admin.api_key. The URL defaults to the config's http.address.\n" +
			"A 112, 5xx or timeout is retried up to 4 times with the same idempotency key, so the\n" +
			"publication happens once; give --idempotency-key to make repeated runs publish once too.",
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
	f.StringVar(&o.idempotencyKey, "idempotency-key", "", "publish at most once with this key (1 to 128 bytes) within engine.idempotency_window (default: a random key per run)")
	for _, name := range []string{"project", "channel", "data"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runPublish(ctx context.Context, cfg *config.Config, o publishOptions, out io.Writer) error {
	if !json.Valid([]byte(o.data)) {
		return fmt.Errorf("--data is not valid JSON: %q", o.data)
	}
	if len(o.idempotencyKey) > apiclient.MaxIdempotencyKey {
		return fmt.Errorf("--idempotency-key is %d bytes, longer than %d", len(o.idempotencyKey), apiclient.MaxIdempotencyKey)
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
	c, err := apiclient.New(base, key, apiclient.Options{Project: o.project})
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pos, err := c.Publish(ctx, apiclient.PublishRequest{
		Channel: o.channel, Data: json.RawMessage(o.data), IdempotencyKey: o.idempotencyKey,
	})
	var reply any
	var apiErr *apiclient.Error
	switch {
	case errors.As(err, &apiErr):
		reply = map[string]any{"error": apiErr}
	case err != nil:
		return fmt.Errorf("publish: %w", err)
	default:
		reply = map[string]any{"result": publishResult{Offset: pos.Offset, Epoch: pos.Epoch}}
	}
	b, jerr := json.Marshal(reply)
	if jerr != nil {
		return fmt.Errorf("publish: encode reply: %w", jerr)
	}
	if _, werr := fmt.Fprintf(out, "%s\n", b); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// publishResult is printed in the server's own order of fields.
type publishResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
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
