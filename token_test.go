package wxinvoice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rejectingServer answers 40001 for any token in rejected, else ok.
func rejectingHandler(t *testing.T, rejected *sync.Map, served *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("access_token")
		if _, bad := rejected.Load(tok); bad {
			_, _ = w.Write([]byte(`{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest rid: 1"}`))
			return
		}
		served.Add(1)
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	}
}

func TestTokenColdStampedeFetchesOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	release := make(chan struct{})
	inner := ts.tokenValues
	ts.tokenValues = func(n int64, force bool) string { <-release; return inner(n, force) }
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	c := ts.client(t)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.AccessToken(bg)
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them all queue on the one fetch
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), ts.tokenCalls.Load())
}

func TestTokenRejectionRefetchesOncePerToken(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.tokenValues = func(n int64, _ bool) string { return fmt.Sprintf("tok-%d", n) }
	var rejected sync.Map
	rejected.Store("tok-1", true)
	var served atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", rejectingHandler(t, &rejected, &served))
	c := ts.client(t)
	_, err := c.AccessToken(bg) // tok-1 cached; WeChat now rejects it
	require.NoError(t, err)

	const n = 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.DecryptCode(bg, "e"); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	require.Equal(t, int64(n), served.Load())
	require.Equal(t, int64(2), ts.tokenCalls.Load(), "one initial fetch, one refetch for the rejected token")
	require.Zero(t, ts.forceCalls.Load())
}

func TestTokenSecondRejectionIsReturned(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.tokenValues = func(n int64, _ bool) string { return fmt.Sprintf("tok-%d", n) }
	var calls atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"errcode":42001,"errmsg":"access_token expired"}`))
	})
	_, err := ts.client(t).DecryptCode(bg, "e")
	require.ErrorIs(t, err, ErrAccessTokenExpired)
	require.Equal(t, int64(2), calls.Load(), "one replay, no loop")
	require.Equal(t, int64(2), ts.tokenCalls.Load())
}

func TestForceRefreshOnlyWhenSameTokenComesBack(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	// Normal mode keeps handing out the rejected token; force mode rotates it.
	ts.tokenValues = func(n int64, force bool) string {
		if force {
			return "fresh-after-force"
		}
		return "stale"
	}
	var rejected sync.Map
	rejected.Store("stale", true)
	var served atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", rejectingHandler(t, &rejected, &served))
	c := ts.client(t)
	_, err := c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Equal(t, int64(1), ts.forceCalls.Load())
	require.Equal(t, int64(3), ts.tokenCalls.Load(), "initial, normal refetch, forced")

	// A second stale rejection within 30 s may not force again (WeChat's limit).
	rejected.Store("fresh-after-force", true)
	_, err = c.DecryptCode(bg, "e")
	require.ErrorIs(t, err, ErrInvalidCredential)
	require.Equal(t, int64(1), ts.forceCalls.Load())
}

func TestTokenWaiterCancelDoesNotCancelFetch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	release := make(chan struct{})
	inner := ts.tokenValues
	ts.tokenValues = func(n int64, force bool) string { <-release; return inner(n, force) }
	c := ts.client(t)

	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { _, err := c.AccessToken(ctx); done <- err }()
	other := make(chan error, 1)
	go func() { _, err := c.AccessToken(bg); other <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(2 * time.Second):
		t.Fatal("cancelled waiter did not return")
	}
	close(release)
	require.NoError(t, <-other)
	require.Equal(t, int64(1), ts.tokenCalls.Load())
}

func TestTokenErrorsAreTyped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	c, err := New(testAppID, "wrong-secret", WithBaseURL(ts.URL+prefix))
	require.NoError(t, err)
	_, err = c.SetURL(bg)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 40013, apiErr.Code)
	require.NotContains(t, err.Error(), "wrong-secret")
}

func TestLegacyTokenEndpoint(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		require.Equal(t, "GET", r.Method)
		require.Equal(t, "client_credential", q.Get("grant_type"))
		require.Equal(t, testAppID, q.Get("appid"))
		if q.Get("secret") != testSecret {
			_, _ = w.Write([]byte(`{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`))
			return
		}
		_, _ = w.Write([]byte(fixture(t, "wechatpy_token.json")))
	})
	tok, err := ts.client(t, WithLegacyTokenEndpoint()).AccessToken(bg)
	require.NoError(t, err)
	require.NotEmpty(t, tok)
	require.Zero(t, ts.tokenCalls.Load())

	c, err := New(testAppID, "bad", WithBaseURL(ts.URL+prefix), WithLegacyTokenEndpoint())
	require.NoError(t, err)
	_, err = c.AccessToken(bg)
	require.ErrorIs(t, err, ErrInvalidCredential)
	require.NotContains(t, err.Error(), "secret=bad")
}

func TestTokenStoreSharesAcrossClients(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.tokenValues = func(n int64, _ bool) string { return fmt.Sprintf("tok-%d", n) }
	var rejected sync.Map
	var served atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", rejectingHandler(t, &rejected, &served))
	store := NewMemoryTokenStore()
	clients := make([]*Client, 4)
	for i := range clients {
		clients[i] = ts.client(t, WithTokenStore(store))
	}
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := clients[i%4].DecryptCode(bg, "e")
			require.NoError(t, err)
		}(i)
	}
	wg.Wait()
	require.Equal(t, int64(1), ts.tokenCalls.Load(), "four caches, one shared token")

	// WeChat rotates: every instance's cached tok-1 is rejected; one refetch for all.
	rejected.Store("tok-1", true)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := clients[i%4].DecryptCode(bg, "e")
			require.NoError(t, err)
		}(i)
	}
	wg.Wait()
	require.Equal(t, int64(2), ts.tokenCalls.Load())
}

// failingStore fails every call, as a Redis that is down would.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) GetToken(context.Context, string) (Token, bool, error) {
	return Token{}, false, errStoreDown
}
func (failingStore) SetToken(context.Context, string, Token) error { return errStoreDown }
func (failingStore) SwapToken(context.Context, string, string, Token) (bool, error) {
	return false, errStoreDown
}
func (failingStore) InvalidateToken(context.Context, string, string) error {
	return errStoreDown
}
func (failingStore) LockToken(context.Context, string, time.Duration) (func(), bool, error) {
	return nil, false, errStoreDown
}

func TestTokenStoreDownKeepsWorking(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	c := ts.client(t, WithTokenStore(failingStore{}))
	for i := 0; i < 3; i++ {
		_, err := c.DecryptCode(bg, "e")
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), ts.tokenCalls.Load(), "the process cache still serves")
}

func TestStaticTokenSourceNeverRefetches(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var calls atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		require.Equal(t, "authorizer-token", r.URL.Query().Get("access_token"))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	c, err := New("wxmerchant", "", WithBaseURL(ts.URL+prefix), WithTokenSource(StaticTokenSource("authorizer-token")))
	require.NoError(t, err)
	_, err = c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Zero(t, ts.tokenCalls.Load())
}

func TestEarlyRefreshKeepsServing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.tokenValues = func(n int64, _ bool) string { return fmt.Sprintf("tok-%d", n) }
	c := ts.client(t)
	now := time.Now()
	c.tokens.now = func() time.Time { return now }
	tok, err := c.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	// 4 minutes before expiry: the old token is served while one background refresh runs.
	now = now.Add(7200*time.Second - 4*time.Minute)
	tok, err = c.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	require.Eventually(t, func() bool { return ts.tokenCalls.Load() == 2 }, 2*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { v, _ := c.AccessToken(bg); return v == "tok-2" }, 2*time.Second, 5*time.Millisecond)
}

// A process that took the store's lock and gave up (its fetch failed) must
// not make the others wait out the lock: they take it over.
func TestTokenStoreLockHolderGivesUp(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	store := NewMemoryTokenStore()
	unlock, ok, err := store.LockToken(bg, "access_token:"+testAppID, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	time.AfterFunc(100*time.Millisecond, unlock) // the other process failed and released
	c := ts.client(t, WithTokenStore(store))
	start := time.Now()
	tok, err := c.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, testToken, tok)
	require.Less(t, time.Since(start), 2*time.Second, "took the lock over instead of waiting for it to expire")
	stored, ok, _ := store.GetToken(bg, "access_token:"+testAppID)
	require.True(t, ok)
	require.Equal(t, testToken, stored.Value)
}

// WeChat limits force_refresh per appid, not per process: with a shared
// TokenStore, instances count each other's force refreshes.
func TestForceRefreshLimitSharedThroughStore(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var mu sync.Mutex
	current, forced := "t0", 0
	ts.tokenValues = func(_ int64, force bool) string {
		mu.Lock()
		defer mu.Unlock()
		if force { // like stable_token: a forced token is what normal mode hands out afterwards
			forced++
			current = fmt.Sprintf("f%d", forced)
		}
		return current
	}
	var rejected sync.Map
	var served atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", rejectingHandler(t, &rejected, &served))
	store := NewMemoryTokenStore()
	a, b := ts.client(t, WithTokenStore(store)), ts.client(t, WithTokenStore(store))

	rejected.Store("t0", true)
	_, err := a.DecryptCode(bg, "e") // t0 rejected, normal fetch returns t0 again: A forces f1
	require.NoError(t, err)
	require.Equal(t, int64(1), ts.forceCalls.Load())

	rejected.Store("f1", true)
	_, err = b.DecryptCode(bg, "e") // f1 rejected at once: B may not force again within 30 s of A
	require.ErrorIs(t, err, ErrInvalidCredential)
	require.Equal(t, int64(1), ts.forceCalls.Load(), "the 30 s spacing holds across instances")
}

func TestMemoryStoreSwapToken(t *testing.T) {
	t.Parallel()
	s := NewMemoryTokenStore()
	store := s
	ok, err := s.SwapToken(bg, "k", "", Token{Value: "a"})
	require.NoError(t, err)
	require.True(t, ok, "a missing token counts as empty")
	ok, _ = s.SwapToken(bg, "k", "stale", Token{Value: "b"})
	require.False(t, ok)
	ok, _ = s.SwapToken(bg, "k", "a", Token{Value: "c"})
	require.True(t, ok)
	got, _, _ := store.GetToken(bg, "k")
	require.Equal(t, "c", got.Value)
}

// hangingStore is a TokenStore whose methods named in hang block until the
// test ends, ignoring their ctx (worse than a Redis that stopped answering);
// the others behave as a memory store.
type hangingStore struct {
	TokenStore
	hang    map[string]bool
	release chan struct{}
}

func newHangingStore(t *testing.T, methods ...string) *hangingStore {
	s := &hangingStore{TokenStore: NewMemoryTokenStore(), hang: map[string]bool{}, release: make(chan struct{})}
	for _, m := range methods {
		s.hang[m] = true
	}
	t.Cleanup(func() { close(s.release) })
	return s
}

func (s *hangingStore) block(method string) {
	if s.hang[method] {
		<-s.release
	}
}

func (s *hangingStore) GetToken(ctx context.Context, key string) (Token, bool, error) {
	s.block("GetToken")
	return s.TokenStore.GetToken(ctx, key)
}

func (s *hangingStore) SetToken(ctx context.Context, key string, tok Token) error {
	s.block("SetToken")
	return s.TokenStore.SetToken(ctx, key, tok)
}

func (s *hangingStore) LockToken(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	s.block("LockToken")
	return s.TokenStore.LockToken(ctx, key, ttl)
}

func (s *hangingStore) InvalidateToken(ctx context.Context, key, rejected string) error {
	s.block("InvalidateToken")
	return s.TokenStore.InvalidateToken(ctx, key, rejected)
}

// A store that hangs never stops calls: each store call is given up after
// the cache's own timeout and the client fetches its token itself, once for
// all the concurrent callers.
func TestTokenStoreThatHangsFallsBack(t *testing.T) {
	t.Parallel()
	for _, methods := range [][]string{{"GetToken", "SetToken", "LockToken", "InvalidateToken"}, {"LockToken"}, {"SetToken"}} {
		t.Run(strings.Join(methods, "+"), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t)
			ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
			})
			var log syncBuffer
			c := ts.client(t, WithTokenStore(newHangingStore(t, methods...)),
				WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
			// Generous per-call deadlines: well past the store timeout (5 s),
			// well short of the cache's fetch timeout (30 s).
			ctx, cancel := context.WithTimeout(bg, 20*time.Second)
			defer cancel()
			const n = 100
			var wg sync.WaitGroup
			var failed atomic.Int64
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.DecryptCode(ctx, "e"); err != nil {
						failed.Add(1)
						t.Log(err)
					}
				}()
			}
			start := time.Now()
			wg.Wait()
			t.Logf("%d calls with a store hanging in %v: all answered in %v", n, methods, time.Since(start).Round(time.Millisecond))
			require.Zero(t, failed.Load(), "calls failed because the store hangs")
			require.Equal(t, int64(1), ts.tokenCalls.Load(), "one fetch for all the callers")
			require.Contains(t, log.String(), "level=WARN")
			require.Contains(t, log.String(), "TokenStore.")
			require.NotContains(t, log.String(), testToken)
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use (a log destination).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// panicSource panics on every call, as a buggy TokenSource would.
type panicSource struct{ calls atomic.Int64 }

func (s *panicSource) Token(context.Context) (Token, error) {
	var tokens []Token
	return tokens[s.calls.Add(1)], nil // index out of range: a runtime panic
}

// panickyStore panics in the method named in its field, else behaves as a
// memory store.
type panickyStore struct {
	TokenStore
	method string
}

func (s *panickyStore) maybePanic(m string) {
	if s.method == m {
		panic("store bug in " + m)
	}
}

func (s *panickyStore) GetToken(ctx context.Context, key string) (Token, bool, error) {
	s.maybePanic("GetToken")
	return s.TokenStore.GetToken(ctx, key)
}

func (s *panickyStore) SetToken(ctx context.Context, key string, tok Token) error {
	s.maybePanic("SetToken")
	return s.TokenStore.SetToken(ctx, key, tok)
}

func (s *panickyStore) LockToken(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	s.maybePanic("LockToken")
	unlock, ok, err := s.TokenStore.LockToken(ctx, key, ttl)
	if ok && s.method == "unlock" {
		return func() { unlock(); panic("store bug in unlock") }, ok, err
	}
	return unlock, ok, err
}

func (s *panickyStore) InvalidateToken(ctx context.Context, key, rejected string) error {
	s.maybePanic("InvalidateToken")
	return s.TokenStore.InvalidateToken(ctx, key, rejected)
}

const panicCaseEnv = "WXINVOICE_TEST_PANIC_CASE"

// A panic in a user's TokenSource or TokenStore runs inside singleflight,
// where neither the caller nor net/http could recover it: it must not kill
// the process. Each case runs in a child process (this test binary again),
// so that a crash fails the test instead of the whole run.
func TestTokenPanicsDoNotKillTheProcess(t *testing.T) {
	if c := os.Getenv(panicCaseEnv); c != "" {
		panicCase(t, c)
		fmt.Println("child survived:", c)
		return
	}
	t.Parallel()
	for _, c := range []string{"source", "GetToken", "LockToken", "SetToken", "unlock", "InvalidateToken"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestTokenPanicsDoNotKillTheProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), panicCaseEnv+"="+c)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the child process died:\n%s", out)
			require.Contains(t, string(out), "child survived: "+c)
		})
	}
}

// panicCase runs in the child process.
func panicCase(t *testing.T, c string) {
	ts := newTestServer(t)
	ts.tokenValues = func(n int64, _ bool) string { return fmt.Sprintf("tok-%d", n) }
	var rejected sync.Map
	var served atomic.Int64
	ts.mux.HandleFunc("/card/code/decrypt", rejectingHandler(t, &rejected, &served))
	var log syncBuffer
	logger := WithLogger(slog.New(slog.NewTextHandler(&log, nil)))
	if c == "source" {
		src := &panicSource{}
		cl := ts.client(t, WithTokenSource(src), logger)
		for range 3 {
			_, err := cl.DecryptCode(bg, "e")
			require.Error(t, err)
			require.Contains(t, err.Error(), "TokenSource panicked")
		}
		require.Equal(t, int64(3), src.calls.Load(), "each call asks again")
		require.Contains(t, log.String(), "level=ERROR")
		require.Contains(t, log.String(), "stack=")
		return
	}
	cl := ts.client(t, WithTokenStore(&panickyStore{TokenStore: NewMemoryTokenStore(), method: c}), logger)
	_, err := cl.DecryptCode(bg, "e")
	require.NoError(t, err, "a panicking store falls back to the client's own fetch")
	rejected.Store("tok-1", true) // InvalidateToken runs on the rejection
	_, err = cl.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Equal(t, int64(2), served.Load())
	require.Contains(t, log.String(), "TokenStore")
	require.Contains(t, log.String(), "panicked")
}

// tokenServer answers stable_token with the given expires_in, counting.
func tokenServer(t *testing.T, expiresIn string) (*Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		_, _ = fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":%s}`, n, expiresIn)
	}))
	t.Cleanup(srv.Close)
	c, err := New(testAppID, testSecret, WithBaseURL(srv.URL))
	require.NoError(t, err)
	return c, &calls
}

// An expires_in that overflows a time.Duration (to 0.29 s) or is shorter
// than the refresh margins must not make every call fetch a token.
func TestOddExpiresInDoesNotFetchPerCall(t *testing.T) {
	t.Parallel()
	for _, exp := range []string{"18446744074", "20", "1", "-5", "0"} {
		t.Run(exp, func(t *testing.T) {
			t.Parallel()
			c, calls := tokenServer(t, exp)
			for range 50 {
				_, err := c.AccessToken(bg)
				require.NoError(t, err)
			}
			t.Logf("expires_in %s: 50 sequential calls, %d token fetches", exp, calls.Load())
			require.LessOrEqual(t, calls.Load(), int64(2), "50 sequential calls")
		})
	}
}

// clockedSource returns tokens expiring at the instant exp gives, counting
// calls and recording a ctx value of each.
type clockedSource struct {
	exp   func() time.Time
	calls atomic.Int64
	mu    sync.Mutex
	seen  []any
}

type ctxKey struct{}

func (s *clockedSource) Token(ctx context.Context) (Token, error) {
	n := s.calls.Add(1)
	s.mu.Lock()
	s.seen = append(s.seen, ctx.Value(ctxKey{}))
	s.mu.Unlock()
	return Token{Value: fmt.Sprintf("tok-%d", n), ExpiresAt: s.exp()}, nil
}

// A lifetime of a hundred years is clamped: the cache asks again within a
// day. A 20 s token is served with margins scaled to it.
func TestTokenLifetimeClamped(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	src := &clockedSource{exp: func() time.Time { return clock().AddDate(100, 0, 0) }}
	c, err := New(testAppID, "", WithTokenSource(src))
	require.NoError(t, err)
	c.tokens.now = clock
	tok, err := c.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	advance(23 * time.Hour)
	tok, _ = c.AccessToken(bg)
	require.Equal(t, "tok-1", tok)
	advance(2 * time.Hour)
	tok, err = c.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok, "a token claiming a century is kept at most 24 h")

	short := &clockedSource{exp: func() time.Time { return clock().Add(20 * time.Second) }}
	c, err = New(testAppID, "", WithTokenSource(short))
	require.NoError(t, err)
	c.tokens.now = clock
	tok, _ = c.AccessToken(bg)
	require.Equal(t, "tok-1", tok)
	advance(14 * time.Second)
	tok, _ = c.AccessToken(bg)
	require.Equal(t, "tok-1", tok, "served for most of its 20 s")
	require.Equal(t, int64(1), short.calls.Load())
	advance(2 * time.Second) // in the last quarter: refreshed in the background
	tok, _ = c.AccessToken(bg)
	require.Equal(t, "tok-1", tok)
	require.Eventually(t, func() bool { return short.calls.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
}

// The early refresh keeps the triggering call's ctx values (trace context).
func TestEarlyRefreshKeepsCallerContextValues(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	src := &clockedSource{exp: func() time.Time { return clock().Add(2 * time.Hour) }}
	c, err := New(testAppID, "", WithTokenSource(src))
	require.NoError(t, err)
	c.tokens.now = clock
	_, err = c.AccessToken(context.WithValue(bg, ctxKey{}, "first"))
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(2*time.Hour - 4*time.Minute)
	mu.Unlock()
	ctx, cancel := context.WithCancel(context.WithValue(bg, ctxKey{}, "trace-42"))
	_, err = c.AccessToken(ctx)
	require.NoError(t, err)
	cancel() // the call is over; the refresh it triggered goes on
	require.Eventually(t, func() bool { return src.calls.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
	src.mu.Lock()
	defer src.mu.Unlock()
	require.Equal(t, []any{"first", "trace-42"}, src.seen)
}

// The memory store's lock is held until unlocked, however long the fetch.
func TestMemoryStoreLockHeldUntilUnlock(t *testing.T) {
	t.Parallel()
	s := NewMemoryTokenStore()
	unlock, ok, err := s.LockToken(bg, "k", time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(5 * time.Millisecond)
	_, ok, _ = s.LockToken(bg, "k", time.Millisecond)
	require.False(t, ok, "held past its ttl: the holder is alive")
	unlock()
	unlock()
	u2, ok, _ := s.LockToken(bg, "k", time.Millisecond)
	require.True(t, ok)
	unlock() // a late unlock of the first holder does not release the second's
	_, ok, _ = s.LockToken(bg, "k", time.Millisecond)
	require.False(t, ok)
	u2()
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]time.Duration{
		7200: 7200 * time.Second, 20: 20 * time.Second, 1: time.Second,
		0: 7200 * time.Second, -5: 7200 * time.Second,
		86400: 24 * time.Hour, 86401: 7200 * time.Second,
		18446744074: 7200 * time.Second, math.MaxInt64: 7200 * time.Second,
	} {
		require.Equal(t, want, tokenLifetime(in), "expires_in %d", in)
	}
}
