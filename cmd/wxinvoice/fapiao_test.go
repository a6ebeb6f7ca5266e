package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// The merchant of the fapiao CLI tests: wechatpay-go's published test key
// (certificate serial D7CE59D1F522D701) and wechatpay-java's test APIv3 key;
// the fake signs with fapiao_wechatpay_key.pem.
const (
	fpCLIMchID    = "1900000001"
	fpCLIPartner  = "1900000100"
	fpCLISub      = "1900000109"
	fpCLISerial   = "D7CE59D1F522D701"
	fpCLIKeyID    = "PUB_KEY_ID_0116571234562024052000123400000000"
	fpCLIAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	fpCLIPhone    = "18507550000"
	fpCLIEmail    = "123110@qq.com"
)

// fapiaoFake starts a fake with the test keys, registers the merchant and a
// partner serving fpCLISub, and returns the environment pointing the CLI
// at it.
func fapiaoFake(t *testing.T) (*wxinvoicetest.Server, *wxinvoicetest.FapiaoFake, map[string]string) {
	t.Helper()
	wpKey, err := fapiao.LoadPrivateKeyFile(filepath.Join("testdata", "fapiao_wechatpay_key.pem"))
	require.NoError(t, err)
	mk, err := fapiao.LoadPrivateKeyFile(filepath.Join("testdata", "fapiao_merchant_key.pem"))
	require.NoError(t, err)
	srv := newFake(t, wxinvoicetest.WithWechatPayKey(fpCLIKeyID, wpKey))
	fp := srv.Fapiao()
	require.NoError(t, fp.RegisterMerchant(wxinvoicetest.FapiaoMerchant{MchID: fpCLIMchID, CertSerialNo: fpCLISerial,
		PublicKey: &mk.PublicKey, APIv3Key: fpCLIAPIv3Key}))
	require.NoError(t, fp.RegisterMerchant(wxinvoicetest.FapiaoMerchant{MchID: fpCLIPartner, CertSerialNo: fpCLISerial,
		PublicKey: &mk.PublicKey, APIv3Key: fpCLIAPIv3Key, SubMchIDs: []string{fpCLISub}}))
	env := map[string]string{
		envPayMchID: fpCLIMchID, envPaySerial: fpCLISerial,
		envPayKeyFile:  filepath.Join("testdata", "fapiao_merchant_key.pem"),
		envPayPubKeyID: fpCLIKeyID, envPayPubKey: filepath.Join("testdata", "fapiao_wechatpay_pub.pem"),
		envPayAPIv3Key: fpCLIAPIv3Key, envPayBaseURL: srv.URL,
	}
	return srv, fp, env
}

// requireNoFapiaoSecrets checks that no key, the APIv3 key, nor a
// decrypted phone or e-mail appears in any output.
func requireNoFapiaoSecrets(t *testing.T, rs ...result) {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "fapiao_merchant_key.pem"))
	require.NoError(t, err)
	secrets := []string{fpCLIAPIv3Key, fpCLIPhone, fpCLIEmail, "PRIVATE KEY"}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 40 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	for _, r := range rs {
		for _, s := range secrets {
			require.NotContains(t, r.stdout, s)
			require.NotContains(t, r.stderr, s)
		}
	}
}

// TestFapiaoCLILifecycle runs the direct merchant's commands (E01–E14)
// against the fake: JSON in with WeChat's field names, requests signed and
// verified, phone encrypted on the wire and never printed.
func TestFapiaoCLILifecycle(t *testing.T) {
	_, fp, env := fapiaoFake(t)
	var all []result
	do := func(stdin string, args ...string) result {
		t.Helper()
		r := cli(t, env, stdin, args...)
		all = append(all, r)
		requireOK(t, r)
		return r
	}

	r := do(`{"callback_url":"https://example.com/fapiao/notify","show_fapiao_cell":true}`, "fapiao", "dev-config-update", "-f", "-")
	assert.Contains(t, r.stdout, "https://example.com/fapiao/notify")
	r = do("", "fapiao", "-o", "json", "dev-config")
	var dev fapiao.DevelopmentConfig
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &dev))
	assert.Equal(t, fapiao.DevelopmentConfig{CallbackURL: "https://example.com/fapiao/notify", ShowFapiaoCell: true}, dev)
	tplJSON, err := os.ReadFile(filepath.Join("..", "..", "fapiao", "testdata", "card_template_request.json"))
	require.NoError(t, err)
	r = do(string(tplJSON), "fapiao", "-o", "json", "card-template", "-f", "-")
	var tpl fapiao.CreateCardTemplateResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tpl))
	held, ok := fp.CardTemplate(fpCLIMchID, "")
	require.True(t, ok)
	assert.Equal(t, held.CardID, tpl.CardID)

	txn, err := fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: fpCLIMchID, Amount: 429900,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "张三", Phone: fpCLIPhone, Email: fpCLIEmail}})
	require.NoError(t, err)
	r = do(`{"scene":"WITH_WECHATPAY"}`, "fapiao", "-o", "json", "user-title", "-f", "-", txn)
	assert.Contains(t, r.stdout, `"phone": "[REDACTED]"`, "the decrypted phone is not printed")
	assert.Contains(t, r.stdout, `"name": "张三"`)

	issue := `{"scene":"WITH_WECHATPAY","fapiao_apply_id":"` + txn + `","buyer_information":{"type":"INDIVIDUAL","name":"张三","phone":"` + fpCLIPhone + `"},
	  "fapiao_information":[{"fapiao_id":"cli-1","total_amount":429900,"items":[{"tax_code":"3010101020203000000","goods_name":"出租汽车客运服务","quantity":100000000,"total_amount":429900,"tax_rate":1300}]}]}`
	r = do(issue, "fapiao", "-o", "json", "issue", "-f", "-")
	assert.Contains(t, r.stdout, `"StatusCode": 202`)
	app, ok := fp.Application(fpCLIMchID, "", txn)
	require.True(t, ok)
	assert.Equal(t, fpCLIPhone, app.Buyer.Phone, "the fake decrypted the phone the CLI encrypted")
	for _, req := range fp.Requests() {
		assert.NotContains(t, string(req.Body), fpCLIPhone, "%s %s carried the phone in clear", req.Method, req.URI)
	}

	r = do("", "fapiao", "-o", "json", "query", txn)
	var q fapiao.Application
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &q))
	require.Len(t, q.FapiaoInformation, 1)
	inv := q.FapiaoInformation[0]
	assert.Equal(t, fapiao.StatusIssued, inv.Status)
	r = do("", "fapiao", "query", txn) // table
	assert.Contains(t, r.stdout, "fapiao_information[0].status")

	r = do(`{"fapiao_id":"cli-1"}`, "fapiao", "-o", "json", "download-info", "-f", "-", txn)
	var info fapiao.DownloadInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &info))
	require.Len(t, info.FapiaoDownloadInfoList, 1)
	out := filepath.Join(t.TempDir(), "cli-1.pdf")
	dl, err := json.Marshal(fapiao.DownloadRequest{DownloadURL: info.FapiaoDownloadInfoList[0].DownloadURL,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode, InvoiceNo: inv.BlueFapiao.FapiaoNumber, FapiaoID: "cli-1"})
	require.NoError(t, err)
	r = do(string(dl), "fapiao", "-o", "json", "download", "-f", "-", "--out", out)
	file, err := os.ReadFile(out)
	require.NoError(t, err)
	app, _ = fp.Application(fpCLIMchID, "", txn)
	assert.Equal(t, app.Invoices[0].File, file)
	assert.Contains(t, strings.ToLower(r.stdout), fapiao.SM3Hex(file))

	r = do(`{"reverse_reason":"退款"}`, "fapiao", "-o", "json", "reverse", "-f", "-", txn)
	assert.Contains(t, r.stdout, `"StatusCode": 202`)
	app, _ = fp.Application(fpCLIMchID, "", txn)
	assert.Equal(t, fapiao.StatusReversed, app.Invoices[0].Status)

	r = do("", "fapiao", "-o", "json", "base-info")
	var base fapiao.BaseInformation
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &base))
	r = do(`{"offset":1,"limit":2}`, "fapiao", "-o", "json", "tax-codes", "-f", "-")
	assert.Contains(t, r.stdout, `"offset": 1`)
	r = do(`{"fapiao_apply_id":"cli-apply-2","source":"WEB","appid":"wxb1170446a4c0a5a2","openid":"oUser","total_amount":100}`,
		"fapiao", "-o", "json", "title-url", "-f", "-")
	assert.Contains(t, r.stdout, `"title_url": "`)

	// Upload a self-issued invoice and insert it (E13, E14).
	pdfPath := writeFile(t, filepath.Join(t.TempDir(), "self.pdf"), pdf("self-issued"))
	r = do("", "fapiao", "-o", "json", "upload", "--pdf", pdfPath)
	var up fapiao.UploadFileResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &up))
	media, ok := fp.Media(up.FapiaoMediaID)
	require.True(t, ok)
	assert.Equal(t, pdf("self-issued"), media)
	txn2, err := fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: fpCLIMchID, Amount: 10000,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "李四"}})
	require.NoError(t, err)
	card := fapiao.InsertCardsRequest{Scene: "WITH_WECHATPAY", BuyerInformation: fapiao.BuyerInformation{Type: "INDIVIDUAL", Name: "李四", Phone: fpCLIPhone},
		FapiaoCardInformation: []fapiao.FapiaoCard{{FapiaoMediaID: up.FapiaoMediaID, FapiaoNumber: "12897794", FapiaoCode: "044001911211",
			FapiaoTime: "2026-11-30T18:00:00+08:00", CheckCode: "69001808340631374774", Password: "006>299-375/326>2+7/*0-+<351059<80<4*/5>+<11631+*3030/5*>+/-*<9-<+-2>6+<",
			TotalAmount: 10000, TaxAmount: 1150, Amount: 8850, SellerInformation: base.SellerInformation, ExtraInformation: base.ExtraInformation,
			Items: []fapiao.FapiaoItem{{TaxCode: "3010101020203000000", GoodsName: "餐饮服务", Quantity: 100000000, UnitPrice: 8850000000,
				Amount: 8850, TaxAmount: 1150, TotalAmount: 10000, TaxRate: 1300, TaxPreferMark: "NO_FAVORABLE"}}}}}
	cardJSON, err := json.Marshal(card)
	require.NoError(t, err)
	r = do(string(cardJSON), "fapiao", "-o", "json", "insert-cards", "-f", "-", txn2)
	assert.Contains(t, r.stdout, `"StatusCode": 202`)
	app, _ = fp.Application(fpCLIMchID, "", txn2)
	require.Len(t, app.Invoices, 1)
	assert.True(t, app.Invoices[0].SelfIssued)

	// Verbose mode logs each call, never a key.
	all = append(all, cli(t, env, "", "fapiao", "-v", "query", txn))
	assert.Contains(t, all[len(all)-1].stderr, "fapiao call")
	requireNoFapiaoSecrets(t, all...)
}

// TestFapiaoCLIPartner runs the partner's commands (E15–E22, and sub_mchid
// on the others) against the fake.
func TestFapiaoCLIPartner(t *testing.T) {
	_, fp, env := fapiaoFake(t)
	env[envPayMchID] = fpCLIPartner
	var all []result
	do := func(stdin string, args ...string) result {
		t.Helper()
		r := cli(t, env, stdin, args...)
		all = append(all, r)
		requireOK(t, r)
		return r
	}
	r := do("", "fapiao", "-o", "json", "check-sub-merchant", fpCLISub)
	assert.Contains(t, r.stdout, `"StatusCode": 204`)
	r = do("", "fapiao", "-o", "json", "sub-merchant-status", fpCLISub)
	assert.Contains(t, r.stdout, `"sub_mchid": "`+fpCLISub+`"`)
	do(`{"sub_mchid":"`+fpCLISub+`"}`, "fapiao", "base-info", "-f", "-")
	do(`{"sub_mchid":"`+fpCLISub+`","card_appid":"wxb1170446a4c0a5a2","card_template_information":{"logo_url":"https://mmbiz.qpic.cn/logo"}}`,
		"fapiao", "card-template", "-f", "-")

	general, err := os.ReadFile(filepath.Join("testdata", "fapiao_issue_general.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(general, &m))
	m["sub_mchid"] = fpCLISub
	buyer := m["buyer_information"].(map[string]any)
	buyer["phone"], buyer["email"] = fpCLIPhone, fpCLIEmail
	items := m["fapiao_information"].(map[string]any)["items"].([]any)
	item := items[0].(map[string]any)
	for _, c := range []struct{ cmd, extraKey string }{
		{"issue-general", ""},
		{"issue-passenger-transport", "passenger_information"},
		{"issue-refined-oil", "refined_oil_information"},
		{"issue-real-estate-leasing", "real_estate_leasing_information"},
	} {
		delete(item, "passenger_information")
		delete(item, "refined_oil_information")
		delete(item, "real_estate_leasing_information")
		item["unit"] = "米"
		switch c.extraKey {
		case "passenger_information":
			item[c.extraKey] = map[string]any{"name": "张三", "certificate_type": "RESIDENT_IDENTITY_CARD", "certificate_number": "440300199001010000",
				"departure_date": "2026-11-30", "departure_place": "深圳", "destination": "广州", "transportation_type": "LONG_DISTANCE_BUS"}
		case "refined_oil_information":
			item["unit"] = "LETER"
			item[c.extraKey] = map[string]any{"station": "南山站", "trade_time": "2026-11-30T10:00:00+08:00", "gun_number": "3"}
		case "real_estate_leasing_information":
			item[c.extraKey] = map[string]any{"province": "广东省", "address": "南山区", "lease_period_start": "2026-01-01T00:00:00+08:00",
				"lease_period_end": "2026-12-31T00:00:00+08:00", "cross_city_flag": false, "certificate_no": "440300199001010000"}
		}
		m["fapiao_apply_id"] = "cli-" + c.cmd[:12]
		m["fapiao_information"].(map[string]any)["fapiao_id"] = "f-" + c.cmd[:12]
		b, err := json.Marshal(m)
		require.NoError(t, err)
		r = do(string(b), "fapiao", "-o", "json", c.cmd, "-f", "-")
		assert.Contains(t, r.stdout, `"StatusCode": 202`, c.cmd)
		app, ok := fp.Application(fpCLIPartner, fpCLISub, "cli-"+c.cmd[:12])
		require.True(t, ok, c.cmd)
		assert.Equal(t, fpCLIPhone, app.Buyer.Phone, c.cmd)
	}
	for _, req := range fp.Requests() {
		assert.NotContains(t, string(req.Body), "440300199001010000", "%s carried a certificate number in clear", req.URI)
	}

	do(`{"operation_type":"AUTH_BINDING","fapiao_mode":"THIRD_OR_SELF_FAPIAO","invite_code":"cli-inv"}`, "fapiao", "invite-url", "-f", "-")
	require.NoError(t, fp.AcceptInvite("cli-inv", "1900000111", "某某公司", "91440300MA5EXAMPLE"))
	now := fp.Invites()[0].Time
	q := `{"query_time_start":"` + now.Add(-3600e9).Format("2006-01-02T15:04:05Z07:00") + `","query_time_end":"` +
		now.Add(3600e9).Format("2006-01-02T15:04:05Z07:00") + `","offset":0,"limit":10,"mch_invite_status":"MCH_INVITE_SUCC"}`
	r = do(q, "fapiao", "-o", "json", "invited-merchants", "-f", "-")
	assert.Contains(t, r.stdout, `"sub_mchid": "1900000111"`)
	requireNoFapiaoSecrets(t, all...)
}

// TestFapiaoCLIErrors: bad input and missing keys exit 2 with nothing
// sent; WeChat Pay's error answers exit 3; a 5xx on issue exits 5 and is
// sent once.
func TestFapiaoCLIErrors(t *testing.T) {
	srv, fp, env := fapiaoFake(t)
	var all []result
	cur := env
	check := func(code int, wantErr, stdin string, args ...string) {
		t.Helper()
		r := cli(t, cur, stdin, args...)
		all = append(all, r)
		require.Equal(t, code, r.code, "stderr:\n%s", r.stderr)
		assert.Contains(t, r.stderr, wantErr)
	}
	before := len(fp.Requests())
	check(exitUsage, "unknown field", `{"fapiao_apply_idd":"x"}`, "fapiao", "query", "-f", "-")
	check(exitUsage, "OrderID", `{"OrderID":"x"}`, "fapiao", "query", "-f", "-")
	check(exitUsage, "total_amount", `{"total_amount":"12"}`, "fapiao", "title-url", "-f", "-")
	check(exitUsage, "FapiaoApplyID", `{}`, "fapiao", "query", "-f", "-")
	check(exitUsage, "--pdf is required", "", "fapiao", "upload")
	check(exitUsage, "--out is required", `{}`, "fapiao", "download", "-f", "-")
	noKey := map[string]string{envPayMchID: fpCLIMchID, envPaySerial: fpCLISerial}
	r := cli(t, noKey, "", "fapiao", "base-info")
	all = append(all, r)
	require.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, envPayKeyFile)
	r = cli(t, map[string]string{}, "", "fapiao", "base-info")
	require.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, envPayMchID)
	assert.Equal(t, before, len(fp.Requests()), "nothing was sent")

	check(exitAPI, "RESOURCE_NOT_EXISTS", "", "fapiao", "query", "no-such-apply")

	srv.FailNext("/v3/new-tax-control-fapiao/fapiao-applications", 1,
		wxinvoicetest.FapiaoError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统异常，请稍后重试"))
	issue := `{"scene":"WITH_WECHATPAY","fapiao_apply_id":"x1","buyer_information":{"type":"INDIVIDUAL","name":"张三","phone":"` + fpCLIPhone + `"},
	  "fapiao_information":[{"fapiao_id":"e-1","total_amount":100,"items":[{"tax_code":"3010101020203000000","goods_name":"服务","quantity":100000000,"total_amount":100,"tax_rate":600}]}]}`
	check(exitUnknown, "check the invoice's state before retrying", issue, "fapiao", "issue", "-f", "-")
	assert.Equal(t, 1, srv.Calls("/v3/new-tax-control-fapiao/fapiao-applications"), "the issue is never replayed")

	// A wrong WeChat Pay key: the fake's answers fail verification (exit 4).
	other := map[string]string{}
	for k, v := range env {
		other[k] = v
	}
	other[envPayPubKey] = filepath.Join("testdata", "fapiao_merchant_pub.pem")
	cur = other
	check(exitTransport, "signature not verified", "", "fapiao", "base-info")
	requireNoFapiaoSecrets(t, all...)
}

// TestFapiaoCLISandbox runs commands against the embedded fake with a
// generated key: no credentials needed.
func TestFapiaoCLISandbox(t *testing.T) {
	r := cli(t, nil, "", "fapiao", "--sandbox", "base-info")
	requireOK(t, r)
	golden(t, "fapiao_base_info", r.stdout)
	r = cli(t, nil, `{"limit":2}`, "fapiao", "--sandbox", "-o", "json", "tax-codes", "-f", "-")
	requireOK(t, r)
	golden(t, "fapiao_tax_codes", r.stdout)
	r = cli(t, nil, "", "fapiao", "--sandbox", "--mchid", fpCLIPartner, "-o", "json", "sub-merchant-status", "1900000109")
	requireOK(t, r)
	assert.Contains(t, r.stdout, `"status": "ENABLED"`)
	r = cli(t, nil, "", "fapiao", "--sandbox", "query", "nothing-yet")
	assert.Equal(t, exitAPI, r.code, r.stderr)
	r = cli(t, nil, "", "fapiao", "issue", "--example")
	requireOK(t, r)
	assert.Contains(t, r.stdout, `"fapiao_apply_id": ""`, "the skeleton uses WeChat's names")
}

// TestFapiaoCLIDownloadDigestMismatch: a file whose SM3-Digest does not
// match is removed and the command fails.
func TestFapiaoCLIDownloadDigestMismatch(t *testing.T) {
	_, _, env := fapiaoFake(t)
	var file atomic.Value
	file.Store(pdf("tampered"))
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("SM3-Digest", strings.ToUpper(fapiao.SM3Hex(pdf("original"))))
		_, _ = w.Write(file.Load().([]byte))
	}))
	defer files.Close()
	out := filepath.Join(t.TempDir(), "f.pdf")
	req := `{"download_url":"` + files.URL + `/invoicing/fapiao/fapiao-file?token=x","openid":"o1","invoice_code":"044001911211","invoice_no":"12897794","fapiao_id":"f-1"}`
	r := cli(t, env, req, "fapiao", "download", "-f", "-", "--out", out)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "SM3")
	assert.Contains(t, r.stderr, "removed")
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err), "the file that failed the digest check is removed")

	// With the right digest the file stays.
	file.Store(pdf("original"))
	r = cli(t, env, req, "fapiao", "-o", "json", "download", "-f", "-", "--out", out)
	requireOK(t, r)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, pdf("original"), got)
}
