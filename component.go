package wxinvoice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the third-party platform (第三方平台, "component") side of the
// SDK: a platform calls the e-invoice APIs for many merchant Official
// Accounts (authorizers) with each one's authorizer_access_token. See
// docs/component.md.
//
// Every credential lives in the TokenStore, under these keys (<c> is the
// component appid, <a> an authorizer appid):
//
//	component_verify_ticket:<c>       the latest ticket WeChat pushed; ExpiresAt = receipt + 12 h
//	component_access_token:<c>        the component_access_token (tokenCache; also its lock key)
//	authorizer_access_token:<c>:<a>   an authorizer_access_token (tokenCache; also the refresh lock)
//	authorizer_refresh_token:<c>:<a>  an authorizer_refresh_token; zero ExpiresAt: never expires
//	authorizer_revoked:<c>:<a>        set by the unauthorized event (or 61003): a digest of the refresh token it revoked
//	authorizer_authorized:<c>:<a>     Unix seconds of the last authorization exchanged (QueryAuth) or SetRefreshToken,
//	                                  so that an unauthorized push older than it does not revoke the new authorization

// ComponentTicketTTL is how long a component_verify_ticket stays valid after
// WeChat pushes it (12 hours). WeChat pushes a new one every 10 minutes.
const ComponentTicketTTL = 12 * time.Hour

// Permission-set ids (权限集) of an Official Account that matter for the
// e-invoice APIs, as found in AuthorizationInfo.Permissions. Every
// /card/invoice/* call needs PermissionInvoice; insert and seturl accept
// PermissionCard instead.
const (
	PermissionCard    = 8  // 微信卡券
	PermissionInvoice = 26 // 微信电子发票
)

// Errors of the third-party platform flow. Compare with errors.Is; the
// errcodes WeChat returns come as *APIError and match the APIError sentinels.
var (
	// ErrComponentTicketMissing: no component_verify_ticket in the
	// TokenStore, or the last one arrived more than 12 hours ago, so no
	// component_access_token can be fetched. WeChat pushes a ticket every 10
	// minutes to the authorization event URL (授权事件接收URL), which must be
	// served by Component.EventHandler (any one instance sharing the
	// TokenStore is enough); StartPushTicket restarts stopped pushes. A
	// locally expired ticket also matches ErrComponentTicketExpired.
	ErrComponentTicketMissing = errors.New("wxinvoice: no usable component_verify_ticket")
	// ErrAuthorizerRevoked: the account revoked the platform's authorization
	// (the unauthorized event, or errcode 61003 when refreshing its token).
	// Calls for it fail until it authorizes the platform again.
	ErrAuthorizerRevoked = errors.New("wxinvoice: the account revoked the third-party platform's authorization")
	// ErrRefreshTokenMissing: the account's authorizer_refresh_token is not
	// in the TokenStore and api_get_authorizer_list cannot supply it (the
	// account is not listed, or listed without a refresh token because its
	// authorization code was never exchanged). Exchange a fresh code with
	// QueryAuth, or have the merchant authorize (or update the
	// authorization) again.
	ErrRefreshTokenMissing = errors.New("wxinvoice: no authorizer_refresh_token for the account")

	// ErrComponentNotAuthorized (61003): the account has not authorized the
	// platform (or no longer has). Refreshing its token wraps it in
	// ErrAuthorizerRevoked.
	ErrComponentNotAuthorized = &APIError{Code: 61003, Msg: "component is not authorized by this account"}
	// ErrComponentIPNotWhitelisted (61004): the caller's IP is not in the
	// platform's IP whitelist (白名单).
	ErrComponentIPNotWhitelisted = &APIError{Code: 61004, Msg: "access clientip is not registered"}
	// ErrComponentTicketExpired (61005): WeChat refused the
	// component_verify_ticket as expired. A ticket the SDK knows to be
	// older than 12 hours also matches it (with ErrComponentTicketMissing).
	ErrComponentTicketExpired = &APIError{Code: 61005, Msg: "component ticket is expired"}
	// ErrComponentTicketInvalid (61006): WeChat refused the ticket as invalid.
	ErrComponentTicketInvalid = &APIError{Code: 61006, Msg: "component ticket is invalid"}
	// ErrAPIUnauthorizedToComponent (61007): the account did not grant the
	// permission set the API needs (PermissionInvoice for /card/invoice/*).
	ErrAPIUnauthorizedToComponent = &APIError{Code: 61007, Msg: "api is unauthorized to component"}
	// ErrAuthorizationCodeExpired (61010): the authorization code given to
	// QueryAuth expired; have the merchant update the authorization to get
	// a new one (updateauthorized).
	ErrAuthorizationCodeExpired = &APIError{Code: 61010, Msg: "code is expired"}
	// ErrRefreshTokenInvalid (61023): WeChat refused the refresh token. The
	// SDK then tries api_get_authorizer_list once before giving up.
	ErrRefreshTokenInvalid = &APIError{Code: 61023, Msg: "refresh_token is invalid"}
)

// ticketError is ErrComponentTicketMissing with the details.
type ticketError struct {
	appID    string
	received time.Time // when the expired ticket arrived; zero: none ever
}

func (e *ticketError) Error() string {
	if e.received.IsZero() {
		return "wxinvoice: no component_verify_ticket received yet for component " + e.appID +
			": WeChat pushes one every 10 minutes to the authorization event URL (授权事件接收URL), which must reach Component.EventHandler"
	}
	return "wxinvoice: the last component_verify_ticket for component " + e.appID + " arrived " +
		e.received.UTC().Format(time.RFC3339) + " and has expired (valid 12 hours): check that pushes reach Component.EventHandler, or call StartPushTicket"
}

func (e *ticketError) Is(target error) bool {
	return target == ErrComponentTicketMissing || (!e.received.IsZero() && target == ErrComponentTicketExpired)
}

// Component is a WeChat third-party platform (第三方平台, "component") acting
// for many merchant Official Accounts (authorizers): it keeps the
// component_verify_ticket WeChat pushes, the component_access_token, and
// each authorizer's access and refresh tokens, all in one TokenStore, and
// hands out a normal *Client per authorizer (Client, AuthorizerTokenSource).
//
// Several instances (processes) sharing a TokenStore such as redisstore.Store
// share everything: one of them receiving the ticket push is enough, one
// fetch or refresh runs at a time under the store's lock, and a refresh
// token WeChat renews is stored before the new access token is used.
//
// A Component is safe for concurrent use by multiple goroutines.
type Component struct {
	appID  string
	secret string
	c      *Client // the component's own calls: component_access_token in the query
	store  TokenStore
	opts   []Option     // the caller's options, the base of every authorizer Client
	red    *redactor    // the platform's secrets, shared by every Client it makes
	logger *slog.Logger // redacts through red
	now    func() time.Time

	mu    sync.Mutex
	auths map[string]*tokenCache // authorizer appid → its access-token cache
}

// NewComponent returns a Component for the platform appID with its
// appSecret. It sends nothing. The options are the Client's:
//
//   - WithBaseURL, WithHTTPClient (default: one dedicated transport shared
//     by the component and every merchant's Client), WithRetryPolicy and
//     WithLogger apply to the component's calls and are inherited by Client;
//   - WithTokenStore sets the TokenStore that holds every ticket and token
//     (default: NewMemoryTokenStore(), lost on restart: use a durable store
//     such as redisstore in production, since a lost refresh token can only
//     be recovered with api_get_authorizer_list, if at all);
//   - WithTokenSource, if given, supplies the component_access_token instead
//     of api_component_token (appSecret may then be empty).
func NewComponent(appID, appSecret string, opts ...Option) (*Component, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if appID == "" {
		return nil, newValidation("appID", "must not be empty")
	}
	if appSecret == "" && cfg.ts == nil {
		return nil, newValidation("appSecret", "must not be empty unless WithTokenSource is given")
	}
	cp := &Component{appID: appID, secret: appSecret, store: cfg.store, opts: slices.Clone(opts),
		red: newRedactor(), now: time.Now, auths: map[string]*tokenCache{}}
	cp.red.pin(appSecret)
	cp.opts = append(cp.opts, func(c *config) { c.red = cp.red })
	if cfg.hc == nil && cfg.rc == nil {
		// One connection pool for the component and every merchant's Client
		// (New's default, shared), so that a Client per request is cheap.
		cp.opts = append([]Option{WithHTTPClient(newDefaultHTTPClient())}, cp.opts...)
	}
	if cp.store == nil {
		cp.store = NewMemoryTokenStore()
	}
	var src TokenSource = &componentTokenSource{cp: cp}
	if cfg.ts != nil {
		src = cfg.ts
	}
	c, err := New(appID, "", append(slices.Clip(cp.opts), WithTokenSource(src), WithTokenStore(cp.store))...)
	if err != nil {
		return nil, err
	}
	c.tokens.key, c.tokens.kind = "component_access_token:"+appID, "component_access_token"
	cp.c = c
	cp.logger = c.logger
	return cp, nil
}

// AppID returns the platform's component appid.
func (cp *Component) AppID() string { return cp.appID }

// AccessToken returns the current component_access_token, fetching it with
// the stored component_verify_ticket if needed (one fetch in flight, shared
// through the TokenStore). Treat the value as a secret.
//
// WeChat API: POST /cgi-bin/component/api_component_token (获取令牌)
func (cp *Component) AccessToken(ctx context.Context) (string, error) { return cp.c.AccessToken(ctx) }

var (
	opComponentToken  = &operation{path: "/cgi-bin/component/api_component_token"}
	opStartPushTicket = &operation{path: "/cgi-bin/component/api_start_push_ticket"}
	opPreAuthCode     = &operation{path: "/cgi-bin/component/api_create_preauthcode", tokenParam: "component_access_token"}
	opQueryAuth       = &operation{path: "/cgi-bin/component/api_query_auth", tokenParam: "component_access_token", write: true}
	opAuthorizerToken = &operation{path: "/cgi-bin/component/api_authorizer_token", tokenParam: "component_access_token"}
	opAuthorizerList  = &operation{path: "/cgi-bin/component/api_get_authorizer_list", tokenParam: "component_access_token"}
)

// postNoToken sends v to op, which takes no token (the token endpoint and
// api_start_push_ticket), through the shared round trip, and checks errcode.
func (cp *Component) postNoToken(ctx context.Context, op *operation, v any, out wire.Enveloped) error {
	body, err := marshalJSON(v)
	if err != nil {
		return &OpError{Op: op.path, Err: fmt.Errorf("encode request: %w", err)}
	}
	if err := cp.c.roundTrip(ctx, op, cp.c.baseURL+op.path, body, out); err != nil {
		return err
	}
	if apiErr := cp.c.apiError(op.path, out.WireStatus()); apiErr != nil {
		return apiErr
	}
	return nil
}

// StartPushTicket asks WeChat to (re)start pushing component_verify_ticket
// to the authorization event URL, e.g. when ErrComponentTicketMissing
// persists. WeChat answers ok both when it restarted the pushes and when
// they were running.
//
// WeChat API: POST /cgi-bin/component/api_start_push_ticket (启动票据推送服务)
func (cp *Component) StartPushTicket(ctx context.Context) error {
	if cp.secret == "" {
		return newValidation("appSecret", "must be set for StartPushTicket")
	}
	var resp wire.Empty
	return cp.postNoToken(ctx, opStartPushTicket, &wire.StartPushTicketRequest{ComponentAppID: cp.appID, ComponentSecret: cp.secret}, &resp)
}

// PreAuthCode is the result of CreatePreAuthCode.
type PreAuthCode struct {
	Code      string    // pre_auth_code
	ExpiresAt time.Time // now + expires_in (600 s in WeChat's samples)
}

// CreatePreAuthCode returns a fresh pre-authorization code for an
// authorization page (AuthorizationURL creates one itself).
//
// WeChat API: POST /cgi-bin/component/api_create_preauthcode (获取预授权码)
func (cp *Component) CreatePreAuthCode(ctx context.Context) (*PreAuthCode, error) {
	start := time.Now()
	resp, err := postJSON[wire.PreAuthCodeResponse](ctx, cp.c, opPreAuthCode, &wire.ComponentAppIDRequest{ComponentAppID: cp.appID})
	if err != nil {
		return nil, err
	}
	return &PreAuthCode{Code: resp.PreAuthCode, ExpiresAt: start.Add(time.Duration(resp.ExpiresIn) * time.Second)}, nil
}

// ComponentAuthType restricts which accounts an authorization page lists (auth_type).
type ComponentAuthType int

// The documented auth_type values. The zero ComponentAuthType leaves auth_type out,
// which WeChat treats like ComponentAuthAll.
const (
	ComponentAuthOfficialAccount ComponentAuthType = 1 // Official Accounts only (the e-invoice APIs are theirs)
	ComponentAuthMiniProgram     ComponentAuthType = 2 // Mini Programs only
	ComponentAuthAll             ComponentAuthType = 3 // both
)

// AuthorizationURLRequest describes an authorization page (授权页).
type AuthorizationURLRequest struct {
	// RedirectURI is where WeChat sends the admin after authorizing, with
	// ?auth_code=…&expires_in=600; its domain must be the platform's
	// 登录授权的发起页域名 (required, absolute http(s) URL).
	RedirectURI string
	AuthType    ComponentAuthType // auth_type; zero: left out (all account kinds)
	BizAppID    string            // biz_appid: only this account may authorize (wins over AuthType)
	// Mobile builds the H5 link to open inside WeChat
	// (https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&…#wechat_redirect)
	// instead of the PC page with a QR code
	// (https://mp.weixin.qq.com/cgi-bin/componentloginpage?…).
	Mobile bool
}

// Authorization page bases.
const (
	componentLoginPage = "https://mp.weixin.qq.com/cgi-bin/componentloginpage"
	componentBindPage  = "https://open.weixin.qq.com/wxaopen/safe/bindcomponent"
)

// AuthorizationURL creates a pre-authorization code and returns the
// authorization page a merchant's admin opens to authorize the platform.
// Build one per page view: the code expires after about 10 minutes.
//
// WeChat API: POST /cgi-bin/component/api_create_preauthcode (获取预授权码), then
// the page https://mp.weixin.qq.com/cgi-bin/componentloginpage (授权页)
func (cp *Component) AuthorizationURL(ctx context.Context, req *AuthorizationURLRequest) (string, error) {
	if req == nil {
		return "", newValidation("req", "must not be nil")
	}
	if u, err := url.Parse(req.RedirectURI); req.RedirectURI == "" || err != nil ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", newValidation("RedirectURI", "must be an absolute http(s) URL")
	}
	if req.AuthType < 0 || req.AuthType > ComponentAuthAll {
		return "", newValidation("AuthType", "must be 0 (unset), 1, 2 or 3, got %d", req.AuthType)
	}
	pre, err := cp.CreatePreAuthCode(ctx)
	if err != nil {
		return "", err
	}
	return cp.authorizationURL(pre.Code, req), nil
}

// authorizationURL builds the page URL with WeChat's parameter order.
func (cp *Component) authorizationURL(preAuthCode string, req *AuthorizationURLRequest) string {
	u := componentLoginPage + "?"
	if req.Mobile {
		u = componentBindPage + "?action=bindcomponent&no_scan=1&"
	}
	u += "component_appid=" + url.QueryEscape(cp.appID) + "&pre_auth_code=" + url.QueryEscape(preAuthCode) +
		"&redirect_uri=" + url.QueryEscape(req.RedirectURI)
	if req.AuthType != 0 {
		u += "&auth_type=" + strconv.Itoa(int(req.AuthType))
	}
	if req.BizAppID != "" {
		u += "&biz_appid=" + url.QueryEscape(req.BizAppID)
	}
	if req.Mobile {
		u += "#wechat_redirect"
	}
	return u
}

// AuthorizationInfo is what an account granted the platform (QueryAuth).
type AuthorizationInfo struct {
	AuthorizerAppID string // the merchant's Official Account appid
	// Permissions are the permission-set ids granted (func_info), e.g.
	// PermissionInvoice. An account may grant only some of those the
	// platform asked for.
	Permissions []int
	// HasToken reports whether WeChat issued tokens (only for accounts with
	// API permissions); they are in the TokenStore, not here.
	HasToken bool
}

// HasPermission reports whether the permission set id was granted.
func (a *AuthorizationInfo) HasPermission(id int) bool { return slices.Contains(a.Permissions, id) }

// QueryAuth exchanges an authorization code — the auth_code of the redirect
// after an authorization page, or the AuthorizationCode of an authorized or
// updateauthorized event (which the handler of EventHandler exchanges
// itself) — for the account's tokens. The refresh token is stored in the
// TokenStore before QueryAuth returns (an error is returned if it cannot
// be), replacing the previous one, and the access token is cached for
// Client; neither is returned.
//
// WeChat API: POST /cgi-bin/component/api_query_auth (使用授权码获取授权信息)
func (cp *Component) QueryAuth(ctx context.Context, authorizationCode string) (*AuthorizationInfo, error) {
	if authorizationCode == "" {
		return nil, newValidation("authorizationCode", "must not be empty")
	}
	cp.red.add(authorizationCode)
	start := time.Now()
	resp, err := postJSON[wire.QueryAuthResponse](ctx, cp.c, opQueryAuth, &wire.QueryAuthRequest{
		ComponentAppID: cp.appID, AuthorizationCode: authorizationCode})
	if err != nil {
		return nil, err
	}
	info := &resp.AuthorizationInfo
	if info.AuthorizerAppID == "" {
		return nil, &OpError{Op: opQueryAuth.path, Err: errors.New("empty authorizer_appid in response")}
	}
	a := &AuthorizationInfo{AuthorizerAppID: info.AuthorizerAppID, HasToken: info.AuthorizerRefreshToken != ""}
	for _, f := range info.FuncInfo {
		a.Permissions = append(a.Permissions, int(f.FuncscopeCategory.ID))
	}
	if info.AuthorizerRefreshToken != "" {
		// Recorded before the refresh token, so that whoever reads the new
		// refresh token also sees that it postdates older revocations.
		cp.recordAuthorized(ctx, info.AuthorizerAppID, start)
		if err := cp.saveRefreshToken(ctx, info.AuthorizerAppID, info.AuthorizerRefreshToken); err != nil {
			return nil, &OpError{Op: opQueryAuth.path, Err: err}
		}
		cp.clearRevoked(ctx, info.AuthorizerAppID)
	}
	if info.AuthorizerAccessToken != "" {
		t := &Token{Value: info.AuthorizerAccessToken, ExpiresAt: tokenExpiry(start, info.ExpiresIn)}
		if err := cp.store.SetToken(ctx, cp.accessKey(info.AuthorizerAppID), *t); err != nil {
			cp.logger.Warn("wxinvoice: token store write failed; the authorizer token is cached in this process only", "err", err)
		}
		cp.authorizerCache(info.AuthorizerAppID).cur.Store(t)
	}
	return a, nil
}

// SetRefreshToken stores an authorizer_refresh_token obtained elsewhere (for
// example when moving to this SDK from another one), replacing the stored
// one atomically and clearing a revocation recorded by an unauthorized
// event. The next call for the account refreshes with it.
func (cp *Component) SetRefreshToken(ctx context.Context, authorizerAppID, refreshToken string) error {
	switch {
	case authorizerAppID == "":
		return newValidation("authorizerAppID", "must not be empty")
	case refreshToken == "":
		return newValidation("refreshToken", "must not be empty")
	}
	cp.red.add(refreshToken)
	cp.recordAuthorized(ctx, authorizerAppID, cp.now())
	if err := cp.saveRefreshToken(ctx, authorizerAppID, refreshToken); err != nil {
		return err
	}
	cp.clearRevoked(ctx, authorizerAppID)
	cp.dropAccessToken(ctx, authorizerAppID)
	return nil
}

// AuthorizerListRequest pages through the accounts that authorized the platform.
type AuthorizerListRequest struct {
	Offset int // 0-based (≥ 0)
	Count  int // 1..500; zero: 500
}

// AuthorizerListResponse is the result of AuthorizerList.
type AuthorizerListResponse struct {
	TotalCount  int
	Authorizers []AuthorizerListEntry
}

// AuthorizerListEntry is one authorized account.
type AuthorizerListEntry struct {
	AuthorizerAppID string
	AuthTime        time.Time // when it authorized the platform
	// HasRefreshToken reports whether WeChat listed a refresh token: it
	// does not when the authorization code was never exchanged.
	HasRefreshToken bool
}

// AuthorizerList returns a page of the accounts that authorized the
// platform. The refresh tokens WeChat lists are not returned; the SDK reads
// them itself when a stored one is missing or rejected.
//
// WeChat API: POST /cgi-bin/component/api_get_authorizer_list (拉取所有已授权的账号信息)
func (cp *Component) AuthorizerList(ctx context.Context, req *AuthorizerListRequest) (*AuthorizerListResponse, error) {
	if req == nil {
		return nil, newValidation("req", "must not be nil")
	}
	switch {
	case req.Offset < 0:
		return nil, newValidation("Offset", "must not be negative, got %d", req.Offset)
	case req.Count < 0 || req.Count > 500:
		return nil, newValidation("Count", "must be 1..500 (0: 500), got %d", req.Count)
	}
	resp, err := cp.authorizerList(ctx, req.Offset, req.Count)
	if err != nil {
		return nil, err
	}
	out := &AuthorizerListResponse{TotalCount: int(resp.TotalCount), Authorizers: make([]AuthorizerListEntry, len(resp.List))}
	for i, it := range resp.List {
		out.Authorizers[i] = AuthorizerListEntry{AuthorizerAppID: it.AuthorizerAppID,
			AuthTime: time.Unix(int64(it.AuthTime), 0), HasRefreshToken: it.RefreshToken != ""}
	}
	return out, nil
}

func (cp *Component) authorizerList(ctx context.Context, offset, count int) (*wire.AuthorizerListResponse, error) {
	if count == 0 {
		count = 500
	}
	return postJSON[wire.AuthorizerListResponse](ctx, cp.c, opAuthorizerList,
		&wire.AuthorizerListRequest{ComponentAppID: cp.appID, Offset: offset, Count: count})
}

// AuthorizerTokenSource returns the TokenSource of an authorizer's
// authorizer_access_token, for
//
//	wxinvoice.New(authorizerAppID, "", wxinvoice.WithTokenSource(cp.AuthorizerTokenSource(authorizerAppID)))
//
// (Client does this for you). The token is cached per authorizer in the
// Component and shared through the TokenStore; when it is missing, expired
// or rejected, one refresh runs (under the store's lock across instances)
// with the stored refresh token, which is recovered with
// api_get_authorizer_list when missing or rejected (61023). Errors:
// ErrAuthorizerRevoked after an unauthorized event or 61003,
// ErrRefreshTokenMissing when no refresh token can be had, and the
// component-token errors (ErrComponentTicketMissing…).
//
// WeChat API: POST /cgi-bin/component/api_authorizer_token (获取/刷新接口调用令牌)
func (cp *Component) AuthorizerTokenSource(authorizerAppID string) TokenSource {
	return &authorizerSource{tc: cp.authorizerCache(authorizerAppID)}
}

// Client returns a *Client that calls the e-invoice APIs as the authorizer
// (the merchant's Official Account), with its authorizer_access_token. It
// inherits the Component's options (base URL, HTTP client — one connection
// pool for all —, retry policy, logger), then opts; the token always comes
// from AuthorizerTokenSource (held in the Component's TokenStore), so opts
// giving WithTokenSource or WithTokenStore are refused with a
// *ValidationError rather than silently ignored. Creating a Client is cheap
// (the token cache lives in the Component), but a Client may as well be kept
// per merchant.
func (cp *Component) Client(authorizerAppID string, opts ...Option) (*Client, error) {
	if authorizerAppID == "" {
		return nil, newValidation("authorizerAppID", "must not be empty")
	}
	var given config
	for _, o := range opts {
		o(&given)
	}
	if given.ts != nil || given.store != nil {
		return nil, newValidation("opts", "WithTokenSource and WithTokenStore do not apply to Component.Client: "+
			"the authorizer's token comes from the Component and its TokenStore")
	}
	src := cp.AuthorizerTokenSource(authorizerAppID)
	all := make([]Option, 0, len(cp.opts)+len(opts)+1)
	all = append(all, cp.opts...)
	all = append(all, opts...)
	all = append(all, func(c *config) { c.ts, c.store = src, nil })
	c, err := New(authorizerAppID, "", all...)
	if err != nil {
		return nil, err
	}
	c.tokens.kind = "authorizer_access_token"
	return c, nil
}
