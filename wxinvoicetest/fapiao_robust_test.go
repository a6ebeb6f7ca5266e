package wxinvoicetest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Odd bodies on every endpoint with a body are answered 4xx (signed), never
// a panic or a 2xx.
func TestFapiaoOddBodies(t *testing.T) {
	_, f, c := partnerSetup(t)
	setupMerchant(t, c.asMerchant(), "https://merchant.example/cb")
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	bodies := []string{`null`, `[]`, `"x"`, `{}`, `{"fapiao_information":"x"}`, `{"fapiao_information":[null]}`,
		`{"fapiao_information":{"items":[null]}}`, `{"buyer_information":null,"fapiao_information":[{}]}`,
		`{"fapiao_card_information":[{}]}`, `{"card_template_information":{"custom_cell":{}}}`,
		`{"callback_url":7}`, `{"reverse_reason":"x","fapiao_information":[{}]}`, `{"sub_mchid":{}}`,
		`{"scene":"WITH_WECHATPAY","fapiao_apply_id":"` + txn + `","buyer_information":{"type":"INDIVIDUAL","name":"x"},"fapiao_information":[{"fapiao_id":"a","total_amount":1,"need_list":false,"items":[{}]}]}`,
	}
	paths := []struct{ method, uri string }{
		{http.MethodPost, fpBase + "/card-template"},
		{http.MethodPatch, fpBase + "/merchant/development-config"},
		{http.MethodPost, fpBase + "/fapiao-applications"},
		{http.MethodPost, fpBase + "/fapiao-applications/" + txn + "/reverse"},
		{http.MethodPost, fpBase + "/fapiao-applications/" + txn + "/insert-cards"},
		{http.MethodPost, fpBase + "/fapiao-applications/issue-general"},
		{http.MethodPost, fpBase + "/fapiao-applications/issue-passenger-transport"},
		{http.MethodPost, fpBase + "/fapiao-applications/real-estate-leasing"},
		{http.MethodPost, fpBase + "/fapiao-applications/upload-fapiao-file"},
	}
	for _, cl := range []*fpClient{c.asMerchant(), c} {
		for _, p := range paths {
			list := bodies
			if p.method == http.MethodPatch {
				// Fields PATCH does not know are ignored (a valid no-op).
				list = []string{`[]`, `"x"`, `{"callback_url":7}`, `{"show_fapiao_cell":"yes"}`, `{"sub_mch_code":"1900000999"}`}
			}
			for _, body := range list {
				st, b := cl.call(p.method, p.uri, []byte(body))
				assert.True(t, st >= 400 && st < 500, "%s %s %s as %s: %d %s", p.method, p.uri, body, cl.mchID, st, b)
			}
		}
	}
}

// asMerchant returns a copy of c acting as the direct merchant.
func (c *fpClient) asMerchant() *fpClient {
	m := *c
	m.mchID = fpMchID
	return &m
}

// With the wall clock (no WithClock), timed work completes on its own.
func TestFapiaoWallClockProcessing(t *testing.T) {
	srv := NewServer(WithWechatPayKey(fpKeyID, loadKey(t, "wechatpay_key.pem")))
	t.Cleanup(srv.Close)
	f := srv.Fapiao()
	mk := loadKey(t, "merchant_key.pem")
	require.NoError(t, f.RegisterMerchant(FapiaoMerchant{MchID: fpMchID, CertSerialNo: fpSerial, PublicKey: &mk.PublicKey, APIv3Key: fpAPIv3Key}))
	c := &fpClient{t: t, base: srv.URL, mchID: fpMchID, serial: fpSerial, key: mk, wpKeyID: fpKeyID, wpKey: &loadKey(t, "wechatpay_key.pem").PublicKey}
	setupMerchant(t, c, "https://merchant.example/cb")
	f.SetProcessingDelay(20 * time.Millisecond)
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	st, b := c.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, c, FapiaoSceneWithWechatPay, txn))
	require.Equal(t, http.StatusAccepted, st, string(b))
	deadline := time.Now().Add(20 * time.Second)
	for {
		app, _ := f.Application(fpMchID, "", txn)
		if app.Invoices[0].Status == FapiaoIssued {
			break
		}
		require.True(t, time.Now().Before(deadline), "never issued")
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzFapiaoAuthorization: no Authorization header makes the fake panic or
// accept a request it cannot verify.
func FuzzFapiaoAuthorization(f *testing.F) {
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="n",timestamp="1",serial_no="D7CE59D1F522D701",signature="c2ln"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 a="b",,c="d"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1900000001",mchid="1900000001"`)
	f.Add(``)
	srv := NewUnstartedServer(WithClock(t0))
	mk := loadKey(f, "merchant_key.pem")
	fp := srv.Fapiao()
	if err := fp.RegisterMerchant(FapiaoMerchant{MchID: fpMchID, CertSerialNo: fpSerial, PublicKey: &mk.PublicKey, APIv3Key: fpAPIv3Key}); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, auth string) {
		if strings.ContainsAny(auth, "\r\n") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, fpBase+"/merchant/development-config", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q answered %d", auth, rec.Code)
		}
	})
}
