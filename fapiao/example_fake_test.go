package fapiao

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exampleFake is a tiny stateful WeChat Pay e-invoice server for the
// examples: it signs its answers with the test key of testdata, accepts
// issue requests and answers queries with the issued invoices. Real tests
// of users use wxinvoicetest.
type exampleFake struct {
	*httptest.Server
	Key     *rsa.PrivateKey // the merchant's key and, for brevity, WeChat Pay's too
	PubKey  *rsa.PublicKey
	Cert    *x509.Certificate
	KeyID   string
	mu      sync.Mutex
	applied map[string]IssueRequest
}

func newExampleFake() *exampleFake {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	key, err := LoadPrivateKeyFile(filepath.Join("testdata", "test_private_key.pem"))
	must(err)
	pub, err := LoadPublicKeyFile(filepath.Join("testdata", "test_public_key.pem"))
	must(err)
	cert, err := LoadCertificateFile(filepath.Join("testdata", "test_certificate.pem"))
	must(err)
	f := &exampleFake{Key: key, PubKey: pub, Cert: cert, KeyID: testPubKeyID, applied: map[string]IssueRequest{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// sign adds the Wechatpay-* headers over body.
func (f *exampleFake) sign(h http.Header, body []byte) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig, err := signSHA256WithRSA(f.Key, []byte(ts+"\nexample-nonce\n"+string(body)+"\n"))
	if err != nil {
		panic(err)
	}
	h.Set(headerTimestamp, ts)
	h.Set(headerNonce, "example-nonce")
	h.Set(headerSignature, sig)
	h.Set(headerSerial, f.KeyID)
}

func (f *exampleFake) answer(w http.ResponseWriter, status int, v any) {
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
		w.Header().Set("Content-Type", "application/json")
	}
	f.sign(w.Header(), body)
	w.WriteHeader(status)
	w.Write(body)
}

func (f *exampleFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	const apps = "/v3/new-tax-control-fapiao/fapiao-applications"
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v3/new-tax-control-fapiao/user-title":
		phone, _ := encryptOAEP(f.PubKey, "18507550000") // encrypted for the merchant
		f.answer(w, 200, BuyerInformation{Type: BuyerIndividual, Name: "张三", Phone: Sensitive(phone)})
	case r.Method == http.MethodPost && r.URL.Path == apps:
		var req IssueRequest
		json.Unmarshal(body, &req)
		f.applied[req.FapiaoApplyID] = req
		f.answer(w, http.StatusAccepted, nil)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, apps+"/"):
		req, ok := f.applied[strings.TrimPrefix(r.URL.Path, apps+"/")]
		if !ok {
			f.answer(w, 404, errorBody{Code: "RESOURCE_NOT_EXISTS", Message: "申请单不存在"})
			return
		}
		out := Application{TotalCount: Int(len(req.FapiaoInformation))}
		for _, fp := range req.FapiaoInformation {
			out.FapiaoInformation = append(out.FapiaoInformation, Fapiao{FapiaoID: fp.FapiaoID, Status: StatusIssued, TotalAmount: fp.TotalAmount,
				BuyerInformation: BuyerInformation{Type: req.BuyerInformation.Type, Name: req.BuyerInformation.Name}})
		}
		f.answer(w, 200, out)
	default:
		f.answer(w, 404, errorBody{Code: "RESOURCE_NOT_EXISTS", Message: "not in the example fake"})
	}
}

// Callback returns a signed, encrypted FAPIAO.* callback request as WeChat
// Pay would send it.
func (f *exampleFake) Callback(apiV3Key, id, eventType string, resource any) *http.Request {
	pt, _ := json.Marshal(resource)
	nonce := "exampleNonce"
	env := Notification{ID: id, CreateTime: time.Now().Format(time.RFC3339), EventType: eventType, ResourceType: "encrypt-resource",
		Resource: NotificationResource{Algorithm: aeadAlgorithm, Nonce: nonce, Ciphertext: gcmSeal(apiV3Key, nonce, pt)}}
	body, _ := json.Marshal(env)
	r := httptest.NewRequest(http.MethodPost, "/fapiao/notify", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	f.sign(r.Header, body)
	return r
}
