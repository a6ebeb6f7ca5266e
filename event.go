package wxinvoice

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// Defaults of EventConfig.
const (
	// DefaultEventMaxBodyBytes is the default EventConfig.MaxBodyBytes. A
	// safe-mode invoice push is about 1 KiB.
	DefaultEventMaxBodyBytes = 64 << 10
	// DefaultEventTimestampWindow is the default EventConfig.TimestampWindow.
	DefaultEventTimestampWindow = 5 * time.Minute
	// DefaultDedupeTTL is the default EventConfig.DedupeTTL. WeChat retries
	// a push up to three times, 5 s apart, so a minute covers every retry
	// with room for clock skew between processes sharing a Deduper. The
	// handler keeps the record of a processed push at least twice
	// TimestampWindow (10 minutes by default), so that a captured push cannot
	// be replayed once its record is forgotten while its timestamp is still
	// accepted. (A push being processed holds a lease instead: Deduper.)
	DefaultDedupeTTL = 60 * time.Second
)

// Event names of the invoice pushes (the <Event> element, with MsgType event).
const (
	EventUpdateInvoiceStatus  = "update_invoice_status"
	EventUserAuthorizeInvoice = "user_authorize_invoice"
	EventSubmitInvoiceTitle   = "submit_invoice_title"
	EventCloudInvoiceResult   = "cloud_invoice_invoiceresult_event"
)

// EventConfig configures an EventHandler. Only Token is required.
//
// Callbacks run on the request's goroutine with the request's context, which
// is cancelled when WeChat hangs up (it waits 5 s, then retries). Return nil
// once the event is safely handled; return an error (or panic) to have WeChat
// push it again. Do slow work asynchronously: WeChat gives up after three
// retries.
type EventConfig struct {
	// Token is the Token (令牌) configured for the server URL. Required.
	Token string
	// EncodingAESKey is the 43-character EncodingAESKey (消息加解密密钥).
	// Empty: plaintext mode only. Set: only safe-mode and compatible-mode
	// pushes (encrypt_type=aes) are accepted; plaintext pushes are refused,
	// since their signature does not cover the body.
	EncodingAESKey string
	// AppID is the appid WeChat appends to every encrypted message (the
	// official account's or mini program's AppID; a third-party platform's
	// component AppID). Required with EncodingAESKey.
	AppID string
	// PreviousEncodingAESKey is the key in use before the last rotation.
	// A push that does not decrypt with EncodingAESKey is tried with it.
	PreviousEncodingAESKey string

	// OnInvoiceStatus receives update_invoice_status.
	OnInvoiceStatus func(ctx context.Context, ev *InvoiceStatusEvent) error
	// OnUserAuthorizeInvoice receives user_authorize_invoice.
	OnUserAuthorizeInvoice func(ctx context.Context, ev *UserAuthorizeInvoiceEvent) error
	// OnSubmitInvoiceTitle receives submit_invoice_title.
	OnSubmitInvoiceTitle func(ctx context.Context, ev *SubmitInvoiceTitleEvent) error
	// OnCloudInvoiceResult receives cloud_invoice_invoiceresult_event.
	OnCloudInvoiceResult func(ctx context.Context, ev *CloudInvoiceResultEvent) error
	// OnEvent receives every other push (any MsgType), and the invoice
	// events whose typed callback is nil. Pushes nobody handles are
	// acknowledged with "success".
	OnEvent func(ctx context.Context, ev *Event) error

	// Inbox, when set, receives every authenticated push instead of the
	// callbacks: the handler verifies, decrypts, parses and dedupes it, then
	// appends it to Inbox and answers "success" once Append returned nil
	// (503 when it failed, so that WeChat retries). An InboxWorker delivers
	// it to the callbacks of its WorkerConfig; the callbacks above must then
	// be nil. See Inbox.
	Inbox Inbox

	// Deduper records processed pushes so that WeChat's retries run a
	// callback once. Nil: an in-memory Deduper (one process) of
	// NewMemoryDeduper(0) on the handler's clock. Share one, e.g.
	// redisstore.Store, when several processes receive pushes.
	Deduper Deduper
	// DedupeTTL is how long a processed push is remembered. Zero or
	// negative: DefaultDedupeTTL. With a replay window (TimestampWindow not
	// negative) it is raised to twice the window: a push stays acceptable
	// for that long after it was first delivered (its timestamp may be up
	// to the window ahead of the clock), and a replay of it within that
	// time must still be recognised as a duplicate.
	DedupeTTL time.Duration
	// MaxBodyBytes bounds the request body; larger bodies are refused with
	// 413. Zero or negative: DefaultEventMaxBodyBytes.
	MaxBodyBytes int64
	// TimestampWindow is how far the push's timestamp may be from Now
	// (either way) before the push is refused as a replay. Zero:
	// DefaultEventTimestampWindow; negative: no check.
	TimestampWindow time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Logger receives refusals (Info) and callback or Deduper failures
	// (Error). Nil: no logging. Tokens, keys and bodies are never logged.
	// The refusals of an encrypted push after its msg_signature was verified
	// share one message and reason; their cause attribute tells them apart.
	Logger *slog.Logger
	// Observer receives every push answered and its outcome (see
	// Observer). Nil: none.
	Observer Observer
}

// Event is a push that has no typed callback: any MsgType other than the four
// invoice events, or an invoice event whose typed callback is nil.
type Event struct {
	ToUserName   string    // the official account's original id (gh_...)
	FromUserName string    // the user's openid
	CreateTime   time.Time // second precision
	MsgType      string    // "event" for events, "text", "image"... for messages
	Event        string    // the event name, for MsgType event
	Raw          []byte    // the push's XML, decrypted in safe mode
}

// InvoiceStatusEvent is the update_invoice_status push: a reimburser changed
// the reimbursement status of an invoice card (发票状态更新).
type InvoiceStatusEvent struct {
	ToUserName   string
	FromUserName string
	CreateTime   time.Time
	// Status is delivered as WeChat sends it, even if it is not one of the
	// four documented states (check Status.Valid if it matters).
	Status ReimburseStatus
	CardID string // CardId
	Code   string // Code: the invoice card's code
}

// UserAuthorizeInvoiceEvent is the user_authorize_invoice push: a user
// answered a merchant's authorization page (用户授权开票).
type UserAuthorizeInvoiceEvent struct {
	ToUserName   string
	FromUserName string
	CreateTime   time.Time
	SuccOrderID  string // SuccOrderId: the order authorized, if any
	FailOrderID  string // FailOrderId: the order refused, if any
	// AppID is the AppId element, or AuthorizeAppId where WeChat spells it
	// so: the official account or mini program that receives the push.
	AppID  string
	Source string // web (H5 in WeChat), app, wxa (mini program) or wap
}

// SubmitInvoiceTitleEvent is the submit_invoice_title push: a user chose an
// invoice title on a merchant's title page (用户提交发票抬头).
type SubmitInvoiceTitleEvent struct {
	ToUserName   string
	FromUserName string
	CreateTime   time.Time
	Title        string // title
	Phone        string // phone
	TaxNo        string // tax_no
	Addr         string // addr
	BankType     string // bank_type
	BankNo       string // bank_no
	Attach       string // attach: the merchant's attach from getselecttitleurl
	// TitleType is InvoiceUserTitleBusinessType or InvoiceUserTitlePersonType.
	TitleType string
}

// CloudInvoiceResultEvent is the cloud_invoice_invoiceresult_event push: the
// asynchronous result of the unified invoicing API (makeoutinvoice).
type CloudInvoiceResultEvent struct {
	ToUserName   string
	FromUserName string
	CreateTime   time.Time
	Fpqqlsh      string // fpqqlsh: 发票请求流水号
	Status       string // status, e.g. "100"
	Nsrsbh       string // nsrsbh: 纳税人识别号
}

// EventHandler is the http.Handler for WeChat's server URL (服务器地址): it
// answers the GET verification and receives pushes (POST), plaintext, safe
// mode or compatible mode, calling the EventConfig callbacks once per push.
//
// Answers: 200 with the echostr (GET) or "success" (POST) when the push was
// handled, was a duplicate or had no callback; 4xx, without any callback, for
// a push that is not authentic or not well-formed; 500 when a callback failed
// or panicked, and 503 when the Deduper failed or another delivery of the
// same push holds its lease (its callback still runs elsewhere), so that
// WeChat pushes it again.
//
// Everything the query tells (mode, timestamp window, signature, which WeChat
// sends in every mode, and the presence of msg_signature) is checked before
// the body is read; such a refusal closes the connection without waiting for
// the body. In safe mode, once msg_signature is verified, every failure of
// the ciphertext or of the message inside (base64, length, padding, appid,
// XML, required fields) is answered 400 "invalid encrypted message", the same
// for all, so that the answers are no padding oracle.
//
// With EventConfig.Inbox, a push is handled once appended to the Inbox, and a
// failed Append is answered 503.
//
// EventHandler is safe for concurrent use by multiple goroutines.
type EventHandler struct {
	token   string
	ciphers []*wxcrypto.Cipher // current key first; empty in plaintext mode

	onStatus    func(context.Context, *InvoiceStatusEvent) error
	onAuthorize func(context.Context, *UserAuthorizeInvoiceEvent) error
	onTitle     func(context.Context, *SubmitInvoiceTitleEvent) error
	onCloud     func(context.Context, *CloudInvoiceResultEvent) error
	onEvent     func(context.Context, *Event) error
	// component, when set (Component.EventHandler), receives every
	// authenticated, decrypted message instead of the invoice dispatcher.
	component func(w http.ResponseWriter, r *http.Request, msg []byte)

	inbox   Inbox // set: pushes are appended to it (inbox.go)
	deduper Deduper
	ttl     time.Duration
	maxBody int64
	window  time.Duration
	now     func() time.Time
	log     *slog.Logger
	obs     observer

	mu       sync.Mutex
	inflight map[string]chan struct{} // keys being processed in this process
}

// NewEventHandler returns an EventHandler for cfg. It refuses a configuration
// that could never verify a push (no Token; an EncodingAESKey that is not 43
// base64 characters; an EncodingAESKey without AppID) with a
// *ValidationError, which never contains the token or key.
func NewEventHandler(cfg EventConfig) (*EventHandler, error) {
	if cfg.Token == "" {
		return nil, &ValidationError{Field: "EventConfig.Token", Reason: "required"}
	}
	h := &EventHandler{
		token:       cfg.Token,
		onStatus:    cfg.OnInvoiceStatus,
		onAuthorize: cfg.OnUserAuthorizeInvoice,
		onTitle:     cfg.OnSubmitInvoiceTitle,
		onCloud:     cfg.OnCloudInvoiceResult,
		onEvent:     cfg.OnEvent,
		inbox:       cfg.Inbox,
		deduper:     cfg.Deduper,
		ttl:         cfg.DedupeTTL,
		maxBody:     cfg.MaxBodyBytes,
		window:      cfg.TimestampWindow,
		now:         cfg.Now,
		log:         cfg.Logger,
		obs:         observer{cfg.Observer},
		inflight:    make(map[string]chan struct{}),
	}
	if cfg.Inbox != nil && (cfg.OnInvoiceStatus != nil || cfg.OnUserAuthorizeInvoice != nil ||
		cfg.OnSubmitInvoiceTitle != nil || cfg.OnCloudInvoiceResult != nil || cfg.OnEvent != nil) {
		return nil, &ValidationError{Field: "EventConfig.Inbox", Reason: "set with callbacks: give the callbacks to the InboxWorker"}
	}
	if cfg.EncodingAESKey != "" {
		if cfg.AppID == "" {
			return nil, &ValidationError{Field: "EventConfig.AppID", Reason: "required with EncodingAESKey"}
		}
		c, err := newEventCipher("EventConfig.EncodingAESKey", cfg.EncodingAESKey, cfg.AppID)
		if err != nil {
			return nil, err
		}
		h.ciphers = append(h.ciphers, c)
	}
	if cfg.PreviousEncodingAESKey != "" {
		if cfg.EncodingAESKey == "" {
			return nil, &ValidationError{Field: "EventConfig.PreviousEncodingAESKey", Reason: "set without EncodingAESKey"}
		}
		c, err := newEventCipher("EventConfig.PreviousEncodingAESKey", cfg.PreviousEncodingAESKey, cfg.AppID)
		if err != nil {
			return nil, err
		}
		h.ciphers = append(h.ciphers, c)
	}
	if h.ttl <= 0 {
		h.ttl = DefaultDedupeTTL
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultEventMaxBodyBytes
	}
	if h.window == 0 {
		h.window = DefaultEventTimestampWindow
	}
	if h.window > 0 {
		// A push is accepted while |now - timestamp| <= window: up to 2×window
		// after its first delivery. Remember it that long (capped, so that an
		// absurd window cannot overflow a Deduper's expiry arithmetic).
		if min2w := 2 * min(h.window, 24*time.Hour); h.ttl < min2w {
			h.ttl = min2w
		}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.deduper == nil {
		d := newMemoryDeduper(0)
		d.now = h.now
		h.deduper = d
	}
	return h, nil
}

func newEventCipher(field, key, appID string) (*wxcrypto.Cipher, error) {
	if len(key) != wxcrypto.EncodingAESKeyLen {
		return nil, &ValidationError{Field: field, Reason: "must be 43 characters, got " + strconv.Itoa(len(key))}
	}
	c, err := wxcrypto.NewCipher(key, appID)
	if err != nil {
		return nil, &ValidationError{Field: field, Reason: strings.TrimPrefix(err.Error(), "wxcrypto: ")}
	}
	return c, nil
}

// pushQuery holds the query parameters WeChat sends.
type pushQuery struct {
	signature, timestamp, nonce, echostr, encryptType, msgSignature string
}

// param returns the field of parameter key, and its bit in parseQuery's
// record of the parameters read, or nil for a parameter the handler ignores.
func (q *pushQuery) param(key string) (*string, uint8) {
	switch key {
	case "signature":
		return &q.signature, 1 << 0
	case "timestamp":
		return &q.timestamp, 1 << 1
	case "nonce":
		return &q.nonce, 1 << 2
	case "echostr":
		return &q.echostr, 1 << 3
	case "encrypt_type":
		return &q.encryptType, 1 << 4
	case "msg_signature":
		return &q.msgSignature, 1 << 5
	}
	return nil, 0
}

// maxQueryParams is the number of parameters up to which parseQuery reads a
// query itself; a longer query goes through url.ParseQuery.
const maxQueryParams = 16

// parseQuery reads the parameters the handler needs from a raw query. The
// first occurrence of a key wins, even when empty (url.Values.Get). It
// reports false for a query url.ParseQuery refuses: a semicolon in a
// parameter, a key or value that url.QueryUnescape refuses (ignored
// parameters included), or, for a query of more than maxQueryParams
// parameters, more than url.ParseQuery's limit (10000 unless GODEBUG
// urlmaxqueryparams sets another; a limit set below maxQueryParams+1 is not
// applied to shorter queries). Up to maxQueryParams parameters, it builds no
// url.Values and allocates only for an escaped key or value.
func parseQuery(raw string, q *pushQuery) bool {
	*q = pushQuery{}
	if strings.Count(raw, "&") >= maxQueryParams {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return false
		}
		*q = pushQuery{signature: v.Get("signature"), timestamp: v.Get("timestamp"), nonce: v.Get("nonce"),
			echostr: v.Get("echostr"), encryptType: v.Get("encrypt_type"), msgSignature: v.Get("msg_signature")}
		return true
	}
	var read uint8
	for raw != "" {
		var param string
		param, raw, _ = strings.Cut(raw, "&")
		if strings.Contains(param, ";") {
			return false
		}
		if param == "" {
			continue
		}
		key, value, _ := strings.Cut(param, "=")
		key, err := url.QueryUnescape(key)
		if err != nil {
			return false
		}
		value, err = url.QueryUnescape(value)
		if err != nil {
			return false
		}
		if p, bit := q.param(key); p != nil && read&bit == 0 {
			*p, read = value, read|bit
		}
	}
	return true
}

var bodySuccess = []byte("success")

// reply writes a short plain-text answer.
func reply(w http.ResponseWriter, code int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// replySuccess answers "success", which tells WeChat not to retry.
func replySuccess(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(bodySuccess)
}

// refuse answers a 4xx and logs why, without secrets.
func (h *EventHandler) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	h.logRefusal(r, code, reason)
	reply(w, code, reason)
}

// logRefusal logs a refusal at Info, with attrs after the common ones.
func (h *EventHandler) logRefusal(r *http.Request, code int, reason string, attrs ...slog.Attr) {
	if h.log != nil {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "wxinvoice: push refused",
			append([]slog.Attr{slog.Int("status", code), slog.String("reason", reason), slog.String("remote", r.RemoteAddr)}, attrs...)...)
	}
}

// refuseUnread refuses a request before its body is read. A body is never
// waited for: the connection is closed after the answer, and (HTTP/1) its
// read deadline is moved to now, so that net/http does not wait for the rest
// of the body either, before or after answering.
func (h *EventHandler) refuseUnread(w http.ResponseWriter, r *http.Request, code int, reason string) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
		if r.ProtoMajor < 2 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		}
	}
	h.refuse(w, r, code, reason)
}

// Answer of refuseSealed.
const (
	sealedStatus = http.StatusBadRequest
	sealedReason = "invalid encrypted message"
)

// refuseSealed refuses an encrypted push whose msg_signature is valid but
// whose ciphertext or plaintext is not acceptable (base64, length, padding,
// length prefix, appid, XML, required fields). Whatever the cause, the status,
// body and log message are the same, so that the answers are no oracle on the
// plaintext for someone who holds the Token but not the EncodingAESKey. The
// cause goes to the log line's cause attribute only.
func (h *EventHandler) refuseSealed(w http.ResponseWriter, r *http.Request, cause string) {
	h.logRefusal(r, sealedStatus, sealedReason, slog.String("cause", cause))
	reply(w, sealedStatus, sealedReason)
}

// refuseMsg refuses a decoded push that lacks what the handler needs:
// refuseSealed when it was encrypted, refuse with the reason otherwise.
func (h *EventHandler) refuseMsg(w http.ResponseWriter, r *http.Request, sealed bool, reason string) {
	if sealed {
		h.refuseSealed(w, r, reason)
		return
	}
	h.refuse(w, r, http.StatusBadRequest, reason)
}

// ServeHTTP answers WeChat's GET verification and POST pushes.
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.obs.enabled() {
		var end func()
		w, r, end = h.observePush(w, r)
		defer end()
	}
	defer func() {
		// Parsing never panics (it is fuzzed), and callback panics are
		// recovered where they are called; this guards a panicking Deduper
		// or an unforeseen bug, so that a push never takes the server down.
		if v := recover(); v != nil {
			if h.log != nil {
				h.log.LogAttrs(r.Context(), slog.LevelError, "wxinvoice: panic while handling a push", slog.Any("panic", v))
			}
			reply(w, http.StatusInternalServerError, "internal error")
		}
	}()
	var q pushQuery
	if !parseQuery(r.URL.RawQuery, &q) {
		h.refuseUnread(w, r, http.StatusBadRequest, "malformed query")
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r, &q)
	case http.MethodPost:
		h.receive(w, r, &q)
	default:
		w.Header().Set("Allow", "GET, POST")
		h.refuseUnread(w, r, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// checkTimestamp checks the signed timestamp against the replay window; it
// answers, without reading the body, when it fails.
func (h *EventHandler) checkTimestamp(w http.ResponseWriter, r *http.Request, ts string) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		h.refuseUnread(w, r, http.StatusBadRequest, "malformed timestamp")
		return false
	}
	if h.window < 0 {
		return true
	}
	d := h.now().Unix() - sec
	if d < 0 {
		d = -d
	}
	if d > int64(h.window/time.Second) || d < 0 {
		h.refuseUnread(w, r, http.StatusForbidden, "timestamp outside the allowed window")
		return false
	}
	return true
}

// verify answers the server verification: echostr, verbatim, if signature
// signs (token, timestamp, nonce).
func (h *EventHandler) verify(w http.ResponseWriter, r *http.Request, q *pushQuery) {
	if q.signature == "" || q.timestamp == "" || q.nonce == "" || q.echostr == "" {
		h.refuseUnread(w, r, http.StatusBadRequest, "missing signature, timestamp, nonce or echostr")
		return
	}
	if !h.checkTimestamp(w, r, q.timestamp) {
		return
	}
	if !wxcrypto.VerifySignature(q.signature, h.token, q.timestamp, q.nonce) {
		h.refuseUnread(w, r, http.StatusForbidden, "bad signature")
		return
	}
	reply(w, http.StatusOK, q.echostr)
}

// checkQuery checks everything about a push that the query tells, before
// the body is read: the mode, the timestamp window, signature (WeChat sends
// it in every mode) and the presence and form of msg_signature. It answers
// when it fails, and reports whether the push is encrypted.
func (h *EventHandler) checkQuery(w http.ResponseWriter, r *http.Request, q *pushQuery) (safe, ok bool) {
	if q.timestamp == "" || q.nonce == "" {
		h.refuseUnread(w, r, http.StatusBadRequest, "missing timestamp or nonce")
		return false, false
	}
	switch q.encryptType {
	case "aes":
		safe = true
	case "", "raw":
	default:
		h.refuseUnread(w, r, http.StatusBadRequest, "unsupported encrypt_type")
		return false, false
	}
	if safe && len(h.ciphers) == 0 {
		h.refuseUnread(w, r, http.StatusBadRequest, "encrypted push, but no EncodingAESKey is configured")
		return false, false
	}
	if !safe && len(h.ciphers) != 0 {
		h.refuseUnread(w, r, http.StatusBadRequest, "plaintext push refused: EncodingAESKey is configured")
		return false, false
	}
	if !h.checkTimestamp(w, r, q.timestamp) {
		return false, false
	}
	if q.signature == "" {
		h.refuseUnread(w, r, http.StatusForbidden, "missing signature")
		return false, false
	}
	if !wxcrypto.VerifySignature(q.signature, h.token, q.timestamp, q.nonce) {
		h.refuseUnread(w, r, http.StatusForbidden, "bad signature")
		return false, false
	}
	if safe && !isSignature(q.msgSignature) {
		h.refuseUnread(w, r, http.StatusForbidden, "missing or malformed msg_signature")
		return false, false
	}
	return safe, true
}

// isSignature reports whether s has the form of a signature: 40 lowercase
// hex digits.
func isSignature(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// receive authenticates, decrypts and decodes a push, then dispatches it.
func (h *EventHandler) receive(w http.ResponseWriter, r *http.Request, q *pushQuery) {
	safe, ok := h.checkQuery(w, r, q)
	if !ok {
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuseUnread(w, r, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.maxBody), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "reading body failed")
		return
	}
	if hasDirective(body) {
		h.refuse(w, r, http.StatusBadRequest, "XML directives are not accepted")
		return
	}
	var f pushFields
	if err := parsePush(string(body), &f); err != nil {
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if !safe {
		h.dispatch(w, r, &f, body, false)
		return
	}
	// Safe and compatible mode: only the Encrypt element counts.
	if f.Encrypt == "" {
		h.refuse(w, r, http.StatusBadRequest, "missing Encrypt")
		return
	}
	if !wxcrypto.VerifySignature(q.msgSignature, h.token, q.timestamp, q.nonce, f.Encrypt) {
		h.refuse(w, r, http.StatusForbidden, "bad msg_signature")
		return
	}
	// From here on every refusal is refuseSealed's.
	msg, err := h.decrypt(f.Encrypt)
	if err != nil {
		h.refuseSealed(w, r, strings.TrimPrefix(err.Error(), "wxcrypto: "))
		return
	}
	if hasDirective(msg) {
		h.refuseSealed(w, r, "message: XML directives are not accepted")
		return
	}
	if h.component != nil {
		h.component(w, r, msg)
		return
	}
	f = pushFields{}
	if err := parsePush(string(msg), &f); err != nil {
		h.refuseSealed(w, r, "message: "+err.Error())
		return
	}
	h.dispatch(w, r, &f, msg, true)
}

// readBody reads body to its end, as io.ReadAll. A body of announced length
// (which receive bounds by MaxBodyBytes first) is read into one buffer of
// that length (and bytes.MinRead more, to see the end), not grown from 512
// bytes.
func readBody(body io.Reader, length int64) ([]byte, error) {
	var buf bytes.Buffer
	if length > 0 {
		buf.Grow(int(length) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

// decrypt opens enc with every key (current first) before deciding, so that
// its duration does not depend on which key, if any, fits. The error is the
// current key's, or an appid mismatch if a key decrypted to another appid.
func (h *EventHandler) decrypt(enc string) ([]byte, error) {
	var msg []byte
	var first error
	for _, c := range h.ciphers {
		m, err := c.Decrypt(enc)
		switch {
		case err == nil:
			if msg == nil {
				msg = m
			}
		case first == nil || errors.Is(err, wxcrypto.ErrAppID):
			first = err
		}
	}
	if msg != nil {
		return msg, nil
	}
	return nil, first
}

// pushKind says which callback a push goes to.
type pushKind uint8

const (
	kindNone pushKind = iota
	kindStatus
	kindAuthorize
	kindTitle
	kindCloud
	kindGeneric
	kindFunc // run: a component push (component_event.go)
)

// pending is a decoded push on its way to a callback.
type pending struct {
	kind      pushKind
	status    InvoiceStatusEvent
	authorize UserAuthorizeInvoiceEvent
	title     SubmitInvoiceTitleEvent
	cloud     CloudInvoiceResultEvent
	generic   Event
	run       func(context.Context) error
}

// dispatch builds the typed event and its dedupe key, then runs the callback
// once per key, or appends the push to the Inbox. sealed says the push was
// encrypted.
func (h *EventHandler) dispatch(w http.ResponseWriter, r *http.Request, f *pushFields, raw []byte, sealed bool) {
	if f.MsgType == "event" {
		notePushEvent(r.Context(), f.Event, f.MsgType)
	} else {
		notePushEvent(r.Context(), "", f.MsgType)
	}
	p, key, reason := h.decode(f, raw)
	if reason != "" {
		h.refuseMsg(w, r, sealed, reason)
		return
	}
	if h.inbox != nil {
		h.enqueue(w, r, f, key, raw)
		return
	}
	if p.kind == kindNone {
		replySuccess(w) // nobody listens: acknowledge so WeChat does not retry
		return
	}
	h.runOnce(w, r, key, func(ctx context.Context) error { return h.call(ctx, p) })
}

// decode builds the typed event for the callback that is set (kind
// kindNone when none is) and the push's dedupe key; reason is not empty
// when the push lacks what every push needs.
func (h *EventHandler) decode(f *pushFields, raw []byte) (p *pending, key, reason string) {
	sec, err := strconv.ParseInt(f.CreateTime, 10, 64)
	if err != nil {
		return nil, "", "missing or malformed CreateTime"
	}
	if f.MsgType == "" {
		return nil, "", "missing MsgType"
	}
	created := time.Unix(sec, 0)
	createTime := strconv.FormatInt(sec, 10)

	p = new(pending)
	event := ""
	if f.MsgType == "event" {
		event = f.Event
	}
	switch event {
	case EventUpdateInvoiceStatus:
		key = dedupeKey(event, f.ToUserName, f.FromUserName, createTime, f.CardID, f.Code, f.Status)
		if h.onStatus != nil {
			p.kind = kindStatus
			p.status = InvoiceStatusEvent{ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: created,
				Status: ReimburseStatus(f.Status), CardID: f.CardID, Code: f.Code}
		}
	case EventUserAuthorizeInvoice:
		key = dedupeKey(event, f.ToUserName, f.FromUserName, createTime, f.SuccOrderID, f.FailOrderID)
		if h.onAuthorize != nil {
			appID := f.AppID
			if appID == "" {
				appID = f.AuthorizeAppID
			}
			p.kind = kindAuthorize
			p.authorize = UserAuthorizeInvoiceEvent{ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: created,
				SuccOrderID: f.SuccOrderID, FailOrderID: f.FailOrderID, AppID: appID, Source: f.Source}
		}
	case EventSubmitInvoiceTitle:
		key = dedupeKey(event, f.ToUserName, f.FromUserName, createTime, f.Attach, f.Title, f.TaxNo)
		if h.onTitle != nil {
			p.kind = kindTitle
			p.title = SubmitInvoiceTitleEvent{ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: created,
				Title: f.Title, Phone: f.Phone, TaxNo: f.TaxNo, Addr: f.Addr, BankType: f.BankType, BankNo: f.BankNo,
				Attach: f.Attach, TitleType: f.TitleType}
		}
	case EventCloudInvoiceResult:
		status := f.LowerStatus
		if status == "" {
			status = f.Status
		}
		key = dedupeKey(event, f.ToUserName, f.FromUserName, createTime, f.Fpqqlsh, status)
		if h.onCloud != nil {
			p.kind = kindCloud
			p.cloud = CloudInvoiceResultEvent{ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: created,
				Fpqqlsh: f.Fpqqlsh, Status: status, Nsrsbh: f.Nsrsbh}
		}
	default:
		// WeChat's advice: messages by MsgId, events by FromUserName +
		// CreateTime; EventKey, and the card fields of the card events
		// (CardId, UserCardCode; Code and Status as in the invoice events),
		// tell apart a user's events of one second.
		key = dedupeKey("push", f.ToUserName, f.FromUserName, createTime, f.MsgType, f.Event, f.EventKey, f.MsgID,
			f.CardID, f.UserCardCode, f.Code, f.Status)
	}
	if p.kind == kindNone && h.onEvent != nil {
		p.kind = kindGeneric
		p.generic = Event{ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: created,
			MsgType: f.MsgType, Event: f.Event, Raw: raw}
	}
	return p, key, ""
}

// dedupeKey joins the parts unambiguously: the event name, then each part
// length-prefixed.
func dedupeKey(event string, parts ...string) string {
	var stack [256]byte
	b := append(stack[:0], "wxinvoice:"...)
	b = append(b, event...)
	for _, p := range parts {
		b = append(b, '|')
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return string(b)
}

// errCallbackPanic is returned by call when a callback panicked.
type errCallbackPanic struct{ v any }

func (e errCallbackPanic) Error() string { return "wxinvoice: event callback panicked" }

// call runs the callback, turning a panic into an error.
func (h *EventHandler) call(ctx context.Context, p *pending) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if h.log != nil {
				h.log.LogAttrs(ctx, slog.LevelError, "wxinvoice: event callback panicked", slog.Any("panic", v))
			}
			err = errCallbackPanic{v}
		}
	}()
	switch p.kind {
	case kindStatus:
		return h.onStatus(ctx, &p.status)
	case kindAuthorize:
		return h.onAuthorize(ctx, &p.authorize)
	case kindTitle:
		return h.onTitle(ctx, &p.title)
	case kindCloud:
		return h.onCloud(ctx, &p.cloud)
	case kindGeneric:
		return h.onEvent(ctx, &p.generic)
	case kindFunc:
		return p.run(ctx)
	}
	return nil
}
