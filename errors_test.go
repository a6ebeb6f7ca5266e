package wxinvoice

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAPIErrorIsAndDescription(t *testing.T) {
	t.Parallel()
	err := error(&APIError{Code: 72042, Msg: "billing_code and billing_no repeated hint: [x]", Op: "/card/invoice/insert"})
	require.ErrorIs(t, err, ErrDuplicateInvoice)
	require.NotErrorIs(t, err, ErrInvoiceLocked)
	require.Equal(t, "wxinvoice: /card/invoice/insert: errcode 72042 (billing_code and billing_no repeated): billing_code and billing_no repeated hint: [x]", err.Error())
	for code, sentinel := range map[int]error{-1: ErrSystemBusy, 40001: ErrInvalidCredential, 40014: ErrInvalidAccessToken,
		42001: ErrAccessTokenExpired, 45009: ErrRateLimited, 40078: ErrInvalidCardStatus, 72023: ErrInvoiceLocked,
		72024: ErrInvoiceStatus, 72031: ErrInvalidParams, 72035: ErrInsertRejected, 72036: ErrInvoiceBusy,
		72038: ErrOrderNotAuthorized, 72039: ErrInvoiceNotLocked, 72040: ErrInvalidPDF, 72043: ErrBillingNoSize} {
		require.ErrorIs(t, &APIError{Code: code}, sentinel)
		require.NotEmpty(t, ErrorDescription(code), "code %d documented", code)
	}
	require.Equal(t, "invoice is busy, try again please", ErrorDescription(72036))
}

// okOnDecrypt serves decrypt with resp, counting calls.
func errServer(t *testing.T, h func(n int32, w http.ResponseWriter, r *http.Request)) (*Client, *atomic.Int32, *testServer) {
	t.Helper()
	ts := newTestServer(t)
	var calls atomic.Int32
	serve := func(w http.ResponseWriter, r *http.Request) { h(calls.Add(1), w, r) }
	ts.mux.HandleFunc("/card/code/decrypt", serve)
	ts.mux.HandleFunc("/card/invoice/insert", serve)
	return ts.client(t), &calls, ts
}

func TestErrcodeAsStringAndTyped(t *testing.T) {
	t.Parallel()
	c, _, _ := errServer(t, func(_ int32, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":"72042","errmsg":"billing_code and billing_no repeated hint: [qeEIWA06744106]"}`))
	})
	_, err := c.InsertInvoice(bg, sampleInsert())
	require.ErrorIs(t, err, ErrDuplicateInvoice)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "/card/invoice/insert", apiErr.Op)
}

func TestSystemBusyRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	c, calls, _ := errServer(t, func(n int32, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			_, _ = w.Write([]byte(`{"errcode":-1,"errmsg":"system error"}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"1","openid":"o"}`))
	})
	_, err := c.InsertInvoice(bg, sampleInsert())
	require.NoError(t, err)
	require.Equal(t, int32(3), calls.Load())
}

func TestRateLimitNeverRetried(t *testing.T) {
	t.Parallel()
	c, calls, _ := errServer(t, func(_ int32, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":45009,"errmsg":"reach max api daily quota limit rid: 1"}`))
	})
	_, err := c.DecryptCode(bg, "e")
	require.ErrorIs(t, err, ErrRateLimited)
	require.Equal(t, int32(1), calls.Load())
}

func TestHTML5xxRetriedAndReported(t *testing.T) {
	t.Parallel()
	c, calls, _ := errServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway for " + r.URL.String() + "</body></html>"))
	})
	_, err := c.DecryptCode(bg, "e")
	require.Error(t, err)
	require.Equal(t, int32(3), calls.Load(), "bounded by MaxAttempts")
	require.Contains(t, err.Error(), "/card/code/decrypt")
	require.Contains(t, err.Error(), "HTTP 502")
	requireNoSecrets(t, err.Error())
}

func TestNonJSONAndTruncatedBodies(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"<html>proxy error</html>", `{"errcode":0,"errmsg":"ok","co`, ""} {
		c, calls, _ := errServer(t, func(_ int32, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) })
		_, err := c.DecryptCode(bg, "e")
		var opErr *OpError
		require.ErrorAs(t, err, &opErr, body)
		require.Contains(t, err.Error(), "decode response")
		require.NotErrorIs(t, err, ErrOutcomeUnknown, "a read has no unknown outcome")
		require.Equal(t, int32(1), calls.Load())

		// The same answer to a write: WeChat may have acted on it.
		_, err = c.InsertInvoice(bg, sampleInsert())
		require.ErrorIs(t, err, ErrOutcomeUnknown, body)
	}
}

func TestDialErrorRetriedAndRedacted(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens: connection refused
	c, err := New("wx", "", WithBaseURL("http://"+addr), WithTokenSource(StaticTokenSource(testToken)),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	require.NoError(t, err)
	_, err = c.InsertInvoice(bg, sampleInsert())
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrOutcomeUnknown, "a refused connection never reached WeChat")
	requireNoSecrets(t, err.Error())
	require.Contains(t, err.Error(), "access_token=REDACTED")
	var urlErr interface{ Unwrap() error }
	require.True(t, errors.As(err, &urlErr))
}

func TestConnectionResetOnWrite(t *testing.T) {
	t.Parallel()
	c, calls, _ := errServer(t, func(_ int32, w http.ResponseWriter, _ *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST
		}
		_ = conn.Close()
	})
	_, err := c.InsertInvoice(bg, sampleInsert())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Equal(t, int32(1), calls.Load())
	requireNoSecrets(t, err.Error())
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":-1,"errmsg":"system error"}`))
	})
	c := ts.client(t, WithRetryPolicy(RetryPolicy{MaxAttempts: 5, MinBackoff: time.Hour, MaxBackoff: time.Hour}))
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.DecryptCode(ctx, "e")
	require.ErrorIs(t, err, ErrSystemBusy)
	require.Less(t, time.Since(start), 5*time.Second)
}
