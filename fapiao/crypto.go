package fapiao

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Header names and constants of the APIv3 authentication scheme (签名生成, 签名验证).
const (
	headerTimestamp     = "Wechatpay-Timestamp"
	headerNonce         = "Wechatpay-Nonce"
	headerSignature     = "Wechatpay-Signature"
	headerSerial        = "Wechatpay-Serial"
	headerSignatureType = "Wechatpay-Signature-Type"
	headerRequestID     = "Request-Id"

	// SignatureType is the only signature scheme this package signs and
	// verifies: RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key.
	SignatureType = "WECHATPAY2-SHA256-RSA2048"

	// DefaultTimestampWindow is how far Wechatpay-Timestamp may be from the
	// local clock, in either direction, before an answer or a callback is
	// refused (wechatpay-go uses the same five minutes).
	DefaultTimestampWindow = 5 * time.Minute

	// aeadAlgorithm is the only resource.algorithm of FAPIAO.* callbacks.
	aeadAlgorithm = "AEAD_AES_256_GCM"
	gcmNonceSize  = 12
	// APIv3KeySize is the length in bytes of the merchant's APIv3 key.
	APIv3KeySize = 32
)

// ErrUnverified is wrapped by every error about an answer or a callback whose
// Wechatpay-* signature headers are missing, malformed, stale, name a key the
// client does not hold, or do not verify. Nothing of such an answer is
// decoded.
var ErrUnverified = errors.New("fapiao: WeChat Pay signature not verified")

// verifyError carries the reason of a failed verification; it matches
// ErrUnverified.
type verifyError struct{ reason string }

func (e *verifyError) Error() string        { return ErrUnverified.Error() + ": " + e.reason }
func (e *verifyError) Is(target error) bool { return target == ErrUnverified }

func unverified(reason string) error { return &verifyError{reason: reason} }

// signer produces the Authorization header (签名生成).
type signer struct {
	mchID  string
	serial string // merchant API certificate serial
	key    *rsa.PrivateKey
}

// signatureMessage returns the five-line string to sign (签名生成):
// METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n.
func signatureMessage(method, canonicalURL string, timestamp int64, nonce string, body []byte) []byte {
	var ts [20]byte
	t := strconv.AppendInt(ts[:0], timestamp, 10)
	b := make([]byte, 0, len(method)+len(canonicalURL)+len(t)+len(nonce)+len(body)+5)
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, canonicalURL...)
	b = append(b, '\n')
	b = append(b, t...)
	b = append(b, '\n')
	b = append(b, nonce...)
	b = append(b, '\n')
	b = append(b, body...)
	b = append(b, '\n')
	return b
}

// signSHA256WithRSA returns Base64(RSASSA-PKCS1-v1_5(SHA-256(message)))
// with the merchant key: wechatpay-go's utils.SignSHA256WithRSA (vector V1;
// a test checks both agree), hashing the message bytes in place instead of
// copying them into a string and back.
func signSHA256WithRSA(key *rsa.PrivateKey, message []byte) (string, error) {
	sum := sha256.Sum256(message)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", errors.New("fapiao: signing failed")
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// authorization returns the Authorization header value for one request.
// canonicalURL is the path plus "?query" exactly as sent; body is the exact
// body (the meta JSON for an upload).
func (s *signer) authorization(method, canonicalURL string, timestamp int64, nonce string, body []byte) (string, error) {
	sig, err := signSHA256WithRSA(s.key, signatureMessage(method, canonicalURL, timestamp, nonce, body))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(SignatureType) + len(s.mchID) + len(nonce) + len(sig) + len(s.serial) + 80)
	b.WriteString(SignatureType)
	b.WriteString(` mchid="`)
	b.WriteString(s.mchID)
	b.WriteString(`",nonce_str="`)
	b.WriteString(nonce)
	b.WriteString(`",signature="`)
	b.WriteString(sig)
	b.WriteString(`",timestamp="`)
	var ts [20]byte
	b.Write(strconv.AppendInt(ts[:0], timestamp, 10))
	b.WriteString(`",serial_no="`)
	b.WriteString(s.serial)
	b.WriteString(`"`)
	return b.String(), nil
}

// newNonce returns a 32-character random string of [0-9a-zA-Z].
func newNonce() (string, error) {
	n, err := utils.GenerateNonce()
	if err != nil {
		return "", errors.New("fapiao: generating a nonce failed")
	}
	return n, nil
}

// keyring holds the WeChat Pay keys that verify answers and callbacks, keyed
// by what Wechatpay-Serial names: the public key ID (PUB_KEY_ID_…) or a
// platform certificate's serial number (upper-case hex). It is immutable
// after construction and safe for concurrent use.
type keyring struct {
	keys map[string]*rsa.PublicKey
	// accept is the serial sent in the request header Wechatpay-Serial and
	// the key that encrypts sensitive request fields: the public key when
	// one is configured (WeChat's recommendation), else the newest platform
	// certificate.
	acceptSerial string
	acceptKey    *rsa.PublicKey
}

func newKeyring(pubKeyID string, pub *rsa.PublicKey, certs []*x509.Certificate) (*keyring, error) {
	kr := &keyring{keys: make(map[string]*rsa.PublicKey)}
	var newest *x509.Certificate
	for i, c := range certs {
		if c == nil {
			return nil, newValidation(fmt.Sprintf("PlatformCertificates[%d]", i), "must not be nil")
		}
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, newValidation(fmt.Sprintf("PlatformCertificates[%d]", i), "must hold an RSA public key")
		}
		if err := checkRSASize(k.N.BitLen()); err != nil {
			return nil, newValidation(fmt.Sprintf("PlatformCertificates[%d]", i), "%s", err.Error())
		}
		kr.keys[certSerial(c)] = k
		if newest == nil || c.NotBefore.After(newest.NotBefore) {
			newest = c
		}
	}
	if newest != nil {
		kr.acceptSerial, kr.acceptKey = certSerial(newest), newest.PublicKey.(*rsa.PublicKey)
	}
	if pub != nil || pubKeyID != "" {
		if pub == nil {
			return nil, newValidation("WechatPayPublicKey", "must not be nil")
		}
		if pubKeyID == "" || !plausibleSerial(pubKeyID) {
			return nil, newValidation("WechatPayPublicKeyID", "must be the key's ID, such as PUB_KEY_ID_…")
		}
		if err := checkRSASize(pub.N.BitLen()); err != nil {
			return nil, newValidation("WechatPayPublicKey", "%s", err.Error())
		}
		kr.keys[pubKeyID] = pub
		kr.acceptSerial, kr.acceptKey = pubKeyID, pub
	}
	return kr, nil
}

// certSerial is a certificate's serial as WeChat writes it in
// Wechatpay-Serial: upper-case hex of the serial's bytes.
func certSerial(c *x509.Certificate) string { return utils.GetCertificateSerialNumber(*c) }

// lookup returns the key named by serial; certificate serials match in any
// letter case.
func (kr *keyring) lookup(serial string) *rsa.PublicKey {
	if k, ok := kr.keys[serial]; ok {
		return k
	}
	return kr.keys[strings.ToUpper(serial)]
}

// plausibleSerial reports whether s can be a serial or key ID: 1 to 64
// characters of letters, digits and underscores.
func plausibleSerial(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkRSASize(bits int) error {
	if bits < 2048 {
		return fmt.Errorf("RSA key has %d bits; WeChat Pay keys have 2048", bits)
	}
	return nil
}

// signedHeaders are the checked Wechatpay-* headers of an answer or callback.
type signedHeaders struct {
	timestamp string
	nonce     string
	signature []byte
	key       *rsa.PublicKey
}

// checkHeaders validates the Wechatpay-* headers without looking at any
// body: all present and well formed, the signature type supported, the
// timestamp within window of now, and the serial naming a key held. It is
// the part of the verification (签名验证) that runs before a callback's body is read.
func (kr *keyring) checkHeaders(h map[string][]string, now time.Time, window time.Duration) (*signedHeaders, error) {
	get := func(k string) string {
		if v := h[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	ts, nonce, sig, serial := get(headerTimestamp), get(headerNonce), get(headerSignature), get(headerSerial)
	if ts == "" || nonce == "" || sig == "" || serial == "" {
		return nil, unverified("Wechatpay-Timestamp, -Nonce, -Signature and -Serial must each be present once")
	}
	if st, ok := h[headerSignatureType]; ok && (len(st) != 1 || st[0] != SignatureType) {
		return nil, unverified("unsupported Wechatpay-Signature-Type")
	}
	if len(nonce) > 64 || len(sig) > 1024 {
		return nil, unverified("Wechatpay-Nonce or -Signature too long")
	}
	if len(ts) > 12 {
		return nil, unverified("malformed Wechatpay-Timestamp")
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return nil, unverified("malformed Wechatpay-Timestamp")
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, unverified("malformed Wechatpay-Timestamp")
	}
	skew := now.Unix() - sec
	if skew < 0 {
		skew = -skew
	}
	if skew >= int64(window/time.Second) {
		return nil, unverified("Wechatpay-Timestamp outside the allowed clock skew")
	}
	key := kr.lookup(serial)
	if key == nil {
		return nil, unverified("Wechatpay-Serial names no key this client holds")
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, unverified("malformed Wechatpay-Signature")
	}
	return &signedHeaders{timestamp: ts, nonce: nonce, signature: raw, key: key}, nil
}

// verifyBody checks the signature over TIMESTAMP\nNONCE\nBODY\n with the
// exact body bytes received.
func (sh *signedHeaders) verifyBody(body []byte) error {
	h := sha256.New()
	writeVerifyMessage(h, sh.timestamp, sh.nonce, body)
	var sum [sha256.Size]byte
	if err := rsa.VerifyPKCS1v15(sh.key, crypto.SHA256, h.Sum(sum[:0]), sh.signature); err != nil {
		return unverified("signature does not match")
	}
	return nil
}

func writeVerifyMessage(h hash.Hash, ts, nonce string, body []byte) {
	var nl = []byte{'\n'}
	h.Write([]byte(ts))
	h.Write(nl)
	h.Write([]byte(nonce))
	h.Write(nl)
	h.Write(body)
	h.Write(nl)
}

// decryptAEAD opens an AEAD_AES_256_GCM resource (回调报文解密): key is the APIv3
// key, nonce the 12-byte resource.nonce, aad resource.associated_data,
// ciphertext Base64(ciphertext‖tag). The primitive accepts 16-, 24- and
// 32-byte keys (upstream vectors use AES-128); configuration enforces 32.
// Errors carry no detail.
func decryptAEAD(key []byte, nonce, aad, ciphertext string) ([]byte, error) {
	if len(nonce) != gcmNonceSize {
		return nil, errDecrypt
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, errDecrypt
	}
	pt, err := utils.DecryptAES256GCM(string(key), aad, nonce, ciphertext)
	if err != nil {
		return nil, errDecrypt
	}
	return []byte(pt), nil
}

var errDecrypt = errors.New("fapiao: decryption failed")

// maxOAEPPlaintext is the largest plaintext RSA-OAEP with SHA-1 can encrypt
// under key (214 bytes for RSA-2048).
func maxOAEPPlaintext(key *rsa.PublicKey) int { return key.Size() - 2*20 - 2 }

// encryptOAEP encrypts a sensitive request field (敏感信息加密) with the WeChat Pay
// key: RSAES-OAEP, SHA-1, MGF1-SHA-1, Base64.
func encryptOAEP(key *rsa.PublicKey, plaintext string) (string, error) {
	if len(plaintext) > maxOAEPPlaintext(key) {
		return "", fmt.Errorf("longer than %d bytes", maxOAEPPlaintext(key))
	}
	ct, err := utils.EncryptOAEPWithPublicKey(plaintext, key)
	if err != nil {
		return "", errors.New("encryption failed")
	}
	return ct, nil
}

// decryptOAEP decrypts a sensitive answer field (敏感信息解密) with the merchant
// key. An empty ciphertext is an empty plaintext, as in wechatpay-go.
func decryptOAEP(key *rsa.PrivateKey, ciphertext string) (string, error) {
	if ciphertext == "" {
		return "", nil
	}
	pt, err := utils.DecryptOAEP(ciphertext, key)
	if err != nil {
		return "", errDecrypt
	}
	return pt, nil
}

// SM3Hex returns the SM3 digest of data as lower-case hex, the form the
// upload's meta.digest takes (上传电子发票文件).
func SM3Hex(data []byte) string {
	sum := sm3.Sum(data)
	return hex.EncodeToString(sum[:])
}

// LoadPrivateKey parses a PEM-encoded RSA private key (PKCS #8 "PRIVATE KEY",
// as in apiclient_key.pem, or PKCS #1 "RSA PRIVATE KEY"). Errors never quote
// the input.
func LoadPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("fapiao: no PEM block found for the private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("fapiao: PEM block is %q, want PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, errors.New("fapiao: the private key does not parse")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("fapiao: the private key is not an RSA key")
	}
	return rk, nil
}

// LoadPublicKey parses a PEM-encoded RSA public key ("PUBLIC KEY", as
// downloaded from the merchant platform for public-key mode).
func LoadPublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("fapiao: no PUBLIC KEY PEM block found")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("fapiao: the public key does not parse")
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("fapiao: the public key is not an RSA key")
	}
	return rk, nil
}

// LoadCertificate parses a PEM-encoded X.509 certificate (a platform
// certificate, or the merchant API certificate).
func LoadCertificate(pemBytes []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("fapiao: no CERTIFICATE PEM block found")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fapiao: the certificate does not parse: %w", err)
	}
	return c, nil
}

// LoadPrivateKeyFile reads and parses a PEM private key file (LoadPrivateKey).
func LoadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fapiao: read private key: %w", err)
	}
	return LoadPrivateKey(b)
}

// LoadPublicKeyFile reads and parses a PEM public key file (LoadPublicKey).
func LoadPublicKeyFile(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fapiao: read public key: %w", err)
	}
	return LoadPublicKey(b)
}

// LoadCertificateFile reads and parses a PEM certificate file
// (LoadCertificate).
func LoadCertificateFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fapiao: read certificate: %w", err)
	}
	return LoadCertificate(b)
}

// CertificateSerial returns the serial number of c as WeChat Pay writes it
// (upper-case hex), e.g. the merchant API certificate's serial for
// WithMerchantKey.
func CertificateSerial(c *x509.Certificate) string { return certSerial(c) }
