package wxinvoicetest

import (
	"context"
	"net/http"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/pushtest"
)

// PushConfig describes how NewPushRequest signs and encrypts a push, as WeChat
// does for a server URL configured with the same Token, EncodingAESKey and
// AppID. WithEventPush takes one for the server's own pushes.
type PushConfig struct {
	Token          string
	EncodingAESKey string // empty: plaintext push
	AppID          string // required with EncodingAESKey
	// Compat sends compatible mode (兼容模式): the plaintext fields and
	// Encrypt in one body. Ignored without EncodingAESKey.
	Compat bool
	// Timestamp is the signed timestamp. Zero: time.Now().
	Timestamp time.Time
	// Nonce is the signed nonce. Empty: ten random digits, like WeChat's.
	Nonce string
}

// String returns the config without its Token and EncodingAESKey.
func (c PushConfig) String() string {
	return "wxinvoicetest.PushConfig{AppID: " + c.AppID + ", Token: REDACTED, EncodingAESKey: REDACTED}"
}

// GoString is String, so that %#v hides the secrets too.
func (c PushConfig) GoString() string { return c.String() }

func (c PushConfig) internal() pushtest.Config {
	return pushtest.Config{Token: c.Token, EncodingAESKey: c.EncodingAESKey, AppID: c.AppID, Compat: c.Compat,
		Timestamp: c.Timestamp, Nonce: c.Nonce}
}

// NewPushRequest returns the POST WeChat would send to url for eventXML (a
// complete <xml>...</xml> push such as InvoiceStatusEventXML returns), for
// testing a wxinvoice.EventHandler.
//
// The query carries signature, timestamp, nonce and, when eventXML has a
// FromUserName, openid; with an EncodingAESKey also encrypt_type=aes and
// msg_signature, in WeChat's order. The body is eventXML in plaintext mode;
// <xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml> in safe mode; and
// eventXML with an Encrypt element appended in compatible mode. eventXML is
// sent as given even if it is not well-formed, so that tests can push
// malformed documents.
func NewPushRequest(ctx context.Context, url string, cfg PushConfig, eventXML []byte) (*http.Request, error) {
	return pushtest.NewRequest(ctx, url, cfg.internal(), eventXML)
}

// NewVerifyRequest returns the GET WeChat sends to verify a server URL
// (验证服务器地址): signed with cfg.Token, cfg.Timestamp and cfg.Nonce, carrying
// echostr. The handler must answer echostr verbatim.
func NewVerifyRequest(ctx context.Context, url string, cfg PushConfig, echostr string) (*http.Request, error) {
	return pushtest.NewVerifyRequest(ctx, url, cfg.internal(), echostr)
}

// InvoiceStatusEventXML returns the update_invoice_status push WeChat sends
// for ev, in the layout of the official sample. A zero CreateTime is written
// as the current time.
func InvoiceStatusEventXML(ev *wxinvoice.InvoiceStatusEvent) []byte {
	return pushtest.InvoiceStatus(ev.ToUserName, ev.FromUserName, ev.CreateTime, string(ev.Status), ev.CardID, ev.Code)
}

// UserAuthorizeInvoiceEventXML returns the user_authorize_invoice push WeChat
// sends for ev (with the AppId spelling). A zero CreateTime is written as the
// current time.
func UserAuthorizeInvoiceEventXML(ev *wxinvoice.UserAuthorizeInvoiceEvent) []byte {
	return pushtest.UserAuthorizeInvoice(ev.ToUserName, ev.FromUserName, ev.CreateTime, ev.SuccOrderID, ev.FailOrderID,
		ev.AppID, ev.Source)
}

// SubmitInvoiceTitleEventXML returns the submit_invoice_title push WeChat
// sends for ev. A zero CreateTime is written as the current time.
func SubmitInvoiceTitleEventXML(ev *wxinvoice.SubmitInvoiceTitleEvent) []byte {
	return pushtest.SubmitInvoiceTitle(ev.ToUserName, ev.FromUserName, ev.CreateTime,
		[8]string{ev.Title, ev.TaxNo, ev.Addr, ev.Phone, ev.BankType, ev.BankNo, ev.Attach, ev.TitleType})
}

// CloudInvoiceResultEventXML returns the cloud_invoice_invoiceresult_event
// push WeChat sends for ev (status as a bare number when it is one, as in
// the official sample). A zero CreateTime is written as the current time.
func CloudInvoiceResultEventXML(ev *wxinvoice.CloudInvoiceResultEvent) []byte {
	return pushtest.CloudInvoiceResult(ev.ToUserName, ev.FromUserName, ev.CreateTime, ev.Fpqqlsh, ev.Status, ev.Nsrsbh)
}
