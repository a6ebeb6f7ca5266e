package wxinvoicetest

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func TestSetURL(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	resp := decodeOK[wire.SetURLResponse](t, post(t, srv, "/card/invoice/seturl", tok, "{}"))
	u, err := url.Parse(resp.InvoiceURL)
	require.NoError(t, err)
	require.Equal(t, "mp.weixin.qq.com", u.Host)
	require.Equal(t, "/bizmall/authinvoice", u.Path)
	require.Equal(t, "list", u.Query().Get("action"))
	require.Equal(t, srv.SPAppID(), u.Query().Get("s_pappid"))
	require.NotEmpty(t, srv.SPAppID())

	// Stable: derived from the appid only.
	same := start(t, WithApp(srv.AppID, "other-secret"))
	require.Equal(t, srv.SPAppID(), same.SPAppID())
	require.NotEqual(t, srv.SPAppID(), start(t).SPAppID())
	require.Regexp(t, `^gh_[0-9a-f]{12}$`, srv.Username())
}

func TestCreateCard(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)

	req := validCard()
	req.InvoiceInfo.BaseInfo.CustomURLName = "查看"
	req.InvoiceInfo.BaseInfo.CustomURL = "https://example.com/c"
	id := decodeOK[wire.CardIDResponse](t, post(t, srv, "/card/invoice/platform/createcard", tok, req)).CardID
	require.Len(t, id, 28)
	require.Equal(t, byte('p'), id[0])
	card, ok := srv.Card(id)
	require.True(t, ok)
	require.Equal(t, Card{ID: id, Payee: "测试-收款方", Type: "广东省增值税普通发票", CreatedAt: t0,
		LogoURL: "http://mmbiz.qpic.cn/mmbiz/logo/0", Title: "测试商户",
		CustomURLName: "查看", CustomURL: "https://example.com/c"}, card)
	other := createCard(t, srv, tok)
	require.NotEqual(t, id, other)
	require.Equal(t, id[:6], other[:6], "card ids share the account prefix")

	_, ok = srv.Card("pnope")
	require.False(t, ok)

	for name, mutate := range map[string]func(*wire.CreateCardRequest){
		"payee":    func(r *wire.CreateCardRequest) { r.InvoiceInfo.Payee = "" },
		"type":     func(r *wire.CreateCardRequest) { r.InvoiceInfo.Type = "" },
		"logo_url": func(r *wire.CreateCardRequest) { r.InvoiceInfo.BaseInfo.LogoURL = "" },
		"title":    func(r *wire.CreateCardRequest) { r.InvoiceInfo.BaseInfo.Title = "" },
	} {
		t.Run("missing "+name, func(t *testing.T) {
			r := validCard()
			mutate(r)
			raw := post(t, srv, "/card/invoice/platform/createcard", tok, r)
			requireCode(t, 72031, raw)
			require.Contains(t, string(raw), name+" is empty")
		})
	}
}

func TestInsertLifecycle(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv := l.srv
	srv.Advance(time.Minute)

	res := l.insert(t, "order-1", "00000001")
	require.Len(t, res.Code, 12)
	require.True(t, isDigits(res.Code), res.Code)
	require.Len(t, res.OpenID, 28)
	require.Equal(t, byte('o'), res.OpenID[0])

	inv, ok := srv.Invoice(l.cardID, res.Code)
	require.True(t, ok)
	require.Equal(t, wxinvoice.ReimburseInit, inv.Status)
	require.Equal(t, "order-1", inv.OrderID)
	require.Equal(t, srv.AppID, inv.AppID)
	require.Equal(t, res.OpenID, inv.OpenID)
	require.Equal(t, "norder-1", inv.NonceStr)
	require.Equal(t, int64(100), inv.Fee)
	require.Equal(t, "北京测试有限公司", inv.Title)
	require.True(t, inv.BillingTime.Equal(t0))
	require.Equal(t, "00000001", inv.BillingNo)
	require.Equal(t, "044001800111", inv.BillingCode)
	require.Equal(t, l.mediaID, inv.PDFMediaID)
	require.True(t, inv.InsertedAt.Equal(t0.Add(time.Minute)))
	require.False(t, inv.Bill)
	var body wire.InsertRequest
	require.NoError(t, json.Unmarshal(inv.Body, &body))
	require.Equal(t, "餐饮", body.CardExt.UserCard.InvoiceUserData.Info[0].Name)
	require.Len(t, srv.Invoices(), 1)

	_, ok = srv.Invoice(l.cardID, "000000000000")
	require.False(t, ok)

	// The same PDF may serve another invoice; a second order gets another code.
	res2 := l.insert(t, "order-2", "00000002")
	require.NotEqual(t, res.Code, res2.Code)
}

func TestInsertErrors(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv := l.srv
	l.insert(t, "dup-order", "10000001")

	for _, tc := range []struct {
		name   string
		mutate func(*wire.InsertRequest)
		want   int
	}{
		{"missing order_id", func(r *wire.InsertRequest) { r.OrderID = "" }, 72031},
		{"missing card_id", func(r *wire.InsertRequest) { r.CardID = "" }, 72031},
		{"missing appid", func(r *wire.InsertRequest) { r.AppID = "" }, 72031},
		{"missing nonce_str", func(r *wire.InsertRequest) { r.CardExt.NonceStr = "" }, 72031},
		{"negative fee", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.Fee = -1 }, 72031},
		{"missing title", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.Title = "" }, 72031},
		{"missing billing_time", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingTime = 0 }, 72031},
		{"missing billing_no", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.BillingNo = "" }, 72031},
		{"unknown card", func(r *wire.InsertRequest) { r.CardID = "pUnknownCard" }, 40073},
		{"missing pdf", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.SPDFMediaID = "" }, 72040},
		{"unknown pdf", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.SPDFMediaID = "1234567890123456" }, 72040},
		{"unknown trip pdf", func(r *wire.InsertRequest) { r.CardExt.UserCard.InvoiceUserData.STripPDFMediaID = "99" }, 72040},
		{"duplicate order", func(r *wire.InsertRequest) {}, 72018},
		{"duplicate billing", func(r *wire.InsertRequest) { r.OrderID = "other-order" }, 72042},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validInsert(srv, l.cardID, l.mediaID, "dup-order", "10000001")
			if tc.want != 72018 && tc.want != 72042 {
				r.OrderID, r.CardExt.UserCard.InvoiceUserData.BillingNo = "fresh-"+tc.name, "2"+tc.name
				if tc.name == "missing order_id" {
					r.OrderID = ""
				}
			}
			tc.mutate(r)
			requireCode(t, tc.want, post(t, srv, "/card/invoice/insert", l.tok, r))
		})
	}
	require.Len(t, srv.Invoices(), 1, "no failed insert changed the state")

	// Same billing_no with another billing_code is another invoice.
	r := validInsert(srv, l.cardID, l.mediaID, "order-b", "10000001")
	r.CardExt.UserCard.InvoiceUserData.BillingCode = "044001800112"
	decodeOK[wire.InsertResponse](t, post(t, srv, "/card/invoice/insert", l.tok, r))
	// 数电发票: no billing_code at all.
	r = validInsert(srv, l.cardID, l.mediaID, "order-c", "24442000000012345678")
	r.CardExt.UserCard.InvoiceUserData.BillingCode = ""
	decodeOK[wire.InsertResponse](t, post(t, srv, "/card/invoice/insert", l.tok, r))
}

func TestInsertExpiredPDF(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	l.srv.Advance(72*time.Hour - time.Second)
	fresh := uploadOK(t, l.srv, stableToken(t, l.srv))
	tok := stableToken(t, l.srv)
	linked := decodeOK[wire.InsertResponse](t, post(t, l.srv, "/card/invoice/insert", tok,
		validInsert(l.srv, l.cardID, fresh, "o-linked", "1")))
	require.NotEmpty(t, linked.Code)

	l.srv.Advance(time.Second)
	raw := post(t, l.srv, "/card/invoice/insert", tok, validInsert(l.srv, l.cardID, l.mediaID, "o-late", "2"))
	requireCode(t, 72040, raw)
	_, ok := l.srv.PDF(l.mediaID)
	require.False(t, ok, "an unlinked PDF is purged after 3 days")

	// A PDF used by an inserted invoice is kept beyond 3 days.
	l.srv.Advance(72 * time.Hour)
	tok = stableToken(t, l.srv)
	data, ok := l.srv.PDF(fresh)
	require.True(t, ok)
	require.Equal(t, samplePDF, data)
	decodeOK[wire.InsertResponse](t, post(t, l.srv, "/card/invoice/insert", tok,
		validInsert(l.srv, l.cardID, fresh, "o-reuse", "3")))
}

func TestInsertAuthorization(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, WithAuthorizationRequired())
	raw := post(t, l.srv, "/card/invoice/insert", l.tok, validInsert(l.srv, l.cardID, l.mediaID, "o-1", "1"))
	requireCode(t, 72038, raw)
	require.Contains(t, string(raw), "invoice order never auth")

	l.srv.AuthorizeOrder("o-1", "oUserAuthorized1234567890123")
	res := l.insert(t, "o-1", "1")
	require.Equal(t, "oUserAuthorized1234567890123", res.OpenID)

	// Without the option, an authorization still decides the openid.
	d := newLifecycle(t)
	d.srv.AuthorizeOrder("o-9", "oKnownUser")
	require.Equal(t, "oKnownUser", d.insert(t, "o-9", "9").OpenID)
}

func TestDecryptCode(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	res := l.insert(t, "o-1", "1")

	enc := l.srv.EncryptCode(l.cardID, res.Code)
	require.NotEmpty(t, enc)
	require.Equal(t, enc, l.srv.EncryptCode(l.cardID, res.Code), "stable per (card_id, code)")
	require.NotEqual(t, enc, l.srv.EncryptCode(l.cardID, "123"))

	got := decodeOK[wire.DecryptCodeResponse](t, post(t, l.srv, "/card/code/decrypt", l.tok,
		wire.DecryptCodeRequest{EncryptCode: enc}))
	require.Equal(t, res.Code, got.Code)

	requireCode(t, 40056, post(t, l.srv, "/card/code/decrypt", l.tok, wire.DecryptCodeRequest{EncryptCode: "bm9wZQ=="}))
	requireCode(t, 40056, post(t, l.srv, "/card/code/decrypt", l.tok, "{}"))
}

// TestInsertZeroFee: the SDK accepts Fee 0 and so does the fake, for
// invoices and bills alike.
func TestInsertZeroFee(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	card, err := c.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "p", Type: "t", BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://l", Title: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.UploadPDF(ctx, "a.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "o0", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 0, Title: "t", BillingTime: time.Unix(1714528800, 0), BillingNo: "1", PDFMediaID: up.SMediaID}})
	if err != nil {
		t.Fatalf("a 0 fen invoice: %v", err)
	}
	_, err = c.InsertBill(ctx, &wxinvoice.InsertBillRequest{OrderID: "b0", CardID: card.CardID, AppID: srv.AppID,
		Bill: wxinvoice.BillData{Fee: 0, Title: "t", BillingTime: time.Unix(1714528800, 0), BillingNo: "1", BillingCode: "2", PDFMediaID: up.SMediaID}})
	if err != nil {
		t.Fatalf("a 0 fen bill: %v", err)
	}
}
