// Package wxinvoice is a client for the WeChat e-invoice (微信电子发票) APIs:
// the invoicing platform (开票平台), merchant (商户), reimburser (报销方) and
// fiscal e-bill (财政电子票据) sides, plus an http.Handler for WeChat's event
// pushes.
//
// A Client is safe for concurrent use by multiple goroutines; create one per
// appid and share it. Every method takes a context, sends one request through
// one shared path (access token, JSON, errcode check, retry, redaction) and
// returns either a typed response or an error: *APIError for a non-zero
// errcode (compare with errors.Is and the Err* sentinels), *ValidationError
// for input refused before sending, *OpError for transport and decode
// failures. No error or log line ever contains the access token, the app
// secret or another credential the SDK holds: they are blanked by key and by
// value (see WithLogger).
package wxinvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"

	"github.com/wxinvoice/wxinvoice/internal/transport"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// DefaultBaseURL is the WeChat API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Client calls the WeChat e-invoice APIs for one appid.
//
// A Client is safe for concurrent use by multiple goroutines and should be
// reused: it owns the access-token cache and the HTTP connection pool.
type Client struct {
	appID   string
	baseURL string
	hc      *http.Client // a copy of the caller's (or the default) client that refuses redirects; every request goes through it
	tokens  *tokenCache
	tickets *tokenCache // the wx_card api_ticket (merchant.go)
	retry   RetryPolicy
	logger  *slog.Logger // redacts through red
	red     *redactor    // the secrets to blank in errors and logs; shared by a Component's Clients
	obs     observer     // WithObserver; the zero value observes nothing
	maxPDF  int64        // the largest PDF UploadPDF sends
	// netHTTP: hc's transport is net/http's *http.Transport, which is done
	// with a request body when RoundTrip returns an error, so a JSON body
	// is handed to it as a plain *bytes.Reader (see send).
	netHTTP bool
}

// Option configures a Client in New.
type Option func(*config)

type config struct {
	baseURL     string
	hc          *http.Client
	rc          *resty.Client
	ts          TokenSource
	corp        func(c *Client) (src TokenSource, key string) // NewWeCom: the corp source and its store key (wecom_token.go)
	store       TokenStore
	retry       *RetryPolicy
	logger      *slog.Logger
	legacyToken bool
	red         *redactor // set by Component: one registry for the platform and its authorizers
	observer    Observer
	maxPDF      int64 // WithMaxPDFSize
}

// WithBaseURL sets the API host (default https://api.weixin.qq.com), e.g. the
// URL of a wxinvoicetest.Server or a forward proxy.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the *http.Client whose transport, timeout and cookie
// jar requests go through. The Client never modifies hc: it sends through a
// shallow copy whose CheckRedirect refuses every redirect (see OpError), so
// hc stays safe to use elsewhere, concurrently.
//
// Without it, the Client has a transport of its own (no global client is
// touched) that bounds a hung server: a call whose connection makes no
// progress for 26–30 s (WeChat accepts no byte of the request, or sends no
// byte of the answer) fails, with ErrOutcomeUnknown for a write. It speaks
// HTTP/1.1, so that the bound applies to each call alone, and costs no
// timer per call. A ctx deadline bounds a call's total time. A client given
// here is bounded by its own settings only: give it a Timeout, a
// Transport.ResponseHeaderTimeout, or calls a ctx deadline.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithRestyClient makes requests go through rc's *http.Client, with the
// transport, timeout, proxy, TLS and cookie settings configured on rc, for
// services that standardize on a resty client. rc's request-level settings
// (headers, auth, OnBeforeRequest middlewares, retries, redirect policy) are
// not applied: the SDK builds each request itself, has its own retry policy
// and never follows redirects. Neither rc nor its *http.Client is modified.
// It overrides WithHTTPClient.
func WithRestyClient(rc *resty.Client) Option { return func(c *config) { c.rc = rc } }

// WithTokenSource makes the Client take access tokens from ts instead of
// fetching them with its appid and secret, e.g. a third-party platform's
// authorizer_access_token or a central token service. The Client still caches
// what ts returns until shortly before ExpiresAt.
func WithTokenSource(ts TokenSource) Option { return func(c *config) { c.ts = ts } }

// WithTokenStore shares the default source's access token through s (for
// example redisstore.Store), so that every process of a service uses one
// token: one process fetches under s's lock while the others wait and read.
// When s fails, the Client keeps working with its own cache and logs a
// warning.
func WithTokenStore(s TokenStore) Option { return func(c *config) { c.store = s } }

// WithRetryPolicy replaces the default retry policy.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *config) { c.retry = &p } }

// WithLogger sets the logger for warnings (token store failures, early
// refresh failures) and per-call debug lines. Every record goes through a
// handler that blanks the credentials the SDK knows (by value, in raw,
// URL-, HTML- and JSON-escaped form) and the values of sensitive keys in its
// message and attributes, so nothing logged contains a token or secret.
// Default: no logging.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLegacyTokenEndpoint makes the default source use GET /cgi-bin/token
// (获取 Access token) instead of POST /cgi-bin/stable_token (获取稳定版接口调用凭据).
// Note that every /cgi-bin/token call invalidates the previous token after 5
// minutes, so services sharing an appid should prefer stable_token.
func WithLegacyTokenEndpoint() Option { return func(c *config) { c.legacyToken = true } }

// RetryPolicy bounds the retries of a call whose failure is safe to retry:
// errcode -1 (system busy), transport failures where no request left the
// process (a refused connection, a failed TLS handshake), and for read-only
// calls also HTTP 5xx answers and other transport failures. A write that may
// have reached WeChat is sent once (see ErrOutcomeUnknown), and 45009 is
// never retried. A rejected access token is replayed once, independently of
// this policy.
//
// A 5xx answer's Retry-After (seconds or an HTTP date) is honoured: the
// retry waits at least that long; when that is longer than MaxBackoff or
// than the ctx deadline leaves, the call fails at once with the HTTP error.
//
// Zero fields take their defaults, so RetryPolicy{MinBackoff: time.Second}
// keeps 3 attempts and a 2 s cap (raised to MinBackoff when lower).
type RetryPolicy struct {
	MaxAttempts int           // total attempts, including the first; 1 (or a negative number) disables retries; 0: 3
	MinBackoff  time.Duration // first backoff; doubled per retry with jitter; 0: 200ms
	MaxBackoff  time.Duration // backoff cap; 0: 2s
}

// WithDefaults returns p with its zero fields filled as RetryPolicy
// documents; the Client and package fapiao apply it to the policy they are
// given.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	switch {
	case p.MaxAttempts == 0:
		p.MaxAttempts = 3
	case p.MaxAttempts < 0:
		p.MaxAttempts = 1
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 200 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 2 * time.Second
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = p.MinBackoff
	}
	return p
}

// New returns a Client for appID. appSecret may be empty when WithTokenSource
// is given. It returns an error for missing credentials or a bad base URL;
// it sends nothing.
func New(appID, appSecret string, opts ...Option) (*Client, error) {
	cfg := config{baseURL: DefaultBaseURL}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case appID == "":
		return nil, newValidation("appID", "must not be empty")
	case hasSpaceOrControl(appID):
		return nil, newValidation("appID", "must not contain spaces or control characters (copied with a newline?)")
	case appSecret == "" && cfg.ts == nil:
		return nil, newValidation("appSecret", "must not be empty unless WithTokenSource is given")
	case hasSpaceOrControl(appSecret):
		return nil, newValidation("appSecret", "must not contain spaces or control characters (copied with a newline?)")
	}
	if u, err := url.Parse(cfg.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, newValidation("BaseURL", "must be an absolute http(s) URL")
	}
	red := cfg.red
	if red == nil {
		red = newRedactor()
	}
	red.pin(appSecret)
	c := &Client{appID: appID, baseURL: cfg.baseURL, red: red, logger: red.logger(cfg.logger), maxPDF: cfg.maxPDF}
	if c.maxPDF <= 0 {
		c.maxPDF = DefaultMaxPDFSize
	}
	hc := cfg.hc
	if cfg.rc != nil {
		hc = cfg.rc.GetClient()
	}
	if hc == nil {
		hc = newDefaultHTTPClient()
	}
	c.hc = noRedirects(hc)
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	_, c.netHTTP = rt.(*http.Transport)
	if cfg.retry != nil {
		c.retry = cfg.retry.WithDefaults()
	} else {
		c.retry = RetryPolicy{}.WithDefaults()
	}
	src, key := cfg.ts, "access_token:"+appID
	if cfg.corp != nil {
		var corpSrc TokenSource
		corpSrc, key = cfg.corp(c)
		if src == nil {
			src = corpSrc
		}
	}
	if src == nil {
		src = &appTokenSource{c: c, appID: appID, secret: appSecret, legacy: cfg.legacyToken}
	}
	c.obs = observer{cfg.observer}
	c.tokens = &tokenCache{src: src, store: cfg.store, key: key, logger: c.logger, now: time.Now, kind: "access_token", obs: c.obs}
	c.tickets = newTicketCache(c, cfg.store)
	return c, nil
}

// newDefaultHTTPClient returns the client used without WithHTTPClient:
// net/http's transport with the stall bound of internal/transport (a call
// whose connection makes no progress for 26–30 s fails), HTTP/1.1, and 64 idle
// connections per host.
func newDefaultHTTPClient() *http.Client {
	return &http.Client{Transport: transport.New()}
}

// noRedirects returns a shallow copy of hc that never follows a redirect:
// the 3xx answer itself comes back, and roundTrip turns it into an error, so
// that no request (with its access token or app secret) ever reaches a
// redirect target. hc is not modified.
func noRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// hasSpaceOrControl reports whether s holds white space or a control
// character, which no appid, corpid or secret does.
func hasSpaceOrControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

// AppID returns the appid the Client was created for.
func (c *Client) AppID() string { return c.appID }

// AccessToken returns the current access token, fetching it if needed. It is
// safe for concurrent use; however many goroutines ask at once, one fetch is
// in flight. Treat the value as a secret.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	t, err := c.tokens.get(ctx)
	if err != nil {
		return "", c.red.error(err)
	}
	return t.Value, nil
}

// operation describes one WeChat endpoint for the shared request path.
type operation struct {
	path   string // the API path; also the error's Op
	method string // "POST" unless stated
	query  string // extra query, appended after the access token (e.g. "&action=get_url")
	write  bool   // the call changes state on WeChat: never replayed when its outcome is unknown
	// tokenParam names the token's query parameter; "" means access_token
	// (the component endpoints take component_access_token).
	tokenParam string
}

var (
	opStableToken = &operation{path: "/cgi-bin/stable_token", method: "POST"}
	opLegacyToken = &operation{path: "/cgi-bin/token", method: "GET"}
)

// requestBody is a replayable request body.
type requestBody interface {
	// open returns a reader positioned at the start of the body and its length.
	open() (io.Reader, int64, error)
	contentType() string
}

// jsonBody is a request body marshalled once. Every attempt reads the same
// immutable bytes through its own reader: net/http may still be reading a
// request body after RoundTrip returns, so the bytes are never reused for
// anything else (no pool) and a retry never rewinds a reader in use.
type jsonBody struct {
	sent  transport.Body // the bytes (sent.B), and what net/http's Transport read of an attempt (send)
	first bytes.Reader   // the first attempt's reader, allocated with the body
	used  bool
}

// answerBuf is what a response is read into: pooled, since decoding
// copies out what it keeps.
type answerBuf struct {
	bytes.Buffer
	lr io.LimitedReader
}

var answerPool = sync.Pool{New: func() any { return new(answerBuf) }}

func marshalJSON(v any) (*jsonBody, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &jsonBody{sent: transport.Body{B: b}}, nil
}

func (j *jsonBody) open() (io.Reader, int64, error) {
	if !j.used {
		j.used = true
		j.first.Reset(j.sent.B)
		return &j.first, int64(len(j.sent.B)), nil
	}
	return bytes.NewReader(j.sent.B), int64(len(j.sent.B)), nil
}

func (j *jsonBody) contentType() string { return "application/json" }

// postJSON sends v as the JSON body of op and decodes the answer into a new T.
func postJSON[T any, PT interface {
	*T
	wire.Enveloped
}](ctx context.Context, c *Client, op *operation, v any) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &OpError{Op: op.path, Err: fmt.Errorf("encode request: %w", err)}
	}
	x := new(struct { // one allocation for the answer and the body
		out  T
		body jsonBody
	})
	x.body.sent.B = b
	return do[T, PT](ctx, c, op, &x.body, &x.out)
}

// do is the one request path: token, send, decode into out, errcode, token
// replay, retries. body may be nil for a GET. Every error it returns is
// redacted.
func do[T any, PT interface {
	*T
	wire.Enveloped
}](ctx context.Context, c *Client, op *operation, body requestBody, out PT) (_ *T, err error) {
	if c.obs.enabled() {
		start, attempts := time.Now(), 0
		ctx = c.obs.startCall(ctx, op.path)
		ctx = withAttemptCounter(ctx, &attempts)
		defer func() { c.obs.endCall(ctx, callInfo(op.path, attempts, start, err)) }()
	}
	tokenReplayed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return nil, &OpError{Op: op.path, Err: fmt.Errorf("access token: %w", c.red.error(err))}
		}
		c.red.add(tok.Value)
		var zero T
		*out = zero // an earlier attempt's answer
		began := time.Now()
		err = c.roundTrip(ctx, op, c.endpoint(op, tok.Value), body, out)
		if err == nil {
			apiErr := c.apiError(op.path, out.WireStatus())
			if apiErr == nil {
				c.observeAttempt(ctx, op, attempt, began, nil, false)
				return (*T)(out), nil
			}
			switch {
			case isTokenRejection(apiErr.Code) && !tokenReplayed:
				// WeChat did not act on a request with a rejected token: replay once.
				c.observeAttempt(ctx, op, attempt, began, apiErr, true)
				c.tokens.invalidate(ctx, tok)
				tokenReplayed = true
				attempt--
				continue
			case apiErr.Code == -1 && attempt < c.retry.MaxAttempts:
				c.observeAttempt(ctx, op, attempt, began, apiErr, true)
				if werr := c.wait(ctx, attempt, 0); werr != nil {
					return nil, apiErr
				}
				continue
			}
			c.observeAttempt(ctx, op, attempt, began, apiErr, false)
			return nil, apiErr
		}
		if !c.retryable(ctx, op, err) || attempt >= c.retry.MaxAttempts {
			c.observeAttempt(ctx, op, attempt, began, err, false)
			return nil, err
		}
		c.observeAttempt(ctx, op, attempt, began, err, true)
		if werr := c.wait(ctx, attempt, retryAfter(err)); werr != nil {
			return nil, err
		}
	}
}

// apiError is the one errcode check, shared by do, the token fetchers and the
// Component's calls: nil for errcode 0, else an *APIError for op whose Msg
// has every secret blanked.
func (c *Client) apiError(op string, st *wire.Status) *APIError {
	if st.ErrCode == 0 {
		return nil
	}
	return &APIError{Code: int(st.ErrCode), Msg: c.red.redact(st.ErrMsg), Op: op}
}

func (c *Client) endpoint(op *operation, token string) string {
	param := op.tokenParam
	if param == "" {
		param = "access_token"
	}
	return c.baseURL + op.path + "?" + param + "=" + url.QueryEscape(token) + op.query
}

// transportError is a failure to get an HTTP response.
type transportError struct {
	err   error
	sent  bool // bytes of the request may have left the process
	local bool // a local failure (the request could not be built, its body could not be read): not retried, never sent whole
}

func (e *transportError) Error() string { return e.err.Error() }

// statusError is an HTTP response that is neither 200 nor a redirect.
type statusError struct {
	code       int
	snippet    string        // the start of the body, redacted
	retryAfter time.Duration // the Retry-After header; 0 when absent
}

func (e *statusError) Error() string {
	s := "HTTP " + strconv.Itoa(e.code)
	if e.retryAfter > 0 {
		s += " (Retry-After " + e.retryAfter.String() + ")"
	}
	if e.snippet != "" {
		s += ": " + e.snippet
	}
	return s
}

// redirectError is a 3xx answer, which the SDK never follows: WeChat does
// not redirect API calls, and following one would hand the access token (or
// the app secret, for stable_token) to the Location host.
type redirectError struct {
	code     int
	location string // redacted
}

func (e *redirectError) Error() string {
	return "HTTP " + strconv.Itoa(e.code) + " redirect to " + strconv.Quote(e.location) +
		" refused: the SDK never follows redirects (check the base URL or the proxy)"
}

// Bounds of what a failed answer's body contributes to the error: a window
// is redacted whole (so that a secret cut by the snippet's end is still
// found), then cut.
const (
	redactWindow   = 2048
	statusSnippet  = 256
	decodeSnippet  = 128
	maxAnswerBytes = 8 << 20
)

// snippet returns the start of b, at most n bytes, after redacting a wider
// window of it.
func (c *Client) snippet(b []byte, n int) string {
	if len(b) > redactWindow {
		b = b[:redactWindow]
	}
	s := c.red.redact(string(bytes.TrimSpace(b)))
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // never cut a character in two
		}
		s = s[:n]
	}
	return s
}

// roundTrip sends one request and decodes the JSON answer into out. Errors
// are *OpError (redacted), wrapping ErrOutcomeUnknown for writes that may
// have been acted upon. Secrets in a decoded answer (tokens, tickets) are
// registered for redaction before anything else sees them.
//
// A redirect answer is an error but never an unknown outcome, even for a
// write: a 3xx is WeChat's host (or a proxy before it) declining to handle
// the request there, not an action taken.
func (c *Client) roundTrip(ctx context.Context, op *operation, u string, body requestBody, out any) error {
	start := time.Now()
	resp, err := c.send(ctx, op, u, body)
	if err != nil {
		return c.opError(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return &OpError{Op: op.path, Err: &redirectError{code: resp.StatusCode, location: c.red.redact(resp.Header.Get("Location"))}}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, redactWindow))
		se := &statusError{code: resp.StatusCode, snippet: c.snippet(b, statusSnippet),
			retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		if op.write {
			// A gateway's 502/504 may come after WeChat acted.
			return &OpError{Op: op.path, Err: &unknownOutcome{err: se}}
		}
		return &OpError{Op: op.path, Err: se}
	}
	buf := answerPool.Get().(*answerBuf)
	buf.Reset()
	buf.lr = io.LimitedReader{R: resp.Body, N: maxAnswerBytes}
	defer func() { buf.lr.R = nil; answerPool.Put(buf) }()
	if _, err := buf.ReadFrom(&buf.lr); err != nil {
		return c.opError(ctx, op, &transportError{err: err, sent: true})
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		derr := c.red.error(fmt.Errorf("decode response: %w (body starts %q)", err, c.snippet(buf.Bytes(), decodeSnippet)))
		if op.write {
			derr = &unknownOutcome{err: derr}
		}
		return &OpError{Op: op.path, Err: derr}
	}
	if sc, ok := out.(wire.SecretCarrier); ok {
		c.red.add(sc.Secrets()...)
	}
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		code := 0
		if e, ok := out.(wire.Enveloped); ok {
			code = int(e.WireStatus().ErrCode)
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "wxinvoice call", slog.String("op", op.path),
			slog.Int("errcode", code), slog.Duration("took", time.Since(start)))
	}
	return nil
}

// parseRetryAfter reads a Retry-After header (delay-seconds or an HTTP date)
// as a duration from now; 0 when absent, past or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*60*60)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// send performs the HTTP exchange through the Client's *http.Client, for
// JSON calls and uploads alike: the body is a reader over bytes marshalled
// once (or the streamed multipart upload) with an exact Content-Length and a
// GetBody that replays it. resty's per-request builder (R()) is not used on
// this path: it re-parses the URL, clones headers twice and allocates six
// maps per call, which measured +18% allocations and +22% time per
// InsertInvoice against the net/http floor (internal/bench/resty-vs-direct.txt).
//
// Whether a failed request may have reached WeChat is read from what the
// transport did with the request body (see sendState), not guessed from the
// error. Through net/http's own *http.Transport, a JSON body goes as plain
// *bytes.Reader values, which net/http writes with the headers in one write,
// and what was read is seen from their positions once RoundTrip returned
// (transport.Body). Any other RoundTripper may still read after returning,
// so there the body is wrapped in a trackedBody.
func (c *Client) send(ctx context.Context, op *operation, u string, body requestBody) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, &transportError{err: err} // nothing was sent
	}
	method := op.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, &transportError{err: err, local: true}
	}
	if jb, ok := body.(*jsonBody); ok && c.netHTTP {
		r, n, _ := jb.open()
		jb.sent.Start(r.(*bytes.Reader))
		req.Body, req.ContentLength, req.GetBody = io.NopCloser(r), n, jb.sent.GetBody
		req.Header["Content-Type"] = jsonContentType
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, classify(err, jb.sent.Read(), false, true)
		}
		return resp, nil
	}
	var st *sendState
	if body != nil {
		r, n, err := body.open()
		if err != nil {
			return nil, &transportError{err: fmt.Errorf("open request body: %w", err), local: true}
		}
		tb := &trackedBody{r: r}
		tb.st = &tb.state
		st = tb.st
		req.Body = tb
		req.ContentLength = n
		req.GetBody = func() (io.ReadCloser, error) {
			r, _, err := body.open()
			if err != nil {
				return nil, err
			}
			return &trackedBody{r: r, st: st}, nil
		}
		req.Header.Set("Content-Type", body.contentType())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if st == nil {
			return nil, classify(err, false, false, false)
		}
		return nil, classify(err, st.read.Load(), st.bodyErr.Load(), true)
	}
	return resp, nil
}

// jsonContentType is the Content-Type of a JSON request, shared by every
// request handed to net/http's Transport, which only reads header values.
var jsonContentType = []string{"application/json"}

// sendState records what the transport did with one request's body. Every
// request that can change state on WeChat has a body (all writes are POSTs
// with JSON or multipart), and WeChat cannot act on a request before its
// body arrives whole. So:
//
//   - not one byte of the body read: the request never left the process
//     whole (ctx done before or while connecting, a refused connection, a
//     failed TLS handshake, a proxy that refused it): not sent;
//   - the body failed to read (an upload's source): at most an incomplete
//     request left, which WeChat cannot act on: not sent, not retried;
//   - otherwise it may have reached WeChat.
//
// net/http reads the body only once the connection is up and the headers
// are written (HTTP/1.x and HTTP/2 alike), and this holds for any
// RoundTripper, traced or not; one that buffers the body before sending
// errs on the cautious side. A request without a body (a GET, only used for
// reads) gets the cautious rule: only a failure to connect proves that
// nothing was sent.
type sendState struct {
	read    atomic.Bool // the transport read from the body
	bodyErr atomic.Bool // reading the body failed
}

// trackedBody is one attempt's body: reads and read errors go to st, which
// the first attempt's trackedBody holds (one allocation per call).
type trackedBody struct {
	r     io.Reader
	st    *sendState
	state sendState
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if !b.st.read.Load() {
		b.st.read.Store(true)
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.st.bodyErr.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	if c, ok := b.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// classify tells whether a failed request may have reached WeChat (see
// sendState) from what the transport did with its body: read is whether it
// read from the body, bodyErr whether reading failed, hasBody whether the
// request had one.
func classify(err error, read, bodyErr, hasBody bool) *transportError {
	switch {
	case !hasBody:
	case bodyErr:
		return &transportError{err: err, local: true}
	case read:
		return &transportError{err: err, sent: true}
	default:
		return &transportError{err: err}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return &transportError{err: err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &transportError{err: err}
	}
	return &transportError{err: err, sent: true}
}

// opError turns a send failure into a redacted *OpError.
func (c *Client) opError(ctx context.Context, op *operation, err error) error {
	te, ok := err.(*transportError)
	if !ok {
		return &OpError{Op: op.path, Err: c.red.error(err)}
	}
	inner := c.red.error(te.err)
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(te.err, ctxErr) {
		inner = ctxErr
	}
	switch {
	case te.local:
		return &OpError{Op: op.path, Err: inner}
	case te.sent && op.write:
		return &OpError{Op: op.path, Err: &unknownOutcome{err: inner}}
	}
	return &OpError{Op: op.path, Err: &retryableErr{err: inner, sent: te.sent}}
}

// unknownOutcome marks a write that may have reached WeChat without an
// answer from WeChat coming back.
type unknownOutcome struct{ err error }

func (e *unknownOutcome) Error() string   { return ErrOutcomeUnknown.Error() + ": " + e.err.Error() }
func (e *unknownOutcome) Unwrap() []error { return []error{ErrOutcomeUnknown, e.err} }

// retryableErr marks a transport failure of a read, or one that never left.
type retryableErr struct {
	err  error
	sent bool
}

func (e *retryableErr) Error() string { return e.err.Error() }
func (e *retryableErr) Unwrap() error { return e.err }

// retryable reports whether err (from roundTrip) may be retried under the
// policy: never a write that may have reached WeChat, never a redirect or a
// local failure; a read's 5xx and transport failures; any request that
// provably did not leave.
func (c *Client) retryable(ctx context.Context, op *operation, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrOutcomeUnknown) {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return !op.write && se.code >= 500
	}
	var re *retryableErr
	if errors.As(err, &re) {
		return !re.sent || !op.write
	}
	return false
}

// retryAfter returns the Retry-After of err's HTTP answer, or 0.
func retryAfter(err error) time.Duration {
	var se *statusError
	if errors.As(err, &se) {
		return se.retryAfter
	}
	return 0
}

// wait sleeps before retry number attempt: the policy's jittered backoff,
// or at least atLeast (a Retry-After). It returns an error at once, without
// sleeping, when atLeast exceeds MaxBackoff or the wait would outlast ctx's
// deadline, and when ctx ends meanwhile.
func (c *Client) wait(ctx context.Context, attempt int, atLeast time.Duration) error {
	d := c.retry.MinBackoff << (attempt - 1)
	if d <= 0 || d > c.retry.MaxBackoff {
		d = c.retry.MaxBackoff
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1) // jitter
	}
	if atLeast > 0 {
		if atLeast > c.retry.MaxBackoff {
			return errors.New("Retry-After exceeds the retry policy's MaxBackoff")
		}
		d = max(d, atLeast)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
