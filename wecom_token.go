package wxinvoice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// opWeComToken is WeCom's token endpoint (获取access_token). Its URL carries
// the corpsecret, which redact blanks wherever the URL could surface.
var opWeComToken = &operation{path: "/cgi-bin/gettoken", method: "GET"}

// weComTokenKey is the TokenStore key of a corp's token: WeCom issues one
// token per corp and application secret (每个应用有独立的secret), so the key
// names the corp and a digest of the secret — never the secret itself.
// Without a secret (WithTokenSource) the key names the corp only.
func weComTokenKey(corpID, secret string) string {
	if secret == "" {
		return "wecom_token:" + corpID + ":tokensource"
	}
	sum := sha256.Sum256([]byte("wxinvoice wecom_token key\x00" + corpID + "\x00" + secret))
	return "wecom_token:" + corpID + ":" + hex.EncodeToString(sum[:8])
}

// corpTokenSource fetches a corp's access token with
// GET /cgi-bin/gettoken?corpid=&corpsecret= through the Client's request
// path. WeCom answers the same token while it is valid and a new one after
// it expired or was invalidated early; there is no force refresh.
type corpTokenSource struct {
	c      *Client
	corpID string
	secret string
}

func (s *corpTokenSource) Token(ctx context.Context) (Token, error) {
	q := "?corpid=" + url.QueryEscape(s.corpID) + "&corpsecret=" + url.QueryEscape(s.secret)
	var resp wire.TokenResponse
	start := time.Now()
	if err := s.c.roundTrip(ctx, opWeComToken, s.c.baseURL+opWeComToken.path+q, nil, &resp); err != nil {
		return Token{}, err
	}
	if apiErr := s.c.apiError(opWeComToken.path, &resp.Status); apiErr != nil {
		return Token{}, apiErr
	}
	if resp.AccessToken == "" {
		return Token{}, &OpError{Op: opWeComToken.path, Err: errors.New("empty access_token in response")}
	}
	return Token{Value: resp.AccessToken, ExpiresAt: tokenExpiry(start, resp.ExpiresIn)}, nil
}
