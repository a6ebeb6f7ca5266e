package wxinvoicetest

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// ctl sends a control API request (body marshalled unless nil or a string)
// and returns the status and the decoded JSON answer.
func ctl(t *testing.T, srv *Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	resp, raw := send(t, method, srv.URL+path, "application/json", b)
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json", string(raw))
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

// ctlOK is ctl expecting a 2xx answer.
func ctlOK(t *testing.T, srv *Server, method, path string, body any) map[string]any {
	t.Helper()
	code, out := ctl(t, srv, method, path, body)
	require.True(t, code >= 200 && code < 300, "%s %s: %d %v", method, path, code, out)
	return out
}

// getText fetches u and returns the status and body.
func getText(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, raw := send(t, http.MethodGet, u, "", nil)
	return resp.StatusCode, string(raw)
}

// postForm submits form to u like a browser and returns the status and body.
func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, raw := send(t, http.MethodPost, u, "application/x-www-form-urlencoded", []byte(form.Encode()))
	return resp.StatusCode, string(raw)
}

func TestControlOffByDefault(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, p := range []string{"/sandbox/healthz", "/sandbox/state", "/"} {
		resp, raw := send(t, http.MethodGet, srv.URL+p, "", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		requireCode(t, 48001, raw, p)
	}
	// Links stay WeChat's.
	m := newMerchant(t)
	require.True(t, strings.HasPrefix(m.authURL(t, "o1"), "https://mp.weixin.qq.com/"))
}

// TestControlOpenAPIMatchesRoutes checks that every route the OpenAPI
// document describes is served and every served route is described.
func TestControlOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	srv := start(t, WithControlAPI())
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	code, raw := getText(t, srv.URL+"/sandbox/openapi.json")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))

	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	for _, rt := range srv.controlRoutes() {
		served = append(served, rt.method+" "+rt.path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)

	// Each documented route answers as itself: not the unknown-route 404,
	// not a 405, not the WeChat API's 48001.
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		u := srv.URL + path
		if path == fapiaoTitlePagePath {
			u += "?token=x"
		}
		resp, body := send(t, method, u, "application/json", nil)
		require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode, op)
		require.NotContains(t, string(body), "no sandbox route", op)
		require.NotContains(t, string(body), "48001", op)
	}
}

func TestControlErrors(t *testing.T) {
	t.Parallel()
	srv := start(t, WithControlAPI())
	cases := []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{http.MethodGet, "/sandbox/nope", nil, 404, "no sandbox route /sandbox/nope"},
		{http.MethodPut, "/sandbox/state", nil, 405, "not allowed"},
		{http.MethodPost, "/sandbox/clock/advance", "{", 400, "not the expected JSON"},
		{http.MethodPost, "/sandbox/clock/advance", `{"secs":5}`, 400, "unknown field"},
		{http.MethodPost, "/sandbox/clock/advance", `{}`, 400, "seconds is required"},
		{http.MethodPost, "/sandbox/clock/advance", `{"seconds":-1}`, 400, "seconds must be > 0"},
		{http.MethodPost, "/sandbox/clock/advance", `{"seconds":1}{}`, 400, "data after"},
		{http.MethodPost, "/sandbox/faults", `{"errcode":-1}`, 400, "path is required"},
		{http.MethodPost, "/sandbox/faults", `{"path":"/card/invoice/insert"}`, 400, "one of errcode"},
		{http.MethodPost, "/sandbox/faults", `{"path":"/sandbox/state","drop":true}`, 400, "control API cannot be faulted"},
		{http.MethodPost, "/sandbox/faults", `{"path":"card/invoice/insert","drop":true}`, 400, "must start with"},
		{http.MethodPost, "/sandbox/faults", `{"path":"*","http_status":99}`, 400, "http_status"},
		{http.MethodPost, "/sandbox/faults", `{"path":"*","drop":true,"count":-1}`, 400, "count"},
		{http.MethodPost, "/sandbox/user/authorize", `{"openid":"o"}`, 400, "order_id or auth_url is required"},
		{http.MethodPost, "/sandbox/user/authorize", `{"order_id":"a","auth_url":"b"}`, 400, "not both"},
		{http.MethodPost, "/sandbox/user/authorize", `{"order_id":"never-asked"}`, 409, "no auth URL was handed out"},
		{http.MethodPost, "/sandbox/user/decline", `{"order_id":"never-asked"}`, 409, "no auth URL"},
		{http.MethodPost, "/sandbox/user/title", `{"title":{"title":"x"}}`, 400, "url is required"},
		{http.MethodPost, "/sandbox/user/title", `{"url":"u","title":{"title":"x","type":"org"}}`, 400, "title.type"},
		{http.MethodPost, "/sandbox/user/title", `{"url":"u","title":{"title":"x"}}`, 409, "no getselecttitleurl link"},
		{http.MethodPost, "/sandbox/user/title-qrcode", `{"title":{}}`, 400, "title.title is required"},
		{http.MethodPost, "/sandbox/reimburser/status", `{"code":"1","status":"INVOICE_REIMBURSE_LOCK"}`, 400, "card_id is required"},
		{http.MethodPost, "/sandbox/reimburser/status", `{"card_id":"p","code":"1","status":"LOCK"}`, 400, "status must be one of"},
		{http.MethodPost, "/sandbox/reimburser/status", `{"card_id":"p","code":"1","status":"INVOICE_REIMBURSE_LOCK"}`, 404, "no invoice"},
		{http.MethodPost, "/sandbox/wecom/users", `{}`, 400, "userid is required"},
		{http.MethodPost, "/sandbox/fapiao/user/apply", `{"amount":1}`, 400, "mchid is required"},
		{http.MethodPost, "/sandbox/fapiao/user/apply", `{"mchid":"1900000001","amount":1,"title":{"type":"INDIVIDUAL","name":"张三"}}`, 400, "1900000001"},
		{http.MethodPost, "/sandbox/fapiao/user/title", `{}`, 400, "title_url is required"},
		{http.MethodPost, "/sandbox/fapiao/user/discard", `{"mchid":"1"}`, 400, "fapiao_apply_id is required"},
		{http.MethodGet, "/sandbox/pdf", nil, 400, "s_media_id is required"},
		{http.MethodGet, "/sandbox/pdf?s_media_id=123", nil, 404, "no PDF 123"},
	}
	for _, c := range cases {
		status, out := ctl(t, srv, c.method, c.path, c.body)
		require.Equal(t, c.status, status, "%s %s %v: %v", c.method, c.path, c.body, out)
		require.Contains(t, out["error"], c.want, "%s %s %v", c.method, c.path, c.body)
	}
	require.Empty(t, srv.Requests(), "control calls are not recorded as WeChat calls")
}

// TestControlRequireAuthThroughUserPage is the --require-auth lifecycle: the
// auth_url getauthurl answers is the sandbox's page, and authorizing there
// (a browser's form POST) lets the insert through and pushes
// user_authorize_invoice.
func TestControlRequireAuthThroughUserPage(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	m := newMerchant(t, WithControlAPI(), WithAuthorizationRequired(), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := m.srv
	insert := func(orderID, billingNo string) []byte {
		return post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, orderID, billingNo))
	}
	authURL := m.authURL(t, "order-1")
	require.True(t, strings.HasPrefix(authURL, srv.URL+"/sandbox/pages/authorize?"), authURL)
	requireCode(t, 72038, insert("order-1", "B1"))

	code, page := getText(t, authURL)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "order-1")
	require.Contains(t, page, "¥1.00")
	require.Contains(t, page, `value="authorize"`)
	require.Contains(t, page, "授权")
	require.NotContains(t, page, "<script")

	u, err := url.Parse(authURL)
	require.NoError(t, err)
	code, page = postForm(t, srv.URL+"/sandbox/pages/authorize", url.Values{
		"auth_key": {u.Query().Get("auth_key")}, "openid": {"ouser-page"}, "action": {"authorize"}})
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "已授权")

	ins := decodeOK[wire.InsertResponse](t, insert("order-1", "B1"))
	require.Equal(t, "ouser-page", ins.OpenID)
	srv.WaitPushes()
	got := rc.pushes()
	require.Len(t, got, 1)
	var ev authXML
	require.NoError(t, xml.Unmarshal(got[0].body, &ev))
	require.Equal(t, "user_authorize_invoice", ev.Event)
	require.Equal(t, "order-1", ev.SuccOrderId)
	require.Equal(t, "ouser-page", ev.FromUserName)

	// Declining through the page pushes FailOrderId; an unknown key is a 404 page.
	u2, err := url.Parse(m.authURL(t, "order-2"))
	require.NoError(t, err)
	code, page = postForm(t, srv.URL+"/sandbox/pages/authorize", url.Values{
		"auth_key": {u2.Query().Get("auth_key")}, "action": {"decline"}})
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "已拒绝")
	srv.WaitPushes()
	require.Len(t, rc.pushes(), 2)
	require.NoError(t, xml.Unmarshal(rc.pushes()[1].body, &ev))
	require.Equal(t, "order-2", ev.FailOrderId)
	requireCode(t, 72038, insert("order-2", "B2"))
	code, _ = postForm(t, srv.URL+"/sandbox/pages/authorize", url.Values{"auth_key": {"forged"}, "action": {"authorize"}})
	require.Equal(t, http.StatusNotFound, code)
	code, _ = postForm(t, srv.URL+"/sandbox/pages/authorize", url.Values{"auth_key": {u2.Query().Get("auth_key")}, "action": {"maybe"}})
	require.Equal(t, http.StatusBadRequest, code)

	// The control API authorizes too (by order_id), and the pushes list both attempts' results.
	out := ctlOK(t, srv, http.MethodPost, "/sandbox/user/authorize", map[string]string{"order_id": "order-2", "openid": "ouser-2"})
	require.Equal(t, "auth success", out["status"])
	requireCode(t, 0, insert("order-2", "B2"))
	pushes := ctlOK(t, srv, http.MethodGet, "/sandbox/pushes", nil)["pushes"].([]any)
	require.Len(t, pushes, 3)
	first := pushes[0].(map[string]any)
	require.Equal(t, "user_authorize_invoice", first["event"])
	require.Equal(t, true, first["delivered"])
	require.Len(t, first["attempts"], 1)
	require.Equal(t, float64(200), first["attempts"].([]any)[0].(map[string]any)["http_status"])
}

func TestControlLifecycleFaultsClockAndRedaction(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, WithControlAPI())
	srv := l.srv
	require.Equal(t, "ok", ctlOK(t, srv, http.MethodGet, "/sandbox/healthz", nil)["status"])

	// A fault on insert: the next call answers 45009, the one after works.
	out := ctlOK(t, srv, http.MethodPost, "/sandbox/faults", map[string]any{"path": "/card/invoice/insert", "errcode": 45009, "count": 1})
	require.Len(t, out["faults"], 1)
	requireCode(t, 45009, post(t, srv, "/card/invoice/insert", l.tok, validInsert(srv, l.cardID, l.mediaID, "o1", "B1")))
	ins := l.insert(t, "o1", "B1")
	require.Empty(t, ctlOK(t, srv, http.MethodGet, "/sandbox/faults", nil)["faults"], "a count-1 fault is used up")

	// Persistent HTTP 502 until cleared.
	ctlOK(t, srv, http.MethodPost, "/sandbox/faults", map[string]any{"path": "*", "http_status": 502, "body": "<html>bad gateway</html>"})
	resp, _ := send(t, http.MethodPost, apiURL(srv, "/card/code/decrypt", l.tok), "application/json", []byte(`{"encrypt_code":"x"}`))
	require.Equal(t, 502, resp.StatusCode)
	require.Len(t, ctlOK(t, srv, http.MethodDelete, "/sandbox/faults", nil)["faults"], 0)
	requireCode(t, 40056, post(t, srv, "/card/code/decrypt", l.tok, `{"encrypt_code":"x"}`))

	// Requests: errcodes and faults recorded, no secret anywhere.
	reqs := ctlOK(t, srv, http.MethodGet, "/sandbox/requests?path=/card/invoice/insert", nil)["requests"].([]any)
	require.Len(t, reqs, 2)
	r0 := reqs[0].(map[string]any)
	require.Equal(t, float64(45009), r0["errcode"])
	require.Equal(t, "errcode 45009", r0["fault"])
	require.Equal(t, redacted, r0["query"].(map[string]any)["access_token"])
	require.Equal(t, float64(0), reqs[1].(map[string]any)["errcode"])
	_, all := getText(t, srv.URL+"/sandbox/requests")
	_, state := getText(t, srv.URL+"/sandbox/state")
	_, console := getText(t, srv.URL+"/?refresh=0")
	for name, doc := range map[string]string{"requests": all, "state": state, "console": console} {
		require.NotContains(t, doc, l.tok, name)
		require.NotContains(t, doc, srv.AppSecret, name)
	}
	require.Contains(t, all, "/cgi-bin/stable_token")
	require.Contains(t, all, `\"secret\":\"REDACTED\"`, "the stable_token body's secret")
	require.Contains(t, all, "bytes not shown", "the multipart upload")

	// State: the invoice, its card and PDF, the token without its value.
	var st ctlState
	require.NoError(t, json.Unmarshal([]byte(state), &st))
	require.Len(t, st.Invoices, 1)
	require.Equal(t, ins.Code, st.Invoices[0].Code)
	require.Equal(t, "INVOICE_REIMBURSE_INIT", st.Invoices[0].Status)
	require.Equal(t, "北京测试有限公司", st.Invoices[0].Title)
	require.Len(t, st.Cards, 1)
	require.Len(t, st.PDFs, 1)
	require.Equal(t, len(samplePDF), st.PDFs[0].Size)
	require.True(t, st.PDFs[0].Linked)
	require.NotEmpty(t, st.Tokens)
	require.False(t, st.Tokens[0].Expired)

	// The PDF link serves the file.
	code, pdf := getText(t, srv.URL+"/sandbox/pdf?s_media_id="+l.mediaID)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, string(samplePDF), pdf)

	// The reimburser locks it.
	out = ctlOK(t, srv, http.MethodPost, "/sandbox/reimburser/status", map[string]string{"card_id": l.cardID, "code": ins.Code, "status": "INVOICE_REIMBURSE_LOCK"})
	require.Equal(t, "INVOICE_REIMBURSE_LOCK", out["status"])
	inv, _ := srv.Invoice(l.cardID, ins.Code)
	require.Equal(t, wxinvoice.ReimburseLock, inv.Status)

	// The clock: the token expires after 7200 s.
	before := srv.Now()
	out = ctlOK(t, srv, http.MethodPost, "/sandbox/clock/advance", map[string]any{"seconds": 7201})
	require.Equal(t, before.Add(7201*time.Second).Format(time.RFC3339), out["now"].(string)[:len(time.RFC3339)-6]+"+08:00")
	requireCode(t, 42001, post(t, srv, "/card/code/decrypt", l.tok, `{"encrypt_code":"x"}`))

	// Reset forgets the card side and the requests, keeps the identity.
	out = ctlOK(t, srv, http.MethodPost, "/sandbox/reset", nil)
	require.Equal(t, "reset", out["status"])
	require.NoError(t, json.Unmarshal([]byte(mustGet(t, srv.URL+"/sandbox/state")), &st))
	require.Empty(t, st.Invoices)
	require.Empty(t, st.Cards)
	require.Empty(t, st.PDFs)
	require.Equal(t, srv.AppID, st.App.AppID)
	require.Empty(t, srv.Requests())
}

// TestControlResetKeepsWhatClientsCache checks that a reset leaves the
// token, the wx_card ticket and a reimburser's token working, and forgets
// orders, invoices and faults.
func TestControlResetKeepsWhatClientsCache(t *testing.T) {
	t.Parallel()
	m := newMerchant(t, WithControlAPI(), WithAuthorizationRequired())
	srv := m.srv
	reimburser := srv.ReimburserToken("wxreimburser0001")
	m.authURL(t, "order-r")
	require.NoError(t, srv.UserAuthorize("order-r", "ou"))
	ins := decodeOK[wire.InsertResponse](t, post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "order-r", "B1")))
	srv.Inject(AnyPath, Fault{ErrCode: -1})
	ctlOK(t, srv, http.MethodPost, "/sandbox/reset", nil)

	_, ok := srv.AuthOrder("order-r")
	require.False(t, ok)
	_, ok = srv.Invoice(m.cardID, ins.Code)
	require.False(t, ok)
	requireCode(t, 72001, post(t, srv, "/card/invoice/reimburse/getinvoiceinfo", reimburser,
		map[string]string{"card_id": m.cardID, "encrypt_code": srv.EncryptCode(m.cardID, ins.Code)}), "no fault; the reimburser's token works (not 40014); the invoice is gone")
	requireCode(t, 72063, post(t, srv, "/card/invoice/getauthurl", m.tok, m.authURLRequest("order-s")), "the contact is forgotten")
	requireCode(t, 0, bizAttr(t, srv, m.tok, "set_contact", wire.ContactRequest{Contact: wire.Contact{Phone: "1", TimeOut: 1}}))
	requireCode(t, 0, post(t, srv, "/card/invoice/getauthurl", m.tok, m.authURLRequest("order-s")), "the cached ticket still works")
}

func mustGet(t *testing.T, u string) string {
	t.Helper()
	code, body := getText(t, u)
	require.Equal(t, http.StatusOK, code, body)
	return body
}

func TestControlTitlePages(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	l := newLifecycle(t, WithControlAPI(), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := l.srv
	sel := decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getselecttitleurl", l.tok, `{"attach":"cart-7"}`)).URL
	require.True(t, strings.HasPrefix(sel, srv.URL+"/sandbox/pages/title?"), sel)
	page := mustGet(t, sel)
	require.Contains(t, page, "选择发票抬头")
	u, err := url.Parse(sel)
	require.NoError(t, err)
	code, page := postForm(t, srv.URL+"/sandbox/pages/title", url.Values{"action": {"select_title"},
		"key": {u.Query().Get("select_title_key")}, "openid": {"ou-title"}, "type": {"business"}, "title": {"某公司"}, "tax_no": {"9144"}})
	require.Equal(t, http.StatusOK, code, page)
	srv.WaitPushes()
	require.Len(t, rc.pushes(), 1)
	body := string(rc.pushes()[0].body)
	require.Contains(t, body, "submit_invoice_title")
	require.Contains(t, body, "某公司")
	require.Contains(t, body, "cart-7")

	// getusertitleurl: the page keeps the title; scantitle resolves its QR code.
	usr := decodeOK[wire.URLResponse](t, post(t, srv, "/card/invoice/biz/getusertitleurl", l.tok, `{"title":"预填公司"}`)).URL
	require.Contains(t, mustGet(t, usr), `value="预填公司"`)
	u, err = url.Parse(usr)
	require.NoError(t, err)
	code, page = postForm(t, srv.URL+"/sandbox/pages/title", url.Values{"action": {"list_auth"},
		"key": {u.Query().Get("biz_title_key")}, "type": {"person"}, "title": {"张三"}})
	require.Equal(t, http.StatusOK, code, page)
	_, text, ok := strings.Cut(page, "QR code reads: ")
	require.True(t, ok, page)
	text, _, _ = strings.Cut(text, " (scantitle")
	res := decodeOK[wire.ScanTitleResponse](t, post(t, srv, "/card/invoice/scantitle", l.tok, map[string]string{"scan_text": htmlUnescape(text)}))
	require.Equal(t, "张三", res.Title)

	// Forged keys.
	code, _ = postForm(t, srv.URL+"/sandbox/pages/title", url.Values{"action": {"select_title"}, "key": {"forged"}, "title": {"x"}})
	require.Equal(t, http.StatusNotFound, code)
	code, _ = getText(t, srv.URL+"/sandbox/pages/title?action=list_auth&biz_title_key=forged")
	require.Equal(t, http.StatusNotFound, code)
	require.Len(t, rc.pushes(), 1)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestControlConsole(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, answer(500, "busy"))
	l := newLifecycle(t, WithControlAPI(), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := l.srv
	page := mustGet(t, srv.URL+"/")
	require.Contains(t, page, `<meta http-equiv="refresh" content="5">`)
	require.Contains(t, page, "No invoice inserted yet.")

	ins := l.insert(t, "o-console", "B-console")
	requireCode(t, 0, post(t, srv, "/card/invoice/platform/updatestatus", l.tok, map[string]string{
		"card_id": l.cardID, "code": ins.Code, "reimburse_status": "INVOICE_REIMBURSE_LOCK"}))
	srv.WaitPushes()
	requireCode(t, 72031, post(t, srv, "/card/invoice/insert", l.tok, `{"order_id":"x"}`))
	srv.FailNext("/card/invoice/insert", 2, Fault{ErrCode: -1})
	srv.Inject("/card/code/decrypt", Fault{Drop: true})

	page = mustGet(t, srv.URL+"/?refresh=0")
	require.NotContains(t, page, `http-equiv="refresh"`)
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, "http://cdn")
	// The card pack: title, amount, status, PDF link.
	require.Contains(t, page, `data-code="`+ins.Code+`"`)
	require.Contains(t, page, "北京测试有限公司")
	require.Contains(t, page, "¥1.00")
	require.Contains(t, page, "INVOICE_REIMBURSE_LOCK")
	require.Contains(t, page, `href="/sandbox/pdf?s_media_id=`+l.mediaID+`"`)
	// The template, the faults, the request log with errcodes, the pushes with attempts.
	require.Contains(t, page, l.cardID)
	require.Contains(t, page, "errcode -1")
	require.Contains(t, page, "next 2")
	require.Contains(t, page, "until cleared")
	require.Contains(t, page, "72031")
	require.Contains(t, page, "/card/invoice/platform/updatestatus")
	require.Contains(t, page, "HTTP 500")
	require.Contains(t, page, "HTTP 200")
	require.Contains(t, page, "1 delivered")
	require.Contains(t, page, "China time")
}

func TestControlFapiaoUser(t *testing.T) {
	t.Parallel()
	srv, f, c := fapiaoSetup(t, WithControlAPI())
	out := ctlOK(t, srv, http.MethodPost, "/sandbox/fapiao/user/apply", map[string]any{"mchid": fpMchID, "amount": 429900,
		"title": map[string]string{"type": "INDIVIDUAL", "name": "张三"}})
	id, _ := out["fapiao_apply_id"].(string)
	require.NotEmpty(t, id)
	cbs := f.Callbacks()
	require.Len(t, cbs, 1)
	require.Equal(t, FapiaoEventUserApplied, cbs[0].EventType)
	require.Equal(t, id, cbs[0].FapiaoApplyID)
	var st ctlState
	require.NoError(t, json.Unmarshal([]byte(mustGet(t, srv.URL+"/sandbox/state")), &st))
	require.NotNil(t, st.Fapiao)
	require.Len(t, st.Fapiao.Merchants, 1)
	require.Equal(t, 1, st.Fapiao.Callbacks)
	require.NotContains(t, mustGet(t, srv.URL+"/sandbox/state"), fpAPIv3Key)
	pushes := ctlOK(t, srv, http.MethodGet, "/sandbox/pushes", nil)
	require.Len(t, pushes["fapiao_callbacks"], 1)
	// The title_url is a page: a browser's form POST fills the title.
	q := url.Values{"fapiao_apply_id": {"apply-page"}, "source": {"WEB"}, "appid": {"wxappid0001"},
		"openid": {"oUserPage"}, "total_amount": {"1000"}}
	st2, b := c.call(http.MethodGet, fpBase+"/user-title/title-url?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st2, string(b))
	var link map[string]string
	require.NoError(t, json.Unmarshal(b, &link))
	page := mustGet(t, link["title_url"])
	require.Contains(t, page, "填写发票抬头")
	tu, err := url.Parse(link["title_url"])
	require.NoError(t, err)
	code, page := postForm(t, srv.URL+fapiaoTitlePagePath, url.Values{"token": {tu.Query().Get("token")},
		"type": {"INDIVIDUAL"}, "name": {"李四"}})
	require.Equal(t, http.StatusOK, code, page)
	cbs = f.Callbacks()
	require.Len(t, cbs, 2)
	require.Equal(t, "apply-page", cbs[1].FapiaoApplyID)
	code, _ = getText(t, link["title_url"])
	require.Equal(t, http.StatusNotFound, code, "a used link")
	code, _ = postForm(t, srv.URL+fapiaoTitlePagePath, url.Values{"token": {tu.Query().Get("token")}, "type": {"INDIVIDUAL"}, "name": {"李四"}})
	require.Equal(t, http.StatusBadRequest, code, "a used link")

	// The same order again is refused, naming it.
	code, e := ctl(t, srv, http.MethodPost, "/sandbox/fapiao/user/apply", map[string]any{"mchid": fpMchID, "amount": 1,
		"transaction_id": id, "title": map[string]string{"type": "INDIVIDUAL", "name": "张三"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, e["error"], id)
}

func TestControlPagesHTMLEscape(t *testing.T) {
	t.Parallel()
	m := newMerchant(t, WithControlAPI())
	req := m.authURLRequest(`<b>o</b>`)
	authURL := decodeOK[wire.AuthURLResponse](t, post(t, m.srv, "/card/invoice/getauthurl", m.tok, req)).AuthURL
	page := mustGet(t, authURL)
	require.NotContains(t, page, "<b>o</b>")
	require.Contains(t, page, "&lt;b&gt;o&lt;/b&gt;")
	resp, err := http.Get(m.srv.URL + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NotContains(t, string(b), "<b>o</b>")
}
