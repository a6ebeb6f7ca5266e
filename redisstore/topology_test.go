//go:build unix

package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestCluster runs the Store on a real three-master Redis Cluster through
// redis.UniversalClient: every operation is on one key, so keys in any slot
// work without hash tags, and instances share one token.
func TestCluster(t *testing.T) {
	t.Parallel()
	addrs := startCluster(t)
	newRdb := func() redis.UniversalClient {
		rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	rdb := newRdb()
	require.IsType(t, &redis.ClusterClient{}, rdb)
	s := redisstore.New(rdb)
	ctx := context.Background()

	// Keys spread over the slots of all three masters.
	masters := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("access_token:wx%014d", i)
		for _, k := range []string{s.TokenKey(key), s.LockKey(key), s.DedupeKey(key)} {
			node, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, k)
			require.NoError(t, err)
			masters[node.Options().Addr] = true
		}

		require.NoError(t, s.SetToken(ctx, key, wxinvoice.Token{Value: "fresh", ExpiresAt: time.Now().Add(time.Hour)}))
		require.NoError(t, s.InvalidateToken(ctx, key, "stale"))
		got, ok, err := s.GetToken(ctx, key)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "fresh", got.Value)
		require.NoError(t, s.InvalidateToken(ctx, key, "fresh"))
		_, ok, err = s.GetToken(ctx, key)
		require.NoError(t, err)
		require.False(t, ok)

		unlock, ok, err := s.LockToken(ctx, key, time.Second)
		require.NoError(t, err)
		require.True(t, ok)
		_, ok, err = s.LockToken(ctx, key, time.Second)
		require.NoError(t, err)
		require.False(t, ok)
		unlock()

		st, err := s.Claim(ctx, key, "owner-a")
		require.NoError(t, err)
		require.Equal(t, wxinvoice.ClaimAcquired, st)
		st, err = s.Claim(ctx, key, "owner-b")
		require.NoError(t, err)
		require.Equal(t, wxinvoice.ClaimHeld, st)
		ok, err = s.Renew(ctx, key, "owner-a")
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Release(ctx, key, "owner-a"))
		require.NoError(t, s.Done(ctx, key, time.Minute))
		st, err = s.Claim(ctx, key, "owner-b")
		require.NoError(t, err)
		require.Equal(t, wxinvoice.ClaimDone, st)
	}
	require.Len(t, masters, 3, "the keys landed on every master")

	// Two instances, each with its own cluster client, share one token.
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	ins := []*instance{newInstanceOn(t, srv, newRdb()), newInstanceOn(t, srv, newRdb())}
	require.Empty(t, burst(t, srv, ins, 200, nil))
	srv.RevokeTokens()
	require.Empty(t, burst(t, srv, ins, 200, nil))
	require.Equal(t, 2, srv.TokenFetches(), "one fetch per token on a Cluster too")
	require.Equal(t, ins[0].token(t), ins[1].token(t))
}

// TestSentinel runs the Store through a Sentinel-discovered master
// (UniversalOptions.MasterName: a failover client).
func TestSentinel(t *testing.T) {
	t.Parallel()
	sentinel := startSentinel(t)
	newRdb := func() redis.UniversalClient {
		rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{sentinel}, MasterName: "mymaster",
			ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	rdb := newRdb()
	ctx := context.Background()
	require.Eventually(t, func() bool { return rdb.Ping(ctx).Err() == nil }, 10*time.Second, 50*time.Millisecond,
		"master not reachable through Sentinel")
	s := redisstore.New(rdb)

	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "fresh", ExpiresAt: time.Now().Add(time.Hour)}))
	require.NoError(t, s.InvalidateToken(ctx, tokKey, "stale"))
	got, ok, err := s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "fresh", got.Value)
	unlock, ok, err := s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	unlock()
	st, err := s.Claim(ctx, "push", "owner-a")
	require.NoError(t, err)
	require.Equal(t, wxinvoice.ClaimAcquired, st)

	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	ins := []*instance{newInstanceOn(t, srv, newRdb()), newInstanceOn(t, srv, newRdb())}
	require.Empty(t, burst(t, srv, ins, 200, nil))
	require.Equal(t, 1, srv.TokenFetches())
	require.Equal(t, ins[0].token(t), ins[1].token(t))
}
