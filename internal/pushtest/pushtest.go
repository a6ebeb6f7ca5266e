// Package pushtest builds the HTTP requests WeChat sends to a server URL:
// signed (and optionally AES-encrypted) event pushes and the GET that
// verifies the URL. It is the one implementation behind the push builders of
// package wxinvoicetest, the fake server's pushes, and the root package's
// tests.
package pushtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// Config describes how a push is signed and encrypted, as WeChat does for a
// server URL configured with the same Token, EncodingAESKey and AppID.
type Config struct {
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
	// Envelope names the element written beside Encrypt in safe mode, with
	// the value of the same element in the push: "ToUserName" (the default,
	// Official Account pushes) or "AppId" (third-party platform pushes).
	Envelope string
}

// NewRequest returns the POST WeChat would send to u for eventXML (a
// complete <xml>...</xml> push).
//
// The query carries signature, timestamp, nonce and, when eventXML has a
// FromUserName, openid; with an EncodingAESKey also encrypt_type=aes and
// msg_signature, in WeChat's order. The body is eventXML in plaintext mode;
// <xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml> in safe mode; and
// eventXML with an Encrypt element appended in compatible mode. eventXML is
// sent as given even if it is not well-formed, so that tests can push
// malformed documents.
func NewRequest(ctx context.Context, u string, cfg Config, eventXML []byte) (*http.Request, error) {
	if cfg.Token == "" {
		return nil, errors.New("push config: Token is required")
	}
	ts, nonce, err := stamp(cfg)
	if err != nil {
		return nil, err
	}
	envelope := cfg.Envelope
	if envelope == "" {
		envelope = "ToUserName"
	}
	fields := topLevel(eventXML, "FromUserName", envelope)

	var q strings.Builder
	q.WriteString("signature=" + wxcrypto.Signature(cfg.Token, ts, nonce))
	q.WriteString("&timestamp=" + ts + "&nonce=" + url.QueryEscape(nonce))
	if from := fields["FromUserName"]; from != "" {
		q.WriteString("&openid=" + url.QueryEscape(from))
	}
	body := eventXML
	if cfg.EncodingAESKey != "" {
		c, err := wxcrypto.NewCipher(cfg.EncodingAESKey, cfg.AppID)
		if err != nil {
			return nil, errors.New("push config: EncodingAESKey or AppID: " + err.Error())
		}
		enc, err := c.Encrypt(eventXML)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if cfg.Compat {
			end := bytes.LastIndex(eventXML, []byte("</xml>"))
			if end < 0 {
				return nil, errors.New("push config: a compatible-mode push needs an <xml> document")
			}
			b.Write(eventXML[:end])
			b.WriteString("<Encrypt>")
			WriteCDATA(&b, enc)
			b.WriteString("</Encrypt>\n")
			b.Write(eventXML[end:])
		} else {
			b.WriteString("<xml>\n    <" + envelope + ">")
			WriteCDATA(&b, fields[envelope])
			b.WriteString("</" + envelope + ">\n    <Encrypt>")
			WriteCDATA(&b, enc)
			b.WriteString("</Encrypt>\n</xml>")
		}
		body = b.Bytes()
		q.WriteString("&encrypt_type=aes&msg_signature=" + wxcrypto.Signature(cfg.Token, ts, nonce, enc))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, withQuery(u, q.String()), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	return req, nil
}

// NewVerifyRequest returns the GET WeChat sends to verify a server URL
// (验证服务器地址): signed with cfg.Token, cfg.Timestamp and cfg.Nonce, carrying
// echostr.
func NewVerifyRequest(ctx context.Context, u string, cfg Config, echostr string) (*http.Request, error) {
	if cfg.Token == "" {
		return nil, errors.New("push config: Token is required")
	}
	ts, nonce, err := stamp(cfg)
	if err != nil {
		return nil, err
	}
	q := "signature=" + wxcrypto.Signature(cfg.Token, ts, nonce) + "&echostr=" + url.QueryEscape(echostr) +
		"&timestamp=" + ts + "&nonce=" + url.QueryEscape(nonce)
	return http.NewRequestWithContext(ctx, http.MethodGet, withQuery(u, q), nil)
}

func withQuery(u, q string) string {
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

// stamp returns the timestamp and nonce of a push.
func stamp(cfg Config) (ts, nonce string, err error) {
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

// topLevel returns the text of the named children of the document's root
// element, best effort: a malformed document yields what was read before
// the error.
func topLevel(doc []byte, names ...string) map[string]string {
	out := make(map[string]string, len(names))
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth := 0
	var cur string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return out // io.EOF, or a malformed document
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				cur = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if depth == 2 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 2 {
				for _, n := range names {
					if n == cur {
						if _, seen := out[n]; !seen {
							out[n] = strings.TrimSpace(text.String())
						}
					}
				}
			}
			depth--
		}
	}
}

// WriteCDATA writes s as a CDATA section, splitting any "]]>" in s.
func WriteCDATA(b *bytes.Buffer, s string) {
	b.WriteString("<![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]>")
}

// Doc writes a push in the layout of WeChat's samples: one element per line,
// strings in CDATA, numbers bare.
type Doc struct {
	b    bytes.Buffer
	flat bool
}

// NewDoc starts an empty <xml> document whose elements are indented on their
// own lines, as in the Official Account event samples.
func NewDoc() *Doc {
	d := &Doc{}
	d.b.WriteString("<xml>")
	return d
}

// NewFlatDoc starts an empty <xml> document in the layout of the third-party
// platform's pushes: the first element on the <xml> line, each element
// followed by a newline, no indentation.
func NewFlatDoc() *Doc {
	d := NewDoc()
	d.flat = true
	return d
}

func (d *Doc) open(name string) {
	if !d.flat {
		d.b.WriteString("\n    ")
	}
	d.b.WriteString("<" + name + ">")
}

func (d *Doc) close(name string) {
	d.b.WriteString("</" + name + ">")
	if d.flat {
		d.b.WriteString("\n")
	}
}

// NewEvent starts an Official Account event push: ToUserName, FromUserName,
// CreateTime (a zero created is written as the current time), MsgType event
// and Event.
func NewEvent(to, from string, created time.Time, event string) *Doc {
	d := NewDoc()
	d.Str("ToUserName", to)
	d.Str("FromUserName", from)
	if created.IsZero() {
		created = time.Now()
	}
	d.Num("CreateTime", strconv.FormatInt(created.Unix(), 10))
	d.Str("MsgType", "event")
	d.Str("Event", event)
	return d
}

// Str appends <name> with value as CDATA.
func (d *Doc) Str(name, value string) *Doc {
	d.open(name)
	WriteCDATA(&d.b, value)
	d.close(name)
	return d
}

// Num appends <name> with value as bare text (a number in WeChat's pushes).
func (d *Doc) Num(name, value string) *Doc {
	d.open(name)
	d.b.WriteString(value)
	d.close(name)
	return d
}

// Bytes closes the document and returns it.
func (d *Doc) Bytes() []byte {
	if !d.flat {
		d.b.WriteString("\n")
	}
	d.b.WriteString("</xml>")
	return d.b.Bytes()
}

// InvoiceStatus returns the update_invoice_status push in the layout of the
// official sample.
func InvoiceStatus(to, from string, created time.Time, status, cardID, code string) []byte {
	return NewEvent(to, from, created, "update_invoice_status").
		Str("Status", status).Str("CardId", cardID).Str("Code", code).Bytes()
}

// UserAuthorizeInvoice returns the user_authorize_invoice push (with the
// AppId spelling).
func UserAuthorizeInvoice(to, from string, created time.Time, succ, fail, appID, source string) []byte {
	return NewEvent(to, from, created, "user_authorize_invoice").
		Str("SuccOrderId", succ).Str("FailOrderId", fail).Str("AppId", appID).Str("Source", source).Bytes()
}

// SubmitInvoiceTitle returns the submit_invoice_title push; fields are, in
// order, title, tax_no, addr, phone, bank_type, bank_no, attach, title_type.
func SubmitInvoiceTitle(to, from string, created time.Time, fields [8]string) []byte {
	d := NewEvent(to, from, created, "submit_invoice_title")
	for i, name := range [8]string{"title", "tax_no", "addr", "phone", "bank_type", "bank_no", "attach", "title_type"} {
		d.Str(name, fields[i])
	}
	return d.Bytes()
}

// CloudInvoiceResult returns the cloud_invoice_invoiceresult_event push,
// status as a bare number when it is one (as in the official sample).
func CloudInvoiceResult(to, from string, created time.Time, fpqqlsh, status, nsrsbh string) []byte {
	d := NewEvent(to, from, created, "cloud_invoice_invoiceresult_event").Str("fpqqlsh", fpqqlsh)
	if _, err := strconv.ParseUint(status, 10, 64); err == nil {
		d.Num("status", status)
	} else {
		d.Str("status", status)
	}
	return d.Str("nsrsbh", nsrsbh).Bytes()
}
