package fapiao

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The test key material: wechatpay-go's published test
// key; the private key, the certificate (serial D7CE59D1F522D701) and the
// public key are one RSA-2048 pair.
const testSerial = "D7CE59D1F522D701"

var (
	testKeysOnce sync.Once
	testPriv     *rsa.PrivateKey
	testPub      *rsa.PublicKey
	testCert     *x509.Certificate
)

func loadTestKeys(t testing.TB) {
	t.Helper()
	testKeysOnce.Do(func() {
		var err error
		if testPriv, err = LoadPrivateKeyFile(filepath.Join("testdata", "test_private_key.pem")); err != nil {
			panic(err)
		}
		if testPub, err = LoadPublicKeyFile(filepath.Join("testdata", "test_public_key.pem")); err != nil {
			panic(err)
		}
		if testCert, err = LoadCertificateFile(filepath.Join("testdata", "test_certificate.pem")); err != nil {
			panic(err)
		}
	})
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readTestdata(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// fixedClock returns a clock pinned at Unix second sec.
func fixedClock(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

// signAnswer returns the Wechatpay-* headers that sign body at ts with the
// test key under serial, as WeChat Pay signs answers and callbacks.
func signAnswer(t testing.TB, serial string, ts int64, nonce string, body []byte) map[string]string {
	t.Helper()
	loadTestKeys(t)
	msg := strconv.FormatInt(ts, 10) + "\n" + nonce + "\n" + string(body) + "\n"
	sig, err := signSHA256WithRSA(testPriv, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		headerTimestamp:     strconv.FormatInt(ts, 10),
		headerNonce:         nonce,
		headerSignature:     sig,
		headerSerial:        serial,
		headerSignatureType: SignatureType,
	}
}

// sealGCM encrypts plaintext as WeChat Pay encrypts a callback resource.
func sealGCM(t testing.TB, key, nonce, aad string, plaintext []byte) string {
	t.Helper()
	return gcmSealAAD(key, nonce, aad, plaintext)
}

// gcmSeal encrypts a resource with an empty associated_data.
func gcmSeal(key, nonce string, plaintext []byte) string {
	return gcmSealAAD(key, nonce, "", plaintext)
}

func gcmSealAAD(key, nonce, aad string, plaintext []byte) string {
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), plaintext, []byte(aad)))
}

func unescape(t testing.TB, s string) string {
	t.Helper()
	v, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
