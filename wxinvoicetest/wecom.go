package wxinvoicetest

import (
	"net/http"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file simulates the WeCom (企业微信) side on the same server: corp
// tokens (GET /cgi-bin/gettoken), the four reimbursement calls under
// /cgi-bin/card/invoice/reimburse/ over the same invoices and status
// machine as the Official Account reimburser (reimburse.go), and
// /cgi-bin/user/convert_to_openid over users registered with AddWeComUser.
// The corp is a reimburser of its own: its locks belong to CorpID, so the
// Official Account's reimbursers get 72023 on them and the other way round,
// and every change it makes is pushed to the platform as
// update_invoice_status.

// kindWeCom marks a corp access token: it is valid on the WeCom paths only,
// and an Official Account token is not valid there (40014 both ways).
const kindWeCom tokenKind = 100 // apart from token.go's iota kinds

// wecomState is the WeCom side's state, created on first use.
type wecomState struct {
	cur   string            // the corp's current token
	users map[string]string // userid → openid
}

// WithWeComCorp sets the fake WeCom corp's corpid and application secret
// (corpsecret) instead of random ones.
func WithWeComCorp(corpID, secret string) Option {
	return func(c *config) { c.corp = wecomCorp{id: corpID, secret: secret} }
}

// wecomCorp is the corp WithWeComCorp sets.
type wecomCorp struct{ id, secret string }

// ids returns the corp's corpid and secret, random ("ww…") where not set.
func (c wecomCorp) ids() (corpID, secret string) {
	corpID, secret = c.id, c.secret
	if corpID == "" {
		corpID = "ww" + randHex(8)
	}
	if secret == "" {
		secret = randB64(43)
	}
	return corpID, secret
}

// wecomRoutes are the WeCom paths: corp tokens only on the business calls.
func (s *Server) wecomRoutes() map[string]route {
	return map[string]route{
		"/cgi-bin/gettoken":                                   {routeToken, s.handleWeComToken},
		"/cgi-bin/user/convert_to_openid":                     {routeRaw, s.wecomAPI(s.handleConvertToOpenID)},
		"/cgi-bin/card/invoice/reimburse/getinvoiceinfo":      {routeRaw, s.wecomAPI(s.handleGetInvoiceInfo)},
		"/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch": {routeRaw, s.wecomAPI(s.handleGetInvoiceBatch)},
		"/cgi-bin/card/invoice/reimburse/updateinvoicestatus": {routeRaw, s.wecomAPI(s.handleUpdateInvoiceStatus)},
		"/cgi-bin/card/invoice/reimburse/updatestatusbatch":   {routeRaw, s.wecomAPI(s.handleUpdateStatusBatch)},
	}
}

// wecom returns the WeCom state. Callers hold s.mu.
func (s *Server) wecom() *wecomState {
	if s.wecomst == nil {
		s.wecomst = &wecomState{users: map[string]string{}}
	}
	return s.wecomst
}

// AddWeComUser registers a corp member: /cgi-bin/user/convert_to_openid
// answers openid for userID. Registering a userID again replaces its openid.
func (s *Server) AddWeComUser(userID, openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wecom().users[userID] = openID
}

// IssueWeComToken returns a fresh corp access token valid for 7200 s on the
// server's clock, without a request: handy for wxinvoice.StaticTokenSource.
func (s *Server) IssueWeComToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newWeComToken()
}

// newWeComToken issues a corp token acting as the reimburser CorpID.
// Callers hold s.mu.
func (s *Server) newWeComToken() string {
	tok := s.newToken(kindWeCom)
	s.biz().parties[tok] = s.CorpID
	return tok
}

// wecomFail answers errcode code with a WeCom-style errmsg: the text, a
// hint and the devtool link WeCom appends.
func (c *call) wecomFail(code int, msg string) {
	c.writeJSON(http.StatusOK, &wire.Status{ErrCode: wire.Int(code),
		ErrMsg: msg + ", hint: [" + randHex(12) + "], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=" + itoa(code)})
}

// handleWeComToken serves GET /cgi-bin/gettoken?corpid=&corpsecret=
// (获取access_token): WeCom answers the same token, with its remaining
// expires_in, while it is valid, and a new one once it expired or was
// revoked (RevokeTokens). Missing corpid → 41002, wrong corpid → 40013
// (invalid corpid), missing corpsecret → 41004, wrong corpsecret → 40001
// (invalid credential: 不合法的secret参数). The method is not checked.
func (s *Server) handleWeComToken(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := c.query
	switch {
	case q.Get("corpid") == "":
		c.wecomFail(41002, "corpid missing")
		return
	case q.Get("corpid") != s.CorpID:
		c.wecomFail(40013, "invalid corpid")
		return
	case q.Get("corpsecret") == "":
		c.wecomFail(41004, "corpsecret missing")
		return
	case q.Get("corpsecret") != s.CorpSecret:
		c.wecomFail(40001, "invalid credential")
		return
	}
	w := s.wecom()
	now := s.clk.now()
	if t := s.tok.tokens[w.cur]; t != nil && !t.revoked && now.Before(t.expires) {
		c.writeJSON(http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": w.cur,
			"expires_in": int64(t.expires.Sub(now).Seconds())})
		return
	}
	w.cur = s.newWeComToken()
	c.writeJSON(http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": w.cur,
		"expires_in": int64(tokenTTL.Seconds())})
}

// checkWeComToken returns the errcode of a WeCom call made with tok (0:
// valid): unknown, revoked or not a corp token → 40014 (invalid
// access_token), expired → 42001 (access_token expired).
func (s *Server) checkWeComToken(tok string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tok.tokens[tok]
	switch {
	case t == nil || t.kind != kindWeCom || t.revoked:
		return 40014
	case !s.clk.now().Before(t.expires):
		return 42001
	}
	return 0
}

// wecomAPI wraps the handler of a WeCom business call with WeCom's generic
// checks, in this order (not documented): method POST (43002), access_token
// present (41001) and a valid corp token (40014, 42001), body present
// (44002).
func (s *Server) wecomAPI(h func(*call)) func(*call) {
	return func(c *call) {
		if c.r.Method != http.MethodPost {
			c.wecomFail(43002, "require POST method")
			return
		}
		tok := c.query.Get("access_token")
		if tok == "" {
			c.wecomFail(41001, "access_token missing")
			return
		}
		switch s.checkWeComToken(tok) {
		case 40014:
			c.wecomFail(40014, "invalid access_token")
			return
		case 42001:
			c.wecomFail(42001, "access_token expired")
			return
		}
		if len(c.body) == 0 {
			c.wecomFail(44002, "empty post data")
			return
		}
		h(c)
	}
}

// handleConvertToOpenID serves POST /cgi-bin/user/convert_to_openid: the
// openid AddWeComUser registered for userid. An empty userid answers 40003
// (invalid userid), an unknown one 60111 (userid not found).
func (s *Server) handleConvertToOpenID(c *call) {
	var req wire.ConvertToOpenIDRequest
	if !c.decode(&req) {
		return
	}
	if req.UserID == "" {
		c.wecomFail(40003, "invalid userid")
		return
	}
	s.mu.Lock()
	openid, ok := s.wecom().users[req.UserID]
	s.mu.Unlock()
	if !ok {
		c.wecomFail(60111, "userid not found")
		return
	}
	c.ok(&wire.ConvertToOpenIDResponse{OpenID: openid})
}
