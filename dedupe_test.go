package wxinvoice

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clockDeduper returns a memory deduper on a settable clock that starts at
// sampleTime (the timestamp of the test pushes).
func clockDeduper(max int) (*memoryDeduper, func(time.Duration)) {
	var mu sync.Mutex
	now := sampleTime
	d := newMemoryDeduper(max)
	d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return d, func(dt time.Duration) { mu.Lock(); now = now.Add(dt); mu.Unlock() }
}

// claim is Claim without ctx and error (the memory deduper fails only on an
// empty owner).
func claim(t *testing.T, d Deduper, key, owner string) ClaimStatus {
	t.Helper()
	st, err := d.Claim(context.Background(), key, owner)
	require.NoError(t, err)
	return st
}

func renew(t *testing.T, d Deduper, key, owner string) bool {
	t.Helper()
	ok, err := d.Renew(context.Background(), key, owner)
	require.NoError(t, err)
	return ok
}

// TestMemoryDeduperLease: a claim lasts Lease() unless its owner renews it;
// only the owner renews or releases it; Done replaces it with a record of
// its own ttl that no owner can renew or release.
func TestMemoryDeduperLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, advance := clockDeduper(0)
	require.Equal(t, DefaultDedupeLease, d.Lease())
	require.Less(t, DefaultDedupeLease, 5*time.Second, "a lease must end before WeChat's next retry")
	lease := d.Lease()

	require.Equal(t, ClaimAcquired, claim(t, d, "k", "A"))
	require.Equal(t, ClaimHeld, claim(t, d, "k", "B"), "A's lease is live")
	advance(lease - time.Millisecond)
	require.Equal(t, ClaimHeld, claim(t, d, "k", "B"))
	require.False(t, renew(t, d, "k", "B"), "only the owner renews")
	require.True(t, renew(t, d, "k", "A"))
	advance(lease - time.Millisecond) // 2×lease after the claim: alive only through the renewal
	require.Equal(t, ClaimHeld, claim(t, d, "k", "B"))
	require.NoError(t, d.Release(ctx, "k", "B"))
	require.Equal(t, ClaimHeld, claim(t, d, "k", "B"), "only the owner releases")

	// A stops renewing (it crashed): its lease ends after Lease().
	advance(time.Millisecond)
	require.False(t, renew(t, d, "k", "A"), "an ended lease is not revived")
	require.Equal(t, ClaimAcquired, claim(t, d, "k", "B"), "a retry after the lease ends runs the callback")
	require.False(t, renew(t, d, "k", "A"), "B's lease now")
	require.NoError(t, d.Release(ctx, "k", "A"))
	require.Equal(t, ClaimHeld, claim(t, d, "k", "C"), "A cannot release B's lease")

	// A failed callback: its owner releases, the next delivery claims.
	require.NoError(t, d.Release(ctx, "k", "B"))
	require.Equal(t, ClaimAcquired, claim(t, d, "k", "C"))

	// Done: "success" for ttl, whoever asks; neither renewed nor released.
	const ttl = 10 * time.Minute
	require.NoError(t, d.Done(ctx, "k", ttl))
	require.Equal(t, ClaimDone, claim(t, d, "k", "D"))
	require.False(t, renew(t, d, "k", "C"))
	require.NoError(t, d.Release(ctx, "k", "C"))
	advance(ttl - time.Millisecond)
	require.Equal(t, ClaimDone, claim(t, d, "k", "D"), "done for the whole ttl")
	advance(time.Millisecond)
	require.Equal(t, ClaimAcquired, claim(t, d, "k", "D"), "forgotten after ttl")

	// Done without a claim (the lease ended meanwhile) still records it;
	// ttl 0 means DefaultDedupeTTL.
	require.NoError(t, d.Done(ctx, "late", 0))
	advance(DefaultDedupeTTL - time.Millisecond)
	require.Equal(t, ClaimDone, claim(t, d, "late", "E"))

	_, err := d.Claim(ctx, "x", "")
	require.Error(t, err, "an empty owner would let anyone release the lease")
	require.NoError(t, d.Done(ctx, "huge", time.Duration(1<<63-1)), "no overflow")
	require.Equal(t, ClaimDone, claim(t, d, "huge", "F"))
}

func TestDedupeMemoryExpiryFreesMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, advance := clockDeduper(0)
	for i := range 1000 {
		require.Equal(t, ClaimAcquired, claim(t, d, strconv.Itoa(i), "o"))
		if i%2 == 0 {
			require.NoError(t, d.Done(ctx, strconv.Itoa(i), time.Minute))
		}
	}
	require.Len(t, d.items, 1000)
	advance(2 * time.Minute)
	require.Equal(t, ClaimAcquired, claim(t, d, "x", "o"))
	require.Len(t, d.items, 1)
	require.LessOrEqual(t, len(d.queue)-d.head, 1)
}

func TestDedupeMemoryBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := clockDeduper(3)
	for _, k := range []string{"a", "b", "c", "d"} {
		require.Equal(t, ClaimAcquired, claim(t, d, k, "o"))
		require.NoError(t, d.Done(ctx, k, time.Hour))
	}
	require.Len(t, d.items, 3)
	require.Equal(t, ClaimAcquired, claim(t, d, "a", "o"), "the oldest record was evicted to make room")
	require.Equal(t, ClaimDone, claim(t, d, "d", "o"), "recent records are kept")

	// Claim/release and claim/done cycles do not grow the queue without bound.
	d2, _ := clockDeduper(10)
	for i := range 100_000 {
		k := strconv.Itoa(i % 7)
		require.Equal(t, ClaimAcquired, claim(t, d2, k, "o"))
		require.NoError(t, d2.Release(ctx, k, "o"))
	}
	require.Empty(t, d2.items)
	require.Less(t, len(d2.queue), 1000)
	for i := range 100_000 {
		k := strconv.Itoa(i % 7)
		require.NoError(t, d2.Done(ctx, k, time.Hour))
	}
	require.Len(t, d2.items, 7)
	require.Less(t, len(d2.queue), 1000)
}

func TestDedupeMemoryConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := NewMemoryDeduper(0)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if st, err := d.Claim(ctx, "k"+strconv.Itoa(i), "o"+strconv.Itoa(g)); err == nil && st == ClaimAcquired {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 200, wins.Load(), "each key is won exactly once")
}

// statusKey is the dedupe key the handler gives statusEvent(code).
func statusKey(code string) string {
	ev := statusEvent(code)
	return dedupeKey(EventUpdateInvoiceStatus, ev.ToUserName, ev.FromUserName, strconv.FormatInt(ev.CreateTime.Unix(), 10),
		ev.CardID, ev.Code, string(ev.Status))
}

// TestEventDedupeLeaseOfDeadOwner: an instance claimed a push and died
// before its callback finished (simulated: a claim nobody renews). WeChat's
// retries are answered 503 while the lease lasts, and the first retry after
// it ends runs the callback; then the push is answered "success" for the
// whole replay window without another callback.
func TestEventDedupeLeaseOfDeadOwner(t *testing.T) {
	t.Parallel()
	d, advance := clockDeduper(0)
	h, c := newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.Deduper = d; cfg.Now = d.now })
	xml := InvoiceStatusEventXML(statusEvent("3001"))
	require.Equal(t, ClaimAcquired, claim(t, d, statusKey("3001"), "dead-instance"))

	rec := serve(h, retry(t, "", xml, 0))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "event in progress", rec.Body.String())
	advance(d.Lease() - time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, serve(h, retry(t, "", xml, 1)).Code)
	require.Zero(t, c.total())

	advance(time.Millisecond)
	requireSuccess(t, serve(h, retry(t, "", xml, 2)))
	require.Equal(t, 1, c.total(), "the retry after the dead owner's lease runs the callback")

	// Done lasts twice the timestamp window (the replay window).
	advance(2*DefaultEventTimestampWindow - time.Second)
	require.Equal(t, ClaimDone, claim(t, d, statusKey("3001"), "replayer"))
	advance(time.Second)
	require.Equal(t, ClaimAcquired, claim(t, d, statusKey("3001"), "later"))
}

// gatedDeduper lets the test decide when each renewal happens, and reports
// each one's answer.
type gatedDeduper struct {
	*memoryDeduper
	allow   chan struct{}
	renewed chan bool
}

func (g *gatedDeduper) Renew(ctx context.Context, key, owner string) (bool, error) {
	select {
	case <-g.allow:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	ok, err := g.memoryDeduper.Renew(ctx, key, owner)
	select {
	case g.renewed <- ok:
	case <-ctx.Done():
	}
	return ok, err
}

// TestEventDedupeLeaseRenewedWhileCallbackRuns: two instances share a
// Deduper. A's callback runs for twice the lease; the handler renews the
// lease meanwhile, so B answers WeChat's retry 503 instead of running the
// callback a second time, and "success" once A succeeded.
func TestEventDedupeLeaseRenewedWhileCallbackRuns(t *testing.T) {
	t.Parallel()
	mem, advance := clockDeduper(0)
	mem.lease = 30 * time.Millisecond // renewal attempts every 10 ms (real time); each waits for allow
	g := &gatedDeduper{memoryDeduper: mem, allow: make(chan struct{}), renewed: make(chan bool)}
	entered, finish := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	mk := func(slow bool) *EventHandler {
		h, err := NewEventHandler(EventConfig{Token: vecToken, Now: mem.now, Deduper: g,
			OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
				calls.Add(1)
				if slow {
					close(entered)
					<-finish
				}
				return nil
			}})
		require.NoError(t, err)
		return h
	}
	a, b := mk(true), mk(false)
	xml := InvoiceStatusEventXML(statusEvent("3002"))

	first := make(chan int, 1)
	go func() { first <- serve(a, retry(t, "", xml, 0)).Code }()
	<-entered
	for range 3 {
		advance(mem.lease * 2 / 3)
		select {
		case g.allow <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler does not renew the lease while the callback runs")
		}
		require.True(t, <-g.renewed, "the owner's renewal of its live lease")
	}
	// 2×lease since the claim: alive only through the renewals.
	rec := serve(b, retry(t, "", xml, 1))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "still running at A: WeChat must ask again")
	close(finish)
	require.Equal(t, http.StatusOK, <-first)
	requireSuccess(t, serve(b, retry(t, "", xml, 2)))
	require.EqualValues(t, 1, calls.Load())
}

// faultyRenewDeduper is a memory deduper whose Renew fails, reports the
// lease lost, or panics.
type faultyRenewDeduper struct {
	*memoryDeduper
	mode   string // "error", "lost" or "panic"
	renews atomic.Int32
	seen   chan struct{} // closed at the first renewal
	once   sync.Once
}

func (f *faultyRenewDeduper) Renew(context.Context, string, string) (bool, error) {
	f.renews.Add(1)
	f.once.Do(func() { close(f.seen) })
	switch f.mode {
	case "error":
		return false, errors.New("redis: connection refused")
	case "panic":
		panic("renew bug")
	}
	return false, nil
}

// TestEventDedupeRenewFailures: when renewing fails, reports the lease lost
// or panics, the handler logs it, the callback runs to its end, and its
// success is recorded.
func TestEventDedupeRenewFailures(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"error", "lost", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			mem := newMemoryDeduper(0)
			mem.lease = 15 * time.Millisecond
			f := &faultyRenewDeduper{memoryDeduper: mem, mode: mode, seen: make(chan struct{})}
			var logs syncBuffer
			var calls atomic.Int32
			h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime), Deduper: f,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
					calls.Add(1)
					<-f.seen
					switch mode {
					case "error": // renewal goes on after a failure
						require.Eventually(t, func() bool { return f.renews.Load() >= 3 }, 10*time.Second, time.Millisecond)
					case "lost": // a loss reported after the callback ended is not worth a log line: wait for it
						require.Eventually(t, func() bool {
							return strings.Contains(logs.String(), "dedupe lease lost while the callback runs")
						}, 10*time.Second, time.Millisecond)
					}
					return nil
				}})
			require.NoError(t, err)
			xml := InvoiceStatusEventXML(statusEvent("3003"))
			requireSuccess(t, serve(h, retry(t, "", xml, 0)))
			requireSuccess(t, serve(h, retry(t, "", xml, 1)))
			require.EqualValues(t, 1, calls.Load(), "Done recorded despite the renewal failures")
			switch mode {
			case "error":
				require.Contains(t, logs.String(), "deduper renew failed")
			case "lost":
				require.Contains(t, logs.String(), "dedupe lease lost while the callback runs")
				require.EqualValues(t, 1, f.renews.Load(), "a lost lease is not renewed again")
			case "panic":
				require.Contains(t, logs.String(), "deduper renew panicked")
			}
		})
	}
}

// failingDeduper fails every call.
type failingDeduper struct{ claims, releases atomic.Int32 }

func (d *failingDeduper) Lease() time.Duration { return DefaultDedupeLease }

func (d *failingDeduper) Claim(context.Context, string, string) (ClaimStatus, error) {
	d.claims.Add(1)
	return 0, errors.New("redis: connection refused")
}

func (d *failingDeduper) Renew(context.Context, string, string) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func (d *failingDeduper) Done(context.Context, string, time.Duration) error {
	return errors.New("redis: connection refused")
}

func (d *failingDeduper) Release(context.Context, string, string) error {
	d.releases.Add(1)
	return errors.New("redis: connection refused")
}

// okThenFailRelease grants every claim, then fails to release it.
type okThenFailRelease struct{ *failingDeduper }

func (d okThenFailRelease) Claim(context.Context, string, string) (ClaimStatus, error) {
	return ClaimAcquired, nil
}

// TestEventDeduperFailure: a failed Claim answers 503 without a callback; a
// failed Release after a failed callback still answers 5xx; a failed Done
// after a successful one still answers "success" (the callback ran).
func TestEventDeduperFailure(t *testing.T) {
	t.Parallel()
	d := &failingDeduper{}
	h, c := newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.Deduper = d })
	rec := serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("1")), 0))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Zero(t, c.total())
	require.EqualValues(t, 1, d.claims.Load())

	var logs syncBuffer
	h, c = newRecordingHandler(t, "", func(cfg *EventConfig) {
		cfg.Deduper = okThenFailRelease{d}
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c.err = errors.New("boom")
	rec = serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("1")), 0))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, 1, c.total())
	require.EqualValues(t, 1, d.releases.Load())
	require.Contains(t, logs.String(), "deduper release failed")

	c.err = nil
	requireSuccess(t, serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("2")), 0)))
	require.Contains(t, logs.String(), "deduper done-mark failed")
}

// recordingDeduper wraps a Deduper and records the keys claimed.
type recordingDeduper struct {
	Deduper
	mu   sync.Mutex
	keys []string
}

func (d *recordingDeduper) Claim(ctx context.Context, key, owner string) (ClaimStatus, error) {
	d.mu.Lock()
	d.keys = append(d.keys, key)
	d.mu.Unlock()
	return d.Deduper.Claim(ctx, key, owner)
}

// TestEventDedupeOwnersAreUnique: every delivery claims with an owner id of
// its own, so that one delivery can never renew or release another's lease.
func TestEventDedupeOwnersAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		o, err := newDedupeOwner()
		require.NoError(t, err)
		require.Len(t, o, 32)
		require.False(t, seen[o])
		seen[o] = true
	}
}

// ctxDeduper records whether Done and Release got a live ctx.
type ctxDeduper struct {
	Deduper
	doneErr, releaseErr error
	dones, releases     int
}

func (d *ctxDeduper) Done(ctx context.Context, key string, ttl time.Duration) error {
	d.dones++
	d.doneErr = ctx.Err()
	return d.Deduper.Done(ctx, key, ttl)
}

func (d *ctxDeduper) Release(ctx context.Context, key, owner string) error {
	d.releases++
	d.releaseErr = ctx.Err()
	return d.Deduper.Release(ctx, key, owner)
}

// TestProcessOnceOutcomes: each outcome of ProcessOnce, and the outcome is
// recorded even when the caller's ctx ended while fn ran (WeChat hung up).
func TestProcessOnceOutcomes(t *testing.T) {
	t.Parallel()
	d := &ctxDeduper{Deduper: NewMemoryDeduper(0)}
	var runs int
	ok := func(context.Context) error { runs++; return nil }
	fail := func(context.Context) error { runs++; return errors.New("db down") }

	// WeChat hangs up while the first delivery's callback runs, which fails.
	ctx, cancel := context.WithCancel(context.Background())
	out, err := ProcessOnce(ctx, d, "k", time.Minute, nil, func(ctx context.Context) error {
		cancel()
		return fail(ctx)
	})
	require.Equal(t, DedupeFailed, out)
	require.EqualError(t, err, "db down")
	require.Equal(t, 1, d.releases)
	require.NoError(t, d.releaseErr, "Release runs on a live ctx after the caller's ended")

	out, err = ProcessOnce(context.Background(), d, "k", time.Minute, nil, func(ctx context.Context) error { panic("bug") })
	require.Equal(t, DedupeFailed, out)
	require.Error(t, err)
	require.Equal(t, 2, d.releases, "a panic releases the lease too")

	ctx, cancel = context.WithCancel(context.Background())
	out, err = ProcessOnce(ctx, d, "k", time.Minute, nil, func(ctx context.Context) error {
		cancel()
		return ok(ctx)
	})
	require.Equal(t, DedupeProcessed, out)
	require.NoError(t, err)
	require.Equal(t, 1, d.dones)
	require.NoError(t, d.doneErr, "Done runs on a live ctx after the caller's ended")

	out, err = ProcessOnce(context.Background(), d, "k", time.Minute, nil, ok)
	require.Equal(t, DedupeDuplicate, out)
	require.NoError(t, err)
	require.Equal(t, 2, runs)

	require.Equal(t, ClaimAcquired, claim(t, d, "other", "someone"))
	out, err = ProcessOnce(context.Background(), d, "other", time.Minute, nil, ok)
	require.Equal(t, DedupeInProgress, out)
	require.NoError(t, err)

	out, err = ProcessOnce(context.Background(), &failingDeduper{}, "k", time.Minute, nil, ok)
	require.Equal(t, DedupeUnavailable, out)
	require.Error(t, err)
	require.Equal(t, 2, runs, "fn runs only on ClaimAcquired")
}
