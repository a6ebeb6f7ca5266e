package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

const (
	testCorpID     = "wwcli0000000001"
	testCorpSecret = "cli-corp-secret-never-printed"
	testCorpToken  = "CORP-TOKEN-never-printed-either"
)

// weComSamples are wechatpy's samples of the WeCom calls (tests/fixtures/work).
var weComSamples = map[string]string{
	"/cgi-bin/card/invoice/reimburse/getinvoiceinfo":      "wechatpy_work_card_invoice_reimburse_getinvoiceinfo.json",
	"/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch": "wechatpy_work_card_invoice_reimburse_getinvoiceinfobatch.json",
	"/cgi-bin/card/invoice/reimburse/updateinvoicestatus": "wechatpy_work_card_invoice_reimburse_updateinvoicestatus.json",
	"/cgi-bin/card/invoice/reimburse/updatestatusbatch":   "wechatpy_work_card_invoice_reimburse_updatestatusbatch.json",
}

// weComSampleServer answers gettoken (for testCorpID/testCorpSecret only)
// and the WeCom calls with the samples, recording each call's body.
type weComSampleServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]string
}

func newWeComSampleServer(t *testing.T) *weComSampleServer {
	t.Helper()
	s := &weComSampleServer{bodies: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if r.URL.Path == "/cgi-bin/gettoken" {
			if q.Get("corpid") != testCorpID || q.Get("corpsecret") != testCorpSecret {
				_, _ = io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential, hint: [x]"}`)
				return
			}
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","access_token":"`+testCorpToken+`","expires_in":7200}`)
			return
		}
		if q.Get("access_token") != testCorpToken || r.Method != http.MethodPost {
			_, _ = io.WriteString(w, `{"errcode":40014,"errmsg":"invalid access_token"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies[r.URL.Path] = string(body)
		s.mu.Unlock()
		switch f, ok := weComSamples[r.URL.Path]; {
		case ok:
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", f))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, _ = w.Write(b)
		case r.URL.Path == "/cgi-bin/user/convert_to_openid":
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","openid":"oDjGHs-1yCnGrRovBj2yHij5JAAA"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *weComSampleServer) body(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[path]
}

func (s *weComSampleServer) env() map[string]string {
	return map[string]string{envCorpID: testCorpID, envCorpSecret: testCorpSecret, envWeComBase: s.URL}
}

func requireNoWeComSecrets(t *testing.T, rs ...result) {
	t.Helper()
	for _, r := range rs {
		for _, s := range []string{testCorpSecret, testCorpToken} {
			require.NotContains(t, r.stdout, s)
			require.NotContains(t, r.stderr, s)
		}
	}
}

func TestWeComCommandsWire(t *testing.T) {
	t.Parallel()
	s := newWeComSampleServer(t)
	env := s.env()

	r := cli(t, env, "", "wecom", "getinvoiceinfo", "--card-id", "CARDID", "--encrypt-code", "ENCRYPTCODE")
	requireOK(t, r)
	require.JSONEq(t, `{"card_id":"CARDID","encrypt_code":"ENCRYPTCODE"}`, s.body("/cgi-bin/card/invoice/reimburse/getinvoiceinfo"))
	golden(t, "wecom_getinvoiceinfo", scrub(r.stdout))
	rs := []result{r}

	r = cli(t, env, `{"invoices":[{"card_id":"CARDID1","encrypt_code":"ENCRYPTCODE1"},{"CardID":"CARDID2","EncryptCode":"ENCRYPTCODE2"}]}`,
		"wecom", "getinvoiceinfobatch", "-f", "-", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, `{"item_list":[{"card_id":"CARDID1","encrypt_code":"ENCRYPTCODE1"},{"card_id":"CARDID2","encrypt_code":"ENCRYPTCODE2"}]}`,
		s.body("/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch"))
	var gb wxinvoice.GetInvoiceBatchResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &gb))
	require.Len(t, gb.Invoices, 1)
	require.Equal(t, "12345678", gb.Invoices[0].Invoice.OrderID)
	rs = append(rs, r)

	r = cli(t, env, "", "wecom", "updateinvoicestatus", "--card-id", "CARDID", "--encrypt-code", "ENCRYPTCODE", "--set", "init")
	requireOK(t, r)
	require.JSONEq(t, `{"card_id":"CARDID","encrypt_code":"ENCRYPTCODE","reimburse_status":"INVOICE_REIMBURSE_INIT"}`,
		s.body("/cgi-bin/card/invoice/reimburse/updateinvoicestatus"))
	rs = append(rs, r)

	r = cli(t, env, `{"invoices":[{"card_id":"cardid_1","encrypt_code":"encrypt_code_1"},{"card_id":"cardid_2","encrypt_code":"encrypt_code_2"}]}`,
		"wecom", "updatestatusbatch", "-f", "-", "--openid", "OPENID", "--set", "INVOICE_REIMBURSE_INIT")
	requireOK(t, r)
	require.JSONEq(t, `{"openid":"OPENID","reimburse_status":"INVOICE_REIMBURSE_INIT","invoice_list":[{"card_id":"cardid_1","encrypt_code":"encrypt_code_1"},{"card_id":"cardid_2","encrypt_code":"encrypt_code_2"}]}`,
		s.body("/cgi-bin/card/invoice/reimburse/updatestatusbatch"))
	rs = append(rs, r)

	r = cli(t, env, "", "wecom", "converttoopenid", "zhangsan", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, `{"userid":"zhangsan"}`, s.body("/cgi-bin/user/convert_to_openid"))
	require.JSONEq(t, `{"UserID":"zhangsan","OpenID":"oDjGHs-1yCnGrRovBj2yHij5JAAA"}`, r.stdout)
	rs = append(rs, r)

	// CANCEL does not exist there: refused before sending, exit 2.
	r = cli(t, env, "", "wecom", "updateinvoicestatus", "--card-id", "C", "--encrypt-code", "E", "--set", "cancel")
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, "invalid Status")
	rs = append(rs, r)

	// A wrong secret: exit 3, neither the secret nor the wrong one printed.
	bad := s.env()
	bad[envCorpSecret] = "wrong-" + testCorpSecret
	r = cli(t, bad, "", "wecom", "converttoopenid", "zhangsan")
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "errcode 40001")
	require.Contains(t, r.stderr, "hint:   check WECOM_CORPSECRET", "the WeCom hint, not the Official Account's")
	require.NotContains(t, r.stderr, envAppSecret)
	require.NotContains(t, r.stderr, bad[envCorpSecret])
	rs = append(rs, r)
	requireNoWeComSecrets(t, rs...)
}

func TestWeComCommandsUsage(t *testing.T) {
	t.Parallel()
	r := cli(t, map[string]string{envCorpSecret: "x"}, "", "wecom", "converttoopenid", "u")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no corp ID: set "+envCorpID)
	r = cli(t, map[string]string{envCorpID: "ww1"}, "", "wecom", "converttoopenid", "u")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no corp secret: set "+envCorpSecret)
	r = cli(t, nil, "", "wecom", "converttoopenid", "--sandbox")
	require.Equal(t, exitUsage, r.code, "an empty userid is refused before sending")
	require.Contains(t, r.stderr, "userID")

	// --sandbox: an embedded fake corp with no members answers 60111.
	r = cli(t, nil, "", "--sandbox", "wecom", "converttoopenid", "nobody")
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "errcode 60111: UserID不存在")

	// Every request-taking wecom command prints a skeleton it accepts back.
	s := newWeComSampleServer(t)
	for _, sub := range []string{"getinvoiceinfo", "getinvoiceinfobatch", "updateinvoicestatus", "updatestatusbatch", "converttoopenid"} {
		r := cli(t, s.env(), "", "wecom", sub, "--example")
		requireOK(t, r)
		require.True(t, json.Valid([]byte(r.stdout)), sub)
		r = cli(t, s.env(), r.stdout, "wecom", sub, "-f", "-")
		require.Contains(t, []int{exitOK, exitUsage}, r.code, "%s: %s", sub, r.stderr)
		require.NotContains(t, r.stderr, "unknown field", sub)
	}
}

// TestWeComCommandsAgainstFake: the platform inserts an invoice; the CLI,
// as the corp, converts the employee's userid, locks the invoice and closes
// it in a batch over the fake's shared status machine.
func TestWeComCommandsAgainstFake(t *testing.T) {
	t.Parallel()
	srv := newFake(t, wxinvoicetest.WithWeComCorp(testCorpID, testCorpSecret))
	ctx := context.Background()
	platform, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	require.NoError(t, err)
	card, err := platform.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	require.NoError(t, err)
	up, err := platform.UploadPDF(ctx, "a.pdf", strings.NewReader(string(pdf("wecom"))))
	require.NoError(t, err)
	srv.AuthorizeOrder("wecom-order", "o-wangwu")
	inv, err := platform.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "wecom-order", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: srv.Now(), BillingNo: "0001", PDFMediaID: up.SMediaID}})
	require.NoError(t, err)
	srv.AddWeComUser("wangwu", inv.OpenID)
	enc := srv.EncryptCode(card.CardID, inv.Code)
	env := map[string]string{envCorpID: srv.CorpID, envCorpSecret: srv.CorpSecret, envWeComBase: srv.URL}

	r1 := cli(t, env, "", "wecom", "converttoopenid", "wangwu", "-o", "json")
	requireOK(t, r1)
	var conv openIDResult
	require.NoError(t, json.Unmarshal([]byte(r1.stdout), &conv))
	require.Equal(t, inv.OpenID, conv.OpenID)

	r2 := cli(t, env, "", "wecom", "updateinvoicestatus", "--card-id", card.CardID, "--encrypt-code", enc, "--set", "lock")
	requireOK(t, r2)
	owner, ok := srv.LockedBy(card.CardID, inv.Code)
	require.True(t, ok)
	require.Equal(t, srv.CorpID, owner)

	batch := `{"invoices":[{"card_id":"` + card.CardID + `","encrypt_code":"` + enc + `"}]}`
	r3 := cli(t, env, batch, "wecom", "updatestatusbatch", "-f", "-", "--openid", conv.OpenID, "--set", "closure")
	requireOK(t, r3)
	got, _ := srv.Invoice(card.CardID, inv.Code)
	require.Equal(t, wxinvoice.ReimburseClosure, got.Status)

	r4 := cli(t, env, "", "wecom", "getinvoiceinfo", "--card-id", card.CardID, "--encrypt-code", enc, "-v")
	requireOK(t, r4)
	require.Contains(t, r4.stdout, "INVOICE_REIMBURSE_CLOSURE")
	require.Contains(t, r4.stderr, "/cgi-bin/card/invoice/reimburse/getinvoiceinfo", "-v logs the call")

	secrets := []string{srv.CorpSecret}
	for _, req := range srv.Requests() {
		if tok := req.Query.Get("access_token"); tok != "" {
			secrets = append(secrets, tok)
		}
	}
	for _, r := range []result{r1, r2, r3, r4} {
		for _, s := range secrets {
			require.NotContains(t, r.stdout, s)
			require.NotContains(t, r.stderr, s)
		}
	}
}

// TestWeComAgainstStandaloneSandbox: the sandbox's banner exports the
// corp's credentials, and the wecom commands work against it.
func TestWeComAgainstStandaloneSandbox(t *testing.T) {
	t.Parallel()
	env, _, _, stop := sandbox(t)
	require.NotEmpty(t, env[envCorpID])
	require.NotEmpty(t, env[envCorpSecret])
	require.Equal(t, env[envBaseURL], env[envWeComBase])
	r := cli(t, env, "", "wecom", "converttoopenid", "nobody")
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "errcode 60111")
	require.Contains(t, r.stderr, "hint:   the userid is not a member of the corp")
	r = cli(t, env, "", "wecom", "getinvoiceinfo", "--card-id", "pX", "--encrypt-code", "unknown")
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "errcode 40056")
	require.NotContains(t, r.stderr+r.stdout, env[envCorpSecret])
	require.Equal(t, exitOK, stop())
}
