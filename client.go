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
// failures. No error or log line ever contains the access token or the app
// secret.
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
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

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
	hc      *http.Client // the *http.Client the resty client wraps; every request goes through it
	tokens  *tokenCache
	tickets *tokenCache // the wx_card api_ticket (merchant.go)
	retry   RetryPolicy
	logger  *slog.Logger
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
}

// WithBaseURL sets the API host (default https://api.weixin.qq.com), e.g. the
// URL of a wxinvoicetest.Server or a forward proxy.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the *http.Client requests go through (resty wraps it).
// The Client does not modify hc. Without it, a client with a dedicated
// transport (30 s response-header timeout) is used; no global client is
// touched.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithRestyClient makes requests go through rc's *http.Client, with the
// transport, timeout, proxy, TLS and cookie settings configured on rc, for
// services that standardize on a resty client. rc's request-level settings
// (headers, auth, OnBeforeRequest middlewares, retries) are not applied: the
// SDK builds each request itself and has its own retry policy. It overrides
// WithHTTPClient.
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
// refresh failures) and per-call debug lines. Nothing logged contains a
// token or secret. Default: no logging.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLegacyTokenEndpoint makes the default source use GET /cgi-bin/token
// (获取 Access token) instead of POST /cgi-bin/stable_token (获取稳定版接口调用凭据).
// Note that every /cgi-bin/token call invalidates the previous token after 5
// minutes, so services sharing an appid should prefer stable_token.
func WithLegacyTokenEndpoint() Option { return func(c *config) { c.legacyToken = true } }

// RetryPolicy bounds the retries of a call whose failure is safe to retry:
// errcode -1 (system busy), HTTP 5xx, and transport failures where the
// request provably never reached WeChat (dial errors); for read-only calls
// also other transport failures. A write whose outcome is unknown is never
// replayed (see ErrOutcomeUnknown), and 45009 is never retried. A rejected
// access token is replayed once, independently of this policy.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, including the first; 1 disables retries; default 3
	MinBackoff  time.Duration // first backoff; doubled per retry with full jitter; default 200ms
	MaxBackoff  time.Duration // backoff cap; default 2s
}

// New returns a Client for appID. appSecret may be empty when WithTokenSource
// is given. It returns an error for missing credentials or a bad base URL;
// it sends nothing.
func New(appID, appSecret string, opts ...Option) (*Client, error) {
	cfg := config{baseURL: DefaultBaseURL}
	for _, o := range opts {
		o(&cfg)
	}
	if appID == "" {
		return nil, newValidation("appID", "must not be empty")
	}
	if appSecret == "" && cfg.ts == nil {
		return nil, newValidation("appSecret", "must not be empty unless WithTokenSource is given")
	}
	if u, err := url.Parse(cfg.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, newValidation("BaseURL", "must be an absolute http(s) URL")
	}
	c := &Client{appID: appID, baseURL: cfg.baseURL, logger: cfg.logger}
	if c.logger == nil {
		c.logger = slog.New(discardHandler{})
	}
	hc := cfg.hc
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 30 * time.Second
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr}
	}
	rc := cfg.rc
	if rc == nil {
		rc = resty.NewWithClient(hc)
	}
	c.hc = rc.GetClient()
	c.retry = RetryPolicy{MaxAttempts: 3, MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second}
	if cfg.retry != nil {
		c.retry = *cfg.retry
		if c.retry.MaxAttempts < 1 {
			c.retry.MaxAttempts = 1
		}
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
	c.tokens = &tokenCache{src: src, store: cfg.store, key: key, logger: c.logger, now: time.Now}
	c.tickets = newTicketCache(c, cfg.store)
	return c, nil
}

// AppID returns the appid the Client was created for.
func (c *Client) AppID() string { return c.appID }

// AccessToken returns the current access token, fetching it if needed. It is
// safe for concurrent use; however many goroutines ask at once, one fetch is
// in flight. Treat the value as a secret.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	t, err := c.tokens.get(ctx)
	if err != nil {
		return "", err
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

var opStableToken = &operation{path: "/cgi-bin/stable_token", method: "POST"}

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
	b     []byte
	first bytes.Reader // the first attempt's reader, allocated with the body
	used  bool
}

// bufPool holds the buffers responses are read into (decoding copies out).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func marshalJSON(v any) (*jsonBody, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &jsonBody{b: b}, nil
}

func (j *jsonBody) open() (io.Reader, int64, error) {
	if !j.used {
		j.used = true
		j.first.Reset(j.b)
		return &j.first, int64(len(j.b)), nil
	}
	return bytes.NewReader(j.b), int64(len(j.b)), nil
}

func (j *jsonBody) contentType() string { return "application/json" }

// postJSON sends v as the JSON body of op and decodes the answer into a new T.
func postJSON[T any, PT interface {
	*T
	wire.Enveloped
}](ctx context.Context, c *Client, op *operation, v any) (*T, error) {
	body, err := marshalJSON(v)
	if err != nil {
		return nil, &OpError{Op: op.path, Err: fmt.Errorf("encode request: %w", err)}
	}
	return do[T, PT](ctx, c, op, body)
}

// do is the one request path: token, send, decode, errcode, token replay,
// retries. body may be nil for a GET.
func do[T any, PT interface {
	*T
	wire.Enveloped
}](ctx context.Context, c *Client, op *operation, body requestBody) (*T, error) {
	tokenReplayed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return nil, &OpError{Op: op.path, Err: fmt.Errorf("access token: %w", err)}
		}
		out := PT(new(T))
		err = c.roundTrip(ctx, op, c.endpoint(op, tok.Value), body, out)
		if err == nil {
			st := out.WireStatus()
			if st.ErrCode == 0 {
				return (*T)(out), nil
			}
			apiErr := &APIError{Code: int(st.ErrCode), Msg: redact(st.ErrMsg), Op: op.path}
			switch {
			case isTokenRejection(apiErr.Code) && !tokenReplayed:
				// WeChat did not act on a request with a rejected token: replay once.
				c.tokens.invalidate(ctx, tok)
				tokenReplayed = true
				attempt--
				continue
			case apiErr.Code == -1 && attempt < c.retry.MaxAttempts:
				if werr := c.backoff(ctx, attempt); werr != nil {
					return nil, apiErr
				}
				continue
			}
			return nil, apiErr
		}
		if !c.retryable(ctx, op, err) || attempt >= c.retry.MaxAttempts {
			return nil, err
		}
		if werr := c.backoff(ctx, attempt); werr != nil {
			return nil, err
		}
	}
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
	err  error
	sent bool // the request may have reached WeChat
}

func (e *transportError) Error() string { return e.err.Error() }

// statusError is an HTTP response that is not 200.
type statusError struct {
	code    int
	snippet string
}

func (e *statusError) Error() string {
	if e.snippet == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.snippet)
}

// roundTrip sends one request and decodes the JSON answer into out. Errors
// are *OpError (redacted), wrapping ErrOutcomeUnknown for writes that may have
// been acted upon.
func (c *Client) roundTrip(ctx context.Context, op *operation, u string, body requestBody, out any) error {
	start := time.Now()
	status, raw, err := c.send(ctx, op, u, body)
	if err != nil {
		return c.opError(ctx, op, err)
	}
	defer raw.Close()
	if status != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(raw, 256))
		return &OpError{Op: op.path, Err: &statusError{code: status, snippet: redact(string(bytes.TrimSpace(snippet)))}}
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(raw, 8<<20)); err != nil {
		return c.opError(ctx, op, &transportError{err: err, sent: true})
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		snippet := buf.Bytes()
		if len(snippet) > 128 {
			snippet = snippet[:128]
		}
		derr := fmt.Errorf("decode response: %v (body starts %q)", err, redact(string(snippet)))
		if op.write {
			derr = fmt.Errorf("%w; %w", ErrOutcomeUnknown, derr)
		}
		return &OpError{Op: op.path, Err: derr}
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

// send performs the HTTP exchange through the *http.Client that resty wraps,
// for JSON calls and uploads alike: the body is a reader over bytes marshalled
// once (or the streamed multipart upload) with an exact Content-Length and a
// GetBody that replays it. resty's per-request builder (R()) is not used on
// this path: it re-parses the URL, clones headers twice and allocates six
// maps per call, which measured +18% allocations and +22% time per
// InsertInvoice against the net/http floor (internal/bench/resty-vs-direct.txt).
func (c *Client) send(ctx context.Context, op *operation, u string, body requestBody) (int, io.ReadCloser, error) {
	method := op.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, &transportError{err: err}
	}
	if body != nil {
		r, n, err := body.open()
		if err != nil {
			return 0, nil, &transportError{err: err}
		}
		req.Body = asReadCloser(r)
		req.ContentLength = n
		req.GetBody = func() (io.ReadCloser, error) {
			r, _, err := body.open()
			return asReadCloser(r), err
		}
		req.Header.Set("Content-Type", body.contentType())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, classify(err)
	}
	return resp.StatusCode, resp.Body, nil
}

func asReadCloser(r io.Reader) io.ReadCloser {
	if rc, ok := r.(io.ReadCloser); ok {
		return rc
	}
	return io.NopCloser(r)
}

// classify tells whether a transport error may have reached WeChat: only a
// failure to connect proves it did not.
func classify(err error) *transportError {
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
		return &OpError{Op: op.path, Err: sanitize(err)}
	}
	inner := sanitize(te.err)
	if ctx.Err() != nil && errors.Is(te.err, ctx.Err()) {
		inner = ctx.Err()
	}
	if te.sent && op.write {
		return &OpError{Op: op.path, Err: &unknownOutcome{err: inner}}
	}
	return &OpError{Op: op.path, Err: &retryableErr{err: inner, sent: te.sent}}
}

// unknownOutcome marks a write that was sent without an answer.
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

// retryable reports whether err (from roundTrip) may be retried under the policy.
func (c *Client) retryable(ctx context.Context, op *operation, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500
	}
	var re *retryableErr
	if errors.As(err, &re) {
		return !re.sent || !op.write
	}
	return false
}

// backoff sleeps before retry number attempt, honouring ctx.
func (c *Client) backoff(ctx context.Context, attempt int) error {
	d := c.retry.MinBackoff << (attempt - 1)
	if d <= 0 || d > c.retry.MaxBackoff {
		d = c.retry.MaxBackoff
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1) // jitter
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

// sanitize rewrites errors carrying request URLs (net/http's *url.Error
// includes the full URL, access token and all) into redacted copies.
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redact(ue.URL), Err: sanitizeInner(ue.Err)}
	}
	return sanitizeInner(err)
}

func sanitizeInner(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); s != redact(s) {
		return errors.New(redact(s))
	}
	return err
}

// sensitiveKeys are the parameter names whose values redact blanks, in query
// strings (key=value) and in JSON ("key": "value"); a name also matches as
// the end of a longer one (authorizer_access_token, component_appsecret).
var sensitiveKeys = [...]string{"access_token", "secret", "refresh_token", "ticket", "auth_code", "authorization_code"}

// redact blanks the values of access tokens, secrets, refresh tokens, tickets
// and authorization codes in s, wherever they appear: URLs in transport
// errors, errmsg texts, and body snippets quoted by decode errors.
func redact(s string) string {
	for _, k := range sensitiveKeys {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			start, ok := valueStart(s, from+i+len(k))
			if !ok {
				from += i + len(k)
				continue
			}
			end := start
			for end < len(s) && !strings.ContainsRune("&\"' \t\n\r<>,}", rune(s[end])) {
				end++
			}
			s = s[:start] + "REDACTED" + s[end:]
			from = start + len("REDACTED")
		}
	}
	return s
}

// valueStart returns where the value after a key ending at i starts: after
// "=" (query) or after `": "` (JSON, quotes and spaces optional).
func valueStart(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '"' {
		i++
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || (s[i] != '=' && s[i] != ':') {
		return 0, false
	}
	i++
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '"' {
		i++
	}
	return i, true
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }
