package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
)

// sampleServer answers each path with the official response sample of
// ../../testdata/fixtures (or {"errcode":0} for calls that return nothing)
// and records the bodies it receives. The fake server does not simulate the
// merchant, reimburser and title calls.
type sampleServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]string // path + "?" + raw query without the token → last body
}

var samples = map[string]string{
	"/card/invoice/getauthurl":                       "CardInvoice__CardInvoiceGetAuthUrlResponse.json",
	"/card/invoice/getauthdata":                      "CardInvoice__CardInvoiceGetAuthDataResponse.json",
	"/card/invoice/queryinvoceinfo":                  "CardInvoice__CardInvoiceQueryInvoiceInfoResponse.json",
	"/card/invoice/scantitle":                        "CardInvoice__Quick__CardInvoiceBusinessScanTitleResponse.json",
	"/card/invoice/biz/getusertitleurl":              "CardInvoice__Quick__CardInvoiceBusinessGetUserTitleUrlResponse.json",
	"/card/invoice/biz/getselecttitleurl":            "CardInvoice__Quick__CardInvoiceBusinessGetSelectTitleUrlResponse.json",
	"/card/invoice/reimburse/getinvoiceinfo":         "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceInfoResponse.json",
	"/card/invoice/reimburse/getinvoicebatch":        "CardInvoice__Reimburse__CardInvoiceReimburseGetInvoiceBatchResponse.json",
	"/card/invoice/setbizattr?action=get_auth_field": "CardInvoice__SetBusinessAttribute__CardInvoiceGetAuthFieldResponse.json",
	"/card/invoice/setbizattr?action=get_contact":    "CardInvoice__SetBusinessAttribute__CardInvoiceGetContactResponse.json",
	"/card/invoice/setbizattr?action=get_pay_mch":    "CardInvoice__SetBusinessAttribute__CardInvoiceGetPayMerchantResponse.json",
	"/cgi-bin/ticket/getticket":                      `{"errcode":0,"errmsg":"ok","ticket":"bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NYzWKVZvdVtaUgWvsdshFKA","expires_in":7200}`,
}

func newSampleServer(t *testing.T) *sampleServer {
	t.Helper()
	s := &sampleServer{bodies: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.URL.Path
		if a := r.URL.Query().Get("action"); a != "" {
			key += "?action=" + a
		}
		s.mu.Lock()
		s.bodies[key] = string(body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f, ok := samples[key]; ok && strings.HasPrefix(f, "{") {
			_, _ = io.WriteString(w, f)
			return
		} else if ok {
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", f))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, _ = w.Write(b)
			return
		}
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sampleServer) body(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[key]
}

func (s *sampleServer) env() map[string]string {
	return map[string]string{envAppID: "wx1234567890abcdef", envAccessToken: "ACCESS_TOKEN_FROM_A_TOKEN_SERVICE", envBaseURL: s.URL}
}

func TestAreaCommands(t *testing.T) {
	t.Parallel()
	s := newSampleServer(t)
	env := s.env()

	r := cli(t, env, "", "getinvoiceinfo", "--card-id", "pjZ8Yt5crPbAouhFqFf6JFgZv4Lc", "--encrypt-code", "O/mPnGTpBu22a1szmK2OgzUHHOwRx+bXG7T0WTOlDbQ=")
	requireOK(t, r)
	require.JSONEq(t, `{"card_id":"pjZ8Yt5crPbAouhFqFf6JFgZv4Lc","encrypt_code":"O/mPnGTpBu22a1szmK2OgzUHHOwRx+bXG7T0WTOlDbQ="}`,
		s.body("/card/invoice/reimburse/getinvoiceinfo"))
	golden(t, "getinvoiceinfo", scrub(r.stdout))

	r = cli(t, env, "", "updateinvoicestatus", "--card-id", "pX", "--encrypt-code", "E", "--set", "lock", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, `{"card_id":"pX","encrypt_code":"E","reimburse_status":"INVOICE_REIMBURSE_LOCK"}`,
		s.body("/card/invoice/reimburse/updateinvoicestatus"))
	var us wxinvoice.UpdateInvoiceStatusRequest
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &us))
	require.Equal(t, wxinvoice.ReimburseLock, us.Status)

	batch := `{"openid": "oUSER", "invoices": [{"card_id": "p1", "encrypt_code": "e1"}, {"CardID": "p2", "EncryptCode": "e2"}]}`
	r = cli(t, env, batch, "updatestatusbatch", "-f", "-", "--set", "closure")
	requireOK(t, r)
	require.Contains(t, s.body("/card/invoice/reimburse/updatestatusbatch"), `"INVOICE_REIMBURSE_CLOSURE"`)
	require.Regexp(t, `Invoices\[1\]\.CardID +p2\n`, r.stdout)

	r = cli(t, env, `{"Invoices": [{"CardID": "p1", "EncryptCode": "e1"}]}`, "getinvoicebatch", "-f", "-", "-o", "json")
	requireOK(t, r)
	var gb wxinvoice.GetInvoiceBatchResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &gb))
	require.NotEmpty(t, gb.Invoices)

	r = cli(t, env, "", "getauthdata", "--s-pappid", "wxabcd", "--order-id", "1234", "-o", "json")
	requireOK(t, r)
	var ad wxinvoice.GetAuthDataResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ad))
	require.Equal(t, wxinvoice.AuthStatusSuccess, ad.InvoiceStatus)

	r = cli(t, env, "", "getauthurl", "--s-pappid", "wxabcd", "--order-id", "1234", "--money", "11", "--source", "web")
	requireOK(t, r)
	require.Contains(t, r.stdout, "AuthURL")
	require.Contains(t, s.body("/card/invoice/getauthurl"), `"money":11`)

	r = cli(t, env, "", "scantitle", "扫码结果", "-o", "json")
	requireOK(t, r)
	var ut wxinvoice.UserTitle
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ut))
	require.Equal(t, "单位抬头测试", ut.Title)

	r = cli(t, env, "", "getusertitleurl", "--title", "某公司", "--tax-no", "1234567890")
	requireOK(t, r)
	require.Contains(t, r.stdout, "URL  https://mp.weixin.qq.com/intp/invoice/usertitle?action=list_auth")

	// --time-out is the contact's time_out; --timeout stays the global per-call timeout.
	r = cli(t, env, "", "setcontact", "--phone", "18912341234", "--time-out", "7200", "--timeout", "30s")
	requireOK(t, r)
	require.Contains(t, s.body("/card/invoice/setbizattr?action=set_contact"), "18912341234")
	require.Contains(t, s.body("/card/invoice/setbizattr?action=set_contact"), `"time_out":7200`)
	r = cli(t, env, "", "getcontact", "-o", "json")
	requireOK(t, r)
	var ct wxinvoice.Contact
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ct))
	require.NotEmpty(t, ct.Phone)

	r = cli(t, env, "", "queryinvoiceinfo", "--fpqqlsh", "14574d75004451097845", "--nsrsbh", "110109500321654")
	requireOK(t, r)
	require.Contains(t, r.stdout, "088978450417")

	for _, out := range []string{r.stdout, r.stderr} {
		require.NotContains(t, out, env[envAccessToken])
	}
}

// TestAreaExamples: every command that takes a request prints a skeleton
// that is accepted back as input.
func TestAreaExamples(t *testing.T) {
	t.Parallel()
	s := newSampleServer(t)
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard, nil)
	n := 0
	for _, c := range root.Commands() {
		if c.Flags().Lookup("example") == nil {
			continue
		}
		n++
		r := cli(t, s.env(), "", c.Name(), "--example")
		requireOK(t, r)
		require.True(t, json.Valid([]byte(r.stdout)), c.Name())
		r = cli(t, s.env(), r.stdout, c.Name(), "-f", "-")
		require.Contains(t, []int{exitOK, exitUsage}, r.code, "%s: %s", c.Name(), r.stderr)
		require.NotContains(t, r.stderr, "unknown field", c.Name())
	}
	require.Greater(t, n, 20)
}

// TestEveryFlagIsAField sets every request flag of every command: each must
// name a field of the command's request (a typo would be "unknown field").
func TestEveryFlagIsAField(t *testing.T) {
	t.Parallel()
	s := newSampleServer(t)
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard, nil)
	notFields := map[string]bool{"file": true, "example": true, "download": true, "help": true}
	checked := 0
	for _, c := range root.Commands() {
		if c.Flags().Lookup("example") == nil {
			continue
		}
		args := []string{c.Name()}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if notFields[f.Name] {
				return
			}
			v := "1"
			if f.Name == "set" {
				v = "lock"
			}
			args = append(args, "--"+f.Name, v)
			checked++
		})
		r := cli(t, s.env(), "", args...)
		require.NotContains(t, r.stderr, "unknown field", "%v", args)
		require.NotContains(t, r.stderr, "input:", "%v", args)
	}
	require.Greater(t, checked, 30)
}
