//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
)

const tokKey = "access_token:wx0123456789abcdef"

func TestTokenRoundTripAndLayout(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	s := redisstore.New(rdb)
	ctx := context.Background()

	_, ok, err := s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.False(t, ok, "no token stored yet")

	exp := time.Now().Add(2 * time.Hour)
	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "tok-A", ExpiresAt: exp}))
	got, ok, err := s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "tok-A", got.Value)
	require.True(t, got.ExpiresAt.Equal(exp), "ExpiresAt round-trips to the nanosecond: %v vs %v", got.ExpiresAt, exp)

	// Layout: a hash under <prefix>token:<key>, readable with redis-cli.
	require.Equal(t, "wxinvoice:token:"+tokKey, s.TokenKey(tokKey))
	h, err := rdb.HGetAll(ctx, "wxinvoice:token:"+tokKey).Result()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"value": "tok-A", "expires_at": exp.UTC().Format(time.RFC3339Nano)}, h)
	// The key outlives ExpiresAt by TokenGrace, then vanishes.
	pttl, err := rdb.PTTL(ctx, s.TokenKey(tokKey)).Result()
	require.NoError(t, err)
	require.InDelta(t, (2*time.Hour + redisstore.TokenGrace).Seconds(), pttl.Seconds(), 5)

	// Replacing with a token without expiry drops the TTL.
	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "tok-B"}))
	got, ok, err = s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, wxinvoice.Token{Value: "tok-B"}, got)
	pttl, err = rdb.PTTL(ctx, s.TokenKey(tokKey)).Result()
	require.NoError(t, err)
	require.Equal(t, time.Duration(-1), pttl, "zero ExpiresAt: no TTL")

	// A token dead for longer than the grace is not kept (and replaces the old one).
	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "tok-C", ExpiresAt: time.Now().Add(-2 * redisstore.TokenGrace)}))
	_, ok, err = s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.False(t, ok)

	// A short-lived token vanishes on its own once ExpiresAt + grace passes.
	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "tok-D", ExpiresAt: time.Now().Add(150*time.Millisecond - redisstore.TokenGrace)}))
	_, ok, err = s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		_, ok, err := s.GetToken(ctx, tokKey)
		return err == nil && !ok
	}, 5*time.Second, 20*time.Millisecond)

	// A corrupt entry is an error (the Client then fetches and overwrites it).
	require.NoError(t, rdb.HSet(ctx, s.TokenKey(tokKey), "value", "x", "expires_at", "yesterday").Err())
	_, _, err = s.GetToken(ctx, tokKey)
	require.ErrorContains(t, err, "malformed expires_at")
	require.NotContains(t, err.Error(), "x\"")
}

func TestInvalidateTokenComparesBeforeDeleting(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	s := redisstore.New(r.Client())
	ctx := context.Background()

	// Instance 1 was rejected with "stale" and is slow to say so; meanwhile
	// instance 2 stored "fresh". The stale rejection must not delete it.
	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "fresh", ExpiresAt: time.Now().Add(time.Hour)}))
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.InvalidateToken(ctx, tokKey, "stale"))
		}()
	}
	wg.Wait()
	got, ok, err := s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok, "a stale rejection deleted a fresh token")
	require.Equal(t, "fresh", got.Value)

	// A prefix of the value is not the value.
	require.NoError(t, s.InvalidateToken(ctx, tokKey, "fres"))
	_, ok, err = s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.True(t, ok)

	// The rejection of the current token deletes it.
	require.NoError(t, s.InvalidateToken(ctx, tokKey, "fresh"))
	_, ok, err = s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.False(t, ok)

	// Nothing stored: a no-op.
	require.NoError(t, s.InvalidateToken(ctx, tokKey, "fresh"))
}

func TestLockTokenOwnership(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	s := redisstore.New(rdb)
	ctx := context.Background()

	unlock1, ok, err := s.LockToken(ctx, tokKey, 200*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	pttl, err := rdb.PTTL(ctx, s.LockKey(tokKey)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, time.Duration(0))
	require.LessOrEqual(t, pttl, 200*time.Millisecond)

	// Held: the others are told at once.
	start := time.Now()
	unlock, ok, err := s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, unlock)
	require.Less(t, time.Since(start), time.Second, "LockToken must not wait for the holder")

	// Holder 1 loses its lock (evicted, or expired while its renewals
	// failed) and holder 2 takes it.
	require.NoError(t, rdb.Del(ctx, s.LockKey(tokKey)).Err())
	unlock2, ok, err := s.LockToken(ctx, tokKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	// Holder 1's renewals stop without touching holder 2's lock: after
	// several of holder 1's renewal periods the TTL is still holder 2's.
	time.Sleep(time.Second)
	pttl, err = rdb.PTTL(ctx, s.LockKey(tokKey)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 5*time.Second, "holder 1 renewed holder 2's lock")

	// Holder 1's late unlock must not release holder 2's lock.
	unlock1()
	unlock1() // idempotent
	_, ok, err = s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	require.False(t, ok, "an expired holder released its successor's lock")

	unlock2()
	unlock3, ok, err := s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	require.True(t, ok, "the owner's unlock frees the lock")
	unlock3()

	// Two Stores (two instances) on one Redis contend for one lock.
	other := redisstore.New(r.Client())
	var acquired sync.WaitGroup
	var n int
	var mu sync.Mutex
	unlocks := []func(){}
	for i := range 20 {
		acquired.Add(1)
		go func() {
			defer acquired.Done()
			st := s
			if i%2 == 1 {
				st = other
			}
			u, ok, err := st.LockToken(ctx, tokKey, 5*time.Second)
			require.NoError(t, err)
			if ok {
				mu.Lock()
				n++
				unlocks = append(unlocks, u)
				mu.Unlock()
			}
		}()
	}
	acquired.Wait()
	require.Equal(t, 1, n, "exactly one of 20 concurrent callers holds the lock")
	unlocks[0]()
}

// TestLockRenewedWhileHeld: a live holder keeps its lock however long it
// works (its Store renews it); a holder that died (its renewals stopped:
// here its Redis connection is gone) loses it within the ttl.
func TestLockRenewedWhileHeld(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	ctx := context.Background()
	const ttl = time.Second
	other := redisstore.New(r.Client())

	holder := redisstore.New(r.Client())
	unlock, ok, err := holder.LockToken(ctx, tokKey, ttl)
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(3 * ttl)
	_, ok, err = other.LockToken(ctx, tokKey, ttl)
	require.NoError(t, err)
	require.False(t, ok, "the live holder's lock expired")
	unlock()
	u, ok, err := other.LockToken(ctx, tokKey, ttl)
	require.NoError(t, err)
	require.True(t, ok, "unlock releases it")
	u()

	deadRdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{r.Addr}, ContextTimeoutEnabled: true})
	dead := redisstore.New(deadRdb)
	_, ok, err = dead.LockToken(ctx, tokKey, ttl)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, deadRdb.Close()) // the holder's process is gone: no renewal, no unlock
	require.Eventually(t, func() bool {
		u, ok, err := other.LockToken(ctx, tokKey, ttl)
		if err == nil && ok {
			u()
		}
		return ok
	}, 10*ttl, 20*time.Millisecond, "a dead holder's lock outlived its ttl")
}

func TestLockTTLOption(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	ctx := context.Background()

	s := redisstore.New(rdb, redisstore.WithLockTTL(30*time.Second))
	unlock, ok, err := s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	pttl, err := rdb.PTTL(ctx, s.LockKey(tokKey)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 25*time.Second, "WithLockTTL overrides the caller's ttl")
	unlock()

	s = redisstore.New(rdb)
	unlock, ok, err = s.LockToken(ctx, tokKey, 0)
	require.NoError(t, err)
	require.True(t, ok)
	pttl, err = rdb.PTTL(ctx, s.LockKey(tokKey)).Result()
	require.NoError(t, err)
	require.InDelta(t, redisstore.DefaultLockTTL.Seconds(), pttl.Seconds(), 1, "no ttl given: DefaultLockTTL")
	unlock()
}

func TestKeyPrefix(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	ctx := context.Background()
	def := redisstore.New(rdb)
	a := redisstore.New(rdb, redisstore.WithKeyPrefix("tenant-a:"))
	b := redisstore.New(rdb, redisstore.WithKeyPrefix("tenant-b:"))

	require.Equal(t, "wxinvoice:token:k", def.TokenKey("k"))
	require.Equal(t, "wxinvoice:lock:k", def.LockKey("k"))
	require.Equal(t, "wxinvoice:dedupe:k", def.DedupeKey("k"))
	require.Equal(t, "tenant-a:token:k", a.TokenKey("k"))

	exp := time.Now().Add(time.Hour)
	require.NoError(t, a.SetToken(ctx, "k", wxinvoice.Token{Value: "a-token", ExpiresAt: exp}))
	require.NoError(t, b.SetToken(ctx, "k", wxinvoice.Token{Value: "b-token", ExpiresAt: exp}))
	ua, ok, err := a.LockToken(ctx, "k", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	defer ua()
	ub, ok, err := b.LockToken(ctx, "k", time.Second)
	require.NoError(t, err)
	require.True(t, ok, "locks of different prefixes are independent")
	defer ub()
	st, err := a.Claim(ctx, "push", "owner")
	require.NoError(t, err)
	require.Equal(t, wxinvoice.ClaimAcquired, st)
	st, err = b.Claim(ctx, "push", "owner")
	require.NoError(t, err)
	require.Equal(t, wxinvoice.ClaimAcquired, st, "dedupe records of different prefixes are independent")

	for _, k := range []string{"tenant-a:token:k", "tenant-a:lock:k", "tenant-a:dedupe:push",
		"tenant-b:token:k", "tenant-b:lock:k", "tenant-b:dedupe:push"} {
		n, err := rdb.Exists(ctx, k).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, k)
	}
	n, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	require.EqualValues(t, 6, n, "nothing outside the prefixes")

	got, ok, err := a.GetToken(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a-token", got.Value)
	_, ok, err = def.GetToken(ctx, "k")
	require.NoError(t, err)
	require.False(t, ok, "the default prefix sees neither tenant")
	require.NoError(t, b.InvalidateToken(ctx, "k", "b-token"))
	got, ok, err = a.GetToken(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a-token", got.Value)
}

// TestOnlySingleKeyCommands checks which commands the Store sends: no
// KEYS/SCAN, nothing multi-key (Cluster-safe).
func TestOnlySingleKeyCommands(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	s := redisstore.New(rdb)
	ctx := context.Background()
	require.NoError(t, rdb.ConfigResetStat(ctx).Err())

	require.NoError(t, s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "v", ExpiresAt: time.Now().Add(time.Hour)}))
	_, _, err := s.GetToken(ctx, tokKey)
	require.NoError(t, err)
	require.NoError(t, s.InvalidateToken(ctx, tokKey, "v"))
	unlock, _, err := s.LockToken(ctx, tokKey, time.Second)
	require.NoError(t, err)
	unlock()
	_, err = s.Claim(ctx, "k", "owner")
	require.NoError(t, err)
	_, err = s.Renew(ctx, "k", "owner")
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, "k", "owner"))
	require.NoError(t, s.Done(ctx, "k", time.Minute))

	info, err := rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	var used []string
	for _, line := range strings.Split(info, "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":"); ok && strings.HasPrefix(line, "cmdstat_") {
			used = append(used, name)
		}
	}
	allowed := map[string]bool{"hmget": true, "evalsha": true, "eval": true, "set": true, "del": true,
		"hset": true, "pexpire": true, "hget": true, "get": true, // inside the scripts
		"config|resetstat": true, "info": true} // the test's own
	for _, c := range used {
		require.True(t, allowed[c], "unexpected command %q (all: %v)", c, used)
	}
	require.NotContains(t, used, "keys")
	require.NotContains(t, used, "scan")
}

// TestUnreachableRedisFailsFast: with nothing listening, every method
// returns an error promptly, and a done ctx is honoured.
func TestUnreachableRedisFailsFast(t *testing.T) {
	t.Parallel()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{refusedAddr(t)}})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisstore.New(rdb)
	ctx := context.Background()

	calls := map[string]func(context.Context) error{
		"GetToken": func(ctx context.Context) error { _, _, err := s.GetToken(ctx, tokKey); return err },
		"SetToken": func(ctx context.Context) error {
			return s.SetToken(ctx, tokKey, wxinvoice.Token{Value: "v"})
		},
		"InvalidateToken": func(ctx context.Context) error { return s.InvalidateToken(ctx, tokKey, "v") },
		"LockToken": func(ctx context.Context) error {
			u, ok, err := s.LockToken(ctx, tokKey, time.Second)
			require.False(t, ok)
			require.Nil(t, u)
			return err
		},
		"Claim": func(ctx context.Context) error {
			st, err := s.Claim(ctx, "k", "owner")
			require.Zero(t, st)
			return err
		},
		"Renew": func(ctx context.Context) error {
			ok, err := s.Renew(ctx, "k", "owner")
			require.False(t, ok)
			return err
		},
		"Done":    func(ctx context.Context) error { return s.Done(ctx, "k", time.Minute) },
		"Release": func(ctx context.Context) error { return s.Release(ctx, "k", "owner") },
	}
	for name, call := range calls {
		start := time.Now()
		err := call(ctx)
		require.Error(t, err, name)
		require.True(t, strings.HasPrefix(err.Error(), "redisstore: "), "%s: %v", name, err)
		require.Less(t, time.Since(start), 3*time.Second, "%s took %v", name, time.Since(start))

		done, cancel := context.WithCancel(ctx)
		cancel()
		start = time.Now()
		err = call(done)
		require.ErrorIs(t, err, context.Canceled, name)
		require.Less(t, time.Since(start), 100*time.Millisecond, name)
	}
}

// TestSilentRedisHonoursDeadline: a Redis that accepts connections but never
// answers (SIGSTOP) costs at most the Store's timeout.
func TestSilentRedisHonoursDeadline(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	s := redisstore.New(r.Client(), redisstore.WithTimeout(300*time.Millisecond))
	ctx := context.Background()
	// Set up with the default timeout: 300 ms may not be enough on a loaded machine.
	require.NoError(t, redisstore.New(r.Client()).SetToken(ctx, tokKey, wxinvoice.Token{Value: "v"}))

	r.Pause()
	t.Cleanup(r.Resume)
	start := time.Now()
	_, _, err := s.GetToken(ctx, tokKey)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded) || isTimeout(err), "%v", err)
	require.Less(t, time.Since(start), 2*time.Second)

	// The caller's shorter deadline wins too.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.Claim(cctx, "k", "owner")
	require.Error(t, err)
	require.Less(t, time.Since(start), time.Second)

	r.Resume()
	require.Eventually(t, func() bool {
		got, ok, err := s.GetToken(ctx, tokKey)
		return err == nil && ok && got.Value == "v"
	}, 10*time.Second, 50*time.Millisecond)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestSwapToken(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	s := redisstore.New(r.Client())
	ctx := context.Background()
	ok, err := s.SwapToken(ctx, "rt", "", wxinvoice.Token{Value: "a"})
	require.NoError(t, err)
	require.True(t, ok, "a missing token counts as empty")
	ok, err = s.SwapToken(ctx, "rt", "stale", wxinvoice.Token{Value: "b"})
	require.NoError(t, err)
	require.False(t, ok, "not swapped over a newer value")
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	ok, err = s.SwapToken(ctx, "rt", "a", wxinvoice.Token{Value: "c", ExpiresAt: exp})
	require.NoError(t, err)
	require.True(t, ok)
	got, found, err := s.GetToken(ctx, "rt")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "c", got.Value)
	require.True(t, exp.Equal(got.ExpiresAt))
	pttl, err := r.Client().PTTL(ctx, s.TokenKey("rt")).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 59*time.Minute, "TTL set as SetToken would")
}
