package wxinvoice

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGetInvoiceInfoWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/reimburse/getinvoiceinfo", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceInfoRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceInfoResponse.json")))
	})
	inv, err := ts.client(t).GetInvoiceInfo(bg, &InvoiceRef{CardID: "pjZ8Yt5crPbAouhFqFf6JFgZv4Lc", EncryptCode: "fbdt/fWy1VitQwhbKtSjNeR3BJyfpeJXfZjjGsdCXiM="})
	require.NoError(t, err)
	require.Equal(t, &ReimburseInvoice{
		CardID: "pjZ8Yt5crPbAouhFqFf6JFgZv4Lc", OpenID: "obLatjnG4vRXJvSO8p914rSK8-Vo", Type: "广东省增值税普通发票",
		Payee: "测试-收款方", Detail: "测试-detail", BeginTime: time.Unix(1476068114, 0), EndTime: time.Unix(1476168114, 0),
		UserCardStatus: "EXPIRE",
		Invoice: ReimburseInvoiceData{
			Fee: 1100, Title: "XX公司", BillingTime: time.Unix(1468322401, 0), BillingNo: "hello", BillingCode: "world",
			Items: []InvoiceItem{{Name: "绿巨人", Num: 10, Unit: "吨", Price: 4}}, FeeWithoutTax: 2345, Tax: 123,
			PDFURL: "pdf_url", Status: ReimburseInit,
		},
	}, inv)
}

func TestGetInvoiceBatchWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/reimburse/getinvoicebatch", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceBatchRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceBatchResponse.json")))
	})
	// The official sample's encrypt_codes end in a space; they are sent as given.
	resp, err := ts.client(t).GetInvoiceBatch(bg, &GetInvoiceBatchRequest{Invoices: []InvoiceRef{
		{CardID: "pjZ8Yt7KKEXWMpETmwG2ZZxX2m6E", EncryptCode: "O/mPnGTpBu22a1szmK2 "},
		{CardID: "pjZ8YtxSguaLUaaDqzeAf385soJM", EncryptCode: "O/mPnGTpBu22a1szmK2ogz "},
	}})
	require.NoError(t, err)
	require.Len(t, resp.Invoices, 2)
	item := func(card string, billing int64, order, pdf string) ReimburseInvoice {
		return ReimburseInvoice{CardID: card, OpenID: "oZI8Fj8L63WugQsljlzzfCcw3AkQ", Type: "广东省增值税普通发票", Payee: "测试-收款方", Detail: "detail",
			Invoice: ReimburseInvoiceData{Fee: 123, Title: "灌哥发票", BillingTime: time.Unix(billing, 0), BillingNo: strconv.FormatInt(billing, 10),
				BillingCode: "aabbccdd", Items: []InvoiceItem{{Name: "牙膏", Num: 3, Unit: "个", Price: 10000}}, FeeWithoutTax: 2345, Tax: 123,
				PDFURL: pdf, Status: ReimburseInit, OrderID: order, CheckCode: "check_code", BuyerNumber: "buyer_number"}}
	}
	require.Equal(t, item("pjZ8Yt7KKEXWMpETmwG2ZZxX2m6E", 1504085973, "1504085935", "http://pdfurl"), resp.Invoices[0])
	require.Equal(t, item("pjZ8YtxSguaLUaaDqzeAf385soJM", 1504083578, "1504083522", " http://pdfurl"), resp.Invoices[1])
}

func TestReimburseTripPDFBothSpellings(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"trip_pdf_url", "trip_pdf_ur"} {
		ts := newTestServer(t)
		ts.mux.HandleFunc("/card/invoice/reimburse/getinvoiceinfo", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","card_id":"c","openid":"o","user_info":{"fee":"100","billing_time":"1468322401",
				"pdf_url":"https://p/1","` + field + `":"https://p/trip","reimburse_status":"INVOICE_REIMBURSE_LOCK"}}`))
		})
		inv, err := ts.client(t).GetInvoiceInfo(bg, &InvoiceRef{CardID: "c", EncryptCode: "e"})
		require.NoError(t, err, field)
		require.Equal(t, "https://p/trip", inv.Invoice.TripPDFURL, field)
		require.Equal(t, int64(100), inv.Invoice.Fee, "numeric strings decode")
		require.Equal(t, time.Unix(1468322401, 0), inv.Invoice.BillingTime)
		require.Equal(t, ReimburseLock, inv.Invoice.Status)
		require.True(t, inv.BeginTime.IsZero())
	}
}

func TestUpdateInvoiceStatusWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/reimburse/updateinvoicestatus", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseUpdateInvoiceStatusRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "pjZ8Yt5crPbAouhFqFf6JFgZv4Lc",
		EncryptCode: "fbdt/fWy1VitQwhbKtSjNeR3BJyfpeJXfZjjGsdCXiM=", Status: ReimburseInit})
	require.NoError(t, err)
}

func TestUpdateInvoiceStatusLockedByOthers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/reimburse/updateinvoicestatus", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":72023,"errmsg":"invoice has been lock by others"}`))
	})
	err := ts.client(t).UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "c", EncryptCode: "e", Status: ReimburseLock})
	require.ErrorIs(t, err, ErrInvoiceLocked)
}

func TestUpdateStatusBatchWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	// The official sample has placeholders; filled with the values sent.
	want := strings.NewReplacer("{openid}", "oZI8Fj8L63WugQsljlzzfCcw3AkQ", "{reimburse_status}", "INVOICE_REIMBURSE_CLOSURE").
		Replace(fixture(t, "CardInvoice__Reimburse__CardInvoiceReimburseUpdateStatusBatchRequest.json"))
	ts.mux.HandleFunc("/card/invoice/reimburse/updatestatusbatch", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, want, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "oZI8Fj8L63WugQsljlzzfCcw3AkQ", Status: ReimburseClosure,
		Invoices: []InvoiceRef{{CardID: "cardid_1", EncryptCode: "encrypt_code_1"}, {CardID: "cardid_2", EncryptCode: "encrypt_code_2"}}})
	require.NoError(t, err)
}

// Every number a reimburser reads decodes from a JSON number or a numeric
// string (WeChat types numbers loosely), the line items' num and
// price included: one quoted price must not fail the whole invoice.
func TestReimburseItemsNumericStrings(t *testing.T) {
	t.Parallel()
	item := `{"name":"牙膏","num":"3","unit":"个","price":"10000"}`
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/reimburse/getinvoiceinfo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","card_id":"c","openid":"o","user_info":{"fee":"30000","info":[` + item + `],
			"reimburse_status":"INVOICE_REIMBURSE_INIT"}}`))
	})
	ts.mux.HandleFunc("/card/invoice/reimburse/getinvoicebatch", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","item_list":[{"card_id":"c","openid":"o","user_info":{"info":[` + item + `]}}]}`))
	})
	want := []InvoiceItem{{Name: "牙膏", Num: 3, Unit: "个", Price: 10000}}
	c := ts.client(t)
	inv, err := c.GetInvoiceInfo(bg, &InvoiceRef{CardID: "c", EncryptCode: "e"})
	require.NoError(t, err)
	require.Equal(t, want, inv.Invoice.Items)
	batch, err := c.GetInvoiceBatch(bg, &GetInvoiceBatchRequest{Invoices: []InvoiceRef{{CardID: "c", EncryptCode: "e"}}})
	require.NoError(t, err)
	require.Len(t, batch.Invoices, 1)
	require.Equal(t, want, batch.Invoices[0].Invoice.Items)
}
