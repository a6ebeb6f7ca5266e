package wxinvoicetest

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func TestTitleURLs(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	u := decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getusertitleurl", tok, wire.UserTitleURLRequest{Title: "用户抬头", TaxNo: "1486715052"})).URL
	require.True(t, strings.HasPrefix(u, "https://mp.weixin.qq.com/intp/invoice/usertitle?action=list_auth&biz_title_key="), u)
	require.True(t, strings.HasSuffix(u, "#wechat_redirect"))
	requireCode(t, 0, post(t, srv, "/card/invoice/biz/getusertitleurl", tok, wire.UserTitleURLRequest{UserFill: 1}))
	requireCode(t, 72031, post(t, srv, "/card/invoice/biz/getusertitleurl", tok, wire.UserTitleURLRequest{Phone: "1"}), "title needed")
	requireCode(t, 72031, post(t, srv, "/card/invoice/biz/getusertitleurl", tok, wire.UserTitleURLRequest{UserFill: 2, Title: "t"}))

	s := decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getselecttitleurl", tok, wire.SelectTitleURLRequest{Attach: "desk-3"})).URL
	require.True(t, strings.HasPrefix(s, "https://mp.weixin.qq.com/intp/invoice/usertitle?action=select_title&select_title_key="), s)
	require.NotEqual(t, s, decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getselecttitleurl", tok, "{}")).URL)
}

func TestScanTitle(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	title := wxinvoice.UserTitle{Type: wxinvoice.TitleTypeBusiness, Title: "单位抬头测试", TaxNo: "aaaaaaaaaa123456", Addr: "addr",
		Phone: "12345", BankType: "bank_type", BankNo: "1235456465341234"}
	text := srv.AddUserTitle(title)
	got := decodeOK[wire.ScanTitleResponse](t, post(t, srv, "/card/invoice/scantitle", tok, wire.ScanTitleRequest{ScanText: text}))
	require.Equal(t, wire.ScanTitleResponse{Status: got.Status, TitleType: 0, Title: "单位抬头测试", TaxNo: "aaaaaaaaaa123456", Addr: "addr",
		Phone: "12345", BankType: "bank_type", BankNo: "1235456465341234"}, got)
	person := srv.AddUserTitle(wxinvoice.UserTitle{Type: wxinvoice.TitleTypePerson, Title: "张三"})
	require.Equal(t, wire.Int(1), decodeOK[wire.ScanTitleResponse](t, post(t, srv, "/card/invoice/scantitle", tok, wire.ScanTitleRequest{ScanText: person})).TitleType)

	requireCode(t, 72044, post(t, srv, "/card/invoice/scantitle", tok, wire.ScanTitleRequest{ScanText: "https://mp.weixin.qq.com/unknown"}))
	requireCode(t, 72031, post(t, srv, "/card/invoice/scantitle", tok, wire.ScanTitleRequest{}))
	resp, _ := send(t, "POST", apiURL(srv, "/card/invoice/biz/scantitle", tok), "application/json", []byte(`{"scan_text":"x"}`))
	require.Equal(t, 404, resp.StatusCode, "scantitle is not under /biz/")
}

type titleXML struct {
	FromUserName, Event string
	Title               string `xml:"title"`
	TaxNo               string `xml:"tax_no"`
	Attach              string `xml:"attach"`
	TitleType           string `xml:"title_type"`
}

func TestUserSubmitTitlePush(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	srv := start(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	tok := stableToken(t, srv)
	u := decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getselecttitleurl", tok, wire.SelectTitleURLRequest{Attach: "desk-3", BizName: "某店"})).URL
	require.Error(t, srv.UserSubmitTitle("https://unknown", "ouser", wxinvoice.UserTitle{}))
	require.NoError(t, srv.UserSubmitTitle(u, "ouser", wxinvoice.UserTitle{Type: wxinvoice.TitleTypeBusiness, Title: "某公司", TaxNo: "91440101"}))
	require.NoError(t, srv.UserSubmitTitle(u, "ouser", wxinvoice.UserTitle{Type: wxinvoice.TitleTypePerson, Title: "张三"}))
	srv.WaitPushes()
	got := rc.pushes()
	require.Len(t, got, 2)
	var ev titleXML
	require.NoError(t, xml.Unmarshal(got[0].body, &ev))
	require.Equal(t, titleXML{FromUserName: "ouser", Event: "submit_invoice_title", Title: "某公司", TaxNo: "91440101", Attach: "desk-3",
		TitleType: "InvoiceUserTitleBusinessType"}, ev)
	require.NoError(t, xml.Unmarshal(got[1].body, &ev))
	require.Equal(t, "InvoiceUserTitlePersonType", ev.TitleType)
	require.Equal(t, wxinvoice.EventSubmitInvoiceTitle, srv.Pushes()[0].Name)
}
