package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
)

// Defaults of the Inbox.
const (
	// DefaultInboxName is the name of Store.Inbox("").
	DefaultInboxName = "events"
	// DefaultInboxMaxLen is the default WithInboxMaxLen.
	DefaultInboxMaxLen = 1_000_000
	// DefaultDeadLetterMaxLen is the default WithDeadLetterMaxLen.
	DefaultDeadLetterMaxLen = 100_000
	// InboxGroup is the consumer group the InboxWorkers share.
	InboxGroup = "wxinvoice"
)

// Inbox is a wxinvoice.Inbox on Redis Streams: a stream of pushes read
// through one consumer group (XREADGROUP), acknowledged and deleted
// (XACK + XDEL) once processed, taken over from a worker that stopped
// heartbeating (XAUTOCLAIM), and a dead-letter stream. Create it with
// Store.Inbox.
//
// Keys, with the default prefix and name:
//
//	wxinvoice:inbox:{events}        stream: the entries not yet processed (fields kind, key, payload, received)
//	wxinvoice:inbox:{events}:dead   stream: the dead letters (the same fields, plus id, reason, failed, attempts)
//
// The name is a hash tag, so both streams of an inbox live on one Cluster
// slot and every multi-key step is one atomic Lua script.
//
// Length policy. Processed entries are deleted, so the stream holds only
// unprocessed ones, which Redis must never trim: Append refuses an entry
// (wxinvoice.ErrInboxFull, and the EventHandler answers 503 so that WeChat
// retries) while the stream holds WithInboxMaxLen entries, instead of
// XADD MAXLEN dropping the oldest unprocessed push. The dead-letter stream
// is bounded by XADD MAXLEN ~ WithDeadLetterMaxLen: beyond it the oldest
// dead letters are dropped.
//
// Durability is Redis's: Append returns once Redis answered the XADD, which
// with appendonly yes and appendfsync always is after the AOF was fsynced.
// With appendfsync everysec up to a second of appends can be lost in a crash
// of the Redis host; without the AOF, everything since the last snapshot.
// A failover to a replica can lose what was not yet replicated. See
// docs/multi-instance.md.
//
// Inbox is safe for concurrent use by multiple goroutines.
type Inbox struct {
	s          *Store
	stream     string
	dead       string
	maxLen     int64
	deadMaxLen int64
}

var _ wxinvoice.Inbox = (*Inbox)(nil)

// InboxOption configures an Inbox in Store.Inbox.
type InboxOption func(*Inbox)

// WithInboxMaxLen bounds the number of unprocessed entries (default
// DefaultInboxMaxLen; zero or negative: the default). Append fails with
// wxinvoice.ErrInboxFull at the bound; nothing is trimmed.
func WithInboxMaxLen(n int64) InboxOption { return func(in *Inbox) { in.maxLen = n } }

// WithDeadLetterMaxLen bounds the dead-letter stream, approximately (XADD
// MAXLEN ~; default DefaultDeadLetterMaxLen; zero or negative: the default):
// beyond it the oldest dead letters are dropped.
func WithDeadLetterMaxLen(n int64) InboxOption { return func(in *Inbox) { in.deadMaxLen = n } }

// Inbox returns the Store's inbox called name (empty: DefaultInboxName),
// with the Store's key prefix and timeout. Every instance of a service that
// appends to or consumes one inbox uses the same prefix and name. The name
// is refused if it holds '{' or '}' (it is the keys' hash tag). Inbox sends
// nothing to Redis: the consumer group is created by the first Read or
// Claim.
func (s *Store) Inbox(name string, opts ...InboxOption) (*Inbox, error) {
	if name == "" {
		name = DefaultInboxName
	}
	if strings.ContainsAny(name, "{}") {
		return nil, &wxinvoice.ValidationError{Field: "name", Reason: "must not contain '{' or '}'"}
	}
	in := &Inbox{s: s, stream: s.prefix + "inbox:{" + name + "}"}
	in.dead = in.stream + ":dead"
	for _, o := range opts {
		o(in)
	}
	if in.maxLen <= 0 {
		in.maxLen = DefaultInboxMaxLen
	}
	if in.deadMaxLen <= 0 {
		in.deadMaxLen = DefaultDeadLetterMaxLen
	}
	return in, nil
}

// StreamKey returns the Redis key of the inbox's stream.
func (in *Inbox) StreamKey() string { return in.stream }

// DeadLetterKey returns the Redis key of the inbox's dead-letter stream.
func (in *Inbox) DeadLetterKey() string { return in.dead }

// appendScript adds an entry to KEYS[1] unless it holds ARGV[1] entries.
var appendScript = redis.NewScript(`
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'kind', ARGV[2], 'key', ARGV[3], 'payload', ARGV[4], 'received', ARGV[5])
`)

// Append adds env to the stream (a one-key Lua script: XLEN, then XADD) and
// returns once Redis answered; see Inbox for what that means for
// durability. It implements wxinvoice.Inbox.
func (in *Inbox) Append(ctx context.Context, env wxinvoice.Envelope) error {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	var received int64 // 0: unknown
	if !env.Received.IsZero() {
		received = env.Received.UnixMilli()
	}
	err := appendScript.Run(ctx, in.s.rdb, []string{in.stream}, in.maxLen, env.Kind, env.Key, env.Payload, received).Err()
	if errors.Is(err, redis.Nil) {
		return wxinvoice.ErrInboxFull
	}
	if err != nil {
		return fmt.Errorf("redisstore: inbox append: %w", err)
	}
	return nil
}

// withGroup runs fn, creating the consumer group (from the stream's first
// entry, creating the stream if needed) and running fn again if it does not
// exist, e.g. after Redis lost its data.
func (in *Inbox) withGroup(ctx context.Context, fn func() error) error {
	err := fn()
	if err == nil || !strings.HasPrefix(err.Error(), "NOGROUP") {
		return err
	}
	if err := in.s.rdb.XGroupCreateMkStream(ctx, in.stream, InboxGroup, "0").Err(); err != nil &&
		!strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return fn()
}

// Read hands up to max new entries to consumer (XREADGROUP ... BLOCK block
// STREAMS stream >). It implements wxinvoice.Inbox.
func (in *Inbox) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]wxinvoice.Envelope, error) {
	if consumer == "" || n <= 0 {
		return nil, errors.New("redisstore: inbox read: empty consumer or max <= 0")
	}
	if in.s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.s.timeout+max(block, 0))
		defer cancel()
	}
	b := time.Duration(-1) // no BLOCK
	if block > 0 {
		b = max(block, time.Millisecond)
	}
	var res []redis.XStream
	err := in.withGroup(ctx, func() error {
		var err error
		res, err = in.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: InboxGroup, Consumer: consumer,
			Streams: []string{in.stream, ">"}, Count: int64(n), Block: b}).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: inbox read: %w", err)
	}
	var out []wxinvoice.Envelope
	for _, st := range res {
		for _, m := range st.Messages {
			env := envelope(m)
			env.Attempts = 1
			out = append(out, env)
		}
	}
	return out, nil
}

// envelope decodes a stream entry.
func envelope(m redis.XMessage) wxinvoice.Envelope {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	env := wxinvoice.Envelope{ID: m.ID, Kind: str("kind"), Key: str("key"), Payload: []byte(str("payload"))}
	if ms, err := strconv.ParseInt(str("received"), 10, 64); err == nil && ms != 0 {
		env.Received = time.UnixMilli(ms)
	}
	return env
}

// maxClaimScans bounds the XAUTOCLAIM calls of one Claim (each scans up to
// ten times max pending entries).
const maxClaimScans = 100

// Claim takes over up to max entries idle for at least minIdle (XAUTOCLAIM,
// following its cursor through the pending entries), and reads their
// delivery counts (XPENDING), which XAUTOCLAIM incremented. It implements
// wxinvoice.Inbox.
func (in *Inbox) Claim(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]wxinvoice.Envelope, error) {
	if consumer == "" || n <= 0 {
		return nil, errors.New("redisstore: inbox claim: empty consumer or max <= 0")
	}
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	var msgs []redis.XMessage
	start := "0-0"
	for range maxClaimScans {
		var got []redis.XMessage
		var next string
		err := in.withGroup(ctx, func() error {
			var err error
			got, next, err = in.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: in.stream, Group: InboxGroup,
				Consumer: consumer, MinIdle: max(minIdle, time.Millisecond), Start: start, Count: int64(n - len(msgs))}).Result()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: inbox claim: %w", err)
		}
		msgs = append(msgs, got...)
		if len(msgs) >= n || next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	pend, err := in.s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: in.stream, Group: InboxGroup,
		Start: msgs[0].ID, End: msgs[len(msgs)-1].ID, Count: int64(len(msgs)), Consumer: consumer}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: inbox claim: %w", err)
	}
	count := make(map[string]int64, len(pend))
	for _, p := range pend {
		count[p.ID] = p.RetryCount
	}
	out := make([]wxinvoice.Envelope, 0, len(msgs))
	for _, m := range msgs {
		env := envelope(m)
		env.Attempts = int(max(count[m.ID], 1))
		out = append(out, env)
	}
	return out, nil
}

// extendScript restarts the idle time of entry ARGV[3] and sets its delivery
// count to ARGV[4] if consumer ARGV[2] of group ARGV[1] holds it.
var extendScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'RETRYCOUNT', ARGV[4], 'JUSTID')
return 1
`)

// Extend restarts the idle time of consumer's entry id and sets its delivery
// count to attempts (a one-key Lua script: XPENDING to check the holder,
// then XCLAIM ... RETRYCOUNT JUSTID). It implements wxinvoice.Inbox.
func (in *Inbox) Extend(ctx context.Context, consumer, id string, attempts int) (bool, error) {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	n, err := extendScript.Run(ctx, in.s.rdb, []string{in.stream}, InboxGroup, consumer, id, attempts).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: inbox extend: %w", err)
	}
	return n == 1, nil
}

// ackScript acknowledges and deletes entry ARGV[2].
var ackScript = redis.NewScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
`)

// Ack acknowledges and deletes entry id (a one-key Lua script: XACK, XDEL).
// It implements wxinvoice.Inbox.
func (in *Inbox) Ack(ctx context.Context, id string) error {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	if err := ackScript.Run(ctx, in.s.rdb, []string{in.stream}, InboxGroup, id).Err(); err != nil {
		return fmt.Errorf("redisstore: inbox ack: %w", err)
	}
	return nil
}

// deadScript moves entry ARGV[2] of KEYS[1] to KEYS[2] (MAXLEN ~ ARGV[6])
// with reason ARGV[3], time ARGV[4] and attempts ARGV[5], and acknowledges
// and deletes it. An entry absent from the stream (acknowledged by another
// consumer) is only acknowledged.
var deadScript = redis.NewScript(`
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #e == 0 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
local args = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*'}
local f = e[1][2]
for i = 1, #f do args[#args + 1] = f[i] end
for _, v in ipairs({'id', ARGV[2], 'reason', ARGV[3], 'failed', ARGV[4], 'attempts', ARGV[5]}) do args[#args + 1] = v end
redis.call(unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
`)

// DeadLetter moves entry env.ID to the dead-letter stream with reason, in
// one Lua script on the inbox's slot (XRANGE, XADD MAXLEN ~, XACK, XDEL). It
// implements wxinvoice.Inbox.
func (in *Inbox) DeadLetter(ctx context.Context, env wxinvoice.Envelope, reason string) error {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	err := deadScript.Run(ctx, in.s.rdb, []string{in.stream, in.dead}, InboxGroup, env.ID, reason,
		time.Now().UnixMilli(), env.Attempts, in.deadMaxLen).Err()
	if err != nil {
		return fmt.Errorf("redisstore: inbox dead-letter: %w", err)
	}
	return nil
}

// DeadLetters lists up to max dead letters, oldest first (XRANGE). It
// implements wxinvoice.Inbox.
func (in *Inbox) DeadLetters(ctx context.Context, n int) ([]wxinvoice.DeadLetter, error) {
	if n <= 0 {
		return nil, nil
	}
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	msgs, err := in.s.rdb.XRangeN(ctx, in.dead, "-", "+", int64(n)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: inbox dead letters: %w", err)
	}
	out := make([]wxinvoice.DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		d := wxinvoice.DeadLetter{ID: m.ID, Envelope: envelope(m), Reason: str("reason")}
		d.Envelope.ID = str("id")
		d.Envelope.Attempts, _ = strconv.Atoi(str("attempts"))
		if ms, err := strconv.ParseInt(str("failed"), 10, 64); err == nil {
			d.Failed = time.UnixMilli(ms)
		}
		out = append(out, d)
	}
	return out, nil
}

// replayScript moves dead letter ARGV[1] of KEYS[2] back to KEYS[1] as a new
// entry unless KEYS[1] holds ARGV[2] entries (false). Unknown id: an error.
var replayScript = redis.NewScript(`
local e = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #e == 0 then return redis.error_reply('ERR no such dead letter') end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return false end
local v = {}
local f = e[1][2]
for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
local id = redis.call('XADD', KEYS[1], '*', 'kind', v['kind'] or '', 'key', v['key'] or '',
  'payload', v['payload'] or '', 'received', v['received'] or '0')
redis.call('XDEL', KEYS[2], ARGV[1])
return id
`)

// Replay moves dead letter id back to the stream as a new entry (one Lua
// script: XRANGE, XLEN, XADD, XDEL) and returns the new entry's id. It
// implements wxinvoice.Inbox.
func (in *Inbox) Replay(ctx context.Context, id string) (string, error) {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	nid, err := replayScript.Run(ctx, in.s.rdb, []string{in.stream, in.dead}, id, in.maxLen).Text()
	if errors.Is(err, redis.Nil) {
		return "", wxinvoice.ErrInboxFull
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: inbox replay %s: %w", id, err)
	}
	return nid, nil
}

// Stats reads the gauges (XLEN of both streams, the XPENDING summary) in one
// pipeline. It implements wxinvoice.Inbox.
func (in *Inbox) Stats(ctx context.Context) (wxinvoice.InboxStats, error) {
	ctx, cancel := in.s.op(ctx)
	defer cancel()
	var length, dead *redis.IntCmd
	var pend *redis.XPendingCmd
	_, err := in.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		length = p.XLen(ctx, in.stream)
		pend = p.XPending(ctx, in.stream, InboxGroup)
		dead = p.XLen(ctx, in.dead)
		return nil
	})
	var s wxinvoice.InboxStats
	if err != nil && length.Err() == nil && dead.Err() == nil && pend.Err() != nil &&
		strings.HasPrefix(pend.Err().Error(), "NOGROUP") {
		err = nil // no worker has read yet
	}
	if err != nil {
		return s, fmt.Errorf("redisstore: inbox stats: %w", err)
	}
	s.Length, s.DeadLetters = length.Val(), dead.Val()
	if p := pend.Val(); p != nil {
		s.Pending = p.Count
	}
	s.Lag = max(s.Length-s.Pending, 0)
	return s, nil
}
