package wxinvoicetest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file simulates the WeChat Pay e-invoice side (微信支付电子发票, APIv3
// under /v3/new-tax-control-fapiao/): merchant registration, request
// authentication (WECHATPAY2-SHA256-RSA2048), answer signing with the fake's
// own WeChat Pay public-key-mode key, the sensitive-field ciphers and the
// router. The endpoints live in fapiao_api.go, the callbacks and their retry
// schedule in fapiao_callback.go, the simulated user in fapiao_user.go.

// fapiaoPrefix is the path prefix of the e-invoice APIv3 endpoints.
const fapiaoPrefix = "/v3/new-tax-control-fapiao/"

// fapiaoDownloadPath is where the download_url handed out by fapiao-files
// points (WeChat's is https://pay.wechatpay.cn/invoicing/fapiao/fapiao-file).
const fapiaoDownloadPath = "/invoicing/fapiao/fapiao-file"

// Documented windows and limits of the e-invoice side.
const (
	fapiaoClockSkew     = 5 * time.Minute  // request timestamp window (401 SIGN_ERROR beyond it)
	fapiaoTitleURLTTL   = 30 * time.Minute // a title_url works 30 minutes
	fapiaoDownloadTTL   = 30 * time.Second // a download_url works 30 seconds
	fapiaoMediaTTL      = 72 * time.Hour   // a fapiao_media_id expires after 3 days
	fapiaoMaxFile       = 2 << 20          // upload-fapiao-file: at most 2 MB
	fapiaoMaxPerApply   = 5                // invoices per application, cards per insert-cards
	fapiaoMaxBody       = 8 << 20          // what the fake reads of one e-invoice request
	fapiaoSignatureType = "WECHATPAY2-SHA256-RSA2048"
)

// fapiaoAPIv3KeyLen is the length of an APIv3 key (AEAD_AES_256_GCM).
const fapiaoAPIv3KeyLen = 32

// WithWechatPayKey sets the fake's WeChat Pay public-key-mode key: keyID
// (e.g. "PUB_KEY_ID_0116571234562024052000123400000000") goes into every
// Wechatpay-Serial header it sends and is the serial it accepts on requests
// with encrypted fields; key signs its answers and callbacks and decrypts
// those fields. Without it, the server generates an RSA-2048 key on first
// use of the e-invoice side, with a random PUB_KEY_ID_… identifier.
func WithWechatPayKey(keyID string, key *rsa.PrivateKey) Option {
	return func(c *config) { c.fapiao.keyID, c.fapiao.key = keyID, key }
}

type fapiaoOptions struct {
	keyID   string
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	certKey *rsa.PrivateKey
}

// FapiaoFake is the WeChat Pay e-invoice side of a Server, as returned by
// Server.Fapiao: it registers merchants, plays the user and lists what
// happened. Its methods are safe for concurrent use; state lives behind the
// Server's mutex.
type FapiaoFake struct {
	s *Server
}

// Fapiao returns the server's WeChat Pay e-invoice side (微信支付电子发票,
// /v3/new-tax-control-fapiao/...). The first call prepares the fake's WeChat
// Pay key (generating one unless WithWechatPayKey gave it).
func (s *Server) Fapiao() *FapiaoFake {
	s.fapiaoInit()
	return &FapiaoFake{s: s}
}

// FapiaoMerchant is a merchant (直连商户) or partner (服务商) registered with
// FapiaoFake.RegisterMerchant: what WeChat Pay knows about it.
type FapiaoMerchant struct {
	// MchID is the merchant id (mchid) its requests carry in Authorization.
	MchID string
	// CertSerialNo is the serial of its API certificate (serial_no in
	// Authorization), compared case-insensitively.
	CertSerialNo string
	// PublicKey verifies its request signatures and encrypts the phone and
	// email in answers (E07, E09).
	PublicKey *rsa.PublicKey
	// APIv3Key (32 bytes) encrypts the callbacks' resources. Never logged.
	APIv3Key string
	// SubMchIDs makes the merchant a partner serving these sub-merchants:
	// its requests must then carry sub_mchid (sub_mch_code in E02), one of
	// these. Empty: a direct merchant, whose requests carry no sub_mchid.
	SubMchIDs []string
	// Seller is the invoicing information answered by base-information and
	// printed on issued invoices; zero: the documentation's sample seller.
	Seller FapiaoSeller
	// Extra is the payee, reviewer and drawer; zero: the sample's.
	Extra FapiaoExtra
}

// FapiaoSeller is a seller_information object (销售方信息).
type FapiaoSeller struct {
	Name        string `json:"name"`
	TaxpayerID  string `json:"taxpayer_id"`
	Address     string `json:"address"`
	Telephone   string `json:"telephone,omitempty"`
	BankName    string `json:"bank_name,omitempty"`
	BankAccount string `json:"bank_account,omitempty"`
}

// FapiaoExtra is an extra_information object (payee 收款人, reviewer 复核人,
// drawer 开票人).
type FapiaoExtra struct {
	Payee    string `json:"payee,omitempty"`
	Reviewer string `json:"reviewer,omitempty"`
	Drawer   string `json:"drawer"`
}

// fapiaoMerchant is a registered merchant with its state.
type fapiaoMerchant struct {
	FapiaoMerchant
	subs map[string]bool
}

// fapiaoAccountKey names the state of one (sub-)merchant: the calling mchid
// and, in partner mode, the sub_mchid.
type fapiaoAccountKey struct{ mchID, subMchID string }

// fapiaoState is the e-invoice side's state; it lives behind s.mu except
// key, keyID (set once before first use) and the callback client.
type fapiaoState struct {
	keyID string
	key   *rsa.PrivateKey

	certOnce    sync.Once         // creates the platform certificate (fapiao_cert.go)
	cert        *fapiaoKey        // the platform certificate's key and serial, nil until created
	certificate *x509.Certificate // the platform certificate
	cbSigning   string            // SetCallbackSigning mode
	cbCount     int               // callbacks signed since the mode was set

	merchants     map[string]*fapiaoMerchant
	accounts      map[fapiaoAccountKey]*fapiaoAccount
	titleLinks    map[string]*fapiaoTitleLink // link token → link
	downloads     map[string]*fapiaoDownload  // download token → link
	media         map[string]*fapiaoMedia     // fapiao_media_id → upload
	invites       []*FapiaoInvite
	requests      []FapiaoRequest
	callbacks     []*FapiaoCallback
	jobs          []*fapiaoJob
	inflight      int // callback attempts being sent
	closed        bool
	retry         []time.Duration
	cbTimeout     time.Duration
	processing    time.Duration
	failNextIssue []FapiaoIssueFailure
	routes        []fapiaoRoute
	client        *http.Client
}

// fapiaoInit creates the e-invoice state and its key once and returns it.
func (s *Server) fapiaoInit() *fapiaoState {
	s.fapiaoOnce.Do(func() {
		st := &fapiaoState{
			keyID:      s.cfg.fapiao.keyID,
			key:        s.cfg.fapiao.key,
			merchants:  map[string]*fapiaoMerchant{},
			accounts:   map[fapiaoAccountKey]*fapiaoAccount{},
			titleLinks: map[string]*fapiaoTitleLink{},
			downloads:  map[string]*fapiaoDownload{},
			media:      map[string]*fapiaoMedia{},
			retry:      append([]time.Duration(nil), defaultFapiaoRetry...),
			cbTimeout:  5 * time.Second,
			client: &http.Client{
				Transport: http.DefaultTransport.(*http.Transport).Clone(),
				CheckRedirect: func(*http.Request, []*http.Request) error {
					return http.ErrUseLastResponse // a callback is not redirected
				},
			},
		}
		if st.key == nil {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic("wxinvoicetest: generating the WeChat Pay key: " + err.Error())
			}
			st.key = k
		}
		if st.keyID == "" {
			st.keyID = "PUB_KEY_ID_" + randDigits(34)
		}
		if cert, key := s.cfg.fapiao.cert, s.cfg.fapiao.certKey; cert != nil && key != nil {
			st.certOnce.Do(func() {
				st.cert = &fapiaoKey{serial: certificateSerial(cert), key: key}
				st.certificate = cert
			})
		}
		st.routes = s.fapiaoRoutes()
		s.mu.Lock()
		s.fapiaoSt = st
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fapiaoSt
}

// PublicKey returns the ID (PUB_KEY_ID_…) and public half of the fake's
// WeChat Pay key, which a client configures to verify answers and callbacks
// and to encrypt sensitive fields.
func (f *FapiaoFake) PublicKey() (keyID string, key *rsa.PublicKey) {
	st := f.s.fapiaoInit()
	return st.keyID, &st.key.PublicKey
}

// RegisterMerchant makes m known to the fake (replacing the keys and
// settings of a merchant with the same MchID, keeping its state). It checks
// that MchID, CertSerialNo and PublicKey are set and that APIv3Key is 32
// bytes long.
func (f *FapiaoFake) RegisterMerchant(m FapiaoMerchant) error {
	switch {
	case m.MchID == "":
		return errors.New("wxinvoicetest: FapiaoMerchant.MchID is empty")
	case m.CertSerialNo == "":
		return errors.New("wxinvoicetest: FapiaoMerchant.CertSerialNo is empty")
	case m.PublicKey == nil:
		return errors.New("wxinvoicetest: FapiaoMerchant.PublicKey is nil")
	case len(m.APIv3Key) != fapiaoAPIv3KeyLen:
		return fmt.Errorf("wxinvoicetest: FapiaoMerchant.APIv3Key must be %d bytes, got %d", fapiaoAPIv3KeyLen, len(m.APIv3Key))
	}
	if m.Seller == (FapiaoSeller{}) {
		m.Seller = defaultFapiaoSeller
	}
	if m.Extra == (FapiaoExtra{}) {
		m.Extra = defaultFapiaoExtra
	}
	m.SubMchIDs = append([]string(nil), m.SubMchIDs...)
	st := f.s.fapiaoInit()
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	fm := &fapiaoMerchant{FapiaoMerchant: m, subs: map[string]bool{}}
	for _, sub := range m.SubMchIDs {
		fm.subs[sub] = true
	}
	st.merchants[m.MchID] = fm
	return nil
}

// The documentation's sample seller (base_information sample).
var (
	defaultFapiaoSeller = FapiaoSeller{Name: "深圳市南山区测试公司", TaxpayerID: "202003261233701778",
		Address: "深圳市南山区深南大道10000号", Telephone: "075512345678", BankName: "测试银行", BankAccount: "62001234567890"}
	defaultFapiaoExtra = FapiaoExtra{Payee: "张三", Reviewer: "李四", Drawer: "王五"}
)

// ---- Recording ----

// FapiaoRequest is one request that reached the e-invoice side (injected
// faults answer before it and are only in Server.Requests), as listed by
// FapiaoFake.Requests.
type FapiaoRequest struct {
	Time   time.Time   // the server's clock
	Method string      // e.g. "POST"
	URI    string      // path and query as sent (what was signed)
	Header http.Header // every request header, Authorization included
	Body   []byte      // the whole body
	MchID  string      // the authenticated mchid; "" when authentication failed or for a download
	Status int         // HTTP status answered
	Code   string      // the error code answered, "" on success
}

// Requests returns a copy of every request the e-invoice side answered, in
// arrival order.
func (f *FapiaoFake) Requests() []FapiaoRequest {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	out := make([]FapiaoRequest, len(st.requests))
	for i, r := range st.requests {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ---- Routing ----

// fcall is one e-invoice request being answered (under s.mu).
type fcall struct {
	*call
	st       *fapiaoState
	m        *fapiaoMerchant // the authenticated merchant
	params   map[string]string
	signBody []byte // the body line of the string to sign
	code     string // error code answered
	base     string // base URL for the links handed out
	now      time.Time
}

type fapiaoRoute struct {
	method  string
	pattern []string // segments after the prefix; "{x}" matches any one
	handle  func(fc *fcall)
}

// fapiaoRoutes lists the simulated endpoints (E01–E22 of WeChat's
// e-invoice API; the download E11 is served apart, unsigned), literal
// segments before wildcards. Every route needs the merchant's signature.
func (s *Server) fapiaoRoutes() []fapiaoRoute {
	r := func(method, pattern string, h func(fc *fcall)) fapiaoRoute {
		return fapiaoRoute{method: method, pattern: strings.Split(pattern, "/"), handle: h}
	}
	return []fapiaoRoute{
		r(http.MethodPost, "card-template", s.fpCardTemplate),                                                  // E01
		r(http.MethodPatch, "merchant/development-config", s.fpPatchDevConfig),                                 // E02
		r(http.MethodGet, "merchant/development-config", s.fpGetDevConfig),                                     // E03
		r(http.MethodGet, "merchant/base-information", s.fpBaseInformation),                                    // E04
		r(http.MethodGet, "merchant/tax-codes", s.fpTaxCodes),                                                  // E05
		r(http.MethodGet, "user-title/title-url", s.fpTitleURL),                                                // E06
		r(http.MethodGet, "user-title", s.fpUserTitle),                                                         // E07
		r(http.MethodPost, "fapiao-applications", s.fpIssue),                                                   // E08
		r(http.MethodPost, "fapiao-applications/upload-fapiao-file", s.fpUpload),                               // E13
		r(http.MethodPost, "fapiao-applications/issue-general", s.fpIssueDigital(fapiaoGeneral)),               // E17
		r(http.MethodPost, "fapiao-applications/issue-passenger-transport", s.fpIssueDigital(fapiaoPassenger)), // E18
		r(http.MethodPost, "fapiao-applications/issue-refined-oil", s.fpIssueDigital(fapiaoRefinedOil)),        // E19
		r(http.MethodPost, "fapiao-applications/real-estate-leasing", s.fpIssueDigital(fapiaoRealEstate)),      // E20
		r(http.MethodGet, "fapiao-applications/{fapiao_apply_id}", s.fpQuery),                                  // E09
		r(http.MethodGet, "fapiao-applications/{fapiao_apply_id}/fapiao-files", s.fpFiles),                     // E10
		r(http.MethodPost, "fapiao-applications/{fapiao_apply_id}/reverse", s.fpReverse),                       // E12
		r(http.MethodPost, "fapiao-applications/{fapiao_apply_id}/insert-cards", s.fpInsertCards),              // E14
		r(http.MethodPost, "merchant/{sub_mchid}/check", s.fpCheck),                                            // E15
		r(http.MethodGet, "merchant/{sub_mchid}/check-status", s.fpCheckStatus),                                // E16
		r(http.MethodPost, "merchant/{sub_mchid}/check-status", s.fpCheckStatus),                               // E16 as the SKIT .NET SDK sends it
		r(http.MethodGet, "fapiaomerchant/getspinviteurl", s.fpInviteURL),                                      // E21
		r(http.MethodGet, "fapiaomerchant/listspinvitemchinfo", s.fpListInvites),                               // E22
	}
}

// serveFapiao answers c when its path belongs to the e-invoice side and
// reports whether it did.
func (s *Server) serveFapiao(c *call, readErr error) bool {
	path := c.r.URL.Path
	isAPI := strings.HasPrefix(path, fapiaoPrefix)
	if !isAPI && path != fapiaoDownloadPath {
		return false
	}
	st := s.fapiaoInit()
	base := c.baseFor()
	s.mu.Lock()
	defer s.mu.Unlock()
	st.runDue(s)
	fc := &fcall{call: c, st: st, base: base, now: s.clk.now(), params: map[string]string{}}
	defer func() {
		st.requests = append(st.requests, FapiaoRequest{
			Time: fc.now, Method: c.r.Method, URI: requestURI(c.r), Header: c.r.Header.Clone(),
			Body: c.body, Status: c.w.Code, Code: fc.code, MchID: fapiaoMchID(fc),
		})
		st.runDue(s)
	}()
	if !isAPI {
		s.fpDownload(fc)
		return true
	}
	if readErr != nil || len(c.body) > fapiaoMaxBody {
		fc.fail(http.StatusBadRequest, "PARAM_ERROR", "body unreadable or larger than 8 MiB")
		return true
	}
	segs := strings.Split(strings.TrimPrefix(path, fapiaoPrefix), "/")
	var rt *fapiaoRoute
	pathKnown := false
	for _, cand := range st.routes {
		if !matchSegments(cand.pattern, segs, fc.params) {
			continue
		}
		pathKnown = true
		if cand.method == c.r.Method {
			rt = &cand
			break
		}
	}
	if rt == nil {
		if pathKnown {
			fc.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method "+c.r.Method+" not allowed on "+path)
		} else {
			fc.fail(http.StatusNotFound, "NOT_FOUND", "wxinvoicetest does not simulate "+path)
		}
		return true
	}
	fc.signBody = c.body
	if path == fapiaoPrefix+"fapiao-applications/upload-fapiao-file" {
		meta, ok := uploadMeta(c)
		if !ok {
			fc.fail(http.StatusBadRequest, "PARAM_ERROR", "the body must be multipart/form-data with a meta part")
			return true
		}
		fc.signBody = meta
	}
	if !fc.authenticate() {
		return true
	}
	rt.handle(fc)
	return true
}

// matchSegments matches path segments against a pattern, filling params.
func matchSegments(pattern, segs []string, params map[string]string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			params[strings.Trim(p, "{}")] = segs[i]
		}
	}
	return true
}

func fapiaoMchID(fc *fcall) string {
	if fc.m == nil {
		return ""
	}
	return fc.m.MchID
}

// requestURI returns the path and query exactly as the client sent them.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// ---- Answers ----

// fapiaoError is the APIv3 error body.
type fapiaoError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// fapiaoFieldDetail is the detail of a PARAM_ERROR naming the field.
type fapiaoFieldDetail struct {
	Field    string `json:"field"`
	Location string `json:"location"`
	Issue    string `json:"issue"`
}

// fail answers an APIv3 error.
func (fc *fcall) fail(status int, code, msg string) {
	fc.code = code
	fc.json(status, fapiaoError{Code: code, Message: msg})
}

// failDetail answers an APIv3 error with a detail object.
func (fc *fcall) failDetail(status int, code, msg string, detail any) {
	fc.code = code
	fc.json(status, fapiaoError{Code: code, Message: msg, Detail: detail})
}

// bad answers 400 PARAM_ERROR naming the field (location "body" or "query").
func (fc *fcall) bad(location, field, issue string) {
	fc.failDetail(http.StatusBadRequest, "PARAM_ERROR", field+": "+issue,
		fapiaoFieldDetail{Field: field, Location: location, Issue: issue})
}

// invalid answers 400 INVALID_REQUEST (well-formed, but against the rules).
func (fc *fcall) invalid(msg string) { fc.fail(http.StatusBadRequest, "INVALID_REQUEST", msg) }

// notFound answers 404 RESOURCE_NOT_EXISTS.
func (fc *fcall) notFound(msg string) { fc.fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", msg) }

// noAuth answers 403 NO_AUTH.
func (fc *fcall) noAuth(msg string) { fc.fail(http.StatusForbidden, "NO_AUTH", msg) }

// json answers v as JSON with status.
func (fc *fcall) json(status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	fc.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fc.w.WriteHeader(status)
	_, _ = fc.w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// empty answers status (202, 204) without a body.
func (fc *fcall) empty(status int) { fc.w.WriteHeader(status) }

// decode unmarshals the JSON body into v, answering 400 PARAM_ERROR when it
// is not JSON of that shape.
func (fc *fcall) decode(v any) bool {
	if len(bytes.TrimSpace(fc.body)) == 0 {
		fc.bad("body", "body", "empty request body")
		return false
	}
	if err := json.Unmarshal(fc.body, v); err != nil {
		fc.bad("body", "body", "not JSON of the expected shape: "+jsonErrText(err))
		return false
	}
	return true
}

func jsonErrText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " must be " + te.Type.String()
	}
	return "syntax error"
}

// signFapiaoAnswer signs an answer of the e-invoice API (not the file
// download) as WeChat Pay does: Wechatpay-Timestamp (wall clock, so a client's
// skew check works with a frozen fake clock), Wechatpay-Nonce,
// Wechatpay-Signature over "ts\nnonce\nbody\n" and Wechatpay-Serial (the
// key ID). Only WeChat's own answers are signed: JSON bodies and empty
// bodies; an injected non-JSON fault (a gateway's HTML page) is not.
func (s *Server) signFapiaoAnswer(r *http.Request, rec *httptest.ResponseRecorder) {
	if !strings.HasPrefix(r.URL.Path, fapiaoPrefix) {
		return
	}
	body := rec.Body.Bytes()
	if len(body) > 0 && !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		return
	}
	st := s.fapiaoInit()
	s.mu.Lock()
	k, ok := st.keyFor(r.Header.Get("Wechatpay-Serial"))
	if !ok {
		k = st.publicKeyMode()
	}
	s.mu.Unlock()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := randAlnum(32)
	sig, err := k.sign(ts + "\n" + nonce + "\n" + string(body) + "\n")
	if err != nil {
		return
	}
	h := rec.Header()
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", k.serial)
	h.Set("Request-ID", randHex(16))
}

// ---- Crypto ----

// sign returns Base64(RSASSA-PKCS1-v1_5(SHA-256)) of msg with k.
func (k fapiaoKey) sign(msg string) (string, error) {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// decrypt opens a sensitive request field (RSA-OAEP SHA-1, Base64)
// encrypted with k's public half.
func (k fapiaoKey) decrypt(b64 string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	pt, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, k.key, ct, nil)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// encryptFor encrypts a sensitive answer field for merchant m (RSA-OAEP
// SHA-1 with its public key, Base64). "" stays "".
func encryptFor(m *fapiaoMerchant, plain string) string {
	if plain == "" {
		return ""
	}
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, m.PublicKey, []byte(plain), nil)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// ---- Authentication ----

// authenticate checks the WECHATPAY2-SHA256-RSA2048 Authorization header
// of the request, answering 401 SIGN_ERROR when it does not verify. Order
// (WeChat does not document it): header present and well-formed, mchid
// registered, serial_no that of its certificate, timestamp within 5 minutes
// of the wall clock, signature over "METHOD\nURI\nts\nnonce\nbody\n".
func (fc *fcall) authenticate() bool {
	h := fc.r.Header.Get("Authorization")
	if h == "" {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "Http头缺少Authorization")
		return false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme != fapiaoSignatureType {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "不支持的签名类型 (want "+fapiaoSignatureType+")")
		return false
	}
	items, err := parseAuthItems(rest)
	if err != nil {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "Authorization格式错误: "+err.Error())
		return false
	}
	for _, k := range []string{"mchid", "nonce_str", "signature", "timestamp", "serial_no"} {
		if items[k] == "" {
			fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "Authorization缺少"+k)
			return false
		}
	}
	m := fc.st.merchants[items["mchid"]]
	if m == nil {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "商户号"+items["mchid"]+"未注册 (unknown mchid)")
		return false
	}
	if !strings.EqualFold(items["serial_no"], m.CertSerialNo) {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "商户证书序列号有误 (serial_no is not the merchant certificate's)")
		return false
	}
	ts, err := strconv.ParseInt(items["timestamp"], 10, 64)
	if err != nil {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "Http头Authorization中的timestamp格式错误")
		return false
	}
	if d := time.Since(time.Unix(ts, 0)); d >= fapiaoClockSkew || d <= -fapiaoClockSkew {
		fc.fail(http.StatusUnauthorized, "SIGN_ERROR", "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟")
		return false
	}
	uri := requestURI(fc.r)
	msg := fc.r.Method + "\n" + uri + "\n" + items["timestamp"] + "\n" + items["nonce_str"] + "\n" + string(fc.signBody) + "\n"
	sig, err := base64.StdEncoding.DecodeString(items["signature"])
	sum := sha256.Sum256([]byte(msg))
	if err != nil || rsa.VerifyPKCS1v15(m.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		trunc := msg
		if len(trunc) > 64 {
			trunc = trunc[:64]
		}
		fc.failDetail(http.StatusUnauthorized, "SIGN_ERROR", "签名错误,请检查后再试", map[string]any{
			"field": "signature", "location": "authorization", "detail": map[string]string{"issue": "sign not match"},
			"sign_information": map[string]any{"method": fc.r.Method, "url": uri,
				"sign_message_length": len(msg), "truncated_sign_message": trunc},
		})
		return false
	}
	fc.m = m
	return true
}

// parseAuthItems parses `k1="v1",k2="v2",…` in any order.
func parseAuthItems(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("item without '='")
		}
		k = strings.TrimSpace(k)
		if !strings.HasPrefix(rest, `"`) {
			return nil, errors.New("value of " + k + " is not quoted")
		}
		v, rest, ok := strings.Cut(rest[1:], `"`)
		if !ok {
			return nil, errors.New("value of " + k + " is not closed")
		}
		if _, dup := out[k]; dup {
			return nil, errors.New("item " + k + " repeated")
		}
		out[k] = v
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if rest[0] != ',' {
				return nil, errors.New("items must be separated by ','")
			}
			rest = strings.TrimSpace(rest[1:])
		}
		s = rest
	}
	return out, nil
}

// sensitive opens the encrypted fields of a request (in order, each may be
// "" = absent): it requires Wechatpay-Serial naming the fake's key when any
// is present (400 PARAM_ERROR otherwise, as WeChat answers), and decrypts
// them in place.
func (fc *fcall) sensitive(fields ...*string) bool {
	any := false
	for _, f := range fields {
		if *f != "" {
			any = true
		}
	}
	serial := fc.r.Header.Get("Wechatpay-Serial")
	if !any && serial == "" {
		return true
	}
	if serial == "" {
		fc.fail(http.StatusBadRequest, "PARAM_ERROR", "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)")
		return false
	}
	k, ok := fc.st.keyFor(serial)
	if !ok {
		fc.fail(http.StatusBadRequest, "PARAM_ERROR", "Wechatpay-Serial对应的微信支付公钥或平台证书不存在")
		return false
	}
	for _, f := range fields {
		if *f == "" {
			continue
		}
		pt, err := k.decrypt(*f)
		if err != nil {
			fc.fail(http.StatusBadRequest, "PARAM_ERROR", "平台私钥解密失败")
			return false
		}
		*f = pt
	}
	return true
}

// account resolves the (sub-)merchant a request acts for: a partner must
// name one of its sub-merchants (400 PARAM_ERROR when missing, 403 NO_AUTH
// when not its own); a direct merchant must not name any (403 NO_AUTH).
func (fc *fcall) account(location, field, sub string) (*fapiaoAccount, bool) {
	m := fc.m
	if len(m.subs) > 0 {
		if sub == "" {
			fc.bad(location, field, "required in partner mode (服务商模式下必传)")
			return nil, false
		}
		if !m.subs[sub] {
			fc.noAuth("sub-merchant " + sub + " has not authorised partner " + m.MchID)
			return nil, false
		}
	} else if sub != "" {
		fc.noAuth("merchant " + m.MchID + " is not a partner of sub-merchant " + sub)
		return nil, false
	}
	return fc.st.acct(m.MchID, sub), true
}

// partner answers 403 NO_AUTH for a direct merchant on a partner-only
// endpoint.
func (fc *fcall) partner() bool {
	if len(fc.m.subs) == 0 {
		fc.noAuth("merchant " + fc.m.MchID + " is not a partner (服务商)")
		return false
	}
	return true
}

// FapiaoError returns a Fault that answers an APIv3 error: HTTP status with
// the JSON body {"code":code,"message":message}, signed by the fake like
// WeChat Pay's own answers, e.g. FapiaoError(500, "SYSTEM_ERROR", "系统异常，请稍后重试")
// or FapiaoError(429, "FREQUENCY_LIMITED", "频率超限"). Inject it on an
// e-invoice path (e.g. "/v3/new-tax-control-fapiao/fapiao-applications")
// with Server.FailNext or Server.Inject; the request has no effect.
func FapiaoError(status int, code, message string) Fault {
	b, _ := json.Marshal(fapiaoError{Code: code, Message: message})
	return Fault{HTTPStatus: status, Body: b, ContentType: "application/json; charset=utf-8"}
}
