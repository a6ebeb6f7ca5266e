package wire

// SecretCarrier is implemented by the answers that hand out credentials
// (access tokens, tickets, refresh tokens). The SDK registers what Secrets
// returns for redaction as soon as such an answer is decoded, so that no
// later error or log line can show them.
type SecretCarrier interface {
	Secrets() []string
}

// Secrets returns the access token.
func (r *TokenResponse) Secrets() []string { return []string{r.AccessToken} }

// Secrets returns the component_access_token.
func (r *ComponentTokenResponse) Secrets() []string { return []string{r.ComponentAccessToken} }

// Secrets returns the pre_auth_code.
func (r *PreAuthCodeResponse) Secrets() []string { return []string{r.PreAuthCode} }

// Secrets returns the authorizer's access and refresh tokens.
func (r *QueryAuthResponse) Secrets() []string {
	return []string{r.AuthorizationInfo.AuthorizerAccessToken, r.AuthorizationInfo.AuthorizerRefreshToken}
}

// Secrets returns the authorizer's access and refresh tokens.
func (r *AuthorizerTokenResponse) Secrets() []string {
	return []string{r.AuthorizerAccessToken, r.AuthorizerRefreshToken}
}

// Secrets returns every refresh token listed.
func (r *AuthorizerListResponse) Secrets() []string {
	out := make([]string, 0, len(r.List))
	for _, it := range r.List {
		out = append(out, it.RefreshToken)
	}
	return out
}

// Secrets returns the wx_card api_ticket.
func (r *TicketResponse) Secrets() []string { return []string{r.Ticket} }
