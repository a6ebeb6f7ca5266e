package wxinvoice

import (
	"context"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the WeCom (企业微信) reimburser: the four reimbursement calls
// on qyapi.weixin.qq.com, which mirror the Official Account's (reimburse.go)
// with the same request and answer shapes, and the userid → openid
// conversion that WeCom's batch update needs.

// DefaultWeComBaseURL is the WeCom API host.
const DefaultWeComBaseURL = "https://qyapi.weixin.qq.com"

var (
	opWeComGetInvoiceInfo      = &operation{path: "/cgi-bin/card/invoice/reimburse/getinvoiceinfo"}
	opWeComGetInvoiceInfoBatch = &operation{path: "/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch"}
	opWeComUpdateInvoiceStatus = &operation{path: "/cgi-bin/card/invoice/reimburse/updateinvoicestatus", write: true}
	opWeComUpdateStatusBatch   = &operation{path: "/cgi-bin/card/invoice/reimburse/updatestatusbatch", write: true}
	opWeComConvertToOpenID     = &operation{path: "/cgi-bin/user/convert_to_openid"}
)

// Sentinels of WeCom's errcodes that a reimburser branches on. Compare with
// errors.Is. WeCom's token codes are the shared ErrInvalidCredential (40001,
// 不合法的secret参数 on /cgi-bin/gettoken), ErrInvalidAccessToken (40014) and
// ErrAccessTokenExpired (42001).
var (
	// ErrInvalidCorpID (40013): 不合法的CorpID (Official Accounts answer
	// 40013 for an invalid appid).
	ErrInvalidCorpID = &APIError{Code: 40013, Msg: "不合法的CorpID"}
	// ErrInvalidUserID (40003): 无效的UserID, e.g. an empty or malformed
	// userid (Official Accounts answer 40003 for an invalid openid).
	ErrInvalidUserID = &APIError{Code: 40003, Msg: "无效的UserID"}
	// ErrMemberNotFound (46004): 不存在的成员.
	ErrMemberNotFound = &APIError{Code: 46004, Msg: "不存在的成员"}
	// ErrAPIForbidden (48002): API接口无权限调用, e.g. an unverified corp or
	// an application without the invoice permission.
	ErrAPIForbidden = &APIError{Code: 48002, Msg: "API接口无权限调用"}
	// ErrNoPrivilege (60011): 指定的成员/部门/标签参数无权限, e.g. a member
	// outside the application's visible range.
	ErrNoPrivilege = &APIError{Code: 60011, Msg: "指定的成员/部门/标签参数无权限"}
	// ErrUntrustedIP (60020): 不安全的访问IP (the caller's IP is not in the
	// application's trusted IP list).
	ErrUntrustedIP = &APIError{Code: 60020, Msg: "不安全的访问IP"}
	// ErrUserIDNotFound (60111): UserID不存在 (ConvertToOpenID with a userid
	// the corp does not have).
	ErrUserIDNotFound = &APIError{Code: 60111, Msg: "UserID不存在"}
)

// WeComClient calls the WeCom (企业微信) reimbursement APIs for one corp and
// application secret. It shares the Client's machinery: the one request
// path (JSON, errcode check, retries, redaction), the token cache (one fetch
// in flight, compare-and-invalidate on rejection, optional TokenStore) and
// the error model. A WeComClient is safe for concurrent use by multiple
// goroutines; create one per corp and secret and share it.
//
// Permissions (WeCom's pages): the invoice calls are open to verified
// (认证的) corps only; GetInvoiceInfoBatch also requires more than 200
// activated members (企业激活人数超过200). The token is the application's
// (每个应用有独立的secret): use the secret of the application that runs the
// reimbursement.
type WeComClient struct {
	c      *Client
	corpID string
}

// NewWeCom returns a WeComClient for corpID (企业ID) and corpSecret (the
// application's 凭证密钥). The options are the Client's: WithBaseURL
// (default https://qyapi.weixin.qq.com), WithHTTPClient, WithTokenStore
// (the token is shared under "wecom_token:<corpid>:<digest of the
// secret>"; the secret itself is never a key), WithTokenSource (corpSecret
// may then be empty), WithRetryPolicy, WithLogger. It sends nothing.
//
// Tokens come from GET /cgi-bin/gettoken?corpid=&corpsecret= (获取access_token),
// cached until shortly before expires_in runs out; a token WeCom rejects
// (40001, 40014, 42001) is dropped if it is still the current one and the
// call is replayed once. No error or log line contains the secret or a
// token.
func NewWeCom(corpID, corpSecret string, opts ...Option) (*WeComClient, error) {
	if corpID == "" {
		return nil, newValidation("corpID", "must not be empty")
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if corpSecret == "" && cfg.ts == nil {
		return nil, newValidation("corpSecret", "must not be empty unless WithTokenSource is given")
	}
	all := make([]Option, 0, len(opts)+2)
	all = append(all, WithBaseURL(DefaultWeComBaseURL))
	all = append(all, opts...)
	all = append(all, func(cfg *config) {
		cfg.corp = func(c *Client) (TokenSource, string) {
			return &corpTokenSource{c: c, corpID: corpID, secret: corpSecret}, weComTokenKey(corpID, corpSecret)
		}
	})
	c, err := New(corpID, corpSecret, all...)
	if err != nil {
		return nil, err
	}
	return &WeComClient{c: c, corpID: corpID}, nil
}

// CorpID returns the corp the WeComClient was created for.
func (w *WeComClient) CorpID() string { return w.corpID }

// AccessToken returns the corp's current access token, fetching it if
// needed; however many goroutines ask at once, one fetch is in flight.
// Treat the value as a secret.
func (w *WeComClient) AccessToken(ctx context.Context) (string, error) {
	return w.c.AccessToken(ctx)
}

// GetInvoiceInfo returns one invoice the user chose (chooseInvoice in the
// WeCom JS-SDK) by its card_id and encrypt_code.
//
// WeCom API: POST /cgi-bin/card/invoice/reimburse/getinvoiceinfo (查询电子发票)
//
// Only verified WeCom corps (认证的企业微信账号) may call it.
func (w *WeComClient) GetInvoiceInfo(ctx context.Context, ref *InvoiceRef) (*ReimburseInvoice, error) {
	return call(ctx, w.c, opWeComGetInvoiceInfo, ref, fromWireInvoiceInfo)
}

// GetInvoiceInfoBatch returns several invoices at once, in WeCom's order.
// Note the path: getinvoiceinfobatch, where the Official Account's is
// getinvoicebatch. WeCom documents no maximum number of items.
//
// WeCom API: POST /cgi-bin/card/invoice/reimburse/getinvoiceinfobatch (批量查询电子发票)
//
// Only verified corps with more than 200 activated members
// (企业激活人数超过200) may call it; others get an errcode (typically
// ErrAPIForbidden) and should fall back to GetInvoiceInfo per invoice.
func (w *WeComClient) GetInvoiceInfoBatch(ctx context.Context, req *GetInvoiceBatchRequest) (*GetInvoiceBatchResponse, error) {
	return call(ctx, w.c, opWeComGetInvoiceInfoBatch, req, fromWireInvoiceBatch)
}

// UpdateInvoiceStatus locks (ReimburseLock), unlocks (ReimburseInit) or
// closes (ReimburseClosure, 核销: irreversible, the invoice leaves the
// user's card package) one invoice; CANCEL is refused before sending. The
// invoicing platform receives the change as an update_invoice_status push.
// An invoice another reimburser locked answers ErrInvoiceLocked (72023), a
// move the status machine forbids ErrInvoiceStatus (72024). The call is a
// write, never replayed when its outcome is unknown (ErrOutcomeUnknown):
// read the state back with GetInvoiceInfo.
//
// WeCom API: POST /cgi-bin/card/invoice/reimburse/updateinvoicestatus (更新发票状态)
//
// Only verified WeCom corps may call it.
func (w *WeComClient) UpdateInvoiceStatus(ctx context.Context, req *UpdateInvoiceStatusRequest) error {
	return act(ctx, w.c, opWeComUpdateInvoiceStatus, req)
}

// UpdateStatusBatch sets the status (ReimburseInit, ReimburseLock or
// ReimburseClosure) of several invoices of one user in one transaction:
// WeCom documents it as all-or-nothing, so an error means no invoice moved
// (unless the outcome is unknown, ErrOutcomeUnknown; the call is never
// replayed then). req.OpenID is the user's openid, which ConvertToOpenID
// gives for a WeCom userid; every invoice must belong to it.
//
// WeCom API: POST /cgi-bin/card/invoice/reimburse/updatestatusbatch (批量更新发票状态)
//
// Only verified WeCom corps may call it.
func (w *WeComClient) UpdateStatusBatch(ctx context.Context, req *UpdateStatusBatchRequest) error {
	return act(ctx, w.c, opWeComUpdateStatusBatch, req)
}

// ConvertToOpenID returns the openid of the corp member userID, as
// UpdateStatusBatch needs it. WeCom converts only members who use WeChat
// with WeCom (or follow the WeChat plugin) and are within the application's
// visible range; an unknown userid answers ErrUserIDNotFound (60111) or
// ErrMemberNotFound (46004), one outside the visible range ErrNoPrivilege
// (60011).
//
// WeCom API: POST /cgi-bin/user/convert_to_openid (userid转openid)
func (w *WeComClient) ConvertToOpenID(ctx context.Context, userID string) (string, error) {
	return call(ctx, w.c, opWeComConvertToOpenID, userIDRequest(userID), func(r *wire.ConvertToOpenIDResponse) string { return r.OpenID })
}

// userIDRequest is the request of ConvertToOpenID.
type userIDRequest string

func (u userIDRequest) validate() error {
	if u == "" {
		return newValidation("userID", "must not be empty")
	}
	return nil
}

func (u userIDRequest) toWire() any { return &wire.ConvertToOpenIDRequest{UserID: string(u)} }
