// Command multiinstance shows two instances of a service sharing one access
// token through Redis (package redisstore), against an embedded fake WeChat
// (wxinvoicetest), and prints how many tokens were fetched:
//
//	redis-server &                      # or any Redis you can reach
//	go run ./examples/multiinstance     # REDIS_ADDR=host:port to use another one
//
// REDIS_ADDR defaults to 127.0.0.1:6379; several comma-separated addresses
// select a Redis Cluster; REDIS_PASSWORD is sent when set. When Redis is unreachable the command says so and
// exits with status 1. Its keys live under a prefix of their own and are
// deleted at the end.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

func main() {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if err := run(context.Background(), addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multiinstance:", err)
		if errors.Is(err, errRedisUnreachable) {
			fmt.Fprintln(os.Stderr, "Start a Redis (e.g. `redis-server`) or point REDIS_ADDR at one.")
		}
		os.Exit(1)
	}
}

var errRedisUnreachable = errors.New("redis is unreachable")

// instance is one process of the service: its own Client, and so its own
// in-process token cache, HTTP connections and (when sharing) Redis pool.
type instance struct {
	name   string
	client *wxinvoice.Client
	tr     *http.Transport
}

func run(ctx context.Context, addr string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	addrs := strings.Split(addr, ",")
	newRedis := func() redis.UniversalClient {
		// The options a production instance needs; see docs/multi-instance.md.
		return redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:                 addrs,
			Password:              os.Getenv("REDIS_PASSWORD"),
			ContextTimeoutEnabled: true,            // ctx deadlines interrupt a Redis that stopped answering
			DialTimeout:           2 * time.Second, // connecting to a Redis that is down
			ReadTimeout:           3 * time.Second, // calls without a ctx deadline
			WriteTimeout:          3 * time.Second,
			PoolSize:              20,              // connections per instance
			PoolTimeout:           4 * time.Second, // waiting for a free connection
		})
	}

	// Fail early and clearly when Redis is not there.
	probe := newRedis()
	defer probe.Close()
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	err := probe.Ping(pctx).Err()
	pcancel()
	if err != nil {
		return fmt.Errorf("%w at %s: %v", errRedisUnreachable, addr, err)
	}

	// A key prefix of this run's own, so that runs never see each other's
	// tokens (each run's fake WeChat issues its own).
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "wxinvoice-example:" + hex.EncodeToString(b[:]) + ":"

	fmt.Fprintf(out, "Two instances, each with its own token cache, 2 x %d concurrent calls, WeChat rotating the token in between.\n", calls)
	shared, err := scenario(ctx, func() (wxinvoice.TokenStore, func()) {
		rdb := newRedis()
		return redisstore.New(rdb, redisstore.WithKeyPrefix(prefix)), func() { _ = rdb.Close() }
	})
	if err != nil {
		return err
	}
	defer probe.Del(context.WithoutCancel(ctx), redisstore.New(probe, redisstore.WithKeyPrefix(prefix)).TokenKey("access_token:"+shared.appID))
	fmt.Fprintf(out, "  sharing through Redis at %s: %d token fetches (one per token), both instances on one token: %v\n",
		addr, shared.fetches, shared.same)
	alone, err := scenario(ctx, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  without a shared store: %d token fetches (one per instance per token)\n", alone.fetches)
	if !shared.same || shared.fetches != 2 {
		return fmt.Errorf("expected 2 fetches and one shared token, got %d fetches, shared: %v", shared.fetches, shared.same)
	}
	return nil
}

const calls = 200

type result struct {
	appID   string
	fetches int  // token requests WeChat received
	same    bool // both instances ended on the same token
}

// scenario runs two instances against a fresh fake WeChat: a burst of calls,
// a token rotation, another burst. newStore gives each instance its store
// (nil: no store).
func scenario(ctx context.Context, newStore func() (wxinvoice.TokenStore, func())) (*result, error) {
	srv := wxinvoicetest.NewServer() // the fake WeChat both instances call
	defer srv.Close()

	var ins []*instance
	for _, name := range []string{"A", "B"} {
		in := &instance{name: name, tr: http.DefaultTransport.(*http.Transport).Clone()}
		defer in.tr.CloseIdleConnections() // runs before srv.Close, which would wait for them
		opts := []wxinvoice.Option{wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithHTTPClient(&http.Client{Transport: in.tr})}
		if newStore != nil {
			store, closeStore := newStore()
			defer closeStore()
			opts = append(opts, wxinvoice.WithTokenStore(store))
		}
		var err error
		if in.client, err = wxinvoice.New(srv.AppID, srv.AppSecret, opts...); err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}

	if err := burst(ctx, srv, ins); err != nil {
		return nil, err
	}
	// WeChat rotates the token (as when someone force-refreshes it): every
	// instance gets 40001 and needs the new one.
	srv.RevokeTokens()
	if err := burst(ctx, srv, ins); err != nil {
		return nil, err
	}

	res := &result{appID: srv.AppID, fetches: srv.TokenFetches(), same: true}
	first := ""
	for _, in := range ins {
		tok, err := in.client.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		if first == "" {
			first = tok
		}
		res.same = res.same && tok == first
	}
	return res, nil
}

// burst makes calls concurrent DecryptCode calls spread over the instances.
func burst(ctx context.Context, srv *wxinvoicetest.Server, ins []*instance) error {
	const n = calls
	enc := srv.EncryptCode("pExampleCard", "000000000001")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := ins[i%len(ins)]
			if _, err := in.client.DecryptCode(ctx, enc); err != nil {
				errs[i] = fmt.Errorf("instance %s: %w", in.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
