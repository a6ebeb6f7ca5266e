package fapiao

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

// Event types of the e-invoice callbacks.
const (
	EventUserApplied   = "FAPIAO.USER_APPLIED"   // the user filled the title (用户发票抬头填写完成)
	EventIssued        = "FAPIAO.ISSUED"         // 发票开具成功
	EventReversed      = "FAPIAO.REVERSED"       // 发票冲红成功
	EventCardInserted  = "FAPIAO.CARD_INSERTED"  // 发票插入用户卡包成功
	EventCardDiscarded = "FAPIAO.CARD_DISCARDED" // 发票卡券作废
)

// Defaults of NotifyConfig.
const (
	// DefaultNotifyMaxBody bounds a callback body (real ones are under 2 KiB).
	DefaultNotifyMaxBody = 64 << 10
	// DefaultNotifyDedupeTTL outlasts WeChat's longest retry schedule
	// (about 24 hours).
	DefaultNotifyDedupeTTL = 25 * time.Hour
)

// NotifyConfig configures a NotifyHandler.
type NotifyConfig struct {
	// APIv3Key is the merchant's 32-byte APIv3 key; it decrypts resources.
	APIv3Key string
	// WechatPayPublicKeyID and WechatPayPublicKey, and/or
	// PlatformCertificates, verify callbacks; Wechatpay-Serial chooses the
	// key (during WeChat's migration either may sign). At least one is required.
	WechatPayPublicKeyID string
	WechatPayPublicKey   *rsa.PublicKey
	PlatformCertificates []*x509.Certificate

	// Deduper makes WeChat's retries of one notification (same id) run the
	// callbacks once. Nil: wxinvoice.NewMemoryDeduper(0), one process only;
	// use a shared one (redisstore) behind a load balancer.
	Deduper   wxinvoice.Deduper
	DedupeTTL time.Duration // how long an id is remembered; default DefaultNotifyDedupeTTL

	// Inbox, when set, makes the handler append each verified, decrypted,
	// deduplicated notification to it (Kind "fapiao:<event_type>") and
	// answer 204 once the append returned nil (503 when it failed), instead
	// of running the callbacks in WeChat Pay's request. A
	// wxinvoice.InboxWorker then runs them at least once: give it
	// WorkerConfig.Handle{InboxKind: handler.Deliver}. The entry holds the
	// decrypted resource: protect the inbox's store accordingly.
	Inbox wxinvoice.Inbox

	Clock           func() time.Time // default time.Now
	TimestampWindow time.Duration    // default DefaultTimestampWindow
	MaxBodyBytes    int64            // default DefaultNotifyMaxBody
	Logger          *slog.Logger     // refusals and callback failures; never keys or plaintext

	// Callbacks. A nil error answers 204; an error (or a panic) answers 500
	// with the FAIL body so that WeChat retries. An event whose typed
	// callback is nil goes to OnEvent; with OnEvent nil too it is
	// acknowledged (204) and logged.
	OnUserApplied   func(ctx context.Context, ev *UserAppliedEvent) error
	OnIssued        func(ctx context.Context, ev *FapiaoEvent) error
	OnReversed      func(ctx context.Context, ev *FapiaoEvent) error
	OnCardInserted  func(ctx context.Context, ev *FapiaoEvent) error
	OnCardDiscarded func(ctx context.Context, ev *FapiaoEvent) error
	OnEvent         func(ctx context.Context, n *Notification) error
}

// String describes the configuration without the APIv3 key.
func (c NotifyConfig) String() string {
	return fmt.Sprintf("fapiao.NotifyConfig{APIv3Key: [redacted], WechatPayPublicKeyID: %s, PlatformCertificates: %d}",
		c.WechatPayPublicKeyID, len(c.PlatformCertificates))
}

// GoString is String.
func (c NotifyConfig) GoString() string { return c.String() }

// Format writes String for every verb.
func (c NotifyConfig) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Notification is the envelope of a callback; Plaintext is its decrypted
// resource.
type Notification struct {
	ID           string               `json:"id"`
	CreateTime   string               `json:"create_time"`
	EventType    string               `json:"event_type"`
	ResourceType string               `json:"resource_type"`
	Summary      string               `json:"summary,omitempty"`
	Resource     NotificationResource `json:"resource"`
	Plaintext    json.RawMessage      `json:"-"`
}

// NotificationResource is the encrypted resource of a callback.
type NotificationResource struct {
	OriginalType   string `json:"original_type,omitempty"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// UserAppliedEvent is the resource of FAPIAO.USER_APPLIED: the user filled
// the title of an application; fetch it with GetUserTitle.
type UserAppliedEvent struct {
	Notification  *Notification `json:"-"`
	MchID         string        `json:"mchid"`
	SubMchID      string        `json:"sub_mchid,omitempty"`
	FapiaoApplyID string        `json:"fapiao_apply_id"` // the WeChat Pay order number in the WITH_WECHATPAY scene
	ApplyTime     string        `json:"apply_time"`
}

// FapiaoEvent is the resource of FAPIAO.ISSUED, REVERSED, CARD_INSERTED and
// CARD_DISCARDED: every invoice of the application with its statuses.
type FapiaoEvent struct {
	Notification      *Notification  `json:"-"`
	MchID             string         `json:"mchid"`
	SubMchID          string         `json:"sub_mchid,omitempty"`
	FapiaoApplyID     string         `json:"fapiao_apply_id"`
	FapiaoInformation []FapiaoStatus `json:"fapiao_information"`
}

// FapiaoStatus is the state of one invoice in a callback.
type FapiaoStatus struct {
	FapiaoID     string `json:"fapiao_id"`
	FapiaoStatus string `json:"fapiao_status"` // StatusIssueAccepted … StatusReversed
	CardStatus   string `json:"card_status"`   // CardInsertAccepted … CardDiscarded
}

// NotifyHandler is the http.Handler for FAPIAO.* callbacks at the
// callback_url set with UpdateDevelopmentConfig. It is safe for concurrent
// use.
//
// It verifies before it decrypts, and reads nothing of the body before the
// headers are plausible: POST only; Wechatpay-Timestamp, -Nonce, -Signature
// and -Serial present once each; the timestamp within TimestampWindow of
// Clock; the serial naming a key held. Then it reads at most MaxBodyBytes,
// verifies the signature over the raw body, and opens the resource with
// AEAD_AES_256_GCM under the APIv3 key. Every such failure gets the same
// answer (401 with {"code":"FAIL","message":"失败"}) and runs no callback.
//
// Other answers: 204 (no body) when the callback succeeded or the
// notification was already processed; 500 with the FAIL body when the
// callback failed or panicked; 503 with the FAIL body when the Deduper
// failed, or while another delivery of the same notification is still
// running; 405 for a method other than POST. WeChat retries every 4xx/5xx.
type NotifyHandler struct {
	key     *[]byte // the APIv3 key, behind a pointer so that printing a NotifyHandler by value shows no key
	keys    *keyring
	deduper wxinvoice.Deduper
	ttl     time.Duration
	now     func() time.Time
	window  time.Duration
	max     int64
	log     *slog.Logger
	inbox   wxinvoice.Inbox
	cfg     NotifyConfig // callbacks
}

// InboxKind is the Kind prefix of the entries a NotifyHandler appends to its
// Inbox: the key of NotifyHandler.Deliver in wxinvoice.WorkerConfig.Handle.
const InboxKind = "fapiao"

// NewNotifyHandler returns a handler for cfg, or a *ValidationError.
func NewNotifyHandler(cfg NotifyConfig) (*NotifyHandler, error) {
	if len(cfg.APIv3Key) != APIv3KeySize {
		return nil, newValidation("APIv3Key", "must be %d bytes", APIv3KeySize)
	}
	kr, err := newKeyring(cfg.WechatPayPublicKeyID, cfg.WechatPayPublicKey, cfg.PlatformCertificates)
	if err != nil {
		return nil, err
	}
	if len(kr.keys) == 0 {
		return nil, newValidation("WechatPayPublicKey", "set it or PlatformCertificates: callbacks cannot be verified without a WeChat Pay key")
	}
	if cfg.OnUserApplied == nil && cfg.OnIssued == nil && cfg.OnReversed == nil && cfg.OnCardInserted == nil &&
		cfg.OnCardDiscarded == nil && cfg.OnEvent == nil {
		return nil, newValidation("NotifyConfig", "sets no callback")
	}
	apiv3 := []byte(cfg.APIv3Key)
	h := &NotifyHandler{
		key: &apiv3, keys: kr, deduper: cfg.Deduper, ttl: cfg.DedupeTTL, now: cfg.Clock,
		window: cfg.TimestampWindow, max: cfg.MaxBodyBytes, log: cfg.Logger, inbox: cfg.Inbox, cfg: cfg,
	}
	h.cfg.APIv3Key = ""
	if h.deduper == nil {
		h.deduper = wxinvoice.NewMemoryDeduper(0)
	}
	if h.ttl <= 0 {
		h.ttl = DefaultNotifyDedupeTTL
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.window <= 0 {
		h.window = DefaultTimestampWindow
	}
	if h.max <= 0 {
		h.max = DefaultNotifyMaxBody
	}
	return h, nil
}

// String describes the handler without the APIv3 key.
func (h *NotifyHandler) String() string { return "fapiao.NotifyHandler{APIv3Key: [redacted]}" }

// GoString is String, so that %#v hides the key too.
func (h *NotifyHandler) GoString() string { return h.String() }

// Format writes String for every verb, so no verb prints the key.
func (h *NotifyHandler) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, h.String()) }

// failBody is the answer body WeChat expects on failure.
const failBody = `{"code":"FAIL","message":"失败"}`

func writeAnswer(w http.ResponseWriter, status int) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, failBody)
}

// refuse is the one answer to every verification or decryption failure.
func (h *NotifyHandler) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	if h.log != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "fapiao callback refused", slog.String("reason", reason),
			slog.String("request_id", r.Header.Get(headerRequestID)))
	}
	writeAnswer(w, http.StatusUnauthorized)
}

// ServeHTTP implements http.Handler.
func (h *NotifyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeAnswer(w, http.StatusMethodNotAllowed)
		return
	}
	sh, err := h.keys.checkHeaders(r.Header, h.now(), h.window)
	if err != nil {
		h.refuse(w, r, err.Error())
		return
	}
	if r.ContentLength > h.max {
		h.refuse(w, r, "body larger than MaxBodyBytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		h.refuse(w, r, "body unreadable or larger than MaxBodyBytes")
		return
	}
	if err := sh.verifyBody(body); err != nil {
		h.refuse(w, r, err.Error())
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		h.refuse(w, r, "envelope is not JSON")
		return
	}
	if n.Resource.Algorithm != aeadAlgorithm {
		h.refuse(w, r, "unsupported resource algorithm")
		return
	}
	pt, err := decryptAEAD(*h.key, n.Resource.Nonce, n.Resource.AssociatedData, n.Resource.Ciphertext)
	if err != nil {
		h.refuse(w, r, "resource does not decrypt with the APIv3 key")
		return
	}
	n.Plaintext = pt
	ctx := r.Context()
	run := func() error { return h.dispatch(ctx, &n) }
	if h.inbox != nil {
		run = func() error { return h.enqueue(ctx, &n) }
	}
	if n.ID == "" {
		writeAnswer(w, h.statusOf(ctx, &n, run()))
		return
	}
	writeAnswer(w, h.once(ctx, "wxinvoice:fapiao:notify:"+n.ID, run))
}

// inboxEntry is the payload of an Inbox entry: the notification and its
// decrypted resource.
type inboxEntry struct {
	Notification Notification    `json:"notification"`
	Plaintext    json.RawMessage `json:"plaintext"`
}

// errInboxAppend marks a failed append: answered 503, so WeChat Pay retries.
type errInboxAppend struct{ err error }

func (e errInboxAppend) Error() string { return "fapiao: inbox append: " + e.err.Error() }
func (e errInboxAppend) Unwrap() error { return e.err }

// enqueue appends n to the Inbox.
func (h *NotifyHandler) enqueue(ctx context.Context, n *Notification) error {
	payload, err := json.Marshal(inboxEntry{Notification: *n, Plaintext: n.Plaintext})
	if err != nil {
		return errInboxAppend{err}
	}
	env := wxinvoice.Envelope{Kind: InboxKind + ":" + n.EventType, Key: "wxinvoice:fapiao:notify:" + n.ID,
		Payload: payload, Received: h.now()}
	if err := h.inbox.Append(ctx, env); err != nil {
		return errInboxAppend{err}
	}
	return nil
}

// Deliver runs the callbacks for an entry the handler appended to its
// Inbox; an InboxWorker calls it (WorkerConfig.Handle{InboxKind: Deliver}).
// Its error (the callback's, or a payload that does not decode) makes the
// worker retry, then dead-letter the entry.
func (h *NotifyHandler) Deliver(ctx context.Context, env wxinvoice.Envelope) error {
	var e inboxEntry
	if err := json.Unmarshal(env.Payload, &e); err != nil {
		return fmt.Errorf("fapiao: inbox entry %s: %w", env.ID, err)
	}
	n := e.Notification
	n.Plaintext = e.Plaintext
	return h.dispatch(ctx, &n)
}

// statusOf maps a callback outcome to the answer status.
func (h *NotifyHandler) statusOf(ctx context.Context, n *Notification, err error) int {
	if err == nil {
		return http.StatusNoContent
	}
	var ae errInboxAppend
	if errors.As(err, &ae) {
		if h.log != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "fapiao notification: inbox append failed; WeChat Pay will retry",
				slog.String("id", n.ID), slog.String("error", err.Error()))
		}
		return http.StatusServiceUnavailable
	}
	if h.log != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "fapiao callback failed; WeChat will retry",
			slog.String("id", n.ID), slog.String("event_type", n.EventType), slog.String("error", err.Error()))
	}
	return http.StatusInternalServerError
}

// once runs fn at most once per key across WeChat's retries, through
// wxinvoice.ProcessOnce (the lease the card-invoice handlers use too), and
// answers with the status for the outcome: 204 for a processed or duplicate
// notification, 500 when fn failed, 503 when another delivery holds the
// lease or the Deduper failed, so that WeChat asks again.
func (h *NotifyHandler) once(ctx context.Context, key string, fn func() error) int {
	outcome, err := wxinvoice.ProcessOnce(ctx, h.deduper, key, h.ttl, h.log, func(context.Context) error { return fn() })
	switch outcome {
	case wxinvoice.DedupeProcessed, wxinvoice.DedupeDuplicate:
		return http.StatusNoContent
	case wxinvoice.DedupeFailed:
		return h.statusOf(ctx, &Notification{ID: key}, err)
	case wxinvoice.DedupeUnavailable:
		if h.log != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "fapiao callback: deduper failed; asking WeChat to retry", slog.String("error", err.Error()))
		}
	}
	return http.StatusServiceUnavailable
}

// errCallbackPanic is the error of a callback that panicked.
var errCallbackPanic = errors.New("fapiao: callback panicked")

// dispatch decodes the plaintext into the event type's struct and runs its
// callback, turning a panic into an error.
func (h *NotifyHandler) dispatch(ctx context.Context, n *Notification) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if h.log != nil {
				h.log.LogAttrs(ctx, slog.LevelError, "fapiao callback panicked", slog.String("event_type", n.EventType),
					slog.String("panic", fmt.Sprint(v)))
			}
			err = errCallbackPanic
		}
	}()
	var typed func(ctx context.Context, ev *FapiaoEvent) error
	switch n.EventType {
	case EventUserApplied:
		if h.cfg.OnUserApplied != nil {
			ev := &UserAppliedEvent{Notification: n}
			if err := json.Unmarshal(n.Plaintext, ev); err != nil {
				return fmt.Errorf("decode %s resource: %w", n.EventType, err)
			}
			return h.cfg.OnUserApplied(ctx, ev)
		}
	case EventIssued:
		typed = h.cfg.OnIssued
	case EventReversed:
		typed = h.cfg.OnReversed
	case EventCardInserted:
		typed = h.cfg.OnCardInserted
	case EventCardDiscarded:
		typed = h.cfg.OnCardDiscarded
	}
	if typed != nil {
		ev := &FapiaoEvent{Notification: n}
		if err := json.Unmarshal(n.Plaintext, ev); err != nil {
			return fmt.Errorf("decode %s resource: %w", n.EventType, err)
		}
		return typed(ctx, ev)
	}
	if h.cfg.OnEvent != nil {
		return h.cfg.OnEvent(ctx, n)
	}
	if h.log != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "fapiao callback without a handler acknowledged", slog.String("event_type", n.EventType))
	}
	return nil
}
