package wxinvoicetest

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The platform-certificate mode: a request naming the certificate serial
// gets an answer signed with the certificate's key and may carry fields
// encrypted with it; callbacks are signed by either key during migration.
func TestFapiaoPlatformCertificate(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)
	cert := f.PlatformCertificate()
	require.Same(t, cert, f.PlatformCertificate(), "one certificate per server")
	serial := certificateSerial(cert)
	certPub := cert.PublicKey.(*rsa.PublicKey)

	cc := *c
	cc.wpKeyID, cc.wpKey = serial, certPub
	st, b := cc.call(http.MethodGet, fpBase+"/merchant/development-config", nil)
	require.Equal(t, http.StatusOK, st, string(b)) // call verifies with the certificate
	// A lower-case serial names it too.
	lower := cc
	lower.wpKeyID = strings.ToLower(serial)
	resp, b := lower.raw(http.MethodGet, fpBase+"/merchant/development-config", nil, nil, http.Header{"Wechatpay-Serial": {lower.wpKeyID}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NoError(t, verifyWechatPay(serial, certPub, resp.Header, b))

	// Issue with the phone encrypted for the certificate.
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	st, b = cc.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, &cc, FapiaoSceneWithWechatPay, txn))
	require.Equal(t, http.StatusAccepted, st, string(b))
	app, _ := f.Application(fpMchID, "", txn)
	assert.Equal(t, fpPhone, app.Buyer.Phone)
	// Encrypted for the certificate but sent under the public key ID: refused.
	txn2, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 429900, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "李四"}})
	require.NoError(t, err)
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications", issueRequest(t, &cc, FapiaoSceneWithWechatPay, txn2))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "平台私钥解密失败", fpErr(t, b).Message)

	// Migration: callbacks alternate between the certificate and the public key.
	f.WaitCallbacks()
	before := len(f.Callbacks())
	f.SetCallbackSigning(FapiaoSignAlternate)
	for i := 0; i < 4; i++ {
		_, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 1, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "王五"}})
		require.NoError(t, err)
	}
	f.WaitCallbacks()
	cbs := f.Callbacks()[before:]
	require.Len(t, cbs, 4)
	for i, cb := range cbs {
		want, key := fpKeyID, c.wpKey
		if i%2 == 0 {
			want, key = serial, certPub
		}
		assert.Equal(t, want, cb.Serial, "callback %d", i)
		require.NotEmpty(t, cb.Attempts)
		assert.NoError(t, verifyWechatPay(want, key, cb.Attempts[0].Header, cb.Body), "callback %d", i)
	}
	f.SetCallbackSigning(FapiaoSignCertificate)
	_, err = f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 1, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "王五"}})
	require.NoError(t, err)
	f.WaitCallbacks()
	all := f.Callbacks()
	assert.Equal(t, serial, all[len(all)-1].Serial)
	f.SetCallbackSigning("bogus")
	f.SetCallbackSigning(FapiaoSignPublicKey)
	_, err = f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 1, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "王五"}})
	require.NoError(t, err)
	all = f.Callbacks()
	assert.Equal(t, fpKeyID, all[len(all)-1].Serial)
}

// A certificate given with WithPlatformCertificate is known from the start.
func TestFapiaoWithPlatformCertificate(t *testing.T) {
	cert, key := newPlatformCertificate()
	_, f, c := fapiaoSetup(t, WithPlatformCertificate(cert, key))
	cc := *c
	cc.wpKeyID, cc.wpKey = strings.ToUpper(cert.SerialNumber.Text(16)), &key.PublicKey
	st, b := cc.call(http.MethodGet, fpBase+"/merchant/development-config", nil)
	assert.Equal(t, http.StatusOK, st, string(b))
	assert.Same(t, cert, f.PlatformCertificate())
}
