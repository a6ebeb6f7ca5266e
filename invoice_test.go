package wxinvoice

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSetURLWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/seturl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, `{}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__CardInvoiceSetUrlResponse.json")))
	})
	resp, err := ts.client(t).SetURL(bg)
	require.NoError(t, err)
	require.Equal(t, "https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=d3xxxxxxxxxxxxxGLSS0wrL14No8c1", resp.InvoiceURL)
	require.Equal(t, "d3xxxxxxxxxxxxxGLSS0wrL14No8c1", resp.SPAppID)
}

func TestCreateCardWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/platform/createcard", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Platform__CardInvoicePlatformCreateCardRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Platform__CardInvoicePlatformCreateCardResponse.json")))
	})
	resp, err := ts.client(t).CreateCard(bg, &CreateCardRequest{
		Payee: " 测试 - 收款方 ", Type: " 广东省增值税普通发票 ",
		BaseInfo: CardBaseInfo{
			LogoURL: "http://mmbiz.qpic.cn/mmbiz/iaL1LJM1mF9aRKPZJkmG8xXhiaHqkKSVMMWeN3hLut7X7hicFNjakmxibMLGWpXrEXB33367o7zHN0CwngnQY7zb7g/0",
			Title:   "xx公司", CustomURLName: "xyz", CustomURL: "xyz", CustomURLSubTitle: "xyz",
			PromotionURLName: "puname", PromotionURL: "purl", PromotionURLSubTitle: "ptitle",
		},
	})
	require.NoError(t, err)
	require.Equal(t, "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", resp.CardID)
}

// sampleInsert is the official insert sample as a Go request.
func sampleInsert() *InsertInvoiceRequest {
	return &InsertInvoiceRequest{
		OrderID: "111163", CardID: "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", AppID: "wxc0b84a53ed8e8d29", NonceStr: "j!Re1WxaHv",
		Invoice: InvoiceData{
			Fee: 123, Title: "灌哥发票", BillingTime: time.Unix(1468306058, 0), BillingNo: "4545145712", BillingCode: "4541212454512",
			Items: []InvoiceItem{{Name: "牙膏", Num: 3, Unit: "个", Price: 10000}}, FeeWithoutTax: 2345, Tax: 123,
			PDFMediaID: "s_pdf_media_id_abc123", BuyerNumber: "123456789012345678",
		},
	}
}

// The official sample writes billing_time as a string; the API reference
// types it as a number, which is what the SDK sends.
const sampleInsertWire = `{
  "order_id": "111163", "card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", "appid": "wxc0b84a53ed8e8d29",
  "card_ext": {"nonce_str": "j!Re1WxaHv", "user_card": {"invoice_user_data": {
    "info": [{"price": 10000, "num": 3, "name": "牙膏", "unit": "个"}],
    "billing_no": "4545145712", "billing_code": "4541212454512", "billing_time": 1468306058,
    "tax": 123, "s_pdf_media_id": "s_pdf_media_id_abc123", "fee": 123, "title": "灌哥发票",
    "fee_without_tax": 2345, "buyer_number": "123456789012345678"}}}}`

func TestInsertInvoiceWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/insert", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, sampleInsertWire, string(testRequest(t, r, "POST")))
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__CardInvoiceInsertResponse.json")))
	})
	resp, err := ts.client(t).InsertInvoice(bg, sampleInsert())
	require.NoError(t, err)
	require.Equal(t, &InsertInvoiceResponse{Code: "682xxxx661927", OpenID: "ojZ8Ytz4lESxxxx_R1TvB2Kds"}, resp)
}

func TestInsertInvoiceGeneratesNonce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	nonces := map[string]bool{}
	ts.mux.HandleFunc("/card/invoice/insert", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			CardExt struct {
				NonceStr string `json:"nonce_str"`
			} `json:"card_ext"`
		}
		require.NoError(t, jsonUnmarshal(testRequest(t, r, "POST"), &body))
		require.Len(t, body.CardExt.NonceStr, 16)
		nonces[body.CardExt.NonceStr] = true
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "code": "1", "openid": "o"})
	})
	c := ts.client(t)
	for i := 0; i < 2; i++ {
		req := sampleInsert()
		req.NonceStr = ""
		_, err := c.InsertInvoice(bg, req)
		require.NoError(t, err)
	}
	require.Len(t, nonces, 2)
}

func TestDecryptCodeWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, `{"encrypt_code":"XXIzTtMqCxwOaawoE91+VJdsFmv7b8g0VZIZkqf4GWA60Fzpc8ksZ/5ZZ0DVkXdE"}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"751234212312"}`))
	})
	code, err := ts.client(t).DecryptCode(bg, "XXIzTtMqCxwOaawoE91+VJdsFmv7b8g0VZIZkqf4GWA60Fzpc8ksZ/5ZZ0DVkXdE")
	require.NoError(t, err)
	require.Equal(t, "751234212312", code)
}

func TestValidationSendsNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits int
	ts.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits++ })
	c := ts.client(t)
	mut := func(f func(r *InsertInvoiceRequest)) *InsertInvoiceRequest { r := sampleInsert(); f(r); return r }
	cases := []struct {
		field string
		call  func() error
	}{
		{"req", func() error { _, err := c.InsertInvoice(bg, nil); return err }},
		{"OrderID", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.OrderID = "" }))
			return err
		}},
		{"CardID", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.CardID = "" }))
			return err
		}},
		{"AppID", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.AppID = "" }))
			return err
		}},
		{"Invoice.Fee", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.Fee = -1 }))
			return err
		}},
		{"Invoice.Tax", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.Tax = -1 }))
			return err
		}},
		{"Invoice.FeeWithoutTax", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.FeeWithoutTax = -5 }))
			return err
		}},
		{"Invoice.Title", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.Title = "" }))
			return err
		}},
		{"Invoice.BillingTime", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.BillingTime = time.Time{} }))
			return err
		}},
		{"Invoice.BillingNo", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.BillingNo = "" }))
			return err
		}},
		{"Invoice.PDFMediaID", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.PDFMediaID = "" }))
			return err
		}},
		{"Invoice.Items[0].Price", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.Items[0].Price = -1 }))
			return err
		}},
		{"Invoice.Items[0].Name", func() error {
			_, err := c.InsertInvoice(bg, mut(func(r *InsertInvoiceRequest) { r.Invoice.Items[0].Name = "" }))
			return err
		}},
		{"Payee", func() error {
			_, err := c.CreateCard(bg, &CreateCardRequest{Type: "t", BaseInfo: CardBaseInfo{LogoURL: "l", Title: "x"}})
			return err
		}},
		{"BaseInfo.LogoURL", func() error { _, err := c.CreateCard(bg, &CreateCardRequest{Payee: "p", Type: "t"}); return err }},
		{"Status", func() error {
			return c.UpdateStatus(bg, &UpdateStatusRequest{CardID: "c", Code: "1", Status: "INVOICE_REIMBURSE_VOID"})
		}},
		{"Code", func() error { return c.UpdateStatus(bg, &UpdateStatusRequest{CardID: "c", Status: ReimburseLock}) }},
		{"encryptCode", func() error { _, err := c.DecryptCode(bg, ""); return err }},
		{"sMediaID", func() error { _, err := c.GetPDF(bg, ""); return err }},
		{"Bill.BillingCode", func() error {
			r := sampleBill()
			r.Bill.BillingCode = ""
			_, err := c.InsertBill(bg, r)
			return err
		}},
		{"Bill.Fee", func() error { r := sampleBill(); r.Bill.Fee = -3; _, err := c.InsertBill(bg, r); return err }},
	}
	for _, tc := range cases {
		err := tc.call()
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, tc.field)
		require.Equal(t, tc.field, ve.Field)
		require.Contains(t, err.Error(), tc.field)
	}
	require.Zero(t, hits, "validation must not send anything")
	require.Zero(t, ts.tokenCalls.Load(), "validation must not even fetch a token")
}
