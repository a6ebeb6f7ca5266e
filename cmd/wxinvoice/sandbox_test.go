package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
)

// sandbox runs `wxinvoice sandbox` in the background and returns the
// environment it prints, its stderr, and a stop function returning the exit
// code.
func sandbox(t *testing.T, args ...string) (env map[string]string, stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), stdout, stderr,
			func(string) string { return "" })
	}()
	exports := regexp.MustCompile(`export (\w+)=(\S+)`)
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Ctrl-C stops") }, 5*time.Second, 10*time.Millisecond,
		"sandbox did not start: %s", stderr.String())
	env = map[string]string{}
	for _, m := range exports.FindAllStringSubmatch(stdout.String(), -1) {
		env[m[1]] = m[2]
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("sandbox did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return env, stdout, stderr, stop
}

// TestSandboxServe runs the whole lifecycle from the CLI against the
// standalone sandbox, with status pushes to an EventHandler.
func TestSandboxServe(t *testing.T) {
	t.Parallel()
	const (
		pushToken = "pushtoken"
		aesKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		appID     = "wx00000000sandbox"
	)
	events := make(chan *wxinvoice.InvoiceStatusEvent, 4)
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: pushToken, EncodingAESKey: aesKey, AppID: appID,
		OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error { events <- ev; return nil }})
	require.NoError(t, err)
	receiver := httptest.NewServer(h)
	t.Cleanup(receiver.Close)

	env, stdout, logs, stop := sandbox(t, "--appid", appID, "--event-url", receiver.URL, "--event-token", pushToken, "--event-aes-key", aesKey)
	require.Equal(t, appID, env[envAppID])
	require.NotEmpty(t, env[envAppSecret])
	require.True(t, strings.HasPrefix(env[envBaseURL], "http://127.0.0.1:"), env[envBaseURL])
	require.Contains(t, stdout.String(), "safe mode")

	r := cli(t, env, "", "createcard", "--payee", "p", "--type", "t", "--logo-url", "http://l", "--title", "t", "-o", "json")
	requireOK(t, r)
	var cc wxinvoice.CreateCardResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cc))
	r = cli(t, env, "", "upload", "-o", "json", writeFile(t, filepath.Join(t.TempDir(), "a.pdf"), pdf("a")))
	requireOK(t, r)
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	in := `{"OrderID": "o1", "AppID": "wxm", "Invoice": {"Fee": 100, "Title": "t", "BillingTime": "2024-05-01 10:00:00", "BillingNo": "1"}}`
	r = cli(t, env, in, "insert", "-f", "-", "--card-id", cc.CardID, "--pdf-media-id", sum.Uploaded[0].SMediaID, "-o", "json")
	requireOK(t, r)
	var ins wxinvoice.InsertInvoiceResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ins))

	// The sandbox logs the call and the new invoice's encrypt_code.
	m := regexp.MustCompile(`msg="new invoice" card_id=(\S+) code=(\S+) openid=\S+ encrypt_code=(\S+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, m, logs.String())
	require.Equal(t, []string{cc.CardID, ins.Code}, m[1:3])
	require.Contains(t, logs.String(), "path=/card/invoice/insert status=200 errcode=0")
	r = cli(t, env, "", "decrypt", m[3], "-o", "json")
	requireOK(t, r)
	var d decryptResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d))
	require.Equal(t, ins.Code, d.Code)

	r = cli(t, env, "", "status", "--card-id", cc.CardID, "--code", ins.Code, "--set", "cancel")
	requireOK(t, r)
	select {
	case ev := <-events:
		require.Equal(t, wxinvoice.ReimburseCancel, ev.Status)
		require.Equal(t, ins.Code, ev.Code)
	case <-time.After(5 * time.Second):
		t.Fatalf("no push received; sandbox log:\n%s", logs.String())
	}

	require.Equal(t, 0, stop())
	require.Contains(t, logs.String(), "msg=push")
	require.Contains(t, logs.String(), "delivered=true")
	require.Contains(t, logs.String(), `msg="sandbox stopped"`)
	require.NotContains(t, logs.String(), "access_token")
}

func TestSandboxUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sandbox", "--event-url", "http://127.0.0.1:1/x"},
		{"sandbox", "--event-token", "t"},
		{"sandbox", "--event-url", "http://127.0.0.1:1/x", "--event-token", "t", "--event-aes-key", "short"},
	} {
		r := cli(t, nil, "", args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}
	// An address that cannot be listened on.
	r := cli(t, nil, "", "sandbox", "--addr", "256.0.0.1:1")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.stderr, "sandbox:")
}

// TestSandboxRequireAuth: with --require-auth an unauthorized order is
// refused with 72038 and its description.
func TestSandboxRequireAuth(t *testing.T) {
	t.Parallel()
	env, stdout, _, _ := sandbox(t, "--require-auth")
	require.Contains(t, stdout.String(), "72038")
	r := cli(t, env, "", "createcard", "--payee", "p", "--type", "t", "--logo-url", "http://l", "--title", "t", "-o", "json")
	requireOK(t, r)
	var cc wxinvoice.CreateCardResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cc))
	r = cli(t, env, "", "upload", "-o", "json", writeFile(t, filepath.Join(t.TempDir(), "a.pdf"), pdf("a")))
	requireOK(t, r)
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	in := `{"OrderID": "o1", "AppID": "wxm", "Invoice": {"Fee": 100, "Title": "t", "BillingTime": "2024-05-01", "BillingNo": "1"}}`
	r = cli(t, env, in, "insert", "-f", "-", "--card-id", cc.CardID, "--pdf-media-id", sum.Uploaded[0].SMediaID)
	require.Equal(t, exitAPI, r.code)
	require.Contains(t, r.stderr, "errcode 72038: invoice order never auth")
}

// TestSandboxControlAPI completes a --require-auth lifecycle with the
// standalone sandbox: the banner names the console and the OpenAPI document,
// getauthurl hands out the sandbox's own page, authorizing there (a form POST
// as a browser sends it) lets the insert through, and the console shows it.
func TestSandboxControlAPI(t *testing.T) {
	t.Parallel()
	env, stdout, _, _ := sandbox(t, "--require-auth")
	base := env[envBaseURL]
	require.Contains(t, stdout.String(), "console   "+base+"/\n")
	require.Contains(t, stdout.String(), "OpenAPI: "+base+"/sandbox/openapi.json")
	require.NotContains(t, stdout.String(), "warning")

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get(base + "/sandbox/healthz")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"status": "ok"`)
	code, body = get(base + "/sandbox/openapi.json")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"/sandbox/user/authorize"`)

	requireOK(t, cli(t, env, "", "setcontact", "--phone", "18912341234", "--time-out", "7200"))
	r := cli(t, env, "", "getauthurl", "--s-pappid", "sp", "--order-id", "order-cli", "--money", "11800", "--source", "web", "-o", "json")
	requireOK(t, r)
	var au wxinvoice.GetAuthURLResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &au))
	require.True(t, strings.HasPrefix(au.AuthURL, base+"/sandbox/pages/authorize?"), au.AuthURL)
	code, body = get(au.AuthURL)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "¥118.00")

	ctx := context.Background()
	client, err := wxinvoice.New(env[envAppID], env[envAppSecret], wxinvoice.WithBaseURL(base))
	require.NoError(t, err)
	card, err := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "p", Type: "t",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://l", Title: "示例"}})
	require.NoError(t, err)
	up, err := client.UploadPDF(ctx, "a.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	require.NoError(t, err)
	insert := func() (*wxinvoice.InsertInvoiceResponse, error) {
		return client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "order-cli", CardID: card.CardID, AppID: env[envAppID],
			Invoice: wxinvoice.InvoiceData{Fee: 11800, Title: "某某公司", BillingTime: time.Now(), BillingNo: "1", BillingCode: "2",
				Items: []wxinvoice.InvoiceItem{{Name: "x", Num: 1, Price: 11800}}, PDFMediaID: up.SMediaID}})
	}
	_, err = insert()
	var apiErr *wxinvoice.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 72038, apiErr.Code)

	u, err := url.Parse(au.AuthURL)
	require.NoError(t, err)
	resp, err := http.PostForm(base+"/sandbox/pages/authorize", url.Values{"auth_key": {u.Query().Get("auth_key")},
		"openid": {"o-browser"}, "action": {"authorize"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ins, err := insert()
	require.NoError(t, err)
	require.Equal(t, "o-browser", ins.OpenID)

	code, body = get(base + "/?refresh=0")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `data-code="`+ins.Code+`"`)
	require.Contains(t, body, "某某公司")
}

// TestSandboxControlOff serves the WeChat API only.
func TestSandboxControlOff(t *testing.T) {
	t.Parallel()
	env, stdout, _, _ := sandbox(t, "--control=false")
	require.NotContains(t, stdout.String(), "console")
	resp, err := http.Get(env[envBaseURL] + "/sandbox/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestSandboxWarnsOffLoopback: the control API has no authentication, so a
// sandbox listening beyond loopback says so in its banner.
func TestSandboxWarnsOffLoopback(t *testing.T) {
	t.Parallel()
	_, stdout, _, _ := sandbox(t, "--addr", "0.0.0.0:0")
	require.Contains(t, stdout.String(), "is not a loopback address and the control API has no authentication")
}
