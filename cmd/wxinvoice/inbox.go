package main

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/wxinvoice/wxinvoice/redisstore"
)

// envRedisURL is the Redis of the inbox commands (--redis).
const envRedisURL = "REDIS_URL"

// deadLetterRow is a dead letter as `inbox deadletters` prints it: without
// the payload, which may hold personal data.
type deadLetterRow struct {
	ID       string    // the dead letter's id, for `inbox replay`
	EntryID  string    // the entry's id in the inbox
	Kind     string    // the event
	Key      string    // the push's dedupe key
	Attempts int       // deliveries made
	Received time.Time // when the EventHandler received the push
	Failed   time.Time // when it was dead-lettered
	Reason   string    // the last error
}

// replayResult is what `inbox replay` prints.
type replayResult struct {
	DeadLetter string // the dead letter replayed
	ID         string // its new entry in the inbox
}

// inboxCmd is `wxinvoice inbox`: the operator's view of a redisstore inbox.
func (a *app) inboxCmd() *cobra.Command {
	var redisURL, prefix, name string
	var limit int
	open := func() (*redisstore.Inbox, func(), error) {
		u := firstNonEmpty(redisURL, a.env(envRedisURL))
		if u == "" {
			return nil, nil, usagef("no Redis: set %s or --redis (redis://[user:password@]host:port/db)", envRedisURL)
		}
		opts, err := redis.ParseURL(u)
		if err != nil {
			var ue *url.Error // quotes the whole URL, password and all
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, nil, usagef("--redis: %v (redis://[user:password@]host:port/db)", err)
		}
		if opts.Password != "" {
			a.addSecret(opts.Password)
		}
		opts.ContextTimeoutEnabled = true
		rdb := redis.NewClient(opts)
		in, err := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix), redisstore.WithTimeout(a.timeout)).Inbox(name)
		if err != nil {
			_ = rdb.Close()
			return nil, nil, &usageError{err}
		}
		return in, func() { _ = rdb.Close() }, nil
	}
	// with runs fn on the inbox, bounded by --timeout.
	with := func(fn func(ctx context.Context, in *redisstore.Inbox) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			in, closeFn, err := open()
			if err != nil {
				return err
			}
			defer closeFn()
			a.started = true
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			return fn(ctx, in)
		}
	}

	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "Inspect the durable push inbox in Redis: stats, dead letters, replay",
		Long: `Reads the inbox (wxinvoice:inbox:{events} by default) that EventHandlers append pushes
to and InboxWorkers consume (see docs/multi-instance.md). The Redis is $` + envRedisURL + ` or --redis,
a single node: redis://[user:password@]host:port/db, or rediss:// for TLS. The password is
never printed.`,
		Example: `  REDIS_URL=redis://127.0.0.1:6379/0 wxinvoice inbox stats
  wxinvoice inbox deadletters -o json
  wxinvoice inbox replay 1714500000123-0`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&redisURL, "redis", "", "Redis URL (default $"+envRedisURL+")")
	pf.StringVar(&prefix, "prefix", redisstore.DefaultKeyPrefix, "key prefix of the Store (redisstore.WithKeyPrefix)")
	pf.StringVar(&name, "name", redisstore.DefaultInboxName, "name of the inbox (Store.Inbox)")

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Print the inbox's length, lag (not yet read), pending (held by workers) and dead letters",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, in *redisstore.Inbox) error {
			s, err := in.Stats(ctx)
			if err != nil {
				return err
			}
			return a.print(&s)
		}),
	}
	dead := &cobra.Command{
		Use:   "deadletters",
		Short: "List the dead letters, oldest first (without their payload)",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, in *redisstore.Inbox) error {
			if limit <= 0 {
				return usagef("--limit must be positive")
			}
			dl, err := in.DeadLetters(ctx, limit)
			if err != nil {
				return err
			}
			rows := make([]deadLetterRow, 0, len(dl))
			for _, d := range dl {
				rows = append(rows, deadLetterRow{ID: d.ID, EntryID: d.Envelope.ID, Kind: d.Envelope.Kind,
					Key: d.Envelope.Key, Attempts: d.Envelope.Attempts, Received: d.Envelope.Received.UTC(),
					Failed: d.Failed.UTC(), Reason: d.Reason})
			}
			return a.print(rows)
		}),
	}
	dead.Flags().IntVar(&limit, "limit", 100, "list at most this many")
	replay := &cobra.Command{
		Use:   "replay ID",
		Short: "Move a dead letter back into the inbox, for the workers to process again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return with(func(ctx context.Context, in *redisstore.Inbox) error {
				id, err := in.Replay(ctx, args[0])
				if err != nil {
					return err
				}
				return a.print(&replayResult{DeadLetter: args[0], ID: id})
			})(cmd, args)
		},
	}
	cmd.AddCommand(stats, dead, replay)
	return cmd
}
