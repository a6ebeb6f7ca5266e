// Package transport builds the HTTP transport the SDK's clients send through
// when the caller gives none: net/http's, bounded against a hung server
// without a timer per request.
package transport

import (
	"context"
	"net"
	"net/http"
	"time"
)

const (
	// StallTimeout is how long a connection may make no progress before
	// its call fails: the server accepts no byte of the request, or sends
	// no byte of the answer.
	StallTimeout = 30 * time.Second
	// IdleTimeout closes a pooled connection before its stall deadline can
	// pass between two calls.
	IdleTimeout = 20 * time.Second
)

// New returns a clone of http.DefaultTransport (or an equivalent one when
// http.DefaultTransport was replaced) that:
//
//   - fails a call whose connection makes no progress for StallTimeout:
//     every write, and every read that returns data, moves the connection's
//     deadline StallTimeout ahead, so a server that stops answering (or
//     stops reading) is given up on after 30 s of silence. A server that
//     trickles a byte every few seconds keeps a call alive: the caller's
//     ctx deadline bounds the total. The deadline is the kernel poller's,
//     set on the connection: no timer is allocated per request, which a
//     ResponseHeaderTimeout or a per-call context.WithTimeout would do;
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

// stallConn moves its deadline d ahead on every write and on every read
// that returns data.
type stallConn struct {
	net.Conn
	d time.Duration
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *stallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.d))
	}
	return n, err
}
