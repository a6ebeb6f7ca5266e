package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Generous margins: the tests run under -race on loaded machines, where a
// goroutine can wait a few hundred milliseconds for a CPU.
const (
	testStall = time.Second
	testIdle  = 100 * time.Millisecond
)

func post(t *testing.T, hc *http.Client, url string) (string, error) {
	t.Helper()
	resp, err := hc.Post(url, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A server that reads the request and never answers fails the call after
// the stall timeout, with a timeout error.
func TestStalledAnswerFails(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	hc := &http.Client{Transport: newTransport(testStall, testIdle)}
	start := time.Now()
	_, err := post(t, hc, srv.URL)
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a timeout error, got %v", err)
	require.GreaterOrEqual(t, time.Since(start), testStall)
}

// A listener that accepts connections and never reads or writes: the
// request's headers fit in the socket buffer, so the stall is in waiting
// for the answer.
func TestSilentServerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hc := &http.Client{Transport: newTransport(testStall, testIdle)}
	_, err = post(t, hc, "http://"+ln.Addr().String())
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a timeout error, got %v", err)
}

// A server that keeps sending makes progress: a call longer than the stall
// timeout in total succeeds.
func TestSlowButSteadyAnswerSucceeds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for i := 0; i < 12; i++ {
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(testStall / 10)
		}
	}))
	defer srv.Close()
	hc := &http.Client{Transport: newTransport(testStall, testIdle)}
	start := time.Now()
	body, err := post(t, hc, srv.URL)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("x", 12), body)
	require.Greater(t, time.Since(start), testStall)
}

// Pauses between calls longer than the stall timeout never fail a call:
// the idle connection is closed first and the next call dials anew; calls
// in quick succession reuse one connection.
func TestIdleConnectionsNeverStall(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hc := &http.Client{Transport: newTransport(testStall, testIdle)}
	for i := 0; i < 3; i++ {
		body, err := post(t, hc, srv.URL)
		require.NoError(t, err)
		require.Equal(t, "ok", body)
	}
	require.EqualValues(t, 1, conns.Load(), "calls in quick succession share a connection")
	for i := 0; i < 2; i++ {
		time.Sleep(testStall + testIdle)
		body, err := post(t, hc, srv.URL)
		require.NoError(t, err, "call after a pause %d", i)
		require.Equal(t, "ok", body)
	}
	require.EqualValues(t, 3, conns.Load())
}

// The transport speaks HTTP/1.1 only, even to a server offering HTTP/2.
func TestHTTP1Only(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := newTransport(testStall, testIdle)
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	hc := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, "HTTP/1.1", string(b))
}

// Read counts the readers GetBody handed out (net/http's replays on a stale
// connection): a body read only by a replay was sent.
func TestBodyReadByReplay(t *testing.T) {
	b := &Body{B: []byte(`{"a":1}`)}
	b.Start(bytes.NewReader(b.B))
	require.False(t, b.Read())
	rc, err := b.GetBody()
	require.NoError(t, err)
	require.False(t, b.Read())
	_, _ = rc.Read(make([]byte, 2))
	require.True(t, b.Read())
	b.Start(bytes.NewReader(b.B)) // the next attempt starts afresh
	require.False(t, b.Read())
}
