package wxinvoice

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// inboxCall is one Claim or Read an InboxWorker made: its consumer and how
// many entries it returned.
type inboxCall struct {
	op       string // "claim" or "read"
	consumer string
	n        int
}

// countingInbox records the Claims and Reads made through it.
type countingInbox struct {
	Inbox
	mu    sync.Mutex
	calls []inboxCall
}

func (c *countingInbox) record(op, consumer string, n int) {
	c.mu.Lock()
	c.calls = append(c.calls, inboxCall{op, consumer, n})
	c.mu.Unlock()
}

func (c *countingInbox) Claim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Envelope, error) {
	envs, err := c.Inbox.Claim(ctx, consumer, minIdle, max)
	c.record("claim", consumer, len(envs))
	return envs, err
}

func (c *countingInbox) Read(ctx context.Context, consumer string, max int, block time.Duration) ([]Envelope, error) {
	envs, err := c.Inbox.Read(ctx, consumer, max, block)
	c.record("read", consumer, len(envs))
	return envs, err
}

// log returns a copy of the calls so far.
func (c *countingInbox) log() []inboxCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]inboxCall(nil), c.calls...)
}

// count returns the number of calls of op so far.
func (c *countingInbox) count(op string) int {
	n := 0
	for _, call := range c.log() {
		if call.op == op {
			n++
		}
	}
	return n
}

// manualClock is a clock that moves only when told; safe for concurrent use.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func appendStatus(t *testing.T, inbox Inbox, code string) {
	t.Helper()
	require.NoError(t, inbox.Append(context.Background(), Envelope{Kind: EventUpdateInvoiceStatus, Key: "k" + code,
		Payload: InvoiceStatusEventXML(statusEvent(code))}))
}

// TestInboxWorkerClaimsOnCadenceNotPerRead: processing 100 entries makes one
// Claim per loop (at start), not one per entry, since nothing can become
// claimable within a quarter of the visibility timeout (30 s here); every
// loop of a worker with Concurrency 4 claims as a consumer of its own.
func TestInboxWorkerClaimsOnCadenceNotPerRead(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run("concurrency="+strconv.Itoa(conc), func(t *testing.T) {
			inbox := &countingInbox{Inbox: NewMemoryInbox(0)}
			for i := range 100 {
				appendStatus(t, inbox, strconv.Itoa(i))
			}
			var seen atomic.Int32
			w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
				seen.Add(1)
				return nil
			}, Concurrency: conc, PollInterval: 10 * time.Millisecond})
			require.NoError(t, err)
			stop := runWorker(t, w)
			waitStats(t, inbox, InboxStats{})
			require.Eventually(t, func() bool { return seen.Load() == 100 }, 10*time.Second, 5*time.Millisecond)
			stop()

			claimers := map[string]bool{}
			for _, c := range inbox.log() {
				if c.op == "claim" {
					claimers[c.consumer] = true
					require.Zero(t, c.n, "nothing was abandoned")
				}
			}
			require.Len(t, claimers, conc, "each loop claims at start, as its own consumer")
			// One Claim per loop per 7.5 s: a few per loop even if this run
			// was very slow, far from one per entry.
			claims, reads := inbox.count("claim"), inbox.count("read")
			require.LessOrEqual(t, claims, 3*conc, "claims %d for 100 entries", claims)
			require.GreaterOrEqual(t, reads, 100)
		})
	}
}

// TestInboxWorkerClaimCadence drives the worker's and the inbox's clock by
// hand: an idle worker claims once per quarter of the visibility timeout
// whatever the number of its Reads, and an entry abandoned by a dead worker
// is taken over by the first Claim due after it became claimable, within
// VisibilityTimeout plus a quarter of it of its last delivery.
func TestInboxWorkerClaimCadence(t *testing.T) {
	const vis = 400 * time.Millisecond // claims every 100 ms of the manual clock
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &manualClock{t: t0}
	mem := NewMemoryInbox(0)
	mem.(*memoryInbox).now = clk.Now
	inbox := &countingInbox{Inbox: mem}
	appendStatus(t, inbox, "1")
	got, err := inbox.Read(context.Background(), "dead", 1, 0) // and dies, at t0
	require.NoError(t, err)
	require.Len(t, got, 1)

	var attempts atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(ctx context.Context, _ *InvoiceStatusEvent) error {
		env, _ := EnvelopeFromContext(ctx)
		attempts.Store(int32(env.Attempts))
		return nil
	}, VisibilityTimeout: vis, PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	w.now = clk.Now
	runWorker(t, w)

	// settle waits for 20 more idle Reads, then checks the Claims so far.
	settle := func(wantClaims int, msg string) {
		t.Helper()
		reads := inbox.count("read")
		require.Eventually(t, func() bool { return inbox.count("read") >= reads+20 }, 20*time.Second, time.Millisecond)
		require.Equal(t, wantClaims, inbox.count("claim"), msg)
		require.Zero(t, attempts.Load(), "not taken over yet")
	}
	settle(1, "one Claim at start, none per idle Read")
	clk.Set(t0.Add(vis/4 - 1))
	settle(1, "no Claim before a quarter of the visibility timeout")
	clk.Set(t0.Add(vis - time.Millisecond)) // due; the entry is not idle long enough yet
	require.Eventually(t, func() bool { return inbox.count("claim") == 2 }, 20*time.Second, time.Millisecond)
	settle(2, "the Claim at t0+399ms found nothing")
	clk.Set(t0.Add(vis)) // claimable now, but the next Claim is due at t0+499ms
	settle(2, "no Claim before it is due")
	clk.Set(t0.Add(vis + vis/4 - time.Millisecond))
	require.Eventually(t, func() bool { return attempts.Load() == 2 }, 20*time.Second, time.Millisecond,
		"taken over by the Claim due at t0+499ms, the dead worker's delivery counted")
	waitStats(t, inbox, InboxStats{})
}

// TestInboxWorkerDrainsAbandonedBacklog: once entries abandoned by a dead
// worker are claimable, the worker claims them back to back, with no Read
// in between, until a Claim finds none.
func TestInboxWorkerDrainsAbandonedBacklog(t *testing.T) {
	const n = 20
	inbox := &countingInbox{Inbox: NewMemoryInbox(0)}
	for i := range n {
		appendStatus(t, inbox, strconv.Itoa(i))
	}
	got, err := inbox.Read(context.Background(), "dead", n, 0) // all at once, so all idle at once
	require.NoError(t, err)
	require.Len(t, got, n)
	var mu sync.Mutex
	var seen []int
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(ctx context.Context, _ *InvoiceStatusEvent) error {
		env, _ := EnvelopeFromContext(ctx)
		mu.Lock()
		seen = append(seen, env.Attempts)
		mu.Unlock()
		return nil
	}, VisibilityTimeout: 200 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{})
	mu.Lock()
	require.Len(t, seen, n)
	for _, a := range seen {
		require.Equal(t, 2, a)
	}
	mu.Unlock()

	log := inbox.log()
	first := -1
	for i, c := range log {
		if c.op == "claim" && c.n > 0 {
			first = i
			break
		}
	}
	require.GreaterOrEqual(t, first, 0)
	require.GreaterOrEqual(t, len(log), first+n+1)
	for i, c := range log[first : first+n] {
		require.Equal(t, inboxCall{"claim", w.Consumer(), 1}, c, "call %d of the drain", i)
	}
	require.Equal(t, inboxCall{"claim", w.Consumer(), 0}, log[first+n], "then a Claim that finds none")
}

// TestInboxWorkerTakesOverWhileBusy: a worker kept busy by a queue of new
// entries still takes over an abandoned entry on its claim cadence, instead
// of waiting for its Reads to run dry. Each new entry's callback sleeps 2 ms,
// so the 500 of them take at least a second, more than the 200 ms visibility
// timeout plus its quarter.
func TestInboxWorkerTakesOverWhileBusy(t *testing.T) {
	const fillers = 500
	inbox := NewMemoryInbox(0)
	appendStatus(t, inbox, "abandoned")
	got, err := inbox.Read(context.Background(), "dead", 1, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	for i := range fillers {
		appendStatus(t, inbox, strconv.Itoa(i))
	}
	var done atomic.Int32
	type takeover struct{ position, attempts int32 }
	taken := make(chan takeover, 1)
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
		if ev.Code == "abandoned" {
			env, _ := EnvelopeFromContext(ctx)
			taken <- takeover{done.Load(), int32(env.Attempts)}
			return nil
		}
		time.Sleep(2 * time.Millisecond)
		done.Add(1)
		return nil
	}, VisibilityTimeout: 200 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{})
	require.EqualValues(t, fillers, done.Load())
	select {
	case got := <-taken:
		require.Less(t, got.position, int32(fillers), "taken over while new entries were still queued")
		require.EqualValues(t, 2, got.attempts, "the dead worker's delivery counts")
	default:
		t.Fatal("the abandoned entry was not delivered")
	}
}
