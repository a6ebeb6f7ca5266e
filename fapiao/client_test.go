package fapiao

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

// TestDerivedVectorsOnTheWire pins nonce and clock and checks that Query and
// Reverse send exactly the Authorization of D1 and D2 (and D2's body).
func TestDerivedVectorsOnTheWire(t *testing.T) {
	_, d := loadVectors(t)
	s := newAPIServer(t, func(r *wireRequest) reply {
		if r.Method == "GET" {
			return reply{body: `{"total_count":0,"fapiao_information":[]}`}
		}
		return reply{status: 202}
	})
	s.prefix = ""
	s.now = fixedClock(dTS)
	loadTestKeys(t)
	c, err := New(dMchID, WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub),
		WithBaseURL(s.URL), WithClock(fixedClock(dTS)))
	if err != nil {
		t.Fatal(err)
	}
	c.nonce = func() (string, error) { return dNonce, nil }
	if _, err := c.Query(context.Background(), &QueryRequest{FapiaoApplyID: "4200000444201910177461284488", SubMchID: "1900000109", FapiaoID: "20200701123456"}); err != nil {
		t.Fatal(err)
	}
	if got := s.last().Header.Get("Authorization"); got != d["D1"].Authorization {
		t.Errorf("D1 Authorization = %s", got)
	}
	_, err = c.Reverse(context.Background(), &ReverseRequest{FapiaoApplyID: "4200000444201910177461284488", ReverseReason: "ISSUE_ERROR",
		FapiaoInformation: []ReverseFapiao{{FapiaoID: "20200701123456", FapiaoNumber: "12897794"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.last(); r.Header.Get("Authorization") != d["D2"].Authorization || string(r.Body) != d["D2"].Body {
		t.Errorf("D2 Authorization = %s\nbody %s", r.Header.Get("Authorization"), r.Body)
	}
}

func TestAnswersMustVerify(t *testing.T) {
	ctx := context.Background()
	good := `{"callback_url":"https://example.com/cb"}`
	for name, rep := range map[string]reply{
		"unsigned":       {body: good, unsigned: true},
		"tampered":       {body: `{"callback_url":"https://example.com/1"}`, tamper: true},
		"unknown serial": {body: good, serial: "PUB_KEY_ID_SOMEONE_ELSE"},
		"stale":          {body: good, skew: -6 * time.Minute},
		"future":         {body: good, skew: 6 * time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			s := newAPIServer(t, func(*wireRequest) reply { return rep })
			c := newTestClient(t, s)
			out, err := c.GetDevelopmentConfig(ctx, nil)
			if !errors.Is(err, ErrUnverified) || out != nil {
				t.Fatalf("out %+v, err %v; want ErrUnverified and nothing decoded", out, err)
			}
			if errors.Is(err, wxinvoice.ErrOutcomeUnknown) {
				t.Error("a read reported an unknown outcome")
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d requests: a verification failure must not be retried", n)
			}
			// The same answer to a write: the outcome is unknown.
			s.handler = func(*wireRequest) reply { r := rep; r.status = 202; r.body = ""; return r }
			if rep.tamper {
				s.handler = func(*wireRequest) reply { return reply{status: 202, body: "1", tamper: true} }
			}
			_, err = c.Reverse(ctx, &ReverseRequest{FapiaoApplyID: "a1", ReverseReason: "退款"})
			if !errors.Is(err, ErrUnverified) || !errors.Is(err, wxinvoice.ErrOutcomeUnknown) {
				t.Errorf("write: %v; want ErrUnverified and ErrOutcomeUnknown", err)
			}
		})
	}
}

func TestPlatformCertificateModeAndMigration(t *testing.T) {
	ctx := context.Background()
	loadTestKeys(t)
	s := newAPIServer(t, func(*wireRequest) reply { return reply{body: `{"callback_url":"x"}`, serial: testSerial} })
	c := newTestClient(t, s, WithPlatformCertificates(testCert))
	// Public key configured too: requests name it; answers signed with the
	// certificate still verify (WeChat's migration).
	if _, err := c.GetDevelopmentConfig(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.last().Header.Get("Wechatpay-Serial"); got != testPubKeyID {
		t.Errorf("Wechatpay-Serial = %s", got)
	}
	certOnly, err := New("1900000001", WithMerchantKey(testSerial, testPriv), WithPlatformCertificates(testCert), WithBaseURL(s.URL+s.prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certOnly.GetDevelopmentConfig(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.last().Header.Get("Wechatpay-Serial"); got != testSerial {
		t.Errorf("Wechatpay-Serial = %s, want the certificate serial", got)
	}
	// A certificate-only client does not accept the public key's serial.
	s.handler = func(*wireRequest) reply { return reply{body: `{"callback_url":"x"}`} }
	if _, err := certOnly.GetDevelopmentConfig(ctx, nil); !errors.Is(err, ErrUnverified) {
		t.Errorf("err = %v, want ErrUnverified", err)
	}
}

func TestRetriesReadsNeverWrites(t *testing.T) {
	ctx := context.Background()
	var n atomic.Int32
	s := newAPIServer(t, func(*wireRequest) reply {
		n.Add(1)
		return reply{status: 500, body: `{"code":"SYSTEM_ERROR","message":"系统异常，请稍后重试"}`}
	})
	c := newTestClient(t, s)
	_, err := c.GetBaseInformation(ctx, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 || !errors.Is(err, ErrSystem) || ae.Unsigned || n.Load() != 3 {
		t.Fatalf("read: %v after %d attempts; want SYSTEM_ERROR after 3", err, n.Load())
	}
	if errors.Is(err, wxinvoice.ErrOutcomeUnknown) {
		t.Error("read marked outcome unknown")
	}
	n.Store(0)
	_, err = c.Issue(ctx, validIssue())
	if !errors.Is(err, ErrSystem) || !errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 1 {
		t.Fatalf("write: %v after %d attempts; want SYSTEM_ERROR + ErrOutcomeUnknown after 1", err, n.Load())
	}
	if !strings.Contains(err.Error(), "POST /v3/new-tax-control-fapiao/fapiao-applications") {
		t.Errorf("error lacks the op: %v", err)
	}
	// 429 refused the request unprocessed: a read is retried, a write is
	// returned at once (its outcome is known: not done).
	n.Store(0)
	s.handler = func(*wireRequest) reply {
		n.Add(1)
		return reply{status: 429, body: `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`}
	}
	if _, err := c.GetBaseInformation(ctx, nil); !errors.Is(err, ErrFrequencyLimited) || n.Load() != 3 {
		t.Errorf("429 on a read: %v after %d attempts, want 3", err, n.Load())
	}
	n.Store(0)
	if _, err := c.Issue(ctx, validIssue()); !errors.Is(err, ErrFrequencyLimited) || errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 1 {
		t.Errorf("429 on a write: %v after %d attempts, want 1", err, n.Load())
	}
	// Other 4xx are not retried.
	n.Store(0)
	s.handler = func(*wireRequest) reply {
		n.Add(1)
		return reply{status: 400, body: `{"code":"PARAM_ERROR","message":"参数错误"}`}
	}
	if _, err := c.GetBaseInformation(ctx, nil); err == nil || n.Load() != 1 {
		t.Errorf("400: %v after %d attempts", err, n.Load())
	}
}

func TestAPIErrors(t *testing.T) {
	ctx := context.Background()
	s := newAPIServer(t, func(*wireRequest) reply {
		return reply{status: 403, body: `{"code":"NO_AUTH","message":"商户未授权","detail":{"field":"sub_mchid"}}`}
	})
	c := newTestClient(t, s)
	_, err := c.CheckSubMerchant(ctx, &CheckSubMerchantRequest{SubMchID: "1900000109"})
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(err, ErrNoAuth) || errors.Is(err, ErrSign) || ae.Unsigned || string(ae.Detail) != `{"field":"sub_mchid"}` ||
		ae.RequestID != "test-request-id" || ae.Op != "POST /v3/new-tax-control-fapiao/merchant/{sub_mchid}/check" {
		t.Fatalf("err = %#v", err)
	}
	// WeChat's unsigned 401 (a request signature it refused).
	s.handler = func(*wireRequest) reply {
		return reply{status: 401, body: string(readTestdata(t, "error_sign_error_response.json")), unsigned: true}
	}
	_, err = c.CheckSubMerchant(ctx, &CheckSubMerchantRequest{SubMchID: "1900000109"})
	if !errors.As(err, &ae) || !errors.Is(err, ErrSign) || !ae.Unsigned || !strings.Contains(err.Error(), "unsigned") {
		t.Fatalf("err = %v", err)
	}
	// A signed error answer that was tampered with is not an APIError.
	s.handler = func(*wireRequest) reply {
		return reply{status: 400, body: `{"code":"PARAM_ERROR","message":"1"}`, tamper: true}
	}
	_, err = c.CheckSubMerchant(ctx, &CheckSubMerchantRequest{SubMchID: "1900000109"})
	if errors.As(err, &ae) || !errors.Is(err, ErrUnverified) {
		t.Fatalf("err = %v", err)
	}
	// A merchant key the server does not know: the server's own 401.
	other := newTestClient(t, s)
	other.signer.serial = "0000"
	s.handler = nil
	if _, err := other.GetBaseInformation(ctx, nil); !errors.Is(err, ErrSign) {
		t.Errorf("err = %v", err)
	}
}

func validIssue() *IssueRequest {
	return &IssueRequest{
		Scene: SceneWithWechatPay, FapiaoApplyID: "4200000444201910177461284488",
		BuyerInformation: BuyerInformation{Type: BuyerIndividual, Name: "张三", Phone: "18507550000", Email: "zhangsan@example.com"},
		FapiaoInformation: []IssueFapiaoDetail{{FapiaoID: "20200701123456", TotalAmount: 429900,
			Items: []IssueItem{{TaxCode: "3010101020203000000", GoodsName: "出租汽车客运服务", Quantity: 100000000, TotalAmount: 429900}}}},
	}
}

// hangupServer reads each request and closes the connection without an
// answer, counting requests.
func hangupServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestTransportFailures(t *testing.T) {
	ctx := context.Background()
	loadTestKeys(t)
	s, n := hangupServer(t)
	c, err := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub), WithBaseURL(s.URL),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Issue(ctx, validIssue()); !errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 1 {
		t.Errorf("write: %v after %d requests; want ErrOutcomeUnknown after 1", err, n.Load())
	}
	n.Store(0)
	if _, err := c.GetBaseInformation(ctx, nil); err == nil || errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 3 {
		t.Errorf("read: %v after %d requests; want 3 attempts", err, n.Load())
	}
	// A dial that fails: the write never left, so it is retried and not
	// reported as unknown.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dead, _ := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub), WithBaseURL("http://"+addr),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if _, err := dead.Issue(ctx, validIssue()); err == nil || errors.Is(err, wxinvoice.ErrOutcomeUnknown) {
		t.Errorf("dial failure: %v", err)
	}
	// A cancelled context stops the backoff.
	cctx, cancel := context.WithCancel(ctx)
	slow, _ := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub), WithBaseURL(s.URL),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 5, MinBackoff: time.Hour, MaxBackoff: time.Hour}))
	done := make(chan error, 1)
	go func() { _, err := slow.GetBaseInformation(cctx, nil); done <- err }()
	for n.Load() < 4 { // 3 before plus this call's first attempt
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("backoff ignored the context")
	}
}

func TestRedirectsNotFollowedAndCallerClientUntouched(t *testing.T) {
	target := newAPIServer(t, nil)
	var hits atomic.Int32
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(redir.Close)
	hc := &http.Client{Timeout: time.Minute}
	loadTestKeys(t)
	c, err := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub),
		WithBaseURL(redir.URL+"/prefix"), WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBaseInformation(context.Background(), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusFound || len(target.requests()) != 0 {
		t.Errorf("err = %v; target saw %d requests", err, len(target.requests()))
	}
	if hc.CheckRedirect != nil || hc.Timeout != time.Minute {
		t.Error("the caller's http.Client was modified")
	}
}

func TestNewValidation(t *testing.T) {
	loadTestKeys(t)
	for name, tc := range map[string]struct {
		mch   string
		opts  []Option
		field string
	}{
		"no mchid":          {"", []Option{WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub)}, "mchID"},
		"no merchant key":   {"1", []Option{WithWechatPayPublicKey(testPubKeyID, testPub)}, "MerchantKey"},
		"no serial":         {"1", []Option{WithMerchantKey("", testPriv), WithWechatPayPublicKey(testPubKeyID, testPub)}, "MerchantCertSerialNo"},
		"no wechatpay key":  {"1", []Option{WithMerchantKey(testSerial, testPriv)}, "WechatPayPublicKey"},
		"key without id":    {"1", []Option{WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey("", testPub)}, "WechatPayPublicKeyID"},
		"nil certificate":   {"1", []Option{WithMerchantKey(testSerial, testPriv), WithPlatformCertificates(nil)}, "PlatformCertificates[0]"},
		"relative base URL": {"1", []Option{WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub), WithBaseURL("/v3")}, "BaseURL"},
	} {
		_, err := New(tc.mch, tc.opts...)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: err = %v, want field %s", name, err, tc.field)
		}
	}
}

// TestValidationSendsNothing gives each method a certainly-invalid request:
// the error names the field and nothing reaches the server.
func TestValidationSendsNothing(t *testing.T) {
	ctx := context.Background()
	s := newAPIServer(t, nil)
	c := newTestClient(t, s)
	long := strings.Repeat("x", 215)
	badIssue := validIssue()
	badIssue.FapiaoInformation = append(badIssue.FapiaoInformation, badIssue.FapiaoInformation[0], badIssue.FapiaoInformation[0],
		badIssue.FapiaoInformation[0], badIssue.FapiaoInformation[0], badIssue.FapiaoInformation[0])
	longPhone := validIssue()
	longPhone.BuyerInformation.Phone = Sensitive(long)
	badItem := validIssue()
	badItem.FapiaoInformation[0].Items[0].TaxCode = ""
	for _, tc := range []struct {
		field string
		call  func() error
	}{
		{"CardTemplateInformation.LogoURL", func() error {
			_, err := c.CreateCardTemplate(ctx, &CreateCardTemplateRequest{CardAppID: "wx1"})
			return err
		}},
		{"CallbackURL", func() error {
			_, err := c.UpdateDevelopmentConfig(ctx, &UpdateDevelopmentConfigRequest{CallbackURL: "https://a.example/cb?x=1"})
			return err
		}},
		{"UpdateDevelopmentConfigRequest", func() error { _, err := c.UpdateDevelopmentConfig(ctx, &UpdateDevelopmentConfigRequest{}); return err }},
		{"Limit", func() error { _, err := c.ListTaxCodes(ctx, &ListTaxCodesRequest{}); return err }},
		{"Source", func() error {
			_, err := c.GetTitleURL(ctx, &GetTitleURLRequest{FapiaoApplyID: "a", Source: "APP", AppID: "wx", OpenID: "o"})
			return err
		}},
		{"FapiaoApplyID", func() error {
			_, err := c.GetUserTitle(ctx, &GetUserTitleRequest{Scene: SceneWithWechatPay, FapiaoApplyID: "a/../b"})
			return err
		}},
		{"FapiaoInformation", func() error { _, err := c.Issue(ctx, badIssue); return err }},
		{"BuyerInformation.Phone", func() error { _, err := c.Issue(ctx, longPhone); return err }},
		{"FapiaoInformation[0].Items[0].TaxCode", func() error { _, err := c.Issue(ctx, badItem); return err }},
		{"IssueRequest", func() error { _, err := c.Issue(ctx, nil); return err }},
		{"FapiaoApplyID", func() error {
			_, err := c.Query(ctx, &QueryRequest{FapiaoApplyID: strings.Repeat("1", 33)})
			return err
		}},
		{"ReverseReason", func() error { _, err := c.Reverse(ctx, &ReverseRequest{FapiaoApplyID: "a"}); return err }},
		{"FapiaoCardInformation", func() error {
			_, err := c.InsertCards(ctx, &InsertCardsRequest{FapiaoApplyID: "a", Scene: SceneWithWechatPay, BuyerInformation: BuyerInformation{Type: BuyerIndividual, Name: "n"}})
			return err
		}},
		{"SubMchID", func() error { _, err := c.CheckSubMerchant(ctx, &CheckSubMerchantRequest{}); return err }},
		{"FapiaoInformation.Items[0].PassengerInformation", func() error {
			r := &DigitalIssueRequest{SubMchID: "1", FapiaoApplyID: "a", BuyerInformation: BuyerInformation{Type: BuyerIndividual, Name: "n"},
				FapiaoInformation: DigitalFapiaoInfo{FapiaoID: "f", BillingPersonID: "b", FapiaoBillType: "COMM_FAPIAO",
					TransactionInformation: []Transaction{{PayChannel: "WECHAT_PAY", TransactionID: "t"}}, Items: []DigitalItem{{TaxCode: "1", GoodsName: "g"}}}}
			_, err := c.IssuePassengerTransport(ctx, r)
			return err
		}},
		{"FapiaoAbilityTypeList", func() error {
			_, err := c.GetPartnerInviteURL(ctx, &GetPartnerInviteURLRequest{OperationType: "AUTH_BINDING", FapiaoMode: "TENCENT_DIGITAL_TAX", InviteCode: "c"})
			return err
		}},
		{"MchInviteStatus", func() error {
			_, err := c.ListInvitedMerchants(ctx, &ListInvitedMerchantsRequest{QueryTimeStart: "a", QueryTimeEnd: "b", Limit: 1})
			return err
		}},
		{"FileType", func() error {
			_, err := c.UploadFile(ctx, &UploadFileRequest{File: strings.NewReader("%PDF-1")})
			return err
		}},
		{"DownloadURL", func() error {
			_, err := c.Download(ctx, &DownloadRequest{DownloadURL: "/relative", OpenID: "o", InvoiceNo: "1", FapiaoID: "f"}, &bytes.Buffer{})
			return err
		}},
	} {
		err := tc.call()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("err = %v, want a ValidationError for %s", err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), long) {
			t.Error("error quotes the sensitive value")
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestSecretsStayOut(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newAPIServer(t, func(*wireRequest) reply { return reply{status: 500, body: `{"code":"SYSTEM_ERROR","message":"x"}`} })
	c := newTestClient(t, s, WithLogger(logger))
	req := validIssue()
	_, err := c.Issue(context.Background(), req)
	if err == nil {
		t.Fatal("no error")
	}
	keyBits := testPriv.D.String()[:40]
	for _, out := range []string{
		err.Error(), logs.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(),
		fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c), // by value too
		fmt.Sprintf("%v", req), fmt.Sprintf("%+v", *req), fmt.Sprintf("%#v", req.BuyerInformation),
	} {
		for _, secret := range []string{"18507550000", "zhangsan@example.com", keyBits, "PRIVATE KEY"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q leaks %q", out, secret)
			}
		}
	}
	if !strings.Contains(logs.String(), "fapiao call") {
		t.Error("no debug log line")
	}
	if string(req.BuyerInformation.Phone) != "18507550000" {
		t.Error("the caller's request was modified")
	}
	cfg := NotifyConfig{APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"}
	h := newTestNotify(t, &recorder{}, nil) // its APIv3 key is testAPIv3Key
	keyBytes := fmt.Sprintf("%#v", []byte(testAPIv3Key))[len("[]byte{"):][:40]
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg),
		fmt.Sprint(h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h), fmt.Sprintf("%+v", *h), fmt.Sprintf("%#v", *h)} {
		if strings.Contains(out, cfg.APIv3Key) || strings.Contains(out, keyBytes) {
			t.Errorf("%q leaks the APIv3 key", out)
		}
	}
}

func TestOversizedAnswerRefused(t *testing.T) {
	big := `{"callback_url":"` + strings.Repeat("a", maxAnswerSize) + `"}`
	s := newAPIServer(t, func(*wireRequest) reply { return reply{body: big} })
	c := newTestClient(t, s, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	if _, err := c.GetDevelopmentConfig(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	s := newAPIServer(t, nil)
	c := newTestClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Issue(ctx, validIssue())
	if !errors.Is(err, context.Canceled) || errors.Is(err, wxinvoice.ErrOutcomeUnknown) || len(s.requests()) != 0 {
		t.Errorf("err = %v, %d requests", err, len(s.requests()))
	}
}

func TestPartnerQueryParameters(t *testing.T) {
	s := newAPIServer(t, func(*wireRequest) reply { return reply{body: `{"callback_url":"x"}`} })
	c := newTestClient(t, s)
	if _, err := c.GetDevelopmentConfig(context.Background(), &GetDevelopmentConfigRequest{SubMchCode: "1900000109"}); err != nil {
		t.Fatal(err)
	}
	if q := s.last().RawQuery; q != "sub_mch_code=1900000109" {
		t.Errorf("query %q", q)
	}
}

// TestEscapedPathIsSignedAsSent: an application id with | and * travels
// escaped in the path, and the signature covers the escaped form.
func TestEscapedPathIsSignedAsSent(t *testing.T) {
	s := newAPIServer(t, func(*wireRequest) reply { return reply{body: `{"total_count":0,"fapiao_information":[]}`} })
	c := newTestClient(t, s)
	if _, err := c.Query(context.Background(), &QueryRequest{FapiaoApplyID: "a|b*c-1_2"}); err != nil {
		t.Fatal(err)
	}
	r := s.last()
	if r.Path != "/v3/new-tax-control-fapiao/fapiao-applications/a%7Cb%2Ac-1_2" && r.Path != "/v3/new-tax-control-fapiao/fapiao-applications/a%7Cb*c-1_2" {
		t.Errorf("path %s", r.Path)
	}
	if r.AuthErr != nil {
		t.Errorf("signature over the escaped path: %v", r.AuthErr)
	}
}

// rtFunc is a RoundTripper other than net/http's.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A write cancelled while its connection is being made never left the
// process: through net/http's Transport the body's readers show it, so the
// error is the cancellation and not an unknown outcome. Through any other
// RoundTripper only a failed dial proves it, so the same failure is
// reported as unknown: the cautious answer. A server that hangs up after
// reading the whole request leaves the write unknown either way.
func TestWriteCancelledWhileConnecting(t *testing.T) {
	loadTestKeys(t)
	hangup, n := hangupServer(t)
	for name, wrap := range map[string]func(http.RoundTripper) http.RoundTripper{
		"net/http":      func(rt http.RoundTripper) http.RoundTripper { return rt },
		"other wrapper": func(rt http.RoundTripper) http.RoundTripper { return rtFunc(rt.RoundTrip) },
	} {
		t.Run(name, func(t *testing.T) {
			dialing := make(chan struct{}, 1)
			release := make(chan struct{})
			defer close(release)
			tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				dialing <- struct{}{}
				select {
				case <-ctx.Done():
				case <-release:
				}
				return nil, errors.New("dial abandoned")
			}}
			c, err := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub),
				WithBaseURL("http://127.0.0.1:1"), WithHTTPClient(&http.Client{Transport: wrap(tr)}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { _, err := c.Issue(ctx, validIssue()); done <- err }()
			<-dialing
			cancel()
			err = <-done
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if unknown := errors.Is(err, wxinvoice.ErrOutcomeUnknown); unknown != (name != "net/http") {
				t.Errorf("unknown outcome = %v for %s: %v", unknown, name, err)
			}

			n.Store(0)
			c, err = New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub),
				WithBaseURL(hangup.URL), WithHTTPClient(&http.Client{Transport: wrap(http.DefaultTransport.(*http.Transport).Clone())}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Issue(context.Background(), validIssue()); !errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 1 {
				t.Errorf("hang-up: %v after %d requests; want ErrOutcomeUnknown after 1", err, n.Load())
			}
		})
	}
}
