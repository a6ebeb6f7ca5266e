package wxinvoice

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// This file reads the flat XML documents WeChat pushes
// (<xml><Name>value</Name>...</xml>) with encoding/xml's tokenizer in strict
// mode, which checks well-formedness, UTF-8, the characters XML allows and
// entity references (only the predefined ones and character references; no
// CharsetReader, so only UTF-8 documents). On top of it, decodeFields refuses
// what a push never contains: DTDs and other <!...> directives, namespaces,
// text or CDATA directly under the root, a root other than a bare <xml>, an
// XML declaration anywhere but the prolog, duplicate known fields and deep
// nesting.

var (
	errXMLMalformed = errors.New("malformed XML")
	errXMLDirective = errors.New("XML directive (DTD or entity declaration)")
	errXMLDuplicate = errors.New("duplicate XML element")
	errXMLTooDeep   = errors.New("XML nested too deeply")
)

// maxXMLDepth bounds nesting below a top-level field (generic pushes such as
// scancode or location events nest two or three levels).
const maxXMLDepth = 32

// pushFields holds the top-level fields of a push that the handler uses: the
// union of the envelope, the common header and the four invoice events, so
// that one pass decodes any of them.
type pushFields struct {
	ToUserName, FromUserName, CreateTime, MsgType, Event, MsgID, EventKey string
	Encrypt                                                               string
	// UserCardCode identifies a card in the card events (user_get_card…);
	// with CardID it tells apart a user's card events of one second.
	UserCardCode string

	// update_invoice_status
	Status, CardID, Code string
	// user_authorize_invoice
	SuccOrderID, FailOrderID, AppID, AuthorizeAppID, Source string
	// submit_invoice_title
	Title, Phone, TaxNo, Addr, BankType, BankNo, Attach, TitleType string
	// cloud_invoice_invoiceresult_event
	Fpqqlsh, LowerStatus, Nsrsbh string
}

// elements maps each element name to the field it fills.
func (f *pushFields) elements() map[string]*string {
	return map[string]*string{
		"ToUserName": &f.ToUserName, "FromUserName": &f.FromUserName, "CreateTime": &f.CreateTime,
		"MsgType": &f.MsgType, "Event": &f.Event, "MsgId": &f.MsgID, "EventKey": &f.EventKey,
		"Encrypt": &f.Encrypt, "UserCardCode": &f.UserCardCode,
		"Status": &f.Status, "CardId": &f.CardID, "Code": &f.Code,
		"SuccOrderId": &f.SuccOrderID, "FailOrderId": &f.FailOrderID, "AppId": &f.AppID,
		"AuthorizeAppId": &f.AuthorizeAppID, "Source": &f.Source,
		"title": &f.Title, "phone": &f.Phone, "tax_no": &f.TaxNo, "addr": &f.Addr,
		"bank_type": &f.BankType, "bank_no": &f.BankNo, "attach": &f.Attach, "title_type": &f.TitleType,
		"fpqqlsh": &f.Fpqqlsh, "status": &f.LowerStatus, "nsrsbh": &f.Nsrsbh,
	}
}

// parsePush reads doc, a complete push document, into f.
func parsePush(doc string, f *pushFields) error { return decodeFields(doc, f.elements()) }

// decodeFields reads doc, a complete push document, and stores the value of
// each top-level element named in fields into the string it maps to; other
// elements are skipped. A known element may appear once. A value is the
// element's own character data (text and CDATA, not that of nested
// elements), with the whitespace outside CDATA sections at both of its ends
// removed: "<A> <![CDATA[ x ]]> </A>" is " x ", "<A> 12 </A>" is "12".
func decodeFields(doc string, fields map[string]*string) error {
	doc = strings.TrimPrefix(doc, "\ufeff")
	d := xml.NewDecoder(strings.NewReader(doc)) // Strict, no entities beyond XML's five
	var (
		depth   int     // open elements: 1 inside <xml>, 2 inside a field
		root    bool    // <xml> was opened
		dst     *string // the known field being read
		val     []byte
		started bool // val has a CDATA section or non-space text
		keep    int  // the end of the last CDATA section in val
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			if !root {
				return errXMLMalformed
			}
			return nil // the decoder reports unclosed elements itself
		}
		if err != nil {
			return errXMLMalformed
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != "" {
				return errXMLMalformed // pushes never use namespaces
			}
			switch {
			case depth == 0:
				if root || t.Name.Local != "xml" || len(t.Attr) != 0 {
					return errXMLMalformed
				}
				root = true
			case depth == 1:
				p, known := fields[t.Name.Local]
				if known && p == nil {
					return errXMLDuplicate
				}
				if known {
					fields[t.Name.Local] = nil // seen
				}
				dst, val, started, keep = p, val[:0], false, 0
			case depth >= 2+maxXMLDepth:
				return errXMLTooDeep
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 1 && dst != nil {
				end := len(val)
				for end > keep && isXMLSpace(val[end-1]) {
					end--
				}
				*dst = string(val[:end])
			}
		case xml.CharData:
			cdata := strings.HasPrefix(doc[off:], "<![CDATA[")
			switch {
			case depth < 2:
				if cdata || len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return errXMLMalformed // text outside the fields
				}
			case depth == 2:
				if !started && !cdata {
					if t = bytes.TrimLeft(t, " \t\r\n"); len(t) == 0 {
						continue
					}
				}
				started = true
				val = append(val, t...)
				if cdata {
					keep = len(val)
				}
			}
		case xml.ProcInst:
			// The XML declaration (version 1.0, UTF-8: the decoder checks
			// both) only in the prolog.
			if strings.EqualFold(t.Target, "xml") && (t.Target != "xml" || root) {
				return errXMLMalformed
			}
		case xml.Directive:
			return errXMLDirective
		}
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// hasDirective reports whether b contains "<!DOCTYPE" or "<!ENTITY" in any
// letter case, CDATA sections included. The parser refuses every directive
// anyway; this check is the explicit, documented guard against entity tricks.
func hasDirective(b []byte) bool {
	for {
		i := bytes.Index(b, markupDecl)
		if i < 0 {
			return false
		}
		b = b[i+2:]
		if len(b) == 0 {
			return false
		}
		switch b[0] | 0x20 { // ASCII lower case
		case 'd':
			if len(b) >= 7 && bytes.EqualFold(b[:7], doctype) {
				return true
			}
		case 'e':
			if len(b) >= 6 && bytes.EqualFold(b[:6], entity) {
				return true
			}
		}
	}
}

var (
	markupDecl = []byte("<!")
	doctype    = []byte("DOCTYPE")
	entity     = []byte("ENTITY")
)
