package wxinvoice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testCorpID     = "wwtestcorp0001"
	testCorpSecret = "corp-S3CR3T-value_never-leaks"
)

// weComServer is a per-test WeCom stand-in under a path prefix: gettoken
// checks corpid/corpsecret, counts fetches and hands out tokenValues(n).
type weComServer struct {
	*httptest.Server
	mux         *http.ServeMux
	tokenCalls  atomic.Int64
	tokenValues func(n int64) string
	release     chan struct{} // when non-nil, gettoken waits for it
}

func newWeComServer(t *testing.T) *weComServer {
	t.Helper()
	ws := &weComServer{mux: http.NewServeMux(), tokenValues: func(int64) string { return testToken }}
	outer := http.NewServeMux()
	outer.Handle(prefix+"/", http.StripPrefix(prefix, ws.mux))
	ws.Server = httptest.NewServer(outer)
	t.Cleanup(ws.Close)
	ws.mux.HandleFunc("/cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || q.Get("corpid") != testCorpID || q.Get("corpsecret") != testCorpSecret {
			_, _ = w.Write([]byte(`{"errcode":40001,"errmsg":"invalid credential, hint: [x], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e=40001"}`))
			return
		}
		if ws.release != nil {
			<-ws.release
		}
		n := ws.tokenCalls.Add(1)
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": ws.tokenValues(n), "expires_in": 7200})
	})
	return ws
}

func (ws *weComServer) client(t *testing.T, opts ...Option) *WeComClient {
	t.Helper()
	base := []Option{WithBaseURL(ws.URL + prefix), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}
	c, err := NewWeCom(testCorpID, testCorpSecret, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// serveFixture answers path with the fixture after asserting the request
// is a POST with the token and the body wantBody (JSON-equal; "" skips).
func (ws *weComServer) serveFixture(t *testing.T, path, wantBody, answer string) {
	ws.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		body := testRequest(t, r, "POST")
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		if wantBody != "" {
			require.JSONEq(t, wantBody, string(body))
		}
		_, _ = w.Write([]byte(answer))
	})
}

func TestNewWeComValidates(t *testing.T) {
	t.Parallel()
	var ve *ValidationError
	_, err := NewWeCom("", "s")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "corpID", ve.Field)
	_, err = NewWeCom("ww1", "")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "corpSecret", ve.Field)
	_, err = NewWeCom("ww1", "", WithTokenSource(StaticTokenSource("t")))
	require.NoError(t, err, "a token source replaces the secret")
	_, err = NewWeCom("ww1", "s", WithBaseURL("qyapi.weixin.qq.com"))
	require.ErrorAs(t, err, &ve)
	c, err := NewWeCom("ww1", "s")
	require.NoError(t, err)
	require.Equal(t, DefaultWeComBaseURL, c.c.baseURL, "qyapi by default")
	require.Equal(t, "ww1", c.CorpID())
}

// The wechatpy samples of WeCom's four calls (tests/fixtures/work), with the
// request bodies of WeCom's pages (SKIT's copies).
func TestWeComGetInvoiceInfoWire(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.serveFixture(t, "/cgi-bin/card/invoice/reimburse/getinvoiceinfo",
		fixture(t, "Work.UnitTests_____CgibinCardInvoice__CgibinCardInvoiceReimburseGetInvoiceInfoRequest.json"),
		fixture(t, "wechatpy_work_card_invoice_reimburse_getinvoiceinfo.json"))
	inv, err := ws.client(t).GetInvoiceInfo(bg, &InvoiceRef{CardID: "CARDID", EncryptCode: "ENCRYPTCODE"})
	require.NoError(t, err)
	require.Equal(t, &ReimburseInvoice{
		CardID: "CARDID", OpenID: "oxfdsfsafaf", Type: "增值税电子普通发票", Payee: "深圳市XX有限公司", Detail: "可在公司企业微信内报销使用",
		BeginTime: time.Unix(1469084420, 0), EndTime: time.Unix(2100236420, 0),
		Invoice: ReimburseInvoiceData{
			Fee: 4000, Title: "XX有限公司", BillingTime: time.Unix(1478620800, 0), BillingNo: "00000001", BillingCode: "000000000001",
			Items: []InvoiceItem{{Name: "NAME", Num: 10, Unit: "吨", Price: 4}}, FeeWithoutTax: 2345, Tax: 123, Detail: "项目",
			PDFURL: "pdf_url", Status: ReimburseInit, CheckCode: "check_code",
		},
	}, inv)
	require.Equal(t, int64(1), ws.tokenCalls.Load())
}

func TestWeComGetInvoiceInfoBatchWire(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.serveFixture(t, "/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch",
		fixture(t, "Work.UnitTests_____CgibinCardInvoice__CgibinCardInvoiceReimburseGetInvoiceInfoBatchRequest.json"),
		fixture(t, "wechatpy_work_card_invoice_reimburse_getinvoiceinfobatch.json"))
	resp, err := ws.client(t).GetInvoiceInfoBatch(bg, &GetInvoiceBatchRequest{Invoices: []InvoiceRef{
		{CardID: "CARDID1", EncryptCode: "ENCRYPTCODE1"}, {CardID: "CARDID2", EncryptCode: "ENCRYPTCODE2"}}})
	require.NoError(t, err)
	require.Equal(t, []ReimburseInvoice{{
		CardID: "CARDID", OpenID: "ofdsfasfsafsafasf", Type: "增值税电子普通发票", Payee: "深圳市XX有限公司", Detail: "可在公司企业微信内报销使用",
		Invoice: ReimburseInvoiceData{
			Fee: 4000, Title: "XX有限公司", BillingTime: time.Unix(1478620800, 0), BillingNo: "00000001", BillingCode: "000000000001",
			Items: []InvoiceItem{{Name: "NAME", Num: 10, Unit: "吨", Price: 4}}, FeeWithoutTax: 2345, Tax: 123, Detail: "项目",
			PDFURL: "pdf_url", Status: ReimburseInit, OrderID: "12345678", CheckCode: "CHECKCODE", BuyerNumber: "BUYERNUMER",
		},
	}}, resp.Invoices)
}

func TestWeComUpdateInvoiceStatusWire(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.serveFixture(t, "/cgi-bin/card/invoice/reimburse/updateinvoicestatus",
		fixture(t, "Work.UnitTests_____CgibinCardInvoice__CgibinCardInvoiceReimburseUpdateInvoiceStatusRequest.json"),
		fixture(t, "wechatpy_work_card_invoice_reimburse_updateinvoicestatus.json"))
	c := ws.client(t)
	require.NoError(t, c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "CARDID", EncryptCode: "ENCRYPTCODE", Status: ReimburseInit}))

	// Only INIT, LOCK and CLOSURE exist there: CANCEL is refused before sending.
	var ve *ValidationError
	err := c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "CARDID", EncryptCode: "ENCRYPTCODE", Status: ReimburseCancel})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Status", ve.Field)
	err = c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "CARDID", Status: ReimburseLock})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "EncryptCode", ve.Field)
}

func TestWeComUpdateStatusBatchWire(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.serveFixture(t, "/cgi-bin/card/invoice/reimburse/updatestatusbatch",
		fixture(t, "Work.UnitTests_____CgibinCardInvoice__CgibinCardInvoiceReimburseUpdateStatusBatchRequest.json"),
		fixture(t, "wechatpy_work_card_invoice_reimburse_updatestatusbatch.json"))
	c := ws.client(t)
	require.NoError(t, c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "OPENID", Status: ReimburseInit, Invoices: []InvoiceRef{
		{CardID: "cardid_1", EncryptCode: "encrypt_code_1"}, {CardID: "cardid_2", EncryptCode: "encrypt_code_2"}}}))
	var ve *ValidationError
	err := c.UpdateStatusBatch(bg, &UpdateStatusBatchRequest{OpenID: "OPENID", Status: ReimburseLock, Invoices: []InvoiceRef{{CardID: "c"}}})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Invoices[0].EncryptCode", ve.Field)
}

func TestWeComConvertToOpenIDWire(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.serveFixture(t, "/cgi-bin/user/convert_to_openid", `{"userid":"zhangsan"}`,
		`{"errcode":0,"errmsg":"ok","openid":"oDjGHs-1yCnGrRovBj2yHij5JAAA"}`)
	c := ws.client(t)
	openid, err := c.ConvertToOpenID(bg, "zhangsan")
	require.NoError(t, err)
	require.Equal(t, "oDjGHs-1yCnGrRovBj2yHij5JAAA", openid)

	var ve *ValidationError
	_, err = c.ConvertToOpenID(bg, "")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "userID", ve.Field)
}

func TestWeComErrcodesAreSentinels(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.mux.HandleFunc("/cgi-bin/user/convert_to_openid", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":60111,"errmsg":"userid not found, hint: [1], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e=60111"}`))
	})
	ws.mux.HandleFunc("/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":48002,"errmsg":"api forbidden, hint: [2]"}`))
	})
	c := ws.client(t)
	_, err := c.ConvertToOpenID(bg, "nobody")
	require.ErrorIs(t, err, ErrUserIDNotFound)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "/cgi-bin/user/convert_to_openid", apiErr.Op)
	require.Contains(t, err.Error(), "UserID不存在", "the description is in the message")
	_, err = c.GetInvoiceInfoBatch(bg, &GetInvoiceBatchRequest{Invoices: []InvoiceRef{{CardID: "c", EncryptCode: "e"}}})
	require.ErrorIs(t, err, ErrAPIForbidden)
	for _, s := range []*APIError{ErrInvalidCorpID, ErrInvalidUserID, ErrMemberNotFound, ErrAPIForbidden, ErrNoPrivilege, ErrUntrustedIP, ErrUserIDNotFound} {
		require.NotEmpty(t, ErrorDescription(s.Code), s.Code)
	}
}

// Token discipline, as for the app token: one fetch for many concurrent
// callers; a rejected token is dropped once and the call replayed.
func TestWeComTokenStampedeFetchesOnce(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.release = make(chan struct{})
	ws.mux.HandleFunc("/cgi-bin/user/convert_to_openid", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","openid":"o1"}`))
	})
	c := ws.client(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			_, err := c.ConvertToOpenID(bg, "u")
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	time.Sleep(20 * time.Millisecond) // let them queue on the one fetch (not a speed assertion)
	close(ws.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), ws.tokenCalls.Load())
}

func TestWeComTokenRejectionRefetchesOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []int{40014, 42001} {
		ws := newWeComServer(t)
		ws.tokenValues = func(n int64) string { return fmt.Sprintf("corp-tok-%d", n) }
		var served atomic.Int64
		ws.mux.HandleFunc("/cgi-bin/card/invoice/reimburse/updateinvoicestatus", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("access_token") == "corp-tok-1" {
				_, _ = fmt.Fprintf(w, `{"errcode":%d,"errmsg":"invalid access_token, hint: [x]"}`, code)
				return
			}
			served.Add(1)
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
		})
		c := ws.client(t)
		_, err := c.AccessToken(bg)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, c.UpdateInvoiceStatus(bg, &UpdateInvoiceStatusRequest{CardID: "c", EncryptCode: "e", Status: ReimburseLock}))
			}()
		}
		wg.Wait()
		require.Equal(t, int64(2), ws.tokenCalls.Load(), "errcode %d: 50 rejections of one token, one refetch", code)
		require.Equal(t, int64(50), served.Load())
		tok, _ := c.AccessToken(bg)
		require.Equal(t, "corp-tok-2", tok)
	}
}

func TestWeComTokenSecondRejectionIsReturned(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.mux.HandleFunc("/cgi-bin/card/invoice/reimburse/getinvoiceinfo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"errcode":40014,"errmsg":"invalid access_token"}`))
	})
	_, err := ws.client(t).GetInvoiceInfo(bg, &InvoiceRef{CardID: "c", EncryptCode: "e"})
	require.ErrorIs(t, err, ErrInvalidAccessToken)
	require.Equal(t, int64(2), ws.tokenCalls.Load(), "one replay, then WeCom's verdict")
}

func TestWeComTokenStoreShared(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	ws.tokenValues = func(n int64) string { return fmt.Sprintf("corp-tok-%d", n) }
	var rejected sync.Map
	var served atomic.Int64
	ws.mux.HandleFunc("/cgi-bin/card/invoice/reimburse/getinvoiceinfo", func(w http.ResponseWriter, r *http.Request) {
		if _, bad := rejected.Load(r.URL.Query().Get("access_token")); bad {
			_, _ = w.Write([]byte(`{"errcode":42001,"errmsg":"access_token expired"}`))
			return
		}
		served.Add(1)
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","card_id":"c"}`))
	})
	store := &keyRecordingStore{TokenStore: NewMemoryTokenStore()}
	clients := make([]*WeComClient, 4)
	for i := range clients {
		clients[i] = ws.client(t, WithTokenStore(store))
	}
	run := func() {
		var wg sync.WaitGroup
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := clients[i%4].GetInvoiceInfo(bg, &InvoiceRef{CardID: "c", EncryptCode: "e"})
				require.NoError(t, err)
			}(i)
		}
		wg.Wait()
	}
	run()
	require.Equal(t, int64(1), ws.tokenCalls.Load(), "four caches, one shared corp token")
	rejected.Store("corp-tok-1", true)
	run()
	require.Equal(t, int64(2), ws.tokenCalls.Load(), "one refetch for all after the rejection")

	keys := store.keys()
	require.NotEmpty(t, keys)
	for _, k := range keys {
		require.True(t, strings.HasPrefix(k, "wecom_token:"+testCorpID+":"), k)
		require.NotContains(t, k, testCorpSecret)
	}
	// Another application's secret of the same corp gets another key: its
	// token is another (每个应用有独立的secret).
	require.NotEqual(t, weComTokenKey(testCorpID, testCorpSecret), weComTokenKey(testCorpID, "other-secret"))
	require.NotEqual(t, weComTokenKey(testCorpID, testCorpSecret), "access_token:"+testCorpID)
}

// keyRecordingStore records the keys the SDK uses.
type keyRecordingStore struct {
	TokenStore
	mu   sync.Mutex
	seen []string
}

func (s *keyRecordingStore) record(k string) {
	s.mu.Lock()
	s.seen = append(s.seen, k)
	s.mu.Unlock()
}

func (s *keyRecordingStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *keyRecordingStore) GetToken(ctx context.Context, key string) (Token, bool, error) {
	s.record(key)
	return s.TokenStore.GetToken(ctx, key)
}

func (s *keyRecordingStore) SetToken(ctx context.Context, key string, tok Token) error {
	s.record(key)
	return s.TokenStore.SetToken(ctx, key, tok)
}

func (s *keyRecordingStore) LockToken(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	s.record(key)
	return s.TokenStore.LockToken(ctx, key, ttl)
}

// The corpsecret travels in gettoken's URL: no error or log line may carry
// it, nor the token, whatever fails.
func TestWeComSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// A transport failure of gettoken: *url.Error carries the whole URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	c, err := NewWeCom(testCorpID, testCorpSecret, WithBaseURL(deadURL), WithLogger(logger),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	_, err = c.GetInvoiceInfo(bg, &InvoiceRef{CardID: "c", EncryptCode: "e"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), testCorpSecret)
	require.Contains(t, err.Error(), "/cgi-bin/gettoken")

	// A rejected secret, an HTTP error page echoing the URL, a token in errmsg.
	ws := newWeComServer(t)
	bad, err := NewWeCom(testCorpID, "wrong-"+testCorpSecret, WithBaseURL(ws.URL+prefix), WithLogger(logger))
	require.NoError(t, err)
	_, err = bad.ConvertToOpenID(bg, "u")
	require.ErrorIs(t, err, ErrInvalidCredential)
	require.NotContains(t, err.Error(), testCorpSecret)

	ws.mux.HandleFunc("/cgi-bin/user/convert_to_openid", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("bad gateway for " + r.URL.String()))
	})
	good := ws.client(t, WithLogger(logger), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	_, err = good.ConvertToOpenID(bg, "u")
	require.Error(t, err)
	require.NotContains(t, err.Error(), testToken)
	require.Contains(t, err.Error(), "HTTP 502")

	require.NotContains(t, logs.String(), testCorpSecret)
	require.NotContains(t, logs.String(), testToken)
	require.NotContains(t, fmt.Sprintf("%+v %#v", good, good), testCorpSecret, "a formatted client shows no secret")
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestWeComTokenFetchErrorsAreTyped(t *testing.T) {
	t.Parallel()
	ws := newWeComServer(t)
	c, err := NewWeCom("wwunknown", testCorpSecret, WithBaseURL(ws.URL+prefix))
	require.NoError(t, err)
	_, err = c.AccessToken(bg)
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "/cgi-bin/gettoken", apiErr.Op)
}

func TestWeComTokenLifetime(t *testing.T) {
	t.Parallel()
	require.Equal(t, 7200*time.Second, tokenLifetime(0))
	require.Equal(t, 7200*time.Second, tokenLifetime(-5))
	require.Equal(t, 7200*time.Second, tokenLifetime(18446744074), "would overflow a Duration")
	require.Equal(t, 600*time.Second, tokenLifetime(600))

	// An absurd expires_in still caches the token: one fetch for two calls.
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/gettoken" {
			fetches.Add(1)
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","access_token":"t","expires_in":18446744074}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","openid":"o"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := NewWeCom(testCorpID, testCorpSecret, WithBaseURL(srv.URL))
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, err := c.ConvertToOpenID(bg, "u")
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), fetches.Load())
}
