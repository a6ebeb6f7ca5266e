package wxinvoice_test

// End-to-end tests of the merchant side against the fake server
// (wxinvoicetest), with the fake's pushes received by the SDK's own
// EventHandler. The other sides are in reimburse_fake_test.go,
// title_fake_test.go and nontaxbill_fake_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

const famPushToken = "fam-push-token"

var famPDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

// famEnv is a fake WeChat whose pushes reach an EventHandler, and a Client
// for the fake's account.
type famEnv struct {
	srv *wxinvoicetest.Server
	c   *wxinvoice.Client

	mu         sync.Mutex
	authorized []wxinvoice.UserAuthorizeInvoiceEvent
	statuses   []wxinvoice.InvoiceStatusEvent
	titles     []wxinvoice.SubmitInvoiceTitleEvent
	results    []wxinvoice.CloudInvoiceResultEvent
}

func newFamEnv(t *testing.T, opts ...wxinvoicetest.Option) *famEnv {
	t.Helper()
	e := &famEnv{}
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
		Token: famPushToken,
		OnUserAuthorizeInvoice: func(_ context.Context, ev *wxinvoice.UserAuthorizeInvoiceEvent) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.authorized = append(e.authorized, *ev)
			return nil
		},
		OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.statuses = append(e.statuses, *ev)
			return nil
		},
		OnSubmitInvoiceTitle: func(_ context.Context, ev *wxinvoice.SubmitInvoiceTitleEvent) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.titles = append(e.titles, *ev)
			return nil
		},
		OnCloudInvoiceResult: func(_ context.Context, ev *wxinvoice.CloudInvoiceResultEvent) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.results = append(e.results, *ev)
			return nil
		},
	})
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	e.srv = wxinvoicetest.NewServer(append([]wxinvoicetest.Option{
		wxinvoicetest.WithEventPush(hs.URL, wxinvoicetest.PushConfig{Token: famPushToken})}, opts...)...)
	t.Cleanup(e.srv.Close) // runs before hs.Close: pushes are drained first
	e.c = e.client(t)
	return e
}

// client returns a new Client for the fake's account.
func (e *famEnv) client(t *testing.T, opts ...wxinvoice.Option) *wxinvoice.Client {
	t.Helper()
	c, err := wxinvoice.New(e.srv.AppID, e.srv.AppSecret, append([]wxinvoice.Option{wxinvoice.WithBaseURL(e.srv.URL)}, opts...)...)
	require.NoError(t, err)
	return c
}

// events waits for the pushes and returns what the handler received.
func (e *famEnv) events() (auth []wxinvoice.UserAuthorizeInvoiceEvent, st []wxinvoice.InvoiceStatusEvent,
	titles []wxinvoice.SubmitInvoiceTitleEvent, results []wxinvoice.CloudInvoiceResultEvent) {
	e.srv.WaitPushes()
	e.mu.Lock()
	defer e.mu.Unlock()
	return append(auth, e.authorized...), append(st, e.statuses...), append(titles, e.titles...), append(results, e.results...)
}

// platformSetup runs SetURL, CreateCard and UploadPDF.
func (e *famEnv) platformSetup(t *testing.T) (spAppID, cardID, mediaID string) {
	t.Helper()
	su, err := e.c.SetURL(bg)
	require.NoError(t, err)
	require.Equal(t, e.srv.SPAppID(), su.SPAppID)
	card, err := e.c.CreateCard(bg, &wxinvoice.CreateCardRequest{Payee: "测试-收款方", Type: "广东省增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "测试商户"}})
	require.NoError(t, err)
	up, err := e.c.UploadPDF(bg, "inv.pdf", bytes.NewReader(famPDF))
	require.NoError(t, err)
	return su.SPAppID, card.CardID, up.SMediaID
}

func (e *famEnv) insertRequest(orderID, cardID, mediaID, billingNo string) *wxinvoice.InsertInvoiceRequest {
	return &wxinvoice.InsertInvoiceRequest{OrderID: orderID, CardID: cardID, AppID: e.srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 1100, Title: "XX公司", BillingTime: time.Unix(1468322401, 0), BillingNo: billingNo,
			BillingCode: "044001800111", Items: []wxinvoice.InvoiceItem{{Name: "绿巨人", Num: 10, Unit: "吨", Price: 110}},
			FeeWithoutTax: 1000, Tax: 100, PDFMediaID: mediaID}}
}

var bg = context.Background()

// TestFakeAuthorizeThenInsert is the whole invoice flow across the
// merchant and platform sides: every endpoint of the platform side, the
// cached wx_card ticket, the authorization page, the user's answer as a
// push, getauthdata, and the insert that needs the authorization.
func TestFakeAuthorizeThenInsert(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t, wxinvoicetest.WithAuthorizationRequired())
	sp, cardID, mediaID := e.platformSetup(t)

	require.NoError(t, e.c.SetContact(bg, &wxinvoice.Contact{Phone: "020-12345678", Timeout: 3600}))
	au, err := e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "order-1", Money: 1100,
		Source: wxinvoice.AuthSourceWeb, RedirectURL: "https://shop.example/done"})
	require.NoError(t, err)
	_, err = e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "order-2", Source: wxinvoice.AuthSourceApp})
	require.NoError(t, err)
	require.Equal(t, 1, e.srv.Calls("/cgi-bin/ticket/getticket"), "the ticket is fetched once and cached")

	_, err = e.c.InsertInvoice(bg, e.insertRequest("order-1", cardID, mediaID, "B1"))
	require.ErrorIs(t, err, wxinvoice.ErrOrderNotAuthorized, "not authorized yet")
	ad, err := e.c.GetAuthData(bg, &wxinvoice.GetAuthDataRequest{SPAppID: sp, OrderID: "order-1"})
	require.NoError(t, err)
	require.False(t, ad.Authorized())

	// The user opens the page and agrees.
	require.NoError(t, e.srv.UserAuthorize(au.AuthURL, "ouser-1"))
	ad, err = e.c.GetAuthData(bg, &wxinvoice.GetAuthDataRequest{SPAppID: sp, OrderID: "order-1"})
	require.NoError(t, err)
	require.True(t, ad.Authorized())
	require.WithinDuration(t, e.srv.Now(), ad.AuthTime, 2*time.Second)

	inv, err := e.c.InsertInvoice(bg, e.insertRequest("order-1", cardID, mediaID, "B1"))
	require.NoError(t, err)
	require.Equal(t, "ouser-1", inv.OpenID, "the invoice lands with the user who authorized")

	// The rest of the platform side.
	pdf, err := e.c.GetPDF(bg, mediaID)
	require.NoError(t, err)
	resp, err := http.Get(pdf.PDFURL)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, famPDF, got)
	code, err := e.c.DecryptCode(bg, e.srv.EncryptCode(cardID, inv.Code))
	require.NoError(t, err)
	require.Equal(t, inv.Code, code)
	require.NoError(t, e.c.UpdateStatus(bg, &wxinvoice.UpdateStatusRequest{CardID: cardID, Code: inv.Code, Status: wxinvoice.ReimburseCancel}))

	auth, st, _, _ := e.events()
	require.Len(t, auth, 1)
	require.Equal(t, wxinvoice.UserAuthorizeInvoiceEvent{ToUserName: e.srv.Username(), FromUserName: "ouser-1",
		CreateTime: auth[0].CreateTime, SuccOrderID: "order-1", AppID: e.srv.AppID, Source: "web"}, auth[0])
	require.Len(t, st, 1)
	require.Equal(t, wxinvoice.ReimburseCancel, st[0].Status)
}

func TestFakeRejectInsert(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	sp, cardID, mediaID := e.platformSetup(t)
	require.NoError(t, e.c.SetContact(bg, &wxinvoice.Contact{Phone: "1"}))
	au, err := e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "order-r", Source: wxinvoice.AuthSourceWxa, Type: wxinvoice.AuthPageReceive})
	require.NoError(t, err)
	require.NotEmpty(t, au.AppID, "source wxa names the mini program")
	require.NoError(t, e.srv.UserAuthorize("order-r", "ouser"))

	require.NoError(t, e.c.RejectInsert(bg, &wxinvoice.RejectInsertRequest{SPAppID: sp, OrderID: "order-r", Reason: "抬头有误", URL: "https://shop.example/help"}))
	_, err = e.c.InsertInvoice(bg, e.insertRequest("order-r", cardID, mediaID, "B1"))
	require.ErrorIs(t, err, wxinvoice.ErrInsertRejected)
	_, err = e.c.GetAuthData(bg, &wxinvoice.GetAuthDataRequest{SPAppID: sp, OrderID: "order-r"})
	require.ErrorIs(t, err, wxinvoice.ErrInsertRejected)
	_, err = e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "order-r", Source: wxinvoice.AuthSourceWeb})
	require.ErrorIs(t, err, wxinvoice.ErrInsertRejected)
	require.Empty(t, e.srv.Invoices())
}

func TestFakeBizAttr(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	sp := e.srv.SPAppID()

	_, err := e.c.GetContact(bg)
	require.ErrorIs(t, err, wxinvoice.ErrContactNotSet)
	_, err = e.c.GetAuthField(bg)
	require.ErrorIs(t, err, wxinvoice.ErrAuthFieldNotSet)
	_, err = e.c.GetPayMch(bg)
	require.ErrorIs(t, err, wxinvoice.ErrPayMchNotSet)
	_, err = e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "o", Source: wxinvoice.AuthSourceWap})
	require.ErrorIs(t, err, wxinvoice.ErrContactNotSet, "getauthurl needs the contact first")

	ct := &wxinvoice.Contact{Phone: "88888888", Timeout: 12345}
	require.NoError(t, e.c.SetContact(bg, ct))
	got, err := e.c.GetContact(bg)
	require.NoError(t, err)
	require.Equal(t, ct, got)

	_, err = e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "o", Source: wxinvoice.AuthSourceWap, Type: wxinvoice.AuthPageFillTitle})
	require.ErrorIs(t, err, wxinvoice.ErrAuthFieldNotSet, "a type 1 page needs the auth field")
	af := &wxinvoice.AuthField{
		User: wxinvoice.UserFieldSettings{ShowTitle: true, ShowEmail: true, RequireEmail: true,
			CustomFields: []wxinvoice.CustomField{{Key: "工号", Required: true, Notice: "请填写"}}},
		Biz: wxinvoice.BizFieldSettings{ShowTitle: true, ShowTaxNo: true, RequireTaxNo: true, ShowBankNo: true},
	}
	require.NoError(t, e.c.SetAuthField(bg, af))
	gotAF, err := e.c.GetAuthField(bg)
	require.NoError(t, err)
	require.Equal(t, af, gotAF)
	au, err := e.c.GetAuthURL(bg, &wxinvoice.GetAuthURLRequest{SPAppID: sp, OrderID: "o", Source: wxinvoice.AuthSourceWap, Type: wxinvoice.AuthPageFillTitle})
	require.NoError(t, err)

	pm := &wxinvoice.PayMchInfo{MchID: "1900000109", SPAppID: sp}
	require.NoError(t, e.c.SetPayMch(bg, pm))
	gotPM, err := e.c.GetPayMch(bg)
	require.NoError(t, err)
	require.Equal(t, pm, gotPM)

	// What the user fills in on the type 1 page comes back in getauthdata.
	info := wxinvoice.UserAuthInfo{Biz: wxinvoice.BizAuthFields{Title: "某公司", TaxNo: "91440101MA59XXXX1X", BankNo: "6222",
		CustomFields: []wxinvoice.CustomFieldValue{{Key: "工号", Value: "007"}}}}
	require.NoError(t, e.srv.UserAuthorizeWithInfo(au.AuthURL, "ouser", info))
	ad, err := e.c.GetAuthData(bg, &wxinvoice.GetAuthDataRequest{SPAppID: sp, OrderID: "o"})
	require.NoError(t, err)
	require.Equal(t, info, ad.UserAuthInfo)
}

func famMakeOut(fpqqlsh, ddh string) *wxinvoice.MakeOutInvoiceRequest {
	return &wxinvoice.MakeOutInvoiceRequest{WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Ddh: ddh, Fpqqlsh: fpqqlsh,
		Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1", Nsrdz: "深圳市", Nsrdh: "0755228899988", Ghfmc: "周一", Kpr: "小明",
		Jshj: wxinvoice.FormatYuan(15900), Hjje: wxinvoice.FormatYuan(13590), Hjse: wxinvoice.FormatYuan(2310), Hylx: "0",
		Details: []wxinvoice.MakeOutInvoiceDetail{{Fphxz: "0", Spbm: "1090418010000000000", Xmmc: "洗衣机", Dw: "台", Xmsl: "1",
			Xmdj: "135.90", Xmje: "135.90", Sl: "0.17", Se: "23.10"}}}
}

func TestFakeUnifiedIssuing(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	q := &wxinvoice.QueryInvoiceInfoRequest{Fpqqlsh: "f-1", Nsrsbh: "110109500321654"}
	_, err := e.c.QueryInvoiceInfo(bg, q)
	require.ErrorIs(t, err, wxinvoice.ErrFpqqlshNotFound)

	require.NoError(t, e.c.MakeOutInvoice(bg, famMakeOut("f-1", "d-1")))
	require.NoError(t, e.c.MakeOutInvoice(bg, famMakeOut("f-1", "d-1")), "retrying with the same fpqqlsh is safe")
	require.ErrorIs(t, e.c.MakeOutInvoice(bg, famMakeOut("f-1", "d-2")), wxinvoice.ErrFpqqlshReused)
	require.ErrorIs(t, e.c.MakeOutInvoice(bg, famMakeOut("f-2", "d-1")), wxinvoice.ErrDdhReused)

	info, err := e.c.QueryInvoiceInfo(bg, q)
	require.NoError(t, err)
	ci, _ := e.srv.CloudInvoice("f-1")
	require.Equal(t, ci.Fpdm, info.Fpdm)
	require.Equal(t, ci.Fphm, info.Fphm)
	require.Equal(t, ci.Jym, info.Jym)
	require.True(t, info.IssuedAt.Equal(ci.IssuedAt.Truncate(time.Second)), "%v vs %v", info.IssuedAt, ci.IssuedAt)
	resp, err := http.Get(info.PDFURL)
	require.NoError(t, err)
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, ci.PDF, pdf)

	// 冲红 with a new fpqqlsh.
	require.NoError(t, e.c.ClearOutInvoice(bg, &wxinvoice.ClearOutInvoiceRequest{WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Fpqqlsh: "r-1",
		Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1", Yfpdm: info.Fpdm, Yfphm: info.Fphm}))
	red, err := e.c.QueryInvoiceInfo(bg, &wxinvoice.QueryInvoiceInfoRequest{Fpqqlsh: "r-1", Nsrsbh: "110109500321654"})
	require.NoError(t, err)
	require.NotEqual(t, info.Fphm, red.Fphm)

	_, _, _, results := e.events()
	require.Len(t, results, 2)
	require.Equal(t, wxinvoice.CloudInvoiceResultEvent{ToUserName: e.srv.Username(), FromUserName: "os92LxEDbiOw7kWZanRN_Bb3Q45I",
		CreateTime: results[0].CreateTime, Fpqqlsh: "f-1", Status: "100", Nsrsbh: "110109500321654"}, results[0])
	require.Equal(t, "r-1", results[1].Fpqqlsh)
}

func TestFakeCardTicketCachedAndShared(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	t1, err := e.c.CardTicket(bg)
	require.NoError(t, err)
	t2, err := e.c.CardTicket(bg)
	require.NoError(t, err)
	require.Equal(t, t1, t2)
	require.Equal(t, 1, e.srv.Calls("/cgi-bin/ticket/getticket"))

	// A second client sharing a TokenStore uses the same ticket.
	store := wxinvoice.NewMemoryTokenStore()
	a, b := e.client(t, wxinvoice.WithTokenStore(store)), e.client(t, wxinvoice.WithTokenStore(store))
	ta, err := a.CardTicket(bg)
	require.NoError(t, err)
	tb, err := b.CardTicket(bg)
	require.NoError(t, err)
	require.Equal(t, ta, tb)
	require.Equal(t, 2, e.srv.Calls("/cgi-bin/ticket/getticket"))
}

// A merchant asks for an authorization page; once the user agrees, the order
// is authorized and the platform may insert the invoice.
func ExampleClient_GetAuthURL() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	client, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	platform, err := client.SetURL(ctx) // the invoicing platform's s_pappid
	if err != nil {
		panic(err)
	}
	if err := client.SetContact(ctx, &wxinvoice.Contact{Phone: "020-12345678", Timeout: 3600}); err != nil {
		panic(err)
	}
	// The wx_card ticket is fetched and cached by the client.
	page, err := client.GetAuthURL(ctx, &wxinvoice.GetAuthURLRequest{
		SPAppID: platform.SPAppID, OrderID: "order-1", Money: 1100, Source: wxinvoice.AuthSourceWeb})
	if err != nil {
		panic(err)
	}
	// The user opens page.AuthURL and agrees (WeChat pushes user_authorize_invoice).
	if err := srv.UserAuthorize(page.AuthURL, "ouser-1"); err != nil {
		panic(err)
	}
	state, err := client.GetAuthData(ctx, &wxinvoice.GetAuthDataRequest{SPAppID: platform.SPAppID, OrderID: "order-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(state.InvoiceStatus, state.Authorized())
	// Output: auth success true
}
