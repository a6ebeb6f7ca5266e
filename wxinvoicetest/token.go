package wxinvoicetest

import (
	"net/http"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// Documented token windows.
const (
	tokenTTL        = 7200 * time.Second // expires_in of a fresh token
	tokenOverlap    = 5 * time.Minute    // old and new both valid; stable_token rotates this early
	forceRefreshGap = 30 * time.Second   // force_refresh at most this often
	forceRefreshDay = 20                 // force_refresh calls per day
)

// chinaTime is the zone WeChat's daily quotas reset in.
var chinaTime = time.FixedZone("CST", 8*3600)

type tokenKind int

const (
	kindToken  tokenKind = iota // GET /cgi-bin/token
	kindStable                  // POST /cgi-bin/stable_token
	kindIssued                  // Server.IssueToken

	kindAuthorizer // an authorizer_access_token (component.go)
)

type accessToken struct {
	kind       tokenKind
	expires    time.Time
	revoked    bool // force refresh or RevokeTokens: 40001 at once
	superseded bool // replaced by a newer /cgi-bin/token: 40001 after the overlap
}

type tokenState struct {
	tokens     map[string]*accessToken
	cur        string // latest /cgi-bin/token token
	curStable  string // latest stable_token token
	forceDay   string // the China-time day forceCount counts
	forceCount int
	lastForce  time.Time
	stats      TokenStats
}

// TokenStats counts the requests received on the token endpoints.
type TokenStats struct {
	Token        int // requests to GET /cgi-bin/token, whatever the answer
	Stable       int // requests to POST /cgi-bin/stable_token, whatever the answer (force_refresh included)
	ForceRefresh int // stable_token force refreshes that issued a token
}

// TokenFetches returns how many requests the server received on
// /cgi-bin/token and /cgi-bin/stable_token together, successful or not
// (requests failed by an injected fault included).
func (s *Server) TokenFetches() int {
	st := s.TokenStats()
	return st.Token + st.Stable
}

// TokenStats returns the token endpoints' request counts.
func (s *Server) TokenStats() TokenStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok.stats
}

// IssueToken returns a fresh access token valid for 7200 s on the server's
// clock, without a request and without touching the tokens of the token
// endpoints: handy for wxinvoice.StaticTokenSource.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newToken(kindIssued)
}

// RevokeTokens invalidates every token issued so far (calls with them answer
// 40001), as when another process force-refreshes or the secret is reset. The
// next token request issues a new one.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tok.tokens {
		t.revoked = true
	}
	s.tok.cur, s.tok.curStable = "", ""
}

// newToken issues a token of kind valid for tokenTTL. Callers hold s.mu.
func (s *Server) newToken(kind tokenKind) string {
	v := "86_" + randB64(130)
	s.tok.tokens[v] = &accessToken{kind: kind, expires: s.clk.now().Add(tokenTTL)}
	return v
}

// checkToken returns the errcode for a call made with tok (0: valid).
//
// Unknown → 40014 (invalid access_token). Revoked by a force refresh or
// RevokeTokens, or superseded by a newer /cgi-bin/token and past the 5-minute
// overlap → 40001 (invalid credential, access_token is invalid or not latest:
// what WeChat answers for a token that is no longer the latest). Past its
// 7200 s → 42001 (access_token expired).
func (s *Server) checkToken(tok string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tok.tokens[tok]
	switch {
	case t == nil || t.kind == kindWeCom: // a corp token is WeCom's only (wecom.go)
		return 40014, ""
	case t.revoked:
		return 40001, ""
	case !s.clk.now().Before(t.expires):
		if t.superseded {
			return 40001, ""
		}
		return 42001, ""
	}
	return 0, ""
}

// tokenSuccess is the success answer of both token endpoints. It is a map,
// not wire.TokenResponse, because WeChat's success answer carries no
// errcode/errmsg at all and clients must cope with their absence.
func tokenSuccess(token string, expiresIn time.Duration) map[string]any {
	return map[string]any{"access_token": token, "expires_in": int64(expiresIn / time.Second)}
}

// handleToken serves GET /cgi-bin/token?grant_type=client_credential&appid=&secret=.
//
// Every successful call issues a new token; the previous one stays valid for
// 5 more minutes (then 40001). Wrong grant_type → 40002, wrong appid → 40013,
// wrong secret → 40001. The method is not checked.
func (s *Server) handleToken(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := c.query
	switch {
	case q.Get("grant_type") != "client_credential":
		c.fail(40002, "")
		return
	case q.Get("appid") != s.AppID:
		c.fail(40013, "")
		return
	case q.Get("secret") != s.AppSecret:
		c.fail(40001, "")
		return
	}
	now := s.clk.now()
	if prev := s.tok.tokens[s.tok.cur]; prev != nil {
		if grace := now.Add(tokenOverlap); prev.expires.After(grace) {
			prev.expires = grace
		}
		prev.superseded = true
	}
	s.tok.cur = s.newToken(kindToken)
	c.writeJSON(http.StatusOK, tokenSuccess(s.tok.cur, tokenTTL))
}

// handleStableToken serves POST /cgi-bin/stable_token.
//
// Normal mode returns the current token, with its remaining expires_in, while
// more than 5 minutes are left, and a new one after that (the old one stays
// valid until it expires). force_refresh issues a new token and revokes the
// previous one at once (40001); it is allowed 20 times per day (China time) and
// 30 s apart, else 45009 — the code WeChat documents for exceeded quotas: the
// daily limit answers "reach max api daily quota limit", the 30 s spacing
// "api freq out of limit". Wrong grant_type → 40002, wrong appid → 40013,
// wrong secret → 40125 (invalid appsecret). GET → 43002, empty body → 44002,
// non-JSON → 47001.
func (s *Server) handleStableToken(c *call) {
	if c.r.Method != http.MethodPost {
		c.fail(43002, "")
		return
	}
	if len(c.body) == 0 {
		c.fail(44002, "")
		return
	}
	var req wire.StableTokenRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.GrantType != "client_credential":
		c.fail(40002, "")
		return
	case req.AppID != s.AppID:
		c.fail(40013, "")
		return
	case req.Secret != s.AppSecret:
		c.fail(40125, "")
		return
	}
	now := s.clk.now()
	if req.ForceRefresh {
		day := now.In(chinaTime).Format(time.DateOnly)
		if day != s.tok.forceDay {
			s.tok.forceDay, s.tok.forceCount = day, 0
		}
		if s.tok.forceCount >= forceRefreshDay {
			c.fail(45009, "force_refresh is limited to 20 per day")
			return
		}
		if !s.tok.lastForce.IsZero() && now.Sub(s.tok.lastForce) < forceRefreshGap {
			c.writeJSON(http.StatusOK, &wire.Status{ErrCode: 45009,
				ErrMsg: "api freq out of limit, force_refresh must be 30 s apart" + ridSuffix()})
			return
		}
		s.tok.forceCount++
		s.tok.lastForce = now
		s.tok.stats.ForceRefresh++
		if prev := s.tok.tokens[s.tok.curStable]; prev != nil {
			prev.revoked = true
		}
		s.tok.curStable = s.newToken(kindStable)
		c.writeJSON(http.StatusOK, tokenSuccess(s.tok.curStable, tokenTTL))
		return
	}
	if cur := s.tok.tokens[s.tok.curStable]; cur != nil && !cur.revoked {
		if left := cur.expires.Sub(now); left > tokenOverlap {
			c.writeJSON(http.StatusOK, tokenSuccess(s.tok.curStable, left))
			return
		}
	}
	s.tok.curStable = s.newToken(kindStable)
	c.writeJSON(http.StatusOK, tokenSuccess(s.tok.curStable, tokenTTL))
}
