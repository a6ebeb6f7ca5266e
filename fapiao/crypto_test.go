package fapiao

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

type officialVectors struct {
	V1 struct {
		Message   string `json:"message"`
		Signature string `json:"signature_base64"`
	} `json:"V1_sha256withrsa_sign"`
	V2 struct {
		APIv3Key          string            `json:"apiv3_key"`
		Headers           map[string]string `json:"headers"`
		Body              string            `json:"body"`
		ExpectedPlaintext string            `json:"expected_plaintext"`
	} `json:"V2_callback_verify_and_decrypt"`
	V3 gcmVector `json:"V3_aes_gcm_wechatpay_go"`
	V4 gcmVector `json:"V4_aes_256_gcm_wechatpay_java"`
	V5 struct {
		Ciphertext string `json:"ciphertext"`
		Plaintext  string `json:"plaintext"`
	} `json:"V5_rsa_oaep_sha1_decrypt"`
	V6 struct {
		Input string `json:"input"`
		Hex   string `json:"sm3_hex"`
		More  []struct {
			Hex string `json:"sm3_hex"`
		} `json:"more"`
	} `json:"V6_sm3_standard"`
	V7 struct {
		Input string `json:"input_utf8"`
		Upper string `json:"sm3_hex_upper"`
	} `json:"V7_sm3_skit"`
	V8 gcmVector `json:"V8_aes_256_gcm_platform_certificate_skit"`
}

type gcmVector struct {
	Key            string `json:"key"`
	Nonce          string `json:"nonce"`
	AssociatedData string `json:"associated_data"`
	Ciphertext     string `json:"ciphertext"`
	Plaintext      string `json:"plaintext"`
}

type derivedVector struct {
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Body          string            `json:"body"`
	Message       string            `json:"message"`
	Signature     string            `json:"signature"`
	Authorization string            `json:"authorization"`
	Meta          string            `json:"meta"`
	FileBytes     string            `json:"file_bytes_utf8"`
	SM3           string            `json:"sm3_hex_lower"`
	Multipart     string            `json:"multipart_body"`
	ContentType   string            `json:"content_type"`
	APIv3Key      string            `json:"apiv3_key"`
	Nonce         string            `json:"nonce"`
	Ciphertext    string            `json:"ciphertext"`
	Plaintext     string            `json:"plaintext"`
	Headers       map[string]string `json:"headers"`
	VerifyMessage string            `json:"verify_message"`
}

// Common values of the derived vectors (testdata).
const (
	dMchID = "1900000001"
	dTS    = 1554208460
	dNonce = "593BEC0C930BF1AFEB40B4A08C8FB242"
)

func loadVectors(t testing.TB) (*officialVectors, map[string]derivedVector) {
	t.Helper()
	var o officialVectors
	readJSON(t, "vectors_official.json", &o)
	var raw map[string]json.RawMessage
	readJSON(t, "vectors_derived.json", &raw)
	d := map[string]derivedVector{}
	for k, v := range raw {
		if strings.HasPrefix(k, "D") {
			var dv derivedVector
			if err := json.Unmarshal(v, &dv); err != nil {
				t.Fatal(k, err)
			}
			d[k] = dv
		}
	}
	return &o, d
}

func TestV1SignSHA256WithRSA(t *testing.T) {
	loadTestKeys(t)
	o, _ := loadVectors(t)
	got, err := signSHA256WithRSA(testPriv, []byte(o.V1.Message))
	if err != nil || got != o.V1.Signature {
		t.Fatalf("signature = %q, %v; want %q", got, err, o.V1.Signature)
	}
	// wechatpay-go's primitive gives the same signature for a request message.
	msg := signatureMessage("POST", "/v3/new-tax-control-fapiao/fapiao-applications", dTS, dNonce, []byte(`{"a":1}`))
	ours, _ := signSHA256WithRSA(testPriv, msg)
	if theirs, err := utils.SignSHA256WithRSA(string(msg), testPriv); err != nil || theirs != ours {
		t.Errorf("wechatpay-go signs %q, we sign %q", theirs, ours)
	}
}

func TestV1SignatureMessage(t *testing.T) {
	if got := string(signatureMessage("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", nil)); got != "GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n" {
		t.Errorf("GET message = %q", got)
	}
	if got := string(signatureMessage("POST", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", []byte("Hello World!\n"))); got != "POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n" {
		t.Errorf("POST message = %q", got)
	}
}

func TestDerivedAuthorizationD1D2D3(t *testing.T) {
	loadTestKeys(t)
	_, d := loadVectors(t)
	s := &signer{mchID: dMchID, serial: testSerial, key: testPriv}
	for _, name := range []string{"D1", "D2", "D3"} {
		v := d[name]
		body := v.Body
		if name == "D3" {
			body = v.Meta
		}
		method := v.Method
		if method == "" {
			method = "POST"
		}
		if got := string(signatureMessage(method, v.URL, dTS, dNonce, []byte(body))); got != v.Message {
			t.Errorf("%s message = %q, want %q", name, got, v.Message)
		}
		got, err := s.authorization(method, v.URL, dTS, dNonce, []byte(body))
		if err != nil || got != v.Authorization {
			t.Errorf("%s Authorization = %q, %v\nwant %q", name, got, err, v.Authorization)
		}
	}
}

func TestD3UploadMultipartAndDigest(t *testing.T) {
	_, d := loadVectors(t)
	v := d["D3"]
	if got := SM3Hex([]byte(v.FileBytes)); got != v.SM3 {
		t.Fatalf("SM3 = %s, want %s", got, v.SM3)
	}
	meta, err := jsonBody(&uploadMeta{FileType: "PDF", DigestAlgorithm: "SM3", Digest: v.SM3})
	if err != nil || string(meta) != v.Meta {
		t.Fatalf("meta = %s, %v; want %s", meta, err, v.Meta)
	}
	ub := newUploadBody("fapiao-test-boundary", meta, "fapiao.pdf", "application/pdf", []byte(v.FileBytes))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ub.reader()); err != nil {
		t.Fatal(err)
	}
	if buf.String() != v.Multipart {
		t.Errorf("multipart body =\n%q\nwant\n%q", buf.String(), v.Multipart)
	}
	if ub.size() != int64(len(v.Multipart)) || ub.contentType != v.ContentType {
		t.Errorf("size %d content type %q; want %d %q", ub.size(), ub.contentType, len(v.Multipart), v.ContentType)
	}
	if sum := sha256.Sum256(buf.Bytes()); hex.EncodeToString(sum[:]) != "44b1f9fffa5c44ac1fa108f27b3f4586084dc27df01b463f79b1bb2826ad956a" {
		t.Errorf("multipart SHA-256 = %x", sum)
	}
}

func testKeyring(t testing.TB, withPub, withCert bool) *keyring {
	t.Helper()
	loadTestKeys(t)
	var kr *keyring
	var err error
	switch {
	case withPub && withCert:
		kr, err = newKeyring("PUB_KEY_ID_0116571234562024052000123400000000", testPub, []*x509.Certificate{testCert})
	case withPub:
		kr, err = newKeyring("PUB_KEY_ID_0116571234562024052000123400000000", testPub, nil)
	default:
		kr, err = newKeyring("", nil, []*x509.Certificate{testCert})
	}
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestV2CallbackVerifyAndDecrypt(t *testing.T) {
	o, _ := loadVectors(t)
	kr := testKeyring(t, false, true)
	now := time.Unix(1624523846, 0)
	sh, err := kr.checkHeaders(header(o.V2.Headers), now, DefaultTimestampWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.verifyBody([]byte(o.V2.Body)); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(o.V2.Body, "签约成功", "签约失败", 1)
	if err := sh.verifyBody([]byte(tampered)); !errors.Is(err, ErrUnverified) {
		t.Errorf("tampered body: %v, want ErrUnverified", err)
	}
	// Resource of V2: AES-128-GCM (a 16-byte key, as in the upstream vector).
	var env struct {
		Resource struct {
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
			Ciphertext     string `json:"ciphertext"`
		} `json:"resource"`
	}
	if err := json.Unmarshal([]byte(o.V2.Body), &env); err != nil {
		t.Fatal(err)
	}
	pt, err := decryptAEAD([]byte(o.V2.APIv3Key), env.Resource.Nonce, env.Resource.AssociatedData, env.Resource.Ciphertext)
	if err != nil || string(pt) != o.V2.ExpectedPlaintext {
		t.Fatalf("plaintext = %q, %v", pt, err)
	}
}

func TestClockSkewWindow(t *testing.T) {
	o, _ := loadVectors(t)
	kr := testKeyring(t, false, true)
	for _, tc := range []struct {
		skew time.Duration
		ok   bool
	}{{0, true}, {299 * time.Second, true}, {-299 * time.Second, true}, {300 * time.Second, false}, {-300 * time.Second, false}, {time.Hour, false}} {
		now := time.Unix(1624523846, 0).Add(tc.skew)
		_, err := kr.checkHeaders(header(o.V2.Headers), now, DefaultTimestampWindow)
		if (err == nil) != tc.ok {
			t.Errorf("skew %v: err = %v, want ok=%v", tc.skew, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnverified) {
			t.Errorf("skew %v: %v does not match ErrUnverified", tc.skew, err)
		}
	}
}

func TestCheckHeadersRefusals(t *testing.T) {
	o, _ := loadVectors(t)
	kr := testKeyring(t, true, true)
	now := time.Unix(1624523846, 0)
	for name, mutate := range map[string]func(h http.Header){
		"missing timestamp": func(h http.Header) { h.Del(headerTimestamp) },
		"missing nonce":     func(h http.Header) { h.Del(headerNonce) },
		"missing signature": func(h http.Header) { h.Del(headerSignature) },
		"missing serial":    func(h http.Header) { h.Del(headerSerial) },
		"unknown serial":    func(h http.Header) { h.Set(headerSerial, "PUB_KEY_ID_OTHER") },
		"two timestamps":    func(h http.Header) { h.Add(headerTimestamp, "1624523846") },
		"non-digit ts":      func(h http.Header) { h.Set(headerTimestamp, "+1624523846") },
		"bad base64":        func(h http.Header) { h.Set(headerSignature, "!!!") },
		"other type":        func(h http.Header) { h.Set(headerSignatureType, "WECHATPAY2-SM2-WITH-SM3") },
		"probe":             func(h http.Header) { h.Set(headerSignature, "WECHATPAY/SIGNTEST/"+h.Get(headerSignature)) },
	} {
		h := header(o.V2.Headers)
		mutate(h)
		sh, err := kr.checkHeaders(h, now, DefaultTimestampWindow)
		if err == nil {
			err = sh.verifyBody([]byte(o.V2.Body))
		}
		if !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
	// Lower-case certificate serial still names the certificate.
	h := header(o.V2.Headers)
	h.Set(headerSerial, strings.ToLower(testSerial))
	if sh, err := kr.checkHeaders(h, now, DefaultTimestampWindow); err != nil || sh.verifyBody([]byte(o.V2.Body)) != nil {
		t.Errorf("lower-case serial refused: %v", err)
	}
}

func TestKeyringChoosesPublicKeyForRequests(t *testing.T) {
	kr := testKeyring(t, true, true)
	if kr.acceptSerial != "PUB_KEY_ID_0116571234562024052000123400000000" {
		t.Errorf("accept serial = %s, want the public key ID", kr.acceptSerial)
	}
	kr = testKeyring(t, false, true)
	if kr.acceptSerial != testSerial {
		t.Errorf("accept serial = %s, want the certificate serial", kr.acceptSerial)
	}
	if _, err := newKeyring("PUB_KEY_ID_X", nil, nil); err == nil {
		t.Error("public key ID without a key accepted")
	}
	if _, err := newKeyring("", testPub, nil); err == nil {
		t.Error("public key without an ID accepted")
	}
}

func TestV3AESGCM(t *testing.T) {
	o, _ := loadVectors(t)
	v := o.V3
	pt, err := decryptAEAD([]byte(v.Key), v.Nonce, v.AssociatedData, v.Ciphertext)
	if err != nil || string(pt) != v.Plaintext {
		t.Fatalf("plaintext = %q, %v", pt, err)
	}
	for name, tc := range map[string][4]string{
		"wrong key":      {"testAPIv3Key1111", v.Nonce, v.AssociatedData, v.Ciphertext},
		"not ciphertext": {v.Key, v.Nonce, v.AssociatedData, "SGVsbG8gV29ybGQK"},
		"not base64":     {v.Key, v.Nonce, v.AssociatedData, "invalid cipher"},
		"short nonce":    {v.Key, "short", v.AssociatedData, v.Ciphertext},
		"bad key size":   {"0123456789", v.Nonce, v.AssociatedData, v.Ciphertext},
	} {
		if _, err := decryptAEAD([]byte(tc[0]), tc[1], tc[2], tc[3]); err == nil {
			t.Errorf("%s: decrypted", name)
		}
	}
}

func TestV4AES256GCM(t *testing.T) {
	o, _ := loadVectors(t)
	v := o.V4
	if got := sealGCM(t, v.Key, v.Nonce, v.AssociatedData, []byte(v.Plaintext)); got != v.Ciphertext {
		t.Errorf("encrypt = %s, want %s", got, v.Ciphertext)
	}
	pt, err := decryptAEAD([]byte(v.Key), v.Nonce, v.AssociatedData, v.Ciphertext)
	if err != nil || string(pt) != v.Plaintext {
		t.Fatalf("plaintext = %q, %v", pt, err)
	}
	if _, err := decryptAEAD([]byte(v.Key), v.Nonce, "bad-associatedData", v.Ciphertext); err == nil {
		t.Error("bad AAD decrypted")
	}
	if _, err := decryptAEAD([]byte(v.Key), "bad-4a9R25RW", v.AssociatedData, v.Ciphertext); err == nil {
		t.Error("bad nonce decrypted")
	}
}

func TestV8AES256GCMCertificate(t *testing.T) {
	o, _ := loadVectors(t)
	v := o.V8
	if sum := sha256.Sum256([]byte(v.Ciphertext)); hex.EncodeToString(sum[:]) != "ceee4b41821d9e5d9caa8ac88201a6d9c9624b1bc72af6ff544c018666df9efe" {
		t.Fatalf("ciphertext fixture altered")
	}
	pt, err := decryptAEAD([]byte(v.Key), v.Nonce, v.AssociatedData, v.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(pt); hex.EncodeToString(sum[:]) != "522c6a3c1dcb0f78f0f61e88bde8d14560a3e3fdabce72bff8afc924144af32f" || len(pt) != 1398 || string(pt) != v.Plaintext {
		t.Errorf("plaintext (%d bytes) differs", len(pt))
	}
	if _, err := LoadCertificate(pt); err != nil {
		t.Errorf("decrypted certificate does not load: %v", err)
	}
}

func TestV5DecryptOAEP(t *testing.T) {
	loadTestKeys(t)
	o, _ := loadVectors(t)
	pt, err := decryptOAEP(testPriv, o.V5.Ciphertext)
	if err != nil || pt != o.V5.Plaintext {
		t.Fatalf("plaintext = %q, %v", pt, err)
	}
	if pt, err := decryptOAEP(testPriv, ""); err != nil || pt != "" {
		t.Errorf("empty ciphertext = %q, %v", pt, err)
	}
	bad := []byte(o.V5.Ciphertext)
	bad[10] ^= 1
	if _, err := decryptOAEP(testPriv, string(bad)); err == nil {
		t.Error("tampered ciphertext decrypted")
	}
}

func TestOAEPRoundTripAndLimit(t *testing.T) {
	loadTestKeys(t)
	ct, err := encryptOAEP(testPub, "18507550000")
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.StdEncoding.DecodeString(ct); len(raw) != 256 {
		t.Errorf("ciphertext is %d bytes", len(raw))
	}
	if pt, err := decryptOAEP(testPriv, ct); err != nil || pt != "18507550000" {
		t.Errorf("round trip = %q, %v", pt, err)
	}
	if _, err := encryptOAEP(testPub, strings.Repeat("x", 214)); err != nil {
		t.Errorf("214 bytes refused: %v", err)
	}
	if _, err := encryptOAEP(testPub, strings.Repeat("x", 215)); err == nil {
		t.Error("215 bytes accepted")
	}
}

func TestV6V7SM3(t *testing.T) {
	o, _ := loadVectors(t)
	if got := SM3Hex([]byte(o.V6.Input)); got != o.V6.Hex {
		t.Errorf("SM3(abc) = %s", got)
	}
	if got := SM3Hex([]byte(strings.Repeat("abcd", 16))); got != o.V6.More[0].Hex {
		t.Errorf("SM3(abcd×16) = %s", got)
	}
	if got := SM3Hex([]byte(o.V7.Input)); got != strings.ToLower(o.V7.Upper) {
		t.Errorf("SM3(V7) = %s", got)
	}
}

func TestD4D5D6(t *testing.T) {
	loadTestKeys(t)
	_, d := loadVectors(t)
	kr := testKeyring(t, false, true)

	d4 := d["D4"]
	body := readTestdata(t, "callback_issued_derived_request.json")
	body = bytes.TrimSuffix(body, []byte("\n"))
	if string(body) != d4.Body {
		t.Fatal("callback_issued_derived_request.json differs from D4.body")
	}
	sh, err := kr.checkHeaders(header(d4.Headers), time.Unix(1710048759, 0), DefaultTimestampWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.verifyBody(body); err != nil {
		t.Fatal(err)
	}
	if got := sealGCM(t, d4.APIv3Key, d4.Nonce, "", []byte(d4.Plaintext)); got != d4.Ciphertext {
		t.Errorf("D4 encrypt = %s", got)
	}
	pt, err := decryptAEAD([]byte(d4.APIv3Key), d4.Nonce, "", d4.Ciphertext)
	if err != nil || string(pt) != d4.Plaintext {
		t.Errorf("D4 plaintext = %q, %v", pt, err)
	}

	d5 := d["D5"]
	parts := strings.SplitN(d5.VerifyMessage, "\n", 3)
	h := header(map[string]string{headerTimestamp: parts[0], headerNonce: parts[1], headerSignature: d5.Signature, headerSerial: testSerial})
	sh, err = kr.checkHeaders(h, time.Unix(1554209980, 0), DefaultTimestampWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.verifyBody(nil); err != nil {
		t.Errorf("D5 empty body: %v", err)
	}
	if err := sh.verifyBody([]byte("{}")); err == nil {
		t.Error("D5 signature accepted a body")
	}

	d6 := d["D6"]
	if pt, err := decryptOAEP(testPriv, d6.Ciphertext); err != nil || pt != d6.Plaintext {
		t.Errorf("D6 = %q, %v", pt, err)
	}
}

func TestLoadKeyErrorsDoNotQuoteInput(t *testing.T) {
	secret := "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n"
	_, err := LoadPrivateKey([]byte(secret))
	if err == nil || strings.Contains(err.Error(), "U0VDUkVU") {
		t.Errorf("err = %v", err)
	}
	_, err = LoadPublicKey([]byte(secret))
	if err == nil || strings.Contains(err.Error(), "U0VDUkVU") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadCertificateFile("testdata/does-not-exist.pem"); err == nil {
		t.Error("missing file loaded")
	}
	loadTestKeys(t)
	if CertificateSerial(testCert) != testSerial {
		t.Errorf("serial = %s", CertificateSerial(testCert))
	}
}
