package fapiao

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPubKeyID is the WeChat Pay public key ID the test server signs under.
const testPubKeyID = "PUB_KEY_ID_0116571234562024052000123400000000"

// wireRequest is what the test server received.
type wireRequest struct {
	Method   string
	Path     string // escaped path, without the test prefix
	RawQuery string
	Header   http.Header
	Body     []byte // the JSON body, or the meta part of an upload
	File     []byte // the file part of an upload
	FileName string
	FileType string
	Parts    []string // multipart part names in order
	AuthErr  error    // nil when the Authorization header verified
}

// reply is what the test server answers.
type reply struct {
	status int
	body   string
	header map[string]string
	// unsigned leaves out the Wechatpay-* headers; tamper changes the body
	// after signing; serial overrides the signing serial; skew shifts the
	// signing timestamp.
	unsigned bool
	tamper   bool
	serial   string
	skew     time.Duration
}

// apiServer is an in-process WeChat Pay API for tests: it checks the
// merchant's signature on every request, records it, and answers with a
// reply signed by the WeChat Pay test key.
type apiServer struct {
	*httptest.Server
	t      testing.TB
	prefix string
	now    func() time.Time

	mu      sync.Mutex
	reqs    []wireRequest
	handler func(r *wireRequest) reply
}

func newAPIServer(t testing.TB, handler func(r *wireRequest) reply) *apiServer {
	t.Helper()
	loadTestKeys(t)
	s := &apiServer{t: t, prefix: "/prefix", now: time.Now, handler: handler}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) requests() []wireRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wireRequest(nil), s.reqs...)
}

func (s *apiServer) last() wireRequest {
	s.t.Helper()
	r := s.requests()
	if len(r) == 0 {
		s.t.Fatal("no request reached the server")
	}
	return r[len(r)-1]
}

var authRE = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 (.*)$`)

// verifyAuthorization checks a request signature as WeChat Pay does, with
// the items in any order.
func verifyAuthorization(r *http.Request, signedBody []byte, wantMchID string) error {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("no WECHATPAY2-SHA256-RSA2048 Authorization")
	}
	items := map[string]string{}
	for _, kv := range strings.Split(m[1], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return fmt.Errorf("malformed item %q", kv)
		}
		items[k] = v[1 : len(v)-1]
	}
	if items["mchid"] != wantMchID || items["serial_no"] != testSerial || len(items["nonce_str"]) == 0 {
		return fmt.Errorf("items %v", items)
	}
	ts, err := strconv.ParseInt(items["timestamp"], 10, 64)
	if err != nil {
		return err
	}
	msg := signatureMessage(r.Method, r.URL.RequestURI(), ts, items["nonce_str"], signedBody)
	sig, err := base64.StdEncoding.DecodeString(items["signature"])
	if err != nil {
		return err
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(testPub, crypto.SHA256, sum[:], sig)
}

func (s *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.prefix+"/") {
		http.Error(w, "outside the prefix: the client built an absolute path", http.StatusTeapot)
		return
	}
	wr := wireRequest{Method: r.Method, Path: strings.TrimPrefix(r.URL.EscapedPath(), s.prefix), RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
	body, _ := io.ReadAll(r.Body)
	signed := body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			wr.Parts = append(wr.Parts, p.FormName())
			switch p.FormName() {
			case "meta":
				wr.Body = b
				signed = b
			case "file":
				wr.File, wr.FileName, wr.FileType = b, p.FileName(), p.Header.Get("Content-Type")
			}
		}
	} else {
		wr.Body = body
	}
	wr.AuthErr = verifyAuthorization(r, signed, "1900000001")
	s.mu.Lock()
	s.reqs = append(s.reqs, wr)
	h := s.handler
	s.mu.Unlock()
	rep := reply{status: http.StatusOK, body: "{}"}
	if wr.AuthErr != nil {
		rep = reply{status: http.StatusUnauthorized, body: `{"code":"SIGN_ERROR","message":"签名错误"}`, unsigned: true}
	} else if h != nil {
		rep = h(&wr)
	}
	s.write(w, rep)
}

func (s *apiServer) write(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Request-ID", "test-request-id")
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if !rep.unsigned {
		serial := rep.serial
		if serial == "" {
			serial = testPubKeyID
		}
		for k, v := range signAnswer(s.t, serial, s.now().Add(rep.skew).Unix(), "answer-nonce-123", []byte(rep.body)) {
			w.Header().Set(k, v)
		}
	}
	body := rep.body
	if rep.tamper {
		body = strings.Replace(body, "1", "2", 1) + " "
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// newTestClient returns a client for s signing as 1900000001 with the test
// key and verifying with the test public key.
func newTestClient(t testing.TB, s *apiServer, opts ...Option) *Client {
	t.Helper()
	loadTestKeys(t)
	base := []Option{
		WithMerchantKey(testSerial, testPriv),
		WithWechatPayPublicKey(testPubKeyID, testPub),
		WithBaseURL(s.URL + s.prefix),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}),
	}
	c, err := New("1900000001", append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
