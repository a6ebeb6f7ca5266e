package wxinvoicetest

import (
	"bytes"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/pushtest"
	"github.com/wxinvoice/wxinvoice/internal/wire"
	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

// This file simulates the WeChat Open Platform side of a third-party
// platform (第三方平台, "component"): the component_verify_ticket pushes,
// component_access_token, pre-authorization and authorization codes, the
// authorizers' access and refresh tokens, and the authorized /
// updateauthorized / unauthorized pushes. Authorizer access tokens are
// accepted by every business endpoint like the server's own tokens.

// Documented windows of the component flow.
const (
	componentTicketTTL = 12 * time.Hour    // a component_verify_ticket
	preAuthCodeTTL     = 600 * time.Second // pre_auth_code (expires_in of the samples)
	authCodeTTL        = 600 * time.Second // authorization code (the redirect's expires_in)
)

// ComponentApp is the fake third-party platform: its component appid and
// secret, and the Token and EncodingAESKey its pushes are signed and
// encrypted with (the platform's 消息校验Token and 消息加解密Key).
type ComponentApp struct {
	AppID, AppSecret, Token, EncodingAESKey string
}

// ComponentStats counts the component calls the server answered successfully.
type ComponentStats struct {
	ComponentTokens     int            // component_access_tokens issued (api_component_token)
	PreAuthCodes        int            // api_create_preauthcode
	QueryAuths          int            // codes exchanged (api_query_auth)
	AuthorizerRefreshes map[string]int // authorizer appid → api_authorizer_token refreshes
}

// ComponentPush is one push to the component's authorization event URL, as
// listed by Server.ComponentPushes.
type ComponentPush struct {
	URL             string
	InfoType        string // component_verify_ticket, authorized, updateauthorized, unauthorized
	AuthorizerAppID string // "" for a ticket
	XML             []byte // the plaintext message (before encryption)
	Attempts        []PushAttempt
	Delivered       bool
}

type componentState struct {
	app         ComponentApp
	pushURL     string
	tickets     map[string]time.Time    // ticket → expiry
	tokens      map[string]*accessToken // component_access_token → state
	curToken    string
	preAuth     map[string]time.Time   // pre_auth_code → expiry
	codes       map[string]*authCode   // authorization code → its authorization
	authorizers map[string]*authorizer // authorizer appid → state
	authTokens  map[string]string      // authorizer_access_token → authorizer appid
	stats       ComponentStats
	pushes      []*ComponentPush
	client      *http.Client
}

type authCode struct {
	appID   string
	expires time.Time
}

type authorizer struct {
	appID        string
	authorized   bool
	refreshToken string
	exchanged    bool // a code was exchanged since the last (re)authorization
	authTime     time.Time
	perms        []int
	curToken     string
}

// comp returns the component state, creating it. Callers hold s.mu.
func (s *Server) comp() *componentState {
	if s.compState == nil {
		s.compState = &componentState{
			app: ComponentApp{AppID: "wx" + randHex(8), AppSecret: randHex(16), Token: "ctok" + randHex(6),
				EncodingAESKey: randAlnum(wxcrypto.EncodingAESKeyLen)},
			tickets: map[string]time.Time{}, tokens: map[string]*accessToken{}, preAuth: map[string]time.Time{},
			codes: map[string]*authCode{}, authorizers: map[string]*authorizer{}, authTokens: map[string]string{},
			stats: ComponentStats{AuthorizerRefreshes: map[string]int{}},
		}
	}
	return s.compState
}

func randAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := randBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Component returns the fake third-party platform's credentials (random,
// fixed for the server's life), to give to wxinvoice.NewComponent and
// Component.EventHandler.
func (s *Server) Component() ComponentApp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.comp().app
}

// SetComponentPushURL sets the platform's authorization event URL
// (授权事件接收URL), where the server pushes tickets and authorization events.
func (s *Server) SetComponentPushURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.comp().pushURL = url
}

// ComponentStats returns the component call counts.
func (s *Server) ComponentStats() ComponentStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.comp().stats
	m := make(map[string]int, len(st.AuthorizerRefreshes))
	for k, v := range st.AuthorizerRefreshes {
		m[k] = v
	}
	st.AuthorizerRefreshes = m
	return st
}

// ComponentPushes returns every component push made so far, oldest first.
func (s *Server) ComponentPushes() []ComponentPush {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ComponentPush, len(s.comp().pushes))
	for i, p := range s.comp().pushes {
		out[i] = *p
		out[i].XML = bytes.Clone(p.XML)
		out[i].Attempts = append([]PushAttempt(nil), p.Attempts...)
	}
	return out
}

// AuthorizerOf reports which authorizer an authorizer_access_token acts for.
func (s *Server) AuthorizerOf(accessToken string) (appID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	appID, ok = s.comp().authTokens[accessToken]
	return appID, ok
}

// IssueComponentTicket issues a component_verify_ticket, valid 12 hours on
// the server's clock, without pushing it.
func (s *Server) IssueComponentTicket() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTicket()
}

// newTicket issues a ticket. Callers hold s.mu.
func (s *Server) newTicket() string {
	t := "ticket@@@" + randB64(86)
	s.comp().tickets[t] = s.clk.now().Add(componentTicketTTL)
	return t
}

// PushComponentTicket issues a component_verify_ticket and pushes it to the
// authorization event URL now, as WeChat does every 10 minutes, waiting for
// the delivery (with WeChat's retries). It returns the ticket, and an error
// when no URL is set or no attempt was answered "success".
func (s *Server) PushComponentTicket() (string, error) {
	s.mu.Lock()
	ticket := s.newTicket()
	msg := s.componentXML(wxinvoice.InfoTypeComponentVerifyTicket, [][2]string{{"ComponentVerifyTicket", ticket}})
	s.mu.Unlock()
	return ticket, s.pushComponent(wxinvoice.InfoTypeComponentVerifyTicket, "", msg)
}

// StartComponentTicketPush pushes a fresh ticket every interval (wall
// clock; WeChat: 10 minutes), starting now, until stop is called or the
// server is closed. stop waits for a push in progress.
func (s *Server) StartComponentTicketPush(every time.Duration) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			_, _ = s.PushComponentTicket()
			select {
			case <-done:
				return
			case <-s.closing:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}

// AuthorizeComponent simulates the admin of the Official Account
// authorizerAppID authorizing the platform on the authorization page with
// the given permission sets (default: 8 微信卡券 and 26 微信电子发票). It
// returns the authorization code (valid 10 minutes, the redirect's
// auth_code) and pushes authorized — or updateauthorized when the account
// had already authorized the platform — to the authorization event URL,
// waiting for the delivery; the error reports a failed push.
//
// Every (re)authorization issues a new refresh token and revokes the
// account's access tokens (40001), as WeChat does on re-authorization.
func (s *Server) AuthorizeComponent(authorizerAppID string, permissions ...int) (string, error) {
	if len(permissions) == 0 {
		permissions = []int{8, 26}
	}
	s.mu.Lock()
	cs := s.comp()
	now := s.clk.now()
	a := cs.authorizers[authorizerAppID]
	if a == nil {
		a = &authorizer{appID: authorizerAppID}
		cs.authorizers[authorizerAppID] = a
	}
	info := wxinvoice.InfoTypeAuthorized
	if a.authorized {
		info = wxinvoice.InfoTypeUpdateAuthorized
	}
	s.revokeAuthorizerTokens(authorizerAppID)
	a.authorized, a.exchanged, a.authTime = true, false, now
	a.refreshToken = "refreshtoken@@@" + randB64(43)
	a.perms = append([]int(nil), permissions...)
	code := "queryauthcode@@@" + randB64(86)
	cs.codes[code] = &authCode{appID: authorizerAppID, expires: now.Add(authCodeTTL)}
	pre := "preauthcode@@@" + randB64(48)
	msg := s.componentXML(info, [][2]string{{"AuthorizerAppid", authorizerAppID}, {"AuthorizationCode", code},
		{"#AuthorizationCodeExpiredTime", strconv.FormatInt(now.Add(authCodeTTL).Unix(), 10)}, {"PreAuthCode", pre}})
	s.mu.Unlock()
	return code, s.pushComponent(info, authorizerAppID, msg)
}

// Unauthorize simulates the account revoking the platform's authorization:
// its access tokens answer 40001, refreshing answers 61003, its codes are
// void, and unauthorized is pushed to the authorization event URL (waiting
// for the delivery; the error reports a failed push).
func (s *Server) Unauthorize(authorizerAppID string) error {
	s.mu.Lock()
	cs := s.comp()
	if a := cs.authorizers[authorizerAppID]; a != nil {
		a.authorized = false
	}
	s.revokeAuthorizerTokens(authorizerAppID)
	for c, ac := range cs.codes {
		if ac.appID == authorizerAppID {
			delete(cs.codes, c)
		}
	}
	msg := s.componentXML(wxinvoice.InfoTypeUnauthorized, [][2]string{{"AuthorizerAppid", authorizerAppID}})
	s.mu.Unlock()
	return s.pushComponent(wxinvoice.InfoTypeUnauthorized, authorizerAppID, msg)
}

// revokeAuthorizerTokens makes the account's access tokens answer 40001.
// Callers hold s.mu.
func (s *Server) revokeAuthorizerTokens(authorizerAppID string) {
	for tok, a := range s.comp().authTokens {
		if a == authorizerAppID {
			if t := s.tok.tokens[tok]; t != nil {
				t.revoked = true
			}
		}
	}
	if a := s.comp().authorizers[authorizerAppID]; a != nil {
		a.curToken = ""
	}
}

// componentXML returns a push in the layout of WeChat's real pushes: one
// element per line, strings in CDATA; a field name starting with '#' is a
// number. Callers hold s.mu.
func (s *Server) componentXML(infoType string, fields [][2]string) []byte {
	d := pushtest.NewFlatDoc().Str("AppId", s.comp().app.AppID).
		Num("CreateTime", strconv.FormatInt(s.clk.now().Unix(), 10)).Str("InfoType", infoType)
	for _, f := range fields {
		if name, ok := strings.CutPrefix(f[0], "#"); ok {
			d.Num(name, f[1])
			continue
		}
		d.Str(f[0], f[1])
	}
	return d.Bytes()
}

var errNoComponentURL = errors.New("wxinvoicetest: no component push URL (SetComponentPushURL)")

// pushComponent encrypts msg for the component and POSTs it to the
// authorization event URL with WeChat's retry rule, recording the push.
func (s *Server) pushComponent(infoType, authorizerAppID string, msg []byte) error {
	s.mu.Lock()
	cs := s.comp()
	if cs.pushURL == "" {
		s.mu.Unlock()
		return errNoComponentURL
	}
	p := &ComponentPush{URL: cs.pushURL, InfoType: infoType, AuthorizerAppID: authorizerAppID, XML: msg}
	cs.pushes = append(cs.pushes, p)
	if cs.client == nil {
		cs.client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	app, client := cs.app, cs.client
	s.mu.Unlock()

	cfg := pushtest.Config{Token: app.Token, EncodingAESKey: app.EncodingAESKey, AppID: app.AppID, Envelope: "AppId"}
	if s.deliverSigned(client, p.URL, cfg, msg, func(a PushAttempt, ok bool) {
		p.Attempts = append(p.Attempts, a)
		p.Delivered = p.Delivered || ok
	}) {
		return nil
	}
	return errors.New("wxinvoicetest: " + infoType + " push not delivered")
}

// ---- Endpoints ----

// failMsg answers errcode code with msg and a rid suffix.
func (c *call) failMsg(code int, msg string) {
	c.writeJSON(http.StatusOK, &wire.Status{ErrCode: wire.Int(code), ErrMsg: msg + ridSuffix()})
}

// componentBody runs the generic checks of a component endpoint: POST
// (43002) and a JSON body (44002, 47001). Token checks are the caller's.
func (c *call) componentBody(v any) bool {
	if c.r.Method != http.MethodPost {
		c.fail(43002, "")
		return false
	}
	if len(bytes.TrimSpace(c.body)) == 0 {
		c.fail(44002, "")
		return false
	}
	return c.decode(v)
}

// componentAuth checks the component_access_token of a call (the query
// parameter component_access_token, or access_token as the newer docs name
// it): missing 41001, unknown 40014, superseded past the overlap 40001,
// expired 42001. Callers hold s.mu.
func (s *Server) componentAuth(c *call) bool {
	tok := c.query.Get("component_access_token")
	if tok == "" {
		tok = c.query.Get("access_token")
	}
	t := s.comp().tokens[tok]
	switch {
	case tok == "":
		c.fail(41001, "component_access_token missing")
	case t == nil:
		c.fail(40014, "")
	case t.revoked:
		c.fail(40001, "")
	case !s.clk.now().Before(t.expires):
		if t.superseded {
			c.fail(40001, "")
		} else {
			c.fail(42001, "")
		}
	default:
		return true
	}
	return false
}

// handleComponentToken serves POST /cgi-bin/component/api_component_token.
//
// Wrong component_appid 40013, wrong component_appsecret 40125, a ticket the
// server never issued 61006 (component ticket is invalid), one past its 12
// hours 61005 (component ticket is expired). Every success issues a new
// 7200 s token; the previous one stays valid 5 more minutes, then 40001.
func (s *Server) handleComponentToken(c *call) {
	var req wire.ComponentTokenRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, now := s.comp(), s.clk.now()
	exp, known := cs.tickets[req.ComponentVerifyTicket]
	switch {
	case req.ComponentAppID != cs.app.AppID:
		c.fail(40013, "")
		return
	case req.ComponentAppSecret != cs.app.AppSecret:
		c.fail(40125, "")
		return
	case !known:
		c.failMsg(61006, "component ticket is invalid")
		return
	case !now.Before(exp):
		c.failMsg(61005, "component ticket is expired")
		return
	}
	if prev := cs.tokens[cs.curToken]; prev != nil {
		if grace := now.Add(tokenOverlap); prev.expires.After(grace) {
			prev.expires = grace
		}
		prev.superseded = true
	}
	cs.curToken = "86_c" + randB64(120)
	cs.tokens[cs.curToken] = &accessToken{expires: now.Add(tokenTTL)}
	cs.stats.ComponentTokens++
	// Like the token endpoints, the success answer has no errcode/errmsg.
	c.writeJSON(http.StatusOK, map[string]any{"component_access_token": cs.curToken, "expires_in": int64(tokenTTL / time.Second)})
}

// handleStartPushTicket serves POST /cgi-bin/component/api_start_push_ticket
// (no token): wrong component_appid 40013, wrong component_secret 40125;
// otherwise ok (the pushes are whatever the test makes them).
func (s *Server) handleStartPushTicket(c *call) {
	var req wire.StartPushTicketRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch app := s.comp().app; {
	case req.ComponentAppID != app.AppID:
		c.fail(40013, "")
	case req.ComponentSecret != app.AppSecret:
		c.fail(40125, "")
	default:
		c.ok(&wire.Empty{})
	}
}

// handleCreatePreAuthCode serves POST /cgi-bin/component/api_create_preauthcode:
// a preauthcode@@@… code, expires_in 600.
func (s *Server) handleCreatePreAuthCode(c *call) {
	var req wire.ComponentAppIDRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.comp()
	if !s.componentAuth(c) {
		return
	}
	if req.ComponentAppID != cs.app.AppID {
		c.fail(40013, "")
		return
	}
	code := "preauthcode@@@" + randB64(48)
	cs.preAuth[code] = s.clk.now().Add(preAuthCodeTTL)
	cs.stats.PreAuthCodes++
	c.ok(&wire.PreAuthCodeResponse{PreAuthCode: code, ExpiresIn: wire.Int(preAuthCodeTTL / time.Second)})
}

// handleQueryAuth serves POST /cgi-bin/component/api_query_auth.
//
// A code the server never issued, or one voided by Unauthorize, answers
// 40029 (invalid code); one past its 10 minutes 61010 (code is expired).
// A valid code may be exchanged more than once (WeChat does not document
// whether it can); each exchange issues a new access token (the previous
// one stays valid 5 more minutes) and returns the current refresh token.
func (s *Server) handleQueryAuth(c *call) {
	var req wire.QueryAuthRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, now := s.comp(), s.clk.now()
	if !s.componentAuth(c) {
		return
	}
	ac := cs.codes[req.AuthorizationCode]
	switch {
	case req.ComponentAppID != cs.app.AppID:
		c.fail(40013, "")
		return
	case ac == nil:
		c.failMsg(40029, "invalid code")
		return
	case !now.Before(ac.expires):
		c.failMsg(61010, "code is expired")
		return
	}
	a := cs.authorizers[ac.appID]
	a.exchanged = true
	tok := s.newAuthorizerToken(a)
	cs.stats.QueryAuths++
	info := wire.AuthorizationInfo{AuthorizerAppID: a.appID, AuthorizerAccessToken: tok,
		ExpiresIn: wire.Int(tokenTTL / time.Second), AuthorizerRefreshToken: a.refreshToken}
	for _, p := range a.perms {
		info.FuncInfo = append(info.FuncInfo, wire.FuncInfo{FuncscopeCategory: wire.FuncscopeCategory{ID: wire.Int(p)}})
	}
	c.ok(&wire.QueryAuthResponse{AuthorizationInfo: info})
}

// newAuthorizerToken issues an access token for a, superseding its previous
// one after the 5-minute overlap. Callers hold s.mu.
func (s *Server) newAuthorizerToken(a *authorizer) string {
	now := s.clk.now()
	if prev := s.tok.tokens[a.curToken]; prev != nil {
		if grace := now.Add(tokenOverlap); prev.expires.After(grace) {
			prev.expires = grace
		}
		prev.superseded = true
	}
	a.curToken = s.newToken(kindAuthorizer)
	s.comp().authTokens[a.curToken] = a.appID
	return a.curToken
}

// handleAuthorizerToken serves POST /cgi-bin/component/api_authorizer_token.
//
// An account that never authorized the platform or revoked it answers 61003
// (component is not authorized by this account); a refresh token that is not
// the account's current one 61023 (refresh_token is invalid). Otherwise a
// new 7200 s access token (the previous one stays valid 5 more minutes) and
// the unchanged refresh token.
func (s *Server) handleAuthorizerToken(c *call) {
	var req wire.AuthorizerTokenRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.comp()
	if !s.componentAuth(c) {
		return
	}
	a := cs.authorizers[req.AuthorizerAppID]
	switch {
	case req.ComponentAppID != cs.app.AppID:
		c.fail(40013, "")
		return
	case a == nil || !a.authorized:
		c.failMsg(61003, "component is not authorized by this account")
		return
	case req.AuthorizerRefreshToken != a.refreshToken:
		c.failMsg(61023, "refresh_token is invalid")
		return
	}
	tok := s.newAuthorizerToken(a)
	cs.stats.AuthorizerRefreshes[a.appID]++
	c.ok(&wire.AuthorizerTokenResponse{AuthorizerAccessToken: tok, ExpiresIn: wire.Int(tokenTTL / time.Second),
		AuthorizerRefreshToken: a.refreshToken})
}

// handleAuthorizerList serves POST /cgi-bin/component/api_get_authorizer_list:
// the authorized accounts by appid, refresh_token only for those whose code
// was exchanged since their last authorization. count must be 1..500 and
// offset ≥ 0 (else 40035).
func (s *Server) handleAuthorizerList(c *call) {
	var req wire.AuthorizerListRequest
	if !c.componentBody(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.comp()
	if !s.componentAuth(c) {
		return
	}
	switch {
	case req.ComponentAppID != cs.app.AppID:
		c.fail(40013, "")
		return
	case req.Offset < 0 || req.Count < 1 || req.Count > 500:
		c.fail(40035, "offset must be >= 0 and count 1..500")
		return
	}
	var ids []string
	for id, a := range cs.authorizers {
		if a.authorized {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	resp := &wire.AuthorizerListResponse{TotalCount: wire.Int(len(ids)), List: []wire.AuthorizerListItem{}}
	for i := req.Offset; i < len(ids) && i < req.Offset+req.Count; i++ {
		a := cs.authorizers[ids[i]]
		it := wire.AuthorizerListItem{AuthorizerAppID: a.appID, AuthTime: wire.Int(a.authTime.Unix())}
		if a.exchanged {
			it.RefreshToken = a.refreshToken
		}
		resp.List = append(resp.List, it)
	}
	c.ok(resp)
}
