package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/transport"
	"github.com/rotor-rt/rotor/transport/h1"
	"github.com/rotor-rt/rotor/transport/hangup"
	"github.com/rotor-rt/rotor/transport/requestid"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var pprofAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: "Run the server. With no config file and no ROTOR_* variable at all (dev mode) it\n" +
			"listens on :8000 with SQLite (rotor.db), the memory engine and a demo project, and\n" +
			"prints what you need to try it. A config file or any ROTOR_* variable turns dev\n" +
			"mode off: no demo project, no printed password, no /demo page.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				go servePprof(cmd.Context(), pprofAddr)
			}
			return runServe(cmd.Context(), cfg, g.devMode(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&pprofAddr, "pprof-address", "", "serve net/http/pprof on this address (for profiling benchmarks; keep it private)")
	return cmd
}

// servePprof serves the Go profiler on its own listener, never on the
// public router.
func servePprof(ctx context.Context, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("pprof server", "err", err)
	}
}

// devMode is true when serve was given nothing at all: no config file
// (--config or ROTOR_CONFIG) and no ROTOR_* variable. `rotor serve` then
// makes a demo project, prints an admin password and serves /demo. Any
// ROTOR_* variable means someone is configuring a real server, which
// must never hand out demo tokens, so it turns dev mode off.
func (g *globalFlags) devMode() bool {
	if g.configPath != "" {
		return false
	}
	return !slices.ContainsFunc(g.environ, func(kv string) bool {
		return strings.HasPrefix(kv, config.EnvPrefix)
	})
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(requestid.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(requestid.LogHandler(slog.NewTextHandler(w, opts)))
}

// runServe runs the server until ctx is done, then drains it.
func runServe(ctx context.Context, cfg *config.Config, dev bool, out io.Writer) error {
	log := newLogger(cfg, os.Stderr)
	// go-redis logs through its own global logger; route it to ours so
	// that log.format: json holds for every line.
	redis.SetLogger(log)
	if dev {
		log.Warn("dev mode: no config file and no ROTOR_* variable; a demo project, a printed admin password and /demo, not for production (give --config to turn it off)")
	} else {
		log.Info("production mode: dev mode is only for a bare serve with no config file and no ROTOR_* variable")
	}
	// Saying what is ignored beats a server that answers "unknown
	// project" without a word.
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	parts, err := newEngine(cfg, log)
	if err != nil {
		return err
	}
	// ctx, not runCtx: a node waiting for its structure stops on a signal.
	st, err := openStructure(ctx, cfg, parts.structure, log)
	if err != nil || st == nil {
		return err
	}
	defer st.close()
	store, sqliteStore := st.store, st.sqlite
	node, err := transport.New(transport.Options{
		Version:           version,
		Delivery:          parts.delivery,
		Broker:            parts.broker,
		Presence:          parts.presence,
		Revoker:           parts.revoker,
		Nodes:             parts.nodes,
		Channels:          parts.channels,
		Series:            parts.series,
		Watcher:           parts.watcher,
		Projects:          store,
		Logger:            log,
		Ping:              cfg.HTTP.Ping,
		QueueBytes:        cfg.Limits.EffectiveQueueBytes(),
		ChannelsPerStream: cfg.Limits.EffectiveChannelsPerStream(),
		MaxBody:           cfg.Client.MaxBody,
		BodyTimeout:       cfg.HTTP.BodyTimeout,
		LeaveGrace:        cfg.Client.LeaveGrace,
		PresenceTTL:       cfg.Client.PresenceTTL,
		SessionTTL:        cfg.Client.SessionTTL,
		AdminAPIKey:       cfg.Admin.APIKey,
		HookTimeout:       cfg.Hooks.Timeout,
		HookRetries:       cfg.Hooks.Retries,
		EventsQueueBytes:  cfg.Hooks.EventsQueueBytes,
		IdempotencyWindow: cfg.Engine.IdempotencyWindow,
		Limits: transport.Limits{
			CommandRate:       cfg.Limits.EffectiveCommandRate(),
			CommandBurst:      cfg.Limits.EffectiveCommandBurst(),
			APIRate:           cfg.Limits.APIRate,
			PublishRate:       cfg.Limits.PublishRate,
			ConnectionsPerIP:  cfg.Limits.ConnectionsPerIP,
			StreamsPerClient:  cfg.Limits.StreamsPerClient,
			ChannelsPerClient: cfg.Limits.ChannelsPerClient,
		},
		Padding:        cfg.HTTP.Padding,
		StreamLifetime: cfg.HTTP.StreamLifetime,
		ClientIPHeader: cfg.HTTP.ClientIPHeader,
	})
	if err != nil {
		return err
	}
	// A node may boot before Redis: it waits for the engine rather than
	// exiting, so a supervisor does not restart it in a loop.
	for {
		err := node.Start(runCtx)
		if err == nil {
			break
		}
		if !errors.Is(err, pubsub.ErrEngineDown) {
			return err
		}
		log.Warn("engine unreachable at start; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	st.start(runCtx, node)

	r := chi.NewRouter()
	r.Use(node.GrowStacks, requestid.Middleware)
	node.Routes(r)
	tls := cfg.HTTP.TLSCert != ""
	// The admin UI bounds its own body sizes; it gets the body deadline.
	var adminErr error
	r.Group(func(r chi.Router) {
		r.Use(node.GuardBodies)
		adminErr = mountAdmin(runCtx, r, cfg, dev, store, node, log, out, tls)
	})
	if adminErr != nil {
		return adminErr
	}
	mountOps(r, node, parts.ready)
	metrics := metricsHandler(node)
	var metricsSrv *http.Server
	if cfg.HTTP.MetricsAddress == "" {
		r.Handle("/metrics", metrics)
	} else {
		metricsSrv, err = serveMetrics(cfg.HTTP.MetricsAddress, metrics, log)
		if err != nil {
			return err
		}
		defer func() { _ = metricsSrv.Close() }()
	}
	demoToken := ""
	if dev && sqliteStore != nil {
		if demoToken, err = ensureDemo(runCtx, sqliteStore, cfg, out); err != nil {
			return err
		}
	}
	if !dev && sqliteStore != nil {
		// A dev-mode run in this directory leaves its demo project, whose
		// secret and key were printed, in the database.
		if _, err := sqliteStore.Project(runCtx, "demo"); err == nil {
			log.Warn(`project "demo" is in the structure database, perhaps left by dev mode with its secret printed; delete it in the admin UI unless you use it`, "sqlite_path", cfg.Structure.SQLitePath)
		}
	}
	mountStatic(r, dev, demoToken)

	srv := &http.Server{
		Addr:              cfg.HTTP.Address,
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		// WriteTimeout stays 0: streams live for hours; each flush sets
		// its own deadline (per write, see docs/architecture.md).
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(tls)
	protocols.SetUnencryptedHTTP2(cfg.HTTP.H2C)
	srv.Protocols = &protocols

	// TCP keep-alive stays on with the kernel's timing (docs/deploy.md,
	// net.ipv4.tcp_keepalive_*): setting Go's own costs three more system
	// calls per accepted connection, and streams ping anyway.
	lc := net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.HTTP.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Address, err)
	}
	log.Info("rotor listening", "address", ln.Addr().String(), "engine", cfg.Engine.Type, "structure", cfg.Structure.Store, "tls", tls, "h2c", cfg.HTTP.H2C)
	// On a plain HTTP/1.1 listener, connections that open with an SSE
	// stream or a long poll are served by transport/h1 from the first
	// request: a stream's connect then allocates none of net/http's
	// per-connection state only to hijack the connection, and a poller's
	// connection holds no goroutine while its poll waits (parked with a
	// hangup watcher of its own). Every other connection (a backend's API
	// calls, the admin UI) goes to net/http: serving a backend's keep-alive
	// publishes with transport/h1 halved broadcast throughput in a closed
	// loop (docs/benchmarks.md). A listener that also speaks HTTP/2 (TLS
	// with ALPN, h2c) stays with net/http.
	var plain *h1.Server
	if !tls && !cfg.HTTP.H2C {
		hangups, err := hangup.New()
		if err != nil {
			return err
		}
		defer hangups.Close()
		plain = h1.New(log.With("component", "http"), transport.DefaultWriteTimeout)
		plain.ParkWith(hangups)
	}
	served := make(chan error, 1)
	go func() {
		switch {
		case tls:
			served <- srv.ServeTLS(ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
		case plain != nil:
			served <- plain.Serve(ln, srv, clientStream)
		default:
			served <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: streams get disconnect 3001")
	shutCtx, stop := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer stop()
	drained := make(chan error, 1)
	go func() { drained <- node.Shutdown(shutCtx, pubsub.DisconnectShutdownReason) }()
	if plain != nil {
		// The listener and idle connections close now, busy ones after
		// their answer.
		plain.Shutdown()
	}
	srvErr := srv.Shutdown(shutCtx)
	if plain != nil {
		srvErr = errors.Join(srvErr, plain.Drain(shutCtx))
	}
	if err := <-drained; err != nil {
		log.Warn("drain", "err", err)
	}
	if srvErr != nil {
		_ = srv.Close()
		log.Warn("shutdown", "err", srvErr)
	}
	log.Info("stopped")
	return nil
}

// clientStream reports whether a request opens an SSE stream or a long
// poll (GET /connection/{project}/sse or /poll, docs/protocol.md): the
// connections transport/h1 serves from their first request. One it
// misses is served by net/http, correctly, at net/http's cost.
func clientStream(method, target string) bool {
	path, _, _ := strings.Cut(target, "?")
	return method == http.MethodGet && strings.HasPrefix(path, "/connection/") &&
		(strings.HasSuffix(path, "/sse") || strings.HasSuffix(path, "/poll"))
}

// mountOps adds /healthz and /readyz (docs/deploy.md, Watching it).
func mountOps(r chi.Router, node *transport.Server, ready func(context.Context) error) {
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "ok\n")
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(r.Context()); err != nil {
			http.Error(w, "engine not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}

// metricsHandler serves the node's, Go's and the process's metrics in the
// Prometheus text format.
func metricsHandler(node *transport.Server) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(node.Collectors()...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// serveMetrics serves /metrics alone on its own listener, so that it can
// stay off the port clients reach. Listening happens before it returns:
// a bad or busy address stops the start. Close the server to stop it.
func serveMetrics(addr string, metrics http.Handler, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http.metrics_address %s: %w", addr, err)
	}
	log.Info("metrics listening", "address", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return srv, nil
}

var errNoEngine = errors.New("unknown engine type")
