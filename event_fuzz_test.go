package wxinvoice

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// stdPush is the oracle: the same fields decoded by encoding/xml.
type stdPush struct {
	XMLName        xml.Name `xml:"xml"`
	ToUserName     string   `xml:"ToUserName"`
	FromUserName   string   `xml:"FromUserName"`
	CreateTime     string   `xml:"CreateTime"`
	MsgType        string   `xml:"MsgType"`
	Event          string   `xml:"Event"`
	Status         string   `xml:"Status"`
	CardID         string   `xml:"CardId"`
	Code           string   `xml:"Code"`
	SuccOrderID    string   `xml:"SuccOrderId"`
	FailOrderID    string   `xml:"FailOrderId"`
	AppID          string   `xml:"AppId"`
	AuthorizeAppID string   `xml:"AuthorizeAppId"`
	Source         string   `xml:"Source"`
	Title          string   `xml:"title"`
	Phone          string   `xml:"phone"`
	TaxNo          string   `xml:"tax_no"`
	Addr           string   `xml:"addr"`
	BankType       string   `xml:"bank_type"`
	BankNo         string   `xml:"bank_no"`
	Attach         string   `xml:"attach"`
	TitleType      string   `xml:"title_type"`
	Fpqqlsh        string   `xml:"fpqqlsh"`
	LowerStatus    string   `xml:"status"`
	Nsrsbh         string   `xml:"nsrsbh"`
	UserCardCode   string   `xml:"UserCardCode"`
}

// fuzzModes of FuzzEventHandler: how the fuzzed body is pushed.
const (
	fuzzPlain    = iota // body is a signed plaintext push
	fuzzSafe            // body is the message inside a signed safe-mode envelope
	fuzzEnvelope        // body is the envelope itself; msg_signature signs whatever Encrypt it holds
	fuzzRawQuery        // body and query are sent as they are, unsigned
	fuzzModes
)

func FuzzEventHandler(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "events", "*.xml"))
	for _, name := range samples {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(fuzzPlain), "", b)
		f.Add(uint8(fuzzSafe), "", b)
	}
	f.Add(uint8(fuzzSafe), "", []byte(v3aMsg))
	f.Add(uint8(fuzzSafe), "", []byte(v2Msg2))
	f.Add(uint8(fuzzEnvelope), "", []byte(v3aOuter))
	f.Add(uint8(fuzzEnvelope), "", []byte(strings.Replace(v2OuterFormat, "%s", v2Encrypted, 1)))
	f.Add(uint8(fuzzRawQuery), "timestamp="+v3aTimestamp+"&nonce="+v3aNonce+"&encrypt_type=aes&msg_signature="+v3aMsgSig, []byte(v3aOuter))
	f.Add(uint8(fuzzRawQuery), "signature=%zz&timestamp=1&nonce=2", []byte("<xml/>"))
	f.Add(uint8(fuzzPlain), "", []byte("<xml><ToUserName>a&amp;b</ToUserName><CreateTime> 1 </CreateTime><MsgType>text</MsgType><X><Y/></X></xml>"))
	f.Add(uint8(fuzzPlain), "", []byte("<?xml version='1.0'?><!-- c --><xml><MsgType><![CDATA[a]]]]><![CDATA[>]]></MsgType><CreateTime>1</CreateTime></xml>"))
	f.Add(uint8(fuzzPlain), "", []byte("<!DOCTYPE xml [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml><Code>&e;</Code></xml>"))
	f.Add(uint8(fuzzPlain), "", []byte("<xml><CreateTime>1</CreateTime><MsgType>t</MsgType><Code>a\r\nb\rc</Code></xml>"))

	cipher, err := wxcrypto.NewCipher(vecKey, vecAppID)
	if err != nil {
		f.Fatal(err)
	}
	const ts = "1478068440"
	f.Fuzz(func(t *testing.T, mode uint8, query string, body []byte) {
		mode %= fuzzModes
		aes := mode == fuzzSafe || mode == fuzzEnvelope || (mode == fuzzRawQuery && strings.Contains(query, "aes"))
		c := &calls{}
		cfg := EventConfig{Token: vecToken, Now: fixedClock(sampleTime), MaxBodyBytes: 8 << 10}
		if aes {
			cfg.EncodingAESKey, cfg.AppID = vecKey, vecAppID
		}
		c.install(&cfg)
		h, err := NewEventHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}

		var doc []byte // the push as the handler should decode it
		q := "signature=" + wxcrypto.Signature(vecToken, ts, "42") + "&timestamp=" + ts + "&nonce=42"
		outer := body
		switch mode {
		case fuzzPlain:
			doc = body
		case fuzzSafe:
			doc = body
			enc, err := cipher.EncryptWithRandom([]byte("0123456789abcdef"), body)
			if err != nil {
				t.Fatal(err)
			}
			outer = []byte("<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
			q += "&encrypt_type=aes&msg_signature=" + wxcrypto.Signature(vecToken, ts, "42", enc)
		case fuzzEnvelope:
			var pf pushFields
			_ = parsePush(string(body), &pf)
			q += "&encrypt_type=aes&msg_signature=" + wxcrypto.Signature(vecToken, ts, "42", pf.Encrypt)
			if msg, err := cipher.Decrypt(pf.Encrypt); err == nil {
				doc = msg
			}
		case fuzzRawQuery:
			q = query
		}
		if mode != fuzzRawQuery && query != "" {
			q += "&" + query // extra parameters never override the signed ones
		}
		req := httptest.NewRequest(http.MethodPost, "/wx", strings.NewReader(string(outer)))
		req.URL.RawQuery = q
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		n := c.total()
		switch {
		case rec.Code >= 500:
			t.Fatalf("status %d (%s): a parser panic or bug", rec.Code, rec.Body.String())
		case rec.Code == http.StatusOK:
			if rec.Body.String() != "success" || n != 1 {
				t.Fatalf("200 %q with %d callbacks", rec.Body.String(), n)
			}
		case rec.Code >= 400:
			if n != 0 {
				t.Fatalf("refused with %d but called back %d times", rec.Code, n)
			}
			return
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
		if mode == fuzzRawQuery {
			return
		}
		if mode == fuzzEnvelope && doc == nil {
			t.Fatalf("accepted an envelope whose Encrypt does not decrypt")
		}

		// The push was accepted: encoding/xml must read the same values.
		var std stdPush
		if err := xml.Unmarshal(doc, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/xml refuses: %v", doc, err)
		}
		check := func(field, got, want string) {
			t.Helper()
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Fatalf("%s: got %q, encoding/xml reads %q in %q", field, got, want, doc)
			}
		}
		var to, from string
		var created int64
		switch {
		case len(c.status) == 1:
			ev := c.status[0]
			to, from, created = ev.ToUserName, ev.FromUserName, ev.CreateTime.Unix()
			check("Status", string(ev.Status), std.Status)
			check("CardId", ev.CardID, std.CardID)
			check("Code", ev.Code, std.Code)
		case len(c.authorize) == 1:
			ev := c.authorize[0]
			to, from, created = ev.ToUserName, ev.FromUserName, ev.CreateTime.Unix()
			check("SuccOrderId", ev.SuccOrderID, std.SuccOrderID)
			check("FailOrderId", ev.FailOrderID, std.FailOrderID)
			check("Source", ev.Source, std.Source)
			got, want := strings.TrimSpace(ev.AppID), strings.TrimSpace(std.AppID)
			if got != want && (want != "" || got != strings.TrimSpace(std.AuthorizeAppID)) {
				t.Fatalf("AppID: got %q, encoding/xml reads AppId %q, AuthorizeAppId %q", ev.AppID, std.AppID, std.AuthorizeAppID)
			}
		case len(c.title) == 1:
			ev := c.title[0]
			to, from, created = ev.ToUserName, ev.FromUserName, ev.CreateTime.Unix()
			check("title", ev.Title, std.Title)
			check("phone", ev.Phone, std.Phone)
			check("tax_no", ev.TaxNo, std.TaxNo)
			check("addr", ev.Addr, std.Addr)
			check("bank_type", ev.BankType, std.BankType)
			check("bank_no", ev.BankNo, std.BankNo)
			check("attach", ev.Attach, std.Attach)
			check("title_type", ev.TitleType, std.TitleType)
		case len(c.cloud) == 1:
			ev := c.cloud[0]
			to, from, created = ev.ToUserName, ev.FromUserName, ev.CreateTime.Unix()
			check("fpqqlsh", ev.Fpqqlsh, std.Fpqqlsh)
			check("nsrsbh", ev.Nsrsbh, std.Nsrsbh)
			if strings.TrimSpace(std.LowerStatus) != "" {
				check("status", ev.Status, std.LowerStatus)
			} else {
				check("status", ev.Status, std.Status)
			}
		case len(c.generic) == 1:
			ev := c.generic[0]
			to, from, created = ev.ToUserName, ev.FromUserName, ev.CreateTime.Unix()
			check("MsgType", ev.MsgType, std.MsgType)
			if ev.MsgType == "event" {
				check("Event", ev.Event, std.Event)
			}
			if string(ev.Raw) != string(doc) {
				t.Fatalf("Raw differs from the pushed document")
			}
		}
		check("ToUserName", to, std.ToUserName)
		check("FromUserName", from, std.FromUserName)
		// CreateTime is a number: "00" and "+1" are 0 and 1.
		if want, err := strconv.ParseInt(strings.TrimSpace(std.CreateTime), 10, 64); err != nil || created != want {
			t.Fatalf("CreateTime: got %d, encoding/xml reads %q in %q", created, std.CreateTime, doc)
		}
	})
}

// A push whose request context is already cancelled is still decoded and
// delivered (the memory Deduper ignores ctx; the callback sees it cancelled).
func TestEventCancelledRequest(t *testing.T) {
	h, c := newRecordingHandler(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := pushReq(t, pushConfig(""), readSample(t, "update_invoice_status.xml")).WithContext(ctx)
	requireSuccess(t, serve(h, req))
	require.Equal(t, 1, c.total())
}

// FuzzEventParsePush is the parser alone (many more executions per second
// than FuzzEventHandler): it must never panic, and whatever it accepts
// encoding/xml must accept with the same values. Inputs it finds are added
// to FuzzEventHandler's corpus (mode 0) as regression seeds.
func FuzzEventParsePush(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "events", "*.xml"))
	for _, name := range samples {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(v3aMsg)
	f.Add(v2Msg2)
	f.Add(v3aOuter)
	f.Add("<xml><Code>x <![CDATA[y]]> z&#x4e2d;</Code><A b='c'><B/></A></xml>")
	f.Add("<?xml version='1.0'?><!-- c --><xml ><Code>\r\n<![CDATA[a\rb]]></Code></xml><?pi x?>")
	f.Fuzz(func(t *testing.T, doc string) {
		var pf pushFields
		if parsePush(doc, &pf) != nil {
			return
		}
		var std stdPush
		if err := xml.Unmarshal([]byte(doc), &std); err != nil {
			t.Fatalf("accepted %q, which encoding/xml refuses: %v", doc, err)
		}
		for _, c := range [][3]string{
			{"ToUserName", pf.ToUserName, std.ToUserName},
			{"FromUserName", pf.FromUserName, std.FromUserName},
			{"CreateTime", pf.CreateTime, std.CreateTime},
			{"MsgType", pf.MsgType, std.MsgType},
			{"Event", pf.Event, std.Event},
			{"Status", pf.Status, std.Status},
			{"CardId", pf.CardID, std.CardID},
			{"Code", pf.Code, std.Code},
			{"SuccOrderId", pf.SuccOrderID, std.SuccOrderID},
			{"FailOrderId", pf.FailOrderID, std.FailOrderID},
			{"AppId", pf.AppID, std.AppID},
			{"AuthorizeAppId", pf.AuthorizeAppID, std.AuthorizeAppID},
			{"Source", pf.Source, std.Source},
			{"title", pf.Title, std.Title},
			{"phone", pf.Phone, std.Phone},
			{"tax_no", pf.TaxNo, std.TaxNo},
			{"addr", pf.Addr, std.Addr},
			{"bank_type", pf.BankType, std.BankType},
			{"bank_no", pf.BankNo, std.BankNo},
			{"attach", pf.Attach, std.Attach},
			{"title_type", pf.TitleType, std.TitleType},
			{"fpqqlsh", pf.Fpqqlsh, std.Fpqqlsh},
			{"status", pf.LowerStatus, std.LowerStatus},
			{"nsrsbh", pf.Nsrsbh, std.Nsrsbh},
			{"UserCardCode", pf.UserCardCode, std.UserCardCode},
		} {
			if strings.TrimSpace(c[1]) != strings.TrimSpace(c[2]) {
				t.Fatalf("%s: got %q, encoding/xml reads %q in %q", c[0], c[1], c[2], doc)
			}
		}
	})
}

// refParseQuery is parseQuery's specification: url.ParseQuery, then
// url.Values.Get for each parameter.
func refParseQuery(raw string, q *pushQuery) bool {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return false
	}
	*q = pushQuery{signature: v.Get("signature"), timestamp: v.Get("timestamp"), nonce: v.Get("nonce"),
		echostr: v.Get("echostr"), encryptType: v.Get("encrypt_type"), msgSignature: v.Get("msg_signature")}
	return true
}

// queryCases are raw queries for TestParseQueryMatchesReference and seeds of
// FuzzParseQuery.
var queryCases = []string{
	"",
	"&",
	"&&signature=a&&",
	"=",
	"=x",
	"=%zz",
	"%zz=1",
	"a",
	"signature",
	"signature=",
	"signature=a=b",
	"signature=a&signature=b",
	"signature=&signature=b",
	"sign%61ture=a&signature=b",
	"signature=a%2Bb+c%20d",
	"signature=%zz",
	"signature=%",
	"signature=%4",
	"signature=%e4%b8%ad",
	"x=%zz&signature=a",
	"signature=a&x=%zz",
	"a;b=1&signature=a",
	"signature=a;b",
	"signature=a%3Bb",
	"Signature=a&SIGNATURE=b",
	"signature=s&timestamp=1&nonce=2&echostr=e&encrypt_type=aes&msg_signature=m&openid=o",
	"timestamp=1&timestamp=2&nonce=&nonce=3&encrypt_type=raw&encrypt_type=aes&msg_signature=&msg_signature=m&echostr=%26",
	strings.Repeat("a=1&", maxQueryParams-1) + "signature=x",
	strings.Repeat("a=1&", maxQueryParams) + "signature=x",
	strings.Repeat("a=1&", maxQueryParams) + "signature=%zz",
	strings.Repeat("a=1&", maxQueryParams) + "signature=x;",
	strings.Repeat("&", 9999) + "signature=x",
	strings.Repeat("&", 10000) + "signature=x",
}

// The handler reads the query as url.ParseQuery and url.Values.Get would:
// the same refusals, the first occurrence of a parameter (even empty), keys
// and values unescaped.
func TestParseQueryMatchesReference(t *testing.T) {
	t.Parallel()
	for _, raw := range queryCases {
		requireSameQuery(t, raw)
	}
}

func requireSameQuery(t *testing.T, raw string) {
	t.Helper()
	var got, want pushQuery
	gotOK, wantOK := parseQuery(raw, &got), refParseQuery(raw, &want)
	if gotOK != wantOK || (wantOK && got != want) {
		t.Fatalf("parseQuery(%.200q) = %v, %+v; url.ParseQuery reads %v, %+v", raw, gotOK, got, wantOK, want)
	}
}

// FuzzParseQuery checks parseQuery against url.ParseQuery on any query.
func FuzzParseQuery(f *testing.F) {
	for _, raw := range queryCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { requireSameQuery(t, raw) })
}
