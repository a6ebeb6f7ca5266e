package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
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
