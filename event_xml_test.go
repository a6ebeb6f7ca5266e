package wxinvoice

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventParsePushValues(t *testing.T) {
	tests := []struct {
		name, doc string
		code      string // want the Code field
	}{
		{"cdata", "<xml><Code><![CDATA[abc]]></Code></xml>", "abc"},
		{"text", "<xml><Code>abc</Code></xml>", "abc"},
		{"space around cdata", "<xml><Code> \n\t<![CDATA[abc]]>\r\n </Code></xml>", "abc"},
		{"space inside cdata kept", "<xml><Code> <![CDATA[ abc ]]> </Code></xml>", " abc "},
		{"space around text trimmed", "<xml><Code>  abc  </Code></xml>", "abc"},
		{"empty cdata", "<xml><Code> <![CDATA[]]> </Code></xml>", ""},
		{"empty element", "<xml><Code></Code></xml>", ""},
		{"self-closing", "<xml><Code/></xml>", ""},
		{"self-closing with space", "<xml><Code /></xml>", ""},
		{"split cdata", "<xml><Code><![CDATA[a]]]]><![CDATA[>b]]></Code></xml>", "a]]>b"},
		{"text and cdata", "<xml><Code>x <![CDATA[y]]> z</Code></xml>", "x y z"},
		{"entities", "<xml><Code>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x4e2d;</Code></xml>", `<>&"'AB中`},
		{"entities not in cdata", "<xml><Code><![CDATA[&amp;]]></Code></xml>", "&amp;"},
		{"comment inside", "<xml><Code>a<!-- c -->b</Code></xml>", "ab"},
		{"nested ignored", "<xml><Code>a<B>ignored<C/></B>b</Code></xml>", "ab"},
		{"attributes ignored", `<xml><Code k="v" j='w&amp;'>abc</Code></xml>`, "abc"},
		{"unicode", "<xml><Code><![CDATA[我是中文]]></Code></xml>", "我是中文"},
		{"prolog and comments", "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<xml><Code>1</Code></xml>\n<!-- bye -->\n", "1"},
		{"root with space", "<xml ><Code>1</Code></xml >", "1"},
		{"unknown fields skipped", "<xml><A>1</A><Code>2</Code><B><C>3</C></B></xml>", "2"},
		{"unknown duplicates allowed", "<xml><A>1</A><A>1</A><Code>2</Code></xml>", "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f pushFields
			require.NoError(t, parsePush(tc.doc, &f))
			require.Equal(t, tc.code, f.Code)
		})
	}
}

func TestEventParsePushRefusals(t *testing.T) {
	for _, doc := range []string{
		"",
		"   ",
		"<xml>",
		"<xml></xml><xml></xml>",
		"<xml></xml>garbage",
		"<doc></doc>",
		"<xmlx></xmlx>",
		"<xml a='b'></xml>",
		"<xml>text</xml>",
		"<xml><![CDATA[x]]></xml>",
		"<xml><Code>1</Code>",
		"<xml><Code>1</Cod></xml>",
		"<xml><Code>1</xml>",
		"<xml><Code><![CDATA[1</Code></xml>",
		"<xml><Code>1<!-- </Code></xml>",
		"<xml><Code>&unknown;</Code></xml>",
		"<xml><Code>&amp</Code></xml>",
		"<xml><Code>&#0;</Code></xml>",
		"<xml><Code>&#x110000;</Code></xml>",
		"<xml><Code>&#;</Code></xml>",
		"<xml><Code>&#x;</Code></xml>",
		"<xml><Code>&;</Code></xml>",
		"<xml><Code>a & b</Code></xml>",
		"<xml><Code>a]]>b</Code></xml>",
		"<xml><Code>1</Code><Code>2</Code></xml>",
		"<xml><Encrypt>1</Encrypt><Encrypt>2</Encrypt></xml>",
		"<xml><Code k=v>1</Code></xml>",
		"<xml><Code k='<'>1</Code></xml>",
		"<xml><Code k='1>1</Code></xml>",
		"<xml><1Code>1</1Code></xml>",
		"<xml><x:Code>1</x:Code></xml>",
		"<xml><Code xmlns='urn:x'>1</Code></xml>",
		"<xml xmlns='urn:x'><Code>1</Code></xml>",
		"<?XML version='1.0'?><xml></xml>",
		"<xml><Code>1</Code></xml><?xml version='1.0'?>",
		"<xml><Code>1</Code></xml><Code>2</Code>",
		"<xml><>1</></xml>",
		"<xml><Code>1</Code ></xml",
		"<!DOCTYPE xml><xml></xml>",
		"<xml><!ENTITY x 'y'></xml>",
		"<xml><Code><!ELEMENT a ANY></Code></xml>",
		"<xml><Code>\x00</Code></xml>",
		"<xml><Code>\x1b</Code></xml>",
		"<xml><Code>\xff</Code></xml>",
		"<xml><Code>\uffff</Code></xml>",
		"<?xml version=\"1.0\" encoding=\"GBK\"?><xml></xml>",
		"<?xml version=\"1.1\"?><xml></xml>",
		"<xml><?xml version=\"1.0\"?></xml>",
		"<xml><Code>1<?pi</Code></xml>",
		"<xml><Code>" + strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1) + "</Code></xml>",
	} {
		var f pushFields
		require.Error(t, parsePush(doc, &f), "%q", doc)
	}
}

func TestEventHasDirective(t *testing.T) {
	for _, s := range []string{"<!DOCTYPE", "x<!doctype", "<!Entity", "<!<!ENTITY"} {
		require.True(t, hasDirective([]byte(s)), s)
	}
	for _, s := range []string{"", "<!", "<!DOCTYP", "<![CDATA[x]]>", "<!-- DOCTYPE -->", "< !DOCTYPE"} {
		require.False(t, hasDirective([]byte(s)), s)
	}
}

func TestEventParsePushLinear(t *testing.T) {
	// Many whitespace segments separated by comments stay linear (and keep
	// the value intact).
	doc := "<xml><Code>a" + strings.Repeat(" <!---->", 5000) + "b</Code></xml>"
	var f pushFields
	require.NoError(t, parsePush(doc, &f))
	require.Equal(t, "a"+strings.Repeat(" ", 5000)+"b", f.Code)

}

// pushDocCases exercise what the reader decides (values, refusals) and what
// Token does beyond RawToken: namespace declarations and end-tag matching.
var pushDocCases = []string{
	"<xml><Code><![CDATA[abc]]></Code></xml>",
	"<xml><Code> \n\t<![CDATA[ a b ]]>\r\n </Code><CardId>x</CardId></xml>",
	"<xml><Code>  abc  </Code></xml>",
	"<xml><Code>a\r\nb\rc</Code><CardId><![CDATA[a\r\nb]]></CardId></xml>",
	"<xml><Code>a&amp;b</Code><CardId>&#x4e2d;</CardId></xml>",
	"<xml><Code>x <![CDATA[y]]> z</Code></xml>",
	"<xml><Code><![CDATA[a]]]]><![CDATA[>b]]></Code></xml>",
	"<xml><Code><![CDATA[ ]]>  </Code><CardId><![CDATA[]]>x </CardId></xml>",
	"<xml><Code>a<!-- c -->b</Code><CardId>a<?pi?>b</CardId></xml>",
	"<xml><Code>a<B>nested</B>b <C/></Code></xml>",
	"<xml><Code/><CardId></CardId><Status> </Status></xml>",
	"<xml><Unknown>1</Unknown><Unknown>2</Unknown><Code>3</Code></xml>",
	"<xml><Code>1</Code><Code>2</Code></xml>",
	"<xml><Code>1</Code></xml></xml>",
	"<xml><Code>1</C></xml>",
	"<xml></Code></xml>",
	"</xml>",
	"<xml><Code><a></b></Code></xml>",
	"<xml><Code><p:a></q:a></Code></xml>",
	"<xml><Code><a></p:a></Code></xml>",
	"<xml><Code/></Code></xml>",
	"<xml><Code>1</Code>",
	"<xml><Code>1",
	"<xml><Code xmlns=\"\">1</Code></xml>",
	"<xml><Code xmlns=\"urn:x\">1</Code></xml>",
	"<xml><Code xmlns=\"urn:x\" xmlns=\"\">1</Code></xml>",
	"<xml><Code xmlns=\"\" xmlns=\"urn:x\">1</Code></xml>",
	"<xml><Code xmlns:p=\"urn:x\">1</Code></xml>",
	"<xml><p:Code xmlns:p=\"\">1</p:Code></xml>",
	"<xml><p:Code xmlns:p=\"\">1</Code></xml>",
	"<xml><A xmlns:p=\"\"><p:Code>1</p:Code></A><Code>2</Code></xml>",
	"<xml><A xmlns:p=\"\"><B xmlns:p=\"urn:x\"><p:C/></B></A></xml>",
	"<xml><Code><B xmlns=\"urn:x\"/>1</Code></xml>",
	"<xml><Code><B xmlns=\"\"><C/></B>1</Code></xml>",
	"<xml><Code>xmlns</Code></xml>",
	"<xml><xmlns:Code>1</xmlns:Code></xml>",
	"<xml><xml:Code>1</xml:Code></xml>",
	"<xml><p:Code>1</p:Code></xml>",
	"<xml><:Code>1</:Code></xml>",
	"<xml><Code:>1</Code:></xml>",
	"<xml><a:b:c>1</a:b:c></xml>",
	"<xml><Code a:b=\"1\" xml:lang=\"zh\">1</Code></xml>",
	"\ufeff<?xml version=\"1.0\"?><xml><Code>1</Code></xml>",
	"<xml><Code>" + strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</a>", maxXMLDepth) + "</Code></xml>",
	"<xml><Code>" + strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1) + "</Code></xml>",
	"<xml><Code>" + strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</b>", maxXMLDepth) + "</Code></xml>",
	"<xml><Code><![CDATA[" + strings.Repeat("x", 300) + "]]></Code><CardId>" + strings.Repeat("y ", 200) + "</CardId></xml>",
}

// requireSameParse checks that parsePush and decodeFields read doc as the
// reference reader does: the same error and the same fields.
func requireSameParse(t testing.TB, doc string) {
	t.Helper()
	var got, want pushFields
	gotErr, wantErr := parsePush(doc, &got), refParsePush(doc, &want)
	if gotErr != wantErr || got != want {
		t.Fatalf("parsePush(%q) = %v, %+v; the reference reads %v, %+v", doc, gotErr, got, wantErr, want)
	}
	var gotC, wantC componentFields
	gotErr, wantErr = decodeFields(doc, gotC.elements()), refDecodeFields(doc, wantC.elements())
	if gotErr != wantErr || gotC != wantC {
		t.Fatalf("decodeFields(%q) = %v, %+v; the reference reads %v, %+v", doc, gotErr, gotC, wantErr, wantC)
	}
}

// pushCorpusBodies returns the bodies of FuzzEventHandler's corpus.
func pushCorpusBodies(t testing.TB) []string {
	names, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzEventHandler", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	var bodies []string
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		last := lines[len(lines)-1]
		lit, ok := strings.CutPrefix(last, "[]byte(")
		require.True(t, ok, "%s: %s", name, last)
		body, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		require.NoError(t, err, name)
		bodies = append(bodies, body)
	}
	return bodies
}

func TestEventParsePushMatchesReference(t *testing.T) {
	docs := append([]string{v3aMsg, v3aOuter, v2Msg2}, pushDocCases...)
	samples, err := filepath.Glob(filepath.Join("testdata", "events", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	for _, name := range samples {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		docs = append(docs, string(b))
	}
	docs = append(docs, pushCorpusBodies(t)...)
	for _, doc := range docs {
		requireSameParse(t, doc)
	}
}

// FuzzEventParsePushReference checks parsePush and decodeFields against the
// reference reader on any document.
func FuzzEventParsePushReference(f *testing.F) {
	for _, doc := range append([]string{v3aMsg, v3aOuter, v2Msg2}, pushDocCases...) {
		f.Add(doc)
	}
	for _, doc := range pushCorpusBodies(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { requireSameParse(t, doc) })
}

// The reference reader below is decodeFieldsInto's specification: the
// straightforward reading of a push with Token, a map of the known fields and
// a copy of every value. decodeFieldsInto must accept and refuse exactly the
// same documents, with the same error, and read the same values
// (TestEventParsePushMatchesReference, FuzzEventParsePushReference).

// refElements maps each element name to the field of f it fills.
func refElements(f *pushFields) map[string]*string {
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

// refParsePush reads doc, a complete push document, into f.
func refParsePush(doc string, f *pushFields) error { return refDecodeFields(doc, refElements(f)) }

// refDecodeFields reads doc, a complete push document, and stores the value of
// each top-level element named in fields into the string it maps to; other
// elements are skipped. A known element may appear once. A value is the
// element's own character data (text and CDATA, not that of nested
// elements), with the whitespace outside CDATA sections at both of its ends
// removed: "<A> <![CDATA[ x ]]> </A>" is " x ", "<A> 12 </A>" is "12".
func refDecodeFields(doc string, fields map[string]*string) error {
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
