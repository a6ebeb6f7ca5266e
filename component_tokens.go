package wxinvoice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the Component's token lifecycle: the store keys, the
// component_access_token from the pushed ticket, each authorizer's access
// token and the refresh token it is renewed with (stored before use,
// swapped atomically, recovered with api_get_authorizer_list), and the
// revocations the unauthorized push records. The public API is in
// component.go.

func (cp *Component) ticketKey() string { return "component_verify_ticket:" + cp.appID }
func (cp *Component) accessKey(authorizer string) string {
	return "authorizer_access_token:" + cp.appID + ":" + authorizer
}
func (cp *Component) refreshKey(authorizer string) string {
	return "authorizer_refresh_token:" + cp.appID + ":" + authorizer
}
func (cp *Component) revokedKey(authorizer string) string {
	return "authorizer_revoked:" + cp.appID + ":" + authorizer
}
func (cp *Component) authorizedKey(authorizer string) string {
	return "authorizer_authorized:" + cp.appID + ":" + authorizer
}

// componentTokenSource fetches the component_access_token with the ticket in
// the TokenStore. The Component's tokenCache around it caches, refreshes
// ahead of expiry, shares through the store and invalidates on rejection.
type componentTokenSource struct{ cp *Component }

func (s *componentTokenSource) Token(ctx context.Context) (Token, error) {
	cp := s.cp
	t, ok, err := cp.store.GetToken(ctx, cp.ticketKey())
	if err != nil {
		return Token{}, &OpError{Op: opComponentToken.path, Err: fmt.Errorf("read component_verify_ticket from the TokenStore: %w", err)}
	}
	if !ok || t.Value == "" {
		return Token{}, &ticketError{appID: cp.appID}
	}
	if !t.ExpiresAt.IsZero() && !cp.now().Before(t.ExpiresAt) {
		return Token{}, &ticketError{appID: cp.appID, received: t.ExpiresAt.Add(-ComponentTicketTTL)}
	}
	cp.red.add(t.Value)
	start := time.Now()
	var resp wire.ComponentTokenResponse
	err = cp.postNoToken(ctx, opComponentToken, &wire.ComponentTokenRequest{
		ComponentAppID: cp.appID, ComponentAppSecret: cp.secret, ComponentVerifyTicket: t.Value}, &resp)
	if err != nil {
		return Token{}, err
	}
	if resp.ComponentAccessToken == "" {
		return Token{}, &OpError{Op: opComponentToken.path, Err: errors.New("empty component_access_token in response")}
	}
	return Token{Value: resp.ComponentAccessToken, ExpiresAt: tokenExpiry(start, resp.ExpiresIn)}, nil
}

// storeTicket records a ticket WeChat pushed, valid ComponentTicketTTL from
// received. The receipt time is used rather than the push's CreateTime so
// that a clock difference with WeChat cannot make a fresh ticket look
// expired; WeChat itself answers 61005 for a ticket that really is.
func (cp *Component) storeTicket(ctx context.Context, ticket string, received time.Time) error {
	cp.red.add(ticket)
	return cp.store.SetToken(ctx, cp.ticketKey(), Token{Value: ticket, ExpiresAt: received.Add(ComponentTicketTTL)})
}

// authorizerCache returns the authorizer's access-token cache, creating it.
func (cp *Component) authorizerCache(authorizer string) *tokenCache {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	tc := cp.auths[authorizer]
	if tc == nil {
		tc = &tokenCache{src: &authorizerRefresher{cp: cp, appID: authorizer}, store: cp.store,
			key: cp.accessKey(authorizer), logger: cp.logger, now: time.Now, kind: "authorizer_access_token", obs: cp.c.obs}
		cp.auths[authorizer] = tc
	}
	return tc
}

// authorizerSource is the TokenSource AuthorizerTokenSource returns: a view
// of the Component's cache for one authorizer.
type authorizerSource struct{ tc *tokenCache }

func (s *authorizerSource) Token(ctx context.Context) (Token, error) {
	t, err := s.tc.get(ctx)
	if err != nil {
		return Token{}, err
	}
	return *t, nil
}

// RefreshToken drops rejected from the cache (if it is still the token in
// use, here or in the store) and returns a fresh one.
func (s *authorizerSource) RefreshToken(ctx context.Context, rejected string) (Token, error) {
	tc := s.tc
	if t := tc.cur.Load(); t != nil && t.Value == rejected {
		tc.invalidate(ctx, t)
	} else if t == nil {
		tc.rejected.Store(&rejected)
		if err := tc.store.InvalidateToken(ctx, tc.key, rejected); err != nil {
			tc.logger.Warn("wxinvoice: token store invalidate failed", "err", err)
		}
	}
	return s.Token(ctx)
}

// authorizerRefresher is the source behind an authorizer's cache: it spends
// the stored refresh token (the cache holds the store's lock meanwhile).
type authorizerRefresher struct {
	cp    *Component
	appID string
}

func (r *authorizerRefresher) Token(ctx context.Context) (Token, error) {
	cp, a := r.cp, r.appID
	rt, _, err := cp.store.GetToken(ctx, cp.refreshKey(a))
	if err != nil {
		return Token{}, &OpError{Op: opAuthorizerToken.path, Err: fmt.Errorf("read authorizer_refresh_token from the TokenStore: %w", err)}
	}
	if err := cp.checkRevoked(ctx, a, rt.Value); err != nil {
		return Token{}, err
	}
	if rt.Value == "" {
		if rt.Value, err = cp.recoverRefreshToken(ctx, a, ""); err != nil {
			return Token{}, err
		}
	}
	spent := rt.Value
	tok, err := cp.refreshAuthorizer(ctx, a, spent)
	if errors.Is(err, ErrRefreshTokenInvalid) {
		// WeChat's advice for 61023: re-read the refresh token from
		// api_get_authorizer_list and retry once.
		alt, rerr := cp.recoverRefreshToken(ctx, a, spent)
		if rerr != nil {
			return Token{}, fmt.Errorf("%w; recovery failed: %w", err, rerr)
		}
		spent = alt
		tok, err = cp.refreshAuthorizer(ctx, a, alt)
	}
	if errors.Is(err, ErrComponentNotAuthorized) {
		// Revoke the refresh token WeChat refused, not whatever the store
		// holds now: a re-authorization may have stored a new one meanwhile.
		_ = cp.markRevoked(ctx, a, spent)
		return Token{}, fmt.Errorf("%w: authorizer %s: %w", ErrAuthorizerRevoked, a, err)
	}
	return tok, err
}

// refreshAuthorizer spends rt. A new refresh token in the answer is stored
// before the access token is returned.
func (cp *Component) refreshAuthorizer(ctx context.Context, authorizer, rt string) (Token, error) {
	cp.red.add(rt)
	start := time.Now()
	resp, err := postJSON[wire.AuthorizerTokenResponse](ctx, cp.c, opAuthorizerToken, &wire.AuthorizerTokenRequest{
		ComponentAppID: cp.appID, AuthorizerAppID: authorizer, AuthorizerRefreshToken: rt})
	if err != nil {
		return Token{}, err
	}
	if resp.AuthorizerAccessToken == "" {
		return Token{}, &OpError{Op: opAuthorizerToken.path, Err: errors.New("empty authorizer_access_token in response")}
	}
	if nrt := resp.AuthorizerRefreshToken; nrt != "" && nrt != rt {
		// A re-authorization (QueryAuth, SetRefreshToken) may have stored a
		// newer refresh token while rt was being spent: never write an older
		// one over it. (Refreshes themselves are serialized by the store's
		// lock.)
		if err := cp.replaceRefreshToken(ctx, authorizer, rt, nrt); err != nil {
			return Token{}, &OpError{Op: opAuthorizerToken.path, Err: err}
		}
	}
	return Token{Value: resp.AuthorizerAccessToken, ExpiresAt: tokenExpiry(start, resp.ExpiresIn)}, nil
}

// replaceRefreshToken stores nrt in place of the spent refresh token old,
// unless another one was stored meanwhile (one atomic compare-and-swap).
func (cp *Component) replaceRefreshToken(ctx context.Context, authorizer, old, nrt string) error {
	key := cp.refreshKey(authorizer)
	var swapped bool
	if err := cp.retryStoreWrite(ctx, authorizer, func() (err error) {
		swapped, err = cp.store.SwapToken(ctx, key, old, Token{Value: nrt})
		return err
	}); err != nil {
		return err
	}
	if !swapped {
		cp.logger.Warn("wxinvoice: a newer authorizer_refresh_token was stored during a refresh; keeping it", "authorizer", authorizer)
	}
	return nil
}

// saveRefreshToken stores rt (never expiring), replacing whatever is stored.
func (cp *Component) saveRefreshToken(ctx context.Context, authorizer, rt string) error {
	return cp.retryStoreWrite(ctx, authorizer, func() error {
		return cp.store.SetToken(ctx, cp.refreshKey(authorizer), Token{Value: rt})
	})
}

// retryStoreWrite runs a refresh-token write, retrying briefly: a refresh
// token that is not stored may be lost for good. The error never contains
// the token.
func (cp *Component) retryStoreWrite(ctx context.Context, authorizer string, write func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("store authorizer_refresh_token of %s: %w (after %w)", authorizer, ctx.Err(), err)
			case <-time.After(time.Duration(i) * 100 * time.Millisecond):
			}
		}
		if err = write(); err == nil {
			return nil
		}
	}
	cp.logger.Error("wxinvoice: could not store an authorizer_refresh_token", "authorizer", authorizer, "err", err)
	return fmt.Errorf("store authorizer_refresh_token of %s: %w", authorizer, err)
}

// recoverRefreshToken looks the authorizer up in api_get_authorizer_list and
// stores the refresh token found there, unless it is exclude (the one WeChat
// just rejected).
func (cp *Component) recoverRefreshToken(ctx context.Context, authorizer, exclude string) (string, error) {
	for offset := 0; ; {
		resp, err := cp.authorizerList(ctx, offset, 500)
		if err != nil {
			return "", fmt.Errorf("%w: authorizer %s: api_get_authorizer_list failed: %w", ErrRefreshTokenMissing, authorizer, err)
		}
		for _, it := range resp.List {
			if it.AuthorizerAppID != authorizer {
				continue
			}
			switch it.RefreshToken {
			case "":
				return "", fmt.Errorf("%w: authorizer %s: WeChat lists it without a refresh token (its authorization code was never exchanged): exchange a valid code with QueryAuth or have the merchant authorize again", ErrRefreshTokenMissing, authorizer)
			case exclude:
				return "", fmt.Errorf("%w: authorizer %s: WeChat lists the very refresh token it rejected: the merchant must authorize again", ErrRefreshTokenMissing, authorizer)
			}
			if err := cp.saveRefreshToken(ctx, authorizer, it.RefreshToken); err != nil {
				return "", err
			}
			cp.logger.Warn("wxinvoice: authorizer_refresh_token recovered with api_get_authorizer_list", "authorizer", authorizer)
			return it.RefreshToken, nil
		}
		offset += len(resp.List)
		if len(resp.List) == 0 || offset >= int(resp.TotalCount) {
			return "", fmt.Errorf("%w: authorizer %s is not among the platform's authorized accounts: the merchant must authorize the platform", ErrRefreshTokenMissing, authorizer)
		}
	}
}

// revokedMark is what the revocation key holds: a digest of the refresh
// token that was revoked, so that a later authorization (a new refresh
// token) is not mistaken for revoked.
func revokedMark(rt string) string {
	sum := sha256.Sum256([]byte("authorizer_refresh_token:" + rt))
	return "revoked:" + hex.EncodeToString(sum[:16])
}

func (cp *Component) checkRevoked(ctx context.Context, authorizer, rt string) error {
	m, ok, err := cp.store.GetToken(ctx, cp.revokedKey(authorizer))
	if err != nil {
		return &OpError{Op: opAuthorizerToken.path, Err: fmt.Errorf("read the authorizer's state from the TokenStore: %w", err)}
	}
	if ok && m.Value == revokedMark(rt) {
		return fmt.Errorf("%w: authorizer %s (unauthorized event)", ErrAuthorizerRevoked, authorizer)
	}
	return nil
}

// markRevoked records that the authorizer revoked the platform's
// authorization that came with refresh token rt, and drops its access token,
// so that calls fail fast with ErrAuthorizerRevoked instead of spending the
// dead refresh token. The refresh token itself is kept (it is dead anyway).
func (cp *Component) markRevoked(ctx context.Context, authorizer, rt string) error {
	if err := cp.store.SetToken(ctx, cp.revokedKey(authorizer), Token{Value: revokedMark(rt)}); err != nil {
		return err
	}
	cp.dropAccessToken(ctx, authorizer)
	return nil
}

// revokeAt handles an unauthorized push created at created: it revokes the
// stored authorization unless that one was exchanged (or set) at or after
// created, i.e. the merchant authorized the platform again after this
// revocation and the push arrives late. revoked reports which happened.
//
// The stored refresh token is read before the authorization time, which
// QueryAuth and SetRefreshToken write before the refresh token: a new
// refresh token read here therefore comes with its authorization time.
func (cp *Component) revokeAt(ctx context.Context, authorizer string, created time.Time) (revoked bool, err error) {
	rt, _, err := cp.store.GetToken(ctx, cp.refreshKey(authorizer))
	if err != nil {
		return false, err
	}
	at, ok, err := cp.store.GetToken(ctx, cp.authorizedKey(authorizer))
	if err != nil {
		return false, err
	}
	if ok {
		if sec, perr := strconv.ParseInt(at.Value, 10, 64); perr == nil && created.Unix() <= sec {
			return false, nil
		}
	}
	return true, cp.markRevoked(ctx, authorizer, rt.Value)
}

// recordAuthorized stores when the authorizer's current authorization was
// obtained (best effort: without it, a late unauthorized push may revoke a
// newer authorization, which a later 61003 would reveal anyway).
func (cp *Component) recordAuthorized(ctx context.Context, authorizer string, at time.Time) {
	if err := cp.store.SetToken(ctx, cp.authorizedKey(authorizer), Token{Value: strconv.FormatInt(at.Unix(), 10)}); err != nil {
		cp.logger.Warn("wxinvoice: token store write failed (authorization time)", "authorizer", authorizer, "err", err)
	}
}

// clearRevoked removes a recorded revocation (best effort: the mark only
// matches the refresh token it was made for).
func (cp *Component) clearRevoked(ctx context.Context, authorizer string) {
	key := cp.revokedKey(authorizer)
	if m, ok, err := cp.store.GetToken(ctx, key); err == nil && ok {
		_ = cp.store.InvalidateToken(ctx, key, m.Value)
	}
}

// dropAccessToken forgets the authorizer's access token here and in the store.
func (cp *Component) dropAccessToken(ctx context.Context, authorizer string) {
	tc := cp.authorizerCache(authorizer)
	if t := tc.cur.Load(); t != nil {
		tc.invalidate(ctx, t)
	}
	if t, ok, err := cp.store.GetToken(ctx, tc.key); err == nil && ok {
		_ = cp.store.InvalidateToken(ctx, tc.key, t.Value)
	}
}
