package wxinvoice

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Observer receives what the SDK does, for metrics and traces: each API call
// and its attempts, each token fetch, each push handled. Package otelwx
// adapts it to OpenTelemetry; the root package imports no telemetry library.
//
// Nothing an Observer receives holds a token, secret or key: operations are
// WeChat's API paths (never URLs with their query), and errors are the
// redacted errors the caller gets. Methods are called synchronously on the
// goroutine doing the work, so they must be fast and safe for concurrent
// use. A panic in an Observer is recovered and dropped: observing never
// fails a call or a push. Embed NopObserver to implement only some methods.
type Observer interface {
	// StartCall is called before the first attempt of a call to op (e.g.
	// "/card/invoice/insert"). The context it returns is used for the call,
	// its attempts and its token fetch, e.g. to carry a span.
	StartCall(ctx context.Context, op string) context.Context
	// Attempt is called after each HTTP attempt of a call.
	Attempt(ctx context.Context, a AttemptInfo)
	// EndCall is called once when the call returns, with the context
	// StartCall returned.
	EndCall(ctx context.Context, c CallInfo)
	// TokenFetch is called after each fetch of an access token, wx_card
	// ticket or component token, from the TokenSource or the TokenStore.
	TokenFetch(ctx context.Context, t TokenFetchInfo)
	// Push is called after each push an EventHandler (or the component's
	// handler) answered.
	Push(ctx context.Context, p PushInfo)
}

// AttemptInfo describes one HTTP attempt of a call.
type AttemptInfo struct {
	Op         string // the API path
	Attempt    int    // 1 for the first
	HTTPStatus int    // 0 when no answer arrived
	ErrCode    int    // WeChat's errcode; 0 for success or when there was no JSON answer
	Err        error  // the attempt's error (redacted), nil on success
	Duration   time.Duration
	// Retry reports whether the call goes on with another attempt (a retry
	// under the RetryPolicy, or the one replay after a rejected token).
	Retry bool
}

// CallInfo describes a finished call.
type CallInfo struct {
	Op       string // the API path
	Attempts int    // HTTP attempts made; 0 when the request was refused before sending
	ErrCode  int    // WeChat's errcode of the last answer; 0 on success
	Outcome  Outcome
	Err      error // what the caller got (redacted), nil on success
	Duration time.Duration
}

// Outcome classifies how a call ended.
type Outcome string

// The outcomes of a call.
const (
	OutcomeOK        Outcome = "ok"        // errcode 0
	OutcomeAPIError  Outcome = "api_error" // a non-zero errcode (*APIError)
	OutcomeInvalid   Outcome = "invalid"   // refused before sending (*ValidationError)
	OutcomeTransport Outcome = "transport" // no usable answer; a read, or a write that certainly was not acted upon
	OutcomeUnknown   Outcome = "unknown"   // a write that may have been acted upon (ErrOutcomeUnknown)
	OutcomeCanceled  Outcome = "canceled"  // the caller's context ended
)

// outcomeOf classifies err, the error a call returns.
func outcomeOf(err error) (Outcome, int) {
	if err == nil {
		return OutcomeOK, 0
	}
	var apiErr *APIError
	var ve *ValidationError
	switch {
	case errors.As(err, &apiErr):
		return OutcomeAPIError, apiErr.Code
	case errors.As(err, &ve):
		return OutcomeInvalid, 0
	case errors.Is(err, ErrOutcomeUnknown):
		return OutcomeUnknown, 0
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return OutcomeCanceled, 0
	}
	return OutcomeTransport, 0
}

// TokenFetchInfo describes one token fetch.
type TokenFetchInfo struct {
	// Kind is what was fetched: "access_token", "wx_card_ticket",
	// "component_access_token", "authorizer_access_token".
	Kind string
	// From is "source" (the TokenSource, e.g. WeChat's stable_token) or
	// "store" (another instance's token read from the TokenStore).
	From     string
	Early    bool // a background refresh ahead of expiry
	Err      error
	Duration time.Duration
}

// PushInfo describes one push a handler answered.
type PushInfo struct {
	Handler string // "event" (EventHandler) or "component"
	// Event is the event (update_invoice_status...) or InfoType; "" when the
	// push was refused before it was decrypted and parsed.
	Event string
	// Outcome is "processed" (the callback ran and succeeded), "duplicate"
	// (a retry of a processed push), "in_progress", "refused" (4xx: bad
	// signature, timestamp, body...), "failed" (the callback or the Deduper
	// failed: WeChat retries) or "verified" (a URL verification GET).
	Outcome  string
	Status   int // the HTTP status answered
	Duration time.Duration
}

// NopObserver is an Observer that does nothing; embed it to implement only
// some methods.
type NopObserver struct{}

// StartCall returns ctx.
func (NopObserver) StartCall(ctx context.Context, _ string) context.Context { return ctx }

// Attempt does nothing.
func (NopObserver) Attempt(context.Context, AttemptInfo) {}

// EndCall does nothing.
func (NopObserver) EndCall(context.Context, CallInfo) {}

// TokenFetch does nothing.
func (NopObserver) TokenFetch(context.Context, TokenFetchInfo) {}

// Push does nothing.
func (NopObserver) Push(context.Context, PushInfo) {}

// WithObserver makes the Client report every call, attempt and token fetch
// to o (see Observer; package otelwx adapts it to OpenTelemetry).
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// attemptCounterKey carries the attempt counter of the call being observed.
type attemptCounterKey struct{}

func withAttemptCounter(ctx context.Context, n *int) context.Context {
	return context.WithValue(ctx, attemptCounterKey{}, n)
}

// observeAttempt reports one HTTP attempt of op that began at began and
// ended with err (nil, an *APIError, or a transport error); retry tells
// whether the call goes on.
func (c *Client) observeAttempt(ctx context.Context, op *operation, attempt int, began time.Time, err error, retry bool) {
	if !c.obs.enabled() {
		return
	}
	n := attempt
	if p, ok := ctx.Value(attemptCounterKey{}).(*int); ok {
		*p++
		n = *p // counts the replay after a rejected token too
	}
	a := AttemptInfo{Op: op.path, Attempt: n, Err: err, Duration: time.Since(began), Retry: retry}
	var apiErr *APIError
	var se *statusError
	switch {
	case err == nil:
		a.HTTPStatus = 200
	case errors.As(err, &apiErr):
		a.HTTPStatus, a.ErrCode = 200, apiErr.Code
	case errors.As(err, &se):
		a.HTTPStatus = se.code
	}
	c.obs.attempt(ctx, a)
}

// callInfo describes a finished call for EndCall.
func callInfo(op string, attempts int, start time.Time, err error) CallInfo {
	outcome, code := outcomeOf(err)
	return CallInfo{Op: op, Attempts: attempts, ErrCode: code, Outcome: outcome, Err: err, Duration: time.Since(start)}
}

// observer calls an Observer, recovering its panics; the zero value (no
// Observer) does nothing and costs one nil check.
type observer struct{ o Observer }

func (ob observer) enabled() bool { return ob.o != nil }

func (ob observer) startCall(ctx context.Context, op string) (out context.Context) {
	if ob.o == nil {
		return ctx
	}
	defer func() {
		if recover() != nil {
			out = ctx
		}
	}()
	if c := ob.o.StartCall(ctx, op); c != nil {
		return c
	}
	return ctx
}

func (ob observer) attempt(ctx context.Context, a AttemptInfo) {
	if ob.o == nil {
		return
	}
	defer func() { _ = recover() }()
	ob.o.Attempt(ctx, a)
}

func (ob observer) endCall(ctx context.Context, c CallInfo) {
	if ob.o == nil {
		return
	}
	defer func() { _ = recover() }()
	ob.o.EndCall(ctx, c)
}

func (ob observer) tokenFetch(ctx context.Context, t TokenFetchInfo) {
	if ob.o == nil {
		return
	}
	defer func() { _ = recover() }()
	ob.o.TokenFetch(ctx, t)
}

func (ob observer) push(ctx context.Context, p PushInfo) {
	if ob.o == nil {
		return
	}
	defer func() { _ = recover() }()
	ob.o.Push(ctx, p)
}

// pushNote is what a push handler learns about the push being observed.
type pushNote struct {
	event   string
	outcome DedupeOutcome
}

type pushNoteKey struct{}

// notePushEvent records the event name (or, for a message, its MsgType) of
// the push being observed in ctx; it does nothing when none is.
func notePushEvent(ctx context.Context, event, msgType string) {
	if n, ok := ctx.Value(pushNoteKey{}).(*pushNote); ok {
		n.event = event
		if event == "" {
			n.event = msgType
		}
	}
}

// notePushOutcome records what the dedupe procedure did with the push.
func notePushOutcome(ctx context.Context, o DedupeOutcome) {
	if n, ok := ctx.Value(pushNoteKey{}).(*pushNote); ok {
		n.outcome = o
	}
}

// statusWriter records the status a handler answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observePush wraps one request of the handler so that end reports it to
// the Observer.
func (h *EventHandler) observePush(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	start := time.Now()
	note := &pushNote{}
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), pushNoteKey{}, note))
	handler := "event"
	if h.component != nil {
		handler = "component"
	}
	return sw, r, func() {
		p := PushInfo{Handler: handler, Event: note.event, Status: sw.status, Duration: time.Since(start)}
		switch {
		case r.Method == http.MethodGet && sw.status == http.StatusOK:
			p.Outcome = "verified"
		case note.outcome == DedupeDuplicate:
			p.Outcome = "duplicate"
		case note.outcome == DedupeInProgress:
			p.Outcome = "in_progress"
		case sw.status >= 500:
			p.Outcome = "failed"
		case sw.status >= 400:
			p.Outcome = "refused"
		default:
			p.Outcome = "processed"
		}
		h.obs.push(r.Context(), p)
	}
}
