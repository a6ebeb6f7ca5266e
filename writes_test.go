package wxinvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/transport"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// writeOps are every operation that changes state on WeChat. Each must be
// marked write: a write that may have reached WeChat is sent once.
var writeOps = []*operation{opCreateCard, opInsert, opRejectInsert, opSetAuthField, opSetPayMch, opSetContact,
	opMakeOutInvoice, opClearOutInvoice, opInsertBill, opCreateBillCard, opSetPDF, opUpdateStatus,
	opUpdateInvoiceStatus, opUpdateStatusBatch, opQueryAuth}

// readOps only read (or hand out a fresh URL, code or token: replaying them
// changes nothing on WeChat).
var readOps = []*operation{opSetURL, opDecrypt, opGetTicket, opGetAuthURL, opGetAuthData, opGetAuthField, opGetPayMch,
	opGetContact, opQueryInvoice, opGetBillAuthURL, opGetPDF, opGetInvoiceInfo, opGetInvoiceBatch,
	opGetUserTitleURL, opGetSelectTitleURL, opScanTitle, opPreAuthCode, opAuthorizerList, opAuthorizerToken}

// pathCounter is a server that answers every path with answer and counts
// the complete requests per path.
type pathCounter struct {
	*httptest.Server
	mu     sync.Mutex
	calls  map[string]int
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newPathCounter(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *pathCounter {
	t.Helper()
	pc := &pathCounter{calls: map[string]int{}, answer: answer}
	pc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // an incomplete request, as WeChat sees it: not acted on, not counted
		}
		pc.mu.Lock()
		pc.calls[r.URL.Path]++
		n := pc.calls[r.URL.Path]
		answer := pc.answer
		pc.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(pc.Close)
	return pc
}

func (pc *pathCounter) setAnswer(answer func(n int, w http.ResponseWriter, r *http.Request)) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.answer = answer
}

func (pc *pathCounter) count(path string) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.calls[path]
}

func staticClient(t *testing.T, base string, attempts int, opts ...Option) *Client {
	t.Helper()
	c, err := New(testAppID, "", append([]Option{WithBaseURL(base), WithTokenSource(StaticTokenSource(testToken)),
		WithRetryPolicy(RetryPolicy{MaxAttempts: attempts, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}, opts...)...)
	require.NoError(t, err)
	return c
}

func callOp(ctx context.Context, c *Client, op *operation) error {
	var body requestBody
	if op.method != http.MethodGet {
		jb, err := marshalJSON(struct{}{})
		if err != nil {
			return err
		}
		body = jb
	}
	_, err := do[wire.Empty](ctx, c, op, body, new(wire.Empty))
	return err
}

// Issue 12.1: a write answered with any HTTP error (a gateway's 502/504
// may come after WeChat acted) is sent once and wraps ErrOutcomeUnknown,
// with retries on and off.
func TestWritesAnsweredWithHTTPErrorAreNotReplayed(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "<html>gateway error</html>")
	})
	for _, attempts := range []int{3, 1} {
		c := staticClient(t, srv.URL, attempts)
		for _, code := range []int{500, 502, 503, 504, 400, 429} {
			status.Store(int32(code))
			for _, op := range writeOps {
				require.True(t, op.write, "%s changes state on WeChat: it must be marked write", op.path)
				before := srv.count(op.path)
				err := callOp(bg, c, op)
				require.ErrorIs(t, err, ErrOutcomeUnknown, "%s HTTP %d (attempts %d)", op.path, code, attempts)
				require.ErrorContains(t, err, "HTTP "+strconv.Itoa(code))
				var opErr *OpError
				require.ErrorAs(t, err, &opErr)
				require.Equal(t, op.path, opErr.Op)
				require.Equal(t, before+1, srv.count(op.path), "%s HTTP %d: sent once", op.path, code)
			}
		}
	}
	for _, op := range readOps {
		require.False(t, op.write, "%s only reads", op.path)
	}
}

// The scenario of the issue through the public methods: a processed insert
// answered 502 by a gateway is not inserted twice.
func TestInsertAnswered502IsNotInsertedTwice(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	_, err := staticClient(t, srv.URL, 3).InsertInvoice(bg, sampleInsert())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Equal(t, 1, srv.count("/card/invoice/insert"))
}

// Reads are still retried on 5xx.
func TestReads5xxRetried(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := staticClient(t, srv.URL, 3)
	for _, op := range readOps {
		before := srv.count(op.path)
		err := callOp(bg, c, op)
		require.ErrorContains(t, err, "HTTP 503", op.path)
		require.NotErrorIs(t, err, ErrOutcomeUnknown, op.path)
		require.Equal(t, before+3, srv.count(op.path), "%s: bounded by MaxAttempts", op.path)
	}
}

// A read's Retry-After is honoured: the retry waits at least that long; one
// longer than MaxBackoff, or than ctx leaves, fails at once.
func TestRetryAfterHonouredOnReads(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []time.Time
	var retryAfter atomic.Value
	retryAfter.Store("1")
	srv := newPathCounter(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		seen = append(seen, time.Now())
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", retryAfter.Load().(string))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","code":"c"}`)
	})
	policy := WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Second})
	c := staticClient(t, srv.URL, 3, policy)
	code, err := c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Equal(t, "c", code)
	mu.Lock()
	require.Len(t, seen, 2)
	require.GreaterOrEqual(t, seen[1].Sub(seen[0]), time.Second, "the retry waited for Retry-After")
	mu.Unlock()

	// Longer than MaxBackoff: no retry, the HTTP error names it.
	retryAfter.Store("30")
	_, err = staticClient(t, srv.URL, 3, policy).GetPDF(bg, "m")
	require.ErrorContains(t, err, "HTTP 503 (Retry-After 30s)")
	require.Equal(t, 1, srv.count("/card/invoice/platform/getpdf"))

	// Longer than the ctx deadline leaves: no retry, no useless wait.
	retryAfter.Store("8")
	ctx, cancel := context.WithTimeout(bg, 4*time.Second)
	defer cancel()
	_, err = staticClient(t, srv.URL, 3, policy).QueryInvoiceInfo(ctx, &QueryInvoiceInfoRequest{Fpqqlsh: "f", Nsrsbh: "n"})
	require.ErrorContains(t, err, "HTTP 503 (Retry-After 8s)")
	require.Equal(t, 1, srv.count("/card/invoice/queryinvoceinfo"))
	require.NoError(t, ctx.Err(), "failed at once rather than at the deadline")
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "-3": 0, "x": 0, " 7 ": 7 * time.Second, "99999999999": 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		require.Equal(t, want, parseRetryAfter(in, now), in)
	}
}

// Issue 12.2: when no request left the process the error is not
// ErrOutcomeUnknown and errors.Is(err, ctx.Err()) holds.
func TestWriteCtxDoneBeforeSendingIsNotUnknown(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	c := staticClient(t, srv.URL, 3)
	require.NoError(t, callOp(bg, c, opUpdateStatus)) // warm: the token is cached
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	expired, cancel2 := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel2()
	for ctx, want := range map[context.Context]error{cancelled: context.Canceled, expired: context.DeadlineExceeded} {
		for _, op := range writeOps {
			before := srv.count(op.path)
			err := callOp(ctx, c, op)
			require.ErrorIs(t, err, want, op.path)
			require.NotErrorIs(t, err, ErrOutcomeUnknown, op.path)
			require.Equal(t, before, srv.count(op.path), "%s: nothing sent", op.path)
		}
		_, err := c.InsertInvoice(ctx, sampleInsert())
		require.ErrorIs(t, err, want)
		require.NotErrorIs(t, err, ErrOutcomeUnknown)
	}
}

// A write cancelled while its connection is being made never left the
// process: not unknown, and the cancellation shows.
func TestWriteCancelledWhileConnectingIsNotUnknown(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {})
	dialing := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dialing <- struct{}{}
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, errors.New("dial abandoned")
	}}
	c := staticClient(t, srv.URL, 3, WithHTTPClient(&http.Client{Transport: tr}))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		_, err := c.InsertInvoice(ctx, sampleInsert())
		done <- err
	}()
	<-dialing
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Zero(t, srv.count("/card/invoice/insert"))
	requireNoSecrets(t, err.Error())
}

// failingPDF is a PDF file whose reads fail from offset failAt on (a disk
// error), and whose Seek fails from the failSeek-th call on (0: never).
type failingPDF struct {
	data     []byte
	pos      int64
	failAt   int64
	seeks    int
	failSeek int
}

var errDisk = errors.New("disk read error")

func (f *failingPDF) Read(p []byte) (int, error) {
	if f.pos >= f.failAt {
		return 0, errDisk
	}
	n := copy(p[:min(int64(len(p)), f.failAt-f.pos)], f.data[f.pos:])
	f.pos += int64(n)
	return n, nil
}

func (f *failingPDF) Seek(off int64, whence int) (int64, error) {
	f.seeks++
	if f.failSeek > 0 && f.seeks >= f.failSeek {
		return 0, errDisk
	}
	switch whence {
	case io.SeekStart:
		f.pos = off
	case io.SeekCurrent:
		f.pos += off
	case io.SeekEnd:
		f.pos = int64(len(f.data)) + off
	}
	return f.pos, nil
}

// An upload whose source fails while it is sent (or cannot be rewound) is
// not an unknown outcome: WeChat cannot act on an incomplete request.
func TestUploadSourceErrorIsNotUnknown(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		handled.Add(1)
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","s_media_id":"1"}`)
	})
	c := staticClient(t, srv.URL, 3)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("p"), 256<<10)...)
	_, err := c.UploadPDF(bg, "a.pdf", &failingPDF{data: pdf, failAt: 100 << 10})
	require.ErrorIs(t, err, errDisk)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Zero(t, handled.Load(), "no complete request reached the server")

	// framePDF seeks three times; the fourth Seek is open's rewind.
	_, err = c.UploadPDF(bg, "a.pdf", &failingPDF{data: pdf, failAt: 1 << 30, failSeek: 4})
	require.ErrorIs(t, err, errDisk)
	require.ErrorContains(t, err, "open request body")
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Zero(t, handled.Load())
}

// Issue 15.8: the client timeout applies to the insert only (the token
// comes from a StaticTokenSource, so no token fetch shares that timeout).
func TestWriteTimeoutIsUnknownAndNotReplayed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var calls atomic.Int32
	hang := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
	ts.mux.HandleFunc("/card/invoice/insert", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving only once the body is read
		hang(r)
	})
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			hang(r)
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	// Generous: the timeout must only ever fire on the hanging handlers, even
	// on a loaded machine running the suite with -race.
	hc := &http.Client{Timeout: 3 * time.Second}
	c := staticClient(t, ts.URL+prefix, 3, WithHTTPClient(hc))
	_, err := c.InsertInvoice(bg, sampleInsert())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Equal(t, int32(1), calls.Load())
	requireNoSecrets(t, err.Error())

	// A read that timed out is retried.
	calls.Store(0)
	code, err := c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Equal(t, "c", code)
	require.GreaterOrEqual(t, calls.Load(), int32(2))
}

// Issue 12.4: no request ever reaches a redirect target, neither the
// stable_token POST (the secret) nor a business call (the token); the call
// fails with an OpError naming the status, and a write's redirect is not an
// unknown outcome.
func TestRedirectsNeverFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","access_token":"stolen-token-value","expires_in":7200}`)
	}))
	t.Cleanup(target.Close)
	for _, code := range []int{301, 302, 303, 307, 308} {
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path+"?"+r.URL.RawQuery, code)
		}))
		t.Cleanup(origin.Close)

		// stable_token: the secret is in the body.
		callerHC := &http.Client{}
		c, err := New(testAppID, testSecret, WithBaseURL(origin.URL), WithHTTPClient(callerHC))
		require.NoError(t, err)
		_, err = c.AccessToken(bg)
		require.ErrorContains(t, err, "HTTP "+strconv.Itoa(code)+" redirect")
		var opErr *OpError
		require.ErrorAs(t, err, &opErr)
		require.Equal(t, "/cgi-bin/stable_token", opErr.Op)
		requireNoSecrets(t, err.Error())
		require.Nil(t, callerHC.CheckRedirect, "the caller's client is not modified")
		require.Nil(t, callerHC.Transport, "the caller's client is not modified")

		// Business calls, a write and a read: the token is in the query.
		c = staticClient(t, origin.URL, 3)
		_, err = c.InsertInvoice(bg, sampleInsert())
		require.ErrorContains(t, err, "redirect")
		require.NotErrorIs(t, err, ErrOutcomeUnknown, "a redirect is not an action")
		requireNoSecrets(t, err.Error())
		_, err = c.DecryptCode(bg, "e")
		require.ErrorContains(t, err, "HTTP "+strconv.Itoa(code)+" redirect")
		requireNoSecrets(t, err.Error())
	}
	require.Zero(t, hits.Load(), "no request reached the redirect target")
}

// Issue 15.6: WithHTTPClient never writes to the caller's client, which the
// caller keeps using concurrently (go test -race flags a write).
func TestWithHTTPClientNeverModifiesCallersClient(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	hc := &http.Client{} // nil Transport: http.DefaultTransport
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := hc.Get(ts.URL + prefix + "/card/code/decrypt"); err == nil {
				_ = resp.Body.Close()
			}
		}
	}()
	for i := 0; i < 5; i++ {
		c := ts.client(t, WithHTTPClient(hc))
		_, err := c.DecryptCode(bg, "e")
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	require.Nil(t, hc.Transport)
	require.Nil(t, hc.CheckRedirect)
}

// Issue 15.7: a partly filled RetryPolicy gets the defaults of its zero
// fields.
func TestRetryPolicyDefaultsZeroFields(t *testing.T) {
	t.Parallel()
	def := RetryPolicy{MaxAttempts: 3, MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second}
	for in, want := range map[RetryPolicy]RetryPolicy{
		{}:                                  {MaxAttempts: 3, MinBackoff: def.MinBackoff, MaxBackoff: def.MaxBackoff},
		{MaxAttempts: 5}:                    {MaxAttempts: 5, MinBackoff: def.MinBackoff, MaxBackoff: def.MaxBackoff},
		{MaxAttempts: 1}:                    {MaxAttempts: 1, MinBackoff: def.MinBackoff, MaxBackoff: def.MaxBackoff},
		{MaxAttempts: -1}:                   {MaxAttempts: 1, MinBackoff: def.MinBackoff, MaxBackoff: def.MaxBackoff},
		{MinBackoff: 5 * time.Second}:       {MaxAttempts: 3, MinBackoff: 5 * time.Second, MaxBackoff: 5 * time.Second},
		{MaxBackoff: 10 * time.Second}:      {MaxAttempts: 3, MinBackoff: def.MinBackoff, MaxBackoff: 10 * time.Second},
		{MinBackoff: 10 * time.Millisecond}: {MaxAttempts: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: def.MaxBackoff},
	} {
		c, err := New("wx", "s", WithRetryPolicy(in))
		require.NoError(t, err)
		require.Equal(t, want, c.retry, "%+v", in)
	}
	c, err := New("wx", "s")
	require.NoError(t, err)
	require.Equal(t, def, c.retry)
}

// Issue 15.2: one place for the expires_in default, safe from overflow.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[wire.Int]time.Duration{0: 7200 * time.Second, -5: 7200 * time.Second, 20: 20 * time.Second,
		7200: 7200 * time.Second, 86400: 24 * time.Hour, 18446744074: 7200 * time.Second, 1 << 62: 7200 * time.Second} {
		require.Equal(t, start.Add(want), tokenExpiry(start, in), "%d", in)
	}
}

// Issue 15.7: decode errors wrap the decoder's error (errors.As finds a
// *json.SyntaxError) while the text stays redacted.
func TestDecodeErrorWrapsAndStaysRedacted(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"errcode":0,"access_token":"`+testToken+`" oops`)
	})
	_, err := staticClient(t, srv.URL, 1).DecryptCode(bg, "e")
	var syn *json.SyntaxError
	require.ErrorAs(t, err, &syn)
	require.ErrorContains(t, err, "decode response")
	requireNoSecrets(t, err.Error())

	srv.setAnswer(func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"errcode":"`+testToken+`"}`)
	})
	_, err = staticClient(t, srv.URL, 1).DecryptCode(bg, "e")
	require.ErrorContains(t, err, "not an integer")
	requireNoSecrets(t, err.Error())
}

// A snippet of a failed answer is cut on a character boundary.
func TestStatusSnippetKeepsUTF8(t *testing.T) {
	t.Parallel()
	srv := newPathCounter(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "xy"+strings.Repeat("网关错误", 100)) // 2 + 3n bytes: 256 falls inside a character
	})
	_, err := staticClient(t, srv.URL, 1).DecryptCode(bg, "e")
	require.ErrorContains(t, err, "HTTP 502: xy网关错误")
	require.True(t, utf8.ValidString(err.Error()), err.Error())
}

// rtFunc is a RoundTripper other than net/http's: the Client wraps bodies
// it sends in a trackedBody.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Whether a write may have reached WeChat is told apart the same way
// through net/http's Transport (a plain *bytes.Reader body, its position
// read once RoundTrip returned) and through any other RoundTripper (a
// trackedBody): a server that hangs up after reading the whole request
// leaves the write unknown, sent once; a refused connection is not
// unknown, and is retried.
func TestSentOrNotThroughAnyRoundTripper(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(http.RoundTripper) http.RoundTripper{
		"net/http":      func(rt http.RoundTripper) http.RoundTripper { return rt },
		"other wrapper": func(rt http.RoundTripper) http.RoundTripper { return rtFunc(rt.RoundTrip) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var read atomic.Int32
			hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.Copy(io.Discard, r.Body); err == nil {
					read.Add(1)
				}
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			}))
			defer hangUp.Close()
			c := staticClient(t, hangUp.URL, 3, WithHTTPClient(&http.Client{Transport: wrap(transport.New())}))
			require.Equal(t, name == "net/http", c.netHTTP)
			_, err := c.InsertInvoice(bg, sampleInsert())
			require.ErrorIs(t, err, ErrOutcomeUnknown)
			require.EqualValues(t, 1, read.Load(), "sent once, never replayed")

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			refused := "http://" + ln.Addr().String()
			require.NoError(t, ln.Close())
			var dials atomic.Int32
			tr := transport.New()
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dial(ctx, network, addr)
			}
			c = staticClient(t, refused, 3, WithHTTPClient(&http.Client{Transport: wrap(tr)}))
			_, err = c.InsertInvoice(bg, sampleInsert())
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrOutcomeUnknown)
			require.EqualValues(t, 3, dials.Load(), "never sent, so retried under the policy")
		})
	}
}

// Without WithHTTPClient, calls go through internal/transport's stall-bounded
// HTTP/1.1 transport (a hung server fails a call after 30 s of silence).
func TestDefaultTransportIsStallBounded(t *testing.T) {
	t.Parallel()
	c, err := New(testAppID, "s")
	require.NoError(t, err)
	tr, ok := c.hc.Transport.(*http.Transport)
	require.True(t, ok)
	require.True(t, c.netHTTP)
	require.NotNil(t, tr.DialContext)
	require.True(t, tr.Protocols.HTTP1())
	require.False(t, tr.Protocols.HTTP2())
	require.Equal(t, transport.IdleTimeout, tr.IdleConnTimeout)
}
