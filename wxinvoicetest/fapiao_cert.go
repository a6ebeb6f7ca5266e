package wxinvoicetest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// This file is the fake's WeChat Pay platform certificate (平台证书), the
// older key mode: during WeChat's migration to public keys either key may
// sign, chosen by Wechatpay-Serial.

// WithPlatformCertificate sets the fake's WeChat Pay platform certificate
// and its key, next to its public-key-mode key. Without it, the first
// FapiaoFake.PlatformCertificate call generates a self-signed one.
func WithPlatformCertificate(cert *x509.Certificate, key *rsa.PrivateKey) Option {
	return func(c *config) { c.fapiao.cert, c.fapiao.certKey = cert, key }
}

// fapiaoKey is one of the fake's signing keys with the serial that names
// it (the public key ID or the certificate serial).
type fapiaoKey struct {
	serial string
	key    *rsa.PrivateKey
}

// Callback signing modes for FapiaoFake.SetCallbackSigning.
const (
	// FapiaoSignPublicKey signs every callback with the public-key-mode key
	// (Wechatpay-Serial PUB_KEY_ID_…), the default.
	FapiaoSignPublicKey = "PUBLIC_KEY"
	// FapiaoSignCertificate signs every callback with the platform
	// certificate's key (Wechatpay-Serial the certificate serial).
	FapiaoSignCertificate = "CERTIFICATE"
	// FapiaoSignAlternate alternates, callback by callback, starting with the
	// certificate: WeChat's migration, when either may sign.
	FapiaoSignAlternate = "ALTERNATE"
)

// PlatformCertificate returns the fake's WeChat Pay platform certificate
// (generated on first use unless WithPlatformCertificate gave one). An
// answer to a request whose Wechatpay-Serial is its serial (upper-case hex)
// is signed with its key, and sensitive fields encrypted with it are
// accepted under that serial.
func (f *FapiaoFake) PlatformCertificate() *x509.Certificate {
	st := f.s.fapiaoInit()
	st.certOnce.Do(func() {
		cert, key := f.s.cfg.fapiao.cert, f.s.cfg.fapiao.certKey
		if cert == nil || key == nil {
			cert, key = newPlatformCertificate()
		}
		f.s.mu.Lock()
		st.cert = &fapiaoKey{serial: certificateSerial(cert), key: key}
		st.certificate = cert
		f.s.mu.Unlock()
	})
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return st.certificate
}

// certificateSerial is cert's serial as WeChat Pay writes it in
// Wechatpay-Serial (and wechatpay-go's GetCertificateSerialNumber computes
// it): the serial's bytes in upper-case hex, so that a serial whose first
// byte is under 0x10 keeps its leading zero.
func certificateSerial(cert *x509.Certificate) string {
	return fmt.Sprintf("%X", cert.SerialNumber.Bytes())
}

// newPlatformCertificate returns a fresh self-signed RSA-2048 certificate
// valid 5 years, like WeChat Pay's.
func newPlatformCertificate() (*x509.Certificate, *rsa.PrivateKey) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("wxinvoicetest: generating the platform certificate key: " + err.Error())
	}
	serial := new(big.Int).SetBytes(randBytes(20))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA (wxinvoicetest)", Organization: []string{"wxinvoicetest"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("wxinvoicetest: creating the platform certificate: " + err.Error())
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic("wxinvoicetest: parsing the platform certificate: " + err.Error())
	}
	return cert, key
}

// SetCallbackSigning chooses which key signs the callbacks created
// afterwards: FapiaoSignPublicKey (default), FapiaoSignCertificate or
// FapiaoSignAlternate. The certificate modes create the platform
// certificate if needed. An unknown mode is ignored.
func (f *FapiaoFake) SetCallbackSigning(mode string) {
	if mode != FapiaoSignPublicKey && mode != FapiaoSignCertificate && mode != FapiaoSignAlternate {
		return
	}
	if mode != FapiaoSignPublicKey {
		f.PlatformCertificate()
	}
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.cbSigning = mode
	st.cbCount = 0
}

// publicKeyMode returns the public-key-mode key.
func (st *fapiaoState) publicKeyMode() fapiaoKey { return fapiaoKey{serial: st.keyID, key: st.key} }

// keyFor returns the key named by serial (the public key ID, or the
// certificate serial once the certificate exists). Callers hold s.mu.
func (st *fapiaoState) keyFor(serial string) (fapiaoKey, bool) {
	switch {
	case serial == st.keyID:
		return st.publicKeyMode(), true
	case st.cert != nil && strings.EqualFold(serial, st.cert.serial):
		return *st.cert, true
	}
	return fapiaoKey{}, false
}

// callbackKey returns the key the next callback is signed with. Callers
// hold s.mu.
func (st *fapiaoState) callbackKey() fapiaoKey {
	n := st.cbCount
	st.cbCount++
	switch {
	case st.cert == nil:
		return st.publicKeyMode()
	case st.cbSigning == FapiaoSignCertificate, st.cbSigning == FapiaoSignAlternate && n%2 == 0:
		return *st.cert
	}
	return st.publicKeyMode()
}
