package wxinvoice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

// DefaultDedupeLease is how long a claim on a push lasts without renewal,
// in NewMemoryDeduper and in redisstore.Store by default. It is shorter than
// the 5 s WeChat waits between its retries of a push, so that at most one
// retry meets a claim whose owner stopped (a crashed instance, a claim a
// stalled store applied after its caller gave up), and the next one runs
// the callback.
const DefaultDedupeLease = 4 * time.Second

// ClaimStatus is the answer of Deduper.Claim.
type ClaimStatus uint8

// The answers of Deduper.Claim.
const (
	// ClaimAcquired: the caller holds the lease; it runs the callback.
	ClaimAcquired ClaimStatus = iota + 1
	// ClaimHeld: another owner holds a live lease on the push (its
	// callback is running); the handler answers 503 so that WeChat asks
	// again.
	ClaimHeld
	// ClaimDone: the push was processed; the handler answers "success".
	ClaimDone
)

// Deduper records which pushes an EventHandler is processing and has
// processed, so that WeChat's retries of a push (up to 3, about 5 s apart)
// run its callback once, and a retry after a failure, a crash or a stall of
// the store runs it again instead of the push being lost.
//
// A claim is a lease: ProcessOnce, through which EventHandler delivers every
// push, takes it with Claim for Lease() with an owner id (random, one per
// delivery), and renews it (Renew, comparing the owner) every third of
// Lease() while the callback runs. When the callback
// succeeds, Done replaces the lease with a record that lasts ttl (at least
// twice the handler's TimestampWindow, so that a replayed push is answered
// "success" without a callback); when it fails or panics, Release deletes
// the lease if the owner still holds it, so that WeChat's retry runs the
// callback again. A lease whose owner stops renewing it ends after Lease():
//
//   - an instance that dies mid-callback stops renewing, so its lease ends
//     within Lease() of its last renewal; with Lease() under WeChat's 5 s
//     between retries, at most one retry meets it (503) and the next one
//     runs the callback;
//   - a claim a stalled store applies after the handler gave up (and
//     answered 503) is a lease nobody renews; it too ends within Lease() of
//     being applied;
//   - if the store fails while a callback runs, the handler logs each failed
//     renewal and lets the callback finish; the lease may then end early,
//     and a retry that arrives meanwhile runs the callback a second time (a
//     duplicate rather than a lost push). Renew reporting false (the lease
//     ended and is someone else's or gone) is logged once, and the handler
//     stops renewing.
//   - if Done fails, the lease ends within Lease() and a later retry runs the
//     callback again; if Release fails, WeChat's retries are answered 503
//     until the lease ends, and the one after that runs the callback.
//
// Done does not compare the owner: a push processed once is processed,
// whoever held the lease by then. Keys are the handler's (see EventHandler);
// they hold no secrets.
//
// Implementations must be safe for concurrent use by multiple goroutines; the
// in-memory default (NewMemoryDeduper) serves one process and
// redisstore.Store serves many.
type Deduper interface {
	// Lease is how long a claim lasts without renewal. Keep it shorter than
	// WeChat's 5 s between retries; the handler renews every third of it
	// (a Lease under 3 ns, zero or negative included, is never renewed).
	Lease() time.Duration
	// Claim takes the lease on key for owner unless a live lease or a Done
	// record exists, and reports which. An error means the answer is
	// unknown (the lease may have been taken); the handler then answers 503
	// so that WeChat retries.
	Claim(ctx context.Context, key, owner string) (ClaimStatus, error)
	// Renew extends owner's lease on key to Lease() from now. It reports
	// false when key is not leased to owner (the lease ended, was taken by
	// another owner, or was marked Done).
	Renew(ctx context.Context, key, owner string) (bool, error)
	// Done records key as processed for ttl (zero or negative:
	// DefaultDedupeTTL), replacing any lease on it.
	Done(ctx context.Context, key string, ttl time.Duration) error
	// Release deletes owner's lease on key, so that the next delivery of the
	// push runs its callback. It does nothing when key is not leased to
	// owner.
	Release(ctx context.Context, key, owner string) error
}

// newDedupeOwner returns a random owner id for a claim (32 hex digits).
func newDedupeOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	var x [32]byte
	hex.Encode(x[:], b[:])
	return string(x[:]), nil
}

// DedupeOutcome is what ProcessOnce did with one delivery of a push, and so
// how to answer it.
type DedupeOutcome uint8

// The outcomes of ProcessOnce.
const (
	// DedupeProcessed: fn ran and returned nil; answer success.
	DedupeProcessed DedupeOutcome = iota + 1
	// DedupeFailed: fn returned an error or panicked, and the lease was
	// released; answer a 5xx so that WeChat retries.
	DedupeFailed
	// DedupeDuplicate: the push was processed before; fn did not run.
	// Answer success.
	DedupeDuplicate
	// DedupeInProgress: another delivery holds the push's lease (its
	// callback is running, or its owner stopped less than a lease ago); fn
	// did not run. Answer 503 so that WeChat asks again.
	DedupeInProgress
	// DedupeUnavailable: the Deduper failed; fn did not run. Answer 503 so
	// that WeChat retries.
	DedupeUnavailable
)

// ProcessOnce runs fn for the push named key unless d says that the push is
// processed or being processed, holding a lease on key (see Deduper) while
// fn runs: it claims key with an owner id of its own, renews the lease every
// third of d.Lease() until fn returns, then records the push as processed for
// ttl (Done) if fn returned nil, or releases the lease if fn failed or
// panicked. fn runs on the caller's goroutine with ctx; Done and Release run
// even if ctx ended meanwhile.
//
// The error is fn's (DedupeFailed) or the Deduper's (DedupeUnavailable), for
// the caller to log. Failures the caller cannot see (renewals, Release
// after a failure, Done) are logged to log at Error, with key; log may be
// nil. EventHandler delivers every push through ProcessOnce; use it to give
// a handler of your own the same rule.
func ProcessOnce(ctx context.Context, d Deduper, key string, ttl time.Duration, log *slog.Logger,
	fn func(context.Context) error) (DedupeOutcome, error) {
	owner, err := newDedupeOwner()
	var status ClaimStatus
	if err == nil {
		status, err = d.Claim(ctx, key, owner)
	}
	if err != nil {
		return DedupeUnavailable, err
	}
	switch status {
	case ClaimAcquired:
	case ClaimDone:
		return DedupeDuplicate, nil
	default:
		// Running elsewhere: answer success only once it succeeded, since
		// the other delivery may yet fail.
		return DedupeInProgress, nil
	}

	err = runLeased(ctx, d, key, owner, log, fn)
	// Record the outcome under a context of its own: WeChat may hang up while
	// it is recorded, and a lost done-mark would let a retry run fn again.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil {
		if rerr := d.Release(after, key, owner); rerr != nil {
			logDedupe(ctx, log, "wxinvoice: deduper release failed; WeChat's retries are answered 503 until the lease ends", key, rerr)
		}
		return DedupeFailed, err
	}
	if derr := d.Done(after, key, ttl); derr != nil {
		logDedupe(ctx, log, "wxinvoice: deduper done-mark failed; a retry after the lease ends runs the callback again", key, derr)
	}
	return DedupeProcessed, nil
}

// runOnce delivers the push named key to fn through ProcessOnce and answers
// WeChat; both the invoice and the component handlers call it. Within the
// process, deliveries with the same key wait for each other, so that a
// retry that arrives while the first delivery is still running learns its
// outcome instead of being answered 503.
func (h *EventHandler) runOnce(w http.ResponseWriter, r *http.Request, key string, fn func(context.Context) error) {
	ctx := r.Context()
	var done chan struct{}
	for done == nil {
		h.mu.Lock()
		wait, busy := h.inflight[key]
		if !busy {
			done = make(chan struct{})
			h.inflight[key] = done
		}
		h.mu.Unlock()
		if busy {
			select {
			case <-wait:
			case <-ctx.Done():
				reply(w, http.StatusServiceUnavailable, "busy")
				return
			}
		}
	}
	defer func() {
		h.mu.Lock()
		delete(h.inflight, key)
		h.mu.Unlock()
		close(done)
	}()

	outcome, err := ProcessOnce(ctx, h.deduper, key, h.ttl, h.log, fn)
	notePushOutcome(ctx, outcome)
	switch outcome {
	case DedupeProcessed, DedupeDuplicate:
		replySuccess(w)
	case DedupeFailed:
		if _, ok := err.(*inboxAppendError); ok {
			logDedupe(ctx, h.log, "wxinvoice: inbox append failed; asking WeChat to retry", key, err)
			reply(w, http.StatusServiceUnavailable, "inbox unavailable")
			return
		}
		logDedupe(ctx, h.log, "wxinvoice: event callback failed; asking WeChat to retry", key, err)
		reply(w, http.StatusInternalServerError, "event not processed")
	case DedupeInProgress:
		reply(w, http.StatusServiceUnavailable, "event in progress")
	default:
		logDedupe(ctx, h.log, "wxinvoice: deduper failed; asking WeChat to retry", key, err)
		reply(w, http.StatusServiceUnavailable, "deduper unavailable")
	}
}

// runLeased runs fn while renewing owner's lease on key, and turns a panic
// of fn into an error.
func runLeased(ctx context.Context, d Deduper, key, owner string, log *slog.Logger, fn func(context.Context) error) (err error) {
	stop := keepLease(ctx, d, key, owner, log)
	defer stop()
	defer func() {
		if v := recover(); v != nil {
			err = errCallbackPanic{v}
		}
	}()
	return fn(ctx)
}

// leaseKeeper renews owner's lease on key every third of the Deduper's
// Lease until stop, from a timer, so that a callback that ends before the
// first renewal costs no goroutine. Failures are logged; the callback is
// never interrupted.
type leaseKeeper struct {
	d            Deduper
	log          *slog.Logger
	ctx          context.Context // the caller's: values for the Deduper and the log
	key, owner   string
	lease, every time.Duration

	mu       sync.Mutex
	stopped  bool
	timer    *time.Timer
	cancel   context.CancelFunc // of the renewal in flight, if any
	inflight sync.WaitGroup
}

// keepLease starts renewing owner's lease on key; stop ends it and returns
// once no renewal is running.
func keepLease(ctx context.Context, d Deduper, key, owner string, log *slog.Logger) (stop func()) {
	lease := d.Lease()
	if lease/3 <= 0 {
		return func() {}
	}
	k := &leaseKeeper{d: d, log: log, ctx: ctx, key: key, owner: owner, lease: lease, every: lease / 3}
	k.mu.Lock()
	k.timer = time.AfterFunc(k.every, k.fire)
	k.mu.Unlock()
	return k.stop
}

func (k *leaseKeeper) stop() {
	k.mu.Lock()
	k.stopped = true
	k.timer.Stop()
	if k.cancel != nil {
		k.cancel()
	}
	k.mu.Unlock()
	k.inflight.Wait()
}

// fire renews the lease once and schedules the next renewal.
func (k *leaseKeeper) fire() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(k.ctx), k.lease)
	k.cancel = cancel
	k.inflight.Add(1)
	k.mu.Unlock()
	defer k.inflight.Done()

	again := k.renew(rctx)
	cancel()
	k.mu.Lock()
	k.cancel = nil
	if again && !k.stopped {
		k.timer.Reset(k.every)
	}
	k.mu.Unlock()
}

// renew asks the Deduper once and reports whether to go on renewing.
func (k *leaseKeeper) renew(ctx context.Context) (again bool) {
	defer func() {
		if v := recover(); v != nil {
			logDedupe(k.ctx, k.log, "wxinvoice: deduper renew panicked; the lease is no longer renewed", k.key, nil)
			again = false
		}
	}()
	ok, err := k.d.Renew(ctx, k.key, k.owner)
	k.mu.Lock()
	stopped := k.stopped
	k.mu.Unlock()
	switch {
	case stopped:
		return false
	case err != nil:
		logDedupe(k.ctx, k.log, "wxinvoice: deduper renew failed; the callback goes on, a retry after the lease ends may run it again", k.key, err)
		return true
	case !ok:
		logDedupe(k.ctx, k.log, "wxinvoice: dedupe lease lost while the callback runs; a retry may run it again", k.key, nil)
		return false
	}
	return true
}

// logDedupe logs a dedupe or callback failure at Error, with the push's key
// (which holds no secrets). log may be nil.
func logDedupe(ctx context.Context, log *slog.Logger, msg, key string, err error) {
	if log == nil {
		return
	}
	attrs := []slog.Attr{slog.String("key", key)}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	log.LogAttrs(ctx, slog.LevelError, msg, attrs...)
}

// DefaultMemoryDeduperEntries is the capacity of NewMemoryDeduper(0).
const DefaultMemoryDeduperEntries = 100_000

// NewMemoryDeduper returns an in-process Deduper whose leases last
// DefaultDedupeLease and that remembers at most maxEntries keys (maxEntries
// <= 0: DefaultMemoryDeduperEntries), leases and Done records alike. When
// full, it forgets the oldest first (a Done record counts from when it was
// made); WeChat's retries come within about 15 s, so size it above the
// number of pushes a process receives in that time; to also refuse replays
// of captured pushes, above the number it receives in twice the
// EventHandler's TimestampWindow (10 minutes by default). It is safe for
// concurrent use.
//
// It serves one process only: with several instances behind a load balancer
// use a shared Deduper such as redisstore.Store.
func NewMemoryDeduper(maxEntries int) Deduper {
	return newMemoryDeduper(maxEntries)
}

// memoryDeduper is a map of keys to expiry plus a FIFO of insertions, which
// yields both expiry and capacity eviction in insertion order.
type memoryDeduper struct {
	now   func() time.Time
	lease time.Duration
	max   int

	mu    sync.Mutex
	seq   uint64
	items map[string]memoryEntry
	queue []memoryClaim // insertions in order; stale ones (released, replaced) are skipped
	head  int
}

type memoryEntry struct {
	expires int64 // UnixNano
	seq     uint64
	owner   string // the lease's owner; "" once done
	done    bool
}

type memoryClaim struct {
	key string
	seq uint64
}

func newMemoryDeduper(maxEntries int) *memoryDeduper {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryDeduperEntries
	}
	return &memoryDeduper{now: time.Now, lease: DefaultDedupeLease, max: maxEntries, items: make(map[string]memoryEntry)}
}

// expiry returns now+d, saturating instead of overflowing.
func expiry(now int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

// Lease implements Deduper.
func (d *memoryDeduper) Lease() time.Duration { return d.lease }

// Claim implements Deduper.
func (d *memoryDeduper) Claim(_ context.Context, key, owner string) (ClaimStatus, error) {
	if owner == "" {
		return 0, errors.New("wxinvoice: dedupe claim: empty owner")
	}
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evict(now)
	if e, ok := d.items[key]; ok && e.expires > now {
		if e.done {
			return ClaimDone, nil
		}
		return ClaimHeld, nil
	}
	d.put(key, memoryEntry{expires: expiry(now, d.lease), owner: owner})
	return ClaimAcquired, nil
}

// Renew implements Deduper.
func (d *memoryDeduper) Renew(_ context.Context, key, owner string) (bool, error) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.items[key]
	if !ok || e.done || e.owner != owner || e.expires <= now {
		return false, nil
	}
	e.expires = expiry(now, d.lease)
	d.items[key] = e
	return true, nil
}

// Done implements Deduper.
func (d *memoryDeduper) Done(_ context.Context, key string, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = DefaultDedupeTTL
	}
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.put(key, memoryEntry{expires: expiry(now, ttl), done: true})
	d.evict(now)
	return nil
}

// Release implements Deduper.
func (d *memoryDeduper) Release(_ context.Context, key, owner string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.items[key]; ok && !e.done && e.owner == owner {
		delete(d.items, key)
	}
	return nil
}

// put stores e as key's entry at the back of the queue, evicting the oldest
// entries beyond capacity. d.mu is held.
func (d *memoryDeduper) put(key string, e memoryEntry) {
	d.seq++
	e.seq = d.seq
	d.items[key] = e
	d.queue = append(d.queue, memoryClaim{key: key, seq: d.seq})
	for len(d.items) > d.max {
		d.pop()
	}
}

// evict drops expired entries from the front of the queue. Entries that
// outlive later ones (a Done record before a lease) are dropped when they
// reach the front after expiry or when capacity forces it.
func (d *memoryDeduper) evict(now int64) {
	for d.head < len(d.queue) {
		c := d.queue[d.head]
		e, ok := d.items[c.key]
		if ok && e.seq == c.seq && e.expires > now {
			break
		}
		d.pop()
	}
	// Stale entries (released or replaced keys) must not grow the queue
	// without bound.
	if live := len(d.queue) - d.head; live > 2*len(d.items)+64 {
		d.compact()
	}
}

// pop removes the front entry and, if it is still the key's current entry,
// the key (the caller decided it has expired or must make room).
func (d *memoryDeduper) pop() {
	c := d.queue[d.head]
	d.queue[d.head] = memoryClaim{}
	d.head++
	if e, ok := d.items[c.key]; ok && e.seq == c.seq {
		delete(d.items, c.key)
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		d.compact()
	}
}

// compact drops consumed and stale queue slots.
func (d *memoryDeduper) compact() {
	q := d.queue[:0]
	for _, c := range d.queue[d.head:] {
		if e, ok := d.items[c.key]; ok && e.seq == c.seq {
			q = append(q, c)
		}
	}
	clear(d.queue[len(q):])
	d.queue = q
	d.head = 0
}
