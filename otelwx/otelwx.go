// Package otelwx reports what the wxinvoice SDK does to OpenTelemetry: a span
// per API call (with an event per attempt) and per push handled, and metrics
// for calls, retries, token fetches and pushes.
//
// Use it through the SDK's Observer hook rather than by wrapping the HTTP
// transport: an instrumented transport (otelhttp) records the request URL,
// and WeChat's access token is a query parameter of every URL. The Observer
// sees only the operation (WeChat's API path), the errcode, the outcome and
// the redacted error:
//
//	obs := otelwx.New(otel.GetTracerProvider(), otel.GetMeterProvider())
//	client, err := wxinvoice.New(appID, secret, wxinvoice.WithObserver(obs))
//	handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{..., Observer: obs})
//
// Attribute names follow the OpenTelemetry semantic conventions where one
// exists (http.response.status_code, error.type) and use the wxinvoice.
// prefix otherwise.
package otelwx

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxinvoice/wxinvoice"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/wxinvoice/wxinvoice/otelwx"

// Attribute keys of the spans and metrics.
const (
	AttrOperation = attribute.Key("wxinvoice.operation") // WeChat's API path, e.g. /card/invoice/insert
	AttrErrCode   = attribute.Key("wxinvoice.errcode")   // WeChat's errcode
	AttrOutcome   = attribute.Key("wxinvoice.outcome")   // wxinvoice.Outcome, or the push outcome
	AttrAttempts  = attribute.Key("wxinvoice.attempts")  // HTTP attempts of a call
	AttrAttempt   = attribute.Key("wxinvoice.attempt")   // the number of an attempt
	AttrRetry     = attribute.Key("wxinvoice.retry")     // an attempt is followed by another
	AttrTokenKind = attribute.Key("wxinvoice.token.kind")
	AttrTokenFrom = attribute.Key("wxinvoice.token.from")
	AttrEarly     = attribute.Key("wxinvoice.token.early")
	AttrHandler   = attribute.Key("wxinvoice.push.handler")
	AttrEvent     = attribute.Key("wxinvoice.push.event")
	attrErrorType = attribute.Key("error.type")
	attrStatus    = attribute.Key("http.response.status_code")
)

// Observer is a wxinvoice.Observer that records spans and metrics. It is safe
// for concurrent use; share one between Clients and handlers.
type Observer struct {
	tracer trace.Tracer

	callDuration  metric.Float64Histogram
	retries       metric.Int64Counter
	tokenFetches  metric.Int64Counter
	pushes        metric.Int64Counter
	pushDurations metric.Float64Histogram
}

var _ wxinvoice.Observer = (*Observer)(nil)

// New returns an Observer recording spans with tp and metrics with mp (either
// may be nil: then that signal is not recorded).
func New(tp trace.TracerProvider, mp metric.MeterProvider) *Observer {
	o := &Observer{}
	if tp != nil {
		o.tracer = tp.Tracer(ScopeName)
	}
	if mp == nil {
		return o
	}
	m := mp.Meter(ScopeName)
	// Instrument creation fails only for invalid names or units, which are
	// constant here; a failed instrument is a no-op one.
	o.callDuration, _ = m.Float64Histogram("wxinvoice.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of WeChat API calls, retries included, by operation, errcode and outcome."))
	o.retries, _ = m.Int64Counter("wxinvoice.call.retries", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts of WeChat API calls that were followed by another attempt."))
	o.tokenFetches, _ = m.Int64Counter("wxinvoice.token.fetches", metric.WithUnit("{fetch}"),
		metric.WithDescription("Token fetches by kind, origin (source or store) and outcome."))
	o.pushes, _ = m.Int64Counter("wxinvoice.push.count", metric.WithUnit("{push}"),
		metric.WithDescription("Pushes answered by handler, event and outcome."))
	o.pushDurations, _ = m.Float64Histogram("wxinvoice.push.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to answer a push, callback included."))
	return o
}

// callSpanKey carries the span StartCall started, so that Attempt and
// EndCall act on it and never on a span of the caller's.
type callSpanKey struct{}

// StartCall starts the call's span, named by the operation.
func (o *Observer) StartCall(ctx context.Context, op string) context.Context {
	if o.tracer == nil {
		return ctx
	}
	ctx, span := o.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrOperation.String(op)))
	return context.WithValue(ctx, callSpanKey{}, span)
}

// callSpan returns the span StartCall started for this call, if it is
// recording.
func callSpan(ctx context.Context) (trace.Span, bool) {
	span, ok := ctx.Value(callSpanKey{}).(trace.Span)
	return span, ok && span.IsRecording()
}

// Attempt adds an event to the call's span and counts retries.
func (o *Observer) Attempt(ctx context.Context, a wxinvoice.AttemptInfo) {
	if o.retries != nil && a.Retry {
		o.retries.Add(ctx, 1, metric.WithAttributes(AttrOperation.String(a.Op), AttrErrCode.Int(a.ErrCode)))
	}
	span, ok := callSpan(ctx)
	if !ok {
		return
	}
	attrs := []attribute.KeyValue{AttrAttempt.Int(a.Attempt), AttrErrCode.Int(a.ErrCode), AttrRetry.Bool(a.Retry)}
	if a.HTTPStatus != 0 {
		attrs = append(attrs, attrStatus.Int(a.HTTPStatus))
	}
	if a.Err != nil {
		attrs = append(attrs, attribute.String("exception.message", a.Err.Error()))
	}
	span.AddEvent("attempt", trace.WithAttributes(attrs...))
}

// EndCall ends the call's span and records its duration.
func (o *Observer) EndCall(ctx context.Context, c wxinvoice.CallInfo) {
	attrs := []attribute.KeyValue{AttrOperation.String(c.Op), AttrErrCode.Int(c.ErrCode), AttrOutcome.String(string(c.Outcome))}
	if o.callDuration != nil {
		o.callDuration.Record(ctx, c.Duration.Seconds(), metric.WithAttributes(attrs...))
	}
	span, ok := callSpan(ctx)
	if !ok {
		return
	}
	span.SetAttributes(append(attrs, AttrAttempts.Int(c.Attempts))...)
	if c.Err != nil {
		span.SetAttributes(attrErrorType.String(errorType(c)))
		span.SetStatus(codes.Error, c.Err.Error())
	}
	span.End()
}

// errorType is the error.type attribute: the errcode for a WeChat error,
// else the outcome.
func errorType(c wxinvoice.CallInfo) string {
	if c.Outcome == wxinvoice.OutcomeAPIError {
		return strconv.Itoa(c.ErrCode)
	}
	return string(c.Outcome)
}

// TokenFetch counts the fetch and adds an event to the current span.
func (o *Observer) TokenFetch(ctx context.Context, t wxinvoice.TokenFetchInfo) {
	result := "ok"
	if t.Err != nil {
		result = "error"
	}
	attrs := []attribute.KeyValue{AttrTokenKind.String(t.Kind), AttrTokenFrom.String(t.From), AttrOutcome.String(result),
		AttrEarly.Bool(t.Early)}
	if o.tokenFetches != nil {
		o.tokenFetches.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("token fetch", trace.WithAttributes(attrs...))
	}
}

// Push records a span for the push (ending now, started Duration ago) and
// counts it.
func (o *Observer) Push(ctx context.Context, p wxinvoice.PushInfo) {
	attrs := []attribute.KeyValue{AttrHandler.String(p.Handler), AttrEvent.String(p.Event), AttrOutcome.String(p.Outcome),
		attrStatus.Int(p.Status)}
	if o.pushes != nil {
		o.pushes.Add(ctx, 1, metric.WithAttributes(attrs...))
		o.pushDurations.Record(ctx, p.Duration.Seconds(), metric.WithAttributes(attrs...))
	}
	if o.tracer == nil {
		return
	}
	name := "wxinvoice push"
	if p.Event != "" {
		name += " " + p.Event
	}
	_, span := o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...),
		trace.WithTimestamp(time.Now().Add(-p.Duration)))
	if p.Status >= 500 {
		span.SetStatus(codes.Error, p.Outcome)
	}
	span.End()
}
