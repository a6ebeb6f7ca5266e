package wxinvoice_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestFakeFiscalBill is the fiscal e-bill flow: bill template, authorization
// page, the user's answer, the insert, a refused order.
func TestFakeFiscalBill(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t, wxinvoicetest.WithAuthorizationRequired())
	su, err := e.c.SetURL(bg)
	require.NoError(t, err)
	card, err := e.c.CreateBillCard(bg, &wxinvoice.CreateBillCardRequest{Payee: "某市财政局", LogoURL: "http://mmbiz.qpic.cn/logo/0"})
	require.NoError(t, err)
	c, ok := e.srv.Card(card.CardID)
	require.True(t, ok)
	require.True(t, c.Bill)
	up, err := e.c.UploadPDF(bg, "bill.pdf", bytes.NewReader(famPDF))
	require.NoError(t, err)

	start := time.Now()
	au, err := e.c.GetBillAuthURL(bg, &wxinvoice.GetBillAuthURLRequest{SPAppID: su.SPAppID, OrderID: "bill-1", Money: 1500, Source: wxinvoice.AuthSourceWeb})
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(7200*time.Second), au.ExpireTime, 5*time.Second)

	bill := &wxinvoice.InsertBillRequest{OrderID: "bill-1", CardID: card.CardID, AppID: e.srv.AppID, Bill: wxinvoice.BillData{
		Fee: 1500, Title: "某市财政局", BillingTime: time.Now(), BillingNo: "N0001", BillingCode: "0000123456", PDFMediaID: up.SMediaID}}
	_, err = e.c.InsertBill(bg, bill)
	require.ErrorIs(t, err, wxinvoice.ErrOrderNotAuthorized)
	require.NoError(t, e.srv.UserAuthorize(au.AuthURL, "ocitizen"))
	ad, err := e.c.GetAuthData(bg, &wxinvoice.GetAuthDataRequest{SPAppID: su.SPAppID, OrderID: "bill-1"})
	require.NoError(t, err)
	require.True(t, ad.Authorized())
	res, err := e.c.InsertBill(bg, bill)
	require.NoError(t, err)
	require.Equal(t, "ocitizen", res.OpenID)

	// A collecting unit refuses another order.
	require.NoError(t, e.c.RejectInsert(bg, &wxinvoice.RejectInsertRequest{SPAppID: su.SPAppID, OrderID: "bill-2", Reason: "重复缴费"}))
	_, err = e.c.GetBillAuthURL(bg, &wxinvoice.GetBillAuthURLRequest{SPAppID: su.SPAppID, OrderID: "bill-2", Source: wxinvoice.AuthSourceApp})
	require.ErrorIs(t, err, wxinvoice.ErrInsertRejected)

	auth, _, _, _ := e.events()
	require.Len(t, auth, 1)
	require.Equal(t, "bill-1", auth[0].SuccOrderID)
}
