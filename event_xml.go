package wxinvoice

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the push parser: a small, strict reader for the flat XML
// documents WeChat pushes (<xml><Name>value</Name>...</xml>). It replaces
// encoding/xml on the hot path, reading every document in one pass without
// per-element allocations: field values are substrings of the document unless
// they contain entities or several CDATA sections. It refuses everything a
// push never contains: DTDs and other <!...> directives, text or CDATA directly
// under the root, a root other than <xml>, control characters, invalid UTF-8,
// unknown entities, unbalanced tags, duplicate known fields and anything
// after the root. FuzzEventHandler checks it against encoding/xml.

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
	seen uint32 // bit per field, to refuse duplicates

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

// set stores a top-level field; unknown names are ignored.
func (f *pushFields) set(name, value string) error {
	var dst *string
	var bit uint32
	switch name {
	case "ToUserName":
		dst, bit = &f.ToUserName, 1<<0
	case "FromUserName":
		dst, bit = &f.FromUserName, 1<<1
	case "CreateTime":
		dst, bit = &f.CreateTime, 1<<2
	case "MsgType":
		dst, bit = &f.MsgType, 1<<3
	case "Event":
		dst, bit = &f.Event, 1<<4
	case "MsgId":
		dst, bit = &f.MsgID, 1<<5
	case "EventKey":
		dst, bit = &f.EventKey, 1<<6
	case "Encrypt":
		dst, bit = &f.Encrypt, 1<<7
	case "Status":
		dst, bit = &f.Status, 1<<8
	case "CardId":
		dst, bit = &f.CardID, 1<<9
	case "Code":
		dst, bit = &f.Code, 1<<10
	case "SuccOrderId":
		dst, bit = &f.SuccOrderID, 1<<11
	case "FailOrderId":
		dst, bit = &f.FailOrderID, 1<<12
	case "AppId":
		dst, bit = &f.AppID, 1<<13
	case "AuthorizeAppId":
		dst, bit = &f.AuthorizeAppID, 1<<14
	case "Source":
		dst, bit = &f.Source, 1<<15
	case "title":
		dst, bit = &f.Title, 1<<16
	case "phone":
		dst, bit = &f.Phone, 1<<17
	case "tax_no":
		dst, bit = &f.TaxNo, 1<<18
	case "addr":
		dst, bit = &f.Addr, 1<<19
	case "bank_type":
		dst, bit = &f.BankType, 1<<20
	case "bank_no":
		dst, bit = &f.BankNo, 1<<21
	case "attach":
		dst, bit = &f.Attach, 1<<22
	case "title_type":
		dst, bit = &f.TitleType, 1<<23
	case "fpqqlsh":
		dst, bit = &f.Fpqqlsh, 1<<24
	case "status":
		dst, bit = &f.LowerStatus, 1<<25
	case "nsrsbh":
		dst, bit = &f.Nsrsbh, 1<<26
	case "UserCardCode":
		dst, bit = &f.UserCardCode, 1<<27
	default:
		return nil
	}
	if f.seen&bit != 0 {
		return errXMLDuplicate
	}
	f.seen |= bit
	*dst = value
	return nil
}

// parsePush reads doc, a complete push document, into f.
func parsePush(doc string, f *pushFields) error { return parseFields(doc, f.set) }

// parseFields reads doc, a complete push document, calling set for each
// top-level field (the component handler reads its own fields with it).
func parseFields(doc string, set func(name, value string) error) error {
	if err := checkXMLChars(doc); err != nil {
		return err
	}
	s := strings.TrimPrefix(doc, "\ufeff")
	i, err := skipMisc(s, 0, true)
	if err != nil {
		return err
	}
	// The root element: <xml>, no attributes.
	if !strings.HasPrefix(s[i:], "<xml") {
		return errXMLMalformed
	}
	i = skipSpace(s, i+len("<xml"))
	switch {
	case strings.HasPrefix(s[i:], "/>"):
		i += 2
	case strings.HasPrefix(s[i:], ">"):
		i++
		for {
			// Whitespace, comments and processing instructions may separate
			// the fields; anything else is a field or the end of the root.
			if i, err = skipMisc(s, i, false); err != nil {
				return err
			}
			if strings.HasPrefix(s[i:], "</") {
				if i, err = endTag(s, i+2, "xml"); err != nil {
					return err
				}
				break
			}
			if i >= len(s) || s[i] != '<' {
				return errXMLMalformed // text directly under the root, or EOF
			}
			if i+1 < len(s) && s[i+1] == '!' {
				if strings.HasPrefix(s[i:], "<![CDATA[") {
					return errXMLMalformed
				}
				return errXMLDirective
			}
			var name, value string
			if name, value, i, err = element(s, i+1); err != nil {
				return err
			}
			if err = set(name, value); err != nil {
				return err
			}
		}
	default:
		return errXMLMalformed
	}
	// Only whitespace, comments and processing instructions may follow.
	if i, err = skipMisc(s, i, false); err != nil {
		return err
	}
	if i != len(s) {
		return errXMLMalformed
	}
	return nil
}

// checkXMLChars refuses invalid UTF-8 and the C0 control characters XML 1.0
// forbids (everything below 0x20 except tab, LF and CR). U+FFFE and U+FFFF
// are refused too, like encoding/xml does.
func checkXMLChars(s string) error {
	if !utf8.ValidString(s) {
		return errXMLMalformed
	}
	// Eight bytes at a time: a word has a byte below 0x20 iff
	// (x - 0x20…20) & ^x & 0x80…80 is non-zero.
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (x-lo)&^x&hi != 0 && hasControl(s[i:i+8]) {
			return errXMLMalformed
		}
	}
	if hasControl(s[i:]) {
		return errXMLMalformed
	}
	// U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
	if strings.IndexByte(s, 0xEF) >= 0 && (strings.Contains(s, "\uFFFE") || strings.Contains(s, "\uFFFF")) {
		return errXMLMalformed
	}
	return nil
}

// hasControl reports whether s has a control character XML forbids.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// skipMisc skips whitespace, comments and processing instructions. Before the
// root (prolog), the XML declaration is checked for a UTF-8 encoding.
func skipMisc(s string, i int, prolog bool) (int, error) {
	for {
		i = skipSpace(s, i)
		switch {
		case strings.HasPrefix(s[i:], "<!--"):
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				return i, errXMLMalformed
			}
			i += 4 + end + 3
		case strings.HasPrefix(s[i:], "<?"):
			end := strings.Index(s[i+2:], "?>")
			if end < 0 {
				return i, errXMLMalformed
			}
			if err := procInst(s[i+2:i+2+end], prolog); err != nil {
				return i, err
			}
			i += 2 + end + 2
		default:
			return i, nil
		}
	}
}

// procInst checks a processing instruction's body (between <? and ?>). The
// XML declaration is accepted only in the prolog and only for UTF-8, as
// encoding/xml does without a CharsetReader.
func procInst(body string, prolog bool) error {
	target, rest := body, ""
	if i := strings.IndexAny(body, " \t\r\n"); i >= 0 {
		target, rest = body[:i], body[i:]
	}
	if target == "" || !isName(target) {
		return errXMLMalformed
	}
	if !strings.EqualFold(target, "xml") {
		return nil
	}
	if target != "xml" || !prolog {
		return errXMLMalformed
	}
	if v, ok := pseudoAttr(rest, "version"); ok && v != "1.0" {
		return errXMLMalformed
	}
	if v, ok := pseudoAttr(rest, "encoding"); ok && !strings.EqualFold(v, "utf-8") {
		return errXMLMalformed
	}
	return nil
}

// pseudoAttr finds name="value" or name='value' in an XML declaration.
func pseudoAttr(s, name string) (string, bool) {
	i := strings.Index(s, name)
	if i < 0 {
		return "", false
	}
	s = strings.TrimLeft(s[i+len(name):], " \t\r\n")
	if !strings.HasPrefix(s, "=") {
		return "", false
	}
	s = strings.TrimLeft(s[1:], " \t\r\n")
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return "", false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", false
	}
	return s[1 : 1+end], true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c >= 0x80
}

// isName reports whether s is a plausible XML name: name bytes only, not
// starting with a digit, '-' or '.'. Colons (namespace prefixes) are refused:
// pushes never use namespaces, and encoding/xml would match "x:Encrypt" as
// "Encrypt".
func isName(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c >= '0' && c <= '9' || c == '-' || c == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// readName reads a name starting at s[i].
func readName(s string, i int) (string, int, error) {
	j := i
	for j < len(s) && isNameByte(s[j]) {
		j++
	}
	if !isName(s[i:j]) {
		return "", i, errXMLMalformed
	}
	return s[i:j], j, nil
}

// startTag reads the rest of a start tag after '<': the name, attributes
// (checked for syntax, then ignored) and '>' or "/>".
func startTag(s string, i int) (name string, j int, empty bool, err error) {
	if name, i, err = readName(s, i); err != nil {
		return "", i, false, err
	}
	for {
		sp := skipSpace(s, i)
		if sp >= len(s) {
			return "", sp, false, errXMLMalformed
		}
		switch s[sp] {
		case '>':
			return name, sp + 1, false, nil
		case '/':
			if sp+1 < len(s) && s[sp+1] == '>' {
				return name, sp + 2, true, nil
			}
			return "", sp, false, errXMLMalformed
		}
		if sp == i {
			return "", sp, false, errXMLMalformed // attribute not preceded by space
		}
		// attribute: name = "value" | 'value'
		if _, i, err = readName(s, sp); err != nil {
			return "", i, false, err
		}
		i = skipSpace(s, i)
		if i >= len(s) || s[i] != '=' {
			return "", i, false, errXMLMalformed
		}
		i = skipSpace(s, i+1)
		if i >= len(s) || (s[i] != '"' && s[i] != '\'') {
			return "", i, false, errXMLMalformed
		}
		end := strings.IndexByte(s[i+1:], s[i])
		if end < 0 {
			return "", i, false, errXMLMalformed
		}
		v := s[i+1 : i+1+end]
		if strings.IndexByte(v, '<') >= 0 || strings.Contains(v, "]]>") {
			return "", i, false, errXMLMalformed
		}
		if strings.IndexByte(v, '&') >= 0 {
			if _, err := unescape(v); err != nil {
				return "", i, false, err
			}
		}
		i += 1 + end + 1
	}
}

// endTag reads the rest of an end tag after "</" and checks its name.
func endTag(s string, i int, want string) (int, error) {
	name, i, err := readName(s, i)
	if err != nil {
		return i, err
	}
	if name != want {
		return i, errXMLMalformed
	}
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != '>' {
		return i, errXMLMalformed
	}
	return i + 1, nil
}

// element reads a top-level field from its name (s[i], after '<') through its
// end tag, and returns its character data. Whitespace outside CDATA sections
// at both ends of the value is dropped, so "<A> <![CDATA[x]]> </A>" is "x"
// and "<A> 12 </A>" is "12", while "<A><![CDATA[ x ]]></A>" keeps " x ". Text
// inside nested elements is ignored (encoding/xml does the same for a string
// field).
func element(s string, i int) (name, value string, j int, err error) {
	name, i, empty, err := startTag(s, i)
	if err != nil || empty {
		return name, "", i, err
	}
	var v valueBuilder
	var stack [maxXMLDepth]string
	depth := 0
	for {
		if i >= len(s) {
			return "", "", i, errXMLMalformed
		}
		if s[i] != '<' {
			// Text up to the next markup.
			end := strings.IndexByte(s[i:], '<')
			if end < 0 {
				return "", "", i, errXMLMalformed
			}
			text := s[i : i+end]
			i += end
			if strings.Contains(text, "]]>") {
				return "", "", i, errXMLMalformed // only allowed as the end of CDATA
			}
			if depth > 0 {
				if strings.IndexByte(text, '&') >= 0 {
					if _, err := unescape(text); err != nil {
						return "", "", i, err
					}
				}
				continue
			}
			if strings.IndexByte(text, '\r') >= 0 {
				text = normalizeNewlines(text)
			}
			if strings.IndexByte(text, '&') >= 0 {
				if text, err = unescape(text); err != nil {
					return "", "", i, err
				}
			}
			v.text(text)
			continue
		}
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest[9:], "]]>")
			if end < 0 {
				return "", "", i, errXMLMalformed
			}
			if depth == 0 {
				c := rest[9 : 9+end]
				if strings.IndexByte(c, '\r') >= 0 {
					c = normalizeNewlines(c)
				}
				v.cdata(c)
			}
			i += 9 + end + 3
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return "", "", i, errXMLMalformed
			}
			i += 4 + end + 3
		case strings.HasPrefix(rest, "<!"):
			return "", "", i, errXMLDirective
		case strings.HasPrefix(rest, "<?"):
			end := strings.Index(rest[2:], "?>")
			if end < 0 {
				return "", "", i, errXMLMalformed
			}
			if err := procInst(rest[2:2+end], false); err != nil {
				return "", "", i, err
			}
			i += 2 + end + 2
		case strings.HasPrefix(rest, "</"):
			want := name
			if depth > 0 {
				want = stack[depth-1]
			}
			if i, err = endTag(s, i+2, want); err != nil {
				return "", "", i, err
			}
			if depth == 0 {
				return name, v.String(), i, nil
			}
			depth--
		default:
			child, k, empty, err := startTag(s, i+1)
			if err != nil {
				return "", "", k, err
			}
			i = k
			if !empty {
				if depth == len(stack) {
					return "", "", i, errXMLTooDeep
				}
				stack[depth] = child
				depth++
			}
		}
	}
}

// valueBuilder assembles a field value from text and CDATA segments without
// copying in the common case of a single segment.
type valueBuilder struct {
	val     string // the value so far, while it is a single substring
	buf     []byte // the value so far, once it has several segments
	multi   bool
	started bool // a CDATA section or non-space text was appended
	// Whitespace-only text after the start, kept until more content follows:
	// a substring while there is one segment, then a buffer, so that many
	// segments (separated by comments) stay linear.
	pending      string
	pendingMulti []byte
	protect      int // length the final trim must not cut below (end of the last CDATA)
}

func (v *valueBuilder) text(t string) {
	if !v.started {
		t = strings.TrimLeft(t, " \t\r\n")
		if t == "" {
			return
		}
		v.started = true
		v.add(t)
		return
	}
	if strings.TrimLeft(t, " \t\r\n") == "" {
		switch {
		case v.pendingMulti != nil:
			v.pendingMulti = append(v.pendingMulti, t...)
		case v.pending == "":
			v.pending = t
		default:
			v.pendingMulti = append(append(make([]byte, 0, 2*(len(v.pending)+len(t))), v.pending...), t...)
			v.pending = ""
		}
		return
	}
	v.add(t)
}

func (v *valueBuilder) cdata(c string) {
	v.started = true
	v.add(c)
	v.protect = v.len()
}

func (v *valueBuilder) add(x string) {
	if v.pendingMulti != nil {
		p := string(v.pendingMulti)
		v.pendingMulti = nil
		v.add(p)
	} else if v.pending != "" {
		p := v.pending
		v.pending = ""
		v.add(p)
	}
	if x == "" {
		return
	}
	switch {
	case v.multi:
		v.buf = append(v.buf, x...)
	case v.val == "":
		v.val = x
	default:
		v.buf = make([]byte, 0, len(v.val)+len(x)+16)
		v.buf = append(append(v.buf, v.val...), x...)
		v.multi = true
	}
}

func (v *valueBuilder) len() int {
	if v.multi {
		return len(v.buf)
	}
	return len(v.val)
}

// String returns the value with trailing whitespace outside CDATA removed.
func (v *valueBuilder) String() string {
	var s string
	if v.multi {
		s = string(v.buf)
	} else {
		s = v.val
	}
	end := len(s)
	for end > v.protect && isSpace(s[end-1]) {
		end--
	}
	return s[:end]
}

// normalizeNewlines turns "\r\n" and lone "\r" into "\n", as XML requires
// of parsers (and encoding/xml does).
func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// unescape decodes the five predefined entities and character references;
// anything else is malformed (pushes never use other entities, and a DTD
// that could declare them is refused).
func unescape(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for {
		amp := strings.IndexByte(s, '&')
		if amp < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:amp])
		s = s[amp+1:]
		semi := strings.IndexByte(s, ';')
		if semi < 1 {
			return "", errXMLMalformed
		}
		ent := s[:semi]
		s = s[semi+1:]
		switch ent {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			if ent[0] != '#' || len(ent) < 2 {
				return "", errXMLMalformed
			}
			var n uint64
			var err error
			if ent[1] == 'x' {
				if len(ent) < 3 {
					return "", errXMLMalformed
				}
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			if err != nil || n > utf8.MaxRune || !isXMLChar(rune(n)) {
				return "", errXMLMalformed
			}
			b.WriteRune(rune(n))
		}
	}
}

// isXMLChar reports whether r is allowed in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// hasDirective reports whether b contains "<!DOCTYPE" or "<!ENTITY" in any
// letter case. The parser refuses every directive anyway; this check is the
// explicit, documented guard against entity tricks.
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
