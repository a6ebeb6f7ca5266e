package wxinvoice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
