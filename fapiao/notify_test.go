package fapiao

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

const testAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb" // V4/D4's key

// callbackRequest builds a signed, encrypted callback as WeChat Pay sends
// it, at Unix time ts.
func callbackRequest(t testing.TB, id, eventType string, resource any, ts int64) *http.Request {
	t.Helper()
	pt, err := json.Marshal(resource)
	if err != nil {
		t.Fatal(err)
	}
	env := Notification{ID: id, CreateTime: "2025-01-01T10:00:00+08:00", EventType: eventType, ResourceType: "encrypt-resource", Summary: "s",
		Resource: NotificationResource{OriginalType: "fapiao", Algorithm: aeadAlgorithm, Nonce: "fapiaoNonce1",
			Ciphertext: sealGCM(t, testAPIv3Key, "fapiaoNonce1", "fapiao", pt), AssociatedData: "fapiao"}}
	body, _ := json.Marshal(env)
	return signedPost(t, body, testPubKeyID, ts)
}

func signedPost(t testing.TB, body []byte, serial string, ts int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range signAnswer(t, serial, ts, "cbnonce", body) {
		r.Header.Set(k, v)
	}
	return r
}

type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

const cbNow = 1710048759

func newTestNotify(t testing.TB, rec *recorder, mod func(*NotifyConfig)) *NotifyHandler {
	t.Helper()
	loadTestKeys(t)
	cfg := NotifyConfig{
		APIv3Key: testAPIv3Key, WechatPayPublicKeyID: testPubKeyID, WechatPayPublicKey: testPub, PlatformCertificates: []*x509.Certificate{testCert},
		Clock: fixedClock(cbNow),
		OnUserApplied: func(_ context.Context, ev *UserAppliedEvent) error {
			rec.add("applied:" + ev.FapiaoApplyID + ":" + ev.ApplyTime + ":" + ev.Notification.ID)
			return nil
		},
		OnIssued: func(_ context.Context, ev *FapiaoEvent) error {
			rec.add("issued:" + ev.FapiaoApplyID + ":" + ev.FapiaoInformation[0].FapiaoStatus)
			return nil
		},
		OnReversed:      func(_ context.Context, ev *FapiaoEvent) error { rec.add("reversed:" + ev.FapiaoApplyID); return nil },
		OnCardInserted:  func(_ context.Context, ev *FapiaoEvent) error { rec.add("inserted:" + ev.FapiaoApplyID); return nil },
		OnCardDiscarded: func(_ context.Context, ev *FapiaoEvent) error { rec.add("discarded:" + ev.SubMchID); return nil },
		OnEvent: func(_ context.Context, n *Notification) error {
			rec.add("other:" + n.EventType + ":" + string(n.Plaintext))
			return nil
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := NewNotifyHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestNotifyD4 feeds the derived vector D4 (signed with the certificate
// serial) to the handler.
func TestNotifyD4(t *testing.T) {
	_, d := loadVectors(t)
	rec := &recorder{}
	h := newTestNotify(t, rec, nil)
	d4 := d["D4"]
	r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(d4.Body))
	for k, v := range d4.Headers {
		r.Header.Set(k, v)
	}
	w := serve(h, r)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("answer %d %q", w.Code, w.Body)
	}
	if got := rec.list(); len(got) != 1 || got[0] != "issued:4200000444201910177461284488:ISSUED" {
		t.Errorf("callbacks %v", got)
	}
}

func TestNotifyTypedEvents(t *testing.T) {
	rec := &recorder{}
	h := newTestNotify(t, rec, nil)
	var applied UserAppliedEvent
	readJSON(t, "callback_user_applied_resource.json", &applied)
	var ev FapiaoEvent
	readJSON(t, "callback_card_discarded_resource.json", &ev)
	for i, tc := range []struct {
		typ  string
		res  any
		want string
	}{
		{EventUserApplied, applied, "applied:4200000444201910177461284488:2020-07-01T12:00:00+08:00:EV-1"},
		{EventIssued, ev, "issued:4200000444201910177461284488:ISSUED"},
		{EventReversed, ev, "reversed:4200000444201910177461284488"},
		{EventCardInserted, ev, "inserted:4200000444201910177461284488"},
		{EventCardDiscarded, ev, "discarded:1900000109"},
		{"FAPIAO.SOMETHING_NEW", map[string]string{"k": "v"}, `other:FAPIAO.SOMETHING_NEW:{"k":"v"}`},
	} {
		w := serve(h, callbackRequest(t, "EV-"+string(rune('1'+i)), tc.typ, tc.res, cbNow))
		if w.Code != http.StatusNoContent {
			t.Errorf("%s: answer %d", tc.typ, w.Code)
		}
		if got := rec.list(); len(got) != i+1 || got[i] != tc.want {
			t.Errorf("%s: callbacks %v, want last %q", tc.typ, got, tc.want)
		}
	}
	// No typed callback: OnEvent gets it.
	rec2 := &recorder{}
	h2 := newTestNotify(t, rec2, func(c *NotifyConfig) { c.OnIssued = nil })
	serve(h2, callbackRequest(t, "EV-X", EventIssued, ev, cbNow))
	if got := rec2.list(); len(got) != 1 || !strings.HasPrefix(got[0], "other:FAPIAO.ISSUED:") {
		t.Errorf("fallback callbacks %v", got)
	}
}

// TestNotifyRefusals: every failed verification or decryption gets the
// same answer and runs no callback.
func TestNotifyRefusals(t *testing.T) {
	var ev FapiaoEvent
	readJSON(t, "callback_issued_resource.json", &ev)
	good := func() *http.Request { return callbackRequest(t, "EV-R", EventIssued, ev, cbNow) }
	bodyOf := func(r *http.Request) []byte {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		return b.Bytes()
	}
	cases := map[string]func() *http.Request{
		"bad signature": func() *http.Request {
			r := good()
			r.Header.Set(headerSignature, strings.Repeat("A", 344))
			return r
		},
		"unknown serial": func() *http.Request {
			r := good()
			body := bodyOf(r)
			return signedPost(t, body, "PUB_KEY_ID_UNKNOWN", cbNow)
		},
		"stale timestamp":  func() *http.Request { return callbackRequest(t, "EV-R", EventIssued, ev, cbNow-300) },
		"future timestamp": func() *http.Request { return callbackRequest(t, "EV-R", EventIssued, ev, cbNow+301) },
		"wrong APIv3 key": func() *http.Request {
			pt, _ := json.Marshal(ev)
			env := Notification{ID: "EV-R", EventType: EventIssued, Resource: NotificationResource{Algorithm: aeadAlgorithm, Nonce: "fapiaoNonce1",
				Ciphertext: sealGCM(t, strings.Repeat("k", 32), "fapiaoNonce1", "", pt)}}
			body, _ := json.Marshal(env)
			return signedPost(t, body, testPubKeyID, cbNow)
		},
		"tampered ciphertext": func() *http.Request {
			pt, _ := json.Marshal(ev)
			ct := []byte(sealGCM(t, testAPIv3Key, "fapiaoNonce1", "", pt))
			ct[5] ^= 1
			env := Notification{ID: "EV-R", EventType: EventIssued, Resource: NotificationResource{Algorithm: aeadAlgorithm, Nonce: "fapiaoNonce1", Ciphertext: string(ct)}}
			body, _ := json.Marshal(env)
			return signedPost(t, body, testPubKeyID, cbNow) // signed by WeChat, but does not open
		},
		"tampered body": func() *http.Request {
			r := good()
			body := bytes.Replace(bodyOf(r), []byte("EV-R"), []byte("EV-S"), 1)
			r2 := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
			r2.Header = r.Header
			return r2
		},
		"oversized body": func() *http.Request {
			big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), DefaultNotifyMaxBody)...)
			big = append(big, `"}`...)
			return signedPost(t, big, testPubKeyID, cbNow)
		},
		"oversized body without length": func() *http.Request {
			big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), DefaultNotifyMaxBody)...)
			big = append(big, `"}`...)
			r := signedPost(t, big, testPubKeyID, cbNow)
			r.ContentLength = -1
			return r
		},
		"missing headers": func() *http.Request {
			r := good()
			r.Header.Del(headerTimestamp)
			return r
		},
		"missing serial": func() *http.Request {
			r := good()
			r.Header.Del(headerSerial)
			return r
		},
		"other algorithm": func() *http.Request {
			env := Notification{ID: "EV-R", EventType: EventIssued, Resource: NotificationResource{Algorithm: "AEAD_SM4_GCM", Nonce: "fapiaoNonce1", Ciphertext: "AAAA"}}
			body, _ := json.Marshal(env)
			return signedPost(t, body, testPubKeyID, cbNow)
		},
		"not JSON": func() *http.Request { return signedPost(t, []byte("not json"), testPubKeyID, cbNow) },
		"probe": func() *http.Request {
			r := good()
			r.Header.Set(headerSignature, "WECHATPAY/SIGNTEST/"+r.Header.Get(headerSignature))
			return r
		},
	}
	var first *httptest.ResponseRecorder
	for name, mk := range cases {
		rec := &recorder{}
		h := newTestNotify(t, rec, nil)
		w := serve(h, mk())
		if got := rec.list(); len(got) != 0 {
			t.Errorf("%s: callbacks ran: %v", name, got)
		}
		if w.Code != http.StatusUnauthorized || w.Body.String() != failBody {
			t.Errorf("%s: answer %d %q", name, w.Code, w.Body)
		}
		if first == nil {
			first = w
		} else if w.Code != first.Code || w.Body.String() != first.Body.String() || len(w.Header()) != len(first.Header()) ||
			w.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
			t.Errorf("%s: answer differs from the others: %d %v", name, w.Code, w.Header())
		}
	}
	// The untampered request passes, so the table tests what it says.
	rec := &recorder{}
	if w := serve(newTestNotify(t, rec, nil), good()); w.Code != http.StatusNoContent || len(rec.list()) != 1 {
		t.Errorf("good callback: %d %v", w.Code, rec.list())
	}
}

// TestNotifyHeadersCheckedBeforeBody: a request with implausible headers is
// refused without its body being read.
func TestNotifyHeadersCheckedBeforeBody(t *testing.T) {
	h := newTestNotify(t, &recorder{}, nil)
	var read atomic.Bool
	body := readerFunc(func(p []byte) (int, error) { read.Store(true); return 0, errors.New("read") })
	r := httptest.NewRequest(http.MethodPost, "/notify", body)
	r.Header.Set(headerTimestamp, "1")
	r.Header.Set(headerNonce, "n")
	r.Header.Set(headerSignature, "c2ln")
	r.Header.Set(headerSerial, testPubKeyID)
	if w := serve(h, r); w.Code != http.StatusUnauthorized || read.Load() {
		t.Errorf("answer %d, body read %v", w.Code, read.Load())
	}
	if w := serve(h, httptest.NewRequest(http.MethodGet, "/notify", nil)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", w.Code)
	}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestNotifyDedupeFailureAndPanic(t *testing.T) {
	var ev FapiaoEvent
	readJSON(t, "callback_issued_resource.json", &ev)
	var calls atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	h := newTestNotify(t, &recorder{}, func(c *NotifyConfig) {
		c.OnIssued = func(context.Context, *FapiaoEvent) error {
			calls.Add(1)
			if fail.Load() {
				return errors.New("database down")
			}
			return nil
		}
		c.OnReversed = func(context.Context, *FapiaoEvent) error { panic("boom") }
	})
	// A failing callback: 500 with the FAIL body; the retry runs it again.
	w := serve(h, callbackRequest(t, "EV-D", EventIssued, ev, cbNow))
	if w.Code != http.StatusInternalServerError || w.Body.String() != failBody || calls.Load() != 1 {
		t.Fatalf("answer %d %q after %d calls", w.Code, w.Body, calls.Load())
	}
	fail.Store(false)
	if w := serve(h, callbackRequest(t, "EV-D", EventIssued, ev, cbNow)); w.Code != http.StatusNoContent || calls.Load() != 2 {
		t.Fatalf("retry: %d after %d calls", w.Code, calls.Load())
	}
	// Further retries of the same id: acknowledged, not run.
	if w := serve(h, callbackRequest(t, "EV-D", EventIssued, ev, cbNow+10)); w.Code != http.StatusNoContent || calls.Load() != 2 {
		t.Fatalf("duplicate: %d after %d calls", w.Code, calls.Load())
	}
	// Another id runs.
	if serve(h, callbackRequest(t, "EV-E", EventIssued, ev, cbNow)); calls.Load() != 3 {
		t.Errorf("new id: %d calls", calls.Load())
	}
	// A panic is recovered into a 500.
	if w := serve(h, callbackRequest(t, "EV-P", EventReversed, ev, cbNow)); w.Code != http.StatusInternalServerError || w.Body.String() != failBody {
		t.Errorf("panic: %d %q", w.Code, w.Body)
	}
}

// blockingDeduper shares one memory deduper between two handlers, as
// redisstore does between processes.
func TestNotifyDuplicateWhileInFlight(t *testing.T) {
	var ev FapiaoEvent
	readJSON(t, "callback_issued_resource.json", &ev)
	shared := wxinvoice.NewMemoryDeduper(0)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := newTestNotify(t, &recorder{}, func(c *NotifyConfig) {
		c.Deduper = shared
		c.OnIssued = func(context.Context, *FapiaoEvent) error { close(entered); <-release; return nil }
	})
	var calls atomic.Int32
	other := newTestNotify(t, &recorder{}, func(c *NotifyConfig) {
		c.Deduper = shared
		c.OnIssued = func(context.Context, *FapiaoEvent) error { calls.Add(1); return nil }
	})
	done := make(chan int)
	go func() { done <- serve(slow, callbackRequest(t, "EV-F", EventIssued, ev, cbNow)).Code }()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("callback not entered")
	}
	if w := serve(other, callbackRequest(t, "EV-F", EventIssued, ev, cbNow)); w.Code != http.StatusServiceUnavailable || calls.Load() != 0 {
		t.Errorf("in-flight duplicate: %d, %d calls", w.Code, calls.Load())
	}
	close(release)
	if code := <-done; code != http.StatusNoContent {
		t.Errorf("first delivery: %d", code)
	}
	if w := serve(other, callbackRequest(t, "EV-F", EventIssued, ev, cbNow)); w.Code != http.StatusNoContent || calls.Load() != 0 {
		t.Errorf("after completion: %d, %d calls", w.Code, calls.Load())
	}
}

type failingDeduper struct{}

func (failingDeduper) Lease() time.Duration { return wxinvoice.DefaultDedupeLease }
func (failingDeduper) Claim(context.Context, string, string) (wxinvoice.ClaimStatus, error) {
	return 0, errors.New("redis down")
}
func (failingDeduper) Renew(context.Context, string, string) (bool, error) { return false, nil }
func (failingDeduper) Done(context.Context, string, time.Duration) error   { return nil }
func (failingDeduper) Release(context.Context, string, string) error       { return nil }

func TestNotifyDeduperDown(t *testing.T) {
	var ev FapiaoEvent
	readJSON(t, "callback_issued_resource.json", &ev)
	rec := &recorder{}
	h := newTestNotify(t, rec, func(c *NotifyConfig) { c.Deduper = failingDeduper{} })
	if w := serve(h, callbackRequest(t, "EV-G", EventIssued, ev, cbNow)); w.Code != http.StatusServiceUnavailable || len(rec.list()) != 0 {
		t.Errorf("answer %d, callbacks %v", w.Code, rec.list())
	}
}

func TestNewNotifyHandlerValidation(t *testing.T) {
	loadTestKeys(t)
	cb := func(context.Context, *Notification) error { return nil }
	for name, tc := range map[string]struct {
		cfg   NotifyConfig
		field string
	}{
		"short key":   {NotifyConfig{APIv3Key: "short", WechatPayPublicKeyID: testPubKeyID, WechatPayPublicKey: testPub, OnEvent: cb}, "APIv3Key"},
		"no keys":     {NotifyConfig{APIv3Key: testAPIv3Key, OnEvent: cb}, "WechatPayPublicKey"},
		"no callback": {NotifyConfig{APIv3Key: testAPIv3Key, WechatPayPublicKeyID: testPubKeyID, WechatPayPublicKey: testPub}, "NotifyConfig"},
	} {
		_, err := NewNotifyHandler(tc.cfg)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || strings.Contains(err.Error(), testAPIv3Key) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzNotifyHandler(f *testing.F) {
	loadTestKeys(f)
	_, d := loadVectors(f)
	f.Add([]byte(d["D4"].Body), d["D4"].Headers[headerTimestamp], d["D4"].Headers[headerNonce], d["D4"].Headers[headerSignature], d["D4"].Headers[headerSerial])
	f.Add([]byte(`{}`), "1710048759", "n", "c2ln", testPubKeyID)
	f.Add([]byte(`{"resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"x","ciphertext":"!!"}}`), "1710048759", "", "", "")
	var calls atomic.Int32
	h := newTestNotify(f, &recorder{}, func(c *NotifyConfig) {
		c.OnIssued = func(context.Context, *FapiaoEvent) error { calls.Add(1); return nil }
		c.OnEvent = func(context.Context, *Notification) error { calls.Add(1); return nil }
	})
	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig, serial string) {
		r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
		for k, v := range map[string]string{headerTimestamp: ts, headerNonce: nonce, headerSignature: sig, headerSerial: serial} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				r.Header.Set(k, v)
			}
		}
		before := calls.Load()
		w := serve(h, r)
		switch w.Code {
		case http.StatusNoContent:
			// Only the genuine D4 vector verifies; it must have run a callback
			// (or been a duplicate of one that did).
			if !bytes.Equal(body, []byte(d["D4"].Body)) || sig != d["D4"].Headers[headerSignature] {
				t.Fatalf("accepted a forged callback: %q", body)
			}
		case http.StatusUnauthorized:
			if w.Body.String() != failBody || calls.Load() != before {
				t.Fatalf("refusal %q ran a callback", w.Body)
			}
		default:
			t.Fatalf("answer %d", w.Code)
		}
	})
}
