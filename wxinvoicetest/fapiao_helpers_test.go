package wxinvoicetest

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The merchant of the e-invoice tests: wechatpay-go's published test key
// (certificate serial D7CE59D1F522D701) and wechatpay-java's 32-byte test
// APIv3 key.
const (
	fpMchID    = "1900000001"
	fpSerial   = "D7CE59D1F522D701"
	fpAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	fpKeyID    = "PUB_KEY_ID_0116571234562024052000123400000000"
	fpPhone    = "18507550000"
	fpEmail    = "123110@qq.com"
)

func loadKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fapiao", name))
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	require.NoError(t, err)
	return k.(*rsa.PrivateKey)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fapiao", name))
	require.NoError(t, err)
	return b
}

// fpClient is a minimal APIv3 client for the tests: it signs requests
// (WECHATPAY2-SHA256-RSA2048), verifies answers with the fake's public key
// and handles the sensitive fields.
type fpClient struct {
	t       testing.TB
	base    string
	mchID   string
	serial  string
	key     *rsa.PrivateKey
	wpKeyID string
	wpKey   *rsa.PublicKey
	// ts and nonce override the signing timestamp and nonce when set.
	ts    func() int64
	nonce string
}

// fapiaoSetup starts a server with a frozen clock and the test WeChat Pay
// key, registers the test merchant and returns a client for it.
func fapiaoSetup(t *testing.T, opts ...Option) (*Server, *FapiaoFake, *fpClient) {
	t.Helper()
	opts = append([]Option{WithWechatPayKey(fpKeyID, loadKey(t, "wechatpay_key.pem"))}, opts...)
	srv := start(t, opts...)
	f := srv.Fapiao()
	mk := loadKey(t, "merchant_key.pem")
	require.NoError(t, f.RegisterMerchant(FapiaoMerchant{MchID: fpMchID, CertSerialNo: fpSerial,
		PublicKey: &mk.PublicKey, APIv3Key: fpAPIv3Key}))
	keyID, pub := f.PublicKey()
	return srv, f, &fpClient{t: t, base: srv.URL, mchID: fpMchID, serial: fpSerial, key: mk, wpKeyID: keyID, wpKey: pub}
}

// authorization returns the Authorization header for a request.
func (c *fpClient) authorization(method, uri string, body []byte) string {
	h, err := c.sign(method, uri, body)
	require.NoError(c.t, err)
	return h
}

// sign returns the Authorization header for a request (safe in any
// goroutine).
func (c *fpClient) sign(method, uri string, body []byte) (string, error) {
	ts := time.Now().Unix()
	if c.ts != nil {
		ts = c.ts()
	}
	nonce := c.nonce
	if nonce == "" {
		nonce = randHex(16)
	}
	msg := fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", method, uri, ts, nonce, body)
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		c.mchID, nonce, ts, c.serial, base64.StdEncoding.EncodeToString(sig)), nil
}

// post sends body signed with Wechatpay-Serial and returns the status,
// without failing the test (safe in any goroutine).
func (c *fpClient) post(uri string, body []byte) (int, error) {
	auth, err := c.sign(http.MethodPost, uri, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+uri, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	req.Header.Set("Wechatpay-Serial", c.wpKeyID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, c.verify(resp.Header, b)
}

// raw sends a request with the given headers (Authorization computed over
// signBody unless hdr sets it) and returns the answer and its body.
func (c *fpClient) raw(method, uri string, body, signBody []byte, hdr http.Header) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+uri, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Accept", "application/json")
	if body != nil && hdr.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", c.authorization(method, uri, signBody))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp, b
}

// call sends v (JSON unless []byte; nil: no body) signed, with
// Wechatpay-Serial, checks the answer's signature and returns status and
// body.
func (c *fpClient) call(method, uri string, v any) (int, []byte) {
	c.t.Helper()
	var body []byte
	switch x := v.(type) {
	case nil:
	case []byte:
		body = x
	default:
		var err error
		body, err = json.Marshal(v)
		require.NoError(c.t, err)
	}
	resp, b := c.raw(method, uri, body, body, http.Header{"Wechatpay-Serial": {c.wpKeyID}})
	require.NoError(c.t, c.verify(resp.Header, b), "answer to %s %s must be signed", method, uri)
	return resp.StatusCode, b
}

// verify checks a signed answer or callback (headers and body).
func (c *fpClient) verify(h http.Header, body []byte) error {
	return verifyWechatPay(c.wpKeyID, c.wpKey, h, body)
}

func verifyWechatPay(keyID string, pub *rsa.PublicKey, h http.Header, body []byte) error {
	if h.Get("Wechatpay-Serial") != keyID {
		return fmt.Errorf("Wechatpay-Serial %q, want %q", h.Get("Wechatpay-Serial"), keyID)
	}
	ts, err := strconv.ParseInt(h.Get("Wechatpay-Timestamp"), 10, 64)
	if err != nil {
		return errors.New("bad Wechatpay-Timestamp")
	}
	if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("stale Wechatpay-Timestamp")
	}
	sig, err := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
	if err != nil || h.Get("Wechatpay-Nonce") == "" {
		return errors.New("bad Wechatpay-Signature or missing nonce")
	}
	sum := sha256.Sum256([]byte(h.Get("Wechatpay-Timestamp") + "\n" + h.Get("Wechatpay-Nonce") + "\n" + string(body) + "\n"))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// encrypt encrypts a sensitive field for the fake.
func (c *fpClient) encrypt(s string) string {
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, c.wpKey, []byte(s), nil)
	require.NoError(c.t, err)
	return base64.StdEncoding.EncodeToString(ct)
}

// decrypt opens a sensitive answer field with the merchant key.
func (c *fpClient) decrypt(s string) string {
	ct, err := base64.StdEncoding.DecodeString(s)
	require.NoError(c.t, err)
	pt, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, c.key, ct, nil)
	require.NoError(c.t, err)
	return string(pt)
}

// fpErr decodes an APIv3 error body.
func fpErr(t testing.TB, b []byte) fapiaoError {
	t.Helper()
	var e fapiaoError
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e
}

// receivedCallback is one callback the test receiver verified and
// decrypted.
type receivedCallback struct {
	EventType string
	Envelope  fpEnvelope
	Resource  map[string]any
}

// fpReceiver is the merchant's callback_url: it verifies the fake's
// signature, decrypts the resource with the APIv3 key and answers with the
// status set (204 by default).
type fpReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []receivedCallback
	bad    []string // verification failures
	events chan receivedCallback
}

func newFpReceiver(t *testing.T, c *fpClient) *fpReceiver {
	r := &fpReceiver{t: t, status: http.StatusNoContent, events: make(chan receivedCallback, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		cb, err := openCallback(c, req.Header, body)
		r.mu.Lock()
		status := r.status
		if err != nil {
			r.bad = append(r.bad, err.Error())
			status = http.StatusUnauthorized
		} else {
			r.got = append(r.got, cb)
		}
		r.mu.Unlock()
		if err == nil {
			r.events <- cb
		}
		if status >= 300 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"code":"FAIL","message":"失败"}`))
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fpReceiver) setStatus(s int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
}

func (r *fpReceiver) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// next waits for the next verified callback.
func (r *fpReceiver) next(t testing.TB) receivedCallback {
	t.Helper()
	select {
	case cb := <-r.events:
		return cb
	case <-time.After(20 * time.Second):
		t.Fatalf("no callback arrived; verification failures: %v", r.failures())
		return receivedCallback{}
	}
}

// openCallback verifies and decrypts a callback as a merchant must.
func openCallback(c *fpClient, h http.Header, body []byte) (receivedCallback, error) {
	var cb receivedCallback
	if h.Get("Wechatpay-Signature-Type") != "WECHATPAY2-SHA256-RSA2048" {
		return cb, errors.New("Wechatpay-Signature-Type")
	}
	if err := c.verify(h, body); err != nil {
		return cb, err
	}
	if err := json.Unmarshal(body, &cb.Envelope); err != nil {
		return cb, err
	}
	res := cb.Envelope.Resource
	if res.Algorithm != "AEAD_AES_256_GCM" || cb.Envelope.ResourceType != "encrypt-resource" {
		return cb, errors.New("algorithm or resource_type")
	}
	ct, err := base64.StdEncoding.DecodeString(res.Ciphertext)
	if err != nil {
		return cb, err
	}
	block, err := aes.NewCipher([]byte(fpAPIv3Key))
	if err != nil {
		return cb, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return cb, err
	}
	pt, err := gcm.Open(nil, []byte(res.Nonce), ct, []byte(res.AssociatedData))
	if err != nil {
		return cb, err
	}
	cb.EventType = cb.Envelope.EventType
	return cb, json.Unmarshal(pt, &cb.Resource)
}
