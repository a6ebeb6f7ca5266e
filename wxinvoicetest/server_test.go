package wxinvoicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func TestFaultErrCode(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	l.srv.FailNext("/card/invoice/insert", 2, Fault{ErrCode: 72036})
	l.srv.FailNext("/card/invoice/insert", 1, Fault{ErrCode: -1, ErrMsg: "system error"})

	req := validInsert(l.srv, l.cardID, l.mediaID, "o-1", "1")
	raw := post(t, l.srv, "/card/invoice/insert", l.tok, req)
	requireCode(t, 72036, raw)
	require.Contains(t, string(raw), "invoice is busy, try again please rid: ")
	requireCode(t, 72036, post(t, l.srv, "/card/invoice/insert", l.tok, req))
	var st wire.Status
	require.NoError(t, json.Unmarshal(post(t, l.srv, "/card/invoice/insert", l.tok, req), &st))
	require.Equal(t, wire.Status{ErrCode: -1, ErrMsg: "system error"}, st)
	require.Empty(t, l.srv.Invoices(), "an injected failure changes nothing")

	// The queue is used up: the same request now succeeds (no 72018).
	requireCode(t, 0, post(t, l.srv, "/card/invoice/insert", l.tok, req))

	// Faults apply before the token check, and to the token endpoints too.
	l.srv.FailNext("/cgi-bin/stable_token", 1, Fault{ErrCode: 45011})
	before := l.srv.TokenStats().Stable
	requireCode(t, 45011, post(t, l.srv, "/cgi-bin/stable_token", "", "{}"))
	require.Equal(t, before+1, l.srv.TokenStats().Stable, "a faulted fetch counts")

	reqs := l.srv.Requests()
	faulted := 0
	for _, r := range reqs {
		if r.Fault != "" {
			faulted++
		}
	}
	require.Equal(t, 4, faulted)
}

func TestFaultPersistentAndAnyPath(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	srv.Inject("/card/invoice/seturl", Fault{ErrCode: 48001})
	for i := 0; i < 3; i++ {
		requireCode(t, 48001, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	}
	srv.FailNext("/card/invoice/seturl", 1, Fault{ErrCode: -1})
	requireCode(t, -1, post(t, srv, "/card/invoice/seturl", tok, "{}"), "queued faults go first")
	requireCode(t, 48001, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	srv.ClearFaults("/card/invoice/seturl")
	requireCode(t, 0, post(t, srv, "/card/invoice/seturl", tok, "{}"))

	srv.Inject(AnyPath, Fault{ErrCode: -1})
	srv.FailNext("/card/code/decrypt", 1, Fault{ErrCode: 40056})
	requireCode(t, -1, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	requireCode(t, 40056, post(t, srv, "/card/code/decrypt", tok, "{}"), "a path's own fault wins")
	requireCode(t, -1, post(t, srv, "/card/code/decrypt", tok, "{}"))
	srv.ClearFaults("")
	requireCode(t, 0, post(t, srv, "/card/invoice/seturl", tok, "{}"))
}

func TestFaultHTTPStatus(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	page := []byte("<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>")
	srv.FailNext("/card/invoice/seturl", 1, Fault{HTTPStatus: http.StatusBadGateway, Body: page})
	srv.FailNext("/card/invoice/seturl", 1, Fault{HTTPStatus: http.StatusServiceUnavailable, Body: []byte("busy"), ContentType: "text/plain"})

	resp, body := send(t, http.MethodPost, apiURL(srv, "/card/invoice/seturl", tok), "application/json", []byte("{}"))
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, page, body)
	resp, body = send(t, http.MethodPost, apiURL(srv, "/card/invoice/seturl", tok), "application/json", []byte("{}"))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	require.Equal(t, "busy", string(body))
	requireCode(t, 0, post(t, srv, "/card/invoice/seturl", tok, "{}"))

	reqs := srv.Requests()
	require.Equal(t, http.StatusBadGateway, reqs[len(reqs)-3].Status)
	require.Equal(t, "http 502", reqs[len(reqs)-3].Fault)
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)

	// A delay alone: WeChat is slow, then acts.
	l.srv.FailNext("/card/invoice/insert", 1, Fault{Delay: 50 * time.Millisecond})
	begin := time.Now()
	requireCode(t, 0, post(t, l.srv, "/card/invoice/insert", l.tok, validInsert(l.srv, l.cardID, l.mediaID, "o-1", "1")))
	require.GreaterOrEqual(t, time.Since(begin), 50*time.Millisecond)

	// The client gives up during the delay: nothing happens.
	l.srv.FailNext("/card/invoice/insert", 1, Fault{Delay: time.Hour})
	body, err := json.Marshal(validInsert(l.srv, l.cardID, l.mediaID, "o-2", "2"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL(l.srv, "/card/invoice/insert", l.tok), bytes.NewReader(body))
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		reqs := l.srv.Requests()
		last := reqs[len(reqs)-1]
		return last.Path == "/card/invoice/insert" && last.Fault == "delay 1h0m0s" && last.Status == 0
	}, 5*time.Second, 10*time.Millisecond)
	require.Len(t, l.srv.Invoices(), 1)
	requireCode(t, 0, post(t, l.srv, "/card/invoice/insert", l.tok, body))
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	l.srv.FailNext("/card/invoice/insert", 1, Fault{Drop: true})
	body, err := json.Marshal(validInsert(l.srv, l.cardID, l.mediaID, "o-1", "1"))
	require.NoError(t, err)
	_, err = http.Post(apiURL(l.srv, "/card/invoice/insert", l.tok), "application/json", bytes.NewReader(body))
	require.Error(t, err)
	require.Empty(t, l.srv.Invoices(), "a dropped call did nothing")
	requireCode(t, 0, post(t, l.srv, "/card/invoice/insert", l.tok, body))
}

func TestFaultLoseResponse(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	l.srv.FailNext("/card/invoice/insert", 1, Fault{LoseResponse: true})
	body, err := json.Marshal(validInsert(l.srv, l.cardID, l.mediaID, "o-1", "1"))
	require.NoError(t, err)
	_, err = http.Post(apiURL(l.srv, "/card/invoice/insert", l.tok), "application/json", bytes.NewReader(body))
	require.Error(t, err)
	require.Len(t, l.srv.Invoices(), 1, "WeChat acted although the answer was lost")
	requireCode(t, 72018, post(t, l.srv, "/card/invoice/insert", l.tok, body), "a blind replay is a duplicate")
	reqs := l.srv.Requests()
	require.Equal(t, "lose-response", reqs[len(reqs)-2].Fault)
	require.Equal(t, 0, reqs[len(reqs)-2].ErrCode)
}

func TestCloseAbortsDelay(t *testing.T) {
	t.Parallel()
	srv := NewServer(WithClock(t0))
	tok := srv.IssueToken()
	srv.Inject(AnyPath, Fault{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := http.Post(apiURL(srv, "/card/invoice/seturl", tok), "application/json", strings.NewReader("{}"))
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.Calls("/card/invoice/seturl") == 1 }, 5*time.Second, time.Millisecond)
	begin := time.Now()
	srv.Close()
	require.Less(t, time.Since(begin), 4*time.Second)
	select {
	case err := <-done:
		_ = err // aborted: an error or an empty answer, either way the client returns
	case <-time.After(5 * time.Second):
		t.Fatal("client still blocked after Close")
	}
	srv.Close() // idempotent
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	srv.Advance(time.Minute)
	requireCode(t, 0, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	requireCode(t, 40014, post(t, srv, "/card/invoice/seturl", "bad", "{}"))

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	r := reqs[1]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/card/invoice/seturl", r.Path)
	require.Equal(t, tok, r.Query.Get("access_token"), "the fake keeps the token")
	require.Equal(t, "application/json", r.ContentType)
	require.Equal(t, "{}", string(r.Body))
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, 0, r.ErrCode)
	require.True(t, r.Time.Equal(t0.Add(time.Minute)))
	require.Equal(t, 40014, reqs[2].ErrCode)
	require.Equal(t, 2, srv.Calls("/card/invoice/seturl"))

	// Copies: mutating them does not touch the record.
	reqs[1].Body[0] = 'X'
	reqs[1].Query.Set("access_token", "changed")
	require.Equal(t, "{}", string(srv.Requests()[1].Body))
	require.Equal(t, tok, srv.Requests()[1].Query.Get("access_token"))

	srv.ResetRequests()
	require.Empty(t, srv.Requests())
	require.Equal(t, 1, srv.TokenFetches(), "counts survive ResetRequests")
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	srv := start(t)
	resp, raw := send(t, http.MethodPost, apiURL(srv, "/card/invoice/nope", srv.IssueToken()), "application/json", []byte("{}"))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireCode(t, 48001, raw)
}

func TestParallelServers(t *testing.T) {
	t.Parallel()
	a, b := start(t), start(t)
	require.NotEqual(t, a.URL, b.URL)
	require.NotEqual(t, a.AppID, b.AppID)
	ta, tb := stableToken(t, a), stableToken(t, b)
	require.Equal(t, 40014, useToken(t, b, ta), "a token of one server means nothing to another")
	require.Equal(t, 0, useToken(t, a, ta))

	var wg sync.WaitGroup
	for i, srv := range []*Server{a, b} {
		tok := []string{ta, tb}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			card := createCard(t, srv, tok)
			media := uploadOK(t, srv, tok)
			for j := 0; j < 10; j++ {
				raw := post(t, srv, "/card/invoice/insert", tok, validInsert(srv, card, media, fmt.Sprint("o", j), fmt.Sprint(j)))
				requireCode(t, 0, raw)
			}
		}()
	}
	wg.Wait()
	require.Len(t, a.Invoices(), 10)
	require.Len(t, b.Invoices(), 10)
	a.Advance(time.Hour)
	require.True(t, b.Now().Equal(t0), "clocks are independent")
}

func TestConcurrentInsertsSameOrder(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	body, err := json.Marshal(validInsert(l.srv, l.cardID, l.mediaID, "race", "1"))
	require.NoError(t, err)
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(apiURL(l.srv, "/card/invoice/insert", l.tok), "application/json", bytes.NewReader(body))
			if err != nil {
				codes <- -999
				return
			}
			defer resp.Body.Close()
			var st wire.Status
			if json.NewDecoder(resp.Body).Decode(&st) != nil {
				codes <- -998
				return
			}
			codes <- int(st.ErrCode)
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	require.Equal(t, map[int]int{0: 1, 72018: 7}, count)
}

func TestServeOnListener(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer(WithApp("wx1234567890abcdef", "secret"), WithClock(t0))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	require.Eventually(t, func() bool { return srv.Now().Equal(t0) && srv.baseSet() }, 5*time.Second, time.Millisecond)
	require.Equal(t, "http://"+l.Addr().String(), srv.URL)
	require.Equal(t, "wx1234567890abcdef", srv.AppID)
	require.Equal(t, "secret", srv.AppSecret)
	tok := stableToken(t, srv)
	require.Equal(t, 0, useToken(t, srv, tok))
	srv.Close()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

func TestServeUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Close)
	require.Eventually(t, srv.baseSet, 5*time.Second, time.Millisecond)
	port := l.Addr().(*net.TCPAddr).Port
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", port), srv.URL)
}

func TestWallClockDefault(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	t.Cleanup(srv.Close)
	require.WithinDuration(t, time.Now(), srv.Now(), time.Second)
	srv.Advance(time.Hour)
	srv.Advance(-time.Hour) // ignored
	require.WithinDuration(t, time.Now().Add(time.Hour), srv.Now(), time.Second)
	require.Regexp(t, `^wx[0-9a-f]{16}$`, srv.AppID)
	require.Len(t, srv.AppSecret, 32)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLoggerNeverLogsToken(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv := start(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	tok := stableToken(t, srv)
	requireCode(t, 0, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	requireCode(t, 40014, post(t, srv, "/card/invoice/seturl", "bad-token", "{}"))
	srv.FailNext("/card/invoice/seturl", 1, Fault{ErrCode: -1})
	requireCode(t, -1, post(t, srv, "/card/invoice/seturl", tok, "{}"))

	out := logs.String()
	require.Contains(t, out, "path=/card/invoice/seturl")
	require.Contains(t, out, "errcode=40014")
	require.Contains(t, out, `fault="errcode -1"`)
	require.NotContains(t, out, tok)
	require.NotContains(t, out, "bad-token")
	require.NotContains(t, out, srv.AppSecret)
	require.NotContains(t, out, "access_token")
}

func (s *Server) baseSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL != ""
}
