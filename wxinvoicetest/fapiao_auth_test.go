package wxinvoicetest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// derivedVectors are D1–D3 of the e-invoice test vectors (testdata).
type derivedVector struct {
	Authorization string `json:"authorization"`
	Message       string `json:"message"`
	Method        string `json:"method"`
	URL           string `json:"url"`
	Body          string `json:"body"`
	Meta          string `json:"meta"`
	Signature     string `json:"signature"`
	ContentType   string `json:"content_type"`
	MultipartBody string `json:"multipart_body"`
	FileBytes     string `json:"file_bytes_utf8"`
	SM3           string `json:"sm3_hex_lower"`
}

func derivedVectors(t *testing.T) map[string]derivedVector {
	var v map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(readFixture(t, "vectors_derived.json"), &v))
	out := map[string]derivedVector{}
	for _, k := range []string{"D1", "D2", "D3"} {
		var d derivedVector
		require.NoError(t, json.Unmarshal(v[k], &d))
		out[k] = d
	}
	return out
}

// The tests' signer reproduces the derived vectors bit for bit, so what the
// fake accepts is what WeChat Pay's format says.
func TestFapiaoTestSignerMatchesVectors(t *testing.T) {
	c := &fpClient{t: t, mchID: "1900000001", serial: fpSerial, key: loadKey(t, "merchant_key.pem"),
		ts: func() int64 { return 1554208460 }, nonce: "593BEC0C930BF1AFEB40B4A08C8FB242"}
	for name, d := range derivedVectors(t) {
		body, method := d.Body, d.Method
		if name == "D3" {
			body, method = d.Meta, http.MethodPost // the upload signs its meta part
		}
		assert.True(t, strings.HasPrefix(d.Message, method+"\n"+d.URL+"\n"), name)
		h := c.authorization(method, d.URL, []byte(body))
		items, err := parseAuthItems(strings.TrimPrefix(h, "WECHATPAY2-SHA256-RSA2048 "))
		require.NoError(t, err)
		assert.Equal(t, d.Signature, items["signature"], name)
		want, err := parseAuthItems(strings.TrimPrefix(d.Authorization, "WECHATPAY2-SHA256-RSA2048 "))
		require.NoError(t, err)
		assert.Equal(t, want, items, name+": same items, whatever their order")
	}
	// SM3 of the D3 file (vector V7).
	d3 := derivedVectors(t)["D3"]
	assert.Equal(t, d3.SM3, sm3Hex([]byte(d3.FileBytes)))
	assert.Equal(t, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0", sm3Hex([]byte("abc")))
}

// Every way a request's signature can be wrong answers 401 SIGN_ERROR,
// signed, and changes nothing.
func TestFapiaoAuthenticationRefusals(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	body := readFixture(t, "card_template_request.json")
	uri := fpBase + "/card-template"
	wp := loadKey(t, "wechatpay_key.pem")
	now := time.Now().Unix()

	other := *c
	other.mchID = "1900009999"
	wrongSerial := *c
	wrongSerial.serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	stale := *c
	stale.ts = func() int64 { return now - 400 }
	future := *c
	future.ts = func() int64 { return now + 400 }
	otherKey := *c
	otherKey.key = wp

	cases := []struct {
		name    string
		auth    string
		send    []byte
		message string
	}{
		{"no Authorization", "", body, "Http头缺少Authorization"},
		{"other scheme", strings.Replace(c.authorization("POST", uri, body), "RSA2048", "RSA4096", 1), body, "不支持的签名类型"},
		{"unquoted item", `WECHATPAY2-SHA256-RSA2048 mchid=1900000001`, body, "Authorization格式错误"},
		{"missing signature", `WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="n",timestamp="1",serial_no="D7CE59D1F522D701"`, body, "Authorization缺少signature"},
		{"unknown mchid", other.authorization("POST", uri, body), body, "未注册"},
		{"wrong serial_no", wrongSerial.authorization("POST", uri, body), body, "商户证书序列号有误"},
		{"stale timestamp", stale.authorization("POST", uri, body), body, "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"},
		{"future timestamp", future.authorization("POST", uri, body), body, "不得超过5分钟"},
		{"tampered body", c.authorization("POST", uri, body), append([]byte(" "), body...), "签名错误"},
		{"other URI signed", c.authorization("POST", uri+"?x=1", body), body, "签名错误"},
		{"other method signed", c.authorization("PUT", uri, body), body, "签名错误"},
		{"other key", otherKey.authorization("POST", uri, body), body, "签名错误"},
		{"signature not Base64", strings.Replace(c.authorization("POST", uri, body), `signature="`, `signature="%%`, 1), body, "签名错误"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"Content-Type": {"application/json"}}
			if tc.auth != "" {
				hdr.Set("Authorization", tc.auth)
			} else {
				hdr.Set("Authorization", " ") // raw signs when unset; a blank header counts as missing
			}
			resp, b := c.raw(http.MethodPost, uri, tc.send, nil, hdr)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(b))
			e := fpErr(t, b)
			assert.Equal(t, "SIGN_ERROR", e.Code)
			assert.Contains(t, e.Message, tc.message)
			assert.NoError(t, c.verify(resp.Header, b), "a 401 is signed too")
		})
	}
	_, ok := f.CardTemplate(fpMchID, "")
	assert.False(t, ok, "no refused request created the template")
	for _, r := range f.Requests() {
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Empty(t, r.MchID)
	}

	// The bad-signature answer shows what the fake signed, as WeChat does.
	resp, b := c.raw(http.MethodPost, uri, []byte(`{}`), body, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, string(b), `"truncated_sign_message":"POST\n/v3/new-tax-control-fapiao/card-template\n`)

	// Items in the documentation's order, with spaces, are accepted.
	h := c.authorization("POST", uri, body)
	items, err := parseAuthItems(strings.TrimPrefix(h, "WECHATPAY2-SHA256-RSA2048 "))
	require.NoError(t, err)
	docOrder := `WECHATPAY2-SHA256-RSA2048 mchid="` + items["mchid"] + `", nonce_str="` + items["nonce_str"] +
		`", signature="` + items["signature"] + `", timestamp="` + items["timestamp"] + `", serial_no="` +
		strings.ToLower(items["serial_no"]) + `"`
	resp, b = c.raw(http.MethodPost, uri, body, nil, http.Header{"Authorization": {docOrder}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	_, ok = f.CardTemplate(fpMchID, "")
	assert.True(t, ok)
	_ = srv
}

// Sensitive fields need Wechatpay-Serial naming the fake's key and
// ciphertext it can open; otherwise 400 PARAM_ERROR and nothing is issued.
func TestFapiaoSensitiveFieldRefusals(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	setupMerchant(t, c, "https://merchant.example/notify")
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	uri := fpBase + "/fapiao-applications"
	good, err := json.Marshal(issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	require.NoError(t, err)

	garbage := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
	garbage["buyer_information"].(map[string]any)["phone"] = base64.StdEncoding.EncodeToString([]byte("18507550000"))
	garbageBody, _ := json.Marshal(garbage)
	clear := issueRequest(t, c, FapiaoSceneWithWechatPay, txn)
	clear["buyer_information"].(map[string]any)["phone"] = fpPhone
	clearBody, _ := json.Marshal(clear)

	cases := []struct {
		name, serial string
		body         []byte
		message      string
	}{
		{"missing Wechatpay-Serial", "", good, "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"},
		{"another serial", "PUB_KEY_ID_0000000000000000000000000000000000", good, "Wechatpay-Serial对应的微信支付公钥或平台证书不存在"},
		{"not our ciphertext", fpKeyID, garbageBody, "平台私钥解密失败"},
		{"clear text", fpKeyID, clearBody, "平台私钥解密失败"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.serial != "" {
				hdr.Set("Wechatpay-Serial", tc.serial)
			}
			resp, b := c.raw(http.MethodPost, uri, tc.body, tc.body, hdr)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			e := fpErr(t, b)
			assert.Equal(t, "PARAM_ERROR", e.Code)
			assert.Equal(t, tc.message, e.Message)
			require.NoError(t, c.verify(resp.Header, b))
		})
	}
	_, ok := f.Application(fpMchID, "", txn)
	assert.False(t, ok, "nothing was issued")
	st, b := c.call(http.MethodPost, uri, good)
	assert.Equal(t, http.StatusAccepted, st, string(b))
}

// Injected faults answer before the handler: FapiaoError answers are signed
// like WeChat Pay's, a gateway's HTML page is not.
func TestFapiaoFaults(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	uri := fpBase + "/card-template"
	srv.FailNext(uri, 1, FapiaoError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统异常，请稍后重试"))
	srv.FailNext(uri, 1, Fault{HTTPStatus: http.StatusBadGateway, Body: []byte("<html>502</html>")})
	srv.FailNext(uri, 1, Fault{Drop: true})

	st, b := c.call(http.MethodPost, uri, readFixture(t, "card_template_request.json"))
	assert.Equal(t, http.StatusInternalServerError, st)
	assert.Equal(t, fapiaoError{Code: "SYSTEM_ERROR", Message: "系统异常，请稍后重试"}, fpErr(t, b))

	body := readFixture(t, "card_template_request.json")
	resp, b := c.raw(http.MethodPost, uri, body, body, nil)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, "<html>502</html>", string(b))
	assert.Empty(t, resp.Header.Get("Wechatpay-Signature"), "a gateway page is not WeChat Pay's answer")

	req, err := http.NewRequest(http.MethodPost, c.base+uri, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", c.authorization(http.MethodPost, uri, body))
	_, err = http.DefaultClient.Do(req)
	assert.Error(t, err, "dropped connection")

	_, ok := f.CardTemplate(fpMchID, "")
	assert.False(t, ok, "faulted calls did nothing")
	assert.Empty(t, f.Requests(), "faulted calls never reached the e-invoice side")
	st, _ = c.call(http.MethodPost, uri, body)
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, 4, srv.Calls(uri))

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, fpMchID, reqs[0].MchID)
	assert.Equal(t, http.StatusOK, reqs[0].Status)
	assert.Equal(t, uri, reqs[0].URI)
	assert.Equal(t, fpKeyID, reqs[0].Header.Get("Wechatpay-Serial"))
	assert.Equal(t, body, reqs[0].Body)
	srv.ResetRequests()
	assert.Empty(t, f.Requests())

	// Unknown paths and methods.
	st, b = c.call(http.MethodGet, fpBase+"/no-such-endpoint", nil)
	assert.Equal(t, http.StatusNotFound, st)
	assert.Equal(t, "NOT_FOUND", fpErr(t, b).Code)
	st, b = c.call(http.MethodDelete, fpBase+"/card-template", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, st)
	assert.Equal(t, "METHOD_NOT_ALLOWED", fpErr(t, b).Code)
}

func TestFapiaoRegisterMerchantChecks(t *testing.T) {
	srv := start(t, WithWechatPayKey(fpKeyID, loadKey(t, "wechatpay_key.pem")))
	f := srv.Fapiao()
	pub := &loadKey(t, "merchant_key.pem").PublicKey
	ok := FapiaoMerchant{MchID: fpMchID, CertSerialNo: fpSerial, PublicKey: pub, APIv3Key: fpAPIv3Key}
	for name, mod := range map[string]func(m *FapiaoMerchant){
		"MchID":        func(m *FapiaoMerchant) { m.MchID = "" },
		"CertSerialNo": func(m *FapiaoMerchant) { m.CertSerialNo = "" },
		"PublicKey":    func(m *FapiaoMerchant) { m.PublicKey = nil },
		"APIv3Key":     func(m *FapiaoMerchant) { m.APIv3Key = "short" },
	} {
		m := ok
		mod(&m)
		err := f.RegisterMerchant(m)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
		assert.NotContains(t, err.Error(), "short", "the key is not in the error")
	}
	require.NoError(t, f.RegisterMerchant(ok))
	keyID, key := f.PublicKey()
	assert.Equal(t, fpKeyID, keyID)
	assert.True(t, key.Equal(&loadKey(t, "wechatpay_key.pem").PublicKey))

	// Without WithWechatPayKey, each server has its own generated key.
	a, b := NewUnstartedServer().Fapiao(), NewUnstartedServer().Fapiao()
	ida, ka := a.PublicKey()
	idb, kb := b.PublicKey()
	assert.Regexp(t, `^PUB_KEY_ID_\d{34}$`, ida)
	assert.NotEqual(t, ida, idb)
	assert.False(t, ka.Equal(kb))
	assert.Equal(t, 2048, ka.N.BitLen())
}
