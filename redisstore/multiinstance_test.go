//go:build unix

package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

const decryptPath = "/card/code/decrypt"

// instance is one process of a service: its own Client (own in-process
// token cache), its own Redis connection pool, its own logger.
type instance struct {
	client *wxinvoice.Client
	store  *redisstore.Store
	rdb    redis.UniversalClient
	log    *logBuffer
}

func newInstance(t *testing.T, srv *wxinvoicetest.Server, r *redisServer, opts ...redisstore.Option) *instance {
	t.Helper()
	return newInstanceOn(t, srv, r.Client(), opts...)
}

// newInstanceOn is newInstance on a Redis client of the caller's.
func newInstanceOn(t *testing.T, srv *wxinvoicetest.Server, rdb redis.UniversalClient, opts ...redisstore.Option) *instance {
	t.Helper()
	in := &instance{store: redisstore.New(rdb, opts...), rdb: rdb, log: &logBuffer{}}
	// An HTTP transport of its own, whose idle connections are closed before
	// srv.Close (registered earlier, so run later), which otherwise waits 5 s
	// for connections that were dialled but never used.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	c, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL),
		wxinvoice.WithHTTPClient(&http.Client{Transport: tr}),
		wxinvoice.WithTokenStore(in.store), wxinvoice.WithLogger(in.log.logger()))
	require.NoError(t, err)
	in.client = c
	return in
}

func (in *instance) token(t *testing.T) string {
	t.Helper()
	tok, err := in.client.AccessToken(context.Background())
	require.NoError(t, err)
	return tok
}

// storedToken reads the shared token of srv's appid from the store.
func storedToken(t *testing.T, s *redisstore.Store, appID string) (string, bool) {
	t.Helper()
	tok, ok, err := s.GetToken(context.Background(), "access_token:"+appID)
	require.NoError(t, err)
	return tok.Value, ok
}

// burst makes n concurrent calls spread over the instances, alternating
// DecryptCode and SetURL, and returns the errors. If mid is not nil it runs
// once about half of the calls have finished.
func burst(t *testing.T, srv *wxinvoicetest.Server, ins []*instance, n int, mid func()) []error {
	t.Helper()
	enc := srv.EncryptCode("pCard", "123456789012")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var finished atomic.Int64
	var midOnce sync.Once
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := ins[i%len(ins)].client
			var err error
			if i%4 == 3 {
				_, err = c.SetURL(ctx)
			} else {
				var code string
				code, err = c.DecryptCode(ctx, enc)
				if err == nil && code != "123456789012" {
					err = fmt.Errorf("decrypt: got %q", code)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			if finished.Add(1) == int64(n/2) && mid != nil {
				midOnce.Do(mid)
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	t.Logf("burst of %d calls: %v", n, time.Since(t0))
	return errs
}

// TestInstancesShareOneToken: three instances, each with its own in-process
// cache, share one Redis. Hundreds of concurrent calls per phase, with real
// rotations (RevokeTokens, before and during a burst) and injected 40001
// rejections of a token WeChat still hands out: the token endpoint is asked
// once per rotation, plus the one force_refresh needed when WeChat rejects a
// token its normal fetch still returns.
func TestInstancesShareOneToken(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	// The Store's per-operation timeout is generous here: this test is about
	// coordination on a healthy Redis, and a Redis operation that a loaded
	// machine (-race, parallel packages) delays past the default 2 s makes
	// an instance fall back to its own fetch, by design (see TestRedisOutage
	// and TestSilentRedisHonoursDeadline for that path). The Client's own
	// bound on a store call (5 s) still applies.
	slow := redisstore.WithTimeout(time.Minute)
	ins := []*instance{newInstance(t, srv, r, slow), newInstance(t, srv, r, slow), newInstance(t, srv, r, slow)}
	const calls = 300

	tokens := map[string]bool{}
	// requireShared: after a phase, each instance's next call leaves every
	// instance and Redis on one token. (An instance whose calls all finished
	// before a rotation, or that met none of the injected rejections, still
	// holds the old token until its next call meets the 40001 and adopts the
	// shared one from Redis, without a fetch.)
	requireShared := func(phase string) string {
		t.Helper()
		for _, in := range ins {
			_, err := in.client.SetURL(context.Background())
			require.NoError(t, err, phase)
		}
		tok := ins[0].token(t)
		for _, in := range ins[1:] {
			require.Equal(t, tok, in.token(t), "%s: instances hold different tokens", phase)
		}
		stored, ok := storedToken(t, ins[0].store, srv.AppID)
		require.True(t, ok, "%s: no token in Redis", phase)
		require.Equal(t, tok, stored, "%s: Redis holds another token", phase)
		tokens[tok] = true
		return tok
	}

	// Phase 1: cold start, every instance at once.
	require.Empty(t, burst(t, srv, ins, calls, nil))
	tok1 := requireShared("cold start")
	require.Equal(t, wxinvoicetest.TokenStats{Stable: 1}, srv.TokenStats(), "cold start: one fetch for three instances")

	// Phase 2: WeChat rotated the token (another party force-refreshed):
	// every instance gets 40001; one of them fetches.
	srv.RevokeTokens()
	require.Empty(t, burst(t, srv, ins, calls, nil))
	tok2 := requireShared("after a revocation")
	require.NotEqual(t, tok1, tok2)
	require.Equal(t, wxinvoicetest.TokenStats{Stable: 2}, srv.TokenStats(), "one fetch per rotation")

	// Phase 3: WeChat answers 40001 to ten concurrent calls (spread over the
	// instances) while stable_token still hands out the same token. The
	// faults are delayed so that all ten carry the same token: one instance
	// refetches, gets the rejected token back, force-refreshes once; the
	// others read the new token from Redis.
	srv.FailNext(decryptPath, 10, wxinvoicetest.Fault{ErrCode: 40001, Delay: 300 * time.Millisecond})
	require.Empty(t, burst(t, srv, ins, calls, nil))
	tok3 := requireShared("after injected 40001s")
	require.NotEqual(t, tok2, tok3)
	require.Equal(t, wxinvoicetest.TokenStats{Stable: 4, ForceRefresh: 1}, srv.TokenStats(),
		"ten rejections in three instances: one normal fetch + one force_refresh")

	// Phase 4: rotation in the middle of a burst, with calls in flight.
	require.Empty(t, burst(t, srv, ins, calls, srv.RevokeTokens))
	tok4 := requireShared("after a revocation mid-burst")
	require.NotEqual(t, tok3, tok4)
	st := srv.TokenStats()
	require.Equal(t, wxinvoicetest.TokenStats{Stable: 5, ForceRefresh: 1}, st)

	require.Len(t, tokens, 4, "four real rotations")
	normal := st.Stable - st.ForceRefresh
	t.Logf("%d calls by %d instances; %d real rotations; token requests: %d normal + %d force_refresh (TokenFetches=%d)",
		4*calls, len(ins), len(tokens), normal, st.ForceRefresh, srv.TokenFetches())
	for i, in := range ins {
		require.NotContains(t, in.log.String(), "level=WARN", "instance %d logged a warning", i)
	}
}

const deadHolderEnv = "WXINVOICE_TEST_DEAD_HOLDER" // redis addr|appid|base URL

// TestDeadLockHolder: an instance takes the token lock and dies (SIGKILL)
// in the middle of its fetch. A fresh instance has a token within 15 s (the
// lock outlives its dead holder by at most 10 s) and fetches it once.
func TestDeadLockHolder(t *testing.T) {
	if v := os.Getenv(deadHolderEnv); v != "" {
		deadHolderChild(t, v)
		return
	}
	t.Parallel()
	r := startRedis(t)
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)

	// The dying instance's WeChat never answers its token request.
	asked, done := make(chan struct{}, 1), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(done) }) // runs first

	child := exec.Command(os.Args[0], "-test.run=^TestDeadLockHolder$", "-test.count=1")
	child.Env = append(os.Environ(), deadHolderEnv+"="+r.Addr+"|"+srv.AppID+"|"+hang.URL)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	require.NoError(t, child.Start())
	exited := make(chan struct{})
	go func() { _ = child.Wait(); close(exited) }()
	t.Cleanup(func() { _ = child.Process.Kill(); <-exited })
	select {
	case <-asked:
	case <-exited:
		t.Fatalf("the holder exited before fetching: %s", out.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the holder never asked for a token")
	}
	s := redisstore.New(r.Client())
	n, err := r.Client().Exists(context.Background(), s.LockKey("access_token:"+srv.AppID)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the holder holds the lock while it fetches")
	require.NoError(t, child.Process.Kill())
	<-exited
	killed := time.Now()

	fresh := newInstance(t, srv, r)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tok, err := fresh.client.AccessToken(ctx)
	require.NoError(t, err, "a dead holder's lock stalled a fresh instance")
	t.Logf("a fresh instance's token %v after the holder died", time.Since(killed).Round(time.Millisecond))
	require.NotEmpty(t, tok)
	require.Equal(t, 1, srv.TokenFetches(), "one fetch")
	stored, ok := storedToken(t, fresh.store, srv.AppID)
	require.True(t, ok)
	require.Equal(t, tok, stored)
}

// deadHolderChild is the instance that dies: it fetches under the lock from
// a WeChat that never answers, until the parent kills it.
func deadHolderChild(t *testing.T, v string) {
	parts := strings.SplitN(v, "|", 3)
	require.Len(t, parts, 3)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{parts[0]}, ContextTimeoutEnabled: true})
	c, err := wxinvoice.New(parts[1], "secret", wxinvoice.WithBaseURL(parts[2]),
		wxinvoice.WithTokenStore(redisstore.New(rdb)), wxinvoice.WithRetryPolicy(wxinvoice.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	_, _ = c.AccessToken(context.Background())
	t.Fatal("the fetch returned before the parent killed this process")
}

// TestInstancesDedupePushes: two EventHandlers (two instances) sharing one
// Redis receive the same push three times, as WeChat retries: the callback
// runs once; a failing callback releases the key so that the retry, at
// whichever instance, is processed.
func TestInstancesDedupePushes(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	const pushToken = "push-token"

	var mu sync.Mutex
	seen := map[string]int{}
	failFirst := map[string]bool{}
	var handlers []*httptest.Server
	for range 2 {
		h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
			Token:   pushToken,
			Deduper: redisstore.New(r.Client()),
			OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
				mu.Lock()
				defer mu.Unlock()
				seen[ev.Code]++
				if failFirst[ev.Code] {
					failFirst[ev.Code] = false
					return fmt.Errorf("database down")
				}
				return nil
			},
		})
		require.NoError(t, err)
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		handlers = append(handlers, hs)
	}
	push := func(to int, code string) (int, string) {
		xml := wxinvoicetest.InvoiceStatusEventXML(&wxinvoice.InvoiceStatusEvent{
			ToUserName: "gh_0123456789ab", FromUserName: "oUser", CreateTime: time.Unix(1714500000, 0),
			Status: wxinvoice.ReimburseLock, CardID: "pCard", Code: code,
		})
		req, err := wxinvoicetest.NewPushRequest(context.Background(), handlers[to].URL+"/wechat",
			wxinvoicetest.PushConfig{Token: pushToken}, xml)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The same push three times, alternating instances: one callback.
	for i := range 3 {
		status, body := push(i%2, "000000000001")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "success", body)
	}
	require.Equal(t, 1, seen["000000000001"])

	// Twenty pushes, each delivered three times concurrently to both
	// instances: one callback each. A delivery that meets another one still
	// running in the other instance is answered 503 (WeChat asks again);
	// once processed, every delivery is answered "success".
	var wg sync.WaitGroup
	for p := range 20 {
		code := fmt.Sprintf("1%011d", p)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _ := push((p+i)%2, code)
				require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, status)
			}()
		}
	}
	wg.Wait()
	for p := range 20 {
		code := fmt.Sprintf("1%011d", p)
		for i := range 2 {
			status, body := push(i, code)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "success", body)
		}
		require.Equal(t, 1, seen[code], "push %d", p)
	}

	// A failing callback: 500, the key is released, the retry (at the other
	// instance) runs the callback again and succeeds, the third is a duplicate.
	const code = "000000000002"
	mu.Lock()
	failFirst[code] = true
	mu.Unlock()
	status, _ := push(0, code)
	require.Equal(t, http.StatusInternalServerError, status)
	status, body := push(1, code)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "success", body)
	status, _ = push(0, code)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 2, seen[code], "one failed + one successful callback")
}

// TestRedisOutage: Redis dies mid-run. Clients keep working from their own
// caches and fetch for themselves (with a warning through their logger);
// the EventHandler answers 503 so that WeChat retries. Redis comes back
// (same port, empty): sharing resumes.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	a, b := newInstance(t, srv, r), newInstance(t, srv, r)

	var callbacks atomic.Int32
	hlog := &logBuffer{}
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
		Token: "push-token", Deduper: redisstore.New(r.Client()), Logger: hlog.logger(),
		OnInvoiceStatus: func(context.Context, *wxinvoice.InvoiceStatusEvent) error { callbacks.Add(1); return nil },
	})
	require.NoError(t, err)
	xml := wxinvoicetest.InvoiceStatusEventXML(&wxinvoice.InvoiceStatusEvent{ToUserName: "gh_0123456789ab",
		FromUserName: "oUser", Status: wxinvoice.ReimburseClosure, CardID: "pCard", Code: "000000000003"})
	push := func() int {
		req, err := wxinvoicetest.NewPushRequest(context.Background(), "http://instance/wechat",
			wxinvoicetest.PushConfig{Token: "push-token"}, xml)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	// Before: shared.
	require.Empty(t, burst(t, srv, []*instance{a, b}, 100, nil))
	tok := a.token(t)
	require.Equal(t, tok, b.token(t))
	require.Equal(t, 1, srv.TokenFetches())

	r.Stop()

	// In-process caches carry on without Redis.
	require.Empty(t, burst(t, srv, []*instance{a, b}, 200, nil))
	require.Equal(t, 1, srv.TokenFetches(), "cached tokens need no Redis")

	// A new instance fetches for itself (WeChat hands it the current token).
	c := newInstance(t, srv, r)
	start := time.Now()
	require.Equal(t, tok, c.token(t))
	t.Logf("a new instance's first token with Redis down: %v", time.Since(start))
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 2, srv.TokenFetches())
	require.Contains(t, c.log.String(), "level=WARN")
	require.Contains(t, c.log.String(), "token store unavailable; fetching the token in this process")

	// A rotation during the outage: every instance refetches on its own.
	srv.RevokeTokens()
	require.Empty(t, burst(t, srv, []*instance{a, b, c}, 300, nil))
	require.Equal(t, 5, srv.TokenFetches(), "without Redis each of the three instances fetches")
	tokOutage := a.token(t)
	require.NotEqual(t, tok, tokOutage)
	for _, in := range []*instance{a, b, c} {
		require.Equal(t, tokOutage, in.token(t), "stable_token hands every instance the same token")
		require.Contains(t, in.log.String(), "token store")
		require.NotContains(t, in.log.String(), tokOutage, "a token reached the log")
	}

	// Pushes: 503 (WeChat retries), no callback, promptly.
	start = time.Now()
	require.Equal(t, http.StatusServiceUnavailable, push())
	require.Less(t, time.Since(start), 5*time.Second)
	require.Zero(t, callbacks.Load())
	require.Contains(t, hlog.String(), "deduper failed; asking WeChat to retry")

	r.Restart()
	for _, in := range []*instance{a, b, c} {
		waitHealthy(t, in.rdb)
	}

	// WeChat's retry is processed now, its next retry is a duplicate.
	require.Eventually(t, func() bool { return push() == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusOK, push())
	require.EqualValues(t, 1, callbacks.Load())

	// Sharing resumes: Redis came back empty; the next instance to fetch
	// stores its token, and a fresh instance reads it without fetching.
	_, ok := storedToken(t, a.store, srv.AppID)
	require.False(t, ok, "the restarted Redis is empty")
	d := newInstance(t, srv, r)
	waitHealthy(t, d.rdb)
	require.Equal(t, tokOutage, d.token(t))
	require.Equal(t, 6, srv.TokenFetches(), "Redis empty: d fetches and stores")
	e := newInstance(t, srv, r)
	require.Equal(t, tokOutage, e.token(t))
	require.Equal(t, 6, srv.TokenFetches(), "e reads d's token from Redis")
	stored, ok := storedToken(t, e.store, srv.AppID)
	require.True(t, ok)
	require.Equal(t, tokOutage, stored)
	require.NotContains(t, e.log.String(), "level=WARN")

	// And the instances that lived through the outage share again: a
	// rotation costs one fetch for all five.
	srv.RevokeTokens()
	require.Empty(t, burst(t, srv, []*instance{a, b, c, d, e}, 300, nil))
	require.Equal(t, 7, srv.TokenFetches(), "one fetch for five instances after the restart")
	final := a.token(t)
	for _, in := range []*instance{b, c, d, e} {
		require.Equal(t, final, in.token(t))
	}
	require.False(t, strings.Contains(hlog.String(), "push-token"))
}

// TestInstancesRetryDuringSlowCallback: WeChat gives up on instance A after
// 5 s and retries at instance B while A's callback is still running. B must
// not answer "success" then: A's callback may still fail. B answers 503;
// A's callback fails and releases the key; WeChat's next retry is processed.
func TestInstancesRetryDuringSlowCallback(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	const pushToken = "push-token"
	entered := make(chan struct{})
	release := make(chan error)
	var calls atomic.Int32
	newHandler := func(slow bool) *httptest.Server {
		h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
			Token:   pushToken,
			Deduper: redisstore.New(r.Client()),
			OnInvoiceStatus: func(context.Context, *wxinvoice.InvoiceStatusEvent) error {
				calls.Add(1)
				if slow {
					close(entered)
					return <-release
				}
				return nil
			},
		})
		require.NoError(t, err)
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		return hs
	}
	a, b := newHandler(true), newHandler(false)
	push := func(hs *httptest.Server) int {
		xml := wxinvoicetest.InvoiceStatusEventXML(&wxinvoice.InvoiceStatusEvent{
			ToUserName: "gh_0123456789ab", FromUserName: "oUser", CreateTime: time.Unix(1714500000, 0),
			Status: wxinvoice.ReimburseCancel, CardID: "pCard", Code: "000000000009",
		})
		req, err := wxinvoicetest.NewPushRequest(context.Background(), hs.URL, wxinvoicetest.PushConfig{Token: pushToken}, xml)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	first := make(chan int, 1)
	go func() { first <- push(a) }()
	<-entered
	require.Equal(t, http.StatusServiceUnavailable, push(b), "still running at A: WeChat must ask again")
	release <- fmt.Errorf("database down")
	require.Equal(t, http.StatusInternalServerError, <-first)
	require.Equal(t, http.StatusOK, push(b), "the retry after A's failure is processed")
	require.Equal(t, int32(2), calls.Load())
	require.Equal(t, http.StatusOK, push(a), "processed: later retries are acknowledged")
	require.Equal(t, int32(2), calls.Load())
}
