package wxinvoice

import (
	"context"
	"errors"
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
