package wire

// ConvertToOpenIDRequest is the body of WeCom's POST /cgi-bin/user/convert_to_openid.
type ConvertToOpenIDRequest struct {
	UserID string `json:"userid"`
}

// ConvertToOpenIDResponse is the answer of WeCom's /cgi-bin/user/convert_to_openid.
type ConvertToOpenIDResponse struct {
	Status
	OpenID string `json:"openid"`
}
