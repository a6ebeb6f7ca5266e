package wxinvoicetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func getToken(t *testing.T, srv *Server, grant, appid, secret string) []byte {
	t.Helper()
	q := url.Values{"grant_type": {grant}, "appid": {appid}, "secret": {secret}}
	resp, raw := send(t, http.MethodGet, srv.URL+"/cgi-bin/token?"+q.Encode(), "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return raw
}

// seturl is the cheapest business call: it checks a token.
func useToken(t *testing.T, srv *Server, tok string) int {
	t.Helper()
	return errcode(t, post(t, srv, "/card/invoice/seturl", tok, "{}"))
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := start(t)

	raw := getToken(t, srv, "client_credential", srv.AppID, srv.AppSecret)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.NotContains(t, m, "errcode", "WeChat's success answer has no errcode")
	require.EqualValues(t, 7200, m["expires_in"])
	first := m["access_token"].(string)
	require.GreaterOrEqual(t, len(first), 100)
	require.Equal(t, 0, useToken(t, srv, first))

	// Every call issues a new token; the previous one stays valid 5 minutes.
	var tr wire.TokenResponse
	require.NoError(t, json.Unmarshal(getToken(t, srv, "client_credential", srv.AppID, srv.AppSecret), &tr))
	second := tr.AccessToken
	require.NotEqual(t, first, second)
	require.Equal(t, 0, useToken(t, srv, first))
	srv.Advance(5*time.Minute - time.Second)
	require.Equal(t, 0, useToken(t, srv, first))
	srv.Advance(time.Second)
	require.Equal(t, 40001, useToken(t, srv, first), "superseded token past its overlap")
	require.Equal(t, 0, useToken(t, srv, second))

	// The new one expires 7200 s after it was issued.
	srv.Advance(7200*time.Second - 5*time.Minute - time.Second)
	require.Equal(t, 0, useToken(t, srv, second))
	srv.Advance(time.Second)
	require.Equal(t, 42001, useToken(t, srv, second))

	requireCode(t, 40001, getToken(t, srv, "client_credential", srv.AppID, "wrong"))
	requireCode(t, 40013, getToken(t, srv, "client_credential", "wxwrong", srv.AppSecret))
	requireCode(t, 40002, getToken(t, srv, "password", srv.AppID, srv.AppSecret))
	require.Equal(t, TokenStats{Token: 5}, srv.TokenStats())
	require.Equal(t, 5, srv.TokenFetches())
}

func TestStableTokenSameTokenAndRotation(t *testing.T) {
	t.Parallel()
	srv := start(t)

	a := fetchStable(t, srv, false)
	require.EqualValues(t, 7200, a.ExpiresIn)
	srv.Advance(1000 * time.Second)
	b := fetchStable(t, srv, false)
	require.Equal(t, a.AccessToken, b.AccessToken, "normal mode returns the same token")
	require.EqualValues(t, 6200, b.ExpiresIn, "with the remaining lifetime")

	// More than 5 minutes left: still the same.
	srv.Advance(6200*time.Second - 5*time.Minute - time.Second)
	c := fetchStable(t, srv, false)
	require.Equal(t, a.AccessToken, c.AccessToken)
	require.EqualValues(t, 301, c.ExpiresIn)

	// Fewer than 5 minutes left: a new token; the old one stays valid until it expires.
	srv.Advance(2 * time.Second)
	d := fetchStable(t, srv, false)
	require.NotEqual(t, a.AccessToken, d.AccessToken)
	require.EqualValues(t, 7200, d.ExpiresIn)
	require.Equal(t, 0, useToken(t, srv, a.AccessToken))
	srv.Advance(299 * time.Second)
	require.Equal(t, 42001, useToken(t, srv, a.AccessToken))
	require.Equal(t, 0, useToken(t, srv, d.AccessToken))
	require.Equal(t, 4, srv.TokenFetches())
}

func TestStableTokenErrors(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"wrong secret", wire.StableTokenRequest{GrantType: "client_credential", AppID: srv.AppID, Secret: "x"}, 40125},
		{"wrong appid", wire.StableTokenRequest{GrantType: "client_credential", AppID: "wx0", Secret: srv.AppSecret}, 40013},
		{"wrong grant_type", wire.StableTokenRequest{GrantType: "authorization_code", AppID: srv.AppID, Secret: srv.AppSecret}, 40002},
		{"not JSON", "grant_type=client_credential", 47001},
		{"empty body", "", 44002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, tc.want, post(t, srv, "/cgi-bin/stable_token", "", tc.body))
		})
	}
	resp, raw := send(t, http.MethodGet, srv.URL+"/cgi-bin/stable_token", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireCode(t, 43002, raw)
	require.Equal(t, 6, srv.TokenStats().Stable)
}

func TestStableTokenForceRefresh(t *testing.T) {
	t.Parallel()
	srv := start(t)
	old := stableToken(t, srv)
	other := getToken(t, srv, "client_credential", srv.AppID, srv.AppSecret)
	var legacy wire.TokenResponse
	require.NoError(t, json.Unmarshal(other, &legacy))

	forced := fetchStable(t, srv, true)
	require.Equal(t, wire.Int(0), forced.ErrCode)
	require.NotEqual(t, old, forced.AccessToken)
	require.Equal(t, 40001, useToken(t, srv, old), "force_refresh invalidates the previous token at once")
	require.Equal(t, 0, useToken(t, srv, forced.AccessToken))
	require.Equal(t, 0, useToken(t, srv, legacy.AccessToken), "/cgi-bin/token tokens are isolated")
	require.Equal(t, forced.AccessToken, stableToken(t, srv), "normal mode now returns the forced token")

	// At most every 30 s.
	srv.Advance(29 * time.Second)
	tooSoon := fetchStable(t, srv, true)
	require.Equal(t, wire.Int(45009), tooSoon.ErrCode)
	require.Empty(t, tooSoon.AccessToken)
	require.Equal(t, 0, useToken(t, srv, forced.AccessToken), "a refused force refresh changes nothing")
	srv.Advance(time.Second)
	require.Equal(t, wire.Int(0), fetchStable(t, srv, true).ErrCode)

	// At most 20 per day (China time): 2 done, 18 more, then 45009 until midnight.
	for i := 0; i < 18; i++ {
		srv.Advance(30 * time.Second)
		require.Equal(t, wire.Int(0), fetchStable(t, srv, true).ErrCode, "force refresh %d", i+3)
	}
	srv.Advance(time.Hour)
	require.Equal(t, wire.Int(45009), fetchStable(t, srv, true).ErrCode)
	now := srv.Now().In(chinaTime)
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, chinaTime)
	srv.Advance(midnight.Sub(now))
	require.Equal(t, wire.Int(0), fetchStable(t, srv, true).ErrCode)
	require.Equal(t, 21, srv.TokenStats().ForceRefresh)
}

func TestBusinessEndpointTokenChecks(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)

	requireCode(t, 41001, post(t, srv, "/card/invoice/seturl", "", "{}"))
	requireCode(t, 40014, post(t, srv, "/card/invoice/seturl", "not-a-token", "{}"))
	requireCode(t, 44002, post(t, srv, "/card/invoice/seturl", tok, ""))
	requireCode(t, 47001, post(t, srv, "/card/invoice/seturl", tok, "{not json"))
	resp, raw := send(t, http.MethodGet, apiURL(srv, "/card/invoice/seturl", tok), "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireCode(t, 43002, raw)

	srv.Advance(7200 * time.Second)
	requireCode(t, 42001, post(t, srv, "/card/invoice/seturl", tok, "{}"))

	// IssueToken and RevokeTokens.
	issued := srv.IssueToken()
	require.Equal(t, 0, useToken(t, srv, issued))
	fresh := stableToken(t, srv)
	srv.RevokeTokens()
	require.Equal(t, 40001, useToken(t, srv, issued))
	require.Equal(t, 40001, useToken(t, srv, fresh))
	next := stableToken(t, srv)
	require.NotEqual(t, fresh, next)
	require.Equal(t, 0, useToken(t, srv, next))
}

func TestErrMsgHasRID(t *testing.T) {
	t.Parallel()
	srv := start(t)
	var st wire.Status
	require.NoError(t, json.Unmarshal(post(t, srv, "/card/invoice/seturl", "bad", "{}"), &st))
	require.Regexp(t, `^invalid access_token rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`, st.ErrMsg)
}
