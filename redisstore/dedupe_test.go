//go:build unix

package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
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

const dedupePushToken = "push-token"

// statusPush returns the update_invoice_status push for code, as WeChat
// delivers it (retry n: same XML, another nonce).
func statusPush(t testing.TB, code string, n int) *http.Request {
	t.Helper()
	xml := wxinvoicetest.InvoiceStatusEventXML(&wxinvoice.InvoiceStatusEvent{
		ToUserName: "gh_0123456789ab", FromUserName: "oUser", CreateTime: time.Unix(1714500000, 0),
		Status: wxinvoice.ReimburseLock, CardID: "pCard", Code: code,
	})
	req, err := wxinvoicetest.NewPushRequest(context.Background(), "http://instance/wechat",
		wxinvoicetest.PushConfig{Token: dedupePushToken, Nonce: fmt.Sprintf("%010d", n)}, xml)
	require.NoError(t, err)
	return req
}

// deliver sends req to h and returns the answer.
func deliver(h http.Handler, req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// dedupeRecord returns the Redis key and value of the only dedupe record
// whose name contains code ("" when there is none). KEYS is the test's own.
func dedupeRecord(t testing.TB, rdb redis.UniversalClient, s *redisstore.Store, code string) (key, value string) {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, s.DedupeKey("*"+code+"*")).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, len(keys), 1, "%v", keys)
	if len(keys) == 0 {
		return "", ""
	}
	v, err := rdb.Get(ctx, keys[0]).Result()
	if errors.Is(err, redis.Nil) {
		return keys[0], ""
	}
	require.NoError(t, err)
	return keys[0], v
}

var ownerID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestDedupeLease: the Store's claims are leases of WithDedupeLease with an
// owner id; only the owner renews or releases one; a lease nobody renews
// ends (a dead owner's); Done records the push for its ttl.
func TestDedupeLease(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	const lease = 300 * time.Millisecond
	s1 := redisstore.New(rdb, redisstore.WithDedupeLease(lease))
	s2 := redisstore.New(r.Client(), redisstore.WithDedupeLease(lease)) // another instance
	require.Equal(t, lease, s1.Lease())
	require.Equal(t, wxinvoice.DefaultDedupeLease, redisstore.New(rdb).Lease())
	ctx := context.Background()
	const key = "wxinvoice:update_invoice_status|4:gh_x"
	claim := func(s *redisstore.Store, owner string) wxinvoice.ClaimStatus {
		t.Helper()
		st, err := s.Claim(ctx, key, owner)
		require.NoError(t, err)
		return st
	}
	renew := func(s *redisstore.Store, owner string) bool {
		t.Helper()
		ok, err := s.Renew(ctx, key, owner)
		require.NoError(t, err)
		return ok
	}
	pttl := func() time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, s1.DedupeKey(key)).Result()
		require.NoError(t, err)
		return d
	}

	require.Equal(t, wxinvoice.ClaimAcquired, claim(s1, "owner-a"))
	v, err := rdb.Get(ctx, s1.DedupeKey(key)).Result()
	require.NoError(t, err)
	require.Equal(t, "owner-a", v, "the lease holds its owner id")
	require.Greater(t, pttl(), time.Duration(0))
	require.LessOrEqual(t, pttl(), lease)
	require.Equal(t, wxinvoice.ClaimHeld, claim(s2, "owner-b"), "another instance's lease is seen")
	require.False(t, renew(s2, "owner-b"), "only the owner renews")
	require.NoError(t, s2.Release(ctx, key, "owner-b"))
	require.Equal(t, wxinvoice.ClaimHeld, claim(s2, "owner-b"), "only the owner releases")
	require.NoError(t, rdb.PExpire(ctx, s1.DedupeKey(key), 50*time.Millisecond).Err())
	require.True(t, renew(s1, "owner-a"))
	require.Greater(t, pttl(), 50*time.Millisecond, "renewed to the whole lease")

	// The owner stops renewing (it died): the lease ends, the next claim wins.
	require.Eventually(t, func() bool {
		st, err := s2.Claim(ctx, key, "owner-b")
		return err == nil && st == wxinvoice.ClaimAcquired
	}, 10*time.Second, 20*time.Millisecond)
	// owner-b's lease is only 300 ms; lengthen it so that the checks below do
	// not race with its expiry on a loaded machine.
	require.NoError(t, rdb.PExpire(ctx, s1.DedupeKey(key), time.Minute).Err())
	require.False(t, renew(s1, "owner-a"), "an ended lease is not revived")
	require.NoError(t, s1.Release(ctx, key, "owner-a"))
	require.Equal(t, wxinvoice.ClaimHeld, claim(s1, "owner-c"), "the dead owner cannot release its successor's lease")

	// A failed callback: the owner releases, the retry claims.
	require.NoError(t, s2.Release(ctx, key, "owner-b"))
	require.Equal(t, wxinvoice.ClaimAcquired, claim(s1, "owner-c"))

	// Done: "success" for the ttl (the replay window), in every instance.
	require.NoError(t, s1.Done(ctx, key, 10*time.Minute))
	require.Equal(t, wxinvoice.ClaimDone, claim(s2, "owner-d"))
	require.InDelta(t, 10*time.Minute.Seconds(), pttl().Seconds(), 1, "Done lasts its ttl")
	require.False(t, renew(s1, "owner-c"))
	require.NoError(t, s1.Release(ctx, key, "owner-c"))
	require.Equal(t, wxinvoice.ClaimDone, claim(s2, "owner-d"), "a done record is not released")
	require.NoError(t, s1.Done(ctx, "never-claimed", 0))
	d, err := rdb.PTTL(ctx, s1.DedupeKey("never-claimed")).Result()
	require.NoError(t, err)
	require.InDelta(t, wxinvoice.DefaultDedupeTTL.Seconds(), d.Seconds(), 1, "ttl 0: DefaultDedupeTTL")

	_, err = s1.Claim(ctx, "x", "done")
	require.Error(t, err, "an owner id that reads as a done record")
	_, err = s1.Claim(ctx, "x", "")
	require.Error(t, err)

	// 50 concurrent claims of one key from two instances: one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s1
			if i%2 == 1 {
				st = s2
			}
			got, err := st.Claim(ctx, "race", fmt.Sprintf("owner-%d", i))
			if err == nil && got == wxinvoice.ClaimAcquired {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
}

// TestDedupeLeaseRenewedDuringLongCallback: instance A's callback runs for
// almost twice the lease; A renews its lease meanwhile, so instance B answers
// WeChat's retry 503 rather than running the callback again, and "success"
// once A succeeded.
func TestDedupeLeaseRenewedDuringLongCallback(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	// Renewed every 667 ms: a goroutine starved for over 1.3 s (seen at a load
	// of 15 on two cores with a 1 s lease) would let it lapse.
	const lease = 2 * time.Second
	var calls atomic.Int32
	entered, finish := make(chan struct{}), make(chan struct{})
	mk := func(slow bool) (*wxinvoice.EventHandler, *redisstore.Store) {
		s := redisstore.New(r.Client(), redisstore.WithDedupeLease(lease))
		h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: dedupePushToken, Deduper: s,
			OnInvoiceStatus: func(context.Context, *wxinvoice.InvoiceStatusEvent) error {
				calls.Add(1)
				if slow {
					close(entered)
					<-finish
				}
				return nil
			}})
		require.NoError(t, err)
		return h, s
	}
	a, store := mk(true)
	b, _ := mk(false)
	rdb := r.Client()

	first := make(chan int, 1)
	go func() { code, _ := deliver(a, statusPush(t, "000000000010", 0)); first <- code }()
	<-entered
	start := time.Now()
	_, owner := dedupeRecord(t, rdb, store, "000000000010")
	require.Regexp(t, ownerID, owner)
	for time.Since(start) < lease*7/4 {
		_, v := dedupeRecord(t, rdb, store, "000000000010")
		require.Equal(t, owner, v, "the lease lasts while the callback runs (%v)", time.Since(start))
		time.Sleep(50 * time.Millisecond)
	}
	code, body := deliver(b, statusPush(t, "000000000010", 1))
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Equal(t, "event in progress", body)
	close(finish)
	require.Equal(t, http.StatusOK, <-first)
	code, body = deliver(b, statusPush(t, "000000000010", 2))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "success", body)
	require.EqualValues(t, 1, calls.Load())
	key, v := dedupeRecord(t, rdb, store, "000000000010")
	require.Equal(t, "done", v)
	pttl, err := rdb.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	require.InDelta(t, (2 * wxinvoice.DefaultEventTimestampWindow).Seconds(), pttl.Seconds(), 5,
		"a processed push is answered success for the whole replay window")
}

// TestDedupeRedisStall: Redis stops answering (SIGSTOP) while a push
// arrives. The handler gives up (503); when Redis resumes it applies the
// queued claim, a lease nobody renews. WeChat's retries (at a spacing longer
// than the lease, as WeChat's 5 s are longer than the default 4 s lease) run
// the callback once and end with "success".
func TestDedupeRedisStall(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	rdb := r.Client()
	const (
		lease   = 2 * time.Second         // long enough to be seen after the resume on a loaded machine
		timeout = time.Second             // the Store's, shorter than the stall
		stall   = 2 * time.Second         // the 3 s
		spacing = 3500 * time.Millisecond // WeChat's 5 s, scaled: longer than the lease
	)
	store := redisstore.New(rdb, redisstore.WithDedupeLease(lease), redisstore.WithTimeout(timeout))
	var calls atomic.Int32
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: dedupePushToken, Deduper: store,
		OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			if ev.Code == "000000000011" {
				calls.Add(1)
			}
			return nil
		}})
	require.NoError(t, err)
	// A first push loads the scripts, so that the stalled call is a claim
	// Redis applies, not a NOSCRIPT.
	require.Eventually(t, func() bool {
		code, _ := deliver(h, statusPush(t, "000000000099", 0))
		return code == http.StatusOK
	}, 30*time.Second, 10*time.Millisecond)

	r.Pause()
	t.Cleanup(r.Resume)
	t0 := time.Now()
	code, body := deliver(h, statusPush(t, "000000000011", 0))
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "deduper unavailable", body)
	time.Sleep(time.Until(t0.Add(stall)))
	r.Resume()

	// Redis applies the claim the handler gave up on: a lease of an owner
	// that is not running the callback. (On a very loaded machine the
	// handler may give up before the claim was even written; the retries
	// below must end in one callback either way.)
	applied := false
	for end := time.Now().Add(lease); !applied && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		_, v := dedupeRecord(t, rdb, store, "000000000011")
		applied = ownerID.MatchString(v)
	}
	t.Logf("the stalled claim was applied after the resume: %v", applied)
	require.Zero(t, calls.Load())

	// WeChat's three retries.
	var answers []string
	for i := 1; i <= 3; i++ {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * spacing)))
		code, body := deliver(h, statusPush(t, "000000000011", i))
		answers = append(answers, fmt.Sprintf("%d %s", code, body))
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code, body)
		if code == http.StatusOK {
			break
		}
	}
	t.Logf("answers to WeChat's retries after the stall: %v", answers)
	require.Equal(t, "200 success", answers[len(answers)-1], "answers to WeChat's retries: %v", answers)
	require.EqualValues(t, 1, calls.Load())
	code, body = deliver(h, statusPush(t, "000000000011", 4))
	require.Equal(t, "200 success", fmt.Sprintf("%d %s", code, body))
	require.EqualValues(t, 1, calls.Load())
}

// Environment of TestDedupeHelperProcess.
const (
	envChildRedis = "WXINVOICE_TEST_DEDUPE_CHILD_REDIS"
	envChildLease = "WXINVOICE_TEST_DEDUPE_CHILD_LEASE"
)

// TestDedupeHelperProcess is the instance TestDedupeCrashedInstance kills:
// run as a child process, it handles a push whose callback never returns.
// Without its environment it does nothing.
func TestDedupeHelperProcess(t *testing.T) {
	addr := os.Getenv(envChildRedis)
	if addr == "" {
		return
	}
	lease, err := time.ParseDuration(os.Getenv(envChildLease))
	require.NoError(t, err)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: dedupePushToken,
		Deduper: redisstore.New(rdb, redisstore.WithDedupeLease(lease)),
		OnInvoiceStatus: func(context.Context, *wxinvoice.InvoiceStatusEvent) error {
			fmt.Println("callback started")
			time.Sleep(time.Hour) // killed meanwhile
			return nil
		}})
	require.NoError(t, err)
	deliver(h, statusPush(t, "000000000012", 0))
	t.Fatal("the callback returned; the parent should have killed this process")
}

// TestDedupeCrashedInstance: an instance (a child process) claims a push
// and dies (SIGKILL) in the middle of its callback. While it lives, its
// lease holds and another instance answers WeChat's retry 503; once it is
// dead, its lease ends and the next retry runs the callback, once.
func TestDedupeCrashedInstance(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	const lease = 2 * time.Second // the child renews every 667 ms
	cmd := exec.Command(os.Args[0], "-test.run=^TestDedupeHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChildRedis+"="+r.Addr, envChildLease+"="+lease.String())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "callback started") {
				close(started)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-started:
	case err := <-exited:
		t.Fatalf("the child exited before its callback started: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the child's callback did not start")
	}

	rdb := r.Client()
	store := redisstore.New(rdb, redisstore.WithDedupeLease(lease))
	var calls atomic.Int32
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: dedupePushToken, Deduper: store,
		OnInvoiceStatus: func(context.Context, *wxinvoice.InvoiceStatusEvent) error { calls.Add(1); return nil }})
	require.NoError(t, err)
	_, owner := dedupeRecord(t, rdb, store, "000000000012")
	require.Regexp(t, ownerID, owner, "the child holds the lease")
	code, body := deliver(h, statusPush(t, "000000000012", 1))
	require.Equal(t, http.StatusServiceUnavailable, code, "the child is still running the callback: %s", body)

	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no cleanup, no release
	<-exited
	killed := time.Now()
	var answers []int
	require.Eventually(t, func() bool {
		code, _ := deliver(h, statusPush(t, "000000000012", 2+len(answers)))
		answers = append(answers, code)
		return code == http.StatusOK
	}, 30*time.Second, lease/4, "the dead instance's lease never ended")
	t.Logf("first retry processed %v after the kill; answers %v", time.Since(killed).Round(time.Millisecond), answers)
	for _, c := range answers[:len(answers)-1] {
		require.Equal(t, http.StatusServiceUnavailable, c)
	}
	require.EqualValues(t, 1, calls.Load())
	code, body = deliver(h, statusPush(t, "000000000012", 99))
	require.Equal(t, "200 success", fmt.Sprintf("%d %s", code, body))
	require.EqualValues(t, 1, calls.Load())
}
