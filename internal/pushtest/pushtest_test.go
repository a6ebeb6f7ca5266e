package pushtest

import (
	"context"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

const (
	testKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testAppID = "wxb11529c136998cb6"
)

func TestDocSplitsCDATATerminator(t *testing.T) {
	for _, d := range []*Doc{NewDoc(), NewFlatDoc()} {
		doc := d.Str("Title", "a]]>b").Num("CreateTime", "1").Bytes()
		var v struct {
			Title      string
			CreateTime int64
		}
		if err := xml.Unmarshal(doc, &v); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if v.Title != "a]]>b" || v.CreateTime != 1 {
			t.Fatalf("decoded %+v from %s", v, doc)
		}
	}
}

func TestFlatLayout(t *testing.T) {
	got := string(NewFlatDoc().Str("AppId", "wx1").Num("CreateTime", "7").Bytes())
	want := "<xml><AppId><![CDATA[wx1]]></AppId>\n<CreateTime>7</CreateTime>\n</xml>"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSafeModeEnvelope(t *testing.T) {
	msg := NewFlatDoc().Str("AppId", testAppID).Str("InfoType", "component_verify_ticket").Bytes()
	cfg := Config{Token: "tok", EncodingAESKey: testKey, AppID: testAppID, Envelope: "AppId",
		Timestamp: time.Unix(1714528800, 0), Nonce: "123"}
	req, err := NewRequest(context.Background(), "http://h/p?x=1", cfg, msg)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	var env struct {
		AppId, Encrypt, ToUserName string
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env.AppId != testAppID || env.ToUserName != "" || env.Encrypt == "" {
		t.Fatalf("envelope %+v", env)
	}
	q := req.URL.Query()
	if q.Get("x") != "1" || q.Get("encrypt_type") != "aes" ||
		q.Get("msg_signature") != wxcrypto.Signature("tok", "1714528800", "123", env.Encrypt) ||
		q.Get("signature") != wxcrypto.Signature("tok", "1714528800", "123") {
		t.Fatalf("query %v", q)
	}
	c, err := wxcrypto.NewCipher(testKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Decrypt(env.Encrypt)
	if err != nil || string(plain) != string(msg) {
		t.Fatalf("decrypt: %q, %v", plain, err)
	}
	if !strings.Contains(req.URL.RawQuery, "timestamp=1714528800&nonce=123") {
		t.Fatalf("query order %q", req.URL.RawQuery)
	}
}
