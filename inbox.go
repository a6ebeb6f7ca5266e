package wxinvoice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Envelope is one push in an Inbox: the decrypted push and what the
// EventHandler learnt about it.
type Envelope struct {
	// ID is the Inbox's id of the entry (a Redis stream id in redisstore);
	// Append ignores it and the consumer side sets it.
	ID string
	// Kind is the event name for MsgType event (e.g. update_invoice_status),
	// the MsgType otherwise.
	Kind string
	// Key is the push's dedupe key (see EventHandler): the same for
	// WeChat's retries of one push, so a callback can use it to make its
	// effect idempotent. It holds no secrets.
	Key string
	// Payload is the push's plaintext XML (decrypted in safe mode). It may
	// hold personal data (an invoice title's phone, tax number): restrict
	// who can read the Inbox's storage.
	Payload []byte
	// Received is when the EventHandler received the push.
	Received time.Time
	// Attempts is the number of the delivery attempt in progress, counting
	// from 1, on the consumer side (attempts of workers that died
	// included); zero in Append.
	Attempts int
}

// DeadLetter is an Envelope that exhausted its attempts (or could not be
// decoded), as listed by Inbox.DeadLetters.
type DeadLetter struct {
	ID       string    // the dead letter's own id, for Replay
	Envelope Envelope  // the push; Envelope.ID is its id in the inbox
	Reason   string    // the last error
	Failed   time.Time // when it was dead-lettered
}

// InboxStats are an Inbox's gauges at one moment.
type InboxStats struct {
	// Length is the number of entries not yet acknowledged: Lag + Pending.
	Length int64
	// Lag is the number of entries no worker has read yet.
	Lag int64
	// Pending is the number of entries a worker read and has not yet
	// acknowledged or dead-lettered (being processed, waiting for a retry,
	// or held by a worker that died, until the visibility timeout).
	Pending int64
	// DeadLetters is the number of dead letters.
	DeadLetters int64
}

// ErrInboxFull is returned by Append when the Inbox holds its maximum
// number of unacknowledged entries; the EventHandler then answers 503 so
// that WeChat retries. An Inbox never drops an unacknowledged entry to make
// room.
var ErrInboxFull = errors.New("wxinvoice: inbox full")

// Inbox is a queue of pushes between an EventHandler (EventConfig.Inbox),
// which appends each authenticated, deduplicated push and answers WeChat
// once Append returned nil, and InboxWorkers, which deliver them to the
// callbacks at least once.
//
// The consumer side is a consumer group: Read hands entries that no consumer
// has read to one consumer, which holds them (pending) until it Acks or
// DeadLetters them; Claim takes over entries another consumer has held for
// longer than minIdle without an Extend (the consumer died or stalled).
// Every delivery is counted (Envelope.Attempts), Claim included, so that an
// entry whose processing kills its worker reaches the dead letters too.
//
// Implementations must be safe for concurrent use: NewMemoryInbox (one
// process, not durable) and redisstore's Inbox (Redis Streams, durable as
// far as Redis is configured to be).
type Inbox interface {
	// Append stores env (its ID and Attempts are ignored) and returns once
	// it is stored as durably as the Inbox can: nil means the entry will be
	// delivered. An error means it may or may not have been stored.
	Append(ctx context.Context, env Envelope) error
	// Read hands up to max entries that no consumer has read to consumer,
	// oldest first, with Attempts 1, waiting up to block for one when there
	// is none.
	Read(ctx context.Context, consumer string, max int, block time.Duration) ([]Envelope, error)
	// Claim hands up to max entries that other consumers (or consumer
	// itself, in an earlier life) have held for at least minIdle since
	// their last delivery or Extend to consumer, oldest first, counting a
	// delivery each (Attempts).
	Claim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Envelope, error)
	// Extend restarts the idle time of consumer's entry id (a heartbeat)
	// and records attempts as its Attempts. It reports false when the
	// entry is not held by consumer (acknowledged, dead-lettered, or
	// claimed by another consumer).
	Extend(ctx context.Context, consumer, id string, attempts int) (bool, error)
	// Ack removes entry id: it is processed. Acking an unknown id does
	// nothing.
	Ack(ctx context.Context, id string) error
	// DeadLetter moves entry env.ID to the dead letters with reason, in one
	// atomic step.
	DeadLetter(ctx context.Context, env Envelope, reason string) error
	// DeadLetters lists up to max dead letters, oldest first.
	DeadLetters(ctx context.Context, max int) ([]DeadLetter, error)
	// Replay moves dead letter id back into the inbox as a new entry (its
	// attempts start again from 1) and returns its new id.
	Replay(ctx context.Context, id string) (string, error)
	// Stats reports the Inbox's gauges.
	Stats(ctx context.Context) (InboxStats, error)
}

// inboxAppendError marks a failed Append in the handler, answered 503.
type inboxAppendError struct{ err error }

func (e *inboxAppendError) Error() string { return "wxinvoice: inbox append: " + e.err.Error() }
func (e *inboxAppendError) Unwrap() error { return e.err }

// enqueue appends a decoded push to the Inbox once per dedupe key (through
// runOnce: a push counts as processed once appended), and answers "success"
// once Append returned nil, 503 when it failed.
func (h *EventHandler) enqueue(w http.ResponseWriter, r *http.Request, f *pushFields, key string, raw []byte) {
	kind := f.MsgType
	if kind == "event" {
		kind = f.Event
	}
	env := Envelope{Kind: kind, Key: key, Payload: raw, Received: h.now()}
	h.runOnce(w, r, key, func(ctx context.Context) error {
		if err := h.inbox.Append(ctx, env); err != nil {
			return &inboxAppendError{err}
		}
		return nil
	})
}

type envelopeKey struct{}

// EnvelopeFromContext returns the Envelope an InboxWorker is delivering, from
// the context of its callback: its Key and ID identify the push, e.g. to make
// a callback's effect idempotent.
func EnvelopeFromContext(ctx context.Context) (Envelope, bool) {
	env, ok := ctx.Value(envelopeKey{}).(Envelope)
	return env, ok
}

// DefaultMemoryInboxEntries is the capacity of NewMemoryInbox(0).
const DefaultMemoryInboxEntries = 100_000

// NewMemoryInbox returns an Inbox held in this process's memory, for tests
// and for single-process services that want WeChat answered at once while
// callbacks run (and retry) in the background.
//
// It is NOT durable: every entry it holds, dead letters included, is lost
// when the process exits or crashes, after the EventHandler told WeChat
// "success". Use redisstore's Inbox when a push must survive a restart.
//
// It holds at most maxEntries unacknowledged entries (maxEntries <= 0:
// DefaultMemoryInboxEntries), Append returning ErrInboxFull beyond, and as
// many dead letters, the oldest dropped first (as redisstore's MAXLEN does).
// It is safe for concurrent use.
func NewMemoryInbox(maxEntries int) Inbox {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryInboxEntries
	}
	return &memoryInbox{max: maxEntries, now: time.Now, entries: make(map[uint64]*memoryInboxEntry),
		held: make(map[uint64]struct{}), wake: make(chan struct{})}
}

type memoryInbox struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	seq     uint64
	entries map[uint64]*memoryInboxEntry // unacknowledged
	unread  []uint64                     // not yet read, oldest first (acked ones skipped)
	held    map[uint64]struct{}          // read and not acknowledged: what Claim scans
	dead    []DeadLetter
	wake    chan struct{} // closed and replaced on Append
}

type memoryInboxEntry struct {
	env      Envelope
	consumer string    // "" while unread
	since    time.Time // last delivery or Extend
}

func memoryID(n uint64) string { return strconv.FormatUint(n, 10) }

func parseMemoryID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil
}

func (m *memoryInbox) Append(ctx context.Context, env Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.appendLocked(env)
	return err
}

// appendLocked stores env as a new unread entry. m.mu is held.
func (m *memoryInbox) appendLocked(env Envelope) (string, error) {
	if len(m.entries) >= m.max {
		return "", ErrInboxFull
	}
	m.seq++
	env.ID, env.Attempts = memoryID(m.seq), 0
	env.Payload = slices.Clone(env.Payload)
	m.entries[m.seq] = &memoryInboxEntry{env: env}
	m.unread = append(m.unread, m.seq)
	close(m.wake)
	m.wake = make(chan struct{})
	return env.ID, nil
}

func (m *memoryInbox) Read(ctx context.Context, consumer string, max int, block time.Duration) ([]Envelope, error) {
	if consumer == "" || max <= 0 {
		return nil, errors.New("wxinvoice: memory inbox read: empty consumer or max <= 0")
	}
	var timer <-chan time.Time
	for {
		m.mu.Lock()
		var out []Envelope
		now := m.now()
		for len(m.unread) > 0 && len(out) < max {
			id := m.unread[0]
			m.unread = m.unread[1:]
			e, ok := m.entries[id]
			if !ok {
				continue
			}
			e.consumer, e.since, e.env.Attempts = consumer, now, 1
			m.held[id] = struct{}{}
			out = append(out, cloneEnvelope(e.env))
		}
		wake := m.wake
		m.mu.Unlock()
		if len(out) > 0 || block <= 0 {
			return out, nil
		}
		if timer == nil {
			t := time.NewTimer(block)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-wake:
		case <-timer:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func cloneEnvelope(e Envelope) Envelope {
	e.Payload = slices.Clone(e.Payload)
	return e
}

func (m *memoryInbox) Claim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Envelope, error) {
	if consumer == "" || max <= 0 {
		return nil, errors.New("wxinvoice: memory inbox claim: empty consumer or max <= 0")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var ids []uint64
	for id := range m.held {
		if now.Sub(m.entries[id].since) >= minIdle {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []Envelope
	for _, id := range ids[:min(len(ids), max)] {
		e := m.entries[id]
		e.consumer, e.since = consumer, now
		e.env.Attempts++
		out = append(out, cloneEnvelope(e.env))
	}
	return out, nil
}

func (m *memoryInbox) Extend(ctx context.Context, consumer, id string, attempts int) (bool, error) {
	n, ok := parseMemoryID(id)
	if !ok {
		return false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[n]
	if !ok || e.consumer != consumer {
		return false, nil
	}
	e.since = m.now()
	e.env.Attempts = attempts
	return true, nil
}

func (m *memoryInbox) Ack(ctx context.Context, id string) error {
	if n, ok := parseMemoryID(id); ok {
		m.mu.Lock()
		delete(m.entries, n)
		delete(m.held, n)
		m.mu.Unlock()
	}
	return nil
}

func (m *memoryInbox) DeadLetter(ctx context.Context, env Envelope, reason string) error {
	n, ok := parseMemoryID(env.ID)
	if !ok {
		return fmt.Errorf("wxinvoice: memory inbox dead-letter: invalid id %q", env.ID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[n]
	if !ok {
		return nil // acknowledged or dead-lettered by another consumer
	}
	if len(m.dead) >= m.max {
		m.dead = slices.Delete(m.dead, 0, 1) // the oldest goes, as Redis's MAXLEN does
	}
	delete(m.entries, n)
	delete(m.held, n)
	m.seq++
	env = cloneEnvelope(e.env)
	m.dead = append(m.dead, DeadLetter{ID: memoryID(m.seq), Envelope: env, Reason: reason, Failed: m.now()})
	return nil
}

func (m *memoryInbox) DeadLetters(ctx context.Context, max int) ([]DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if max <= 0 {
		return nil, nil
	}
	out := slices.Clone(m.dead[:min(max, len(m.dead))])
	for i := range out {
		out[i].Envelope = cloneEnvelope(out[i].Envelope)
	}
	return out, nil
}

func (m *memoryInbox) Replay(ctx context.Context, id string) (string, error) {
	m.mu.Lock()
	i := slices.IndexFunc(m.dead, func(d DeadLetter) bool { return d.ID == id })
	if i < 0 {
		m.mu.Unlock()
		return "", fmt.Errorf("wxinvoice: memory inbox replay: no dead letter %q", id)
	}
	defer m.mu.Unlock()
	nid, err := m.appendLocked(m.dead[i].Envelope)
	if err != nil {
		return "", err
	}
	m.dead = slices.Delete(m.dead, i, i+1)
	return nid, nil
}

func (m *memoryInbox) Stats(ctx context.Context) (InboxStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := InboxStats{Length: int64(len(m.entries)), Pending: int64(len(m.held))}
	s.Lag = s.Length - s.Pending
	s.DeadLetters = int64(len(m.dead))
	return s, nil
}
