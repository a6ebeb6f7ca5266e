package wxinvoicetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func TestGetBillAuthURL(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, WithAuthorizationRequired())
	srv, tok := l.srv, l.tok
	ticket := getTicket(t, srv, tok)
	req := func(f func(r *wire.BillAuthURLRequest)) *wire.BillAuthURLRequest {
		r := &wire.BillAuthURLRequest{SPAppID: srv.SPAppID(), OrderID: "b-1", Money: 1500, Timestamp: wire.Int(t0.Unix()), Source: "app", Ticket: ticket}
		f(r)
		return r
	}
	// No contact is needed for bills.
	res := decodeOK[wire.BillAuthURLResponse](t, post(t, srv, "/nontax/getbillauthurl", tok, req(func(*wire.BillAuthURLRequest) {})))
	require.NotEmpty(t, res.AuthURL)
	require.Equal(t, wire.Int(7200), res.ExpireTime)
	for name, f := range map[string]func(r *wire.BillAuthURLRequest){
		"wxa":      func(r *wire.BillAuthURLRequest) { r.Source = "wxa" },
		"wap":      func(r *wire.BillAuthURLRequest) { r.Source = "wap" },
		"s_pappid": func(r *wire.BillAuthURLRequest) { r.SPAppID = "" },
		"ticket":   func(r *wire.BillAuthURLRequest) { r.Ticket = "t" },
		"money":    func(r *wire.BillAuthURLRequest) { r.Money = -1 },
	} {
		requireCode(t, 72031, post(t, srv, "/nontax/getbillauthurl", tok, req(f)), name)
	}
	o, ok := srv.AuthOrder("b-1")
	require.True(t, ok)
	require.True(t, o.Bill)
	require.Equal(t, t0.Add(7200*time.Second), o.Expires)

	// The user authorizes in time; the bill goes to them.
	billCard := decodeOK[wire.CardIDResponse](t, post(t, srv, "/nontax/createbillcard", tok,
		&wire.CreateBillCardRequest{InvoiceInfo: wire.BillCardInfo{Payee: "某执收单位", BaseInfo: wire.BillCardBaseInfo{LogoURL: "http://logo/0"}}})).CardID
	requireCode(t, 72038, post(t, srv, "/nontax/insertbill", tok, validBill(srv, billCard, l.mediaID, "b-1", "N1")))
	require.NoError(t, srv.UserAuthorize(res.AuthURL, "ocitizen"))
	ins := decodeOK[wire.InsertResponse](t, post(t, srv, "/nontax/insertbill", tok, validBill(srv, billCard, l.mediaID, "b-1", "N1")))
	require.Equal(t, "ocitizen", ins.OpenID)
	ad := decodeOK[wire.AuthDataResponse](t, post(t, srv, "/card/invoice/getauthdata", tok, wire.OrderRequest{SPAppID: srv.SPAppID(), OrderID: "b-1"}))
	require.Equal(t, wxinvoice.AuthStatusSuccess, ad.InvoiceStatus)

	// A bill auth URL expires after expire_time.
	res2 := decodeOK[wire.BillAuthURLResponse](t, post(t, srv, "/nontax/getbillauthurl", tok, req(func(r *wire.BillAuthURLRequest) { r.OrderID = "b-2" })))
	srv.Advance(7200 * time.Second)
	require.ErrorContains(t, srv.UserAuthorize(res2.AuthURL, "ocitizen"), "expired")

	// A refused bill order.
	tok = stableToken(t, srv)
	requireCode(t, 0, post(t, srv, "/card/invoice/rejectinsert", tok, wire.RejectInsertRequest{SPAppID: srv.SPAppID(), OrderID: "b-3", Reason: "重复缴费"}))
	requireCode(t, 72035, post(t, srv, "/nontax/getbillauthurl", tok, req(func(r *wire.BillAuthURLRequest) { r.OrderID = "b-3"; r.Ticket = getTicket(t, srv, tok) })))
}
