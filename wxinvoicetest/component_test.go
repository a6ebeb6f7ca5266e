package wxinvoicetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// compPost sends body to a component endpoint with the component token in
// component_access_token ("" leaves it out).
func compPost(t *testing.T, srv *Server, path, ctok string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	u := srv.URL + path
	if ctok != "" {
		u += "?component_access_token=" + url.QueryEscape(ctok)
	}
	resp, raw := send(t, http.MethodPost, u, "application/json", b)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	return raw
}

// componentToken fetches a component_access_token with a fresh ticket.
func componentToken(t *testing.T, srv *Server) string {
	t.Helper()
	app := srv.Component()
	raw := compPost(t, srv, "/cgi-bin/component/api_component_token", "", wire.ComponentTokenRequest{
		ComponentAppID: app.AppID, ComponentAppSecret: app.AppSecret, ComponentVerifyTicket: srv.IssueComponentTicket()})
	var tr wire.ComponentTokenResponse
	require.NoError(t, json.Unmarshal(raw, &tr), string(raw))
	require.NotEmpty(t, tr.ComponentAccessToken, string(raw))
	require.NotContains(t, string(raw), "errcode", "like the token endpoints, no envelope on success")
	require.Equal(t, wire.Int(7200), tr.ExpiresIn)
	return tr.ComponentAccessToken
}

// exchange authorizes appID (no push URL: nothing is pushed) and exchanges
// the code; it returns the authorization info.
func exchange(t *testing.T, srv *Server, ctok, appID string, perms ...int) wire.AuthorizationInfo {
	t.Helper()
	code, err := srv.AuthorizeComponent(appID, perms...)
	require.ErrorIs(t, err, errNoComponentURL)
	raw := compPost(t, srv, "/cgi-bin/component/api_query_auth", ctok, wire.QueryAuthRequest{
		ComponentAppID: srv.Component().AppID, AuthorizationCode: code})
	return decodeOK[wire.QueryAuthResponse](t, raw).AuthorizationInfo
}

func TestComponentApp(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	require.Equal(t, app, srv.Component(), "fixed for the server's life")
	require.True(t, strings.HasPrefix(app.AppID, "wx"))
	require.Len(t, app.EncodingAESKey, wxcrypto.EncodingAESKeyLen)
	_, err := wxcrypto.NewCipher(app.EncodingAESKey, app.AppID)
	require.NoError(t, err)
	require.NotEqual(t, app.AppID, srv.AppID)
}

func TestComponentTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	req := func(appID, secret, ticket string) []byte {
		return compPost(t, srv, "/cgi-bin/component/api_component_token", "", wire.ComponentTokenRequest{
			ComponentAppID: appID, ComponentAppSecret: secret, ComponentVerifyTicket: ticket})
	}
	ticket := srv.IssueComponentTicket()
	require.True(t, strings.HasPrefix(ticket, "ticket@@@"))
	requireCode(t, 40013, req("wxother", app.AppSecret, ticket))
	requireCode(t, 40125, req(app.AppID, "bad", ticket))
	requireCode(t, 61006, req(app.AppID, app.AppSecret, "ticket@@@unknown"))
	_, raw := send(t, http.MethodPost, srv.URL+"/cgi-bin/component/api_component_token", "application/json", []byte(" "))
	requireCode(t, 44002, raw)
	_, raw = send(t, http.MethodPost, srv.URL+"/cgi-bin/component/api_component_token", "application/json", []byte("{"))
	requireCode(t, 47001, raw)
	resp, raw := send(t, http.MethodGet, srv.URL+"/cgi-bin/component/api_component_token", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireCode(t, 43002, raw)

	first := componentToken(t, srv)
	second := componentToken(t, srv)
	require.NotEqual(t, first, second)
	pre := wire.ComponentAppIDRequest{ComponentAppID: app.AppID}
	// The previous token stays valid 5 minutes after a new one is issued.
	decodeOK[wire.PreAuthCodeResponse](t, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", first, pre))
	srv.Advance(5*time.Minute + time.Second)
	requireCode(t, 40001, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", first, pre))
	decodeOK[wire.PreAuthCodeResponse](t, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", second, pre))
	srv.Advance(2 * time.Hour)
	requireCode(t, 42001, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", second, pre))
	requireCode(t, 41001, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", "", pre))
	requireCode(t, 40014, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", "nope", pre))
	// The newer docs' access_token spelling is accepted too.
	third := componentToken(t, srv)
	_, raw = send(t, http.MethodPost, srv.URL+"/cgi-bin/component/api_create_preauthcode?access_token="+url.QueryEscape(third),
		"application/json", []byte(`{"component_appid":"`+app.AppID+`"}`))
	p := decodeOK[wire.PreAuthCodeResponse](t, raw)
	require.True(t, strings.HasPrefix(p.PreAuthCode, "preauthcode@@@"))
	require.Equal(t, wire.Int(600), p.ExpiresIn)

	// Tickets expire after 12 hours.
	srv.Advance(12 * time.Hour)
	requireCode(t, 61005, req(app.AppID, app.AppSecret, ticket))
	require.Equal(t, 3, srv.ComponentStats().ComponentTokens)
}

func TestComponentStartPushTicket(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	decodeOK[wire.Empty](t, compPost(t, srv, "/cgi-bin/component/api_start_push_ticket", "",
		wire.StartPushTicketRequest{ComponentAppID: app.AppID, ComponentSecret: app.AppSecret}))
	requireCode(t, 40125, compPost(t, srv, "/cgi-bin/component/api_start_push_ticket", "",
		wire.StartPushTicketRequest{ComponentAppID: app.AppID, ComponentSecret: "x"}))
	requireCode(t, 40013, compPost(t, srv, "/cgi-bin/component/api_start_push_ticket", "",
		wire.StartPushTicketRequest{ComponentAppID: "wx", ComponentSecret: app.AppSecret}))
}

func TestComponentAuthorization(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	ctok := componentToken(t, srv)
	info := exchange(t, srv, ctok, "wxmerchant1")
	require.Equal(t, "wxmerchant1", info.AuthorizerAppID)
	require.True(t, strings.HasPrefix(info.AuthorizerRefreshToken, "refreshtoken@@@"))
	require.Equal(t, wire.Int(7200), info.ExpiresIn)
	require.Equal(t, []wire.FuncInfo{{FuncscopeCategory: wire.FuncscopeCategory{ID: 8}}, {FuncscopeCategory: wire.FuncscopeCategory{ID: 26}}}, info.FuncInfo)
	who, ok := srv.AuthorizerOf(info.AuthorizerAccessToken)
	require.True(t, ok)
	require.Equal(t, "wxmerchant1", who)
	_, ok = srv.AuthorizerOf(ctok)
	require.False(t, ok)

	// Authorizer tokens work on the business endpoints; component tokens do not.
	cardID := createCard(t, srv, info.AuthorizerAccessToken)
	require.NotEmpty(t, cardID)
	requireCode(t, 40014, post(t, srv, "/card/invoice/platform/createcard", ctok, validCard()))
	// ...and an authorizer token is no component token.
	requireCode(t, 40014, compPost(t, srv, "/cgi-bin/component/api_create_preauthcode", info.AuthorizerAccessToken,
		wire.ComponentAppIDRequest{ComponentAppID: app.AppID}))

	qa := func(code string) []byte {
		return compPost(t, srv, "/cgi-bin/component/api_query_auth", ctok, wire.QueryAuthRequest{ComponentAppID: app.AppID, AuthorizationCode: code})
	}
	requireCode(t, 40029, qa("queryauthcode@@@unknown"))
	code, err := srv.AuthorizeComponent("wxmerchant2", 26)
	require.ErrorIs(t, err, errNoComponentURL)
	srv.Advance(authCodeTTL)
	requireCode(t, 61010, qa(code))

	// Refresh.
	refresh := func(appID, rt string) []byte {
		return compPost(t, srv, "/cgi-bin/component/api_authorizer_token", ctok, wire.AuthorizerTokenRequest{
			ComponentAppID: app.AppID, AuthorizerAppID: appID, AuthorizerRefreshToken: rt})
	}
	rr := decodeOK[wire.AuthorizerTokenResponse](t, refresh("wxmerchant1", info.AuthorizerRefreshToken))
	require.Equal(t, info.AuthorizerRefreshToken, rr.AuthorizerRefreshToken, "unchanged")
	require.NotEqual(t, info.AuthorizerAccessToken, rr.AuthorizerAccessToken)
	requireCode(t, 61023, refresh("wxmerchant1", "refreshtoken@@@wrong"))
	requireCode(t, 61003, refresh("wxnobody", "x"))
	require.Equal(t, map[string]int{"wxmerchant1": 1}, srv.ComponentStats().AuthorizerRefreshes)
	// The previous access token lasts 5 more minutes.
	decodeOK[wire.CardIDResponse](t, post(t, srv, "/card/invoice/platform/createcard", info.AuthorizerAccessToken, validCard()))
	srv.Advance(tokenOverlap)
	requireCode(t, 40001, post(t, srv, "/card/invoice/platform/createcard", info.AuthorizerAccessToken, validCard()))
	decodeOK[wire.CardIDResponse](t, post(t, srv, "/card/invoice/platform/createcard", rr.AuthorizerAccessToken, validCard()))

	// Unauthorize: tokens 40001, refresh 61003.
	require.ErrorIs(t, srv.Unauthorize("wxmerchant1"), errNoComponentURL)
	requireCode(t, 40001, post(t, srv, "/card/invoice/platform/createcard", rr.AuthorizerAccessToken, validCard()))
	requireCode(t, 61003, refresh("wxmerchant1", info.AuthorizerRefreshToken))

	// Re-authorization: a new refresh token, the old one is void.
	again := exchange(t, srv, ctok, "wxmerchant1")
	require.NotEqual(t, info.AuthorizerRefreshToken, again.AuthorizerRefreshToken)
	requireCode(t, 61023, refresh("wxmerchant1", info.AuthorizerRefreshToken))
}

func TestComponentAuthorizerList(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	ctok := componentToken(t, srv)
	info := exchange(t, srv, ctok, "wxb")
	_, err := srv.AuthorizeComponent("wxa") // authorized, code never exchanged
	require.ErrorIs(t, err, errNoComponentURL)
	exchange(t, srv, ctok, "wxc")
	require.ErrorIs(t, srv.Unauthorize("wxc"), errNoComponentURL)
	list := func(offset, count int) []byte {
		return compPost(t, srv, "/cgi-bin/component/api_get_authorizer_list", ctok, wire.AuthorizerListRequest{
			ComponentAppID: app.AppID, Offset: offset, Count: count})
	}
	l := decodeOK[wire.AuthorizerListResponse](t, list(0, 500))
	require.Equal(t, wire.Int(2), l.TotalCount)
	require.Equal(t, []wire.AuthorizerListItem{
		{AuthorizerAppID: "wxa", AuthTime: wire.Int(t0.Unix())},
		{AuthorizerAppID: "wxb", RefreshToken: info.AuthorizerRefreshToken, AuthTime: wire.Int(t0.Unix())},
	}, l.List)
	l = decodeOK[wire.AuthorizerListResponse](t, list(1, 1))
	require.Len(t, l.List, 1)
	require.Equal(t, "wxb", l.List[0].AuthorizerAppID)
	requireCode(t, 40035, list(0, 501))
	requireCode(t, 40035, list(-1, 10))
}

// pushReceiver records the component pushes it gets, checking them as a
// platform would with wxcrypto alone.
type pushReceiver struct {
	t    *testing.T
	app  ComponentApp
	mu   sync.Mutex
	msgs []string
	fail int // answer the next fail pushes with 500
}

func (rcv *pushReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := rcv.t
	q := r.URL.Query()
	body, _ := io.ReadAll(r.Body)
	require.Equal(t, "aes", q.Get("encrypt_type"))
	require.True(t, wxcrypto.VerifySignature(q.Get("signature"), rcv.app.Token, q.Get("timestamp"), q.Get("nonce")))
	s := string(body)
	require.True(t, strings.HasPrefix(s, "<xml>\n    <AppId><![CDATA["+rcv.app.AppID+"]]></AppId>\n    <Encrypt><![CDATA["), s)
	enc := s[strings.Index(s, "<Encrypt><![CDATA[")+len("<Encrypt><![CDATA[") : strings.Index(s, "]]></Encrypt>")]
	require.True(t, wxcrypto.VerifySignature(q.Get("msg_signature"), rcv.app.Token, q.Get("timestamp"), q.Get("nonce"), enc))
	c, err := wxcrypto.NewCipher(rcv.app.EncodingAESKey, rcv.app.AppID)
	require.NoError(t, err)
	msg, err := c.Decrypt(enc)
	require.NoError(t, err)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.fail > 0 {
		rcv.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rcv.msgs = append(rcv.msgs, string(msg))
	_, _ = io.WriteString(w, "success")
}

func TestComponentPushes(t *testing.T) {
	t.Parallel()
	srv := start(t)
	app := srv.Component()
	rcv := &pushReceiver{t: t, app: app}
	hs := httptest.NewServer(rcv)
	t.Cleanup(hs.Close)
	_, err := srv.PushComponentTicket()
	require.ErrorIs(t, err, errNoComponentURL)
	srv.SetComponentPushURL(hs.URL)

	rcv.fail = 2
	ticket, err := srv.PushComponentTicket()
	require.NoError(t, err)
	code, err := srv.AuthorizeComponent("wxm")
	require.NoError(t, err)
	_, err = srv.AuthorizeComponent("wxm", 26)
	require.NoError(t, err)
	require.NoError(t, srv.Unauthorize("wxm"))
	require.Len(t, rcv.msgs, 4)
	ct := itoa(int(t0.Unix()))
	require.Equal(t, "<xml><AppId><![CDATA["+app.AppID+"]]></AppId>\n<CreateTime>"+ct+"</CreateTime>\n"+
		"<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n<ComponentVerifyTicket><![CDATA["+ticket+"]]></ComponentVerifyTicket>\n</xml>", rcv.msgs[0])
	require.Contains(t, rcv.msgs[1], "<InfoType><![CDATA[authorized]]></InfoType>\n<AuthorizerAppid><![CDATA[wxm]]></AuthorizerAppid>\n"+
		"<AuthorizationCode><![CDATA["+code+"]]></AuthorizationCode>\n<AuthorizationCodeExpiredTime>"+itoa(int(t0.Add(authCodeTTL).Unix()))+"</AuthorizationCodeExpiredTime>\n<PreAuthCode><![CDATA[preauthcode@@@")
	require.Contains(t, rcv.msgs[2], "<InfoType><![CDATA[updateauthorized]]></InfoType>")
	require.Equal(t, "<xml><AppId><![CDATA["+app.AppID+"]]></AppId>\n<CreateTime>"+ct+"</CreateTime>\n"+
		"<InfoType><![CDATA[unauthorized]]></InfoType>\n<AuthorizerAppid><![CDATA[wxm]]></AuthorizerAppid>\n</xml>", rcv.msgs[3])

	pushes := srv.ComponentPushes()
	require.Len(t, pushes, 4)
	require.Len(t, pushes[0].Attempts, 3, "retried after two 500s")
	require.True(t, pushes[0].Delivered)
	require.Equal(t, wxinvoice.InfoTypeComponentVerifyTicket, pushes[0].InfoType)
	require.Equal(t, "wxm", pushes[3].AuthorizerAppID)

	// Every attempt failing: an error, and the push is recorded undelivered.
	rcv.fail = 100
	_, err = srv.PushComponentTicket()
	require.Error(t, err)
	pushes = srv.ComponentPushes()
	require.False(t, pushes[4].Delivered)
	require.Len(t, pushes[4].Attempts, 4, "1 + 3 retries")
}
