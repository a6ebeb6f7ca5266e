package fapiao

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

// failingInbox refuses every append.
type failingInbox struct{ wxinvoice.Inbox }

func (failingInbox) Append(context.Context, wxinvoice.Envelope) error {
	return errors.New("redis down")
}

// TestNotifyInbox: with an Inbox the handler answers 204 once the
// notification is appended, before any callback; a worker delivers it to
// the typed callback through Deliver, retrying a failure; a retry of the
// same notification is not appended twice; a failed append answers 503.
func TestNotifyInbox(t *testing.T) {
	var ev FapiaoEvent
	readJSON(t, "callback_issued_resource.json", &ev)
	inbox := wxinvoice.NewMemoryInbox(0)
	rec := &recorder{}
	failures := 1
	h := newTestNotify(t, rec, func(c *NotifyConfig) {
		c.Inbox = inbox
		issued := c.OnIssued
		c.OnIssued = func(ctx context.Context, e *FapiaoEvent) error {
			if failures > 0 {
				failures--
				return errors.New("ERP down")
			}
			return issued(ctx, e)
		}
	})
	for i := 0; i < 2; i++ { // WeChat Pay's retry of the same id
		if w := serve(h, callbackRequest(t, "EV-INBOX", EventIssued, ev, cbNow)); w.Code != http.StatusNoContent {
			t.Fatalf("answer %d, want 204 once appended", w.Code)
		}
	}
	if got := rec.list(); len(got) != 0 {
		t.Fatalf("callbacks ran in the request: %v", got)
	}
	st, err := inbox.Stats(context.Background())
	if err != nil || st.Length != 1 {
		t.Fatalf("inbox stats %+v, %v: want one entry", st, err)
	}

	worker, err := wxinvoice.NewInboxWorker(inbox, wxinvoice.WorkerConfig{
		Handle:  map[string]func(context.Context, wxinvoice.Envelope) error{InboxKind: h.Deliver},
		Backoff: func(int) time.Duration { return time.Millisecond }, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.list()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := rec.list(); len(got) != 1 || got[0] != "issued:4200000444201910177461284488:ISSUED" {
		t.Fatalf("callbacks %v, want the issued event once (after one failed attempt)", got)
	}

	h2 := newTestNotify(t, &recorder{}, func(c *NotifyConfig) { c.Inbox = failingInbox{} })
	if w := serve(h2, callbackRequest(t, "EV-DOWN", EventIssued, ev, cbNow)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("answer %d to a failed append, want 503", w.Code)
	}
}
