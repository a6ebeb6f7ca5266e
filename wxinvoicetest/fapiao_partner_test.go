package wxinvoicetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	fpPartner = "1900000100"
	fpSub     = "1900000109"
	fpSub2    = "1900000110"
)

// partnerSetup registers a partner serving fpSub and fpSub2 (same key as
// the merchant) and returns a client acting as it.
func partnerSetup(t *testing.T) (*Server, *FapiaoFake, *fpClient) {
	srv, f, c := fapiaoSetup(t)
	require.NoError(t, f.RegisterMerchant(FapiaoMerchant{MchID: fpPartner, CertSerialNo: fpSerial,
		PublicKey: &c.key.PublicKey, APIv3Key: fpAPIv3Key, SubMchIDs: []string{fpSub, fpSub2}}))
	p := *c
	p.mchID = fpPartner
	return srv, f, &p
}

// digitalRequest is a 数电 sample for sub fpSub and applyID, sensitive
// fields encrypted for the fake.
func digitalRequest(t testing.TB, c *fpClient, sample, applyID string) map[string]any {
	m := sampleJSON(t, sample)
	m["sub_mchid"], m["fapiao_apply_id"] = fpSub, applyID
	buyer := m["buyer_information"].(map[string]any)
	buyer["phone"], buyer["email"] = c.encrypt(fpPhone), c.encrypt(fpEmail)
	for _, it := range m["fapiao_information"].(map[string]any)["items"].([]any) {
		if re, ok := it.(map[string]any)["real_estate_leasing_information"].(map[string]any); ok {
			re["certificate_no"] = c.encrypt("440300199001010000")
		}
	}
	return m
}

func TestFapiaoPartner(t *testing.T) {
	_, f, c := partnerSetup(t)
	subRcv := newFpReceiver(t, c)
	ownRcv := newFpReceiver(t, c)

	// sub_mchid is required and must be one of the partner's.
	tpl := sampleJSON(t, "card_template_request.json")
	st, b := c.call(http.MethodPost, fpBase+"/card-template", tpl)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "sub_mchid", fieldOf(t, b))
	tpl["sub_mchid"] = "1900000999"
	st, b = c.call(http.MethodPost, fpBase+"/card-template", tpl)
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, "NO_AUTH", fpErr(t, b).Code)
	for _, sub := range []string{fpSub, fpSub2} {
		tpl["sub_mchid"] = sub
		st, b = c.call(http.MethodPost, fpBase+"/card-template", tpl)
		require.Equal(t, http.StatusOK, st, string(b))
	}

	// Development config: the sample (sub_mch_code) for fpSub, the
	// partner's own for the others.
	dev := sampleJSON(t, "development_config_patch_request.json")
	dev["callback_url"] = subRcv.srv.URL
	st, b = c.call(http.MethodPatch, fpBase+"/merchant/development-config", dev)
	require.Equal(t, http.StatusOK, st, string(b))
	st, b = c.call(http.MethodPatch, fpBase+"/merchant/development-config", map[string]any{"callback_url": ownRcv.srv.URL})
	require.Equal(t, http.StatusOK, st, string(b))
	st, b = c.call(http.MethodGet, fpBase+"/merchant/development-config?sub_mch_code="+fpSub, nil)
	require.Equal(t, http.StatusOK, st)
	assert.Contains(t, string(b), subRcv.srv.URL)
	cfg, ok := f.DevConfig(fpPartner, "")
	require.True(t, ok)
	assert.Equal(t, ownRcv.srv.URL, cfg.CallbackURL)

	// check (E15) → 204, signed; check-status (E16) by GET and POST.
	st, b = c.call(http.MethodPost, fpBase+"/merchant/"+fpSub+"/check", nil)
	assert.Equal(t, http.StatusNoContent, st)
	assert.Empty(t, b)
	st, _ = c.call(http.MethodPost, fpBase+"/merchant/1900000999/check", nil)
	assert.Equal(t, http.StatusForbidden, st)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		st, b = c.call(m, fpBase+"/merchant/"+fpSub+"/check-status", nil)
		require.Equal(t, http.StatusOK, st, m)
		var cs map[string]any
		require.NoError(t, json.Unmarshal(b, &cs))
		assert.Equal(t, fpSub, cs["sub_mchid"])
		assert.Equal(t, "ENABLED", cs["digital_tax_mode"].(map[string]any)["status"])
	}

	// issue-general (E17), the sample → 202 → ISSUED to the sub's URL.
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/issue-general", digitalRequest(t, c, "issue_general_request.json", "general-1"))
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb := subRcv.next(t)
	assert.Equal(t, FapiaoEventIssued, cb.EventType)
	assert.Equal(t, fpPartner, cb.Resource["mchid"])
	assert.Equal(t, fpSub, cb.Resource["sub_mchid"])
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/general-1", nil)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "sub_mchid", fieldOf(t, b))
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/general-1?sub_mchid="+fpSub, nil)
	require.Equal(t, http.StatusOK, st)
	var q struct {
		FapiaoInformation []fpQueryInvoice `json:"fapiao_information"`
	}
	require.NoError(t, json.Unmarshal(b, &q))
	require.Len(t, q.FapiaoInformation, 1)
	assert.Empty(t, q.FapiaoInformation[0].BlueFapiao.FapiaoCode, "数电 invoices have no code")
	assert.Regexp(t, `^\d{20}$`, q.FapiaoInformation[0].BlueFapiao.FapiaoNumber)
	app, _ := f.Application(fpPartner, fpSub, "general-1")
	assert.Equal(t, fpPhone, app.Buyer.Phone)

	// A failed 数电 issue (real-estate-leasing): ISSUE_FAILED, no callback;
	// a retry with a new fapiao_id issues.
	f.FailNextIssue(FapiaoIssueFailure{Code: "BIZ_ERROR", Message: "开票额度不足"})
	re := digitalRequest(t, c, "real_estate_leasing_request.json", "lease-1")
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/real-estate-leasing", re)
	require.Equal(t, http.StatusAccepted, st, string(b))
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/lease-1?sub_mchid="+fpSub, nil)
	require.Equal(t, http.StatusOK, st)
	require.NoError(t, json.Unmarshal(b, &q))
	assert.Equal(t, FapiaoIssueFailed, q.FapiaoInformation[0].Status)
	assert.Equal(t, "BIZ_ERROR", q.FapiaoInformation[0].FapiaoErrorCode)
	assert.Equal(t, "开票额度不足", q.FapiaoInformation[0].FapiaoErrorMsg)
	re = digitalRequest(t, c, "real_estate_leasing_request.json", "lease-1")
	re["fapiao_information"].(map[string]any)["fapiao_id"] = "20200701123457"
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/real-estate-leasing", re)
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb = subRcv.next(t)
	assert.Equal(t, []any{map[string]any{"fapiao_id": "20200701123457", "fapiao_status": "ISSUED", "card_status": "INSERTED"}},
		cb.Resource["fapiao_information"])
	// The certificate number must be encrypted.
	re = digitalRequest(t, c, "real_estate_leasing_request.json", "lease-2")
	re["fapiao_information"].(map[string]any)["items"].([]any)[0].(map[string]any)["real_estate_leasing_information"].(map[string]any)["certificate_no"] = "440300199001010000"
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/real-estate-leasing", re)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "平台私钥解密失败", fpErr(t, b).Message)

	// A sub-merchant without its own callback_url uses the partner's.
	_, err := f.UserApply(FapiaoUserApply{MchID: fpPartner, SubMchID: fpSub2, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	cb = ownRcv.next(t)
	assert.Equal(t, fpSub2, cb.Resource["sub_mchid"])
	_, err = f.UserApply(FapiaoUserApply{MchID: fpPartner, SubMchID: "1900000999", Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	assert.Error(t, err)

	// The direct merchant may not use the partner endpoints.
	direct := *c
	direct.mchID = fpMchID
	st, b = direct.call(http.MethodPost, fpBase+"/fapiao-applications/issue-general", digitalRequest(t, c, "issue_general_request.json", "general-2"))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, "NO_AUTH", fpErr(t, b).Code)
	f.WaitCallbacks()
	assert.Empty(t, subRcv.failures())
	assert.Empty(t, ownRcv.failures())
}

func TestFapiaoPartnerInvitations(t *testing.T) {
	srv, f, c := partnerSetup(t)
	q := url.Values{"operation_type": {"AUTH_BINDING"}, "fapiao_mode": {"TENCENT_DIGITAL_TAX"},
		"fapiao_ability_type_list": {"BASE_ABILITY,REAL_ESTATE_ABILITY"}, "invite_code": {"code_20200101_123"},
		"operate_user": {c.encrypt("张三")}}
	st, b := c.call(http.MethodGet, fpBase+"/fapiaomerchant/getspinviteurl?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st, string(b))
	var inv map[string]string
	require.NoError(t, json.Unmarshal(b, &inv))
	assert.NotEmpty(t, inv["invite_url"])
	assert.NotEmpty(t, inv["miniprogram_path"])
	invites := f.Invites()
	require.Len(t, invites, 1)
	assert.Equal(t, []string{"BASE_ABILITY", "REAL_ESTATE_ABILITY"}, invites[0].Abilities)

	for name, mod := range map[string]func(v url.Values){
		"fapiao_ability_type_list": func(v url.Values) { v.Del("fapiao_ability_type_list") },
		"fapiao_mode":              func(v url.Values) { v.Set("fapiao_mode", "OTHER") },
		"operation_type":           func(v url.Values) { v.Del("operation_type") },
		"invite_code":              func(v url.Values) { v.Del("invite_code") },
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		mod(v)
		st, b := c.call(http.MethodGet, fpBase+"/fapiaomerchant/getspinviteurl?"+v.Encode(), nil)
		assert.Equal(t, http.StatusBadRequest, st, name)
		assert.Equal(t, name, fieldOf(t, b))
	}

	list := func(status string) []map[string]any {
		v := url.Values{"query_time_start": {t0.Add(-time.Hour).Format(time.RFC3339)},
			"query_time_end": {t0.Add(time.Hour).Format(time.RFC3339)}, "offset": {"0"}, "limit": {"10"},
			"mch_invite_status": {status}}
		st, b := c.call(http.MethodGet, fpBase+"/fapiaomerchant/listspinvitemchinfo?"+v.Encode(), nil)
		require.Equal(t, http.StatusOK, st, string(b))
		var r struct {
			List []map[string]any `json:"mch_invite_result_list"`
		}
		require.NoError(t, json.Unmarshal(b, &r))
		return r.List
	}
	assert.Empty(t, list("MCH_INVITE_SUCC"), "not accepted yet")
	require.NoError(t, f.AcceptInvite("code_20200101_123", "1999192837", "示例（深圳）有限公司", "9144050071126766XG"))
	require.Error(t, f.AcceptInvite("code_20200101_123", "1999192837", "", ""), "already completed")
	got := list("MCH_INVITE_SUCC")
	require.Len(t, got, 1)
	assert.Equal(t, "1999192837", got[0]["sub_mchid"])
	assert.Equal(t, "2024-05-01T10:00:00+08:00", got[0]["operate_time"])
	assert.Empty(t, list("MCH_INVITE_FAILED"))

	// The accepted merchant is now a sub-merchant of the partner.
	tpl := sampleJSON(t, "card_template_request.json")
	tpl["sub_mchid"] = "1999192837"
	st, b = c.call(http.MethodPost, fpBase+"/card-template", tpl)
	assert.Equal(t, http.StatusOK, st, string(b))
	_ = srv
}
