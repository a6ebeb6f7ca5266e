package wxinvoice

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of WorkerConfig.
const (
	// DefaultInboxMaxAttempts is the default WorkerConfig.MaxAttempts.
	DefaultInboxMaxAttempts = 5
	// DefaultInboxVisibilityTimeout is the default
	// WorkerConfig.VisibilityTimeout.
	DefaultInboxVisibilityTimeout = 30 * time.Second
	// DefaultInboxPollInterval is the default WorkerConfig.PollInterval.
	DefaultInboxPollInterval = time.Second
	// DefaultInboxStatsInterval is the default WorkerConfig.StatsInterval.
	DefaultInboxStatsInterval = time.Minute
)

// DefaultInboxBackoff is the default WorkerConfig.Backoff: 1 s after the
// first failed attempt, doubling up to 1 minute.
func DefaultInboxBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// WorkerConfig configures an InboxWorker. At least one callback is needed.
//
// The callbacks are EventConfig's, with the same typed events; an entry
// with no callback for it is acknowledged without one. They run with a
// context that carries the Run context's values, not its cancellation, and
// EnvelopeFromContext; return nil once the event is safely handled, an
// error (or panic) to have it retried. Delivery is at least once: a worker
// that dies after a callback succeeded but before the entry was
// acknowledged, or a callback that outlives VisibilityTimeout without its
// worker's heartbeat reaching the Inbox, delivers the event again, so make
// the callbacks idempotent (Envelope.Key identifies the push).
type WorkerConfig struct {
	OnInvoiceStatus        func(ctx context.Context, ev *InvoiceStatusEvent) error
	OnUserAuthorizeInvoice func(ctx context.Context, ev *UserAuthorizeInvoiceEvent) error
	OnSubmitInvoiceTitle   func(ctx context.Context, ev *SubmitInvoiceTitleEvent) error
	OnCloudInvoiceResult   func(ctx context.Context, ev *CloudInvoiceResultEvent) error
	OnEvent                func(ctx context.Context, ev *Event) error
	// Handle delivers the entries other handlers appended, by the part of
	// their Kind before ":" (e.g. "fapiao" for the WeChat Pay notify
	// handler's "fapiao:FAPIAO.ISSUED"; see fapiao.NotifyHandler.Deliver).
	// Entries of other kinds are card-invoice pushes for the callbacks above.
	Handle map[string]func(ctx context.Context, env Envelope) error

	// Consumer names this worker in the Inbox's consumer group; unique per
	// worker. Empty: a random name. With Concurrency above 1 each loop is a
	// consumer of its own, named Consumer-1, Consumer-2..., so that a loop
	// whose heartbeats failed notices when a sibling took its entry over.
	Consumer string
	// MaxAttempts is how many deliveries an entry gets before it is moved
	// to the dead letters; a delivery to a worker that died counts. Zero or
	// negative: DefaultInboxMaxAttempts.
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1, 2, ...) before the
	// next one; the worker holds the entry meanwhile. Nil:
	// DefaultInboxBackoff.
	Backoff func(attempt int) time.Duration
	// VisibilityTimeout is how long an entry held by a worker that stopped
	// heartbeating (it died, or its Inbox calls fail) stays with it before
	// another worker takes it over; workers look for such entries every
	// quarter of it (see NewInboxWorker). The holder heartbeats every third
	// of it while a callback runs and while it waits to retry. Zero or
	// negative: DefaultInboxVisibilityTimeout.
	VisibilityTimeout time.Duration
	// Concurrency is the number of entries processed at once. Zero or
	// negative: 1.
	Concurrency int
	// PollInterval is how long a Read waits for a new entry. Zero or
	// negative: DefaultInboxPollInterval.
	PollInterval time.Duration
	// StatsInterval is how often Run logs the Inbox's Stats at Info, with
	// a Logger. Zero: DefaultInboxStatsInterval; negative: never.
	StatsInterval time.Duration
	// Logger receives failed attempts (Warn), dead letters and Inbox
	// failures (Error) and the stats (Info). Nil: no logging. Payloads are
	// never logged; a dead letter's log line holds its id, kind and key.
	Logger *slog.Logger
}

// InboxWorker delivers an Inbox's entries to typed callbacks: see
// NewInboxWorker.
type InboxWorker struct {
	inbox    Inbox
	eh       *EventHandler // decoder and callbacks
	consumer string
	max      int
	backoff  func(int) time.Duration
	vis      time.Duration
	conc     int
	poll     time.Duration
	stats    time.Duration
	log      *slog.Logger
	handle   map[string]func(context.Context, Envelope) error
	now      func() time.Time // the claim cadence's clock
}

// NewInboxWorker returns a worker that consumes inbox with cfg's callbacks.
// It refuses a nil inbox or a configuration without a callback with a
// *ValidationError.
//
// Each entry is delivered at least once: each loop of the worker (one per
// Concurrency) takes over entries other workers held longer than
// VisibilityTimeout (Inbox.Claim) and reads new ones (Inbox.Read). A loop
// claims at start, then a quarter of VisibilityTimeout after each Claim that
// found nothing, and back to back while Claims return entries; it reads
// otherwise. So a loop makes at most one Claim that finds nothing per
// quarter of VisibilityTimeout, not one per entry, and an entry whose worker
// died (or stopped heartbeating) is taken over within VisibilityTimeout plus
// a quarter of it after its last delivery or heartbeat, plus whatever the
// claiming loop is doing at that moment (a Read of up to PollInterval, or a
// callback).
//
// A callback that fails is retried after Backoff while the worker holds the
// entry; after MaxAttempts deliveries it is moved to the dead letters with
// the last error, and logged. An entry whose payload does not decode is
// dead-lettered at once.
func NewInboxWorker(inbox Inbox, cfg WorkerConfig) (*InboxWorker, error) {
	if inbox == nil {
		return nil, &ValidationError{Field: "inbox", Reason: "required"}
	}
	if cfg.OnInvoiceStatus == nil && cfg.OnUserAuthorizeInvoice == nil && cfg.OnSubmitInvoiceTitle == nil &&
		cfg.OnCloudInvoiceResult == nil && cfg.OnEvent == nil && len(cfg.Handle) == 0 {
		return nil, &ValidationError{Field: "WorkerConfig", Reason: "no callback set"}
	}
	w := &InboxWorker{
		inbox: inbox,
		eh: &EventHandler{onStatus: cfg.OnInvoiceStatus, onAuthorize: cfg.OnUserAuthorizeInvoice,
			onTitle: cfg.OnSubmitInvoiceTitle, onCloud: cfg.OnCloudInvoiceResult, onEvent: cfg.OnEvent, log: cfg.Logger},
		consumer: cfg.Consumer, max: cfg.MaxAttempts, backoff: cfg.Backoff, vis: cfg.VisibilityTimeout,
		conc: cfg.Concurrency, poll: cfg.PollInterval, stats: cfg.StatsInterval, log: cfg.Logger,
		handle: cfg.Handle, now: time.Now,
	}
	if w.consumer == "" {
		id, err := newDedupeOwner()
		if err != nil {
			return nil, err
		}
		w.consumer = "worker-" + id[:16]
	}
	if w.max <= 0 {
		w.max = DefaultInboxMaxAttempts
	}
	if w.backoff == nil {
		w.backoff = DefaultInboxBackoff
	}
	if w.vis <= 0 {
		w.vis = DefaultInboxVisibilityTimeout
	}
	w.conc = max(w.conc, 1)
	if w.poll <= 0 {
		w.poll = DefaultInboxPollInterval
	}
	if w.stats == 0 {
		w.stats = DefaultInboxStatsInterval
	}
	return w, nil
}

// Consumer returns the worker's consumer name (with Concurrency above 1, the
// prefix of its loops' names).
func (w *InboxWorker) Consumer() string { return w.consumer }

// Run consumes the inbox until ctx is done, then waits for the callbacks in
// progress to return (an entry waiting for a retry is left to another worker,
// after VisibilityTimeout) and returns ctx.Err(). Inbox failures are logged
// and retried every PollInterval; they do not end Run.
func (w *InboxWorker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range w.conc {
		lw := w
		if w.conc > 1 {
			cp := *w
			cp.consumer = w.consumer + "-" + strconv.Itoa(i+1)
			lw = &cp
		}
		wg.Go(func() { lw.loop(ctx) })
	}
	if w.log != nil && w.stats > 0 {
		wg.Go(func() { w.logStats(ctx) })
	}
	wg.Wait()
	return ctx.Err()
}

// claimEvery is how often a loop of w looks for entries to take over when
// its last Claim found none: a quarter of the visibility timeout. An entry
// becomes claimable VisibilityTimeout after its holder's last delivery or
// heartbeat, so claiming more often only repeats a Claim that finds nothing
// (on Redis an XAUTOCLAIM scan of the pending entries per call), while a
// quarter keeps a takeover within a quarter of the visibility timeout of the
// moment the entry became claimable, plus the Read or callback the loop is
// in. It is not tied to PollInterval: with the defaults (1 s poll, 30 s
// visibility) an idle loop makes one Read per second and one Claim every
// 7.5 s, not a Claim beside every Read.
func (w *InboxWorker) claimEvery() time.Duration { return w.vis / 4 }

// loop takes over or reads one entry at a time and processes it. It claims
// when a Claim is due (at start, then claimEvery after the last Claim that
// found nothing) and keeps claiming while Claims return entries, so that a
// backlog of abandoned entries drains before new ones are read; otherwise
// it reads. A Claim that fails is retried on the next pass.
func (w *InboxWorker) loop(ctx context.Context) {
	every := w.claimEvery()
	var nextClaim time.Time // zero: due
	for ctx.Err() == nil {
		var envs []Envelope
		var err error
		if now := w.now(); !now.Before(nextClaim) {
			envs, err = w.inbox.Claim(ctx, w.consumer, w.vis, 1)
			if err == nil && len(envs) == 0 {
				nextClaim = now.Add(every)
			}
		}
		if err == nil && len(envs) == 0 {
			envs, err = w.inbox.Read(ctx, w.consumer, 1, w.poll)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logf(ctx, slog.LevelError, "wxinvoice: inbox read failed; retrying", slog.Any("error", err))
			sleepCtx(ctx, w.poll)
			continue
		}
		for _, env := range envs {
			w.process(ctx, env)
		}
	}
}

// sleepCtx waits d or until ctx is done, and reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// after returns a context for the Inbox calls that record an outcome: they
// run even if ctx ended meanwhile.
func after(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// process delivers env to its callback until it succeeds, its attempts run
// out, the worker loses it or ctx ends.
func (w *InboxWorker) process(ctx context.Context, env Envelope) {
	if env.Attempts > w.max {
		w.deadLetter(ctx, env, "attempts exhausted: the worker holding it stopped during its last attempt")
		return
	}
	p, ok := w.decode(ctx, env)
	if !ok {
		return
	}
	if p.kind == kindNone {
		w.ack(ctx, env)
		return
	}
	w.deliver(ctx, env, p)
}

// decode turns env into the call to make: its Handle function, or the
// typed card-invoice callback for its XML. It dead-letters an entry that
// cannot be decoded and reports false.
func (w *InboxWorker) decode(ctx context.Context, env Envelope) (*pending, bool) {
	if prefix, _, found := strings.Cut(env.Kind, ":"); found {
		fn := w.handle[prefix]
		if fn == nil { // another handler's entry (card-invoice kinds have no ":")
			w.deadLetter(ctx, env, "no WorkerConfig.Handle for kind "+strconv.Quote(prefix))
			return nil, false
		}
		return &pending{kind: kindFunc, run: func(ctx context.Context) error { return fn(ctx, env) }}, true
	}
	var f pushFields
	if hasDirective(env.Payload) {
		w.deadLetter(ctx, env, "payload: XML directives are not accepted")
		return nil, false
	}
	if err := parsePush(string(env.Payload), &f); err != nil {
		w.deadLetter(ctx, env, "payload: "+err.Error())
		return nil, false
	}
	p, _, reason := w.eh.decode(&f, env.Payload)
	if reason != "" {
		w.deadLetter(ctx, env, "payload: "+reason)
		return nil, false
	}
	return p, true
}

// deliver runs p for env until it succeeds, its attempts run out, the
// worker loses it or ctx ends.
func (w *InboxWorker) deliver(ctx context.Context, env Envelope, p *pending) {
	for {
		lost, err := w.attempt(ctx, env, p)
		if err == nil {
			w.ack(ctx, env)
			return
		}
		w.logf(ctx, slog.LevelWarn, "wxinvoice: inbox callback failed", slog.String("id", env.ID),
			slog.String("kind", env.Kind), slog.String("key", env.Key), slog.Int("attempt", env.Attempts), slog.Any("error", err))
		if lost {
			return // another worker holds it: its attempts decide
		}
		if env.Attempts >= w.max {
			w.deadLetter(ctx, env, err.Error())
			return
		}
		// Hold the entry while waiting to retry.
		stop := w.heartbeat(ctx, &env)
		elapsed := sleepCtx(ctx, w.backoff(env.Attempts))
		lost = stop()
		if !elapsed || lost {
			return // another worker takes it over after the visibility timeout, or has
		}
		env.Attempts++
		actx, cancel := after(ctx)
		ok, err := w.inbox.Extend(actx, w.consumer, env.ID, env.Attempts)
		cancel()
		if err != nil {
			w.logf(ctx, slog.LevelError, "wxinvoice: inbox extend failed; the entry is left to another worker",
				slog.String("id", env.ID), slog.Any("error", err))
			return
		}
		if !ok {
			return
		}
	}
}

// attempt runs the callback once with a heartbeat, and reports whether
// another worker took the entry over meanwhile.
func (w *InboxWorker) attempt(ctx context.Context, env Envelope, p *pending) (lost bool, err error) {
	cctx := context.WithValue(context.WithoutCancel(ctx), envelopeKey{}, env)
	stop := w.heartbeat(ctx, &env)
	err = w.eh.call(cctx, p)
	return stop(), err
}

// heartbeat extends env's hold every third of the visibility timeout until
// stop, which reports whether the entry was found held by another worker.
func (w *InboxWorker) heartbeat(ctx context.Context, env *Envelope) (stop func() (lost bool)) {
	id, attempts := env.ID, env.Attempts
	done := make(chan struct{})
	var lost bool
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(w.vis/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			actx, cancel := after(ctx)
			ok, err := w.inbox.Extend(actx, w.consumer, id, attempts)
			cancel()
			switch {
			case err != nil:
				w.logf(ctx, slog.LevelError, "wxinvoice: inbox heartbeat failed", slog.String("id", id), slog.Any("error", err))
			case !ok:
				w.logf(ctx, slog.LevelWarn, "wxinvoice: inbox entry taken over by another worker", slog.String("id", id))
				lost = true
				return
			}
		}
	})
	return func() bool {
		close(done)
		wg.Wait()
		return lost
	}
}

func (w *InboxWorker) ack(ctx context.Context, env Envelope) {
	actx, cancel := after(ctx)
	defer cancel()
	if err := w.inbox.Ack(actx, env.ID); err != nil {
		w.logf(ctx, slog.LevelError, "wxinvoice: inbox ack failed; the entry will be delivered again",
			slog.String("id", env.ID), slog.String("key", env.Key), slog.Any("error", err))
	}
}

// maxReason bounds a dead letter's reason.
const maxReason = 1 << 10

func (w *InboxWorker) deadLetter(ctx context.Context, env Envelope, reason string) {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	actx, cancel := after(ctx)
	defer cancel()
	if err := w.inbox.DeadLetter(actx, env, reason); err != nil {
		w.logf(ctx, slog.LevelError, "wxinvoice: inbox dead-letter failed; the entry will be delivered again",
			slog.String("id", env.ID), slog.String("key", env.Key), slog.Any("error", err))
		return
	}
	w.logf(ctx, slog.LevelError, "wxinvoice: inbox entry dead-lettered", slog.String("id", env.ID),
		slog.String("kind", env.Kind), slog.String("key", env.Key), slog.Int("attempts", env.Attempts), slog.String("reason", reason))
}

// logStats logs the Inbox's Stats every StatsInterval.
func (w *InboxWorker) logStats(ctx context.Context) {
	for sleepCtx(ctx, w.stats) {
		s, err := w.inbox.Stats(ctx)
		if err != nil {
			w.logf(ctx, slog.LevelError, "wxinvoice: inbox stats failed", slog.Any("error", err))
			continue
		}
		w.logf(ctx, slog.LevelInfo, "wxinvoice: inbox stats", slog.String("consumer", w.consumer),
			slog.Int64("length", s.Length), slog.Int64("lag", s.Lag), slog.Int64("pending", s.Pending),
			slog.Int64("dead_letters", s.DeadLetters))
	}
}

func (w *InboxWorker) logf(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if w.log != nil {
		w.log.LogAttrs(ctx, level, msg, attrs...)
	}
}
