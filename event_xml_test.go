package wxinvoice

import (
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
