package wxinvoice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/stretchr/testify/require"
)

const (
	testAppID  = "wxtestappid0001"
	testSecret = "s3cr3t-app-secret-value"
	testToken  = "TOKEN-abc.123_should-never-leak"
	prefix     = "/api-prefix" // mounts the mux under a prefix so absolute URLs fail loudly
)

// testServer is a per-test WeChat stand-in: a mux under a path prefix and a
// counting stable_token endpoint (go-github style).
type testServer struct {
	*httptest.Server
	mux         *http.ServeMux
	tokenCalls  atomic.Int64
	forceCalls  atomic.Int64
	tokenValues func(n int64, force bool) string // the token handed out on fetch n
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{mux: http.NewServeMux()}
	ts.tokenValues = func(int64, bool) string { return testToken }
	outer := http.NewServeMux()
	outer.Handle(prefix+"/", http.StripPrefix(prefix, ts.mux))
	ts.Server = httptest.NewServer(outer)
	t.Cleanup(ts.Close)
	ts.mux.HandleFunc("/cgi-bin/stable_token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil ||
			req.GrantType != "client_credential" || req.AppID != testAppID || req.Secret != testSecret {
			http.Error(w, `{"errcode":40013,"errmsg":"bad token request"}`, 200)
			return
		}
		n := ts.tokenCalls.Add(1)
		if req.ForceRefresh {
			ts.forceCalls.Add(1)
		}
		writeJSON(w, map[string]any{"access_token": ts.tokenValues(n, req.ForceRefresh), "expires_in": 7200})
	})
	return ts
}

func (ts *testServer) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithBaseURL(ts.URL + prefix), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}
	c, err := New(testAppID, testSecret, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// fixture reads testdata/fixtures/<name> (copied from the official samples).
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/fixtures/" + name)
	require.NoError(t, err)
	return string(b)
}

// testRequest asserts method, token query and returns the body.
func testRequest(t *testing.T, r *http.Request, method string) []byte {
	t.Helper()
	require.Equal(t, method, r.Method)
	require.Equal(t, testToken, r.URL.Query().Get("access_token"))
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return b
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := New("", "x")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "appID", ve.Field)
	_, err = New("wx", "")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "appSecret", ve.Field)
	_, err = New("wx", "", WithTokenSource(StaticTokenSource("t")))
	require.NoError(t, err)
	_, err = New("wx", "s", WithBaseURL("not a url"))
	require.ErrorAs(t, err, &ve)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	in := `Post "https://api.weixin.qq.com/card/invoice/insert?access_token=ABC&x=1": dial; secret=XYZ "ticket=T1"`
	out := redact(in)
	require.NotContains(t, out, "ABC")
	require.NotContains(t, out, "XYZ")
	require.NotContains(t, out, "T1")
	require.Contains(t, out, "access_token=REDACTED&x=1")

	// JSON bodies quoted by decode errors, even cut off mid-value.
	for in, want := range map[string]string{
		`{"access_token":"AT1","expires_in":7200}`:           `{"access_token":"REDACTED","expires_in":7200}`,
		`{"authorizer_refresh_token": "RT1", "x":1}`:         `{"authorizer_refresh_token": "REDACTED", "x":1}`,
		`{"component_verify_ticket":"TK1"`:                   `{"component_verify_ticket":"REDACTED"`,
		`{"component_access_token":"CT1`:                     `{"component_access_token":"REDACTED`,
		`{"appsecret":"S1","secret_hint":1}`:                 `{"appsecret":"REDACTED","secret_hint":1}`,
		`{"authorization_code":"AC1","pre_auth_code":"PC1"}`: `{"authorization_code":"REDACTED","pre_auth_code":"REDACTED"}`,
		`no secrets: the access_token is missing; ticket.`:   `no secrets: the access_token is missing; ticket.`,
	} {
		require.Equal(t, want, redact(in), in)
	}
}

func requireNoSecrets(t *testing.T, s string) {
	t.Helper()
	require.NotContains(t, s, testToken)
	require.NotContains(t, s, testSecret)
	require.NotContains(t, s, strings.ReplaceAll(testToken, ".", "%2E"))
}

var bg = context.Background()

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestWithRestyClientUsesItsHTTPClient(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var sawHeader atomic.Bool
	ts.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		sawHeader.Store(r.Header.Get("X-Via-Transport") == "yes")
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","code":"c"}`))
	})
	rc := resty.New().SetTransport(headerTransport{http.DefaultTransport})
	c := ts.client(t, WithRestyClient(rc))
	_, err := c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.True(t, sawHeader.Load(), "the request went through the resty client's transport")
}

type headerTransport struct{ next http.RoundTripper }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Via-Transport", "yes")
	return h.next.RoundTrip(r)
}
