package wxinvoice

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGetUserTitleURLWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/biz/getusertitleurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Quick__CardInvoiceBusinessGetUserTitleUrlRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Quick__CardInvoiceBusinessGetUserTitleUrlResponse.json")))
	})
	u, err := ts.client(t).GetUserTitleURL(bg, &GetUserTitleURLRequest{Title: "用户抬头", Phone: "12345", TaxNo: "1486715052",
		Addr: "abc", BankType: "bank_type", BankNo: "bank_no"})
	require.NoError(t, err)
	require.Equal(t, "https://mp.weixin.qq.com/intp/invoice/usertitle?action=list_auth&biz_title_key=hMjjwk#wechat_redirect", u)
}

func TestGetUserTitleURLUserFill(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/biz/getusertitleurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, `{"user_fill":1,"out_title_id":"kp-1"}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","url":"u"}`))
	})
	u, err := ts.client(t).GetUserTitleURL(bg, &GetUserTitleURLRequest{UserFill: true, OutTitleID: "kp-1"})
	require.NoError(t, err)
	require.Equal(t, "u", u)
}

func TestGetSelectTitleURLWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/biz/getselecttitleurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Quick__CardInvoiceBusinessGetSelectTitleUrlRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Quick__CardInvoiceBusinessGetSelectTitleUrlResponse.json")))
	})
	c := ts.client(t)
	u, err := c.GetSelectTitleURL(bg, &GetSelectTitleURLRequest{Attach: "abcdefg"})
	require.NoError(t, err)
	require.Equal(t, "https://mp.weixin.qq.com/intp/invoice/usertitle?action=select_title&select_title_key=iY1bpfvAuwKgkfQECzlhog#wechat_redirect", u)
}

func TestGetSelectTitleURLNilSendsEmptyObject(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/biz/getselecttitleurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, `{}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","url":"u"}`))
	})
	_, err := ts.client(t).GetSelectTitleURL(bg, nil)
	require.NoError(t, err)
}

func TestScanTitleWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/scantitle", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Quick__CardInvoiceBusinessScanTitleRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Quick__CardInvoiceBusinessScanTitleResponse.json")))
	})
	ts.mux.HandleFunc("/card/invoice/biz/scantitle", func(w http.ResponseWriter, r *http.Request) {
		t.Error("scantitle is not under /biz/")
	})
	title, err := ts.client(t).ScanTitle(bg, "https//mp.weixingg.com/intp/invoice/usertitlewxa?action=list_auth&invoice_key=abcd")
	require.NoError(t, err)
	require.Equal(t, &UserTitle{Type: TitleTypeBusiness, Title: "单位抬头测试", Phone: "12345", TaxNo: "aaaaaaaaaa123456",
		Addr: "1496647324", BankType: "bank_type", BankNo: "1235456465341234"}, title)
}

func TestScanTitleExpired(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/scantitle", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":72044,"errmsg":"scan text out of time"}`))
	})
	_, err := ts.client(t).ScanTitle(bg, "x")
	require.ErrorIs(t, err, ErrScanTextExpired)
}
