// Package fapiao is a client for the WeChat Pay e-invoice API (微信支付电子发票,
// APIv3) under https://api.mch.weixin.qq.com/v3/new-tax-control-fapiao/,
// and an http.Handler for its FAPIAO.* callbacks.
//
// Every request is signed with the merchant API key (WECHATPAY2-SHA256-RSA2048),
// every answer's Wechatpay-Signature is verified before anything of it is
// decoded, sensitive request fields (phone, email, certificate numbers) are
// encrypted with the WeChat Pay key named in the Wechatpay-Serial header,
// and sensitive answer fields are decrypted with the merchant key.
//
// Writes (Issue, Reverse, InsertCards, UploadFile and the partner issue
// variants) whose outcome is unknown return an error wrapping
// wxinvoice.ErrOutcomeUnknown and are never replayed: query the application
// (Query) before trying again.
package fapiao

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
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
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/transport"
)

// DefaultBaseURL is the main WeChat Pay API host; the backup host is
// https://api2.mch.weixin.qq.com.
const DefaultBaseURL = "https://api.mch.weixin.qq.com"

// apiPrefix is the path prefix of every e-invoice endpoint.
const apiPrefix = "/v3/new-tax-control-fapiao"

// maxAnswerSize bounds the body of a JSON answer read into memory.
const maxAnswerSize = 4 << 20

const userAgent = "wxinvoice-fapiao (+https://github.com/wxinvoice/wxinvoice)"

// RetryPolicy bounds the retries of reads that failed in a way safe to
// retry (transport failure, HTTP 5xx, HTTP 429); it is the root package's
// policy.
type RetryPolicy = wxinvoice.RetryPolicy

// Option configures a Client.
type Option func(*config)

type config struct {
	baseURL        string
	hc             *http.Client
	retry          *RetryPolicy
	logger         *slog.Logger
	now            func() time.Time
	window         time.Duration
	merchantSerial string
	merchantKey    *rsa.PrivateKey
	pubKeyID       string
	pubKey         *rsa.PublicKey
	certs          []*x509.Certificate
}

// WithMerchantKey sets the merchant API private key and its certificate's
// serial number: the key signs every request and decrypts phone and email
// in answers. Required.
func WithMerchantKey(certSerialNo string, key *rsa.PrivateKey) Option {
	return func(c *config) { c.merchantSerial, c.merchantKey = certSerialNo, key }
}

// WithWechatPayPublicKey sets the WeChat Pay public key (public-key mode) and
// its ID (PUB_KEY_ID_…): it verifies answers and callbacks whose
// Wechatpay-Serial is keyID, and encrypts sensitive request fields (the
// request then names keyID in Wechatpay-Serial). At least one of this and
// WithPlatformCertificates is required; with both, either key verifies,
// chosen by Wechatpay-Serial, as during WeChat's migration.
func WithWechatPayPublicKey(keyID string, key *rsa.PublicKey) Option {
	return func(c *config) { c.pubKeyID, c.pubKey = keyID, key }
}

// WithPlatformCertificates adds WeChat Pay platform certificates (the older
// mode): each verifies answers whose Wechatpay-Serial is its serial number.
// Without a public key, the newest certificate encrypts sensitive fields.
func WithPlatformCertificates(certs ...*x509.Certificate) Option {
	return func(c *config) { c.certs = append(c.certs, certs...) }
}

// WithBaseURL sets the API host (default DefaultBaseURL), e.g. the backup
// host or a wxinvoicetest server. A path in u prefixes every API path.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithHTTPClient sets the HTTP client. The client is copied, never modified:
// the copy does not follow redirects (a redirected answer is an error).
// Without it, the Client has a transport of its own that fails a call whose
// connection makes no progress for 26–30 s (WeChat Pay accepts no byte of the
// request, or sends no byte of the answer), over HTTP/1.1 so that the bound
// applies to each call alone; a ctx deadline bounds a call's total time. A
// client given here is bounded by its own settings only.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithRetryPolicy replaces the default retry policy for reads (3 attempts,
// 200 ms to 2 s backoff with full jitter). Writes are retried only when the
// request provably never left (a failed dial).
func WithRetryPolicy(p RetryPolicy) Option { return func(c *config) { c.retry = &p } }

// WithLogger sets a logger for one debug line per attempt (operation,
// status, Request-ID, duration) and warnings; it never receives a key, a
// body or a decrypted field. Default: no logging.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock used for request timestamps and for checking
// Wechatpay-Timestamp on answers (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithTimestampWindow sets how far an answer's Wechatpay-Timestamp may be
// from the clock (default DefaultTimestampWindow).
func WithTimestampWindow(d time.Duration) Option { return func(c *config) { c.window = d } }

// Client calls the WeChat Pay e-invoice API for one merchant (or partner)
// ID. It is safe for concurrent use by multiple goroutines.
type Client struct {
	mchID  string
	base   string
	hc     *http.Client
	signer *signer // behind a pointer, so that a Client printed by value shows no key
	keys   *keyring
	retry  RetryPolicy
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	nonce  func() (string, error)
	// boundary returns the multipart boundary of an upload (tests pin it).
	boundary func() string
	// netHTTP: hc's transport is net/http's *http.Transport, which is done
	// with a request body when RoundTrip returns an error (see attempt).
	netHTTP bool
}

// New returns a Client for mchID (the partner's ID in partner mode). It
// needs WithMerchantKey and at least one of WithWechatPayPublicKey and
// WithPlatformCertificates; it returns a *ValidationError for a missing or
// unusable setting and sends nothing.
func New(mchID string, opts ...Option) (*Client, error) {
	cfg := config{baseURL: DefaultBaseURL}
	for _, o := range opts {
		o(&cfg)
	}
	if mchID == "" || len(mchID) > 32 {
		return nil, newValidation("mchID", "must be 1 to 32 characters")
	}
	if cfg.merchantKey == nil {
		return nil, newValidation("MerchantKey", "must be set with WithMerchantKey")
	}
	if err := checkRSASize(cfg.merchantKey.N.BitLen()); err != nil {
		return nil, newValidation("MerchantKey", "%v", err)
	}
	if !plausibleSerial(cfg.merchantSerial) {
		return nil, newValidation("MerchantCertSerialNo", "must be the merchant API certificate's serial number (hex)")
	}
	kr, err := newKeyring(cfg.pubKeyID, cfg.pubKey, cfg.certs)
	if err != nil {
		return nil, err
	}
	if kr.acceptKey == nil {
		return nil, newValidation("WechatPayPublicKey", "set WithWechatPayPublicKey or WithPlatformCertificates: answers cannot be verified without a WeChat Pay key")
	}
	base := strings.TrimRight(cfg.baseURL, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, newValidation("BaseURL", "must be an absolute http(s) URL without query, fragment or user info")
	}
	c := &Client{
		mchID:    mchID,
		base:     base,
		signer:   &signer{mchID: mchID, serial: cfg.merchantSerial, key: cfg.merchantKey},
		keys:     kr,
		log:      cfg.logger,
		now:      cfg.now,
		window:   cfg.window,
		nonce:    newNonce,
		boundary: randomBoundary,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.window <= 0 {
		c.window = DefaultTimestampWindow
	}
	c.retry = RetryPolicy{}.WithDefaults()
	if cfg.retry != nil {
		c.retry = cfg.retry.WithDefaults() // zero fields take the defaults, as in the root package
	}
	if cfg.hc != nil {
		hc := *cfg.hc
		c.hc = &hc
	} else {
		c.hc = &http.Client{Transport: transport.New()}
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rt := c.hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	_, c.netHTTP = rt.(*http.Transport)
	return c, nil
}

// MchID returns the merchant ID the client signs as.
func (c *Client) MchID() string { return c.mchID }

// WechatPaySerial returns the value the client sends in Wechatpay-Serial:
// the public key ID, or the newest platform certificate's serial.
func (c *Client) WechatPaySerial() string { return c.keys.acceptSerial }

// String describes the client without any key material.
func (c *Client) String() string {
	return fmt.Sprintf("fapiao.Client{mchid: %s, base: %s, merchant serial: %s, wechatpay serial: %s, keys: [redacted]}",
		c.mchID, c.base, c.signer.serial, c.keys.acceptSerial)
}

// GoString is String, so that %#v hides the keys too.
func (c *Client) GoString() string { return c.String() }

// Format writes String for every verb, so no verb prints the keys.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// AcceptedResponse is the answer of an endpoint that answers 202 Accepted
// or 204 No Content without a body.
type AcceptedResponse struct {
	StatusCode int    // 202 or 204 (any 2xx without a body)
	RequestID  string // Request-ID header
}

// call describes one API request for the shared path.
type call struct {
	method string
	op     string // method + path template, used in errors and logs
	path   string // escaped path after the base URL
	query  string // encoded query without '?'
	body   []byte // the JSON body, marshalled by do from payload; nil for none
	// payload is the request body's value, if any: do marshals it once (jsonBody).
	payload any
	upload  *uploadBody
	write   bool
}

// answer is a verified answer.
type answer struct {
	status    int
	requestID string
	body      []byte
}

// doJSON performs cl and decodes the verified JSON answer into out.
func (c *Client) doJSON(ctx context.Context, cl *call, out any) error {
	a, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	if len(a.body) == 0 {
		return c.wrap(cl, errors.New("answer has no body"))
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return c.wrap(cl, fmt.Errorf("decode answer: %w", err))
	}
	return nil
}

// doAccepted performs cl, an endpoint that answers 202/204 without a body.
func (c *Client) doAccepted(ctx context.Context, cl *call) (*AcceptedResponse, error) {
	a, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	return &AcceptedResponse{StatusCode: a.status, RequestID: a.requestID}, nil
}

// wrap turns a failure after sending into an error with the operation,
// marking the outcome of a write as unknown.
func (c *Client) wrap(cl *call, err error) error {
	if cl.write {
		err = &unknownOutcome{err: err}
	}
	return &opError{op: cl.op, err: err}
}

// do is the one request path: sign, send, read, verify. It retries reads on
// transport failures and 5xx answers, and writes only when the request
// never left.
func (c *Client) do(ctx context.Context, cl *call) (*answer, error) {
	if cl.payload != nil {
		b, err := jsonBody(cl.payload)
		if err != nil {
			return nil, err
		}
		cl.body = b
	}
	u := c.base + cl.path
	if cl.query != "" {
		u += "?" + cl.query
	}
	for attempt := 1; ; attempt++ {
		a, retry, err := c.attempt(ctx, cl, u, attempt)
		if err == nil {
			return a, nil
		}
		if !retry || attempt >= c.retry.MaxAttempts || ctx.Err() != nil {
			return nil, err
		}
		if werr := c.backoff(ctx, attempt); werr != nil {
			return nil, err
		}
	}
}

// attempt performs one exchange; retry reports whether the failure is safe
// to retry for this call.
func (c *Client) attempt(ctx context.Context, cl *call, u string, n int) (a *answer, retry bool, err error) {
	start := time.Now()
	var body io.Reader
	var length int64
	var jb *transport.Body
	signed := cl.body
	if cl.upload != nil {
		body, length = cl.upload.reader(), cl.upload.size()
		signed = cl.upload.meta
	} else if cl.body != nil {
		body, length = bytes.NewReader(cl.body), int64(len(cl.body))
		if c.netHTTP && len(cl.body) > 0 {
			jb = &transport.Body{B: cl.body}
			jb.Start(body.(*bytes.Reader))
		}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, false, &opError{op: cl.op, err: errors.New("cannot build the request")}
	}
	req.ContentLength = length
	if jb != nil {
		req.GetBody = jb.GetBody
	}
	nonce, err := c.nonce()
	if err != nil {
		return nil, false, &opError{op: cl.op, err: err}
	}
	auth, err := c.signer.authorization(cl.method, req.URL.RequestURI(), c.now().Unix(), nonce, signed)
	if err != nil {
		return nil, false, &opError{op: cl.op, err: err}
	}
	h := req.Header
	vals := [5]string{auth, "application/json", userAgent, c.keys.acceptSerial}
	v := vals[:] // one allocation for every header value
	h["Authorization"] = v[0:1:1]
	h["Accept"] = v[1:2:2]
	h["User-Agent"] = v[2:3:3]
	h[headerSerial] = v[3:4:4]
	switch {
	case cl.upload != nil:
		v[4] = cl.upload.contentType
		h["Content-Type"] = v[4:5:5]
	case cl.body != nil:
		v[4] = "application/json"
		h["Content-Type"] = v[4:5:5]
	}
	if err := ctx.Err(); err != nil {
		return nil, false, &opError{op: cl.op, err: err} // nothing sent
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		sent := !neverSent(err)
		if jb != nil {
			sent = jb.Read()
		}
		inner := redactURLError(err)
		if ctx.Err() != nil {
			inner = ctx.Err()
		}
		if sent && cl.write {
			return nil, false, &opError{op: cl.op, err: &unknownOutcome{err: inner}}
		}
		return nil, !cl.write || !sent, &opError{op: cl.op, err: inner}
	}
	defer resp.Body.Close()
	rid := resp.Header.Get(headerRequestID)
	raw, err := readAnswer(resp)
	if c.log != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "fapiao call", slog.String("op", cl.op), slog.Int("status", resp.StatusCode),
			slog.String("request_id", rid), slog.Int("attempt", n), slog.Duration("took", time.Since(start)))
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, !cl.write, c.wrap(cl, fmt.Errorf("read answer: %w", err))
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	_, hasSig := resp.Header[headerSignature]
	if ok || hasSig {
		sh, verr := c.keys.checkHeaders(resp.Header, c.now(), c.window)
		if verr == nil {
			verr = sh.verifyBody(raw)
		}
		if verr != nil {
			if c.log != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "fapiao answer refused", slog.String("op", cl.op),
					slog.Int("status", resp.StatusCode), slog.String("request_id", rid), slog.String("error", verr.Error()))
			}
			return nil, false, c.wrap(cl, verr)
		}
	}
	if ok {
		return &answer{status: resp.StatusCode, requestID: rid, body: raw}, false, nil
	}
	apiErr := &APIError{StatusCode: resp.StatusCode, Op: cl.op, RequestID: rid, Unsigned: !hasSig}
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil {
		apiErr.Code, apiErr.Message, apiErr.Detail = eb.Code, eb.Message, eb.Detail
	} else if len(raw) > 0 {
		apiErr.Message = snippet(raw)
	}
	if resp.StatusCode >= 500 {
		apiErr.outcomeUnknown = cl.write
		return nil, !cl.write, apiErr
	}
	// 429 (FREQUENCY_LIMITED, RATELIMIT_EXCEEDED): the request was refused
	// before it was processed; a read is retried after the backoff, a write
	// is returned to the caller.
	return nil, resp.StatusCode == http.StatusTooManyRequests && !cl.write, apiErr
}

// readAnswer reads an answer body of at most maxAnswerSize bytes; a body
// of known length is read into a buffer of that size.
func readAnswer(resp *http.Response) ([]byte, error) {
	switch n := resp.ContentLength; {
	case n == 0:
		return nil, nil
	case n > maxAnswerSize:
		return nil, errors.New("answer larger than 4 MiB")
	case n > 0:
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	if err == nil && len(raw) > maxAnswerSize {
		err = errors.New("answer larger than 4 MiB")
	}
	return raw, err
}

// snippet returns the start of a non-JSON error body for the error text.
func snippet(b []byte) string {
	const n = 128
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(bytes.TrimSpace(b)), "?")
}

// backoff sleeps before retry number attempt (full jitter, doubling),
// honouring ctx.
func (c *Client) backoff(ctx context.Context, attempt int) error {
	d, maxD := c.retry.MinBackoff, c.retry.MaxBackoff // WithDefaults made both positive
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// neverSent reports whether a transport error proves the request never
// reached the server (a failed dial or DNS lookup).
//
// A JSON body sent through net/http's *http.Transport tells more
// (transport.Body):
// not one byte of it read means the request never left whole (ctx done
// while connecting, a proxy that refused it), since WeChat Pay cannot act on
// a request before its body arrives.
func neverSent(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// redactURLError drops the URL from a *url.Error (a download URL carries a
// token in its query).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// query builds an encoded query string in the documented parameter order;
// empty values are left out.
type query []byte

func (q *query) add(k, v string) {
	if v == "" {
		return
	}
	q.addAlways(k, v)
}

// addAlways adds k=v, also when v is empty (a required parameter that may
// be blank).
func (q *query) addAlways(k, v string) {
	if len(*q) > 0 {
		*q = append(*q, '&')
	}
	*q = append(*q, k...)
	*q = append(*q, '=')
	*q = append(*q, url.QueryEscape(v)...)
}

// jsonBody marshals a request body; a value that does not marshal (such as
// a malformed json.Number) is a *ValidationError.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, newValidation("request", "does not encode as JSON: %v", err)
	}
	return b, nil
}
