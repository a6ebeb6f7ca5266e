package wxinvoice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// InfoType values of the pushes to a third-party platform's authorization
// event URL (授权事件接收URL).
const (
	InfoTypeComponentVerifyTicket = "component_verify_ticket"
	InfoTypeAuthorized            = "authorized"
	InfoTypeUnauthorized          = "unauthorized"
	InfoTypeUpdateAuthorized      = "updateauthorized"
)

// ComponentEventConfig configures the handler of Component.EventHandler.
// Token and EncodingAESKey are required: WeChat encrypts every push to a
// third-party platform with the platform's own Token (消息校验Token),
// EncodingAESKey (消息加解密Key) and component appid.
//
// Callbacks follow EventConfig's rules: they run on the request's goroutine
// with its context; return nil once handled, or an error (or panic) to have
// WeChat push again. Every push is answered "success" once handled.
type ComponentEventConfig struct {
	Token                  string // required
	EncodingAESKey         string // required
	PreviousEncodingAESKey string // the key before the last rotation, tried second

	// OnTicket runs after a component_verify_ticket was stored in the
	// TokenStore (the handler stores it whether or not OnTicket is set).
	OnTicket func(ctx context.Context, ev *ComponentTicketEvent) error
	// OnAuthorized runs for an authorized push after its authorization code
	// was exchanged (QueryAuth: the refresh token is already stored).
	OnAuthorized func(ctx context.Context, ev *AuthorizationEvent) error
	// OnUpdateAuthorized runs for an updateauthorized push (the account
	// changed the permission sets it grants) after its code was exchanged.
	OnUpdateAuthorized func(ctx context.Context, ev *AuthorizationEvent) error
	// OnUnauthorized runs for an unauthorized push after the account was
	// recorded as revoked: its calls fail with ErrAuthorizerRevoked until
	// it authorizes the platform again. A push older than the authorization
	// exchanged since (it arrived late: the merchant revoked, then authorized
	// again) does not revoke that newer authorization; the callback still
	// runs, so compare ev.CreateTime with your own records.
	OnUnauthorized func(ctx context.Context, ev *UnauthorizedEvent) error
	// OnEvent receives every other InfoType (e.g. notify_third_fasteregister).
	// Nil: they are acknowledged with "success".
	OnEvent func(ctx context.Context, ev *ComponentEvent) error

	// Deduper, DedupeTTL, MaxBodyBytes, TimestampWindow, Now, Logger and
	// Observer are EventConfig's.
	Deduper         Deduper
	DedupeTTL       time.Duration
	MaxBodyBytes    int64
	TimestampWindow time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	Observer        Observer
}

// ComponentTicketEvent is the component_verify_ticket push (验证票据), every
// 10 minutes. The ticket itself is in the TokenStore.
type ComponentTicketEvent struct {
	AppID      string // the component appid
	CreateTime time.Time
}

// AuthorizationEvent is the authorized (授权成功) or updateauthorized (更新授权)
// push.
type AuthorizationEvent struct {
	AppID             string // the component appid
	CreateTime        time.Time
	InfoType          string // InfoTypeAuthorized or InfoTypeUpdateAuthorized
	AuthorizerAppID   string // the merchant's Official Account (AuthorizerAppid)
	AuthorizationCode string // already exchanged by the handler
	// AuthorizationCodeExpiredTime is sent as is: the docs say only
	// "单位秒" (other SDKs read it as a Unix time).
	AuthorizationCodeExpiredTime int64
	PreAuthCode                  string
	// Authorization is the result of exchanging AuthorizationCode.
	Authorization *AuthorizationInfo
}

// UnauthorizedEvent is the unauthorized push (取消授权).
type UnauthorizedEvent struct {
	AppID           string // the component appid
	CreateTime      time.Time
	AuthorizerAppID string
}

// ComponentEvent is a push to the authorization event URL with another
// InfoType.
type ComponentEvent struct {
	AppID      string
	CreateTime time.Time
	InfoType   string
	Raw        []byte // the decrypted XML
}

// EventHandler returns the http.Handler for the platform's authorization
// event URL (授权事件接收URL). It is an *EventHandler with the same
// verification, decryption (PKCS#7 padding 1..32, appid check, previous
// key), refusals, replay window and dedupe, configured with the component
// appid; it only accepts encrypted pushes, so every refusal after the
// msg_signature check, including a decrypted message that lacks a field its
// InfoType needs or names another AppId, is the single 400 "invalid
// encrypted message". It handles the pushes itself:
//
//   - component_verify_ticket: stored in the TokenStore, so that every
//     instance sharing the store can fetch the component_access_token;
//   - authorized, updateauthorized: the code is exchanged with QueryAuth
//     (refresh token stored) before the callback;
//   - unauthorized: the account is recorded as revoked before the callback.
//
// A failure of any of these answers 5xx, so WeChat pushes again.
func (cp *Component) EventHandler(cfg ComponentEventConfig) (*EventHandler, error) {
	if cfg.EncodingAESKey == "" {
		return nil, &ValidationError{Field: "ComponentEventConfig.EncodingAESKey", Reason: "required: WeChat encrypts every push to a third-party platform"}
	}
	h, err := NewEventHandler(EventConfig{
		Token: cfg.Token, EncodingAESKey: cfg.EncodingAESKey, AppID: cp.appID,
		PreviousEncodingAESKey: cfg.PreviousEncodingAESKey,
		Deduper:                cfg.Deduper, DedupeTTL: cfg.DedupeTTL, MaxBodyBytes: cfg.MaxBodyBytes,
		TimestampWindow: cfg.TimestampWindow, Now: cfg.Now, Logger: cfg.Logger, Observer: cfg.Observer,
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Field = "Component" + ve.Field
		}
		return nil, err
	}
	ch := &componentHandler{cp: cp, h: h, cfg: cfg}
	h.component = ch.receive
	return h, nil
}

type componentHandler struct {
	cp  *Component
	h   *EventHandler
	cfg ComponentEventConfig
}

// componentFields are the fields of a decrypted component push.
type componentFields struct {
	AppID, CreateTime, InfoType, Ticket, AuthorizerAppID, AuthorizationCode, CodeExpiredTime, PreAuthCode string
}

// elements maps each element name to the field it fills.
func (f *componentFields) elements() map[string]*string {
	return map[string]*string{
		"AppId": &f.AppID, "CreateTime": &f.CreateTime, "InfoType": &f.InfoType,
		"ComponentVerifyTicket": &f.Ticket, "AuthorizerAppid": &f.AuthorizerAppID,
		"AuthorizationCode": &f.AuthorizationCode, "AuthorizationCodeExpiredTime": &f.CodeExpiredTime,
		"PreAuthCode": &f.PreAuthCode,
	}
}

// receive decodes an authenticated, decrypted push and runs it once. Every
// push to this handler is encrypted, so each refusal here is refuseSealed's
// single answer: the response does not tell an attacker who alters the
// ciphertext what its plaintext held.
func (ch *componentHandler) receive(w http.ResponseWriter, r *http.Request, msg []byte) {
	h := ch.h
	var f componentFields
	if err := decodeFields(string(msg), f.elements()); err != nil {
		h.refuseSealed(w, r, "message: "+err.Error())
		return
	}
	notePushEvent(r.Context(), f.InfoType, "")
	sec, err := strconv.ParseInt(strings.TrimSpace(f.CreateTime), 10, 64)
	if err != nil {
		h.refuseSealed(w, r, "missing or malformed CreateTime")
		return
	}
	if f.InfoType == "" {
		h.refuseSealed(w, r, "missing InfoType")
		return
	}
	if f.AppID != "" && f.AppID != ch.cp.appID {
		h.refuseSealed(w, r, "AppId is not this component's")
		return
	}
	created := time.Unix(sec, 0)
	createTime := strconv.FormatInt(sec, 10)
	var key string
	var run func(context.Context) error
	switch f.InfoType {
	case InfoTypeComponentVerifyTicket:
		if f.Ticket == "" {
			h.refuseSealed(w, r, "missing ComponentVerifyTicket")
			return
		}
		key = dedupeKey(f.InfoType, f.AppID, createTime, secretDigest(f.Ticket))
		run = func(ctx context.Context) error { return ch.ticket(ctx, &f, created) }
	case InfoTypeAuthorized, InfoTypeUpdateAuthorized:
		if f.AuthorizerAppID == "" || f.AuthorizationCode == "" {
			h.refuseSealed(w, r, "missing AuthorizerAppid or AuthorizationCode")
			return
		}
		key = dedupeKey(f.InfoType, f.AppID, f.AuthorizerAppID, createTime, secretDigest(f.AuthorizationCode))
		run = func(ctx context.Context) error { return ch.authorized(ctx, &f, created) }
	case InfoTypeUnauthorized:
		if f.AuthorizerAppID == "" {
			h.refuseSealed(w, r, "missing AuthorizerAppid")
			return
		}
		key = dedupeKey(f.InfoType, f.AppID, f.AuthorizerAppID, createTime)
		run = func(ctx context.Context) error { return ch.unauthorized(ctx, &f, created) }
	default:
		if ch.cfg.OnEvent == nil {
			replySuccess(w)
			return
		}
		sum := sha256.Sum256(msg)
		key = dedupeKey("component:"+f.InfoType, f.AppID, createTime, f.AuthorizerAppID, hex.EncodeToString(sum[:16]))
		ev := &ComponentEvent{AppID: f.AppID, CreateTime: created, InfoType: f.InfoType, Raw: msg}
		run = func(ctx context.Context) error { return ch.cfg.OnEvent(ctx, ev) }
	}
	h.runOnce(w, r, key, func(ctx context.Context) error { return h.call(ctx, &pending{kind: kindFunc, run: run}) })
}

// secretDigest stands for a ticket or an authorization code in a dedupe key:
// keys are logged when handling fails and stored as is by a shared Deduper
// (a Redis key name), so they carry a digest, never the value.
func secretDigest(s string) string {
	sum := sha256.Sum256([]byte("wxinvoice-dedupe:" + s))
	return hex.EncodeToString(sum[:16])
}

func (ch *componentHandler) ticket(ctx context.Context, f *componentFields, created time.Time) error {
	if err := ch.cp.storeTicket(ctx, f.Ticket, ch.h.now()); err != nil {
		return errors.New("wxinvoice: store component_verify_ticket: " + err.Error())
	}
	if ch.cfg.OnTicket == nil {
		return nil
	}
	return ch.cfg.OnTicket(ctx, &ComponentTicketEvent{AppID: f.AppID, CreateTime: created})
}

func (ch *componentHandler) authorized(ctx context.Context, f *componentFields, created time.Time) error {
	a, err := ch.cp.QueryAuth(ctx, f.AuthorizationCode)
	if err != nil {
		return err
	}
	cb := ch.cfg.OnAuthorized
	if f.InfoType == InfoTypeUpdateAuthorized {
		cb = ch.cfg.OnUpdateAuthorized
	}
	if cb == nil {
		return nil
	}
	exp, _ := strconv.ParseInt(strings.TrimSpace(f.CodeExpiredTime), 10, 64)
	return cb(ctx, &AuthorizationEvent{AppID: f.AppID, CreateTime: created, InfoType: f.InfoType,
		AuthorizerAppID: f.AuthorizerAppID, AuthorizationCode: f.AuthorizationCode,
		AuthorizationCodeExpiredTime: exp, PreAuthCode: f.PreAuthCode, Authorization: a})
}

func (ch *componentHandler) unauthorized(ctx context.Context, f *componentFields, created time.Time) error {
	revoked, err := ch.cp.revokeAt(ctx, f.AuthorizerAppID, created)
	if err != nil {
		return errors.New("wxinvoice: record the revoked authorization: " + err.Error())
	}
	if !revoked && ch.h.log != nil {
		ch.h.log.LogAttrs(ctx, slog.LevelInfo, "wxinvoice: unauthorized push older than the authorization exchanged since; not revoking it",
			slog.String("authorizer", f.AuthorizerAppID), slog.Int64("create_time", created.Unix()))
	}
	if ch.cfg.OnUnauthorized == nil {
		return nil
	}
	return ch.cfg.OnUnauthorized(ctx, &UnauthorizedEvent{AppID: f.AppID, CreateTime: created, AuthorizerAppID: f.AuthorizerAppID})
}
