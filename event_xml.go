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
// CharsetReader, so only UTF-8 documents). On top of it, decodeFieldsInto
// refuses what a push never contains: DTDs and other <!...> directives,
// namespaces, text or CDATA directly under the root, a root other than a bare
// <xml>, an XML declaration anywhere but the prolog, duplicate known fields
// and deep nesting.

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

// field returns the field the top-level element name fills and its index
// (for the duplicate check), or nil for an element the handler does not read.
func (f *pushFields) field(name string) (*string, uint) {
	switch name {
	case "ToUserName":
		return &f.ToUserName, 0
	case "FromUserName":
		return &f.FromUserName, 1
	case "CreateTime":
		return &f.CreateTime, 2
	case "MsgType":
		return &f.MsgType, 3
	case "Event":
		return &f.Event, 4
	case "MsgId":
		return &f.MsgID, 5
	case "EventKey":
		return &f.EventKey, 6
	case "Encrypt":
		return &f.Encrypt, 7
	case "UserCardCode":
		return &f.UserCardCode, 8
	case "Status":
		return &f.Status, 9
	case "CardId":
		return &f.CardID, 10
	case "Code":
		return &f.Code, 11
	case "SuccOrderId":
		return &f.SuccOrderID, 12
	case "FailOrderId":
		return &f.FailOrderID, 13
	case "AppId":
		return &f.AppID, 14
	case "AuthorizeAppId":
		return &f.AuthorizeAppID, 15
	case "Source":
		return &f.Source, 16
	case "title":
		return &f.Title, 17
	case "phone":
		return &f.Phone, 18
	case "tax_no":
		return &f.TaxNo, 19
	case "addr":
		return &f.Addr, 20
	case "bank_type":
		return &f.BankType, 21
	case "bank_no":
		return &f.BankNo, 22
	case "attach":
		return &f.Attach, 23
	case "title_type":
		return &f.TitleType, 24
	case "fpqqlsh":
		return &f.Fpqqlsh, 25
	case "status":
		return &f.LowerStatus, 26
	case "nsrsbh":
		return &f.Nsrsbh, 27
	}
	return nil, 0
}

// parsePush reads doc, a complete push document, into f.
func parsePush(doc string, f *pushFields) error { return decodeFieldsInto(doc, f, nil) }

// decodeFields reads doc, a complete push document, into the strings fields
// maps element names to, as decodeFieldsInto; it sets the entry of each known
// element it reads to nil, to tell a duplicate.
func decodeFields(doc string, fields map[string]*string) error {
	return decodeFieldsInto(doc, nil, fields)
}

// decodeFieldsInto reads doc, a complete push document, and stores the value
// of each top-level element it knows into its field: the fields of pf
// (pushFields.field) when pf is not nil, the strings of fields otherwise.
// Other elements are skipped; a known element may appear once. A value is the
// element's own character data (text and CDATA, not that of nested
// elements), with the whitespace outside CDATA sections at both of its ends
// removed: "<A> <![CDATA[ x ]]> </A>" is " x ", "<A> 12 </A>" is "12". A
// value that is a piece of doc as written (one CDATA section, or one text
// without entity or carriage return) is a substring of doc, not a copy.
//
// A document without the text "xmlns" declares no namespace, and then Token
// would return the tokens of RawToken unchanged: it is read with RawToken,
// and decodeFieldsInto checks that each end element closes the open element
// of the same name and that no element is open at the end, as Token does.
// Any other document is read with Token.
func decodeFieldsInto(doc string, pf *pushFields, fields map[string]*string) error {
	doc = strings.TrimPrefix(doc, "\ufeff")
	d := xml.NewDecoder(strings.NewReader(doc)) // Strict, no entities beyond XML's five
	raw := !strings.Contains(doc, "xmlns")
	var (
		open    [2 + maxXMLDepth]xml.Name // with raw, the open elements
		depth   int                       // open elements: 1 inside <xml>, 2 inside a field
		root    bool                      // <xml> was opened
		dst     *string                   // the known field being read
		stack   [256]byte
		val     = stack[:0] // the value read so far, unless inDoc
		inDoc   bool        // the value read so far is doc[lo:hi]
		lo, hi  int
		started bool   // the value has a CDATA section or non-space text
		keep    int    // the length of the value up to the end of its last CDATA section
		seen    uint32 // with pf, bit i: the field of index i was read
	)
	for {
		off := int(d.InputOffset())
		var (
			tok xml.Token
			err error
		)
		if raw {
			tok, err = d.RawToken()
		} else {
			tok, err = d.Token()
		}
		if tok == nil && err != nil {
			if err == io.EOF && root && depth == 0 {
				return nil
			}
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
				var p *string
				if pf != nil {
					var i uint
					if p, i = pf.field(t.Name.Local); p != nil {
						if seen&(1<<i) != 0 {
							return errXMLDuplicate
						}
						seen |= 1 << i
					}
				} else {
					var known bool
					if p, known = fields[t.Name.Local]; known {
						if p == nil {
							return errXMLDuplicate
						}
						fields[t.Name.Local] = nil
					}
				}
				dst, val, inDoc, started, keep = p, val[:0], false, false, 0
			case depth >= 2+maxXMLDepth:
				return errXMLTooDeep
			}
			if raw {
				open[depth] = t.Name
			}
			depth++
		case xml.EndElement:
			if raw && (depth == 0 || open[depth-1] != t.Name) {
				return errXMLMalformed
			}
			depth--
			if depth == 1 && dst != nil {
				if inDoc {
					end := hi
					for end > lo+keep && isXMLSpace(doc[end-1]) {
						end--
					}
					*dst = doc[lo:end]
				} else {
					end := len(val)
					for end > keep && isXMLSpace(val[end-1]) {
						end--
					}
					*dst = string(val[:end])
				}
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
				first := !started
				started = true
				if dst == nil {
					continue
				}
				switch {
				case first:
					// doc's own bytes when the decoder returned them
					// unchanged, a copy otherwise.
					start, end := 0, int(d.InputOffset())
					if cdata {
						start, end = off+len("<![CDATA["), end-len("]]>")
					} else {
						start = end - len(t)
					}
					if off <= start && start <= end && end <= len(doc) && string(t) == doc[start:end] {
						inDoc, lo, hi = true, start, end
					} else {
						val = append(val, t...)
					}
				case inDoc:
					val = append(append(val, doc[lo:hi]...), t...)
					inDoc = false
				default:
					val = append(val, t...)
				}
				if cdata {
					keep = len(val)
					if inDoc {
						keep = hi - lo
					}
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
