package wxinvoicetest

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// getTicket fetches a wx_card ticket.
func getTicket(t *testing.T, srv *Server, tok string) string {
	t.Helper()
	resp, raw := send(t, http.MethodGet, apiURL(srv, "/cgi-bin/ticket/getticket", tok)+"&type=wx_card", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tr := decodeOK[wire.TicketResponse](t, raw)
	require.NotEmpty(t, tr.Ticket)
	return tr.Ticket
}

// bizAttr posts a setbizattr action.
func bizAttr(t *testing.T, srv *Server, tok, action string, body any) []byte {
	t.Helper()
	return post(t, srv, "/card/invoice/setbizattr?action="+action+"&access_token="+tok, "", body)
}

// merchant is a lifecycle with a contact set and a ticket.
type merchant struct {
	*lifecycle
	ticket string
}

func newMerchant(t *testing.T, opts ...Option) *merchant {
	t.Helper()
	l := newLifecycle(t, opts...)
	requireCode(t, 0, bizAttr(t, l.srv, l.tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{Phone: "020-1234", TimeOut: 3600}}))
	return &merchant{lifecycle: l, ticket: getTicket(t, l.srv, l.tok)}
}

func (m *merchant) authURLRequest(orderID string) *wire.AuthURLRequest {
	return &wire.AuthURLRequest{SPAppID: m.srv.SPAppID(), OrderID: orderID, Money: 100, Timestamp: wire.Int(t0.Unix()),
		Source: "web", Ticket: m.ticket}
}

func (m *merchant) authURL(t *testing.T, orderID string) string {
	t.Helper()
	res := decodeOK[wire.AuthURLResponse](t, post(t, m.srv, "/card/invoice/getauthurl", m.tok, m.authURLRequest(orderID)))
	require.NotEmpty(t, res.AuthURL)
	return res.AuthURL
}

func (m *merchant) authData(t *testing.T, orderID string) []byte {
	t.Helper()
	return post(t, m.srv, "/card/invoice/getauthdata", m.tok, wire.OrderRequest{SPAppID: m.srv.SPAppID(), OrderID: orderID})
}

func TestGetTicket(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	resp, raw := send(t, http.MethodGet, apiURL(srv, "/cgi-bin/ticket/getticket", tok)+"&type=wx_card", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tr := decodeOK[wire.TicketResponse](t, raw)
	require.Len(t, tr.Ticket, 86, "as long as the documentation's sample")
	require.Equal(t, wire.Int(7200), tr.ExpiresIn)
	require.NotEqual(t, tr.Ticket, getTicket(t, srv, tok), "each call issues a ticket")

	_, raw = send(t, http.MethodPost, apiURL(srv, "/cgi-bin/ticket/getticket", tok)+"&type=wx_card", "application/json", []byte("{}"))
	requireCode(t, 43001, raw)
	_, raw = send(t, http.MethodGet, srv.URL+"/cgi-bin/ticket/getticket?type=wx_card", "", nil)
	requireCode(t, 41001, raw)
	_, raw = send(t, http.MethodGet, apiURL(srv, "/cgi-bin/ticket/getticket", "nope")+"&type=wx_card", "", nil)
	requireCode(t, 40014, raw)
	resp, raw = send(t, http.MethodGet, apiURL(srv, "/cgi-bin/ticket/getticket", tok)+"&type=jsapi", "", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireCode(t, 48001, raw)
}

func TestGetAuthURLChecks(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv, tok := l.srv, l.tok
	ticket := getTicket(t, srv, tok)
	req := func(f func(r *wire.AuthURLRequest)) *wire.AuthURLRequest {
		r := &wire.AuthURLRequest{SPAppID: srv.SPAppID(), OrderID: "o-1", Money: 11, Timestamp: wire.Int(t0.Unix()), Source: "web", Ticket: ticket}
		f(r)
		return r
	}
	// No contact yet: 72063, as WeChat answers.
	requireCode(t, 72063, post(t, srv, "/card/invoice/getauthurl", tok, req(func(*wire.AuthURLRequest) {})))
	requireCode(t, 0, bizAttr(t, srv, tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{Phone: "1"}}))

	for name, tc := range map[string]struct {
		f    func(r *wire.AuthURLRequest)
		code int
	}{
		"s_pappid":              {func(r *wire.AuthURLRequest) { r.SPAppID = "" }, 72031},
		"order_id":              {func(r *wire.AuthURLRequest) { r.OrderID = "" }, 72031},
		"money":                 {func(r *wire.AuthURLRequest) { r.Money = -1 }, 72031},
		"timestamp":             {func(r *wire.AuthURLRequest) { r.Timestamp = 0 }, 72031},
		"no ticket":             {func(r *wire.AuthURLRequest) { r.Ticket = "" }, 72031},
		"unknown ticket":        {func(r *wire.AuthURLRequest) { r.Ticket = "tttt" }, 72031},
		"source":                {func(r *wire.AuthURLRequest) { r.Source = "h5" }, 72031},
		"type":                  {func(r *wire.AuthURLRequest) { r.Type = 3 }, 72031},
		"type 1 w/o auth field": {func(r *wire.AuthURLRequest) { r.Type = 1 }, 72029},
	} {
		requireCode(t, tc.code, post(t, srv, "/card/invoice/getauthurl", tok, req(tc.f)), name)
	}
	raw := post(t, srv, "/card/invoice/getauthurl", tok, req(func(r *wire.AuthURLRequest) { r.Source = "wxa"; r.Type = 2 }))
	res := decodeOK[wire.AuthURLResponse](t, raw)
	require.True(t, strings.HasPrefix(res.AuthURL, "https://mp.weixin.qq.com/"), res.AuthURL)
	require.Equal(t, authMiniProgramAppID, res.AppID, "source wxa names the mini program")
	res = decodeOK[wire.AuthURLResponse](t, post(t, srv, "/card/invoice/getauthurl", tok, req(func(r *wire.AuthURLRequest) { r.OrderID = "o-2" })))
	require.Empty(t, res.AppID)
	require.NotContains(t, string(raw), `"appid":""`)

	o, ok := srv.AuthOrder("o-1")
	require.True(t, ok)
	require.Equal(t, AuthOrder{OrderID: "o-1", SPAppID: srv.SPAppID(), Money: 11, Timestamp: time.Unix(t0.Unix(), 0), Source: "wxa", Type: 2,
		AuthURL: o.AuthURL, Status: wxinvoice.AuthStatusNever}, o)

	// Tickets expire after 7200 s.
	srv.Advance(7200 * time.Second)
	requireCode(t, 72031, post(t, srv, "/card/invoice/getauthurl", stableToken(t, srv), req(func(*wire.AuthURLRequest) {})))
}

// authXML is the user_authorize_invoice push, decoded independently of the SDK.
type authXML struct {
	ToUserName, FromUserName, MsgType, Event string
	CreateTime                               int64
	SuccOrderId, FailOrderId, AppId, Source  string //nolint:revive // WeChat's element names
}

func TestUserAuthorizeFlow(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	m := newMerchant(t, WithAuthorizationRequired(), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := m.srv
	u := m.authURL(t, "order-9")

	// Not yet authorized: getauthdata says so, insert answers 72038.
	ad := decodeOK[wire.AuthDataResponse](t, m.authData(t, "order-9"))
	require.Equal(t, wxinvoice.AuthStatusNever, ad.InvoiceStatus)
	requireCode(t, 72038, post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "order-9", "B1")))
	// An order nobody asked about.
	requireCode(t, 72038, m.authData(t, "order-unknown"))

	require.Error(t, srv.UserAuthorize("order-unknown", "ouser"))
	require.Error(t, srv.UserAuthorize(u, ""))
	srv.Advance(time.Minute)
	info := wxinvoice.UserAuthInfo{Biz: wxinvoice.BizAuthFields{Title: "某公司", TaxNo: "91440101MA59XXXX1X",
		CustomFields: []wxinvoice.CustomFieldValue{{Key: "工号", Value: "007"}}}}
	require.NoError(t, srv.UserAuthorizeWithInfo(u, "ouser-1", info)) // by auth_url
	require.NoError(t, srv.UserAuthorize("order-9", "ouser-1"), "again: a no-op")

	ad = decodeOK[wire.AuthDataResponse](t, m.authData(t, "order-9"))
	require.Equal(t, wire.AuthDataResponse{Status: ad.Status, InvoiceStatus: "auth success", AuthTime: wire.Int(t0.Add(time.Minute).Unix()),
		UserAuthInfo: &wire.UserAuthInfo{BizField: &wire.BizFieldValues{Title: "某公司", TaxNo: "91440101MA59XXXX1X",
			CustomField: []wire.CustomFieldValue{{Key: "工号", Value: "007"}}}}}, ad)

	ins := decodeOK[wire.InsertResponse](t, post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "order-9", "B1")))
	require.Equal(t, "ouser-1", ins.OpenID, "the invoice lands with the user who authorized")

	srv.WaitPushes()
	got := rc.pushes()
	require.Len(t, got, 1, "one push: authorizing twice is a no-op")
	var ev authXML
	require.NoError(t, xml.Unmarshal(got[0].body, &ev))
	require.Equal(t, authXML{ToUserName: srv.Username(), FromUserName: "ouser-1", MsgType: "event", Event: "user_authorize_invoice",
		CreateTime: t0.Add(time.Minute).Unix(), SuccOrderId: "order-9", AppId: srv.AppID, Source: "web"}, ev)
	require.Equal(t, "ouser-1", got[0].query.Get("openid"))
	pushes := srv.Pushes()
	require.Equal(t, wxinvoice.EventUserAuthorizeInvoice, pushes[0].Name)
	require.True(t, pushes[0].Delivered)

	// A refusal pushes FailOrderId and leaves the order unauthorized.
	u2 := m.authURL(t, "order-10")
	require.NoError(t, srv.UserDeclineAuthorization(u2, "ouser-2"))
	srv.WaitPushes()
	got = rc.pushes()
	require.Len(t, got, 2)
	require.NoError(t, xml.Unmarshal(got[1].body, &ev))
	require.Equal(t, "order-10", ev.FailOrderId)
	require.Empty(t, ev.SuccOrderId)
	require.Equal(t, wxinvoice.AuthStatusNever, decodeOK[wire.AuthDataResponse](t, m.authData(t, "order-10")).InvoiceStatus)
}

func TestGetAuthDataAfterAuthorizeOrder(t *testing.T) {
	t.Parallel()
	m := newMerchant(t)
	m.srv.AuthorizeOrder("o-direct", "ouser")
	ad := decodeOK[wire.AuthDataResponse](t, m.authData(t, "o-direct"))
	require.Equal(t, "auth success", ad.InvoiceStatus)
	require.EqualValues(t, m.srv.Now().Unix(), ad.AuthTime) // one record per order: the shortcut is timed like UserAuthorize
	o, ok := m.srv.AuthOrder("o-direct")
	require.True(t, ok)
	require.Equal(t, "ouser", o.OpenID)
	requireCode(t, 72031, post(t, m.srv, "/card/invoice/getauthdata", m.tok, wire.OrderRequest{OrderID: "x"}))
	requireCode(t, 72031, post(t, m.srv, "/card/invoice/getauthdata", m.tok, wire.OrderRequest{SPAppID: "x"}))
}

func TestRejectInsert(t *testing.T) {
	t.Parallel()
	m := newMerchant(t)
	srv := m.srv
	u := m.authURL(t, "o-rej")
	reject := func(r wire.RejectInsertRequest) []byte { return post(t, srv, "/card/invoice/rejectinsert", m.tok, r) }
	requireCode(t, 72031, reject(wire.RejectInsertRequest{SPAppID: srv.SPAppID(), OrderID: "o-rej"}), "reason")
	requireCode(t, 72031, reject(wire.RejectInsertRequest{OrderID: "o-rej", Reason: "r"}), "s_pappid")
	requireCode(t, 0, reject(wire.RejectInsertRequest{SPAppID: srv.SPAppID(), OrderID: "o-rej", Reason: "抬头有误", URL: "https://x"}))
	requireCode(t, 0, reject(wire.RejectInsertRequest{SPAppID: srv.SPAppID(), OrderID: "o-rej", Reason: "again"}), "idempotent")

	o, _ := srv.AuthOrder("o-rej")
	require.True(t, o.Rejected)
	require.Equal(t, "抬头有误", o.RejectReason)
	requireCode(t, 72035, post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "o-rej", "B7")))
	requireCode(t, 72035, post(t, srv, "/nontax/insertbill", m.tok, validBill(srv, m.cardID, m.mediaID, "o-rej", "B7")))
	requireCode(t, 72035, m.authData(t, "o-rej"))
	requireCode(t, 72035, post(t, srv, "/card/invoice/getauthurl", m.tok, m.authURLRequest("o-rej")))
	require.Error(t, srv.UserAuthorize(u, "ouser"))
	require.Empty(t, srv.Invoices())

	// Another order is unaffected; an order never asked about can be refused too.
	m.insert(t, "o-ok", "B8")
	requireCode(t, 0, reject(wire.RejectInsertRequest{SPAppID: srv.SPAppID(), OrderID: "o-never", Reason: "r"}))
	requireCode(t, 72035, post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "o-never", "B9")))
}

func TestSetBizAttr(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	requireCode(t, 72029, bizAttr(t, srv, tok, "get_auth_field", "{}"))
	requireCode(t, 72028, bizAttr(t, srv, tok, "get_pay_mch", "{}"))
	requireCode(t, 72063, bizAttr(t, srv, tok, "get_contact", "{}"))
	requireCode(t, 72027, bizAttr(t, srv, tok, "set_everything", "{}"))
	requireCode(t, 72027, post(t, srv, "/card/invoice/setbizattr", tok, "{}"), "no action")
	requireCode(t, 47001, bizAttr(t, srv, tok, "set_contact", "not json"))

	af := wire.AuthField{
		UserField: wire.UserFieldConfig{ShowTitle: 1, ShowPhone: 1, CustomField: []wire.CustomFieldConfig{{Key: "field1", IsRequire: 1, Notice: "n"}}},
		BizField:  wire.BizFieldConfig{ShowTitle: 1, ShowTaxNo: 1, RequireTaxNo: 1},
	}
	requireCode(t, 72031, bizAttr(t, srv, tok, "set_auth_field", wire.AuthFieldRequest{AuthField: wire.AuthField{
		BizField: wire.BizFieldConfig{CustomField: []wire.CustomFieldConfig{{Notice: "no key"}}}}}))
	requireCode(t, 0, bizAttr(t, srv, tok, "set_auth_field", wire.AuthFieldRequest{AuthField: af}))
	require.Equal(t, af, decodeOK[wire.AuthFieldResponse](t, bizAttr(t, srv, tok, "get_auth_field", "{}")).AuthField)

	requireCode(t, 72031, bizAttr(t, srv, tok, "set_pay_mch", wire.PayMchRequest{PayMchInfo: wire.PayMchInfo{MchID: "1"}}))
	requireCode(t, 0, bizAttr(t, srv, tok, "set_pay_mch", wire.PayMchRequest{PayMchInfo: wire.PayMchInfo{MchID: "1234", SPAppID: "wxabcd"}}))
	require.Equal(t, wire.PayMchInfo{MchID: "1234", SPAppID: "wxabcd"}, decodeOK[wire.PayMchResponse](t, bizAttr(t, srv, tok, "get_pay_mch", "{}")).PayMchInfo)

	requireCode(t, 72031, bizAttr(t, srv, tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{TimeOut: 5}}))
	requireCode(t, 72031, bizAttr(t, srv, tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{Phone: "1", TimeOut: -5}}))
	requireCode(t, 0, bizAttr(t, srv, tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{Phone: "88888888", TimeOut: 12345}}))
	require.Equal(t, wire.Contact{Phone: "88888888", TimeOut: 12345}, decodeOK[wire.ContactResponse](t, bizAttr(t, srv, tok, "get_contact", "{}")).Contact)

	// A token is needed like for any call.
	requireCode(t, 40014, bizAttr(t, srv, "bad", "get_contact", "{}"))
}

// makeOutBody is the official makeoutinvoice sample with fpqqlsh and ddh set.
func makeOutBody(fpqqlsh, ddh string) *wire.MakeOutInvoiceRequest {
	return &wire.MakeOutInvoiceRequest{InvoiceInfo: wire.MakeOutInvoiceInfo{
		WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Ddh: ddh, Fpqqlsh: fpqqlsh, Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1",
		Nsrdz: "深圳市", Nsrdh: "0755228899988", Ghfmc: "周一", Kpr: "小明", Jshj: "159.0", Hjje: "135.9", Hjse: "23.1", Hylx: "0",
		InvoiceDetailList: []wire.MakeOutInvoiceDetail{{Fphxz: "0", Xmmc: "洗衣机", Xmje: "135.9", Sl: "0.17", Se: "23.1"}},
	}}
}

func TestMakeOutInvoiceChecks(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	for code, f := range map[int]func(ii *wire.MakeOutInvoiceInfo){
		73003: func(ii *wire.MakeOutInvoiceInfo) { ii.WxOpenID = "" },
		73002: func(ii *wire.MakeOutInvoiceInfo) { ii.Ddh = "" },
		73004: func(ii *wire.MakeOutInvoiceInfo) { ii.Fpqqlsh = "" },
		73016: func(ii *wire.MakeOutInvoiceInfo) { ii.Nsrsbh = "" },
		73007: func(ii *wire.MakeOutInvoiceInfo) { ii.Nsrmc = "" },
		73008: func(ii *wire.MakeOutInvoiceInfo) { ii.Nsrdz = "" },
		73009: func(ii *wire.MakeOutInvoiceInfo) { ii.Nsrdh = "" },
		73010: func(ii *wire.MakeOutInvoiceInfo) { ii.Ghfmc = "" },
		73011: func(ii *wire.MakeOutInvoiceInfo) { ii.Kpr = "" },
		73012: func(ii *wire.MakeOutInvoiceInfo) { ii.Jshj = "" },
		73013: func(ii *wire.MakeOutInvoiceInfo) { ii.Hjje = "" },
		73014: func(ii *wire.MakeOutInvoiceInfo) { ii.Hjse = "" },
		73015: func(ii *wire.MakeOutInvoiceInfo) { ii.Hylx = "" },
	} {
		b := makeOutBody("f-1", "d-1")
		f(&b.InvoiceInfo)
		requireCode(t, code, post(t, srv, "/card/invoice/makeoutinvoice", tok, b))
	}
	_, ok := srv.CloudInvoice("f-1")
	require.False(t, ok, "nothing issued by a refused request")
}

type cloudXML struct {
	FromUserName, Event string
	Fpqqlsh             string `xml:"fpqqlsh"`
	Status              string `xml:"status"`
	Nsrsbh              string `xml:"nsrsbh"`
}

func TestUnifiedIssuing(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	srv := start(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	tok := stableToken(t, srv)
	mk := func(f, d string) []byte { return post(t, srv, "/card/invoice/makeoutinvoice", tok, makeOutBody(f, d)) }
	query := func(f, n string) []byte {
		return post(t, srv, "/card/invoice/queryinvoceinfo", tok, wire.QueryInvoiceInfoRequest{Fpqqlsh: f, Nsrsbh: n})
	}

	requireCode(t, 73109, query("f-1", "110109500321654"))
	requireCode(t, 0, mk("f-1", "d-1"))
	requireCode(t, 0, mk("f-1", "d-1"), "the same request again (a retry after 73105) is accepted")
	requireCode(t, 73106, mk("f-1", "d-2"), "fpqqlsh reused with another ddh")
	requireCode(t, 73108, mk("f-2", "d-1"), "ddh reused with another fpqqlsh")

	ci, ok := srv.CloudInvoice("f-1")
	require.True(t, ok)
	require.Len(t, ci.Fpdm, 12)
	require.Len(t, ci.Fphm, 8)
	require.Len(t, ci.Jym, 20)

	requireCode(t, 73004, query("", "1"))
	requireCode(t, 73016, query("f-1", ""))
	requireCode(t, 73101, query("f-1", "999"))
	raw := query("f-1", "110109500321654")
	var qr wire.QueryInvoiceInfoResponse
	require.NoError(t, json.Unmarshal(raw, &qr))
	require.Zero(t, qr.ErrCode)
	require.Equal(t, "发票数据获取成功", qr.ErrMsg, "the sample's errmsg")
	require.Equal(t, wire.QueryInvoiceDetail{Fpqqlsh: "f-1", Fpdm: ci.Fpdm, Fphm: ci.Fphm, Jym: ci.Jym,
		Kprq: t0.In(chinaTime).Format("20060102150405"), PDFURL: qr.InvoiceDetail.PDFURL}, qr.InvoiceDetail)
	resp, err := http.Get(qr.InvoiceDetail.PDFURL)
	require.NoError(t, err)
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, ci.PDF, pdf)

	// 冲红.
	clear := func(f, dm, hm, nsrsbh string) []byte {
		return post(t, srv, "/card/invoice/clearoutinvoice", tok, wire.ClearOutInvoiceRequest{InvoiceInfo: wire.ClearOutInvoiceInfo{
			WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Fpqqlsh: f, Nsrsbh: nsrsbh, Nsrmc: "百旺电子测试1", Yfpdm: dm, Yfphm: hm}})
	}
	requireCode(t, 72031, clear("r-1", ci.Fpdm, "00000000", "110109500321654"), "unknown original")
	requireCode(t, 72031, clear("r-1", ci.Fpdm, "", "110109500321654"), "yfphm required")
	requireCode(t, 73101, clear("r-1", ci.Fpdm, ci.Fphm, "999"))
	requireCode(t, 73106, clear("f-1", ci.Fpdm, ci.Fphm, "110109500321654"), "a blue fpqqlsh cannot be a red one")
	requireCode(t, 0, clear("r-1", "", ci.Fphm, "110109500321654"), "yfpdm may be empty (数电)")
	requireCode(t, 0, clear("r-1", ci.Fpdm, ci.Fphm, "110109500321654"), "the same request again")
	requireCode(t, 72024, clear("r-2", ci.Fpdm, ci.Fphm, "110109500321654"), "already voided")
	red, ok := srv.CloudInvoice("r-1")
	require.True(t, ok)
	require.True(t, red.Red)
	require.Equal(t, "f-1", red.Original)
	blue, _ := srv.CloudInvoice("f-1")
	require.True(t, blue.Cleared)
	requireCode(t, 0, query("r-1", "110109500321654"))

	// One result push per issued invoice (blue, red), none for refusals and repeats.
	srv.WaitPushes()
	got := rc.pushes()
	require.Len(t, got, 2)
	var ev cloudXML
	require.NoError(t, xml.Unmarshal(got[0].body, &ev))
	require.Equal(t, cloudXML{FromUserName: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Event: "cloud_invoice_invoiceresult_event",
		Fpqqlsh: "f-1", Status: "100", Nsrsbh: "110109500321654"}, ev)
	require.NoError(t, xml.Unmarshal(got[1].body, &ev))
	require.Equal(t, "r-1", ev.Fpqqlsh)
	require.Equal(t, wxinvoice.EventCloudInvoiceResult, srv.Pushes()[1].Name)
}
