package wxinvoice

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// benchBody is a request body that can be rewound without allocating.
type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// benchWriter is a minimal ResponseWriter that is reset between iterations,
// so that the figures are the handler's own.
type benchWriter struct {
	hdr  http.Header
	code int
	body [64]byte
	n    int
}

func (w *benchWriter) Header() http.Header  { return w.hdr }
func (w *benchWriter) WriteHeader(code int) { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) {
	w.n += copy(w.body[w.n:], p)
	return len(p), nil
}

// benchPush runs one push end to end through ServeHTTP per iteration: query
// parsing, both signatures, the timestamp window, body read, envelope parse,
// AES decrypt, event parse, dedupe (the in-memory Deduper on a clock that
// jumps past the claim's TTL at every call, so every iteration claims anew)
// and the callback.
func benchPush(b *testing.B, pc PushConfig, cfg EventConfig) {
	var calls int
	cfg.Token = pc.Token
	cfg.EncodingAESKey, cfg.AppID = pc.EncodingAESKey, pc.AppID
	d := newMemoryDeduper(0)
	var tick int64 // hours; time.Duration nanoseconds would overflow after ~100k days
	d.now = func() time.Time { tick++; return time.Unix(tick*3600, 0) }
	cfg.Deduper = d
	cfg.OnInvoiceStatus = func(ctx context.Context, ev *InvoiceStatusEvent) error {
		calls++
		return nil
	}
	h, err := NewEventHandler(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pc.Timestamp = time.Now()
	xml := InvoiceStatusEventXML(&InvoiceStatusEvent{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: pc.Timestamp, Status: ReimburseLock, CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: "186921658591"})
	req, err := NewPushRequest(context.Background(), "http://platform.example/wx/events", pc, xml)
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := io.ReadAll(req.Body)
	body := &benchBody{}
	req.Body = body
	w := &benchWriter{hdr: http.Header{}}

	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body.Reset(payload)
		clear(w.hdr)
		w.code, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK || string(w.body[:w.n]) != "success" {
			b.Fatalf("status %d %q", w.code, w.body[:w.n])
		}
	}
	b.StopTimer()
	if calls != b.N {
		b.Fatalf("%d callbacks for %d pushes", calls, b.N)
	}
}

// BenchmarkEventHandlerEncrypted is one safe-mode update_invoice_status push
// end to end through ServeHTTP.
func BenchmarkEventHandlerEncrypted(b *testing.B) {
	benchPush(b, PushConfig{Token: vecToken, EncodingAESKey: vecKey, AppID: vecAppID}, EventConfig{})
}

// BenchmarkEventHandlerPlaintext is the same push in plaintext mode.
func BenchmarkEventHandlerPlaintext(b *testing.B) {
	benchPush(b, PushConfig{Token: vecToken}, EventConfig{})
}

// BenchmarkEventParsePush is the XML reader alone on a plaintext
// update_invoice_status push.
func BenchmarkEventParsePush(b *testing.B) {
	doc := string(InvoiceStatusEventXML(&InvoiceStatusEvent{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: time.Unix(1700000000, 0), Status: ReimburseLock, CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: "186921658591"}))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var f pushFields
		if err := parsePush(doc, &f); err != nil || f.Code != "186921658591" {
			b.Fatal(err, f.Code)
		}
	}
}

// BenchmarkEventParseQuery is the query reader alone on a safe-mode push's
// query.
func BenchmarkEventParseQuery(b *testing.B) {
	raw := "signature=8c6a5b5f8e4c2a1d0f9e8d7c6b5a49382716a5b4&timestamp=1700000000&nonce=1234567890" +
		"&openid=ojZ8Ytz4lESgdWZ34L_R1TvB2Kds&encrypt_type=aes&msg_signature=0123456789abcdef0123456789abcdef01234567"
	b.ReportAllocs()
	for b.Loop() {
		var q pushQuery
		if !parseQuery(raw, &q) || q.encryptType != "aes" {
			b.Fatal(q)
		}
	}
}
