package wxinvoicetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fpBase = "/v3/new-tax-control-fapiao"

// sampleJSON loads a documentation sample as a generic object.
func sampleJSON(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(readFixture(t, name), &m))
	return m
}

// issueRequest is the documentation's issue sample for applyID and scene,
// phone and email encrypted for the fake.
func issueRequest(t testing.TB, c *fpClient, scene, applyID string) map[string]any {
	m := sampleJSON(t, "fapiao_applications_request.json")
	m["scene"], m["fapiao_apply_id"] = scene, applyID
	buyer := m["buyer_information"].(map[string]any)
	buyer["phone"], buyer["email"] = c.encrypt(fpPhone), c.encrypt(fpEmail)
	return m
}

// setupMerchant configures the callback URL and the card template.
func setupMerchant(t *testing.T, c *fpClient, callbackURL string) {
	t.Helper()
	st, b := c.call(http.MethodPatch, fpBase+"/merchant/development-config",
		map[string]any{"callback_url": callbackURL, "show_fapiao_cell": true})
	require.Equal(t, http.StatusOK, st, string(b))
	st, b = c.call(http.MethodPost, fpBase+"/card-template", readFixture(t, "card_template_request.json"))
	require.Equal(t, http.StatusOK, st, string(b))
}

func TestFapiaoLifecycleWithWechatPay(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)

	// Development config (E02, E03).
	st, b := c.call(http.MethodPatch, fpBase+"/merchant/development-config",
		map[string]any{"callback_url": rcv.srv.URL + "/fapiao/notify", "show_fapiao_cell": true})
	require.Equal(t, http.StatusOK, st, string(b))
	assert.JSONEq(t, `{"callback_url":"`+rcv.srv.URL+`/fapiao/notify","show_fapiao_cell":true,"support_vat_fapiao":false}`, string(b))
	st, b = c.call(http.MethodGet, fpBase+"/merchant/development-config", nil)
	require.Equal(t, http.StatusOK, st)
	assert.Contains(t, string(b), `"callback_url":"`+rcv.srv.URL+`/fapiao/notify"`)

	// Card template (E01), the documentation's sample.
	st, b = c.call(http.MethodPost, fpBase+"/card-template", readFixture(t, "card_template_request.json"))
	require.Equal(t, http.StatusOK, st, string(b))
	var tpl map[string]string
	require.NoError(t, json.Unmarshal(b, &tpl))
	assert.Equal(t, "wxb1170446a4c0a5a2", tpl["card_appid"])
	assert.Regexp(t, `^p[A-Za-z0-9_-]{27}$`, tpl["card_id"])

	// The user pays and applies (→ FAPIAO.USER_APPLIED).
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, OpenID: "oUser1",
		Title: FapiaoTitle{Type: "ORGANIZATION", Name: "深圳市南山区测试企业", TaxpayerID: "202003261233701778",
			Phone: fpPhone, Email: fpEmail}})
	require.NoError(t, err)
	cb := rcv.next(t)
	assert.Equal(t, FapiaoEventUserApplied, cb.EventType)
	assert.Equal(t, "用户发票抬头填写完成", cb.Envelope.Summary)
	assert.Equal(t, map[string]any{"mchid": fpMchID, "fapiao_apply_id": txn, "apply_time": "2024-05-01T10:00:00+08:00"}, cb.Resource)

	// The merchant reads the title (E07): phone and email encrypted for it.
	st, b = c.call(http.MethodGet, fpBase+"/user-title?scene=WITH_WECHATPAY&fapiao_apply_id="+txn, nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var title FapiaoTitle
	require.NoError(t, json.Unmarshal(b, &title))
	assert.Equal(t, "深圳市南山区测试企业", title.Name)
	assert.NotEqual(t, fpPhone, title.Phone, "phone must be encrypted on the wire")
	assert.Equal(t, fpPhone, c.decrypt(title.Phone))
	assert.Equal(t, fpEmail, c.decrypt(title.Email))
	assert.EqualValues(t, 429900, title.Amount)

	// Issue (E08) → 202, then FAPIAO.ISSUED.
	req := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications", req)
	require.Equal(t, http.StatusAccepted, st, string(b))
	assert.Empty(t, b)
	cb = rcv.next(t)
	assert.Equal(t, FapiaoEventIssued, cb.EventType)
	assert.Equal(t, map[string]any{"mchid": fpMchID, "fapiao_apply_id": txn, "fapiao_information": []any{
		map[string]any{"fapiao_id": "20200701123456", "fapiao_status": "ISSUED", "card_status": "INSERTED"}}}, cb.Resource)

	// Query (E09).
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/"+txn, nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var q struct {
		TotalCount        int              `json:"total_count"`
		FapiaoInformation []fpQueryInvoice `json:"fapiao_information"`
	}
	require.NoError(t, json.Unmarshal(b, &q))
	require.Equal(t, 1, q.TotalCount)
	inv := q.FapiaoInformation[0]
	assert.Equal(t, FapiaoIssued, inv.Status)
	require.NotNil(t, inv.BlueFapiao)
	assert.Regexp(t, `^\d{12}$`, inv.BlueFapiao.FapiaoCode)
	assert.Regexp(t, `^\d{8}$`, inv.BlueFapiao.FapiaoNumber)
	assert.Equal(t, "2024-05-01T10:00:00+08:00", inv.BlueFapiao.FapiaoTime)
	assert.Nil(t, inv.RedFapiao)
	require.NotNil(t, inv.CardInformation)
	assert.Equal(t, fpCardInfo{CardAppID: "wxb1170446a4c0a5a2", CardOpenID: "oUser1", CardID: tpl["card_id"],
		CardCode: inv.CardInformation.CardCode, CardStatus: FapiaoCardInserted}, *inv.CardInformation)
	assert.Equal(t, fpPhone, c.decrypt(inv.BuyerInformation.Phone))
	assert.Equal(t, defaultFapiaoSeller, inv.SellerInformation)
	// The sample line: 429900 at 13 % → 380442 + 49458, unit price 380442 × 10⁶.
	require.Len(t, inv.Items, 1)
	assert.Equal(t, FapiaoItem{TaxCode: "3010101020203000000", GoodsName: "出租汽车客运服务", Specification: "A4",
		Unit: "次", Quantity: 100000000, UnitPrice: 380442000000, Amount: 380442, TaxAmount: 49458,
		TotalAmount: 429900, TaxRate: 1300, TaxPreferMark: "NO_FAVORABLE"}, inv.Items[0])

	// Files (E10) and the download (E11) with its SM3 digest.
	file := downloadFapiao(t, srv, c, txn, inv, "oUser1")
	app, ok := f.Application(fpMchID, "", txn)
	require.True(t, ok)
	assert.Equal(t, app.Invoices[0].File, file)
	assert.Equal(t, fpPhone, app.Buyer.Phone, "the fake keeps the decrypted buyer")

	// Reverse (E12) → 202, then FAPIAO.REVERSED.
	rev := sampleJSON(t, "reverse_request.json")
	rev["fapiao_information"] = []any{map[string]any{"fapiao_id": "20200701123456",
		"fapiao_code": inv.BlueFapiao.FapiaoCode, "fapiao_number": inv.BlueFapiao.FapiaoNumber}}
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/"+txn+"/reverse", rev)
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb = rcv.next(t)
	assert.Equal(t, FapiaoEventReversed, cb.EventType)
	assert.Equal(t, []any{map[string]any{"fapiao_id": "20200701123456", "fapiao_status": "REVERSED",
		"card_status": "DISCARDED"}}, cb.Resource["fapiao_information"])
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/"+txn+"?fapiao_id=20200701123456", nil)
	require.Equal(t, http.StatusOK, st)
	require.NoError(t, json.Unmarshal(b, &q))
	assert.Equal(t, FapiaoReversed, q.FapiaoInformation[0].Status)
	require.NotNil(t, q.FapiaoInformation[0].RedFapiao)
	assert.NotEqual(t, inv.BlueFapiao.FapiaoNumber, q.FapiaoInformation[0].RedFapiao.FapiaoNumber)
	// A reversed invoice still has its file (fapiao-files serves ISSUED or REVERSED ones).
	downloadFapiao(t, srv, c, txn, inv, "oUser1")

	// A second reverse of the same invoice with another reason is refused.
	rev["reverse_reason"] = "开票有误"
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/"+txn+"/reverse", rev)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)

	f.WaitCallbacks()
	assert.Empty(t, rcv.failures())
	cbs := f.Callbacks()
	require.Len(t, cbs, 3)
	for _, cb := range cbs {
		assert.True(t, cb.Delivered && cb.Done, cb.EventType)
		require.Len(t, cb.Attempts, 1)
		assert.Equal(t, http.StatusNoContent, cb.Attempts[0].StatusCode)
		assert.Equal(t, fpKeyID, cb.Attempts[0].Header.Get("Wechatpay-Serial"))
	}
}

// downloadFapiao gets the download_url of inv (E10), downloads it (E11),
// checks the SM3-Digest and that the link dies after 30 s, and returns the
// file.
func downloadFapiao(t *testing.T, srv *Server, c *fpClient, applyID string, inv fpQueryInvoice, openID string) []byte {
	t.Helper()
	st, b := c.call(http.MethodGet, fpBase+"/fapiao-applications/"+applyID+"/fapiao-files?fapiao_id="+inv.FapiaoID, nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var raw struct {
		List []map[string]string `json:"fapiao_download_info_list"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Len(t, raw.List, 1)
	dl := raw.List[0]["download_url"]
	assert.Equal(t, inv.FapiaoID, raw.List[0]["fapiao_id"])
	require.True(t, strings.HasPrefix(dl, srv.URL+fapiaoDownloadPath+"?token="), dl)

	v := url.Values{"mchid": {fpMchID}, "openid": {openID}, "invoice_code": {inv.BlueFapiao.FapiaoCode},
		"invoice_no": {inv.BlueFapiao.FapiaoNumber}, "fapiao_id": {inv.FapiaoID}}
	full := dl + "&" + v.Encode()
	resp, body := send(t, http.MethodGet, full, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Empty(t, resp.Header.Get("Wechatpay-Signature"), "the download is not signed")
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="`+inv.FapiaoID+`.pdf"`, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, strings.ToUpper(sm3Hex(body)), resp.Header.Get("SM3-Digest"))
	assert.True(t, strings.HasPrefix(string(body), "%PDF-"))

	// A wrong appended parameter is refused.
	bad := dl + "&" + strings.Replace(v.Encode(), "openid="+openID, "openid=oSomeoneElse", 1)
	resp, eb := send(t, http.MethodGet, bad, "", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "PARAM_ERROR", fpErr(t, eb).Code)

	// 30 s later the link is dead.
	srv.Advance(30 * time.Second)
	resp, eb = send(t, http.MethodGet, full, "", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, eb).Code)
	return body
}

func TestFapiaoLifecycleWithoutWechatPay(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)

	q := url.Values{"fapiao_apply_id": {"apply-001"}, "source": {"WEB"}, "appid": {"wxappid0001"},
		"openid": {"oUser2"}, "total_amount": {"429900"}, "show_phone_cell": {"true"}}
	st, b := c.call(http.MethodGet, fpBase+"/user-title/title-url?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var link map[string]string
	require.NoError(t, json.Unmarshal(b, &link))
	require.NotEmpty(t, link["title_url"])
	assert.NotContains(t, link, "miniprogram_path", "WEB answers the title_url only")

	// Before the user fills it, there is no title.
	st, b = c.call(http.MethodGet, fpBase+"/user-title?scene=WITHOUT_WECHATPAY&fapiao_apply_id=apply-001", nil)
	assert.Equal(t, http.StatusNotFound, st)
	assert.Equal(t, "RESOURCE_NOT_EXISTS", fpErr(t, b).Code)

	require.Error(t, f.UserFillTitle(srv.URL+"/fapiao/user-title?token=forged", FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}))
	require.Error(t, f.UserFillTitle(link["title_url"], FapiaoTitle{Type: "ORGANIZATION", Name: "公司"}),
		"an ORGANIZATION needs a taxpayer id")
	require.NoError(t, f.UserFillTitle(link["title_url"], FapiaoTitle{Type: "INDIVIDUAL", Name: "张三", Email: fpEmail}))
	require.Error(t, f.UserFillTitle(link["title_url"], FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}), "a link is used once")
	cb := rcv.next(t)
	assert.Equal(t, FapiaoEventUserApplied, cb.EventType)
	assert.Equal(t, "apply-001", cb.Resource["fapiao_apply_id"])

	st, b = c.call(http.MethodGet, fpBase+"/user-title?scene=WITHOUT_WECHATPAY&fapiao_apply_id=apply-001", nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var title FapiaoTitle
	require.NoError(t, json.Unmarshal(b, &title))
	assert.Equal(t, "张三", title.Name)
	assert.Equal(t, fpEmail, c.decrypt(title.Email))
	assert.Empty(t, title.Phone)

	// The invoices may not total more than the title-url's total_amount.
	req := issueRequest(t, c, FapiaoSceneWithoutWechatPay, "apply-001")
	fi := req["fapiao_information"].([]any)[0].(map[string]any)
	fi["total_amount"] = 429901
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications", req)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	fi["total_amount"] = 429900
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications", req)
	require.Equal(t, http.StatusAccepted, st, string(b))
	assert.Equal(t, FapiaoEventIssued, rcv.next(t).EventType)

	// A title link expires after 30 minutes.
	q.Set("fapiao_apply_id", "apply-002")
	st, b = c.call(http.MethodGet, fpBase+"/user-title/title-url?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st, string(b))
	require.NoError(t, json.Unmarshal(b, &link))
	srv.Advance(30 * time.Minute)
	assert.ErrorContains(t, f.UserFillTitle(link["title_url"], FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}), "expired")
	// Fetching again with the same id gives a live link.
	q.Set("source", "MINIPROGRAM")
	st, b = c.call(http.MethodGet, fpBase+"/user-title/title-url?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st, string(b))
	require.NoError(t, json.Unmarshal(b, &link))
	assert.Equal(t, fapiaoMiniProgramAppID, link["miniprogram_appid"])
	require.NoError(t, f.UserFillTitle(link["miniprogram_path"], FapiaoTitle{Type: "INDIVIDUAL", Name: "李四"}))
}

func TestFapiaoUserDiscardCard(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	rcv.next(t)
	ref := FapiaoInvoiceRef{MchID: fpMchID, FapiaoApplyID: txn, FapiaoID: "20200701123456"}
	require.Error(t, f.UserDiscardCard(ref), "nothing issued yet")
	st, b := c.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	require.Equal(t, http.StatusAccepted, st, string(b))
	rcv.next(t)

	require.NoError(t, f.UserDiscardCard(ref))
	cb := rcv.next(t)
	assert.Equal(t, FapiaoEventCardDiscarded, cb.EventType)
	assert.Equal(t, []any{map[string]any{"fapiao_id": "20200701123456", "fapiao_status": "ISSUED",
		"card_status": "DISCARDED"}}, cb.Resource["fapiao_information"])
	require.Error(t, f.UserDiscardCard(ref), "a discarded card cannot be discarded again")
	app, _ := f.Application(fpMchID, "", txn)
	assert.Equal(t, FapiaoCardDiscarded, app.Invoices[0].CardStatus)
	assert.Equal(t, FapiaoIssued, app.Invoices[0].Status)
}

func TestFapiaoProcessingDelay(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)
	f.SetProcessingDelay(time.Minute)
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	rcv.next(t)
	st, b := c.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	require.Equal(t, http.StatusAccepted, st, string(b))

	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/"+txn, nil)
	require.Equal(t, http.StatusOK, st)
	assert.Contains(t, string(b), `"status":"ISSUE_ACCEPTED"`)
	assert.NotContains(t, string(b), "blue_fapiao")
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks(), 1, "no ISSUED callback before the processing delay")

	srv.Advance(59 * time.Second)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks(), 1)
	srv.Advance(time.Second)
	assert.Equal(t, FapiaoEventIssued, rcv.next(t).EventType)
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/"+txn, nil)
	require.Equal(t, http.StatusOK, st)
	assert.Contains(t, string(b), `"status":"ISSUED"`)
	assert.Contains(t, string(b), `"fapiao_time":"2024-05-01T10:01:00+08:00"`)
}
