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

// failingInbox wraps an Inbox whose Append fails while fail is set.
type failingInbox struct {
	Inbox
	fail    atomic.Bool
	appends atomic.Int32
}

func (f *failingInbox) Append(ctx context.Context, env Envelope) error {
	f.appends.Add(1)
	if f.fail.Load() {
		return errors.New("connection refused")
	}
	return f.Inbox.Append(ctx, env)
}

func newInboxHandler(t *testing.T, mode string, inbox Inbox) *EventHandler {
	t.Helper()
	cfg := EventConfig{Token: vecToken, Now: fixedClock(sampleTime), Inbox: inbox}
	if mode == "aes" {
		cfg.EncodingAESKey, cfg.AppID = vecKey, vecAppID
	}
	h, err := NewEventHandler(cfg)
	require.NoError(t, err)
	return h
}

// workerConfig returns a WorkerConfig whose callbacks record into c, with
// short timings.
func workerConfig(c *calls) WorkerConfig {
	var ec EventConfig
	c.install(&ec)
	return WorkerConfig{OnInvoiceStatus: ec.OnInvoiceStatus, OnUserAuthorizeInvoice: ec.OnUserAuthorizeInvoice,
		OnSubmitInvoiceTitle: ec.OnSubmitInvoiceTitle, OnCloudInvoiceResult: ec.OnCloudInvoiceResult, OnEvent: ec.OnEvent,
		Backoff: func(int) time.Duration { return time.Millisecond }, VisibilityTimeout: 5 * time.Second,
		PollInterval: 20 * time.Millisecond}
}

// runWorker runs w until the test ends and returns a function that stops it
// and waits for Run to return.
func runWorker(t *testing.T, w *InboxWorker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitStats(t *testing.T, inbox Inbox, want InboxStats) {
	t.Helper()
	var got InboxStats
	require.Eventually(t, func() bool {
		var err error
		got, err = inbox.Stats(context.Background())
		require.NoError(t, err)
		return got == want
	}, 20*time.Second, 5*time.Millisecond, "stats: want %+v", want)
	_ = got
}

func TestInboxHandlerAppendsWorkerDelivers(t *testing.T) {
	for _, mode := range []string{"", "aes"} {
		t.Run("mode="+mode, func(t *testing.T) {
			inbox := NewMemoryInbox(0)
			h := newInboxHandler(t, mode, inbox)
			status := InvoiceStatusEventXML(statusEvent("1001"))
			pushes := [][]byte{
				status,
				UserAuthorizeInvoiceEventXML(&UserAuthorizeInvoiceEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, SuccOrderID: "A", AppID: "wx1", Source: "web"}),
				SubmitInvoiceTitleEventXML(&SubmitInvoiceTitleEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, Title: "T", TaxNo: "N", TitleType: "InvoiceUserTitleBusinessType"}),
				CloudInvoiceResultEventXML(&CloudInvoiceResultEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, Fpqqlsh: "F1", Status: "100"}),
			}
			for i, x := range pushes {
				requireSuccess(t, serve(h, retry(t, mode, x, i)))
			}
			// WeChat's retries of a push already appended are duplicates.
			requireSuccess(t, serve(h, retry(t, mode, status, 7)))
			requireSuccess(t, serve(h, retry(t, mode, status, 8)))
			waitStats(t, inbox, InboxStats{Length: 4, Lag: 4})

			c := &calls{}
			cfg := workerConfig(c)
			var keys sync.Map
			onStatus := cfg.OnInvoiceStatus
			cfg.OnInvoiceStatus = func(ctx context.Context, ev *InvoiceStatusEvent) error {
				env, ok := EnvelopeFromContext(ctx)
				require.True(t, ok)
				keys.Store(env.Key, env.Kind)
				return onStatus(ctx, ev)
			}
			w, err := NewInboxWorker(inbox, cfg)
			require.NoError(t, err)
			runWorker(t, w)
			waitStats(t, inbox, InboxStats{})
			require.Eventually(t, func() bool { return c.total() == 4 }, 10*time.Second, 5*time.Millisecond)
			c.mu.Lock()
			defer c.mu.Unlock()
			require.Len(t, c.status, 1)
			require.Equal(t, *statusEvent("1001"), *c.status[0])
			require.Equal(t, "A", c.authorize[0].SuccOrderID)
			require.Equal(t, "T", c.title[0].Title)
			require.Equal(t, "F1", c.cloud[0].Fpqqlsh)
			kind, ok := keys.Load(dedupeKey(EventUpdateInvoiceStatus, "gh_9e1765b5568e", "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
				"1478068440", "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", "1001", string(ReimburseLock)))
			require.True(t, ok)
			require.Equal(t, EventUpdateInvoiceStatus, kind)
		})
	}
}

func TestInboxHandlerAnswersBeforeSlowCallback(t *testing.T) {
	inbox := NewMemoryInbox(0)
	h := newInboxHandler(t, "aes", inbox)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var done atomic.Int32
	cfg := WorkerConfig{OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
		started <- struct{}{}
		<-release // far longer than WeChat's 5 s, as far as the handler knows
		done.Add(1)
		return nil
	}, PollInterval: 10 * time.Millisecond}
	w, err := NewInboxWorker(inbox, cfg)
	require.NoError(t, err)
	runWorker(t, w)

	requireSuccess(t, serve(h, retry(t, "aes", InvoiceStatusEventXML(statusEvent("1")), 0)))
	<-started // the callback runs after the answer, and is still running
	requireSuccess(t, serve(h, retry(t, "aes", InvoiceStatusEventXML(statusEvent("2")), 0)))
	require.Zero(t, done.Load())
	close(release)
	require.Eventually(t, func() bool { return done.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
	waitStats(t, inbox, InboxStats{})
}

func TestInboxAppendFailureIs503(t *testing.T) {
	inbox := &failingInbox{Inbox: NewMemoryInbox(0)}
	inbox.fail.Store(true)
	h := newInboxHandler(t, "aes", inbox)
	xml := InvoiceStatusEventXML(statusEvent("1"))
	rec := serve(h, retry(t, "aes", xml, 0))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "inbox unavailable", rec.Body.String())
	waitStats(t, inbox, InboxStats{})

	// The failed append released the dedupe lease: WeChat's retry appends.
	inbox.fail.Store(false)
	requireSuccess(t, serve(h, retry(t, "aes", xml, 1)))
	requireSuccess(t, serve(h, retry(t, "aes", xml, 2)))
	require.EqualValues(t, 2, inbox.appends.Load())
	waitStats(t, inbox, InboxStats{Length: 1, Lag: 1})
}

func TestInboxFullIs503(t *testing.T) {
	inbox := NewMemoryInbox(1)
	h := newInboxHandler(t, "", inbox)
	requireSuccess(t, serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("1")), 0)))
	rec := serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("2")), 0))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.ErrorIs(t, inbox.Append(context.Background(), Envelope{}), ErrInboxFull)
	waitStats(t, inbox, InboxStats{Length: 1, Lag: 1})
}

func TestInboxWorkerRetriesDeadLettersReplays(t *testing.T) {
	inbox := NewMemoryInbox(0)
	h := newInboxHandler(t, "", inbox)
	requireSuccess(t, serve(h, retry(t, "", InvoiceStatusEventXML(statusEvent("1")), 0)))

	var attempts []int
	var waits []int
	var mu sync.Mutex
	var heal atomic.Bool
	var ok atomic.Int32
	cfg := WorkerConfig{
		OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
			env, _ := EnvelopeFromContext(ctx)
			mu.Lock()
			attempts = append(attempts, env.Attempts)
			mu.Unlock()
			if heal.Load() {
				ok.Add(1)
				return nil
			}
			return errors.New("ERP down")
		},
		MaxAttempts: 5,
		Backoff: func(n int) time.Duration {
			mu.Lock()
			waits = append(waits, n)
			mu.Unlock()
			return time.Millisecond
		},
		PollInterval: 10 * time.Millisecond,
	}
	w, err := NewInboxWorker(inbox, cfg)
	require.NoError(t, err)
	stop := runWorker(t, w)
	waitStats(t, inbox, InboxStats{DeadLetters: 1})
	stop()
	mu.Lock()
	require.Equal(t, []int{1, 2, 3, 4, 5}, attempts)
	require.Equal(t, []int{1, 2, 3, 4}, waits)
	mu.Unlock()

	dl, err := inbox.DeadLetters(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, "ERP down", dl[0].Reason)
	require.Equal(t, EventUpdateInvoiceStatus, dl[0].Envelope.Kind)
	require.Contains(t, string(dl[0].Envelope.Payload), "<Code><![CDATA[1]]></Code>")

	_, err = inbox.Replay(context.Background(), "no-such-id")
	require.Error(t, err)
	heal.Store(true)
	id, err := inbox.Replay(context.Background(), dl[0].ID)
	require.NoError(t, err)
	require.NotEqual(t, dl[0].Envelope.ID, id)
	waitStats(t, inbox, InboxStats{Length: 1, Lag: 1})
	w, err = NewInboxWorker(inbox, cfg)
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{})
	require.Eventually(t, func() bool { return ok.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	require.Equal(t, 1, attempts[len(attempts)-1]) // a replay starts its attempts again
	mu.Unlock()
}

func TestInboxWorkerTakesOverFromDeadWorker(t *testing.T) {
	ctx := context.Background()
	inbox := NewMemoryInbox(0)
	require.NoError(t, inbox.Append(ctx, Envelope{Kind: EventUpdateInvoiceStatus, Key: "k",
		Payload: InvoiceStatusEventXML(statusEvent("1"))}))
	// A worker reads the entry and dies.
	got, err := inbox.Read(ctx, "dead", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].Attempts)
	waitStats(t, inbox, InboxStats{Length: 1, Pending: 1})

	var seen atomic.Int32
	var attempt atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
		env, _ := EnvelopeFromContext(ctx)
		attempt.Store(int32(env.Attempts))
		seen.Add(1)
		return nil
	}, VisibilityTimeout: 300 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{})
	require.EqualValues(t, 1, seen.Load())
	require.EqualValues(t, 2, attempt.Load()) // the dead worker's delivery counts
}

func TestInboxEntryThatKillsWorkersIsDeadLettered(t *testing.T) {
	ctx := context.Background()
	inbox := NewMemoryInbox(0)
	require.NoError(t, inbox.Append(ctx, Envelope{Kind: EventUpdateInvoiceStatus, Payload: InvoiceStatusEventXML(statusEvent("1"))}))
	// Three workers in turn take it and die during their attempt.
	_, err := inbox.Read(ctx, "w1", 1, 0)
	require.NoError(t, err)
	for _, c := range []string{"w2", "w3"} {
		got, err := inbox.Claim(ctx, c, 0, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
	}
	var seen atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
		seen.Add(1)
		return nil
	}, MaxAttempts: 3, VisibilityTimeout: time.Millisecond, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{DeadLetters: 1})
	require.Zero(t, seen.Load())
	dl, err := inbox.DeadLetters(ctx, 1)
	require.NoError(t, err)
	require.Contains(t, dl[0].Reason, "attempts exhausted")
	require.Equal(t, 4, dl[0].Envelope.Attempts)
}

func TestInboxUndecodablePayloadIsDeadLettered(t *testing.T) {
	ctx := context.Background()
	inbox := NewMemoryInbox(0)
	require.NoError(t, inbox.Append(ctx, Envelope{Kind: "x", Payload: []byte("<xml><MsgType>event</MsgType></xml>")}))
	require.NoError(t, inbox.Append(ctx, Envelope{Kind: "x", Payload: []byte("<!DOCTYPE x><xml/>")}))
	var seen atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{OnEvent: func(context.Context, *Event) error { seen.Add(1); return nil },
		PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{DeadLetters: 2})
	require.Zero(t, seen.Load())
	dl, err := inbox.DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, "payload: missing or malformed CreateTime", dl[0].Reason)
	require.Contains(t, dl[1].Reason, "directives")
}

func TestInboxHeartbeatKeepsSlowCallback(t *testing.T) {
	inbox := NewMemoryInbox(0)
	require.NoError(t, inbox.Append(context.Background(), Envelope{Kind: EventUpdateInvoiceStatus,
		Payload: InvoiceStatusEventXML(statusEvent("1"))}))
	var runs atomic.Int32
	cfg := WorkerConfig{OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
		runs.Add(1)
		time.Sleep(2500 * time.Millisecond) // 2.5 visibility timeouts
		return nil
	}, VisibilityTimeout: time.Second, PollInterval: 10 * time.Millisecond}
	for range 2 {
		w, err := NewInboxWorker(inbox, cfg)
		require.NoError(t, err)
		runWorker(t, w)
	}
	waitStats(t, inbox, InboxStats{})
	require.EqualValues(t, 1, runs.Load())
}

func TestInboxConfigErrors(t *testing.T) {
	_, err := NewEventHandler(EventConfig{Token: "t", Inbox: NewMemoryInbox(0),
		OnEvent: func(context.Context, *Event) error { return nil }})
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "EventConfig.Inbox", ve.Field)

	_, err = NewInboxWorker(nil, WorkerConfig{OnEvent: func(context.Context, *Event) error { return nil }})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "inbox", ve.Field)
	_, err = NewInboxWorker(NewMemoryInbox(0), WorkerConfig{})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "WorkerConfig", ve.Field)
}

func TestDefaultInboxBackoff(t *testing.T) {
	require.Equal(t, time.Second, DefaultInboxBackoff(1))
	require.Equal(t, 2*time.Second, DefaultInboxBackoff(2))
	require.Equal(t, 16*time.Second, DefaultInboxBackoff(5))
	require.Equal(t, time.Minute, DefaultInboxBackoff(7))
	require.Equal(t, time.Minute, DefaultInboxBackoff(1000))
}

// BenchmarkInboxMemory reports pushes per second through the memory inbox.
func BenchmarkInboxMemory(b *testing.B) {
	benchInbox(b, NewMemoryInbox(b.N+1))
}

// BenchmarkInboxMemoryDrain reports entries per second a worker
// (Concurrency 4) takes from a memory inbox that holds b.N entries when the
// timer starts: the consumer side alone, without the push handler.
func BenchmarkInboxMemoryDrain(b *testing.B) {
	inbox := NewMemoryInbox(b.N + 1)
	payload := InvoiceStatusEventXML(statusEvent("1"))
	for i := range b.N {
		if err := inbox.Append(context.Background(), Envelope{Kind: EventUpdateInvoiceStatus, Key: strconv.Itoa(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	w, all := benchWorker(b, inbox)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() { _ = w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// benchWorker returns a worker (Concurrency 4) on inbox and a channel
// closed once it delivered b.N update_invoice_status events.
func benchWorker(b *testing.B, inbox Inbox) (*InboxWorker, <-chan struct{}) {
	var delivered atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
		if delivered.Add(1) == n {
			close(all)
		}
		return nil
	}, Concurrency: 4, PollInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return w, all
}

// benchInbox pushes b.N distinct safe-mode pushes through an EventHandler
// into inbox (4 concurrent senders) while a worker (Concurrency 4) delivers
// them, and reports pushes per second from the first push to the last
// callback.
func benchInbox(b *testing.B, inbox Inbox) {
	h, err := NewEventHandler(EventConfig{Token: vecToken, EncodingAESKey: vecKey, AppID: vecAppID, Inbox: inbox})
	if err != nil {
		b.Fatal(err)
	}
	w, all := benchWorker(b, inbox)
	pc := PushConfig{Token: vecToken, EncodingAESKey: vecKey, AppID: vecAppID, Timestamp: time.Now()}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		ev := statusEvent(strconv.Itoa(i))
		ev.CreateTime = pc.Timestamp
		if reqs[i], err = NewPushRequest(context.Background(), "http://platform.example/wx/events", pc, InvoiceStatusEventXML(ev)); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if rec := serve(h, reqs[i]); rec.Code != http.StatusOK {
					b.Errorf("push %d: %d %s", i, rec.Code, rec.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}

func TestInboxWorkerPanicIsRetriedAndLogsHoldNoPayload(t *testing.T) {
	inbox := NewMemoryInbox(0)
	title := &SubmitInvoiceTitleEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, Title: "T",
		Phone: "13800138000", TaxNo: "91110000TAXNO"}
	require.NoError(t, inbox.Append(context.Background(), Envelope{Kind: EventSubmitInvoiceTitle, Key: "k",
		Payload: SubmitInvoiceTitleEventXML(title)}))
	var logs syncLog
	var n atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{
		OnSubmitInvoiceTitle: func(ctx context.Context, ev *SubmitInvoiceTitleEvent) error {
			switch n.Add(1) {
			case 1:
				panic("boom")
			case 2:
				return nil
			}
			return errors.New("delivered twice")
		},
		Backoff: func(int) time.Duration { return time.Millisecond }, PollInterval: 10 * time.Millisecond,
		StatsInterval: 5 * time.Millisecond, Logger: logs.logger(),
	})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{})
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `msg="wxinvoice: inbox stats"`) && strings.Contains(logs.String(), "lag=0")
	}, 10*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 2, n.Load())
	out := logs.String()
	require.Contains(t, out, "wxinvoice: inbox callback failed")
	require.Contains(t, out, "attempt=1")
	require.NotContains(t, out, "13800138000")
	require.NotContains(t, out, "91110000TAXNO")
}

// syncLog collects slog text output; safe for concurrent use.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// TestInboxWorkerLeavesTakenOverEntry: a worker whose entry another
// consumer took over while its last attempt failed leaves the entry to the
// new holder instead of dead-lettering it with its own error. Here the new
// holder dies too, so the entry comes back with its attempts (3) over
// MaxAttempts (1) and is dead-lettered as exhausted, without a second call.
func TestInboxWorkerLeavesTakenOverEntry(t *testing.T) {
	ctx := context.Background()
	inbox := NewMemoryInbox(0)
	require.NoError(t, inbox.Append(ctx, Envelope{Kind: EventUpdateInvoiceStatus, Payload: InvoiceStatusEventXML(statusEvent("1"))}))
	var n atomic.Int32
	w, err := NewInboxWorker(inbox, WorkerConfig{OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
		n.Add(1)
		got, err := inbox.Claim(ctx, "other", 0, 1) // another worker takes it over
		if err != nil || len(got) != 1 {
			return errors.New("the takeover failed")
		}
		time.Sleep(time.Second) // the heartbeats (every 200 ms) find it gone
		return errors.New("ERP down")
	}, MaxAttempts: 1, VisibilityTimeout: 600 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	runWorker(t, w)
	waitStats(t, inbox, InboxStats{DeadLetters: 1})
	require.EqualValues(t, 1, n.Load())
	dl, err := inbox.DeadLetters(ctx, 1)
	require.NoError(t, err)
	require.Contains(t, dl[0].Reason, "attempts exhausted")
	require.Equal(t, 3, dl[0].Envelope.Attempts)
}

// TestMemoryInboxDeadLetterLimit: a full dead-letter list drops its oldest
// entry (as Redis's MAXLEN does) instead of refusing, which would leave the
// failing entry pending for ever; DeadLetters with max <= 0 lists nothing.
func TestMemoryInboxDeadLetterLimit(t *testing.T) {
	ctx := context.Background()
	in := NewMemoryInbox(2)
	var ids []string
	for i := range 3 {
		if err := in.Append(ctx, Envelope{Kind: "k", Key: strconv.Itoa(i), Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		envs, err := in.Read(ctx, "c", 1, time.Millisecond)
		if err != nil || len(envs) != 1 {
			t.Fatalf("read: %v %v", envs, err)
		}
		if err := in.DeadLetter(ctx, envs[0], "failed"); err != nil {
			t.Fatalf("dead-letter %d: %v", i, err)
		}
		ids = append(ids, envs[0].Key)
	}
	dl, err := in.DeadLetters(ctx, 10)
	if err != nil || len(dl) != 2 || dl[0].Envelope.Key != ids[1] || dl[1].Envelope.Key != ids[2] {
		t.Fatalf("dead letters %+v, %v: want the two newest", dl, err)
	}
	if st, _ := in.Stats(ctx); st.Pending != 0 || st.Length != 0 {
		t.Fatalf("stats %+v: nothing may stay pending", st)
	}
	if dl, err := in.DeadLetters(ctx, -1); err != nil || len(dl) != 0 {
		t.Fatalf("DeadLetters(-1) = %v, %v", dl, err)
	}
}

// TestInboxWorkerUnknownKindDeadLettered: an entry another handler appended
// whose kind this worker has no Handle for is dead-lettered with that reason,
// not parsed as a card-invoice push.
func TestInboxWorkerUnknownKindDeadLettered(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := NewMemoryInbox(0)
	require.NoError(t, in.Append(ctx, Envelope{Kind: "other:EVENT", Key: "k1", Payload: []byte(`{}`)}))
	w, err := NewInboxWorker(in, WorkerConfig{PollInterval: 5 * time.Millisecond,
		Handle: map[string]func(context.Context, Envelope) error{"fapiao": func(context.Context, Envelope) error { return nil }}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var dl []DeadLetter
	require.Eventually(t, func() bool {
		dl, err = in.DeadLetters(ctx, 10)
		return err == nil && len(dl) == 1
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	require.Contains(t, dl[0].Reason, `no WorkerConfig.Handle for kind "other"`)
}
