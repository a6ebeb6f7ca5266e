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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// TestComponentEventKeysHoldNoSecrets: the dedupe key of a component push is
// logged when its handling fails and is stored as is by a shared Deduper
// (a Redis key name), so it must not carry the component_verify_ticket or
// the authorization code.
func TestComponentEventKeysHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &prefixFailStore{TokenStore: NewMemoryTokenStore()}
	ct := newCompTest(t, WithTokenStore(store), WithLogger(logger))
	store.prefix = "component_verify_ticket:"
	var refreshes atomic.Int64
	ct.authorizerEndpoints(t, &refreshes)
	d := &recordingDeduper{Deduper: NewMemoryDeduper(0)}
	h, err := ct.cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey, Deduper: d, Logger: logger,
		OnAuthorized: func(context.Context, *AuthorizationEvent) error { return errors.New("db down") }})
	require.NoError(t, err)
	pc := PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}
	now := itoa64(time.Now().Unix())
	const ticket, code = "ticket@@@SECRET-TICKET-VALUE", "auth_code_value"

	// The store refuses the ticket, and the authorized callback fails: both
	// answer 5xx and log the failure with the key.
	rec := serve(h, compPush(t, pc, "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>"+now+
		"</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA["+ticket+
		"]]></ComponentVerifyTicket></xml>"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	rec = serve(h, compPush(t, pc, "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>"+now+
		"</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[wxf8b4f85f3a794e77]]></AuthorizerAppid>"+
		"<AuthorizationCode><![CDATA["+code+"]]></AuthorizationCode><AuthorizationCodeExpiredTime>600</AuthorizationCodeExpiredTime></xml>"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	require.Len(t, d.keys, 2)
	require.Contains(t, logs.String(), "event callback failed")
	for _, s := range append(d.keys, logs.String()) {
		require.NotContains(t, s, "SECRET-TICKET-VALUE")
		require.NotContains(t, s, code)
	}
}

// TestComponentLateUnauthorizedPush: a merchant revokes the platform and
// authorizes it again; WeChat's unauthorized push (a retry, or one handled by
// a slower instance) is processed after the new authorization was exchanged.
// It revokes the authorization it was sent for, not the new one.
func TestComponentLateUnauthorizedPush(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var refreshes atomic.Int64
	ct.mux.HandleFunc("/cgi-bin/component/api_query_auth", func(w http.ResponseWriter, r *http.Request) {
		componentRequest(t, r)
		_, _ = io.WriteString(w, `{"authorization_info":{"authorizer_appid":"`+authAppID+`","authorizer_access_token":"at-new","expires_in":7200,"authorizer_refresh_token":"rt-new","func_info":[{"funcscope_category":{"id":26}}]}}`)
	})
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		var req struct {
			RT string `json:"authorizer_refresh_token"`
		}
		require.NoError(t, json.Unmarshal(componentRequest(t, r), &req))
		_, _ = io.WriteString(w, `{"authorizer_access_token":"at-`+req.RT+`","expires_in":7200,"authorizer_refresh_token":"`+req.RT+`"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-old"))
	h, err := ct.cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey})
	require.NoError(t, err)
	pc := PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}
	now := time.Now().Unix()
	unauthorized := func(created int64) string {
		return "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>" + itoa64(created) +
			"</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[" + authAppID + "]]></AuthorizerAppid></xml>"
	}

	// The re-authorization is exchanged first...
	requireSuccess(t, serve(h, compPush(t, pc, "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>"+itoa64(now)+
		"</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA["+authAppID+"]]></AuthorizerAppid>"+
		"<AuthorizationCode><![CDATA[auth_code_value]]></AuthorizationCode><AuthorizationCodeExpiredTime>600</AuthorizationCodeExpiredTime></xml>")))
	// ...then the revocation that preceded it arrives.
	requireSuccess(t, serve(h, compPush(t, pc, unauthorized(now-60))))
	src := ct.cp.AuthorizerTokenSource(authAppID)
	tok, err := src.Token(bg)
	require.NoError(t, err, "the new authorization is not revoked by an older unauthorized push")
	require.Equal(t, "at-new", tok.Value)
	rt, _, _ := ct.store.GetToken(bg, ct.cp.refreshKey(authAppID))
	require.Equal(t, "rt-new", rt.Value)

	// A revocation after the new authorization does revoke it.
	requireSuccess(t, serve(h, compPush(t, pc, unauthorized(now+5))))
	_, err = src.Token(bg)
	require.ErrorIs(t, err, ErrAuthorizerRevoked)
	require.Zero(t, refreshes.Load(), "the revoked refresh token is not spent")
}

// TestComponentRevokedBy61003DuringReauthorization: a refresh with the old
// refresh token answers 61003 while, meanwhile, the merchant authorized the
// platform again and the new refresh token was stored (by QueryAuth in
// another instance). Only the refresh token WeChat refused is recorded as
// revoked; the next call refreshes with the new one.
func TestComponentRevokedBy61003DuringReauthorization(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	var seen []string
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RT string `json:"authorizer_refresh_token"`
		}
		require.NoError(t, json.Unmarshal(componentRequest(t, r), &req))
		seen = append(seen, req.RT)
		if req.RT == "rt-old" {
			// The re-authorization lands while this refresh is in flight.
			require.NoError(t, ct.cp.SetRefreshToken(context.Background(), authAppID, "rt-new"))
			_, _ = io.WriteString(w, `{"errcode":61003,"errmsg":"component is not authorized by this account"}`)
			return
		}
		_, _ = io.WriteString(w, `{"authorizer_access_token":"at-`+req.RT+`","expires_in":7200,"authorizer_refresh_token":"`+req.RT+`"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-old"))
	src := ct.cp.AuthorizerTokenSource(authAppID)
	_, err := src.Token(bg)
	require.ErrorIs(t, err, ErrAuthorizerRevoked)
	tok, err := src.Token(bg)
	require.NoError(t, err, "the new refresh token is not marked revoked")
	require.Equal(t, "at-rt-new", tok.Value)
	require.Equal(t, []string{"rt-old", "rt-new"}, seen)
}

// A re-authorization that lands while a refresh spends the old refresh token
// is not overwritten by the renewed old token WeChat hands back.
func TestComponentRefreshKeepsNewerRefreshToken(t *testing.T) {
	t.Parallel()
	ct := newCompTest(t)
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RT string `json:"authorizer_refresh_token"`
		}
		require.NoError(t, json.Unmarshal(componentRequest(t, r), &req))
		if req.RT == "rt-old" {
			require.NoError(t, ct.cp.SetRefreshToken(context.Background(), authAppID, "rt-new"))
		}
		_, _ = io.WriteString(w, `{"authorizer_access_token":"at-`+req.RT+`","expires_in":7200,"authorizer_refresh_token":"`+req.RT+`-renewed"}`)
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-old"))
	_, err := ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
	require.NoError(t, err)
	stored, ok, err := ct.cp.store.GetToken(bg, ct.cp.refreshKey(authAppID))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "rt-new", stored.Value, "the re-authorization's refresh token survives")

	// Without a re-authorization, the renewed token replaces the spent one.
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, "rt-plain"))
	_, err = ct.cp.AuthorizerTokenSource(authAppID).Token(bg)
	require.NoError(t, err)
	stored, _, _ = ct.cp.store.GetToken(bg, ct.cp.refreshKey(authAppID))
	require.Equal(t, "rt-plain-renewed", stored.Value)
}

// newRefusingComponentHandler returns a component push handler on a clock
// at sampleTime whose callbacks count their calls (none may run: nothing
// listens on the base URL, and the pushes are refused before any call).
func newRefusingComponentHandler(t *testing.T, log *slog.Logger) (*EventHandler, *atomic.Int32) {
	t.Helper()
	cp, err := NewComponent(compAppID, compSecret, WithBaseURL("http://127.0.0.1:1"), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	var n atomic.Int32
	count := func() { n.Add(1) }
	h, err := cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey, Now: fixedClock(sampleTime), Logger: log,
		OnTicket:           func(context.Context, *ComponentTicketEvent) error { count(); return nil },
		OnAuthorized:       func(context.Context, *AuthorizationEvent) error { count(); return nil },
		OnUpdateAuthorized: func(context.Context, *AuthorizationEvent) error { count(); return nil },
		OnUnauthorized:     func(context.Context, *UnauthorizedEvent) error { count(); return nil },
		OnEvent:            func(context.Context, *ComponentEvent) error { count(); return nil }})
	require.NoError(t, err)
	return h, &n
}

// TestComponentSealedFailuresLookAlike: the component handler answers every
// failure of a signed encrypted push (ciphertext or decrypted message) the
// same way.
func TestComponentSealedFailuresLookAlike(t *testing.T) {
	t.Parallel()
	ts := "1478068440"
	ticket := "<xml><AppId><![CDATA[" + compAppID + "]]></AppId><CreateTime>" + ts + "</CreateTime>" +
		"<InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@x]]></ComponentVerifyTicket></xml>"
	head := "<xml><AppId>" + compAppID + "</AppId><CreateTime>" + ts + "</CreateTime>"
	cases := sealedCases(t, vecKey, compAppID, ticket, map[string]string{
		"empty":                 "",
		"not XML":               "我是中文abcd123",
		"truncated":             ticket[:len(ticket)-3],
		"DOCTYPE":               "<!DOCTYPE x>" + ticket,
		"duplicate AppId":       strings.Replace(ticket, "<CreateTime>", "<AppId>x</AppId><CreateTime>", 1),
		"no CreateTime":         "<xml><AppId>" + compAppID + "</AppId><InfoType>unauthorized</InfoType><AuthorizerAppid>wx</AuthorizerAppid></xml>",
		"no InfoType":           head + "</xml>",
		"another AppId":         "<xml><AppId>wxother</AppId><CreateTime>" + ts + "</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wx</AuthorizerAppid></xml>",
		"no ticket":             head + "<InfoType>component_verify_ticket</InfoType></xml>",
		"no authorization code": head + "<InfoType>authorized</InfoType><AuthorizerAppid>wx</AuthorizerAppid></xml>",
		"no authorizer":         head + "<InfoType>unauthorized</InfoType></xml>",
	})
	envelope := "<xml><AppId><![CDATA[" + compAppID + "]]></AppId><Encrypt><![CDATA[%s]]></Encrypt></xml>"
	requireOneAnswer(t, cases, func(c sealedCase, log *slog.Logger) (*httptest.ResponseRecorder, int) {
		h, n := newRefusingComponentHandler(t, log)
		return serve(h, sealedReq("ctoken", ts, envelope, c.encrypt)), int(n.Load())
	})

	// The well-formed ticket the cases break is accepted.
	h, n := newRefusingComponentHandler(t, nil)
	c, err := wxcrypto.NewCipher(vecKey, compAppID)
	require.NoError(t, err)
	enc, err := c.Encrypt([]byte(ticket))
	require.NoError(t, err)
	requireSuccess(t, serve(h, sealedReq("ctoken", ts, envelope, enc)))
	require.EqualValues(t, 1, n.Load())
}

// TestComponentUnauthenticatedBodyNotRead: the component handler refuses a
// push with bad query signatures without waiting for its body.
func TestComponentUnauthenticatedBodyNotRead(t *testing.T) {
	t.Parallel()
	for name, tc := range unauthenticatedQueries("ctoken", sampleTime) {
		h, n := newRefusingComponentHandler(t, nil)
		rec := serveUnread(t, h, httptest.NewRequest(http.MethodPost, "/wx/component?"+tc.query, nil))
		require.Equal(t, tc.code, rec.Code, "%s: %s", name, rec.Body.String())
		require.Zero(t, n.Load())
	}
}
