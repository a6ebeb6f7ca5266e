package wxinvoice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// PushConfig describes how NewPushRequest signs and encrypts a push, as WeChat
// would for a server URL configured with the same Token, EncodingAESKey and
// AppID. It is meant for tests (users' own, and the fake server's).
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

// NewPushRequest returns the POST WeChat would send to url for eventXML (a
// complete <xml>...</xml> push such as InvoiceStatusEventXML returns).
//
// The query carries signature, timestamp, nonce and, when eventXML has a
// FromUserName, openid; with an EncodingAESKey also encrypt_type=aes and
// msg_signature, in WeChat's order. The body is eventXML in plaintext mode;
// <xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml> in safe mode; and
// eventXML with an Encrypt element appended in compatible mode. eventXML is
// sent as given even if it is not well-formed, so that tests can push
// malformed documents.
func NewPushRequest(ctx context.Context, url string, cfg PushConfig, eventXML []byte) (*http.Request, error) {
	if cfg.Token == "" {
		return nil, &ValidationError{Field: "PushConfig.Token", Reason: "required"}
	}
	ts, nonce, err := pushStamp(cfg)
	if err != nil {
		return nil, err
	}
	var f pushFields
	_ = parsePush(string(eventXML), &f) // best effort: openid and ToUserName

	var q strings.Builder
	q.WriteString("signature=")
	q.WriteString(wxcrypto.Signature(cfg.Token, ts, nonce))
	q.WriteString("&timestamp=")
	q.WriteString(ts)
	q.WriteString("&nonce=")
	q.WriteString(queryEscape(nonce))
	if f.FromUserName != "" {
		q.WriteString("&openid=")
		q.WriteString(queryEscape(f.FromUserName))
	}
	body := eventXML
	if cfg.EncodingAESKey != "" {
		c, err := newEventCipher("PushConfig.EncodingAESKey", cfg.EncodingAESKey, cfg.AppID)
		if err != nil {
			return nil, err
		}
		enc, err := c.Encrypt(eventXML)
		if err != nil {
			return nil, err
		}
		if cfg.Compat {
			end := bytes.LastIndex(eventXML, []byte("</xml>"))
			if end < 0 {
				return nil, errors.New("wxinvoice: compatible-mode push needs an <xml> document")
			}
			var b bytes.Buffer
			b.Grow(len(eventXML) + len(enc) + 40)
			b.Write(eventXML[:end])
			b.WriteString("<Encrypt><![CDATA[")
			b.WriteString(enc)
			b.WriteString("]]></Encrypt>\n")
			b.Write(eventXML[end:])
			body = b.Bytes()
		} else {
			var b bytes.Buffer
			b.WriteString("<xml>\n    <ToUserName>")
			writeCDATA(&b, f.ToUserName)
			b.WriteString("</ToUserName>\n    <Encrypt>")
			writeCDATA(&b, enc)
			b.WriteString("</Encrypt>\n</xml>")
			body = b.Bytes()
		}
		q.WriteString("&encrypt_type=aes&msg_signature=")
		q.WriteString(wxcrypto.Signature(cfg.Token, ts, nonce, enc))
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+sep+q.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	return req, nil
}

// NewVerifyRequest returns the GET WeChat sends to verify a server URL
// (验证服务器地址): signed with cfg.Token, cfg.Timestamp and cfg.Nonce, carrying
// echostr. The handler must answer echostr verbatim.
func NewVerifyRequest(ctx context.Context, url string, cfg PushConfig, echostr string) (*http.Request, error) {
	if cfg.Token == "" {
		return nil, &ValidationError{Field: "PushConfig.Token", Reason: "required"}
	}
	ts, nonce, err := pushStamp(cfg)
	if err != nil {
		return nil, err
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	u := url + sep + "signature=" + wxcrypto.Signature(cfg.Token, ts, nonce) + "&echostr=" + queryEscape(echostr) +
		"&timestamp=" + ts + "&nonce=" + queryEscape(nonce)
	return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
}

// pushStamp returns the timestamp and nonce of a push.
func pushStamp(cfg PushConfig) (ts, nonce string, err error) {
	t := cfg.Timestamp
	if t.IsZero() {
		t = time.Now()
	}
	nonce = cfg.Nonce
	if nonce == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", err
		}
		nonce = strconv.FormatUint(1_000_000_000+binary.BigEndian.Uint64(b[:])%9_000_000_000, 10)
	}
	return strconv.FormatInt(t.Unix(), 10), nonce, nil
}

func queryEscape(s string) string { return url.QueryEscape(s) }

// writeCDATA writes s as a CDATA section, splitting any "]]>" in s.
func writeCDATA(b *bytes.Buffer, s string) {
	b.WriteString("<![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]>")
}

// eventXML writes a push in the layout of the official samples: one element
// per line, strings in CDATA, CreateTime as Unix seconds (a zero CreateTime
// is written as the current time).
type eventXML struct{ b bytes.Buffer }

func newEventXML(to, from string, created time.Time, event string) *eventXML {
	x := &eventXML{}
	x.b.WriteString("<xml>")
	x.str("ToUserName", to)
	x.str("FromUserName", from)
	if created.IsZero() {
		created = time.Now()
	}
	x.b.WriteString("\n    <CreateTime>")
	x.b.WriteString(strconv.FormatInt(created.Unix(), 10))
	x.b.WriteString("</CreateTime>")
	x.str("MsgType", "event")
	x.str("Event", event)
	return x
}

func (x *eventXML) str(name, value string) {
	x.b.WriteString("\n    <")
	x.b.WriteString(name)
	x.b.WriteString(">")
	writeCDATA(&x.b, value)
	x.b.WriteString("</")
	x.b.WriteString(name)
	x.b.WriteString(">")
}

func (x *eventXML) bytes() []byte {
	x.b.WriteString("\n</xml>")
	return x.b.Bytes()
}

// InvoiceStatusEventXML returns the update_invoice_status push WeChat sends
// for ev, in the layout of the official sample. A zero CreateTime is written
// as the current time.
func InvoiceStatusEventXML(ev *InvoiceStatusEvent) []byte {
	x := newEventXML(ev.ToUserName, ev.FromUserName, ev.CreateTime, EventUpdateInvoiceStatus)
	x.str("Status", string(ev.Status))
	x.str("CardId", ev.CardID)
	x.str("Code", ev.Code)
	return x.bytes()
}

// UserAuthorizeInvoiceEventXML returns the user_authorize_invoice push WeChat
// sends for ev (with the AppId spelling). A zero CreateTime is written as the
// current time.
func UserAuthorizeInvoiceEventXML(ev *UserAuthorizeInvoiceEvent) []byte {
	x := newEventXML(ev.ToUserName, ev.FromUserName, ev.CreateTime, EventUserAuthorizeInvoice)
	x.str("SuccOrderId", ev.SuccOrderID)
	x.str("FailOrderId", ev.FailOrderID)
	x.str("AppId", ev.AppID)
	x.str("Source", ev.Source)
	return x.bytes()
}

// SubmitInvoiceTitleEventXML returns the submit_invoice_title push WeChat
// sends for ev. A zero CreateTime is written as the current time.
func SubmitInvoiceTitleEventXML(ev *SubmitInvoiceTitleEvent) []byte {
	x := newEventXML(ev.ToUserName, ev.FromUserName, ev.CreateTime, EventSubmitInvoiceTitle)
	x.str("title", ev.Title)
	x.str("tax_no", ev.TaxNo)
	x.str("addr", ev.Addr)
	x.str("phone", ev.Phone)
	x.str("bank_type", ev.BankType)
	x.str("bank_no", ev.BankNo)
	x.str("attach", ev.Attach)
	x.str("title_type", ev.TitleType)
	return x.bytes()
}

// CloudInvoiceResultEventXML returns the cloud_invoice_invoiceresult_event
// push WeChat sends for ev (status as a bare number when it is one, as in
// the official sample). A zero CreateTime is written as the current time.
func CloudInvoiceResultEventXML(ev *CloudInvoiceResultEvent) []byte {
	x := newEventXML(ev.ToUserName, ev.FromUserName, ev.CreateTime, EventCloudInvoiceResult)
	x.str("fpqqlsh", ev.Fpqqlsh)
	if _, err := strconv.ParseUint(ev.Status, 10, 64); err == nil {
		x.b.WriteString("\n    <status>" + ev.Status + "</status>")
	} else {
		x.str("status", ev.Status)
	}
	x.str("nsrsbh", ev.Nsrsbh)
	return x.bytes()
}
