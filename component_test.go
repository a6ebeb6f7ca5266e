package wxinvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The component samples use these ids (testdata/component/*.json).
const (
	compAppID     = "appid_value"
	compSecret    = "appsecret_value"
	compTicket    = "ticket_value"
	compToken     = "61W3mEpU66027wgNZ_MhGHNQDHnFATkDa9-2llqrMBjUwxRSNPbVsMmyD-yq8wZETSoE5NQgecigDrSHkPtIYA"
	authAppID     = "auth_appid_value"
	authRefresh   = "refresh_token_value"
	authAccessTok = "some-access-token"
)

// compFixture reads testdata/component/<name>.
func compFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/component/" + name)
	require.NoError(t, err)
	return string(b)
}

// compTest is a per-test component stand-in: the test server's mux with
// api_component_token answering the official sample, and a Component over
// it with a ticket already stored.
type compTest struct {
	*testServer
	store       TokenStore
	cp          *Component
	tokenFetch  atomic.Int64
	tokenAnswer func(n int64) string // the JSON answered on fetch n
}

func newCompTest(t *testing.T, opts ...Option) *compTest {
	t.Helper()
	ct := &compTest{testServer: newTestServer(t), store: NewMemoryTokenStore()}
	ct.tokenAnswer = func(int64) string { return compFixture(t, "api_component_token.response.json") }
	ct.mux.HandleFunc("/cgi-bin/component/api_component_token", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		require.Empty(t, r.URL.RawQuery, "api_component_token takes no token")
		b, _ := io.ReadAll(r.Body)
		require.JSONEq(t, compFixture(t, "api_component_token.request.json"), string(b))
		_, _ = io.WriteString(w, ct.tokenAnswer(ct.tokenFetch.Add(1)))
	})
	base := []Option{WithBaseURL(ct.URL + prefix), WithTokenStore(ct.store),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}
	cp, err := NewComponent(compAppID, compSecret, append(base, opts...)...)
	require.NoError(t, err)
	ct.cp = cp
	require.NoError(t, cp.storeTicket(bg, compTicket, time.Now()))
	return ct
}

// componentRequest asserts a component endpoint call: POST, the component
// token under component_access_token (and no access_token); returns the body.
func componentRequest(t *testing.T, r *http.Request) []byte {
	t.Helper()
	require.Equal(t, http.MethodPost, r.Method)
	q := r.URL.Query()
	require.Equal(t, compToken, q.Get("component_access_token"))
	require.False(t, q.Has("access_token"))
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return b
}

func TestComponentTokenFromTicket(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	tok, err := ct.cp.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, compToken, tok)
	tok, err = ct.cp.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, compToken, tok)
	require.Equal(t, int64(1), ct.tokenFetch.Load(), "cached")
	stored, ok, err := ct.store.GetToken(bg, "component_access_token:"+compAppID)
	require.NoError(t, err)
	require.True(t, ok, "shared through the TokenStore")
	require.Equal(t, compToken, stored.Value)
	require.WithinDuration(t, time.Now().Add(7200*time.Second), stored.ExpiresAt, 5*time.Second)

	// A second instance sharing the store does not fetch again.
	cp2, err := NewComponent(compAppID, compSecret, WithBaseURL(ct.URL+prefix), WithTokenStore(ct.store))
	require.NoError(t, err)
	tok, err = cp2.AccessToken(bg)
	require.NoError(t, err)
	require.Equal(t, compToken, tok)
	require.Equal(t, int64(1), ct.tokenFetch.Load())
}

func TestComponentTicketErrors(t *testing.T) {
	t.Parallel()
	t.Run("none yet", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		var sent atomic.Int64
		ts.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { sent.Add(1) })
		cp, err := NewComponent(compAppID, compSecret, WithBaseURL(ts.URL+prefix))
		require.NoError(t, err)
		_, err = cp.AccessToken(bg)
		require.ErrorIs(t, err, ErrComponentTicketMissing)
		require.NotErrorIs(t, err, ErrComponentTicketExpired)
		require.Contains(t, err.Error(), "no component_verify_ticket received yet")
		_, err = cp.CreatePreAuthCode(bg)
		require.ErrorIs(t, err, ErrComponentTicketMissing)
		require.Zero(t, sent.Load(), "nothing is sent without a ticket")
	})
	t.Run("expired locally", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		var sent atomic.Int64
		ts.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { sent.Add(1) })
		cp, err := NewComponent(compAppID, compSecret, WithBaseURL(ts.URL+prefix))
		require.NoError(t, err)
		require.NoError(t, cp.storeTicket(bg, compTicket, time.Now().Add(-13*time.Hour)))
		_, err = cp.AccessToken(bg)
		require.ErrorIs(t, err, ErrComponentTicketMissing)
		require.ErrorIs(t, err, ErrComponentTicketExpired)
		require.Contains(t, err.Error(), "has expired")
		require.Zero(t, sent.Load())
	})
	for _, tc := range []struct {
		code int
		want error
	}{{61005, ErrComponentTicketExpired}, {61006, ErrComponentTicketInvalid}} {
		t.Run(tc.want.Error(), func(t *testing.T) {
			t.Parallel()
			ct := newCompTest(t)
			ct.tokenAnswer = func(int64) string {
				b, _ := json.Marshal(map[string]any{"errcode": tc.code, "errmsg": tc.want.(*APIError).Msg + " rid: 1"})
				return string(b)
			}
			_, err := ct.cp.AccessToken(bg)
			require.ErrorIs(t, err, tc.want)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, "/cgi-bin/component/api_component_token", apiErr.Op)
			require.NotErrorIs(t, err, ErrComponentTicketMissing)
		})
	}
}

func TestComponentTokenRejectedOnce(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	ct.tokenAnswer = func(n int64) string {
		if n == 1 {
			return `{"component_access_token":"stale","expires_in":7200}`
		}
		return compFixture(t, "api_component_token.response.json")
	}
	var calls atomic.Int64
	ct.mux.HandleFunc("/cgi-bin/component/api_create_preauthcode", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Get("component_access_token") == "stale" {
			_, _ = io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		componentRequest(t, r)
		_, _ = io.WriteString(w, compFixture(t, "api_create_preauthcode.response.json"))
	})
	pre, err := ct.cp.CreatePreAuthCode(bg)
	require.NoError(t, err)
	require.Equal(t, "Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw", pre.Code)
	require.Equal(t, int64(2), ct.tokenFetch.Load())
	require.Equal(t, int64(2), calls.Load())
}

func TestComponentPreAuthCodeAndURLs(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	ct.mux.HandleFunc("/cgi-bin/component/api_create_preauthcode", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, compFixture(t, "api_create_preauthcode.request.json"), string(componentRequest(t, r)))
		_, _ = io.WriteString(w, compFixture(t, "api_create_preauthcode.response.json"))
	})
	before := time.Now()
	pre, err := ct.cp.CreatePreAuthCode(bg)
	require.NoError(t, err)
	require.Equal(t, "Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw", pre.Code)
	require.WithinDuration(t, before.Add(600*time.Second), pre.ExpiresAt, 2*time.Second)

	redirect := "https://platform.example/wx/authorized?merchant=42&x=a b"
	pc, err := ct.cp.AuthorizationURL(bg, &AuthorizationURLRequest{RedirectURI: redirect, AuthType: ComponentAuthOfficialAccount})
	require.NoError(t, err)
	require.Equal(t, "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=appid_value"+
		"&pre_auth_code=Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw"+
		"&redirect_uri="+url.QueryEscape(redirect)+"&auth_type=1", pc)
	u, err := url.Parse(pc)
	require.NoError(t, err)
	require.Equal(t, redirect, u.Query().Get("redirect_uri"))

	mobile, err := ct.cp.AuthorizationURL(bg, &AuthorizationURLRequest{RedirectURI: redirect, AuthType: ComponentAuthOfficialAccount,
		BizAppID: "wxmerchant", Mobile: true})
	require.NoError(t, err)
	require.Equal(t, "https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1"+
		"&component_appid=appid_value&pre_auth_code=Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw"+
		"&redirect_uri="+url.QueryEscape(redirect)+"&auth_type=1&biz_appid=wxmerchant#wechat_redirect", mobile)

	plain, err := ct.cp.AuthorizationURL(bg, &AuthorizationURLRequest{RedirectURI: "https://p.example/cb"})
	require.NoError(t, err)
	require.NotContains(t, plain, "auth_type", "unset AuthType is left out")
	require.NotContains(t, plain, "biz_appid")
}

func TestComponentValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var sent atomic.Int64
	ts.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { sent.Add(1) })
	var ve *ValidationError
	_, err := NewComponent("", "s")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "appID", ve.Field)
	_, err = NewComponent("wx", "")
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "appSecret", ve.Field)
	_, err = NewComponent("wx", "", WithTokenSource(StaticTokenSource("t")))
	require.NoError(t, err, "a central component-token service replaces the secret")

	cp, err := NewComponent(compAppID, compSecret, WithBaseURL(ts.URL+prefix))
	require.NoError(t, err)
	for _, tc := range []struct {
		field string
		call  func() error
	}{
		{"req", func() error { _, err := cp.AuthorizationURL(bg, nil); return err }},
		{"RedirectURI", func() error { _, err := cp.AuthorizationURL(bg, &AuthorizationURLRequest{}); return err }},
		{"RedirectURI", func() error {
			_, err := cp.AuthorizationURL(bg, &AuthorizationURLRequest{RedirectURI: "/relative"})
			return err
		}},
		{"AuthType", func() error {
			_, err := cp.AuthorizationURL(bg, &AuthorizationURLRequest{RedirectURI: "https://a.example/", AuthType: 4})
			return err
		}},
		{"authorizationCode", func() error { _, err := cp.QueryAuth(bg, ""); return err }},
		{"req", func() error { _, err := cp.AuthorizerList(bg, nil); return err }},
		{"Offset", func() error { _, err := cp.AuthorizerList(bg, &AuthorizerListRequest{Offset: -1}); return err }},
		{"Count", func() error { _, err := cp.AuthorizerList(bg, &AuthorizerListRequest{Count: 501}); return err }},
		{"authorizerAppID", func() error { _, err := cp.Client(""); return err }},
		{"authorizerAppID", func() error { return cp.SetRefreshToken(bg, "", "x") }},
		{"refreshToken", func() error { return cp.SetRefreshToken(bg, "wx", "") }},
		{"ComponentEventConfig.EncodingAESKey", func() error { _, err := cp.EventHandler(ComponentEventConfig{Token: "t"}); return err }},
		{"ComponentEventConfig.Token", func() error {
			_, err := cp.EventHandler(ComponentEventConfig{EncodingAESKey: vecKey})
			return err
		}},
		{"ComponentEventConfig.EncodingAESKey", func() error {
			_, err := cp.EventHandler(ComponentEventConfig{Token: "t", EncodingAESKey: "short"})
			return err
		}},
	} {
		err := tc.call()
		require.ErrorAs(t, err, &ve, tc.field)
		require.Equal(t, tc.field, ve.Field)
	}
	require.Zero(t, sent.Load())
}

func TestComponentStartPushTicket(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/cgi-bin/component/api_start_push_ticket", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		require.Empty(t, r.URL.RawQuery, "no token: it is what restarts the tickets")
		b, _ := io.ReadAll(r.Body)
		require.JSONEq(t, compFixture(t, "api_start_push_ticket.request.json"), string(b))
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"in a normal state"}`)
	})
	cp, err := NewComponent("wxd0bfc95064b5bfc1", "28c223a63f7de0d5xxxxxxxxxxx", WithBaseURL(ts.URL+prefix))
	require.NoError(t, err)
	require.NoError(t, cp.StartPushTicket(bg), "no ticket needed")

	ts2 := newTestServer(t)
	ts2.mux.HandleFunc("/cgi-bin/component/api_start_push_ticket", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"errcode":40013,"errmsg":"invalid appid"}`)
	})
	cp2, err := NewComponent("wxbad", "s", WithBaseURL(ts2.URL+prefix))
	require.NoError(t, err)
	err = cp2.StartPushTicket(bg)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 40013, apiErr.Code)
}

// authorizerEndpoints installs api_query_auth and api_authorizer_token
// answering the official samples, counting refreshes.
func (ct *compTest) authorizerEndpoints(t *testing.T, refreshes *atomic.Int64) {
	ct.mux.HandleFunc("/cgi-bin/component/api_query_auth", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, compFixture(t, "api_query_auth.request.json"), string(componentRequest(t, r)))
		_, _ = io.WriteString(w, compFixture(t, "api_query_auth.response.json"))
	})
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		n := refreshes.Add(1)
		require.JSONEq(t, compFixture(t, "api_authorizer_token.request.json"), string(componentRequest(t, r)))
		answer := compFixture(t, "api_authorizer_token.response.json")
		if n > 1 { // a new token per refresh, as WeChat does
			answer = strings.Replace(answer, authAccessTok, authAccessTok+"-"+strconv.FormatInt(n, 10), 1)
		}
		_, _ = io.WriteString(w, answer)
	})
}

func TestComponentQueryAuth(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var refreshes atomic.Int64
	ct.authorizerEndpoints(t, &refreshes)
	const sampleAuthorizer = "wxf8b4f85f3a794e77"
	const sampleAccess = "QXjUqNqfYVH0yBE1iI_7vuN_9gQbpjfK7hYwJ3P7xOa88a89-Aga5x1NMYJyB8G2yKt1KCl0nPC3W9GJzw0Zzq_dBxc8pxIGUNi_bFes0qM"
	var served atomic.Int64
	ct.mux.HandleFunc("/card/code/decrypt", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		require.Equal(t, sampleAccess, r.URL.Query().Get("access_token"), "the authorizer's token, as access_token")
		require.False(t, r.URL.Query().Has("component_access_token"))
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","code":"c"}`)
	})

	a, err := ct.cp.QueryAuth(bg, "auth_code_value")
	require.NoError(t, err)
	require.Equal(t, &AuthorizationInfo{AuthorizerAppID: sampleAuthorizer, Permissions: []int{1, 2, 3}, HasToken: true}, a)
	require.False(t, a.HasPermission(PermissionInvoice))

	rt, ok, err := ct.store.GetToken(bg, "authorizer_refresh_token:"+compAppID+":"+sampleAuthorizer)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, Token{Value: "dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY"}, rt, "stored without expiry")
	at, ok, err := ct.store.GetToken(bg, "authorizer_access_token:"+compAppID+":"+sampleAuthorizer)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, sampleAccess, at.Value)

	c, err := ct.cp.Client(sampleAuthorizer)
	require.NoError(t, err)
	require.Equal(t, sampleAuthorizer, c.AppID())
	_, err = c.DecryptCode(bg, "e")
	require.NoError(t, err)
	require.Equal(t, int64(1), served.Load())
	require.Zero(t, refreshes.Load(), "the exchanged token is used as is")
}

func TestComponentAuthorizerRefresh(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var refreshes atomic.Int64
	ct.authorizerEndpoints(t, &refreshes)
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, authRefresh))

	src := ct.cp.AuthorizerTokenSource(authAppID)
	tok, err := src.Token(bg)
	require.NoError(t, err)
	require.Equal(t, authAccessTok, tok.Value)
	require.WithinDuration(t, time.Now().Add(7200*time.Second), tok.ExpiresAt, 5*time.Second)
	_, err = src.Token(bg)
	require.NoError(t, err)
	require.Equal(t, int64(1), refreshes.Load())

	// Rejected: one refresh, whatever the number of reports.
	for i := 0; i < 3; i++ {
		_, err = src.(TokenRefresher).RefreshToken(bg, authAccessTok)
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), refreshes.Load())

	// A second instance sharing the store uses the stored access token.
	cp2, err := NewComponent(compAppID, compSecret, WithBaseURL(ct.URL+prefix), WithTokenStore(ct.store))
	require.NoError(t, err)
	tok, err = cp2.AuthorizerTokenSource(authAppID).Token(bg)
	require.NoError(t, err)
	require.Equal(t, authAccessTok+"-2", tok.Value)
	require.Equal(t, int64(2), refreshes.Load())
}

func TestComponentRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var seen []string
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RT string `json:"authorizer_refresh_token"`
		}
		require.NoError(t, json.Unmarshal(componentRequest(t, r), &req))
		seen = append(seen, req.RT)
		_, _ = io.WriteString(w, `{"authorizer_access_token":"at-`+req.RT+`","expires_in":7200,"authorizer_refresh_token":"rt-2"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-1"))
	src := ct.cp.AuthorizerTokenSource(authAppID)
	tok, err := src.Token(bg)
	require.NoError(t, err)
	require.Equal(t, "at-rt-1", tok.Value)
	rt, _, _ := ct.store.GetToken(bg, ct.cp.refreshKey(authAppID))
	require.Equal(t, "rt-2", rt.Value, "the renewed refresh token replaces the old one")
	tok, err = src.(TokenRefresher).RefreshToken(bg, tok.Value)
	require.NoError(t, err)
	require.Equal(t, "at-rt-2", tok.Value)
	require.Equal(t, []string{"rt-1", "rt-2"}, seen)
}

// prefixFailStore fails SetToken and SwapToken for keys with the given prefix.
type prefixFailStore struct {
	TokenStore
	prefix string
}

func (s *prefixFailStore) SetToken(ctx context.Context, key string, tok Token) error {
	if s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		return errors.New("store down")
	}
	return s.TokenStore.SetToken(ctx, key, tok)
}

func (s *prefixFailStore) SwapToken(ctx context.Context, key, old string, tok Token) (bool, error) {
	if s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		return false, errors.New("store down")
	}
	return s.TokenStore.SwapToken(ctx, key, old, tok)
}

func TestComponentRefreshTokenStoredBeforeUse(t *testing.T) {
	t.Parallel()
	store := &prefixFailStore{TokenStore: NewMemoryTokenStore()}
	ct := newCompTest(t, WithTokenStore(store))
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		componentRequest(t, r)
		_, _ = io.WriteString(w, `{"authorizer_access_token":"at-new","expires_in":7200,"authorizer_refresh_token":"rt-new"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-old"))
	store.prefix = "authorizer_refresh_token:"
	_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
	require.Error(t, err, "an access token is not used while its new refresh token is not stored")
	require.Contains(t, err.Error(), "store down")
	require.NotContains(t, err.Error(), "rt-new")
	require.NotContains(t, err.Error(), "rt-old")
	rt, _, _ := store.GetToken(bg, ct.cp.refreshKey(authAppID))
	require.Equal(t, "rt-old", rt.Value)
}

func TestComponentRefreshTokenRecovery(t *testing.T) {
	t.Parallel()
	list := func(items ...string) string {
		var b strings.Builder
		b.WriteString(`{"total_count":` + strconv.Itoa(len(items)/2) + `,"list":[`)
		for i := 0; i < len(items); i += 2 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"authorizer_appid":"` + items[i] + `","refresh_token":"` + items[i+1] + `","auth_time":1558000607}`)
		}
		b.WriteString("]}")
		return b.String()
	}
	setup := func(t *testing.T, listAnswer string, refresh func(rt string) string) (*compTest, *atomic.Int64) {
		ct := newCompTest(t)
		var listCalls atomic.Int64
		ct.mux.HandleFunc("/cgi-bin/component/api_get_authorizer_list", func(w http.ResponseWriter, r *http.Request) {
			listCalls.Add(1)
			require.JSONEq(t, `{"component_appid":"appid_value","offset":0,"count":500}`, string(componentRequest(t, r)))
			_, _ = io.WriteString(w, listAnswer)
		})
		ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				RT string `json:"authorizer_refresh_token"`
			}
			require.NoError(t, json.Unmarshal(componentRequest(t, r), &req))
			_, _ = io.WriteString(w, refresh(req.RT))
		})
		return ct, &listCalls
	}
	okRefresh := func(rt string) string {
		if rt != "rt-listed" {
			return `{"errcode":61023,"errmsg":"refresh_token is invalid rid: 1"}`
		}
		return `{"authorizer_access_token":"at-1","expires_in":7200,"authorizer_refresh_token":"rt-listed"}`
	}

	t.Run("empty store", func(t *testing.T) {
		t.Parallel()
		ct, listCalls := setup(t, list("wxother", "rt-other", authAppID, "rt-listed"), okRefresh)
		tok, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
		require.NoError(t, err)
		require.Equal(t, "at-1", tok.Value)
		require.Equal(t, int64(1), listCalls.Load())
		rt, _, _ := ct.store.GetToken(bg, ct.cp.refreshKey(authAppID))
		require.Equal(t, "rt-listed", rt.Value, "recovered and stored")
		_, ok, _ := ct.store.GetToken(bg, ct.cp.refreshKey("wxother"))
		require.False(t, ok, "only the account asked for")
	})
	t.Run("61023 then listed", func(t *testing.T) {
		t.Parallel()
		ct, listCalls := setup(t, list(authAppID, "rt-listed"), okRefresh)
		require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-stale"))
		tok, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
		require.NoError(t, err)
		require.Equal(t, "at-1", tok.Value)
		require.Equal(t, int64(1), listCalls.Load())
	})
	t.Run("61023 and the list has the same", func(t *testing.T) {
		t.Parallel()
		ct, _ := setup(t, list(authAppID, "rt-stale"), okRefresh)
		require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-stale"))
		_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
		require.ErrorIs(t, err, ErrRefreshTokenInvalid)
		require.ErrorIs(t, err, ErrRefreshTokenMissing)
		require.Contains(t, err.Error(), "must authorize again")
		require.NotContains(t, err.Error(), "rt-stale")
	})
	t.Run("not listed", func(t *testing.T) {
		t.Parallel()
		ct, _ := setup(t, list("wxother", "rt-other"), okRefresh)
		_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
		require.ErrorIs(t, err, ErrRefreshTokenMissing)
		require.Contains(t, err.Error(), "not among the platform's authorized accounts")
	})
	t.Run("listed without refresh token", func(t *testing.T) {
		t.Parallel()
		ct, _ := setup(t, list(authAppID, ""), okRefresh)
		_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
		require.ErrorIs(t, err, ErrRefreshTokenMissing)
		require.Contains(t, err.Error(), "never exchanged")
	})
}

func TestComponentAuthorizerRevokedBy61003(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var refreshes atomic.Int64
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		_, _ = io.WriteString(w, `{"errcode":61003,"errmsg":"component is not authorized by this account rid: 1"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, authRefresh))
	src := ct.cp.AuthorizerTokenSource(authAppID)
	_, err := src.Token(bg)
	require.ErrorIs(t, err, ErrAuthorizerRevoked)
	require.ErrorIs(t, err, ErrComponentNotAuthorized)
	_, err = src.Token(bg)
	require.ErrorIs(t, err, ErrAuthorizerRevoked)
	require.Equal(t, int64(1), refreshes.Load(), "a revoked account does not spend its dead refresh token again")

	// A new authorization clears it.
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-new"))
	_, err = src.Token(bg)
	require.ErrorIs(t, err, ErrComponentNotAuthorized, "tried again")
	require.Equal(t, int64(2), refreshes.Load())
}

func TestComponentAuthorizerList(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	ct.mux.HandleFunc("/cgi-bin/component/api_get_authorizer_list", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, compFixture(t, "api_get_authorizer_list.request.json"), string(componentRequest(t, r)))
		_, _ = io.WriteString(w, compFixture(t, "api_get_authorizer_list.response.json"))
	})
	resp, err := ct.cp.AuthorizerList(bg, &AuthorizerListRequest{Count: 100})
	require.NoError(t, err)
	require.Equal(t, &AuthorizerListResponse{TotalCount: 33, Authorizers: []AuthorizerListEntry{
		{AuthorizerAppID: "authorizer_appid_1", AuthTime: time.Unix(1558000607, 0), HasRefreshToken: true},
		{AuthorizerAppID: "authorizer_appid_2", AuthTime: time.Unix(1558000607, 0), HasRefreshToken: true},
	}}, resp)
}

// TestComponentSecretsNeverLeak drives failures with a capturing logger and
// checks that no error string or log line carries a token, ticket or secret.
func TestComponentSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &prefixFailStore{TokenStore: NewMemoryTokenStore()}
	ct := newCompTest(t, WithTokenStore(store), WithLogger(logger))
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"authorizer_access_token":"AT-SECRET","expires_in":7200,"authorizer_refresh_token":"RT-SECRET-NEW"}`)
	})
	var listAnswer atomic.Pointer[string]
	ok := `{"total_count":1,"list":[{"authorizer_appid":"` + authAppID + `","refresh_token":"RT-SECRET-LISTED","auth_time":1}]}`
	listAnswer.Store(&ok)
	ct.mux.HandleFunc("/cgi-bin/component/api_get_authorizer_list", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, *listAnswer.Load())
	})
	var errs []string
	store.prefix = "authorizer_refresh_token:"
	_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
	require.Error(t, err)
	errs = append(errs, err.Error())
	store.prefix = ""
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "RT-SECRET-OLD"))
	store.prefix = "authorizer_refresh_token:"
	_, err = ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
	require.Error(t, err)
	errs = append(errs, err.Error())
	require.NotEmpty(t, logs.String())

	// An answer that does not decode is quoted with its tokens redacted.
	bad := `{"total_count":"many","list":[{"authorizer_appid":"wx","refresh_token":"RT-SECRET-LISTED"}]}`
	listAnswer.Store(&bad)
	ct.mux.HandleFunc("/cgi-bin/component/api_query_auth", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"authorization_info":{"authorizer_appid":"wx","authorizer_access_token":"AT-SECRET","expires_in":"x","authorizer_refresh_token":"RT-SECRET-QA"}}`)
	})
	_, err = ct.cp.AuthorizerList(bg, &AuthorizerListRequest{})
	require.ErrorContains(t, err, "decode response")
	errs = append(errs, err.Error())
	_, err = ct.cp.QueryAuth(bg, "code")
	require.ErrorContains(t, err, "decode response")
	require.ErrorIs(t, err, ErrOutcomeUnknown, "api_query_auth is not replayed blindly")
	errs = append(errs, err.Error())
	ct.tokenAnswer = func(int64) string { return `{"component_access_token":"CT-SECRET","expires_in":"x"}` }
	cold, err := NewComponent(compAppID, compSecret, WithBaseURL(ct.URL+prefix), WithLogger(logger))
	require.NoError(t, err)
	require.NoError(t, cold.storeTicket(bg, compTicket, time.Now()))
	_, err = cold.AccessToken(bg)
	require.ErrorContains(t, err, "decode response")
	errs = append(errs, err.Error())
	for _, s := range append(errs, logs.String()) {
		for _, secret := range []string{"RT-SECRET", "AT-SECRET", "CT-SECRET", compToken, compTicket, compSecret} {
			require.NotContains(t, s, secret)
		}
	}
}

// ---- event handler ----

type pushVectors struct {
	Token, ComponentAppID, EncodingAESKey, Signature, Timestamp, Nonce string
	Cases                                                              []struct {
		Body, MsgSignature, InfoType, Ticket, AuthorizerAppID string
		CreateTime                                            int64
	}
}

func loadPushVectors(t *testing.T) *pushVectors {
	var raw struct {
		Token          string `json:"token"`
		ComponentAppID string `json:"component_appid"`
		Key            string `json:"encoding_aes_key"`
		Signature      string `json:"signature"`
		Timestamp      string `json:"timestamp"`
		Nonce          string `json:"nonce"`
		Cases          []struct {
			Body            string `json:"body"`
			MsgSignature    string `json:"msg_signature"`
			InfoType        string `json:"info_type"`
			Ticket          string `json:"ticket"`
			AuthorizerAppID string `json:"authorizer_appid"`
			CreateTime      int64  `json:"create_time"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal([]byte(compFixture(t, "push_vectors.json")), &raw))
	v := &pushVectors{Token: raw.Token, ComponentAppID: raw.ComponentAppID, EncodingAESKey: raw.Key,
		Signature: raw.Signature, Timestamp: raw.Timestamp, Nonce: raw.Nonce}
	for _, c := range raw.Cases {
		v.Cases = append(v.Cases, struct {
			Body, MsgSignature, InfoType, Ticket, AuthorizerAppID string
			CreateTime                                            int64
		}{c.Body, c.MsgSignature, c.InfoType, c.Ticket, c.AuthorizerAppID, c.CreateTime})
	}
	return v
}

func (v *pushVectors) request(body, msgSig string) *http.Request {
	q := "signature=" + v.Signature + "&timestamp=" + v.Timestamp + "&nonce=" + v.Nonce +
		"&encrypt_type=aes&msg_signature=" + msgSig
	return httptest.NewRequest(http.MethodPost, "/wx/component?"+q, strings.NewReader(body))
}

func TestComponentPushVectors(t *testing.T) {
	t.Parallel()
	v := loadPushVectors(t)
	ts := newTestServer(t)
	var sent atomic.Int64
	ts.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { sent.Add(1) })
	store := NewMemoryTokenStore()
	cp, err := NewComponent(v.ComponentAppID, "secret", WithBaseURL(ts.URL+prefix), WithTokenStore(store))
	require.NoError(t, err)
	received := time.Unix(1445308253, 0)
	var unauthorized []UnauthorizedEvent
	var tickets []ComponentTicketEvent
	h, err := cp.EventHandler(ComponentEventConfig{Token: v.Token, EncodingAESKey: v.EncodingAESKey,
		Now: fixedClock(received), // the vectors are from 2015
		OnTicket: func(_ context.Context, ev *ComponentTicketEvent) error {
			tickets = append(tickets, *ev)
			return nil
		},
		OnUnauthorized: func(_ context.Context, ev *UnauthorizedEvent) error {
			unauthorized = append(unauthorized, *ev)
			return nil
		}})
	require.NoError(t, err)
	for _, c := range v.Cases {
		rec := serve(h, v.request(compFixture(t, c.Body), c.MsgSignature))
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", c.Body, rec.Body.String())
		require.Equal(t, "success", rec.Body.String())
	}
	require.Equal(t, []ComponentTicketEvent{{AppID: v.ComponentAppID, CreateTime: time.Unix(v.Cases[0].CreateTime, 0)}}, tickets)
	ticket, ok, err := store.GetToken(bg, "component_verify_ticket:"+v.ComponentAppID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, Token{Value: v.Cases[0].Ticket, ExpiresAt: received.Add(12 * time.Hour)}, ticket)
	require.Equal(t, []UnauthorizedEvent{
		{AppID: v.ComponentAppID, CreateTime: time.Unix(v.Cases[1].CreateTime, 0), AuthorizerAppID: v.Cases[1].AuthorizerAppID},
		{AppID: v.ComponentAppID, CreateTime: time.Unix(v.Cases[2].CreateTime, 0), AuthorizerAppID: v.Cases[2].AuthorizerAppID},
	}, unauthorized)
	for _, a := range []string{v.Cases[1].AuthorizerAppID, v.Cases[2].AuthorizerAppID} {
		_, err := cp.AuthorizerTokenSource(a).Token(bg)
		require.ErrorIs(t, err, ErrAuthorizerRevoked)
	}
	require.Zero(t, sent.Load(), "receiving pushes calls no API")

	// Retries are deduplicated; tampering and replays are refused.
	rec := serve(h, v.request(compFixture(t, v.Cases[1].Body), v.Cases[1].MsgSignature))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, unauthorized, 2)
	bad := strings.Replace(compFixture(t, v.Cases[0].Body), "wlHf", "wlHg", 1)
	require.Equal(t, http.StatusForbidden, serve(h, v.request(bad, v.Cases[0].MsgSignature)).Code)
	h2, err := cp.EventHandler(ComponentEventConfig{Token: v.Token, EncodingAESKey: v.EncodingAESKey})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, serve(h2, v.request(compFixture(t, v.Cases[0].Body), v.Cases[0].MsgSignature)).Code,
		"a 2015 timestamp is outside the replay window")
	other, err := NewComponent("wxsomeoneelse00000", "s", WithTokenStore(store))
	require.NoError(t, err)
	h3, err := other.EventHandler(ComponentEventConfig{Token: v.Token, EncodingAESKey: v.EncodingAESKey, Now: fixedClock(received)})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, serve(h3, v.request(compFixture(t, v.Cases[0].Body), v.Cases[0].MsgSignature)).Code,
		"encrypted for another component appid")
}

// compPush returns a push of msg encrypted for cfg, as WeChat sends it to a
// component (AppId envelope).
func compPush(t *testing.T, cfg PushConfig, msg string) *http.Request {
	t.Helper()
	req, err := NewPushRequest(bg, "http://platform.example/wx/component", cfg, []byte(msg))
	require.NoError(t, err)
	return req
}

func TestComponentEventHandler(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var refreshes atomic.Int64
	ct.authorizerEndpoints(t, &refreshes)
	pc := PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}
	var got []string
	var authEv []AuthorizationEvent
	var other []ComponentEvent
	fail := false
	h, err := ct.cp.EventHandler(ComponentEventConfig{Token: pc.Token, EncodingAESKey: pc.EncodingAESKey,
		OnAuthorized: func(_ context.Context, ev *AuthorizationEvent) error {
			authEv = append(authEv, *ev)
			got = append(got, "authorized")
			if fail {
				return errors.New("db down")
			}
			return nil
		},
		OnUpdateAuthorized: func(_ context.Context, ev *AuthorizationEvent) error {
			authEv = append(authEv, *ev)
			got = append(got, "updateauthorized")
			return nil
		},
		OnEvent: func(_ context.Context, ev *ComponentEvent) error {
			other = append(other, *ev)
			return nil
		}})
	require.NoError(t, err)
	now := time.Now().Unix()
	authorized := func(info string) string {
		return "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>" + itoa64(now) + "</CreateTime><InfoType><![CDATA[" + info +
			"]]></InfoType><AuthorizerAppid><![CDATA[wxf8b4f85f3a794e77]]></AuthorizerAppid><AuthorizationCode><![CDATA[auth_code_value]]></AuthorizationCode>" +
			"<AuthorizationCodeExpiredTime>" + itoa64(now+600) + "</AuthorizationCodeExpiredTime><PreAuthCode><![CDATA[preauthcode@@@x]]></PreAuthCode></xml>"
	}
	requireSuccess(t, serve(h, compPush(t, pc, authorized("authorized"))))
	require.Len(t, authEv, 1)
	require.Equal(t, AuthorizationEvent{AppID: compAppID, CreateTime: time.Unix(now, 0), InfoType: InfoTypeAuthorized,
		AuthorizerAppID: "wxf8b4f85f3a794e77", AuthorizationCode: "auth_code_value", AuthorizationCodeExpiredTime: now + 600,
		PreAuthCode:   "preauthcode@@@x",
		Authorization: &AuthorizationInfo{AuthorizerAppID: "wxf8b4f85f3a794e77", Permissions: []int{1, 2, 3}, HasToken: true}}, authEv[0])
	rt, ok, _ := ct.store.GetToken(bg, ct.cp.refreshKey("wxf8b4f85f3a794e77"))
	require.True(t, ok, "the code was exchanged before the callback")
	require.Equal(t, "dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY", rt.Value)

	requireSuccess(t, serve(h, compPush(t, pc, authorized("authorized"))))
	require.Len(t, authEv, 1, "WeChat's retry is deduplicated")

	requireSuccess(t, serve(h, compPush(t, pc, authorized("updateauthorized"))))
	require.Equal(t, []string{"authorized", "updateauthorized"}, got)

	// A failing callback answers 5xx and the retry runs it again.
	fail = true
	msg := strings.Replace(authorized("authorized"), itoa64(now)+"</CreateTime>", itoa64(now+1)+"</CreateTime>", 1)
	require.Equal(t, http.StatusInternalServerError, serve(h, compPush(t, pc, msg)).Code)
	fail = false
	requireSuccess(t, serve(h, compPush(t, pc, msg)))
	require.Len(t, authEv, 4)

	// Unknown InfoTypes go to OnEvent with the decrypted XML.
	fast := "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>" + itoa64(now) + "</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid><![CDATA[wxmini]]></appid><status>0</status></xml>"
	requireSuccess(t, serve(h, compPush(t, pc, fast)))
	require.Len(t, other, 1)
	require.Equal(t, "notify_third_fasteregister", other[0].InfoType)
	require.Equal(t, fast, string(other[0].Raw))

	// Refusals.
	for _, tc := range []struct {
		msg  string
		code int
	}{
		{"<xml><AppId><![CDATA[appid_value]]></AppId><InfoType>authorized</InfoType></xml>", http.StatusBadRequest},
		{"<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>1</CreateTime></xml>", http.StatusBadRequest},
		{"<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket</InfoType></xml>", http.StatusBadRequest},
		{"<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType><AuthorizerAppid>wx</AuthorizerAppid></xml>", http.StatusBadRequest},
		{"<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType></xml>", http.StatusBadRequest},
		{"<xml><AppId>wxother</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wx</AuthorizerAppid></xml>", http.StatusBadRequest},
		{"<xml><AppId>appid_value</AppId><AppId>appid_value</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType></xml>", http.StatusBadRequest},
		{"<!DOCTYPE x><xml/>", http.StatusBadRequest},
	} {
		rec := serve(h, compPush(t, pc, tc.msg))
		require.Equal(t, tc.code, rec.Code, "%s: %s", tc.msg, rec.Body.String())
	}
	// Plaintext pushes are refused: WeChat always encrypts component pushes.
	plain := pc
	plain.EncodingAESKey = ""
	require.Equal(t, http.StatusBadRequest, serve(h, compPush(t, plain, authorized("authorized"))).Code)
	require.Len(t, authEv, 4)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestComponentEventHandlerVerifyAndKeyRotation(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	const oldKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	h, err := ct.cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey, PreviousEncodingAESKey: oldKey})
	require.NoError(t, err)
	// The GET verification of the URL, if WeChat makes one.
	req, err := NewVerifyRequest(bg, "http://platform.example/wx/component", PushConfig{Token: "ctoken"}, "echo-123")
	require.NoError(t, err)
	rec := serve(h, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "echo-123", rec.Body.String())
	// A ticket sealed with the previous key during a rotation.
	msg := "<xml><AppId><![CDATA[appid_value]]></AppId>\n<CreateTime>" + itoa64(time.Now().Unix()) +
		"</CreateTime>\n<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n<ComponentVerifyTicket><![CDATA[ticket@@@rotated]]></ComponentVerifyTicket>\n</xml>"
	requireSuccess(t, serve(h, compPush(t, PushConfig{Token: "ctoken", EncodingAESKey: oldKey, AppID: compAppID}, msg)))
	tk, ok, err := ct.store.GetToken(bg, ct.cp.ticketKey())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "ticket@@@rotated", tk.Value)
	// A store that refuses the ticket: 5xx, so WeChat pushes it again.
	store := &prefixFailStore{TokenStore: NewMemoryTokenStore(), prefix: "component_verify_ticket:"}
	cp, err := NewComponent(compAppID, compSecret, WithTokenStore(store))
	require.NoError(t, err)
	h2, err := cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey})
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, serve(h2, compPush(t, PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}, msg)).Code)
}
