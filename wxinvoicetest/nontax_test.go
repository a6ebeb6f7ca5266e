package wxinvoicetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func validBill(srv *Server, cardID, mediaID, orderID, billingNo string) *wire.InsertRequest {
	return &wire.InsertRequest{
		OrderID: orderID, CardID: cardID, AppID: srv.AppID,
		CardExt: wire.CardExt{UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{
			Fee: 1500, Title: "某某市财政局", BillingTime: wire.Int(t0.Unix()),
			BillingNo: billingNo, BillingCode: "0000123456", SPDFMediaID: mediaID,
		}}},
	}
}

func TestCreateBillCard(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	req := &wire.CreateCardRequest{InvoiceInfo: wire.CardInvoiceInfo{Payee: "测试非税票据",
		BaseInfo: wire.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/mmbiz/x/0"}}}
	id := decodeOK[wire.CardIDResponse](t, post(t, srv, "/nontax/createbillcard", tok, req)).CardID
	card, ok := srv.Card(id)
	require.True(t, ok)
	require.True(t, card.Bill)
	require.Equal(t, "测试非税票据", card.Payee)

	req.InvoiceInfo.Payee = ""
	requireCode(t, 72031, post(t, srv, "/nontax/createbillcard", tok, req))
	req.InvoiceInfo.Payee, req.InvoiceInfo.BaseInfo.LogoURL = "x", ""
	requireCode(t, 72031, post(t, srv, "/nontax/createbillcard", tok, req))
}

func TestInsertBill(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv := l.srv
	billCard := decodeOK[wire.CardIDResponse](t, post(t, srv, "/nontax/createbillcard", l.tok,
		&wire.CreateCardRequest{InvoiceInfo: wire.CardInvoiceInfo{Payee: "p", BaseInfo: wire.CardBaseInfo{LogoURL: "u"}}})).CardID

	res := decodeOK[wire.InsertResponse](t, post(t, srv, "/nontax/insertbill", l.tok,
		validBill(srv, billCard, l.mediaID, "bill-1", "B001")))
	require.True(t, isDigits(res.Code))
	require.NotEmpty(t, res.OpenID)
	inv, ok := srv.Invoice(billCard, res.Code)
	require.True(t, ok)
	require.True(t, inv.Bill)
	require.Equal(t, wxinvoice.ReimburseInit, inv.Status)
	require.Equal(t, int64(1500), inv.Fee)

	// Bills have their own order and billing namespaces: an invoice with the
	// same order id and numbers is not a duplicate of a bill.
	inv2 := validInsert(srv, l.cardID, l.mediaID, "bill-1", "B001")
	inv2.CardExt.UserCard.InvoiceUserData.BillingCode = "0000123456"
	decodeOK[wire.InsertResponse](t, post(t, srv, "/card/invoice/insert", l.tok, inv2))

	// Bills share the status machine and updatestatus.
	requireCode(t, 0, post(t, srv, "/card/invoice/platform/updatestatus", l.tok,
		wire.UpdateStatusRequest{CardID: billCard, Code: res.Code, ReimburseStatus: string(wxinvoice.ReimburseLock)}))
	requireCode(t, 72024, post(t, srv, "/card/invoice/platform/updatestatus", l.tok,
		wire.UpdateStatusRequest{CardID: billCard, Code: res.Code, ReimburseStatus: string(wxinvoice.ReimburseLock)}))

	for _, tc := range []struct {
		name   string
		mutate func(*wire.InsertRequest)
		want   int
	}{
		{"missing billing_code", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingCode = "" }, 72031},
		{"missing s_pdf_media_id", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.SPDFMediaID = "" }, 72031},
		{"negative fee", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.Fee = -1 }, 72031},
		{"missing title", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.Title = "" }, 72031},
		{"missing billing_time", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingTime = 0 }, 72031},
		{"missing billing_no", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingNo = "" }, 72031},
		{"missing order_id", func(r *wire.InsertRequest) { r.OrderID = "" }, 72031},
		{"unknown card", func(r *wire.InsertRequest) { r.CardID = "pNope" }, 40073},
		{"unknown pdf", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.SPDFMediaID = "1" }, 72040},
		{"duplicate order", func(r *wire.InsertRequest) { r.OrderID = "bill-1" }, 72018},
		{"duplicate billing", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingNo = "B001" }, 72042},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validBill(srv, billCard, l.mediaID, "bill-"+tc.name, "N-"+tc.name)
			tc.mutate(r)
			requireCode(t, tc.want, post(t, srv, "/nontax/insertbill", l.tok, r))
		})
	}

	// A nonce_str is not needed, and the authorization rule is the same.
	a := newLifecycle(t, WithAuthorizationRequired())
	requireCode(t, 72038, post(t, a.srv, "/nontax/insertbill", a.tok, validBill(a.srv, a.cardID, a.mediaID, "b", "1")))
	a.srv.AuthorizeOrder("b", "oPayer")
	got := decodeOK[wire.InsertResponse](t, post(t, a.srv, "/nontax/insertbill", a.tok, validBill(a.srv, a.cardID, a.mediaID, "b", "1")))
	require.Equal(t, "oPayer", got.OpenID)
}
