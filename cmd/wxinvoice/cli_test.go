package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestLifecycleGolden runs every platform command once, in table view,
// against one fake, and compares the output with testdata/*.golden.
func TestLifecycleGolden(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir := t.TempDir()
	srv.AuthorizeOrder("1502865665", "oUSER_openid_0000000000000001")
	srv.AuthorizeOrder("bill-0001", "oUSER_openid_0000000000000002")
	repl := []string{srv.URL, "<URL>", srv.SPAppID(), "<S_PAPPID>", dir + string(filepath.Separator), "<DIR>/"}

	r := cli(t, env, "", "seturl")
	requireOK(t, r)
	golden(t, "seturl", scrub(r.stdout, repl...))

	r = cli(t, env, "", "createcard", "--payee", "测试餐饮有限公司", "--type", "广东省增值税普通发票",
		"--logo-url", "http://mmbiz.qpic.cn/logo.png", "--title", "测试餐饮")
	requireOK(t, r)
	cardID := strings.Fields(r.stdout)[1]
	card, ok := srv.Card(cardID)
	require.True(t, ok)
	require.Equal(t, "测试餐饮有限公司", card.Payee)
	repl = append(repl, cardID, "<CARD_ID>")
	golden(t, "createcard", scrub(r.stdout, repl...))

	invoicePDF := writeFile(t, filepath.Join(dir, "invoice.pdf"), pdf("invoice"))
	billPDF := writeFile(t, filepath.Join(dir, "bill.pdf"), pdf("bill"))
	results := filepath.Join(dir, "results.csv")
	r = cli(t, env, "", "upload", "--results", results, invoicePDF, billPDF)
	requireOK(t, r)
	media := readResults(t, results)
	require.Len(t, media, 2)
	repl = append(repl, media[invoicePDF], "<MEDIA_ID>", media[billPDF], "<BILL_MEDIA_ID>")
	golden(t, "upload", scrub(r.stdout, repl...))
	golden(t, "upload_stderr", scrub(sortLines(r.stderr), repl...))

	r = cli(t, env, "", "getpdf", media[invoicePDF])
	requireOK(t, r)
	golden(t, "getpdf", scrub(r.stdout, repl...))

	r = cli(t, env, "", "insert", "-f", "testdata/invoice.json", "--card-id", cardID, "--pdf-media-id", media[invoicePDF])
	requireOK(t, r)
	code := strings.Fields(r.stdout)[1]
	inv, ok := srv.Invoice(cardID, code)
	require.True(t, ok)
	require.Equal(t, wxinvoice.ReimburseInit, inv.Status)
	repl = append(repl, code, "<CODE>")
	golden(t, "insert", scrub(r.stdout, repl...))

	r = cli(t, env, "", "decrypt", srv.EncryptCode(cardID, code))
	requireOK(t, r)
	golden(t, "decrypt", scrub(r.stdout, repl...))

	r = cli(t, env, "", "status", "--card-id", cardID, "--code", code, "--set", "cancel")
	requireOK(t, r)
	golden(t, "status", scrub(r.stdout, repl...))
	inv, _ = srv.Invoice(cardID, code)
	require.Equal(t, wxinvoice.ReimburseCancel, inv.Status)

	r = cli(t, env, "", "status", "--card-id", cardID, "--code", code, "--set", "lock")
	require.Equal(t, exitAPI, r.code)
	golden(t, "status_error", scrub(r.stderr, repl...))

	bill := `{"OrderID": "bill-0001", "AppID": "wx0000000000000001", "Bill": {"Fee": 500, "Title": "某某市财政局",
		"BillingTime": 1714528800, "BillingNo": "44010124", "BillingCode": "0000012345"}}`
	r = cli(t, env, bill, "insertbill", "-f", "-", "--card-id", cardID, "--pdf-media-id", media[billPDF])
	requireOK(t, r)
	billCode := strings.Fields(r.stdout)[1]
	repl = append(repl, billCode, "<BILL_CODE>")
	golden(t, "insertbill", scrub(r.stdout, repl...))

	r = cli(t, env, "", "token")
	requireOK(t, r)
	show := cli(t, env, "", "token", "--show", "-o", "json")
	requireOK(t, show)
	var shown tokenResult
	require.NoError(t, json.Unmarshal([]byte(show.stdout), &shown))
	require.Contains(t, r.stdout, mask(shown.Token))
	require.NotContains(t, r.stdout, shown.Token)
	golden(t, "token", scrub(r.stdout, append(repl, mask(shown.Token), "<MASKED>")...))

	requireNoSecrets(t, srv, r)
}

// readResults reads an upload results CSV into file → s_media_id. It fails
// on a file listed twice.
func readResults(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1 // a two-column file of an earlier version gets three-column lines appended
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"file", "s_media_id"}, recs[0][:2])
	out := map[string]string{}
	for _, rec := range recs[1:] {
		f, id := rec[0], rec[1]
		if len(rec) == 3 {
			require.Equal(t, resolvedPath(f), rec[2], "the path column holds the resolved file")
		}
		_, dup := out[f]
		require.False(t, dup, "%s listed twice in %s", f, path)
		out[f] = id
	}
	return out
}

// sortLines sorts the lines of concurrent output.
func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines { // drop the [k/n] counters: their order is not fixed
		if j := strings.Index(lines[i], "] "); strings.HasPrefix(lines[i], "[") && j > 0 {
			lines[i] = lines[i][j+2:]
		}
	}
	sortStrings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestHelpGolden(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "--help")
	requireOK(t, r)
	golden(t, "help", r.stdout)
	for _, cmd := range []string{"seturl", "createcard", "upload", "getpdf", "insert", "status", "decrypt", "insertbill", "token", "sandbox"} {
		r := cli(t, nil, "", cmd, "--help")
		requireOK(t, r)
		require.Contains(t, r.stdout, "Usage:", cmd)
	}
	r = cli(t, nil, "", "status", "--help")
	golden(t, "help_status", r.stdout)
}

// TestJSONRoundTrip feeds JSON in (snake_case and Go names, loose numbers and
// times) and reads JSON out, checking both against the fake's state.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)

	r := cli(t, env, "", "seturl", "-o", "json")
	requireOK(t, r)
	var su wxinvoice.SetURLResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &su))
	require.Equal(t, srv.SPAppID(), su.SPAppID)
	require.Contains(t, r.stdout, "action=list&s_pappid=", "JSON output must not escape &")

	card := `{"payee": "测试", "type": "增值税电子普通发票", "base_info": {"logo_url": "http://x/logo.png", "title": "测试"}}`
	r = cli(t, env, card, "createcard", "-f", "-", "-o", "json")
	requireOK(t, r)
	var cc wxinvoice.CreateCardResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cc))
	c, ok := srv.Card(cc.CardID)
	require.True(t, ok)
	require.Equal(t, "http://x/logo.png", c.LogoURL)

	dir := t.TempDir()
	r = cli(t, env, "", "upload", "-o", "json", writeFile(t, filepath.Join(dir, "a.pdf"), pdf("a")))
	requireOK(t, r)
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Len(t, sum.Uploaded, 1)
	mediaID := sum.Uploaded[0].SMediaID
	got, ok := srv.PDF(mediaID)
	require.True(t, ok)
	require.Equal(t, pdf("a"), got)

	// Unix seconds as a string, money as a string, a bare-number billing_no
	// whose digits must be kept, Go names and snake_case mixed.
	in := `{"order_id": "o-1", "CardID": "` + cc.CardID + `", "appid": "wxmerchant", "Invoice": {
		"fee": "1000", "Title": "抬头", "billing_time": "1714528800", "billing_no": 12345678,
		"billing_code": "044001900111", "s_pdf_media": "x"}}`
	r = cli(t, env, in, "insert", "-f", "-")
	require.Equal(t, exitUsage, r.code, "a misspelt field is refused")
	require.Contains(t, r.stderr, `unknown field "s_pdf_media"`)
	require.Contains(t, r.stderr, "PDFMediaID", "the known fields are listed")
	require.Zero(t, srv.Calls("/card/invoice/insert"))

	// WeChat's own names (s_pdf_media_id, info) are accepted beside the Go names.
	in = strings.Replace(in, `"s_pdf_media": "x"`, `"s_pdf_media_id": "`+mediaID+`", "info": [{"name": "咨询费", "num": 1, "price": 1000}]`, 1)
	r = cli(t, env, in, "insert", "-f", "-", "-o", "json")
	requireOK(t, r)
	var ins wxinvoice.InsertInvoiceResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))
	inv, ok := srv.Invoice(cc.CardID, ins.Code)
	require.True(t, ok)
	require.Equal(t, ins.OpenID, inv.OpenID)
	require.Equal(t, int64(1000), inv.Fee)
	require.Equal(t, "12345678", inv.BillingNo)
	require.Equal(t, time.Unix(1714528800, 0).Unix(), inv.BillingTime.Unix())
	require.Equal(t, "wxmerchant", inv.AppID)
	require.Contains(t, string(inv.Body), `"billing_time":1714528800`)
	require.Contains(t, string(inv.Body), `"name":"咨询费"`)

	r = cli(t, env, "", "status", "--card-id", cc.CardID, "--code", ins.Code, "--set", "INVOICE_REIMBURSE_LOCK", "-o", "json")
	requireOK(t, r)
	var st statusResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Equal(t, statusResult{CardID: cc.CardID, Code: ins.Code, Status: wxinvoice.ReimburseLock}, st)

	r = cli(t, env, "", "getpdf", "--s-media-id", mediaID, "-o", "json")
	requireOK(t, r)
	var gp getPDFResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &gp))
	require.True(t, strings.HasPrefix(gp.PDFURL, srv.URL+"/"), gp.PDFURL)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), gp.ExpireTime, time.Minute)

	requireNoSecrets(t, srv, r)
}

// TestExampleRoundTrip checks that every --example skeleton is accepted back
// as input: the request reaches the SDK (which refuses the empty fields).
func TestExampleRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	for _, cmd := range []string{"createcard", "insert", "insertbill", "status", "getpdf", "decrypt"} {
		r := cli(t, env, "", cmd, "--example")
		requireOK(t, r)
		require.True(t, json.Valid([]byte(r.stdout)), cmd)
		r = cli(t, env, r.stdout, cmd, "-f", "-")
		require.Equal(t, exitUsage, r.code, cmd)
		require.Contains(t, r.stderr, "wxinvoice: invalid ", cmd)
	}
	require.Empty(t, srv.Requests(), "validation errors send nothing")
}

func TestGetPDFDownload(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir := t.TempDir()
	r := cli(t, env, "", "upload", "-o", "json", writeFile(t, filepath.Join(dir, "in.pdf"), pdf("download")))
	requireOK(t, r)
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))

	out := filepath.Join(dir, "out.pdf")
	r = cli(t, env, "", "getpdf", sum.Uploaded[0].SMediaID, "--download", out)
	requireOK(t, r)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, pdf("download"), got)
	require.Contains(t, r.stdout, "SavedTo")

	// Into a directory that does not exist: refused before sending (exit 2), no partial file.
	r = cli(t, env, "", "getpdf", sum.Uploaded[0].SMediaID, "--download", filepath.Join(dir, "nope", "x.pdf"))
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.NoDirExists(t, filepath.Join(dir, "nope"))

	// 3 days later the PDF is gone (it was never inserted).
	srv.Advance(72*time.Hour + time.Second)
	late := filepath.Join(dir, "late.pdf")
	r = cli(t, env, "", "getpdf", sum.Uploaded[0].SMediaID, "--download", late)
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "errcode 72040")
	require.Contains(t, r.stderr, "upload the PDF again")
	_, err = os.Stat(late)
	require.True(t, os.IsNotExist(err))
}

func TestDecryptLink(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	enc := srv.EncryptCode("pCARD", "030102100111")
	for _, arg := range []string{
		enc,
		strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(enc),
		"https://platform.example.com/invoice?card_id=pCARD&encrypt_code=" + strings.NewReplacer("/", "%2F", "=", "%3D").Replace(enc) + "#frag",
	} {
		r := cli(t, env, "", "decrypt", arg, "-o", "json")
		requireOK(t, r)
		var d decryptResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &d))
		require.Equal(t, "030102100111", d.Code, arg)
		if strings.Contains(arg, "card_id=") {
			require.Equal(t, "pCARD", d.CardID)
		}
	}
}

func TestStatusShortForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]wxinvoice.ReimburseStatus{
		"cancel": wxinvoice.ReimburseCancel, "VOID": wxinvoice.ReimburseCancel, "lock": wxinvoice.ReimburseLock,
		"init": wxinvoice.ReimburseInit, "unlock": wxinvoice.ReimburseInit, "Closure": wxinvoice.ReimburseClosure,
		"INVOICE_REIMBURSE_CANCEL": wxinvoice.ReimburseCancel, "invoice_reimburse_lock": wxinvoice.ReimburseLock,
	} {
		got, err := parseStatus(in)
		require.NoError(t, err, in)
		require.Equal(t, string(want), got, in)
	}
	_, err := parseStatus("cancelled")
	require.Error(t, err)
}

// TestErrors checks exit codes and messages: the errcode with its
// description, never the secret or a token.
func TestErrors(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	r := cli(t, env, "", "createcard", "--payee", "p", "--type", "t", "--logo-url", "http://l", "--title", "t", "-o", "json")
	requireOK(t, r)
	var cc wxinvoice.CreateCardResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cc))
	dir := t.TempDir()
	r = cli(t, env, "", "upload", "-o", "json", writeFile(t, filepath.Join(dir, "a.pdf"), pdf("a")))
	requireOK(t, r)
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	in := `{"OrderID": "o1", "AppID": "wxm", "Invoice": {"Fee": 1, "Title": "t", "BillingTime": "2024-05-01", "BillingNo": "1"}}`
	r = cli(t, env, in, "insert", "-f", "-", "--card-id", cc.CardID, "--pdf-media-id", sum.Uploaded[0].SMediaID, "-o", "json")
	requireOK(t, r)
	var ins wxinvoice.InsertInvoiceResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))

	notJSON := writeFile(t, filepath.Join(dir, "bad.json"), []byte("order_id=1"))
	closed := httptest.NewServer(nil)
	closed.Close()

	tests := []struct {
		name    string
		env     map[string]string
		setup   func()
		args    []string
		code    int
		stderr  []string
		path    string // nothing may have been sent here (validation), if set
		noCalls bool
	}{
		{name: "missing card id", args: []string{"status", "--code", ins.Code, "--set", "cancel"}, code: exitUsage,
			stderr: []string{"invalid CardID: must not be empty", "--card-id"}, path: "/card/invoice/platform/updatestatus", noCalls: true},
		{name: "missing s_media_id", args: []string{"getpdf"}, code: exitUsage,
			stderr: []string{"invalid sMediaID: must not be empty (set it with --s-media-id)"}, path: "/card/invoice/platform/getpdf", noCalls: true},
		{name: "bad status", args: []string{"status", "--card-id", cc.CardID, "--code", ins.Code, "--set", "voided"}, code: exitUsage,
			stderr: []string{`unknown status "voided"`}, path: "/card/invoice/platform/updatestatus", noCalls: true},
		{name: "bad output", args: []string{"seturl", "-o", "yaml"}, code: exitUsage,
			stderr: []string{"--output must be table or json", "Run 'wxinvoice seturl --help' for usage."}},
		{name: "unknown flag", args: []string{"seturl", "--nope"}, code: exitUsage, stderr: []string{"unknown flag: --nope"}},
		{name: "unknown command", args: []string{"void"}, code: exitUsage, stderr: []string{`unknown command "void"`}},
		{name: "too many args", args: []string{"getpdf", "a", "b"}, code: exitUsage, stderr: []string{"accepts at most 1 arg"}},
		{name: "not json", args: []string{"insert", "-f", notJSON}, code: exitUsage, stderr: []string{"input is not valid JSON"}},
		{name: "missing file", args: []string{"insert", "-f", "testdata/nope.json"}, code: exitUsage, stderr: []string{"read input"}},
		{name: "no credentials", env: map[string]string{}, args: []string{"seturl"}, code: exitUsage,
			stderr: []string{"no appid: set WECHAT_APPID", "--sandbox"}},
		{name: "no secret", env: map[string]string{envAppID: "wx1"}, args: []string{"seturl"}, code: exitUsage,
			stderr: []string{"no AppSecret: set WECHAT_APPSECRET"}},
		{name: "unknown invoice", args: []string{"status", "--card-id", cc.CardID, "--code", "999", "--set", "cancel"}, code: exitAPI,
			stderr: []string{"errcode 72001: no match card", "api:    /card/invoice/platform/updatestatus", "errmsg: no match card"}},
		{name: "forbidden move", args: []string{"status", "--card-id", cc.CardID, "--code", ins.Code, "--set", "closure"}, code: exitAPI,
			stderr: []string{"errcode 72024: invoice status error", "hint:   allowed moves"}},
		{name: "wrong secret", env: map[string]string{envAppID: srv.AppID, envAppSecret: "wrong-secret-value", envBaseURL: srv.URL},
			args: []string{"token"}, code: exitAPI, stderr: []string{"errcode 40125", "hint:   check WECHAT_APPSECRET"}},
		{name: "errmsg carrying the secret", setup: func() {
			srv.FailNext("/card/invoice/seturl", 1, wxinvoicetest.Fault{ErrCode: 72031, ErrMsg: "invalid params " + srv.AppSecret})
		}, args: []string{"seturl"}, code: exitAPI, stderr: []string{"errcode 72031", "invalid params REDACTED"}},
		{name: "connection refused", env: map[string]string{envAppID: srv.AppID, envAppSecret: srv.AppSecret, envBaseURL: closed.URL},
			args: []string{"seturl"}, code: exitTransport, stderr: []string{"/cgi-bin/stable_token", "connection refused"}},
		{name: "HTTP 502", setup: func() {
			srv.FailNext("/card/invoice/platform/getpdf", 3, wxinvoicetest.Fault{HTTPStatus: 502, Body: []byte("<html>bad gateway</html>")})
		}, args: []string{"getpdf", sum.Uploaded[0].SMediaID}, code: exitTransport, stderr: []string{"HTTP 502"}},
		{name: "outcome unknown", setup: func() {
			srv.FailNext("/card/invoice/platform/updatestatus", 1, wxinvoicetest.Fault{LoseResponse: true})
		}, args: []string{"status", "--card-id", cc.CardID, "--code", ins.Code, "--set", "lock"}, code: exitUnknown,
			stderr: []string{"outcome unknown", "check the invoice's state before retrying"}},
	}
	for _, tc := range tests {
		if tc.setup != nil {
			tc.setup()
		}
		e := env
		if tc.env != nil {
			e = tc.env
		}
		before := 0
		if tc.path != "" {
			before = srv.Calls(tc.path)
		}
		r := cli(t, e, "", tc.args...)
		require.Equal(t, tc.code, r.code, "%s: stderr:\n%s", tc.name, r.stderr)
		for _, s := range tc.stderr {
			require.Contains(t, r.stderr, s, tc.name)
		}
		require.Empty(t, r.stdout, tc.name)
		if tc.noCalls {
			require.Equal(t, before, srv.Calls(tc.path), "%s: nothing may be sent", tc.name)
		}
		require.NotContains(t, r.stderr, "wrong-secret-value", tc.name)
		requireNoSecrets(t, srv, r)
	}

	// -o json: the error as JSON on stderr.
	r = cli(t, env, "", "status", "--card-id", cc.CardID, "--code", "999", "--set", "cancel", "-o", "json")
	require.Equal(t, exitAPI, r.code)
	var ej errorJSON
	require.NoError(t, json.Unmarshal([]byte(r.stderr), &ej), r.stderr)
	require.Equal(t, 72001, ej.Error.ErrCode)
	require.Equal(t, exitAPI, ej.Error.ExitCode)
	require.Equal(t, "no match card", ej.Error.Description)
	require.Equal(t, "/card/invoice/platform/updatestatus", ej.Error.Op)

	r = cli(t, env, "", "status", "--code", "1", "--set", "lock", "-o", "json")
	require.Equal(t, exitUsage, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stderr), &ej), r.stderr)
	require.Equal(t, "CardID", ej.Error.Field)
}

func TestToken(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	show := cli(t, env, "", "token", "--show", "-o", "json")
	requireOK(t, show)
	var full tokenResult
	require.NoError(t, json.Unmarshal([]byte(show.stdout), &full))
	require.False(t, full.Masked)
	require.Greater(t, len(full.Token), 100)
	require.NotNil(t, full.ExpiresAt)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), *full.ExpiresAt, time.Minute)

	r := cli(t, env, "", "token", "-o", "json")
	requireOK(t, r)
	var masked tokenResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &masked))
	require.True(t, masked.Masked)
	require.Equal(t, mask(full.Token), masked.Token, "normal-mode stable_token hands back the same token")
	require.NotContains(t, r.stdout, full.Token)
	require.NotContains(t, r.stdout, srv.AppSecret)
	require.Equal(t, srv.AppID, masked.AppID)
	require.Equal(t, "stable_token", masked.Source)

	// The secret from a file.
	secretFile := writeFile(t, filepath.Join(t.TempDir(), "secret"), []byte(srv.AppSecret+"\n"))
	r = cli(t, map[string]string{envBaseURL: srv.URL}, "", "token", "--appid", srv.AppID, "--appsecret-file", secretFile)
	requireOK(t, r)

	// A token given in the environment: used as is, never printed.
	tok := srv.IssueToken()
	r = cli(t, map[string]string{envAppID: srv.AppID, envAccessToken: tok, envBaseURL: srv.URL}, "", "seturl", "-v")
	requireOK(t, r)
	require.Contains(t, r.stderr, "/card/invoice/seturl", "-v logs the call")
	require.NotContains(t, r.stdout+r.stderr, tok)
	require.Equal(t, tok, srv.Requests()[len(srv.Requests())-1].Query.Get("access_token"))
	r = cli(t, map[string]string{envAppID: srv.AppID, envAccessToken: tok, envBaseURL: srv.URL}, "", "token")
	requireOK(t, r)
	require.Contains(t, r.stdout, envAccessToken)
	require.NotContains(t, r.stdout, tok)

	// --sandbox needs no credentials at all.
	r = cli(t, nil, "", "--sandbox", "token")
	requireOK(t, r)
	require.Contains(t, r.stdout, "sandbox")
}

func TestSandboxFlag(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "--sandbox", "seturl", "-o", "json")
	requireOK(t, r)
	var su wxinvoice.SetURLResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &su))
	require.NotEmpty(t, su.SPAppID)

	// Each command gets a fresh, empty fake.
	r = cli(t, nil, "", "--sandbox", "getpdf", "1234567890123456")
	require.Equal(t, exitAPI, r.code)
	require.Contains(t, r.stderr, "errcode 72040")
}
