package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/admin/enginestore"
	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/cmd/rotor/config"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
)

// projectFinder is the one store method token and publish need.
type projectFinder interface {
	Project(ctx context.Context, id string) (*domain.Project, error)
}

// openProjects opens the configured structure for lookups: the config's
// projects with the file store, the SQLite file otherwise. The caller
// calls close when done.
func openProjects(ctx context.Context, cfg *config.Config) (projectFinder, func() error, error) {
	switch cfg.Structure.Store {
	case config.StoreFile:
		s, err := admin.NewStaticStore(cfg.Structure.AdminProjects())
		if err != nil {
			return nil, nil, fmt.Errorf("structure from config: %w", err)
		}
		return s, func() error { return nil }, nil
	case config.StoreEngine:
		// The snapshot the owner wrote into Redis; a lookup does not wait
		// long for one.
		// The engine as serve makes it, so with the same keys.
		parts, err := newEngine(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, nil, err
		}
		closeEngine := parts.close
		r := parts.structure
		if r == nil {
			_ = closeEngine()
			return nil, nil, errEngineStoreNeedsRedis
		}
		wctx, cancel := context.WithTimeout(ctx, engineLookupWait)
		defer cancel()
		s, err := enginestore.Open(wctx, r, nil)
		if err != nil {
			_ = closeEngine()
			return nil, nil, fmt.Errorf("structure from the engine (none within %v: is the owner node, structure.store: sqlite, running?): %w", engineLookupWait, err)
		}
		return s, closeEngine, nil
	default:
		// sqlite.Open creates a missing file; a lookup must not leave an
		// empty database behind, so a missing file is an error here.
		path := cfg.Structure.SQLitePath
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("structure database %s does not exist: run \"rotor serve\" once, or set structure.store: file", path)
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, nil, fmt.Errorf("open structure database: %w", err)
		}
		return s, s.Close, nil
	}
}

// engineLookupWait bounds how long token and publish wait for a
// structure snapshot in the engine.
const engineLookupWait = 5 * time.Second

// findProject looks a project up in the configured structure.
func findProject(ctx context.Context, cfg *config.Config, id string) (_ *domain.Project, err error) {
	store, closeStore, err := openProjects(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeStore()) }()
	p, err := store.Project(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find project: %w", err)
	}
	return p, nil
}

type tokenOptions struct {
	project, user, info, channel string
	ttl                          time.Duration
}

func newTokenCmd(g *globalFlags) *cobra.Command {
	var o tokenOptions
	cmd := &cobra.Command{
		Use:   "token --project P --user U [--ttl 1h] [--info JSON] [--channel C]",
		Short: "Mint a connection token, or a subscription token with --channel",
		Long: "token prints an HS256 JWT signed with the project's secret (docs/security.md): a\n" +
			"connection token with claims sub, exp and info, or with --channel a subscription\n" +
			"token that also carries the channel claim. The project is looked up in the\n" +
			"configured structure (the SQLite file, the config with structure.store: file, or\n" +
			"the snapshot in Redis with structure.store: engine).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			p, err := findProject(cmd.Context(), cfg, o.project)
			if err != nil {
				return err
			}
			tok, err := mintToken(p.Secret, o, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "project id (required)")
	f.StringVar(&o.user, "user", "", "user id, the sub claim (required)")
	f.DurationVar(&o.ttl, "ttl", time.Hour, "lifetime, the exp claim; 0 for a token that never expires")
	f.StringVar(&o.info, "info", "", "public info, a JSON object (the info claim)")
	f.StringVar(&o.channel, "channel", "", "make a subscription token for this channel")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

// mintToken signs the token described by o with secret.
func mintToken(secret string, o tokenOptions, now time.Time) (string, error) {
	if o.user == "" {
		return "", errors.New("--user must not be empty")
	}
	if o.ttl < 0 {
		return "", errors.New("--ttl must not be negative")
	}
	claims := jwt.MapClaims{"sub": o.user}
	if o.ttl > 0 {
		claims["exp"] = now.Add(o.ttl).Unix()
	}
	if o.info != "" {
		var info map[string]any
		if err := json.Unmarshal([]byte(o.info), &info); err != nil || info == nil {
			return "", fmt.Errorf("--info must be a JSON object: %q", o.info)
		}
		claims["info"] = info
	}
	if o.channel != "" {
		claims["channel"] = o.channel
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}
