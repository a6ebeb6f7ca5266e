package wire

// The JSON shapes of the third-party platform (第三方平台, "component") token
// and authorization APIs under /cgi-bin/component/ (see docs/component.md).

// ComponentTokenRequest is the body of /cgi-bin/component/api_component_token.
type ComponentTokenRequest struct {
	ComponentAppID        string `json:"component_appid"`
	ComponentAppSecret    string `json:"component_appsecret"`
	ComponentVerifyTicket string `json:"component_verify_ticket"`
}

// ComponentTokenResponse is the answer of /cgi-bin/component/api_component_token.
type ComponentTokenResponse struct {
	Status
	ComponentAccessToken string `json:"component_access_token"`
	ExpiresIn            Int    `json:"expires_in"`
}

// StartPushTicketRequest is the body of /cgi-bin/component/api_start_push_ticket
// (note component_secret, not component_appsecret).
type StartPushTicketRequest struct {
	ComponentAppID  string `json:"component_appid"`
	ComponentSecret string `json:"component_secret"`
}

// ComponentAppIDRequest is the body of /cgi-bin/component/api_create_preauthcode.
type ComponentAppIDRequest struct {
	ComponentAppID string `json:"component_appid"`
}

// PreAuthCodeResponse is the answer of /cgi-bin/component/api_create_preauthcode.
type PreAuthCodeResponse struct {
	Status
	PreAuthCode string `json:"pre_auth_code"`
	ExpiresIn   Int    `json:"expires_in"`
}

// QueryAuthRequest is the body of /cgi-bin/component/api_query_auth.
type QueryAuthRequest struct {
	ComponentAppID    string `json:"component_appid"`
	AuthorizationCode string `json:"authorization_code"`
}

// QueryAuthResponse is the answer of /cgi-bin/component/api_query_auth.
type QueryAuthResponse struct {
	Status
	AuthorizationInfo AuthorizationInfo `json:"authorization_info"`
}

// AuthorizationInfo is api_query_auth's authorization_info. The tokens are
// present only when the account granted API permissions.
type AuthorizationInfo struct {
	AuthorizerAppID        string     `json:"authorizer_appid"`
	AuthorizerAccessToken  string     `json:"authorizer_access_token,omitempty"`
	ExpiresIn              Int        `json:"expires_in,omitempty"`
	AuthorizerRefreshToken string     `json:"authorizer_refresh_token,omitempty"`
	FuncInfo               []FuncInfo `json:"func_info"`
}

// FuncInfo is one entry of func_info: a permission set (权限集) granted.
type FuncInfo struct {
	FuncscopeCategory FuncscopeCategory `json:"funcscope_category"`
}

// FuncscopeCategory is func_info[].funcscope_category.
type FuncscopeCategory struct {
	ID Int `json:"id"`
}

// AuthorizerTokenRequest is the body of /cgi-bin/component/api_authorizer_token.
type AuthorizerTokenRequest struct {
	ComponentAppID         string `json:"component_appid"`
	AuthorizerAppID        string `json:"authorizer_appid"`
	AuthorizerRefreshToken string `json:"authorizer_refresh_token"`
}

// AuthorizerTokenResponse is the answer of /cgi-bin/component/api_authorizer_token.
type AuthorizerTokenResponse struct {
	Status
	AuthorizerAccessToken  string `json:"authorizer_access_token"`
	ExpiresIn              Int    `json:"expires_in"`
	AuthorizerRefreshToken string `json:"authorizer_refresh_token"`
}

// AuthorizerListRequest is the body of /cgi-bin/component/api_get_authorizer_list.
type AuthorizerListRequest struct {
	ComponentAppID string `json:"component_appid"`
	Offset         int    `json:"offset"`
	Count          int    `json:"count"`
}

// AuthorizerListResponse is the answer of /cgi-bin/component/api_get_authorizer_list.
type AuthorizerListResponse struct {
	Status
	TotalCount Int                  `json:"total_count"`
	List       []AuthorizerListItem `json:"list"`
}

// AuthorizerListItem is one entry of api_get_authorizer_list's list.
// RefreshToken is empty when the platform never exchanged the account's
// authorization code.
type AuthorizerListItem struct {
	AuthorizerAppID string `json:"authorizer_appid"`
	RefreshToken    string `json:"refresh_token"`
	AuthTime        Int    `json:"auth_time"`
}
