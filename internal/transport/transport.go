// Package transport builds the HTTP transport the SDK's clients send through
// when the caller gives none: net/http's, bounded against a hung server
// without a timer per request.
package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

const (
	// StallTimeout is how long a connection may make no progress before
	// its call fails: the server accepts no byte of the request, or sends
	// no byte of the answer.
	StallTimeout = 30 * time.Second
	// IdleTimeout closes a pooled connection before its stall deadline
	// (at the earliest seven eighths of StallTimeout after its last
	// progress) can pass between two calls.
	IdleTimeout = 20 * time.Second
)

// New returns a clone of http.DefaultTransport (or an equivalent one when
// http.DefaultTransport was replaced) that:
//
//   - fails a call whose connection makes no progress for StallTimeout:
//     every write, and every read that returns data, moves the connection's
//     deadline StallTimeout ahead (when that moves it by more than an
//     eighth: a busy connection need not touch it on every read), so a
//     server that stops answering (or stops reading) is given up on after
//     26 to 30 s of silence. A server that trickles a byte every few seconds
//     keeps a call alive: the caller's ctx deadline bounds the total. The
//     deadline is the connection's own, kept by Go's network poller: no
//     timer is allocated per request, which a ResponseHeaderTimeout or a
//     per-call context.WithTimeout would do;
//   - speaks HTTP/1.1 only, so that a connection carries one call at a time
//     and its deadline bounds that call alone (on HTTP/2, one stream's
//     silence hides behind another's traffic);
//   - keeps up to 64 idle connections per host for IdleTimeout.
//
// The TLS handshake keeps its own 10 s bound.
func New() *http.Transport { return newTransport(StallTimeout, IdleTimeout) }

func newTransport(stall, idle time.Duration) *http.Transport {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}
	}
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, d: stall}, nil
	}
	tr.ForceAttemptHTTP2 = false
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.IdleConnTimeout = idle
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// stallConn moves its deadlines d ahead on every write (both) and on every
// read that returns data (the read deadline). A deadline is moved only when
// it would move by more than d/8 (slack), so that a busy connection sets
// its deadlines a few times per d rather than on every read and write: a
// silent connection then fails between d-d/8 and d after its last progress
// (26 to 30 s with StallTimeout). The read loop and the write loop of a
// connection run concurrently; rd and wd are atomics, and when both move a
// deadline at once, the one set last may be earlier by the moment between
// them (microseconds).
type stallConn struct {
	net.Conn
	d      time.Duration
	rd, wd atomic.Int64 // the read and write deadlines set last, as UnixNano
}

// due reports whether the deadline last set, as UnixNano, is more than d/8
// before dl, and then records dl as set.
func (c *stallConn) due(last *atomic.Int64, dl int64) bool {
	if dl-last.Load() <= int64(c.d/8) {
		return false
	}
	last.Store(dl)
	return true
}

func (c *stallConn) Write(p []byte) (int, error) {
	t := time.Now().Add(c.d)
	dl := t.UnixNano()
	var err error
	switch w, r := c.due(&c.wd, dl), c.due(&c.rd, dl); {
	case w && r:
		err = c.Conn.SetDeadline(t)
	case w:
		err = c.Conn.SetWriteDeadline(t)
	case r:
		err = c.Conn.SetReadDeadline(t)
	}
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *stallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if t := time.Now().Add(c.d); c.due(&c.rd, t.UnixNano()) {
			_ = c.Conn.SetReadDeadline(t)
		}
	}
	return n, err
}

// Body is a request body of bytes held in memory, handed to net/http's
// *http.Transport as plain *bytes.Reader values: net/http writes such a
// body with the headers in one write (any other reader makes it flush the
// headers first). Their positions tell, once RoundTrip returned an error,
// whether the transport read from the body, which tells a request that
// never left the process (WeChat cannot act on a request whose body did
// not arrive) from one that may have reached the server. That transport is
// done with a request body when RoundTrip returns (net/http relies on it
// itself to decide whether it may replay a request); another RoundTripper
// may go on reading after it returned, so Body is only for net/http's.
//
// A Body serves one attempt at a time: Start it with the reader put in
// req.Body, set req.GetBody to its GetBody, and ask Read after RoundTrip.
type Body struct {
	B       []byte
	readers []*bytes.Reader // the attempt's req.Body reader and those GetBody handed out
	one     [1]*bytes.Reader
}

// Start begins an attempt whose req.Body reads r, a reader over B.
func (b *Body) Start(r *bytes.Reader) { b.readers = append(b.one[:0], r) }

// GetBody is the request's GetBody: a new reader over B, recorded for Read.
// net/http's Transport calls it in the goroutine of RoundTrip, before
// RoundTrip returns.
func (b *Body) GetBody() (io.ReadCloser, error) {
	r := bytes.NewReader(b.B)
	b.readers = append(b.readers, r)
	return io.NopCloser(r), nil
}

// Read reports whether the transport read from any of the attempt's
// readers. Call it after RoundTrip returned.
func (b *Body) Read() bool {
	for _, r := range b.readers {
		if r.Len() < len(b.B) {
			return true
		}
	}
	return false
}
