package wxinvoice

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// Message-crypto vectors from public test suites (re-computed independently).
const (
	// V2: binarywang/WxJava@3e48dc7f WxCryptUtilTest (official WXBizMsgCrypt "pamtest" values).
	vecKey        = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	vecToken      = "pamtest"
	vecAppID      = "wxb11529c136998cb6"
	v2Timestamp   = "1409304348"
	v2Nonce       = "xxxxxx"
	v2Encrypted   = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
	v2MsgSig      = "82c962d39941aa48552f90ef55aa323dc620cc10" // derived
	v2Msg2        = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
	v2Encrypted2  = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
	v2OuterFormat = "<xml><ToUserName><![CDATA[toUser]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>"

	// V3.a: w7corp/easywechat@7a93b804 tests/Kernel/EncryptorTest.php.
	v3aEncrypted = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA=="
	v3aMsgSig    = "4f3ad57b6989f09f4eb392acce4f9e93942ed890"
	v3aNonce     = "260774613"
	v3aTimestamp = "1458300676"
	v3aOuter     = "<xml>\n    <ToUserName><![CDATA[asdasdasd]]></ToUserName>\n    <Encrypt><![CDATA[" + v3aEncrypted + "]]></Encrypt>\n</xml>\n"
	v3aMsg       = "<xml><URL><![CDATA[http://wechat.laravel.so/server]]></URL><ToUserName><![CDATA[asdasdasd]]></ToUserName><FromUserName><![CDATA[asdasdasdsadasd]]></FromUserName><CreateTime>1234567898</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>12345</MsgId></xml>"

	// V3.b: easywechat tests/Kernel/Traits/DecryptXmlMessageTest.php (WeCom
	// official sample; the trailing id is the corpid).
	v3bCorpID    = "wx5823bf96d3bd56c7"
	v3bToken     = "QDG6eK"
	v3bKey       = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	v3bMsgSig    = "477715d11cdb4164915debcba66cb864d751f3e6"
	v3bTimestamp = "1409659813"
	v3bNonce     = "1372623149"
	v3bEncrypted = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	v3bMsg       = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"

	// V5: wechatpy tests/test_utils.py check_signature.
	v5Token     = "test"
	v5Timestamp = "1410685589"
	v5Nonce     = "test"
	v5Signature = "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
)

// sampleTime is CreateTime of the update_invoice_status sample; tests push
// with timestamps near it and run the handler's clock there.
var sampleTime = time.Unix(1478068440, 0)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	require.NoError(t, err)
	return b
}

// calls records every callback invocation of a handler.
type calls struct {
	mu        sync.Mutex
	status    []*InvoiceStatusEvent
	authorize []*UserAuthorizeInvoiceEvent
	title     []*SubmitInvoiceTitleEvent
	cloud     []*CloudInvoiceResultEvent
	generic   []*Event
	err       error // returned by every callback when set
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.status) + len(c.authorize) + len(c.title) + len(c.cloud) + len(c.generic)
}

// install sets every callback of cfg to record into c.
func (c *calls) install(cfg *EventConfig) {
	cfg.OnInvoiceStatus = func(_ context.Context, ev *InvoiceStatusEvent) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.status = append(c.status, ev)
		return c.err
	}
	cfg.OnUserAuthorizeInvoice = func(_ context.Context, ev *UserAuthorizeInvoiceEvent) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.authorize = append(c.authorize, ev)
		return c.err
	}
	cfg.OnSubmitInvoiceTitle = func(_ context.Context, ev *SubmitInvoiceTitleEvent) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.title = append(c.title, ev)
		return c.err
	}
	cfg.OnCloudInvoiceResult = func(_ context.Context, ev *CloudInvoiceResultEvent) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cloud = append(c.cloud, ev)
		return c.err
	}
	cfg.OnEvent = func(_ context.Context, ev *Event) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.generic = append(c.generic, ev)
		return c.err
	}
}

// newRecordingHandler returns a handler with every callback recorded; the
// mode selects plaintext ("") or safe mode ("aes").
func newRecordingHandler(t testing.TB, mode string, tweak func(*EventConfig)) (*EventHandler, *calls) {
	t.Helper()
	c := &calls{}
	cfg := EventConfig{Token: vecToken, Now: fixedClock(sampleTime)}
	if mode == "aes" {
		cfg.EncodingAESKey, cfg.AppID = vecKey, vecAppID
	}
	c.install(&cfg)
	if tweak != nil {
		tweak(&cfg)
	}
	h, err := NewEventHandler(cfg)
	require.NoError(t, err)
	return h, c
}

// pushConfig returns the PushConfig matching newRecordingHandler's mode.
func pushConfig(mode string) PushConfig {
	pc := PushConfig{Token: vecToken, Timestamp: sampleTime}
	switch mode {
	case "aes":
		pc.EncodingAESKey, pc.AppID = vecKey, vecAppID
	case "compat":
		pc.EncodingAESKey, pc.AppID, pc.Compat = vecKey, vecAppID, true
	}
	return pc
}

func handlerMode(mode string) string {
	if mode == "compat" {
		return "aes"
	}
	return mode
}

// serve sends req to h and returns the recorded response.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func pushReq(t testing.TB, pc PushConfig, xml []byte) *http.Request {
	t.Helper()
	req, err := NewPushRequest(context.Background(), "http://platform.example/wx/events", pc, xml)
	require.NoError(t, err)
	return req
}

func requireSuccess(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "success", rec.Body.String())
}

func TestEventVerifyGET(t *testing.T) {
	h, err := NewEventHandler(EventConfig{Token: v5Token, Now: fixedClock(time.Unix(1410685589+30, 0))})
	require.NoError(t, err)

	echostr := "5837397301622131916 & ü+/="
	q := "signature=" + v5Signature + "&timestamp=" + v5Timestamp + "&nonce=" + v5Nonce + "&echostr=" + url.QueryEscape(echostr)
	rec := serve(h, httptest.NewRequest(http.MethodGet, "/wx?"+q, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, echostr, rec.Body.String())
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))

	bad := strings.Replace(q, v5Signature, v5Signature[:39]+"e", 1)
	rec = serve(h, httptest.NewRequest(http.MethodGet, "/wx?"+bad, nil))
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.NotContains(t, rec.Body.String(), "5837397301622131916")

	noEcho := "signature=" + v5Signature + "&timestamp=" + v5Timestamp + "&nonce=" + v5Nonce
	rec = serve(h, httptest.NewRequest(http.MethodGet, "/wx?"+noEcho, nil))
	require.Equal(t, http.StatusBadRequest, rec.Code)

	late, err := NewEventHandler(EventConfig{Token: v5Token, Now: fixedClock(time.Unix(1410685589+301, 0))})
	require.NoError(t, err)
	rec = serve(late, httptest.NewRequest(http.MethodGet, "/wx?"+q, nil))
	require.Equal(t, http.StatusForbidden, rec.Code)

	// NewVerifyRequest builds the same kind of request.
	req, err := NewVerifyRequest(context.Background(), "http://x/wx?tenant=1", PushConfig{Token: v5Token, Timestamp: time.Unix(1410685589, 0)}, "echo-me")
	require.NoError(t, err)
	require.Equal(t, "1", req.URL.Query().Get("tenant"))
	rec = serve(h, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "echo-me", rec.Body.String())
}

// The four samples decode into their typed events in plaintext, safe and
// compatible mode.
func TestEventSamples(t *testing.T) {
	wantStatus := &InvoiceStatusEvent{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: time.Unix(1478068440, 0), Status: ReimburseInit, CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: "186921658591"}
	wantAuth := &UserAuthorizeInvoiceEvent{ToUserName: "gh_fc0a06a20993", FromUserName: "oZI8Fj040-be6rlDohc6gkoPOQTQ",
		CreateTime: time.Unix(1475134700, 0), SuccOrderID: "1202933957956"}
	wantTitle := &SubmitInvoiceTitleEvent{ToUserName: "toUser", FromUserName: "FromUser", CreateTime: time.Unix(123456789, 0),
		Title: "用户选择抬头", Phone: "12345", TaxNo: "1486715661", Addr: "abc", BankType: "bank_type",
		BankNo: "bank_type", Attach: "attach", TitleType: "InvoiceUserTitleBusinessType"}
	wantCloud := &CloudInvoiceResultEvent{ToUserName: "toUser", FromUserName: "FromUser", CreateTime: time.Unix(123456789, 0),
		Fpqqlsh: "14574d75004451097886", Status: "100", Nsrsbh: "150001197205134629"}

	for _, mode := range []string{"", "aes", "compat"} {
		t.Run("mode="+mode, func(t *testing.T) {
			h, c := newRecordingHandler(t, handlerMode(mode), nil)
			pc := pushConfig(mode)
			for _, name := range []string{"update_invoice_status.xml", "user_authorize_invoice.xml",
				"submit_invoice_title.xml", "cloud_invoice_invoiceresult_event.xml"} {
				requireSuccess(t, serve(h, pushReq(t, pc, readSample(t, name))))
			}
			require.Equal(t, []*InvoiceStatusEvent{wantStatus}, c.status)
			require.Equal(t, []*UserAuthorizeInvoiceEvent{wantAuth}, c.authorize)
			require.Equal(t, []*SubmitInvoiceTitleEvent{wantTitle}, c.title)
			require.Equal(t, []*CloudInvoiceResultEvent{wantCloud}, c.cloud)
			require.Empty(t, c.generic)
		})
	}
}

func TestEventSampleVariants(t *testing.T) {
	h, c := newRecordingHandler(t, "", nil)
	pc := pushConfig("")

	// AuthorizeAppId spelling.
	requireSuccess(t, serve(h, pushReq(t, pc, readSample(t, "user_authorize_invoice_authorizeappid.xml"))))
	require.Len(t, c.authorize, 1)
	require.Equal(t, "wxa0123456789abcdef", c.authorize[0].AppID)
	require.Equal(t, "1202933957956", c.authorize[0].SuccOrderID)
	require.Equal(t, "gh_fc0a06a20993", c.authorize[0].ToUserName)

	// An XML declaration is accepted.
	requireSuccess(t, serve(h, pushReq(t, pc, readSample(t, "cloud_invoice_invoiceresult_event_xmldecl.xml"))))
	require.Len(t, c.cloud, 1)
	require.Equal(t, "100", c.cloud[0].Status)

	// The SKIT title sample with its wrong Event name is what it says: a
	// cloud invoice result (with none of that event's fields).
	requireSuccess(t, serve(h, pushReq(t, pc, readSample(t, "submit_invoice_title_skit_original.xml"))))
	require.Len(t, c.cloud, 2)
	require.Equal(t, &CloudInvoiceResultEvent{ToUserName: "toUser", FromUserName: "FromUser", CreateTime: time.Unix(123456789, 0)}, c.cloud[1])
	require.Empty(t, c.title)
}

// The vectors' safe-mode messages go end to end through the handler.
func TestEventVectorsSafeMode(t *testing.T) {
	t.Run("V3.a easywechat", func(t *testing.T) {
		h, c := newRecordingHandler(t, "aes", func(cfg *EventConfig) { cfg.Now = fixedClock(time.Unix(1458300676, 0)) })
		// The vector's query has no signature; WeChat sends one in every mode.
		q := "signature=" + wxcrypto.Signature(vecToken, v3aTimestamp, v3aNonce) +
			"&timestamp=" + v3aTimestamp + "&nonce=" + v3aNonce + "&encrypt_type=aes&msg_signature=" + v3aMsgSig
		rec := serve(h, httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(v3aOuter)))
		requireSuccess(t, rec)
		require.Len(t, c.generic, 1)
		require.Equal(t, &Event{ToUserName: "asdasdasd", FromUserName: "asdasdasdsadasd", CreateTime: time.Unix(1234567898, 0),
			MsgType: "text", Raw: []byte(v3aMsg)}, c.generic[0])

		// Negative vectors: a wrong msg_signature, a wrong appid.
		bad := strings.Replace(q, v3aMsgSig, "invalid-signature", 1)
		require.Equal(t, http.StatusForbidden, serve(h, httptest.NewRequest(http.MethodPost, "/wx?"+bad, strings.NewReader(v3aOuter))).Code)
		wrongApp, c2 := newRecordingHandler(t, "aes", func(cfg *EventConfig) {
			cfg.AppID = "invalid appid"
			cfg.Now = fixedClock(time.Unix(1458300676, 0))
		})
		rec = serve(wrongApp, httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(v3aOuter)))
		require.Equal(t, sealedStatus, rec.Code)
		require.Equal(t, sealedReason, rec.Body.String())
		require.Zero(t, c2.total())
		require.Len(t, c.generic, 1)
	})
	t.Run("V3.b WeCom", func(t *testing.T) {
		c := &calls{}
		cfg := EventConfig{Token: v3bToken, EncodingAESKey: v3bKey, AppID: v3bCorpID, Now: fixedClock(time.Unix(1409659813, 0))}
		c.install(&cfg)
		h, err := NewEventHandler(cfg)
		require.NoError(t, err)
		body := "<xml><ToUserName><![CDATA[" + v3bCorpID + "]]></ToUserName><Encrypt><![CDATA[" + v3bEncrypted + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
		q := "msg_signature=" + v3bMsgSig + "&timestamp=" + v3bTimestamp + "&nonce=" + v3bNonce + "&encrypt_type=aes" +
			"&signature=" + wxcrypto.Signature(v3bToken, v3bTimestamp, v3bNonce)
		requireSuccess(t, serve(h, httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body))))
		require.Len(t, c.generic, 1)
		require.Equal(t, "mycreate", c.generic[0].FromUserName)
		require.Equal(t, []byte(v3bMsg), c.generic[0].Raw)
	})
	t.Run("V2 WxJava", func(t *testing.T) {
		h, c := newRecordingHandler(t, "aes", func(cfg *EventConfig) { cfg.Now = fixedClock(time.Unix(1409304348, 0)) })
		// afterAesEncrypt decrypts to "我是中文abcd123", which is not a push.
		body := strings.Replace(v2OuterFormat, "%s", v2Encrypted, 1)
		q := "signature=" + wxcrypto.Signature(vecToken, v2Timestamp, v2Nonce) +
			"&timestamp=" + v2Timestamp + "&nonce=" + v2Nonce + "&encrypt_type=aes&msg_signature=" + v2MsgSig
		rec := serve(h, httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body)))
		require.Equal(t, sealedStatus, rec.Code)
		require.Equal(t, sealedReason, rec.Body.String())

		// WxJava's wrong-signature test: token "12345".
		wrongToken, c2 := newRecordingHandler(t, "aes", func(cfg *EventConfig) {
			cfg.Token = "12345"
			cfg.Now = fixedClock(time.Unix(1409304348, 0))
		})
		require.Equal(t, http.StatusForbidden, serve(wrongToken, httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body))).Code)

		// afterAesEncrypt2 is a video message with nested elements.
		body2 := strings.Replace(v2OuterFormat, "%s", v2Encrypted2, 1)
		q2 := "signature=" + wxcrypto.Signature(vecToken, v2Timestamp, v2Nonce) +
			"&timestamp=" + v2Timestamp + "&nonce=" + v2Nonce + "&encrypt_type=aes&msg_signature=" +
			wxcrypto.Signature(vecToken, v2Timestamp, v2Nonce, v2Encrypted2)
		requireSuccess(t, serve(h, httptest.NewRequest(http.MethodPost, "/wx?"+q2, strings.NewReader(body2))))
		require.Len(t, c.generic, 1)
		require.Equal(t, &Event{ToUserName: "oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw", FromUserName: "gh_7f083739789a",
			CreateTime: time.Unix(1407743423, 0), MsgType: "video", Raw: []byte(v2Msg2)}, c.generic[0])
		require.Zero(t, c2.total())
	})
}

// rawEncrypt encrypts a hand-made plaintext (layout and padding chosen by the
// caller) with the EncodingAESKey.
func rawEncrypt(t testing.TB, encodingAESKey string, plain []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// plainLayout returns random16 || len(msg) || msg || appid, padded with n
// bytes of value v.
func plainLayout(msg, appID string, declaredLen uint32, n int, v byte) []byte {
	b := make([]byte, 20, 20+len(msg)+len(appID)+n)
	copy(b, "0123456789abcdef")
	binary.BigEndian.PutUint32(b[16:], declaredLen)
	b = append(append(b, msg...), appID...)
	for range n {
		b = append(b, v)
	}
	return b
}

// goodPadding returns the PKCS#7/32 pad length for a plaintext of n bytes.
func goodPadding(n int) int { return 32 - n%32 }

// safeReq builds a safe-mode push with a correct msg_signature over encrypt.
func safeReq(encrypt, ts string) *http.Request {
	body := "<xml><ToUserName><![CDATA[gh_9e1765b5568e]]></ToUserName><Encrypt><![CDATA[" + encrypt + "]]></Encrypt></xml>"
	q := "signature=" + wxcrypto.Signature(vecToken, ts, "42") + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" +
		wxcrypto.Signature(vecToken, ts, "42", encrypt)
	return httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body))
}

// plainReq builds a plaintext push signed with token.
func plainReq(token, ts, body string) *http.Request {
	q := "signature=" + wxcrypto.Signature(token, ts, "42") + "&timestamp=" + ts + "&nonce=42&openid=o1"
	return httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body))
}

func TestEventRefusals(t *testing.T) {
	ts := "1478068440"
	sample := string(readSample(t, "update_invoice_status.xml"))
	encOf := func(msg string) string {
		c, err := wxcrypto.NewCipher(vecKey, vecAppID)
		require.NoError(t, err)
		enc, err := c.Encrypt([]byte(msg))
		require.NoError(t, err)
		return enc
	}
	padded := func(msg, appID string) []byte {
		n := 20 + len(msg) + len(appID)
		p := goodPadding(n)
		return plainLayout(msg, appID, uint32(len(msg)), p, byte(p))
	}
	withSample := func(old, new string) string { return strings.Replace(sample, old, new, 1) }
	postQ := func(q, body string) func() *http.Request {
		return func() *http.Request { return httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(body)) }
	}
	sig := wxcrypto.Signature(vecToken, ts, "42")

	tests := []struct {
		name string
		mode string // handler: "" plaintext, "aes" safe
		req  func() *http.Request
		want int
	}{
		// Signatures.
		{"no signature", "", postQ("timestamp="+ts+"&nonce=42", sample), 403},
		{"empty signature", "", postQ("signature=&timestamp="+ts+"&nonce=42", sample), 403},
		{"bad signature", "", postQ("signature="+strings.Repeat("0", 40)+"&timestamp="+ts+"&nonce=42", sample), 403},
		{"uppercase signature", "", postQ("signature="+strings.ToUpper(sig)+"&timestamp="+ts+"&nonce=42", sample), 403},
		{"signature of another token", "", func() *http.Request { return plainReq("other", ts, sample) }, 403},
		{"signature over another nonce", "", postQ("signature="+sig+"&timestamp="+ts+"&nonce=43", sample), 403},
		{"missing timestamp", "", postQ("signature="+sig+"&nonce=42", sample), 400},
		{"missing nonce", "", postQ("signature="+sig+"&timestamp="+ts, sample), 400},
		{"malformed query", "", postQ("signature=%zz&timestamp="+ts+"&nonce=42", sample), 400},
		// Replay window (±5 min by default).
		{"timestamp 301 s old", "", func() *http.Request { return plainReq(vecToken, "1478068139", sample) }, 403},
		{"timestamp 301 s ahead", "", func() *http.Request { return plainReq(vecToken, "1478068741", sample) }, 403},
		{"timestamp not a number", "", func() *http.Request { return plainReq(vecToken, "14780684x0", sample) }, 400},
		// Body.
		{"body over 64 KiB", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("</Code>", "</Code><Pad>"+strings.Repeat("x", 64<<10)+"</Pad>"))
		}, 413},
		{"chunked body over 64 KiB", "", func() *http.Request {
			r := plainReq(vecToken, ts, withSample("</Code>", "</Code><Pad>"+strings.Repeat("x", 64<<10)+"</Pad>"))
			r.ContentLength = -1
			return r
		}, 413},
		{"empty body", "", func() *http.Request { return plainReq(vecToken, ts, "") }, 400},
		// Malformed XML.
		{"truncated", "", func() *http.Request { return plainReq(vecToken, ts, sample[:len(sample)-10]) }, 400},
		{"unclosed CDATA", "", func() *http.Request { return plainReq(vecToken, ts, withSample("]]></CardId>", "</CardId>")) }, 400},
		{"mismatched tags", "", func() *http.Request { return plainReq(vecToken, ts, withSample("</CardId>", "</Code>")) }, 400},
		{"text under root", "", func() *http.Request { return plainReq(vecToken, ts, withSample("<CardId>", "oops<CardId>")) }, 400},
		{"trailing garbage", "", func() *http.Request { return plainReq(vecToken, ts, sample+"<xml></xml>") }, 400},
		{"wrong root", "", func() *http.Request {
			return plainReq(vecToken, ts, strings.ReplaceAll(strings.ReplaceAll(sample, "<xml>", "<doc>"), "</xml>", "</doc>"))
		}, 400},
		{"not XML", "", func() *http.Request { return plainReq(vecToken, ts, `{"Event":"update_invoice_status"}`) }, 400},
		{"invalid UTF-8", "", func() *http.Request { return plainReq(vecToken, ts, withSample("186921658591", "1869\xff21658591")) }, 400},
		{"control character", "", func() *http.Request { return plainReq(vecToken, ts, withSample("186921658591", "1869\x0121658591")) }, 400},
		{"unknown entity", "", func() *http.Request { return plainReq(vecToken, ts, withSample("<Code>", "<Code>&nbsp;")) }, 400},
		{"duplicate Code", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("</Code>", "</Code><Code>1</Code>"))
		}, 400},
		{"missing CreateTime", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("<CreateTime>1478068440</CreateTime>", ""))
		}, 400},
		{"CreateTime not a number", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("<CreateTime>1478068440</CreateTime>", "<CreateTime>soon</CreateTime>"))
		}, 400},
		{"missing MsgType", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("<MsgType><![CDATA[event]]></MsgType>", ""))
		}, 400},
		// DTDs and entities.
		{"DOCTYPE", "", func() *http.Request {
			return plainReq(vecToken, ts, `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "y">]>`+sample)
		}, 400},
		{"lowercase doctype", "", func() *http.Request { return plainReq(vecToken, ts, "<!doctype xml>"+sample) }, 400},
		{"ENTITY alone", "", func() *http.Request {
			return plainReq(vecToken, ts, withSample("<Code>", "<Code><!EnTiTy x SYSTEM 'file:///etc/passwd'>"))
		}, 400},
		{"DOCTYPE inside CDATA", "", func() *http.Request { return plainReq(vecToken, ts, withSample("186921658591", "<!DOCTYPE")) }, 400},
		{"other directive", "", func() *http.Request { return plainReq(vecToken, ts, withSample("<Code>", "<!ELEMENT x ANY><Code>")) }, 400},
		// Modes.
		{"encrypted push to a plaintext handler", "", func() *http.Request { return safeReq(encOf(sample), ts) }, 400},
		{"unknown encrypt_type", "", postQ("signature="+sig+"&timestamp="+ts+"&nonce=42&encrypt_type=des", sample), 400},
		{"plaintext push to a safe-mode handler", "aes", func() *http.Request { return plainReq(vecToken, ts, sample) }, 400},
		{"GET with bad signature", "", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/wx?signature="+strings.Repeat("1", 40)+"&timestamp="+ts+"&nonce=42&echostr=e", nil)
		}, 403},
		{"PUT", "", func() *http.Request { r := plainReq(vecToken, ts, sample); r.Method = http.MethodPut; return r }, 405},
		// Safe mode.
		{"missing msg_signature", "aes", func() *http.Request {
			r := safeReq(encOf(sample), ts)
			q := r.URL.Query()
			q.Del("msg_signature")
			r.URL.RawQuery = q.Encode()
			return r
		}, 403},
		{"bad msg_signature", "aes", func() *http.Request {
			r := safeReq(encOf(sample), ts)
			q := r.URL.Query()
			q.Set("msg_signature", strings.Repeat("a", 40))
			r.URL.RawQuery = q.Encode()
			return r
		}, 403},
		{"msg_signature over another Encrypt", "aes", func() *http.Request {
			r := safeReq(encOf(sample), ts)
			other := safeReq(encOf(sample), ts)
			q := r.URL.Query()
			q.Set("msg_signature", other.URL.Query().Get("msg_signature"))
			r.URL.RawQuery = q.Encode()
			return r
		}, 403},
		{"bad plain signature beside a good msg_signature", "aes", func() *http.Request {
			r := safeReq(encOf(sample), ts)
			q := r.URL.Query()
			q.Set("signature", strings.Repeat("b", 40))
			r.URL.RawQuery = q.Encode()
			return r
		}, 403},
		{"missing Encrypt", "aes", func() *http.Request {
			q := "signature=" + sig + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + wxcrypto.Signature(vecToken, ts, "42", "")
			return httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(sample))
		}, 400},
		{"Encrypt not base64", "aes", func() *http.Request { return safeReq("!!notbase64!!", ts) }, 400},
		{"Encrypt not whole blocks", "aes", func() *http.Request { return safeReq(base64.StdEncoding.EncodeToString(make([]byte, 40)), ts) }, 400},
		{"padding 0", "aes", func() *http.Request {
			p := padded(sample, vecAppID)
			p[len(p)-1] = 0
			return safeReq(rawEncrypt(t, vecKey, p), ts)
		}, 400},
		{"padding 33", "aes", func() *http.Request {
			msg := sample + strings.Repeat(" ", 31-(20+len(sample)+len(vecAppID))%32)
			return safeReq(rawEncrypt(t, vecKey, plainLayout(msg, vecAppID, uint32(len(msg)), 1, 33)), ts)
		}, 400},
		{"inconsistent padding", "aes", func() *http.Request {
			p := padded(sample, vecAppID)
			if p[len(p)-1] < 2 {
				t.Fatal("sample needs at least 2 bytes of padding")
			}
			p[len(p)-2] ^= 0x40
			return safeReq(rawEncrypt(t, vecKey, p), ts)
		}, 400},
		{"length prefix past the end", "aes", func() *http.Request {
			p := padded(sample, vecAppID)
			binary.BigEndian.PutUint32(p[16:], uint32(len(sample)+len(vecAppID)+1))
			return safeReq(rawEncrypt(t, vecKey, p), ts)
		}, 400},
		{"wrong appid", "aes", func() *http.Request { return safeReq(rawEncrypt(t, vecKey, padded(sample, "wx0000000000000000")), ts) }, 400},
		{"no appid", "aes", func() *http.Request { return safeReq(rawEncrypt(t, vecKey, padded(sample, "")), ts) }, 400},
		{"another key", "aes", func() *http.Request {
			c, err := wxcrypto.NewCipher(v3bKey, vecAppID)
			require.NoError(t, err)
			enc, err := c.Encrypt([]byte(sample))
			require.NoError(t, err)
			return safeReq(enc, ts)
		}, 400},
		{"inner XML malformed", "aes", func() *http.Request { return safeReq(encOf(sample[:len(sample)-3]), ts) }, 400},
		{"inner DOCTYPE", "aes", func() *http.Request { return safeReq(encOf("<!DOCTYPE xml>"+sample), ts) }, 400},
		{"DOCTYPE in envelope", "aes", func() *http.Request {
			r := safeReq(encOf(sample), ts)
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader("<!DOCTYPE xml>" + string(b)))
			r.ContentLength = -1
			return r
		}, 400},
		{"inner timestamp window", "aes", func() *http.Request { return safeReq(encOf(sample), "1478000000") }, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, c := newRecordingHandler(t, tc.mode, func(cfg *EventConfig) {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			rec := serve(h, tc.req())
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			require.Zero(t, c.total(), "no callback for a refused push")
			require.NotEqual(t, "success", rec.Body.String())
			for _, secret := range []string{vecToken, vecKey} {
				require.NotContains(t, rec.Body.String(), secret)
				require.NotContains(t, logs.String(), secret)
			}
			require.NotEmpty(t, logs.String(), "refusals are logged")
		})
	}

	// The window can be disabled.
	h, c := newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.TimestampWindow = -1 })
	requireSuccess(t, serve(h, plainReq(vecToken, "1", sample)))
	require.Equal(t, 1, c.total())
	// And a smaller body limit applies.
	h, c = newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.MaxBodyBytes = int64(len(sample) - 1) })
	require.Equal(t, http.StatusRequestEntityTooLarge, serve(h, plainReq(vecToken, ts, sample)).Code)
	require.Zero(t, c.total(), "a refused body runs no callback")
	h, c = newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.MaxBodyBytes = int64(len(sample)) })
	requireSuccess(t, serve(h, plainReq(vecToken, ts, sample)))
	require.Equal(t, 1, c.total())
}

func statusEvent(code string) *InvoiceStatusEvent {
	return &InvoiceStatusEvent{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: sampleTime, Status: ReimburseLock, CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: code}
}

// retry returns the same push as WeChat retries it: same XML, a new nonce
// (and, in safe mode, a new random prefix).
func retry(t testing.TB, mode string, xml []byte, n int) *http.Request {
	pc := pushConfig(mode)
	pc.Nonce = "10000000" + string(rune('0'+n%10))
	return pushReq(t, pc, xml)
}

func TestEventDedupe(t *testing.T) {
	for _, mode := range []string{"", "aes"} {
		t.Run("mode="+mode, func(t *testing.T) {
			h, c := newRecordingHandler(t, mode, nil)
			xml := InvoiceStatusEventXML(statusEvent("1001"))

			// WeChat's retries (up to 3) run the callback once.
			for i := range 4 {
				requireSuccess(t, serve(h, retry(t, mode, xml, i)))
			}
			require.Len(t, c.status, 1)

			// Another event in the same second, for another invoice, status
			// or user, is delivered.
			other := statusEvent("1002")
			requireSuccess(t, serve(h, retry(t, mode, InvoiceStatusEventXML(other), 0)))
			other = statusEvent("1001")
			other.Status = ReimburseClosure
			requireSuccess(t, serve(h, retry(t, mode, InvoiceStatusEventXML(other), 0)))
			other = statusEvent("1001")
			other.FromUserName = "someone-else"
			requireSuccess(t, serve(h, retry(t, mode, InvoiceStatusEventXML(other), 0)))
			require.Len(t, c.status, 4)

			// Same for the other invoice events' identifying fields.
			auth := &UserAuthorizeInvoiceEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, SuccOrderID: "A"}
			requireSuccess(t, serve(h, retry(t, mode, UserAuthorizeInvoiceEventXML(auth), 0)))
			requireSuccess(t, serve(h, retry(t, mode, UserAuthorizeInvoiceEventXML(auth), 1)))
			auth.SuccOrderID, auth.FailOrderID = "", "A"
			requireSuccess(t, serve(h, retry(t, mode, UserAuthorizeInvoiceEventXML(auth), 2)))
			require.Len(t, c.authorize, 2)

			cloud := &CloudInvoiceResultEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime, Fpqqlsh: "F1", Status: "100"}
			requireSuccess(t, serve(h, retry(t, mode, CloudInvoiceResultEventXML(cloud), 0)))
			requireSuccess(t, serve(h, retry(t, mode, CloudInvoiceResultEventXML(cloud), 1)))
			cloud.Status = "200"
			requireSuccess(t, serve(h, retry(t, mode, CloudInvoiceResultEventXML(cloud), 2)))
			cloud.Fpqqlsh = "F2"
			requireSuccess(t, serve(h, retry(t, mode, CloudInvoiceResultEventXML(cloud), 3)))
			require.Len(t, c.cloud, 3)
		})
	}
}

func TestEventDedupeFailedCallbackIsRetried(t *testing.T) {
	var n atomic.Int32
	fail := errors.New("database down")
	h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime),
		OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
			switch n.Add(1) {
			case 1:
				return fail
			case 2:
				panic("callback bug")
			}
			return nil
		}})
	require.NoError(t, err)
	xml := InvoiceStatusEventXML(statusEvent("1001"))

	rec := serve(h, retry(t, "", xml, 0))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "database down")

	// The panic is recovered into a 5xx, and the key released again.
	rec = serve(h, retry(t, "", xml, 1))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	requireSuccess(t, serve(h, retry(t, "", xml, 2)))
	requireSuccess(t, serve(h, retry(t, "", xml, 3)))
	require.EqualValues(t, 3, n.Load())
}

func TestEventDedupeTTL(t *testing.T) {
	now := sampleTime
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h, c := newRecordingHandler(t, "", func(cfg *EventConfig) {
		cfg.Now = clock
		cfg.DedupeTTL = 10 * time.Second
		cfg.TimestampWindow = -1 // no replay window: the TTL alone decides
	})
	xml := InvoiceStatusEventXML(statusEvent("1001"))
	requireSuccess(t, serve(h, retry(t, "", xml, 0)))
	advance(9 * time.Second)
	requireSuccess(t, serve(h, retry(t, "", xml, 1)))
	require.Len(t, c.status, 1)
	advance(2 * time.Second)
	requireSuccess(t, serve(h, retry(t, "", xml, 2)))
	require.Len(t, c.status, 2)
}

// TestEventReplayAfterDedupeTTL: a push captured on the wire and sent again
// while its signed timestamp is still inside the replay window must not run
// the callback a second time, however short DedupeTTL is. The timestamp is
// accepted up to TimestampWindow on either side of the clock, so a push
// stamped at the future edge stays acceptable for twice the window.
func TestEventReplayAfterDedupeTTL(t *testing.T) {
	const w = DefaultEventTimestampWindow
	for _, mode := range []string{"", "aes"} {
		for _, ttl := range []time.Duration{0, 10 * time.Second} {
			for _, stamp := range []time.Duration{0, w - time.Second} {
				t.Run(fmt.Sprintf("mode=%s/ttl=%v/stamp=%v", mode, ttl, stamp), func(t *testing.T) {
					var now atomic.Int64
					now.Store(sampleTime.UnixNano())
					h, c := newRecordingHandler(t, mode, func(cfg *EventConfig) {
						cfg.Now = func() time.Time { return time.Unix(0, now.Load()) }
						cfg.DedupeTTL = ttl
					})
					pc := pushConfig(mode)
					pc.Timestamp = sampleTime.Add(stamp)
					captured := pushReq(t, pc, InvoiceStatusEventXML(statusEvent("1001")))
					body, err := io.ReadAll(captured.Body)
					require.NoError(t, err)
					replay := func(after time.Duration) *httptest.ResponseRecorder {
						now.Store(sampleTime.Add(after).UnixNano())
						return serve(h, httptest.NewRequest(http.MethodPost, captured.URL.String(), bytes.NewReader(body)))
					}
					requireSuccess(t, replay(0))
					last := stamp + w // the last instant the timestamp is accepted
					for _, after := range []time.Duration{61 * time.Second, last / 2, last - time.Second} {
						rec := replay(after)
						require.Equal(t, http.StatusOK, rec.Code, "replayed %v later", after)
						require.Len(t, c.status, 1, "replayed %v later: the callback ran again", after)
					}
					require.Equal(t, http.StatusForbidden, replay(last+2*time.Second).Code, "outside the window")
					require.Len(t, c.status, 1)
				})
			}
		}
	}
}

func TestEventDedupeKeys(t *testing.T) {
	d := &recordingDeduper{Deduper: NewMemoryDeduper(10)}
	h, _ := newRecordingHandler(t, "", func(cfg *EventConfig) { cfg.Deduper = d })
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), readSample(t, "update_invoice_status.xml"))))
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), readSample(t, "user_authorize_invoice.xml"))))
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), readSample(t, "cloud_invoice_invoiceresult_event.xml"))))
	require.Equal(t, []string{
		"wxinvoice:update_invoice_status|15:gh_9e1765b5568e|28:ojZ8Ytz4lESgdWZ34L_R1TvB2Kds|10:1478068440|28:pjZ8Yt7Um2jYxzneP8GomnxoVFWo|12:186921658591|22:INVOICE_REIMBURSE_INIT",
		"wxinvoice:user_authorize_invoice|15:gh_fc0a06a20993|28:oZI8Fj040-be6rlDohc6gkoPOQTQ|10:1475134700|13:1202933957956|0:",
		"wxinvoice:cloud_invoice_invoiceresult_event|6:toUser|8:FromUser|9:123456789|20:14574d75004451097886|3:100",
	}, d.keys)
	// Length prefixes keep "a|b"+"c" and "a"+"b|c" apart.
	require.NotEqual(t, dedupeKey("e", "a|b", "c"), dedupeKey("e", "a", "b|c"))
}

// A retry that arrives while the first delivery is still running waits for
// its outcome: processed again if the first failed, acknowledged if it
// succeeded.
func TestEventConcurrentRetryWaitsForFirst(t *testing.T) {
	for _, firstFails := range []bool{true, false} {
		t.Run("firstFails="+map[bool]string{true: "yes", false: "no"}[firstFails], func(t *testing.T) {
			entered := make(chan struct{})
			release := make(chan struct{})
			var n atomic.Int32
			h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime),
				OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
					if n.Add(1) == 1 {
						close(entered)
						<-release
						if firstFails {
							return errors.New("first attempt failed")
						}
					}
					return nil
				}})
			require.NoError(t, err)
			xml := InvoiceStatusEventXML(statusEvent("1001"))

			first := make(chan int)
			go func() { first <- serve(h, retry(t, "", xml, 0)).Code }()
			<-entered
			second := make(chan *httptest.ResponseRecorder)
			go func() { second <- serve(h, retry(t, "", xml, 1)) }()
			select {
			case <-second:
				t.Fatal("the retry was answered while the first delivery was running")
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			if firstFails {
				require.Equal(t, http.StatusInternalServerError, <-first)
				requireSuccess(t, <-second)
				require.EqualValues(t, 2, n.Load())
			} else {
				require.Equal(t, http.StatusOK, <-first)
				requireSuccess(t, <-second)
				require.EqualValues(t, 1, n.Load())
			}
			requireSuccess(t, serve(h, retry(t, "", xml, 2)))
			require.LessOrEqual(t, n.Load(), int32(2))
		})
	}

	t.Run("waiter gives up with its context", func(t *testing.T) {
		entered := make(chan struct{})
		release := make(chan struct{})
		h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime),
			OnInvoiceStatus: func(ctx context.Context, ev *InvoiceStatusEvent) error {
				close(entered)
				<-release
				return nil
			}})
		require.NoError(t, err)
		xml := InvoiceStatusEventXML(statusEvent("1001"))
		first := make(chan int)
		go func() { first <- serve(h, retry(t, "", xml, 0)).Code }()
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		rec := serve(h, retry(t, "", xml, 1).WithContext(ctx))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		close(release)
		require.Equal(t, http.StatusOK, <-first)
	})
}

func TestEventManyConcurrentPushes(t *testing.T) {
	h, c := newRecordingHandler(t, "aes", nil)
	var wg sync.WaitGroup
	for i := range 20 {
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				xml := InvoiceStatusEventXML(statusEvent("code-" + string(rune('A'+i))))
				rec := serve(h, retry(t, "aes", xml, r))
				if rec.Code != http.StatusOK {
					t.Errorf("push %d/%d: %d %s", i, r, rec.Code, rec.Body.String())
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, c.status, 20)
}

func TestEventKeyRotation(t *testing.T) {
	const newKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	xml := InvoiceStatusEventXML(statusEvent("1001"))
	oldPush := func() *http.Request { return pushReq(t, pushConfig("aes"), xml) } // vecKey

	h, c := newRecordingHandler(t, "aes", func(cfg *EventConfig) {
		cfg.EncodingAESKey, cfg.PreviousEncodingAESKey = newKey, vecKey
	})
	requireSuccess(t, serve(h, oldPush()))
	pc := pushConfig("aes")
	pc.EncodingAESKey = newKey
	requireSuccess(t, serve(h, pushReq(t, pc, InvoiceStatusEventXML(statusEvent("1002")))))
	require.Len(t, c.status, 2)

	// Without the previous key, the old key's pushes are refused.
	h, c = newRecordingHandler(t, "aes", func(cfg *EventConfig) { cfg.EncodingAESKey = newKey })
	require.Equal(t, http.StatusBadRequest, serve(h, oldPush()).Code)
	require.Zero(t, c.total())
}

func TestEventFallbacks(t *testing.T) {
	// An invoice event without its typed callback reaches OnEvent, raw.
	var got []*Event
	h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime),
		OnEvent: func(ctx context.Context, ev *Event) error { got = append(got, ev); return nil }})
	require.NoError(t, err)
	sample := readSample(t, "update_invoice_status.xml")
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), sample)))
	require.Len(t, got, 1)
	require.Equal(t, &Event{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: sampleTime, MsgType: "event", Event: "update_invoice_status", Raw: sample}, got[0])

	// Another event type, and a plain message.
	subscribe := "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1478068440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>"
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), []byte(subscribe))))
	text := "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1478068440</CreateTime><MsgType>text</MsgType><Content>hi &amp; bye</Content><MsgId>42</MsgId></xml>"
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), []byte(text))))
	require.Len(t, got, 3)
	require.Equal(t, "subscribe", got[1].Event)
	require.Equal(t, "text", got[2].MsgType)
	require.Equal(t, "", got[2].Event)

	// Nobody listening: acknowledged, no deduper involved.
	d := &failingDeduper{}
	h, err = NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime), Deduper: d})
	require.NoError(t, err)
	requireSuccess(t, serve(h, pushReq(t, pushConfig(""), sample)))
	require.Zero(t, d.claims.Load())
}

// TestEventGenericDedupeKeys: events without a typed callback are told apart
// by the fields that identify them, not only by user, second and event name:
// a user who receives or deletes two cards within one second pushes two
// user_get_card (user_del_card...) events that differ only in CardId and
// UserCardCode, and neither may be taken for a retry of the other.
func TestEventGenericDedupeKeys(t *testing.T) {
	for _, mode := range []string{"", "aes"} {
		t.Run("mode="+mode, func(t *testing.T) {
			h, c := newRecordingHandler(t, mode, nil)
			card := func(event, cardID, code string) []byte {
				return []byte("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>" +
					"<CreateTime>1478068440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[" + event + "]]></Event>" +
					"<CardId><![CDATA[" + cardID + "]]></CardId><UserCardCode><![CDATA[" + code + "]]></UserCardCode>" +
					"<IsGiveByFriend>0</IsGiveByFriend><OuterStr><![CDATA[]]></OuterStr></xml>")
			}
			pushes := [][]byte{
				card("user_get_card", "pCard1", "100001"),
				card("user_get_card", "pCard1", "100002"), // a second card of the same template
				card("user_get_card", "pCard2", "100001"),
				card("user_del_card", "pCard1", "100001"),
			}
			for i, x := range pushes {
				requireSuccess(t, serve(h, retry(t, mode, x, i)))
			}
			require.Len(t, c.generic, len(pushes), "every distinct card event is delivered")
			// WeChat's retries of them are still deduplicated.
			for i, x := range pushes {
				requireSuccess(t, serve(h, retry(t, mode, x, i+5)))
			}
			require.Len(t, c.generic, len(pushes))
		})
	}
}

func TestNewEventHandlerConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   EventConfig
		field string
	}{
		{"no token", EventConfig{}, "EventConfig.Token"},
		{"short key", EventConfig{Token: "t", EncodingAESKey: vecKey[:42], AppID: vecAppID}, "EventConfig.EncodingAESKey"},
		{"long key", EventConfig{Token: "t", EncodingAESKey: vecKey + "H", AppID: vecAppID}, "EventConfig.EncodingAESKey"},
		{"key not base64", EventConfig{Token: "t", EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCD-*G", AppID: vecAppID}, "EventConfig.EncodingAESKey"},
		{"key without appid", EventConfig{Token: "t", EncodingAESKey: vecKey}, "EventConfig.AppID"},
		{"previous key alone", EventConfig{Token: "t", PreviousEncodingAESKey: vecKey, AppID: vecAppID}, "EventConfig.PreviousEncodingAESKey"},
		{"bad previous key", EventConfig{Token: "t", EncodingAESKey: vecKey, PreviousEncodingAESKey: "short", AppID: vecAppID}, "EventConfig.PreviousEncodingAESKey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewEventHandler(tc.cfg)
			require.Nil(t, h)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			if tc.cfg.EncodingAESKey != "" {
				require.NotContains(t, err.Error(), tc.cfg.EncodingAESKey)
			}
		})
	}
}

// Through a real HTTP server, with the helpers users are meant to use.
func TestEventHandlerOverHTTP(t *testing.T) {
	h, c := newRecordingHandler(t, "aes", func(cfg *EventConfig) { cfg.Now = nil })
	srv := httptest.NewServer(h)
	defer srv.Close()

	pc := PushConfig{Token: vecToken, EncodingAESKey: vecKey, AppID: vecAppID} // now, random nonce
	ev := statusEvent("1001")
	ev.CreateTime = time.Now().Truncate(time.Second)
	for range 2 {
		req, err := NewPushRequest(context.Background(), srv.URL+"/wx", pc, InvoiceStatusEventXML(ev))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "success", string(body))
	}
	require.Equal(t, []*InvoiceStatusEvent{ev}, c.status)

	req, err := NewVerifyRequest(context.Background(), srv.URL+"/wx", pc, "hello")
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "hello", string(body))
}

func TestNewPushRequest(t *testing.T) {
	xml := InvoiceStatusEventXML(statusEvent("1001"))
	ts := "1478068440"

	pc := PushConfig{Token: vecToken, Timestamp: sampleTime, Nonce: "1372623149"}
	req, err := NewPushRequest(context.Background(), "http://p.example/wx", pc, xml)
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "text/xml", req.Header.Get("Content-Type"))
	require.Equal(t, "signature="+wxcrypto.Signature(vecToken, ts, "1372623149")+"&timestamp="+ts+
		"&nonce=1372623149&openid=ojZ8Ytz4lESgdWZ34L_R1TvB2Kds", req.URL.RawQuery)
	body, _ := io.ReadAll(req.Body)
	require.Equal(t, xml, body)

	pc.EncodingAESKey, pc.AppID = vecKey, vecAppID
	req, err = NewPushRequest(context.Background(), "http://p.example/wx", pc, xml)
	require.NoError(t, err)
	body, _ = io.ReadAll(req.Body)
	var f pushFields
	require.NoError(t, parsePush(string(body), &f))
	require.Equal(t, "gh_9e1765b5568e", f.ToUserName)
	require.Empty(t, f.FromUserName)
	require.NotEmpty(t, f.Encrypt)
	q := req.URL.Query()
	require.Equal(t, "aes", q.Get("encrypt_type"))
	require.Equal(t, wxcrypto.Signature(vecToken, ts, "1372623149", f.Encrypt), q.Get("msg_signature"))
	require.True(t, strings.HasSuffix(req.URL.RawQuery, "&encrypt_type=aes&msg_signature="+q.Get("msg_signature")))
	c, _ := wxcrypto.NewCipher(vecKey, vecAppID)
	msg, err := c.Decrypt(f.Encrypt)
	require.NoError(t, err)
	require.Equal(t, xml, msg)

	pc.Compat = true
	req, err = NewPushRequest(context.Background(), "http://p.example/wx", pc, xml)
	require.NoError(t, err)
	body, _ = io.ReadAll(req.Body)
	f = pushFields{}
	require.NoError(t, parsePush(string(body), &f))
	require.Equal(t, "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds", f.FromUserName)
	require.Equal(t, "1001", f.Code)
	require.NotEmpty(t, f.Encrypt)

	_, err = NewPushRequest(context.Background(), "http://p.example/wx", PushConfig{}, xml)
	require.Error(t, err)
	_, err = NewPushRequest(context.Background(), "http://p.example/wx", PushConfig{Token: "t", EncodingAESKey: "short", AppID: "a"}, xml)
	require.Error(t, err)
	_, err = NewPushRequest(context.Background(), "http://p.example/wx", PushConfig{Token: "t", EncodingAESKey: vecKey, AppID: "a", Compat: true}, []byte("not xml"))
	require.Error(t, err)
	// Malformed documents are sent as given (for refusal tests).
	req, err = NewPushRequest(context.Background(), "http://p.example/wx", PushConfig{Token: "t"}, []byte("<xml>"))
	require.NoError(t, err)
	body, _ = io.ReadAll(req.Body)
	require.Equal(t, "<xml>", string(body))
	// Random nonces are ten digits.
	req, err = NewPushRequest(context.Background(), "http://p.example/wx", PushConfig{Token: "t"}, xml)
	require.NoError(t, err)
	require.Regexp(t, `^[1-9][0-9]{9}$`, req.URL.Query().Get("nonce"))
}

func TestEventXMLBuilders(t *testing.T) {
	// The builder reproduces the official sample byte for byte.
	sample := readSample(t, "update_invoice_status.xml")
	got := InvoiceStatusEventXML(&InvoiceStatusEvent{ToUserName: "gh_9e1765b5568e", FromUserName: "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds",
		CreateTime: sampleTime, Status: ReimburseInit, CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: "186921658591"})
	require.Equal(t, strings.TrimSpace(string(sample)), string(got))
	cloud := readSample(t, "cloud_invoice_invoiceresult_event.xml")
	got = CloudInvoiceResultEventXML(&CloudInvoiceResultEvent{ToUserName: "toUser", FromUserName: "FromUser",
		CreateTime: time.Unix(123456789, 0), Fpqqlsh: "14574d75004451097886", Status: "100", Nsrsbh: "150001197205134629"})
	require.Equal(t, strings.TrimSpace(string(cloud)), string(got))
	title := readSample(t, "submit_invoice_title.xml")
	got = SubmitInvoiceTitleEventXML(&SubmitInvoiceTitleEvent{ToUserName: "toUser", FromUserName: "FromUser",
		CreateTime: time.Unix(123456789, 0), Title: "用户选择抬头", Phone: "12345", TaxNo: "1486715661", Addr: "abc",
		BankType: "bank_type", BankNo: "bank_type", Attach: "attach", TitleType: "InvoiceUserTitleBusinessType"})
	require.Equal(t, strings.TrimSpace(string(title)), string(got))

	// Values that need escaping survive the round trip.
	h, c := newRecordingHandler(t, "aes", nil)
	ev := statusEvent("a]]>b<c>&d")
	ev.CardID = " spaced "
	requireSuccess(t, serve(h, pushReq(t, pushConfig("aes"), InvoiceStatusEventXML(ev))))
	require.Equal(t, []*InvoiceStatusEvent{ev}, c.status)

	auth := &UserAuthorizeInvoiceEvent{ToUserName: "gh_1", FromUserName: "o1", CreateTime: sampleTime,
		SuccOrderID: "S1", FailOrderID: "F1", AppID: "wx1", Source: "web"}
	requireSuccess(t, serve(h, pushReq(t, pushConfig("aes"), UserAuthorizeInvoiceEventXML(auth))))
	require.Equal(t, []*UserAuthorizeInvoiceEvent{auth}, c.authorize)

	// A zero CreateTime is written as now.
	before := time.Now().Unix()
	var f pushFields
	require.NoError(t, parsePush(string(InvoiceStatusEventXML(&InvoiceStatusEvent{})), &f))
	sec, err := strconv.ParseInt(f.CreateTime, 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, sec, before)
}

// Two handlers sharing one Deduper stand for two instances. A retry that
// reaches B while A's callback still runs is answered 503 (WeChat asks
// again), not "success": A's callback may yet fail, and the push would be
// lost. Once A has failed and released the key, B processes the retry.
func TestEventRetryWhileProcessingElsewhere(t *testing.T) {
	t.Parallel()
	shared := NewMemoryDeduper(0)
	entered, release := make(chan struct{}), make(chan error)
	var calls atomic.Int32
	mk := func(slow bool) *EventHandler {
		h, err := NewEventHandler(EventConfig{Token: vecToken, Now: fixedClock(sampleTime), Deduper: shared,
			OnInvoiceStatus: func(context.Context, *InvoiceStatusEvent) error {
				calls.Add(1)
				if slow {
					close(entered)
					return <-release
				}
				return nil
			}})
		require.NoError(t, err)
		return h
	}
	a, b := mk(true), mk(false)
	xml := InvoiceStatusEventXML(statusEvent("2001"))

	first := make(chan int, 1)
	go func() { first <- serve(a, retry(t, "", xml, 0)).Code }()
	<-entered
	rec := serve(b, retry(t, "", xml, 1))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "in progress elsewhere")
	release <- errors.New("database down")
	require.Equal(t, http.StatusInternalServerError, <-first)
	requireSuccess(t, serve(b, retry(t, "", xml, 2)))
	require.EqualValues(t, 2, calls.Load())
	requireSuccess(t, serve(a, retry(t, "", xml, 3)))
	require.EqualValues(t, 2, calls.Load(), "processed: acknowledged without a callback")
}

// The first occurrence of a query parameter wins, even when it is empty (as
// url.Values.Get): an appended second signature cannot stand in for it.
func TestParseQueryFirstOccurrenceWins(t *testing.T) {
	t.Parallel()
	var q pushQuery
	require.True(t, parseQuery("signature=&timestamp=1&signature=abc&nonce=n&timestamp=2", &q))
	require.Equal(t, "", q.signature)
	require.Equal(t, "1", q.timestamp)
	require.Equal(t, "n", q.nonce)
}

// sealedCase is an encrypted push whose msg_signature is valid (whoever
// holds the Token can compute it) but whose ciphertext or plaintext is bad.
type sealedCase struct{ name, encrypt string }

// sealedCases crafts, for key and appID, a ciphertext for each way
// decryption can fail, and one ciphertext per bad message in msgs.
func sealedCases(t testing.TB, key, appID, good string, msgs map[string]string) []sealedCase {
	t.Helper()
	padded := func(msg, app string) []byte {
		n := 20 + len(msg) + len(app)
		p := goodPadding(n)
		return plainLayout(msg, app, uint32(len(msg)), p, byte(p))
	}
	withPad := func(mutate func(p []byte)) string {
		p := padded(good, appID)
		mutate(p)
		return rawEncrypt(t, key, p)
	}
	other, err := wxcrypto.NewCipher(v3bKey, appID)
	require.NoError(t, err)
	otherKey, err := other.Encrypt([]byte(good))
	require.NoError(t, err)
	short := make([]byte, 32) // a header cut short: 32 bytes of padding 32
	for i := range short {
		short[i] = 32
	}
	msg33 := good + strings.Repeat(" ", 31-(20+len(good)+len(appID))%32)
	cases := []sealedCase{
		{"not base64", "!!notbase64!!"},
		{"unpadded base64", strings.TrimRight(rawEncrypt(t, key, padded(good, appID)), "=") + "A"},
		{"three bytes", "AAAA"},
		{"not whole blocks", base64.StdEncoding.EncodeToString(make([]byte, 40))},
		{"padding 0", withPad(func(p []byte) { p[len(p)-1] = 0 })},
		{"padding 33", rawEncrypt(t, key, plainLayout(msg33, appID, uint32(len(msg33)), 1, 33))},
		{"inconsistent padding", withPad(func(p []byte) { p[len(p)-2] ^= 0x40 })},
		{"header cut short", rawEncrypt(t, key, short)},
		{"length prefix past the end", withPad(func(p []byte) {
			binary.BigEndian.PutUint32(p[16:], uint32(len(good)+len(appID)+1))
		})},
		{"length prefix short", withPad(func(p []byte) { binary.BigEndian.PutUint32(p[16:], uint32(len(good)-1)) })},
		{"wrong appid", rawEncrypt(t, key, padded(good, "wx0000000000000000"))},
		{"no appid", rawEncrypt(t, key, padded(good, ""))},
		{"another key", otherKey},
	}
	c, err := wxcrypto.NewCipher(key, appID)
	require.NoError(t, err)
	for name, msg := range msgs {
		enc, err := c.Encrypt([]byte(msg))
		require.NoError(t, err)
		cases = append(cases, sealedCase{"message " + name, enc})
	}
	return cases
}

// sealedReq builds an encrypted push of encrypt in envelope (with %s for
// the Encrypt value), signed with token: signature and msg_signature valid.
func sealedReq(token, ts, envelope, encrypt string) *http.Request {
	q := "signature=" + wxcrypto.Signature(token, ts, "42") + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" +
		wxcrypto.Signature(token, ts, "42", encrypt)
	return httptest.NewRequest(http.MethodPost, "/wx?"+q, strings.NewReader(strings.Replace(envelope, "%s", encrypt, 1)))
}

// requireOneAnswer serves each request to a fresh handler from mk and
// requires one status, one body, one set of headers and one log record
// (level, message, status, reason) for all of them, and no callback.
func requireOneAnswer(t *testing.T, cases []sealedCase, serveCase func(c sealedCase, log *slog.Logger) (*httptest.ResponseRecorder, int)) {
	t.Helper()
	type answer struct {
		Code          int
		Body          string
		Header        http.Header
		Level, Msg    string
		Status        int
		Reason        string
		Records       int
		HasCauseField bool
	}
	var first *answer
	var firstName string
	for _, c := range cases {
		var logs bytes.Buffer
		rec, callbacks := serveCase(c, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		require.Zero(t, callbacks, "%s: a callback ran", c.name)
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		var rec0 struct {
			Level, Msg string
			Status     int    `json:"status"`
			Reason     string `json:"reason"`
			Cause      string `json:"cause"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec0), "%s: %s", c.name, logs.String())
		a := &answer{Code: rec.Code, Body: rec.Body.String(), Header: rec.Header(), Level: rec0.Level, Msg: rec0.Msg,
			Status: rec0.Status, Reason: rec0.Reason, Records: len(lines), HasCauseField: rec0.Cause != ""}
		if first == nil {
			first, firstName = a, c.name
			require.GreaterOrEqual(t, a.Code, 400)
			require.Less(t, a.Code, 500)
			continue
		}
		require.Equal(t, first, a, "%q and %q are told apart", firstName, c.name)
	}
}

// TestEventSealedFailuresLookAlike: with the Token but not the
// EncodingAESKey, an attacker can sign any Encrypt value. Whatever is wrong
// with the ciphertext or the message inside, the answer is the same, so it
// cannot serve as a padding (or plaintext) oracle.
func TestEventSealedFailuresLookAlike(t *testing.T) {
	t.Parallel()
	ts := "1478068440"
	sample := string(readSample(t, "update_invoice_status.xml"))
	del := func(s string) string { return strings.Replace(sample, s, "", 1) }
	cases := sealedCases(t, vecKey, vecAppID, sample, map[string]string{
		"empty":              "",
		"not XML":            "我是中文abcd123",
		"truncated":          sample[:len(sample)-3],
		"DOCTYPE":            "<!DOCTYPE xml>" + sample,
		"DOCTYPE in CDATA":   strings.Replace(sample, "186921658591", "<!DOCTYPE", 1),
		"duplicate Code":     strings.Replace(sample, "</Code>", "</Code><Code>1</Code>", 1),
		"no CreateTime":      del("<CreateTime>1478068440</CreateTime>"),
		"CreateTime not int": strings.Replace(sample, "1478068440", "soon", 1),
		"no MsgType":         del("<MsgType><![CDATA[event]]></MsgType>"),
		"wrong root":         strings.ReplaceAll(sample, "xml>", "doc>"),
	})
	envelope := "<xml><ToUserName><![CDATA[gh_9e1765b5568e]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>"
	for _, compat := range []bool{false, true} {
		env := envelope
		if compat {
			env = strings.Replace(sample, "</xml>", "<Encrypt><![CDATA[%s]]></Encrypt></xml>", 1)
		}
		t.Run(fmt.Sprintf("compat=%v", compat), func(t *testing.T) {
			requireOneAnswer(t, cases, func(c sealedCase, log *slog.Logger) (*httptest.ResponseRecorder, int) {
				h, calls := newRecordingHandler(t, "aes", func(cfg *EventConfig) {
					cfg.Logger = log
					cfg.PreviousEncodingAESKey = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
				})
				return serve(h, sealedReq(vecToken, ts, env, c.encrypt)), calls.total()
			})
		})
	}
	// The same handler accepts the good message (the cases differ from a
	// valid push only in what they break).
	h, c := newRecordingHandler(t, "aes", nil)
	enc, err := wxcrypto.NewCipher(vecKey, vecAppID)
	require.NoError(t, err)
	good, err := enc.Encrypt([]byte(sample))
	require.NoError(t, err)
	requireSuccess(t, serve(h, sealedReq(vecToken, ts, envelope, good)))
	require.Equal(t, 1, c.total())
}

// blockingBody is a request body that never arrives: Read blocks until the
// test ends, and records that it was called.
type blockingBody struct {
	read chan struct{} // closed by the first Read
	once sync.Once
	done chan struct{}
}

func newBlockingBody(t *testing.T) *blockingBody {
	b := &blockingBody{read: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(b.done) })
	return b
}

func (b *blockingBody) Read([]byte) (int, error) {
	b.once.Do(func() { close(b.read) })
	<-b.done
	return 0, io.ErrUnexpectedEOF
}

func (b *blockingBody) Close() error { return nil }

// serveUnread serves req, whose body never arrives, and requires the handler
// to answer without reading it.
func serveUnread(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	body := newBlockingBody(t)
	req.Body, req.ContentLength = body, 1000
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); h.ServeHTTP(rec, req) }()
	select {
	case <-done:
	case <-body.read:
		t.Fatal("the handler reads the body of a request it could refuse from its query")
	case <-time.After(30 * time.Second):
		t.Fatal("the handler did not return")
	}
	select {
	case <-body.read:
		t.Fatal("the body was read")
	default:
	}
	require.Equal(t, "close", rec.Header().Get("Connection"))
	return rec
}

// unauthenticatedQueries are queries a push can be refused for before its
// body is read: each is a valid safe-mode query (for handler token) with one
// thing wrong.
func unauthenticatedQueries(token string, now time.Time) map[string]struct {
	query string
	code  int
} {
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Unix()-301, 10)
	sig := wxcrypto.Signature(token, ts, "42")
	msgSig := wxcrypto.Signature(token, ts, "42", "anything")
	return map[string]struct {
		query string
		code  int
	}{
		"no signature":          {"timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 403},
		"empty signature":       {"signature=&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 403},
		"bad signature":         {"signature=" + strings.Repeat("0", 40) + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 403},
		"signature of another":  {"signature=" + wxcrypto.Signature("other", ts, "42") + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 403},
		"no msg_signature":      {"signature=" + sig + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes", 403},
		"malformed msg_sig":     {"signature=" + sig + "&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + strings.ToUpper(msgSig), 403},
		"timestamp out of date": {"signature=" + wxcrypto.Signature(token, old, "42") + "&timestamp=" + old + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 403},
		"no timestamp":          {"signature=" + sig + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 400},
		"plaintext push":        {"signature=" + sig + "&timestamp=" + ts + "&nonce=42", 400},
		"malformed query":       {"signature=%zz&timestamp=" + ts + "&nonce=42&encrypt_type=aes&msg_signature=" + msgSig, 400},
	}
}

// TestEventUnauthenticatedBodyNotRead: a push whose query signatures or
// timestamp are missing or wrong is refused without waiting for its body,
// which a slow client may never send.
func TestEventUnauthenticatedBodyNotRead(t *testing.T) {
	t.Parallel()
	t.Run("safe mode", func(t *testing.T) {
		t.Parallel()
		for name, tc := range unauthenticatedQueries(vecToken, sampleTime) {
			h, c := newRecordingHandler(t, "aes", nil)
			rec := serveUnread(t, h, httptest.NewRequest(http.MethodPost, "/wx?"+tc.query, nil))
			require.Equal(t, tc.code, rec.Code, "%s: %s", name, rec.Body.String())
			require.Zero(t, c.total())
		}
	})
	t.Run("plaintext mode", func(t *testing.T) {
		t.Parallel()
		ts := "1478068440"
		for name, q := range map[string]string{
			"no signature":  "timestamp=" + ts + "&nonce=42",
			"bad signature": "signature=" + strings.Repeat("0", 40) + "&timestamp=" + ts + "&nonce=42",
			"out of date":   "signature=" + wxcrypto.Signature(vecToken, "1478068139", "42") + "&timestamp=1478068139&nonce=42",
		} {
			h, c := newRecordingHandler(t, "", nil)
			rec := serveUnread(t, h, httptest.NewRequest(http.MethodPost, "/wx?"+q, nil))
			require.Equal(t, http.StatusForbidden, rec.Code, "%s: %s", name, rec.Body.String())
			require.Zero(t, c.total())
		}
	})
	t.Run("body too large", func(t *testing.T) {
		t.Parallel()
		h, _ := newRecordingHandler(t, "", nil)
		req := plainReq(vecToken, "1478068440", "")
		body := newBlockingBody(t)
		req.Body, req.ContentLength = body, DefaultEventMaxBodyBytes+1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		require.Equal(t, "close", rec.Header().Get("Connection"))
	})
}

// TestEventUnauthenticatedSlowBodyOverHTTP: through a real server without
// any timeout, a client that sends the headers of an unauthenticated push
// and never its body gets its 403, and the server closes the connection
// instead of waiting for the body.
func TestEventUnauthenticatedSlowBodyOverHTTP(t *testing.T) {
	t.Parallel()
	h, c := newRecordingHandler(t, "aes", func(cfg *EventConfig) { cfg.Now = nil })
	srv := httptest.NewServer(h)
	defer srv.Close()
	q := unauthenticatedQueries(vecToken, time.Now())["no signature"].query

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second))) // a hang fails, not a slow machine
	_, err = io.WriteString(conn, "POST /wx?"+q+" HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<xml>")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "no answer while the body is pending")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(b))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the connection rather than wait for the body")
	require.Zero(t, c.total())
}

// readBody reads the whole body whatever length is announced (unknown, zero,
// short, long), and reports the limit of http.MaxBytesReader.
func TestReadBody(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("<xml>x</xml>", 100)
	for _, n := range []int64{-1, 0, 1, int64(len(body)) - 10, int64(len(body)), int64(len(body)) + 100} {
		got, err := readBody(strings.NewReader(body), n)
		require.NoError(t, err, n)
		require.Equal(t, body, string(got), n)
	}
	rec := httptest.NewRecorder()
	_, err := readBody(http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(body)), 100), int64(len(body)))
	var tooLarge *http.MaxBytesError
	require.ErrorAs(t, err, &tooLarge)
}
