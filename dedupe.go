package wxinvoice

import (
	"context"
	"sync"
	"time"
)

// Deduper remembers which pushes an EventHandler has already processed, so
// that WeChat's retries of the same event (up to 3 within 5 s) run the
// callback once.
//
// Implementations must be safe for concurrent use by multiple goroutines; the
// in-memory default (NewMemoryDeduper) serves one process and
// redisstore.Store serves many.
type Deduper interface {
	// Claim records key for ttl. It reports true when the caller is the
	// first to claim key (process the event) and false when key is already
	// claimed (a duplicate: skip it). An error means the answer is unknown;
	// the handler then answers 5xx so WeChat retries.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release forgets key, so that a retry of an event whose callback failed
	// is processed again.
	Release(ctx context.Context, key string) error
}

// DedupeTracker is an optional interface of a Deduper that also records when
// a claimed push has been processed. With it, a duplicate that arrives while
// the first delivery is still running elsewhere (WeChat retries after 5 s) is
// answered 503, so that WeChat asks again later, instead of "success": if the
// first delivery then fails and releases its key, a later retry processes the
// push instead of it being lost. Without it, any duplicate is answered
// "success". NewMemoryDeduper and redisstore.Store implement it.
type DedupeTracker interface {
	// Done marks a claimed key as processed, keeping its expiry.
	Done(ctx context.Context, key string) error
	// Processed reports whether key was marked Done; false while it is only
	// claimed (or not claimed at all).
	Processed(ctx context.Context, key string) (bool, error)
}

// DefaultMemoryDeduperEntries is the capacity of NewMemoryDeduper(0).
const DefaultMemoryDeduperEntries = 100_000

// NewMemoryDeduper returns an in-process Deduper that remembers at most
// maxEntries keys (maxEntries <= 0: DefaultMemoryDeduperEntries), each for
// the ttl given to Claim. When full, it forgets the oldest claims first;
// WeChat's retries come within about 15 s, so size it above the number of
// pushes a process receives in that time; to also refuse replays of
// captured pushes, above the number it receives in twice the EventHandler's
// TimestampWindow (10 minutes by default). It is safe for concurrent use.
//
// It serves one process only: with several instances behind a load balancer
// use a shared Deduper such as redisstore.Store.
func NewMemoryDeduper(maxEntries int) Deduper {
	return newMemoryDeduper(maxEntries)
}

// memoryDeduper is a map of keys to expiry plus a FIFO of claims, which
// yields both expiry and capacity eviction in claim order.
type memoryDeduper struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	seq   uint64
	items map[string]memoryEntry
	queue []memoryClaim // claims in order; stale ones (released, reclaimed) are skipped
	head  int
}

type memoryEntry struct {
	expires int64 // UnixNano
	seq     uint64
	done    bool // processed (DedupeTracker)
}

type memoryClaim struct {
	key string
	seq uint64
}

func newMemoryDeduper(maxEntries int) *memoryDeduper {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryDeduperEntries
	}
	return &memoryDeduper{now: time.Now, max: maxEntries, items: make(map[string]memoryEntry)}
}

// Claim implements Deduper.
func (d *memoryDeduper) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evict(now)
	if e, ok := d.items[key]; ok && e.expires > now {
		return false, nil
	}
	d.seq++
	d.items[key] = memoryEntry{expires: now + int64(ttl), seq: d.seq}
	d.queue = append(d.queue, memoryClaim{key: key, seq: d.seq})
	for len(d.items) > d.max {
		d.pop()
	}
	return true, nil
}

// Done implements DedupeTracker.
func (d *memoryDeduper) Done(_ context.Context, key string) error {
	d.mu.Lock()
	if e, ok := d.items[key]; ok {
		e.done = true
		d.items[key] = e
	}
	d.mu.Unlock()
	return nil
}

// Processed implements DedupeTracker.
func (d *memoryDeduper) Processed(_ context.Context, key string) (bool, error) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.items[key]
	return ok && e.done && e.expires > now, nil
}

// Release implements Deduper.
func (d *memoryDeduper) Release(_ context.Context, key string) error {
	d.mu.Lock()
	delete(d.items, key)
	d.mu.Unlock()
	return nil
}

// evict drops expired claims from the front of the queue. Claims made with a
// longer ttl than later ones may outlive their position; they are dropped
// when they reach the front after expiry or when capacity forces it.
func (d *memoryDeduper) evict(now int64) {
	for d.head < len(d.queue) {
		c := d.queue[d.head]
		e, ok := d.items[c.key]
		if ok && e.seq == c.seq && e.expires > now {
			break
		}
		d.pop()
	}
	// Stale entries (released keys) must not grow the queue without bound.
	if live := len(d.queue) - d.head; live > 2*len(d.items)+64 {
		d.compact()
	}
}

// pop removes the front claim and, if it is still the key's current claim,
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
