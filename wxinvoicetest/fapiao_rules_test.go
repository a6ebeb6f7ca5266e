package wxinvoicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
)

// fieldOf returns the detail.field of a PARAM_ERROR body.
func fieldOf(t testing.TB, b []byte) string {
	var e struct {
		Code   string            `json:"code"`
		Detail fapiaoFieldDetail `json:"detail"`
	}
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	require.Equal(t, "PARAM_ERROR", e.Code, string(b))
	return e.Detail.Field
}

func TestFapiaoIssueRules(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900 * 6, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	uri := fpBase + "/fapiao-applications"

	// The card template must come first.
	st, b := c.call(http.MethodPost, uri, issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	assert.Contains(t, fpErr(t, b).Message, "card template")
	setupMerchant(t, c, rcv.srv.URL) // USER_APPLIED came before the callback_url: recorded, not sent

	// Field checks name the field.
	for field, mod := range map[string]func(m map[string]any){
		"scene":                           func(m map[string]any) { m["scene"] = "ELSEWHERE" },
		"fapiao_apply_id":                 func(m map[string]any) { m["fapiao_apply_id"] = "has space" },
		"buyer_information":               func(m map[string]any) { delete(m, "buyer_information") },
		"buyer_information.taxpayer_id":   func(m map[string]any) { delete(m["buyer_information"].(map[string]any), "taxpayer_id") },
		"fapiao_information":              func(m map[string]any) { m["fapiao_information"] = []any{} },
		"fapiao_information[0].need_list": func(m map[string]any) { delete(fi0(m), "need_list") },
		"fapiao_information[0].items[0].tax_code": func(m map[string]any) {
			delete(fi0(m)["items"].([]any)[0].(map[string]any), "tax_code")
		},
		"fapiao_information[0].items[0].discount": func(m map[string]any) {
			delete(fi0(m)["items"].([]any)[0].(map[string]any), "discount")
		},
	} {
		m := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
		mod(m)
		st, b := c.call(http.MethodPost, uri, m)
		assert.Equal(t, http.StatusBadRequest, st, field)
		assert.Equal(t, field, fieldOf(t, b))
	}
	st, b = c.call(http.MethodPost, uri, []byte(`{"scene":`))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "body", fieldOf(t, b))

	// At most five invoices per application.
	six := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
	var list []any
	for i := 0; i < 6; i++ {
		inv := map[string]any{}
		for k, v := range fi0(six) {
			inv[k] = v
		}
		inv["fapiao_id"] = "F" + itoa(i)
		list = append(list, inv)
	}
	six["fapiao_information"] = list
	st, b = c.call(http.MethodPost, uri, six)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "fapiao_information", fieldOf(t, b))
	six["fapiao_information"] = list[:5]
	st, b = c.call(http.MethodPost, uri, six)
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb := rcv.next(t)
	require.Equal(t, FapiaoEventIssued, cb.EventType)
	assert.Len(t, cb.Resource["fapiao_information"], 5)

	// The same request again (phone re-encrypted) is accepted and does nothing.
	six2 := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
	six2["fapiao_information"] = list[:5]
	st, _ = c.call(http.MethodPost, uri, six2)
	assert.Equal(t, http.StatusAccepted, st)
	// Another request on the same application is refused.
	st, b = c.call(http.MethodPost, uri, issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks(), 2, "USER_APPLIED and one ISSUED")

	// Reverse without fapiao_information reverses every ISSUED invoice.
	st, b = c.call(http.MethodPost, uri+"/"+txn+"/reverse", map[string]any{"reverse_reason": "SERVICE_SUSPENTION"})
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb = rcv.next(t)
	assert.Equal(t, FapiaoEventReversed, cb.EventType)
	for _, it := range cb.Resource["fapiao_information"].([]any) {
		assert.Equal(t, "REVERSED", it.(map[string]any)["fapiao_status"])
	}
	// All reversed: a new invoice (new fapiao_id) may be issued; old ids may not.
	st, b = c.call(http.MethodPost, uri, issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	assert.Equal(t, http.StatusBadRequest, st, "the application holds five invoices already")
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)

	// A WeChat Pay order of nobody, an unknown application, an invoice not there.
	st, b = c.call(http.MethodPost, uri, issueRequest(t, c, FapiaoSceneWithWechatPay, "4200000000000000000000000000"))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	st, b = c.call(http.MethodGet, uri+"/4200000000000000000000000000", nil)
	assert.Equal(t, http.StatusNotFound, st)
	assert.Equal(t, "RESOURCE_NOT_EXISTS", fpErr(t, b).Code)
	st, _ = c.call(http.MethodGet, uri+"/"+txn+"?fapiao_id=nope", nil)
	assert.Equal(t, http.StatusNotFound, st)
}

func fi0(m map[string]any) map[string]any {
	return m["fapiao_information"].([]any)[0].(map[string]any)
}

func TestFapiaoReverseRules(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	setupMerchant(t, c, "https://merchant.example/notify")
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 999999, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	uri := fpBase + "/fapiao-applications/" + txn + "/reverse"
	st, _ := c.call(http.MethodPost, uri, map[string]any{"reverse_reason": "退款"})
	assert.Equal(t, http.StatusNotFound, st, "nothing issued yet")
	st, b := c.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	require.Equal(t, http.StatusAccepted, st, string(b))
	app, _ := f.Application(fpMchID, "", txn)
	blue := app.Invoices[0].Blue

	for name, tc := range map[string]struct {
		body  map[string]any
		code  string
		field string
	}{
		"no reason":    {map[string]any{"fapiao_information": []any{}}, "PARAM_ERROR", "reverse_reason"},
		"no number":    {map[string]any{"reverse_reason": "退款", "fapiao_information": []any{map[string]any{"fapiao_id": "20200701123456"}}}, "PARAM_ERROR", "fapiao_information[0].fapiao_number"},
		"wrong number": {map[string]any{"reverse_reason": "退款", "fapiao_information": []any{map[string]any{"fapiao_id": "20200701123456", "fapiao_number": "00000000"}}}, "INVALID_REQUEST", ""},
		"wrong code":   {map[string]any{"reverse_reason": "退款", "fapiao_information": []any{map[string]any{"fapiao_id": "20200701123456", "fapiao_number": blue.FapiaoNumber, "fapiao_code": "1"}}}, "INVALID_REQUEST", ""},
		"unknown id":   {map[string]any{"reverse_reason": "退款", "fapiao_information": []any{map[string]any{"fapiao_id": "x", "fapiao_number": blue.FapiaoNumber}}}, "RESOURCE_NOT_EXISTS", ""},
		"long reason":  {map[string]any{"reverse_reason": string(bytes.Repeat([]byte("退"), 201))}, "PARAM_ERROR", "reverse_reason"},
	} {
		st, b := c.call(http.MethodPost, uri, tc.body)
		assert.GreaterOrEqual(t, st, 400, name)
		assert.Equal(t, tc.code, fpErr(t, b).Code, name)
		if tc.field != "" {
			assert.Equal(t, tc.field, fieldOf(t, b), name)
		}
	}
	app, _ = f.Application(fpMchID, "", txn)
	assert.Equal(t, FapiaoIssued, app.Invoices[0].Status, "refused reversals changed nothing")

	// The reason is free text; the same request twice is accepted once.
	rev := map[string]any{"reverse_reason": "退款", "fapiao_information": []any{map[string]any{
		"fapiao_id": "20200701123456", "fapiao_number": blue.FapiaoNumber}}}
	st, _ = c.call(http.MethodPost, uri, rev)
	assert.Equal(t, http.StatusAccepted, st)
	st, _ = c.call(http.MethodPost, uri, rev)
	assert.Equal(t, http.StatusAccepted, st)
	f.WaitCallbacks()
	n := 0
	for _, cb := range f.Callbacks() {
		if cb.EventType == FapiaoEventReversed {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

func TestFapiaoMerchantInformation(t *testing.T) {
	_, _, c := fapiaoSetup(t)
	st, b := c.call(http.MethodGet, fpBase+"/merchant/base-information", nil)
	require.Equal(t, http.StatusOK, st)
	assert.JSONEq(t, `{"seller_information":{"name":"深圳市南山区测试公司","taxpayer_id":"202003261233701778",
		"address":"深圳市南山区深南大道10000号","telephone":"075512345678","bank_name":"测试银行","bank_account":"62001234567890"},
		"extra_information":{"payee":"张三","reviewer":"李四","drawer":"王五"}}`, string(b))

	st, b = c.call(http.MethodGet, fpBase+"/merchant/tax-codes?offset=2&limit=3", nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var page struct {
		Offset     int              `json:"offset"`
		Limit      int              `json:"limit"`
		TotalCount int              `json:"total_count"`
		Data       []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &page))
	assert.Equal(t, 2, page.Offset)
	assert.Equal(t, 3, page.Limit)
	assert.Equal(t, len(fapiaoTaxCodes), page.TotalCount)
	require.Len(t, page.Data, 3)
	assert.Equal(t, fapiaoTaxCodes[2].TaxCode, page.Data[0]["tax_code"])
	for _, q := range []string{"offset=0&limit=0", "offset=0&limit=101", "offset=-1&limit=5", "limit=5", "offset=0&limit=x"} {
		st, b = c.call(http.MethodGet, fpBase+"/merchant/tax-codes?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, st, q)
		assert.Contains(t, []string{"offset", "limit"}, fieldOf(t, b), q)
	}

	for _, u := range []string{"https://a.example/cb?x=1", "ftp://a.example/cb", "/relative", "https://a.example/cb#frag"} {
		st, b = c.call(http.MethodPatch, fpBase+"/merchant/development-config", map[string]any{"callback_url": u})
		assert.Equal(t, http.StatusBadRequest, st, u)
		assert.Equal(t, "callback_url", fieldOf(t, b), u)
	}
	// PATCH sets only the fields present.
	st, _ = c.call(http.MethodPatch, fpBase+"/merchant/development-config", map[string]any{"callback_url": "https://a.example/cb"})
	require.Equal(t, http.StatusOK, st)
	st, b = c.call(http.MethodPatch, fpBase+"/merchant/development-config", map[string]any{"support_vat_fapiao": true})
	require.Equal(t, http.StatusOK, st)
	assert.JSONEq(t, `{"callback_url":"https://a.example/cb","show_fapiao_cell":false,"support_vat_fapiao":true}`, string(b))
	// A direct merchant naming a sub-merchant is refused.
	st, b = c.call(http.MethodGet, fpBase+"/merchant/base-information?sub_mchid=1900000109", nil)
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, "NO_AUTH", fpErr(t, b).Code)
	st, b = c.call(http.MethodPost, fpBase+"/merchant/1900000109/check", nil)
	assert.Equal(t, http.StatusForbidden, st, "check is partner-only")
	assert.Equal(t, "NO_AUTH", fpErr(t, b).Code)
}

// wechatpay-go's core.Client (public-key mode) signs requests the fake
// accepts and verifies the fake's answers, 202 and errors included.
func TestFapiaoOfficialSDKClient(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	keyID, pub := f.PublicKey()
	ctx := context.Background()
	client, err := core.NewClient(ctx, option.WithWechatPayPublicKeyAuthCipher(fpMchID, fpSerial, c.key, keyID, pub),
		option.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}))
	require.NoError(t, err)
	base := srv.URL + fpBase

	res, err := client.Patch(ctx, base+"/merchant/development-config", map[string]any{"callback_url": "https://merchant.example/cb"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Response.StatusCode)
	res, err = client.Post(ctx, base+"/card-template", json.RawMessage(readFixture(t, "card_template_request.json")))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Response.StatusCode)

	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三", Phone: fpPhone}})
	require.NoError(t, err)
	res, err = client.Get(ctx, base+"/user-title?"+url.Values{"scene": {"WITH_WECHATPAY"}, "fapiao_apply_id": {txn}}.Encode())
	require.NoError(t, err)
	var title struct {
		Name  string `json:"name"`
		Phone string `json:"phone" encryption:"EM_APIV3"`
	}
	require.NoError(t, core.UnMarshalResponse(res.Response, &title))
	require.NoError(t, client.DecryptResponse(ctx, &title))
	assert.Equal(t, fpPhone, title.Phone)

	// Issue with the SDK's own sensitive-field encryption → 202, verified.
	type buyer struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Phone string `json:"phone" encryption:"EM_APIV3"`
	}
	type issue struct {
		Scene             string          `json:"scene"`
		FapiaoApplyID     string          `json:"fapiao_apply_id"`
		BuyerInformation  *buyer          `json:"buyer_information"`
		FapiaoInformation json.RawMessage `json:"fapiao_information"`
	}
	sample := sampleJSON(t, "fapiao_applications_request.json")
	fi, _ := json.Marshal(sample["fapiao_information"])
	req := &issue{Scene: FapiaoSceneWithWechatPay, FapiaoApplyID: txn, BuyerInformation: &buyer{Type: "INDIVIDUAL", Name: "张三", Phone: fpPhone},
		FapiaoInformation: fi}
	serial, err := client.EncryptRequest(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, keyID, serial)
	res, err = client.Request(ctx, http.MethodPost, base+"/fapiao-applications", http.Header{"Wechatpay-Serial": {serial}}, nil, req, "application/json")
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, res.Response.StatusCode)
	app, ok := f.Application(fpMchID, "", txn)
	require.True(t, ok)
	assert.Equal(t, fpPhone, app.Buyer.Phone)

	// An error answer is verified and parsed as the SDK's APIError.
	_, err = client.Get(ctx, base+"/fapiao-applications/nope")
	assert.True(t, core.IsAPIError(err, "RESOURCE_NOT_EXISTS"), "%v", err)

	// Upload with the SDK (meta signed by it).
	file := []byte("%PDF-1.4\n% upload via wechatpay-go\n")
	meta := string(pdfMeta(file))
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, core.CreateFormField(w, "meta", "application/json", []byte(meta)))
	require.NoError(t, core.CreateFormFile(w, "fapiao.pdf", "application/pdf", file))
	require.NoError(t, w.Close())
	res, err = client.Upload(ctx, base+"/fapiao-applications/upload-fapiao-file", meta, buf.String(), w.FormDataContentType())
	require.NoError(t, err)
	var up map[string]string
	require.NoError(t, core.UnMarshalResponse(res.Response, &up))
	got, ok := f.Media(up["fapiao_media_id"])
	require.True(t, ok)
	assert.Equal(t, file, got)
}
