package wxinvoice

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ticketSample is the getticket answer of WeChat's documentation.
const ticketSample = `{"errcode":0,"errmsg":"ok","ticket":"m7RQzjA_ljjEkt-JCoklRM5zrzYr-6PI09QydZmNXXz-opTqMv53aFj1ykRt_AOtvqidqZZsLhCDgwGC6nBDiA","expires_in":7200}`

const sampleTicket = "m7RQzjA_ljjEkt-JCoklRM5zrzYr-6PI09QydZmNXXz-opTqMv53aFj1ykRt_AOtvqidqZZsLhCDgwGC6nBDiA"

// handleTicket serves getticket on ts, counting the calls.
func handleTicket(t *testing.T, ts *testServer, hits *atomic.Int64, delay time.Duration) {
	t.Helper()
	ts.mux.HandleFunc("/cgi-bin/ticket/getticket", func(w http.ResponseWriter, r *http.Request) {
		require.Empty(t, testRequest(t, r, "GET"))
		require.Equal(t, "wx_card", r.URL.Query().Get("type"))
		hits.Add(1)
		time.Sleep(delay)
		_, _ = w.Write([]byte(ticketSample))
	})
}

// bizAttr serves setbizattr on ts: per action, the body expected and the answer.
func bizAttr(t *testing.T, ts *testServer, want map[string][2]string) {
	t.Helper()
	ts.mux.HandleFunc("/card/invoice/setbizattr", func(w http.ResponseWriter, r *http.Request) {
		action := r.URL.Query().Get("action")
		exp, ok := want[action]
		require.True(t, ok, "unexpected action %q", action)
		require.JSONEq(t, exp[0], string(testRequest(t, r, "POST")), action)
		_, _ = w.Write([]byte(exp[1]))
	})
}

func TestCardTicketWireAndCache(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 0)
	c := ts.client(t)
	for i := 0; i < 3; i++ {
		tk, err := c.CardTicket(bg)
		require.NoError(t, err)
		require.Equal(t, sampleTicket, tk)
	}
	require.EqualValues(t, 1, hits.Load(), "the ticket is cached")
}

func TestCardTicketOneFetchInFlight(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 50*time.Millisecond)
	c := ts.client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := c.CardTicket(bg)
			if err == nil && tk != sampleTicket {
				err = errors.New("wrong ticket " + tk)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, hits.Load())
	require.EqualValues(t, 1, ts.tokenCalls.Load(), "one access token for the ticket fetch")
}

func TestCardTicketRefreshedAtExpiry(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 0)
	c := ts.client(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c.tickets.now = func() time.Time { return time.Unix(0, now.Load()) }

	_, err := c.CardTicket(bg)
	require.NoError(t, err)
	now.Add(int64(7200 * time.Second)) // past expiry: the next call fetches in line
	_, err = c.CardTicket(bg)
	require.NoError(t, err)
	require.EqualValues(t, 2, hits.Load())
}

func TestCardTicketSharedThroughStore(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 0)
	store := NewMemoryTokenStore()
	a, b := ts.client(t, WithTokenStore(store)), ts.client(t, WithTokenStore(store))
	ta, err := a.CardTicket(bg)
	require.NoError(t, err)
	tb, err := b.CardTicket(bg)
	require.NoError(t, err)
	require.Equal(t, ta, tb)
	require.EqualValues(t, 1, hits.Load())
	got, ok, err := store.GetToken(bg, "wx_card_ticket:"+testAppID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, sampleTicket, got.Value)
}

func TestCardTicketErrorIsAPIError(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/cgi-bin/ticket/getticket", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":48001,"errmsg":"api unauthorized"}`))
	})
	_, err := ts.client(t).CardTicket(bg)
	require.ErrorIs(t, err, ErrUnauthorizedAPI)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "/cgi-bin/ticket/getticket", apiErr.Op)
	requireNoSecrets(t, err.Error())
}

func TestGetAuthURLWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/getauthurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceGetAuthUrlRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__CardInvoiceGetAuthUrlResponse.json")))
	})
	resp, err := ts.client(t).GetAuthURL(bg, &GetAuthURLRequest{
		SPAppID: "wxabcd", OrderID: "1234", Money: 11, Timestamp: time.Unix(1474875876, 0),
		Source: AuthSourceWeb, RedirectURL: "https://mp.weixin.qq.com", Ticket: "tttt", Type: AuthPageFillTitle,
	})
	require.NoError(t, err)
	require.Equal(t, &GetAuthURLResponse{AuthURL: "auth_url", AppID: "appid"}, resp)
}

func TestGetAuthURLFetchesTicketAndDefaults(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 0)
	var bodies []map[string]any
	var mu sync.Mutex
	ts.mux.HandleFunc("/card/invoice/getauthurl", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		require.NoError(t, jsonUnmarshal(testRequest(t, r, "POST"), &m))
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","auth_url":"https://mp.weixin.qq.com/x","appid":"wxminiprogram"}`))
	})
	c := ts.client(t)
	before := time.Now().Unix()
	for _, src := range []AuthSource{AuthSourceWxa, AuthSourceApp, AuthSourceWap, AuthSourceWeb} {
		resp, err := c.GetAuthURL(bg, &GetAuthURLRequest{SPAppID: "sp", OrderID: "o-" + string(src), Source: src})
		require.NoError(t, err)
		require.Equal(t, "https://mp.weixin.qq.com/x", resp.AuthURL)
	}
	require.EqualValues(t, 1, hits.Load(), "the ticket is fetched once and cached")
	require.Len(t, bodies, 4)
	for i, m := range bodies {
		require.Equal(t, sampleTicket, m["ticket"])
		require.Equal(t, float64(0), m["type"], "type 0 is sent, not omitted")
		require.Equal(t, float64(0), m["money"])
		require.InDelta(t, float64(before), m["timestamp"], 5, "zero Timestamp means now")
		require.NotContains(t, m, "redirect_url")
		require.Equal(t, []string{"wxa", "app", "wap", "web"}[i], m["source"])
	}
}

func TestGetAuthDataWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/getauthdata", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceGetAuthDataRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__CardInvoiceGetAuthDataResponse.json")))
	})
	resp, err := ts.client(t).GetAuthData(bg, &GetAuthDataRequest{SPAppID: "{s_pappid}", OrderID: "{order_id}"})
	require.NoError(t, err)
	require.True(t, resp.Authorized())
	require.Equal(t, &GetAuthDataResponse{
		InvoiceStatus: "auth success", AuthTime: time.Unix(1480342498, 0),
		UserAuthInfo: UserAuthInfo{
			User: UserAuthFields{Title: "Dhxhhx ", Phone: "5554545", Email: "dhxhxhhx@qq.cind",
				CustomFields: []CustomFieldValue{{Key: "field1", Value: "管理理论"}}},
			Biz: BizAuthFields{Title: "王xx", TaxNo: "6464646766", Addr: "后过敏", Phone: "1557548768", BankType: "仔仔细细",
				BankNo: "545454646", CustomFields: []CustomFieldValue{{Key: "field2", Value: "哈哈哈啊"}}},
		},
	}, resp)
}

func TestGetAuthDataNeverAuth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/getauthdata", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","invoice_status":"never auth"}`))
	})
	resp, err := ts.client(t).GetAuthData(bg, &GetAuthDataRequest{SPAppID: "sp", OrderID: "o"})
	require.NoError(t, err)
	require.False(t, resp.Authorized())
	require.Equal(t, AuthStatusNever, resp.InvoiceStatus)
	require.True(t, resp.AuthTime.IsZero())
}

func TestRejectInsertWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/rejectinsert", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceRejectInsertRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).RejectInsert(bg, &RejectInsertRequest{SPAppID: "d3JCEfhGLW+q0iGP+o9", OrderID: "111229", Reason: "1234", URL: "http://xxx.com"})
	require.NoError(t, err)
}

// sampleAuthField is the official set_auth_field sample as a Go value.
func sampleAuthField() *AuthField {
	return &AuthField{
		User: UserFieldSettings{ShowTitle: true, ShowPhone: true, ShowEmail: true, CustomFields: []CustomField{{Key: "field1"}}},
		Biz: BizFieldSettings{ShowTitle: true, ShowTaxNo: true, ShowAddr: true, ShowPhone: true, ShowBankType: true, ShowBankNo: true,
			CustomFields: []CustomField{{Key: "field2"}}},
	}
}

func TestSetBizAttrWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ok := `{"errcode":0,"errmsg":"ok"}`
	bizAttr(t, ts, map[string][2]string{
		"set_auth_field": {fixture(t, "CardInvoice__CardInvoiceSetAuthFieldRequest.json"), ok},
		"get_auth_field": {`{}`, fixture(t, "CardInvoice__SetBusinessAttribute__CardInvoiceGetAuthFieldResponse.json")},
		"set_pay_mch":    {fixture(t, "CardInvoice__CardInvoiceSetPayMerchantRequest.json"), ok},
		"get_pay_mch":    {`{}`, fixture(t, "CardInvoice__SetBusinessAttribute__CardInvoiceGetPayMerchantResponse.json")},
		"set_contact":    {fixture(t, "CardInvoice__CardInvoiceSetContactRequest.json"), ok},
		"get_contact":    {`{}`, fixture(t, "CardInvoice__SetBusinessAttribute__CardInvoiceGetContactResponse.json")},
	})
	c := ts.client(t)

	require.NoError(t, c.SetAuthField(bg, sampleAuthField()))
	af, err := c.GetAuthField(bg)
	require.NoError(t, err)
	require.Equal(t, sampleAuthField(), af)

	require.NoError(t, c.SetPayMch(bg, &PayMchInfo{MchID: "1234", SPAppID: "wxabcd"}))
	pm, err := c.GetPayMch(bg)
	require.NoError(t, err)
	require.Equal(t, &PayMchInfo{MchID: "1234", SPAppID: "wxabcd"}, pm)

	require.NoError(t, c.SetContact(bg, &Contact{Phone: "88888888", Timeout: 12345}))
	ct, err := c.GetContact(bg)
	require.NoError(t, err)
	require.Equal(t, &Contact{Phone: "88888888", Timeout: 12345}, ct)
}

func TestSetAuthFieldSendsRequireFlagsAndNotices(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	bizAttr(t, ts, map[string][2]string{"set_auth_field": {`{"auth_field":{
		"user_field":{"show_phone":1,"require_phone":1,"custom_field":[{"key":"工号","is_require":1,"notice":"请填写工号"}]},
		"biz_field":{"show_tax_no":1,"require_tax_no":1}}}`, `{"errcode":0,"errmsg":"ok"}`}})
	err := ts.client(t).SetAuthField(bg, &AuthField{
		User: UserFieldSettings{ShowPhone: true, RequirePhone: true, CustomFields: []CustomField{{Key: "工号", Required: true, Notice: "请填写工号"}}},
		Biz:  BizFieldSettings{ShowTaxNo: true, RequireTaxNo: true},
	})
	require.NoError(t, err)
}

// sampleMakeOut is the official makeoutinvoice sample as a Go request.
func sampleMakeOut() *MakeOutInvoiceRequest {
	return &MakeOutInvoiceRequest{
		WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Ddh: "30000", Fpqqlsh: "test20160511000461",
		Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1", Nsrdz: "深圳市", Nsrdh: "0755228899988", NsrBank: "中国银行广州支行", NsrBankID: "12345678",
		Ghfnsrsbh: "110109500321654", Ghfmc: "周一", Ghfdz: "广州市", Ghfdh: "13717771888", GhfBank: "工商银行", GhfBankID: "12345678",
		Kpr: "小明", Skr: "李四", Fhr: "小王", Jshj: "159.0", Hjje: "135.9", Hjse: "23.1", Bz: "备注", Hylx: "0",
		Details: []MakeOutInvoiceDetail{{Fphxz: "0", Spbm: "1090418010000000000", Xmmc: "洗衣机", Dw: "台", Ggxh: "60L",
			Xmsl: "1", Xmdj: "135.9", Xmje: "135.9", Sl: "0.17", Se: "23.1"}},
	}
}

func TestMakeOutInvoiceWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/makeoutinvoice", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceMakeOutInvoiceRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	require.NoError(t, ts.client(t).MakeOutInvoice(bg, sampleMakeOut()))
}

func TestClearOutInvoiceWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/clearoutinvoice", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceClearOutInvoiceRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).ClearOutInvoice(bg, &ClearOutInvoiceRequest{WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Fpqqlsh: "test20160511000400",
		Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1", Yfpdm: "050003521100", Yfphm: "30329969"})
	require.NoError(t, err)
}

// A 数电发票 has no 发票代码: its clear-out leaves yfpdm out, as insert
// leaves out an empty billing_code, rather than sending an empty string.
func TestClearOutInvoiceWithoutCode(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/clearoutinvoice", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, `{"invoiceinfo":{"wxopenid":"os92LxEDbiOw7kWZanRN_Bb3Q45I","fpqqlsh":"test20160511000401",
			"nsrsbh":"110109500321654","nsrmc":"百旺电子测试1","yfphm":"24442000000012345678"}}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).ClearOutInvoice(bg, &ClearOutInvoiceRequest{WxOpenID: "os92LxEDbiOw7kWZanRN_Bb3Q45I", Fpqqlsh: "test20160511000401",
		Nsrsbh: "110109500321654", Nsrmc: "百旺电子测试1", Yfphm: "24442000000012345678"})
	require.NoError(t, err)
}

func TestQueryInvoiceInfoWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/queryinvoceinfo", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__CardInvoiceQueryInvoiceInfoRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__CardInvoiceQueryInvoiceInfoResponse.json")))
	})
	resp, err := ts.client(t).QueryInvoiceInfo(bg, &QueryInvoiceInfoRequest{Fpqqlsh: "test20160511000440", Nsrsbh: "110109500321654"})
	require.NoError(t, err)
	require.Equal(t, &QueryInvoiceInfoResponse{Fpqqlsh: "14574d75004451097845", Fpdm: "088978450417", Fphm: "21590001",
		Jym: "59004166725791147047", Kprq: "20171204172159", PDFURL: "http://weixin.com",
		IssuedAt: time.Date(2017, 12, 4, 17, 21, 59, 0, chinaZone)}, resp)
	require.Equal(t, "2017-12-04T09:21:59Z", resp.IssuedAt.UTC().Format(time.RFC3339))
}

func TestMakeOutErrcodesAndUnknownOutcome(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	answers := []string{
		`{"errcode":73105,"errmsg":"Kp plat make invoice timeout, please try again with the same fpqqlsh"}`,
		`{"errcode":73107,"errmsg":"Fpqqlsh is processing, please wait and query later"}`,
		`{"errcode":73106,"errmsg":"Fpqqlsh exist with different ddh"}`,
		`{"errcode":73100,"errmsg":"kaipiao plat error"}`,
		"drop",
	}
	ts.mux.HandleFunc("/card/invoice/makeoutinvoice", func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		a := answers[n-1]
		if a == "drop" { // the request reached "WeChat", the answer is lost
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		_, _ = w.Write([]byte(a))
	})
	c := ts.client(t)
	for _, want := range []error{ErrMakeOutTimeout, ErrFpqqlshProcessing, ErrFpqqlshReused, ErrInvoicePlatform} {
		err := c.MakeOutInvoice(bg, sampleMakeOut())
		require.ErrorIs(t, err, want)
		require.Contains(t, err.Error(), "/card/invoice/makeoutinvoice")
	}
	err := c.MakeOutInvoice(bg, sampleMakeOut())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.EqualValues(t, 5, hits.Load(), "a write with an unknown outcome is not replayed")
	requireNoSecrets(t, err.Error())
}

func TestFormatYuan(t *testing.T) {
	t.Parallel()
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 100: "1.00", 15900: "159.00", 2310: "23.10", -1050: "-10.50", 123456789: "1234567.89"} {
		require.Equal(t, want, FormatYuan(fen), "%d", fen)
	}
}

// TestEndpointValidationSendsNothing covers the validation of every endpoint
// of the merchant, reimburser, title and bill families.
func TestEndpointValidationSendsNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	ts.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := ts.client(t)
	authURL := func(f func(r *GetAuthURLRequest)) error {
		r := &GetAuthURLRequest{SPAppID: "sp", OrderID: "o", Money: 1, Source: AuthSourceWeb, Ticket: "t"}
		f(r)
		_, err := c.GetAuthURL(bg, r)
		return err
	}
	billURL := func(f func(r *GetBillAuthURLRequest)) error {
		r := &GetBillAuthURLRequest{SPAppID: "sp", OrderID: "o", Money: 1, Source: AuthSourceApp, Ticket: "t"}
		f(r)
		_, err := c.GetBillAuthURL(bg, r)
		return err
	}
	makeOut := func(f func(r *MakeOutInvoiceRequest)) error {
		r := sampleMakeOut()
		f(r)
		return c.MakeOutInvoice(bg, r)
	}
	clearOut := func(f func(r *ClearOutInvoiceRequest)) error {
		r := &ClearOutInvoiceRequest{WxOpenID: "o", Fpqqlsh: "f", Nsrsbh: "n", Nsrmc: "m", Yfphm: "1"}
		f(r)
		return c.ClearOutInvoice(bg, r)
	}
	ref := InvoiceRef{CardID: "c", EncryptCode: "e"}
	cases := []struct {
		field string
		call  func() error
	}{
		{"req", func() error { _, err := c.GetAuthURL(bg, nil); return err }},
		{"SPAppID", func() error { return authURL(func(r *GetAuthURLRequest) { r.SPAppID = "" }) }},
		{"OrderID", func() error { return authURL(func(r *GetAuthURLRequest) { r.OrderID = "" }) }},
		{"Money", func() error { return authURL(func(r *GetAuthURLRequest) { r.Money = -1 }) }},
		{"Source", func() error { return authURL(func(r *GetAuthURLRequest) { r.Source = "" }) }},
		{"Source", func() error { return authURL(func(r *GetAuthURLRequest) { r.Source = "h5" }) }},
		{"Type", func() error { return authURL(func(r *GetAuthURLRequest) { r.Type = 3 }) }},
		{"Type", func() error { return authURL(func(r *GetAuthURLRequest) { r.Type = -1 }) }},
		{"SPAppID", func() error { _, err := c.GetAuthData(bg, &GetAuthDataRequest{OrderID: "o"}); return err }},
		{"OrderID", func() error { _, err := c.GetAuthData(bg, &GetAuthDataRequest{SPAppID: "s"}); return err }},
		{"Reason", func() error { return c.RejectInsert(bg, &RejectInsertRequest{SPAppID: "s", OrderID: "o"}) }},
		{"OrderID", func() error { return c.RejectInsert(bg, &RejectInsertRequest{SPAppID: "s", Reason: "r"}) }},
		{"f", func() error { return c.SetAuthField(bg, nil) }},
		{"User.CustomFields[1].Key", func() error {
			return c.SetAuthField(bg, &AuthField{User: UserFieldSettings{CustomFields: []CustomField{{Key: "a"}, {}}}})
		}},
		{"Biz.CustomFields[0].Key", func() error {
			return c.SetAuthField(bg, &AuthField{Biz: BizFieldSettings{CustomFields: []CustomField{{Notice: "n"}}}})
		}},
		{"MchID", func() error { return c.SetPayMch(bg, &PayMchInfo{SPAppID: "s"}) }},
		{"SPAppID", func() error { return c.SetPayMch(bg, &PayMchInfo{MchID: "1"}) }},
		{"Phone", func() error { return c.SetContact(bg, &Contact{Timeout: 1}) }},
		{"Timeout", func() error { return c.SetContact(bg, &Contact{Phone: "1", Timeout: -1}) }},
		{"req", func() error { return c.MakeOutInvoice(bg, nil) }},
		{"WxOpenID", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.WxOpenID = "" }) }},
		{"Ddh", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Ddh = "" }) }},
		{"Fpqqlsh", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Fpqqlsh = "" }) }},
		{"Nsrsbh", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Nsrsbh = "" }) }},
		{"Kpr", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Kpr = "" }) }},
		{"Hylx", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Hylx = "" }) }},
		{"Hylx", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Hylx = "2" }) }},
		{"Jshj", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Jshj = "-159.0" }) }},
		{"Hjje", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Hjje = "12,5" }) }},
		{"Hjse", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Hjse = "1e3" }) }},
		{"Details[0].Fphxz", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Details[0].Fphxz = "3" }) }},
		{"Details[0].Xmje", func() error { return makeOut(func(r *MakeOutInvoiceRequest) { r.Details[0].Xmje = "abc" }) }},
		{"Yfphm", func() error { return clearOut(func(r *ClearOutInvoiceRequest) { r.Yfphm = "" }) }},
		{"Nsrmc", func() error { return clearOut(func(r *ClearOutInvoiceRequest) { r.Nsrmc = "" }) }},
		{"Fpqqlsh", func() error { _, err := c.QueryInvoiceInfo(bg, &QueryInvoiceInfoRequest{Nsrsbh: "n"}); return err }},
		{"Nsrsbh", func() error { _, err := c.QueryInvoiceInfo(bg, &QueryInvoiceInfoRequest{Fpqqlsh: "f"}); return err }},
		{"ref", func() error { _, err := c.GetInvoiceInfo(bg, nil); return err }},
		{"EncryptCode", func() error { _, err := c.GetInvoiceInfo(bg, &InvoiceRef{CardID: "c"}); return err }},
		{"Invoices", func() error { _, err := c.GetInvoiceBatch(bg, &GetInvoiceBatchRequest{}); return err }},
		{"Invoices[1].CardID", func() error {
			_, err := c.GetInvoiceBatch(bg, &GetInvoiceBatchRequest{Invoices: []InvoiceRef{ref, {EncryptCode: "e"}}})
			return err
		}},
		{"Status", func() error {
			return c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "c", EncryptCode: "e", Status: "INVOICE_REIMBURSE_X"})
		}},
		{"Status", func() error {
			return c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "c", EncryptCode: "e", Status: ReimburseCancel})
		}},
		{"CardID", func() error {
			return c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{EncryptCode: "e", Status: ReimburseLock})
		}},
		{"OpenID", func() error {
			return c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{Status: ReimburseLock, Invoices: []InvoiceRef{ref}})
		}},
		{"Invoices", func() error {
			return c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "o", Status: ReimburseLock})
		}},
		{"Status", func() error {
			return c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "o", Status: "", Invoices: []InvoiceRef{ref}})
		}},
		{"Invoices[0].EncryptCode", func() error {
			return c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "o", Status: ReimburseClosure, Invoices: []InvoiceRef{{CardID: "c"}}})
		}},
		{"Title", func() error { _, err := c.GetUserTitleURL(bg, &GetUserTitleURLRequest{Phone: "1"}); return err }},
		{"req", func() error { _, err := c.GetUserTitleURL(bg, nil); return err }},
		{"scanText", func() error { _, err := c.ScanTitle(bg, ""); return err }},
		{"Source", func() error { return billURL(func(r *GetBillAuthURLRequest) { r.Source = AuthSourceWxa }) }},
		{"Money", func() error { return billURL(func(r *GetBillAuthURLRequest) { r.Money = -5 }) }},
		{"SPAppID", func() error { return billURL(func(r *GetBillAuthURLRequest) { r.SPAppID = "" }) }},
		{"Payee", func() error { _, err := c.CreateBillCard(bg, &CreateBillCardRequest{LogoURL: "l"}); return err }},
		{"LogoURL", func() error { _, err := c.CreateBillCard(bg, &CreateBillCardRequest{Payee: "p"}); return err }},
	}
	for _, tc := range cases {
		err := tc.call()
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, tc.field)
		require.Equal(t, tc.field, ve.Field)
		require.True(t, strings.Contains(err.Error(), tc.field), err.Error())
	}
	require.Zero(t, hits.Load(), "validation must not send anything")
	require.Zero(t, ts.tokenCalls.Load(), "validation must not even fetch a token")
}

func TestValidationAcceptsWhatWeChatAccepts(t *testing.T) {
	t.Parallel()
	// Amounts WeChat accepts pass validation: a discount line's negative
	// amounts, "0" totals, and a 数电 clear-out without yfpdm.
	r := sampleMakeOut()
	r.Jshj, r.Hjje, r.Hjse = "0", "0.00", "0"
	r.Details = append(r.Details, MakeOutInvoiceDetail{Fphxz: "1", Xmmc: "折扣", Xmje: "-10.00", Se: "-1.30", Sl: "0.13"})
	require.NoError(t, r.validate())
	for _, s := range []AuthSource{AuthSourceApp, AuthSourceWeb, AuthSourceWxa, AuthSourceWap} {
		require.True(t, s.Valid())
	}
	require.False(t, AuthSource("WEB").Valid())
	for _, tp := range []AuthPageType{AuthPageInvoice, AuthPageFillTitle, AuthPageReceive} {
		require.True(t, tp.Valid())
	}
}
