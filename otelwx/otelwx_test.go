package otelwx_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/otelwx"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

const (
	pushToken = "otel-push-token"
	pushKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	appID     = "wxotel0000000001"
	appSecret = "otel-app-secret-must-not-leak"
)

type recorder struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	obs    *otelwx.Observer
}

func newRecorder() *recorder {
	r := &recorder{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.obs = otelwx.New(tp, mp)
	return r
}

func (r *recorder) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// TestCallsTokensAndPushes drives a Client and an EventHandler against the
// fake and checks the spans and metrics an operator relies on, and that no
// attribute, event or status anywhere holds the token or the secret.
func TestCallsTokensAndPushes(t *testing.T) {
	rec := newRecorder()
	statuses := make(chan wxinvoice.ReimburseStatus, 4)
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: pushToken, EncodingAESKey: pushKey, AppID: appID,
		Observer: rec.obs,
		OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			statuses <- ev.Status
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	events := httptest.NewServer(h)
	defer events.Close()
	srv := wxinvoicetest.NewServer(wxinvoicetest.WithApp(appID, appSecret),
		wxinvoicetest.WithEventPush(events.URL, wxinvoicetest.PushConfig{Token: pushToken, EncodingAESKey: pushKey, AppID: appID}))
	defer srv.Close()
	client, err := wxinvoice.New(appID, appSecret, wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithObserver(rec.obs),
		wxinvoice.WithRetryPolicy(wxinvoice.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	token, err := client.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}

	srv.FailNext("/card/invoice/seturl", 1, wxinvoicetest.Fault{ErrCode: -1}) // one retry
	if _, err := client.SetURL(ctx); err != nil {
		t.Fatal(err)
	}
	card, err := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "p", Type: "t",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://l", Title: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := client.UploadPDF(ctx, "a.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "o1", CardID: card.CardID, AppID: appID,
		Invoice: wxinvoice.InvoiceData{Fee: 1, Title: "t", BillingTime: time.Now(), BillingNo: "1", PDFMediaID: up.SMediaID}})
	if err != nil {
		t.Fatal(err)
	}
	err = client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: inv.Code, Status: wxinvoice.ReimburseClosure})
	if !errors.Is(err, wxinvoice.ErrInvoiceStatus) { // INIT → CLOSURE is not a move: 72024
		t.Fatalf("err = %v, want 72024", err)
	}
	if err := srv.SetStatus(card.CardID, inv.Code, wxinvoice.ReimburseLock); err != nil {
		t.Fatal(err)
	}
	srv.WaitPushes()
	<-statuses

	// Spans: one per call, named by operation, with outcome and errcode.
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.spans.Ended() {
		byName[s.Name()] = s
	}
	for _, op := range []string{"/card/invoice/seturl", "/card/invoice/platform/createcard", "/card/invoice/platform/setpdf",
		"/card/invoice/insert", "/card/invoice/platform/updatestatus", "wxinvoice push update_invoice_status"} {
		if _, ok := byName[op]; !ok {
			t.Errorf("no span %q; have %v", op, names(rec.spans.Ended()))
		}
	}
	seturl := byName["/card/invoice/seturl"]
	if got := attr(seturl.Attributes(), otelwx.AttrAttempts); got.AsInt64() != 2 {
		t.Errorf("seturl attempts = %v, want 2", got.String())
	}
	if n := len(seturl.Events()); n != 2 {
		t.Errorf("seturl has %d attempt events, want 2", n)
	}
	status := byName["/card/invoice/platform/updatestatus"]
	if got := attr(status.Attributes(), otelwx.AttrErrCode); got.AsInt64() != 72024 {
		t.Errorf("updatestatus errcode = %v", got.String())
	}
	if got := attr(status.Attributes(), otelwx.AttrOutcome); got.AsString() != "api_error" {
		t.Errorf("updatestatus outcome = %v", got.String())
	}
	push := byName["wxinvoice push update_invoice_status"]
	if got := attr(push.Attributes(), otelwx.AttrOutcome); got.AsString() != "processed" {
		t.Errorf("push outcome = %v", got.String())
	}

	// Metrics.
	ms := rec.metrics(t)
	for _, name := range []string{"wxinvoice.call.duration", "wxinvoice.call.retries", "wxinvoice.token.fetches",
		"wxinvoice.push.count", "wxinvoice.push.duration"} {
		if _, ok := ms[name]; !ok {
			t.Errorf("no metric %s", name)
		}
	}
	if sum, ok := ms["wxinvoice.call.retries"].Data.(metricdata.Sum[int64]); !ok || total(sum) != 1 {
		t.Errorf("retries = %+v, want 1", ms["wxinvoice.call.retries"].Data)
	}
	if sum, ok := ms["wxinvoice.token.fetches"].Data.(metricdata.Sum[int64]); !ok || total(sum) != 1 {
		t.Errorf("token fetches = %+v, want 1", ms["wxinvoice.token.fetches"].Data)
	}

	// No secret anywhere.
	for _, s := range rec.spans.Ended() {
		check := func(where string, kvs []attribute.KeyValue) {
			for _, kv := range kvs {
				v := kv.Value.String()
				if strings.Contains(v, token) || strings.Contains(v, appSecret) || strings.Contains(v, pushKey) ||
					strings.Contains(v, "access_token=") {
					t.Errorf("%s of span %s: %s=%s holds a secret", where, s.Name(), kv.Key, v)
				}
			}
		}
		check("attributes", s.Attributes())
		for _, ev := range s.Events() {
			check("event "+ev.Name, ev.Attributes)
		}
		if strings.Contains(s.Status().Description, token) {
			t.Errorf("status of %s holds the token", s.Name())
		}
	}
	for name, m := range ms {
		for _, kvs := range dataAttrs(m.Data) {
			for _, kv := range kvs {
				if v := kv.Value.String(); strings.Contains(v, token) || strings.Contains(v, appSecret) {
					t.Errorf("metric %s: %s=%s holds a secret", name, kv.Key, v)
				}
			}
		}
	}
}

// TestPanickingObserver: an Observer that panics never fails a call.
func TestPanickingObserver(t *testing.T) {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithObserver(panicky{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SetURL(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type panicky struct{}

func (panicky) StartCall(context.Context, string) context.Context    { panic("StartCall") }
func (panicky) Attempt(context.Context, wxinvoice.AttemptInfo)       { panic("Attempt") }
func (panicky) EndCall(context.Context, wxinvoice.CallInfo)          { panic("EndCall") }
func (panicky) TokenFetch(context.Context, wxinvoice.TokenFetchInfo) { panic("TokenFetch") }
func (panicky) Push(context.Context, wxinvoice.PushInfo)             { panic("Push") }

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attr(kvs []attribute.KeyValue, k attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func total(s metricdata.Sum[int64]) int64 {
	var n int64
	for _, dp := range s.DataPoints {
		n += dp.Value
	}
	return n
}

func dataAttrs(d metricdata.Aggregation) [][]attribute.KeyValue {
	var out [][]attribute.KeyValue
	switch d := d.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes.ToSlice())
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes.ToSlice())
		}
	}
	return out
}
