package wxinvoice

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the merchant (商户) side: the wx_card ticket, the
// authorization page and its state, rejecting an order, the business
// attributes (setbizattr) and unified issuing (统一开票: makeoutinvoice,
// clearoutinvoice, queryinvoceinfo).

var (
	opGetTicket       = &operation{path: "/cgi-bin/ticket/getticket", method: "GET", query: "&type=wx_card"}
	opGetAuthURL      = &operation{path: "/card/invoice/getauthurl"}
	opGetAuthData     = &operation{path: "/card/invoice/getauthdata"}
	opRejectInsert    = &operation{path: "/card/invoice/rejectinsert", write: true}
	opSetAuthField    = bizAttrOp(wire.ActionSetAuthField, true)
	opGetAuthField    = bizAttrOp(wire.ActionGetAuthField, false)
	opSetPayMch       = bizAttrOp(wire.ActionSetPayMch, true)
	opGetPayMch       = bizAttrOp(wire.ActionGetPayMch, false)
	opSetContact      = bizAttrOp(wire.ActionSetContact, true)
	opGetContact      = bizAttrOp(wire.ActionGetContact, false)
	opMakeOutInvoice  = &operation{path: "/card/invoice/makeoutinvoice", write: true}
	opClearOutInvoice = &operation{path: "/card/invoice/clearoutinvoice", write: true}
	opQueryInvoice    = &operation{path: "/card/invoice/queryinvoceinfo"}
)

// bizAttrOp is POST /card/invoice/setbizattr with its action in the query.
func bizAttrOp(action string, write bool) *operation {
	return &operation{path: "/card/invoice/setbizattr", query: "&action=" + action, write: write}
}

// ---- wx_card ticket ----

// ticketSource fetches the wx_card api_ticket (授权页ticket) through the
// shared request path; the Client caches it in a tokenCache of its own, so
// tickets get the access token's treatment: cached until shortly before
// expiry, refreshed early in the background, one fetch in flight however
// many callers wait, shared through the TokenStore when one is configured.
type ticketSource struct{ c *Client }

func (s *ticketSource) Token(ctx context.Context) (Token, error) {
	start := time.Now()
	resp, err := do[wire.TicketResponse](ctx, s.c, opGetTicket, nil)
	if err != nil {
		return Token{}, err
	}
	if resp.Ticket == "" {
		return Token{}, &OpError{Op: opGetTicket.path, Err: errors.New("empty ticket in response")}
	}
	return Token{Value: resp.Ticket, ExpiresAt: tokenExpiry(start, resp.ExpiresIn)}, nil
}

// newTicketCache returns the Client's wx_card ticket cache. With a
// TokenStore the ticket is shared under "wx_card_ticket:<appid>".
func newTicketCache(c *Client, store TokenStore) *tokenCache {
	return &tokenCache{src: &ticketSource{c: c}, store: store, key: "wx_card_ticket:" + c.appID, logger: c.logger, now: time.Now}
}

// CardTicket returns the wx_card api_ticket (授权页ticket) that GetAuthURL
// and GetBillAuthURL need, fetching it when none is cached.
//
// WeChat API: GET /cgi-bin/ticket/getticket?type=wx_card (获取授权页ticket)
//
// The ticket is cached like the access token: until shortly before its
// expires_in (7200 s), refreshed early in the background, with one fetch in
// flight however many goroutines ask, and shared through WithTokenStore when
// one is configured. It is safe for concurrent use. Treat the value as a
// secret. Nobody documents which errcode a rejected ticket causes, so the SDK
// does not discard a ticket on its own; it simply expires.
func (c *Client) CardTicket(ctx context.Context) (string, error) {
	t, err := c.tickets.get(ctx)
	if err != nil {
		return "", err
	}
	return t.Value, nil
}

// ---- authorization page ----

// AuthSource is where a user opens an authorization page (the source field).
type AuthSource string

// The documented sources of getauthurl. GetBillAuthURL accepts only
// AuthSourceWeb and AuthSourceApp.
const (
	AuthSourceApp AuthSource = "app" // app开票
	AuthSourceWeb AuthSource = "web" // 微信h5开票: inside WeChat; RedirectURL applies
	AuthSourceWxa AuthSource = "wxa" // 小程序开发票: the answer carries the mini program appid to open
	AuthSourceWap AuthSource = "wap" // 普通网页开票
)

// Valid reports whether s is one of the four documented sources.
func (s AuthSource) Valid() bool {
	switch s {
	case AuthSourceApp, AuthSourceWeb, AuthSourceWxa, AuthSourceWap:
		return true
	}
	return false
}

// AuthPageType is the kind of authorization page (the type field).
type AuthPageType int

// The documented authorization page types.
const (
	// AuthPageInvoice: 开票授权, the user asks for an invoice.
	AuthPageInvoice AuthPageType = 0
	// AuthPageFillTitle: 填写字段开票授权, the user fills in the fields set
	// with SetAuthField; 支付后开票 (invoicing after payment) supports only
	// this type.
	AuthPageFillTitle AuthPageType = 1
	// AuthPageReceive: 领票授权, the user collects an invoice.
	AuthPageReceive AuthPageType = 2
)

// Valid reports whether t is one of the three documented types.
func (t AuthPageType) Valid() bool { return t >= AuthPageInvoice && t <= AuthPageReceive }

// GetAuthURLRequest asks for the authorization page of one order.
type GetAuthURLRequest struct {
	SPAppID string // the invoicing platform's s_pappid (from its SetURL) (required)
	OrderID string // the order, unique per invoicing request of the merchant (required)
	Money   int64  // 订单金额, fen (≥ 0)
	// Timestamp is sent as Unix seconds; zero means now.
	Timestamp time.Time
	Source    AuthSource // required
	// RedirectURL is where the page goes after a successful authorization;
	// WeChat uses it for source web only (an app returns by itself).
	RedirectURL string
	// Ticket is the wx_card api_ticket; empty: CardTicket (cached) is used.
	Ticket string
	Type   AuthPageType // 0 (AuthPageInvoice) is a legal value
}

// GetAuthURLResponse is the result of GetAuthURL.
type GetAuthURLResponse struct {
	AuthURL string // the page to send the user to
	AppID   string // the mini program to open the page in; given for AuthSourceWxa only
}

// GetAuthURL returns the authorization page (授权页) of an order: the user
// opens it and agrees to have the invoice put into the card package; WeChat
// then pushes user_authorize_invoice (EventConfig.OnUserAuthorizeInvoice) and
// GetAuthData reports the result.
//
// WeChat API: POST /card/invoice/getauthurl (获取授权页链接)
//
// SetContact must have been called once for the account, else WeChat answers
// ErrContactNotSet (72063). When Ticket is empty the cached wx_card ticket is
// fetched first (CardTicket). All four sources are accepted, wxa included
// (wechatpy's whitelist forgets it; the reference lists it).
func (c *Client) GetAuthURL(ctx context.Context, req *GetAuthURLRequest) (*GetAuthURLResponse, error) {
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case req.SPAppID == "":
		return nil, newValidation("SPAppID", "must not be empty")
	case req.OrderID == "":
		return nil, newValidation("OrderID", "must not be empty")
	case req.Money < 0:
		return nil, newValidation("Money", "must not be negative, got %d", req.Money)
	case !req.Source.Valid():
		return nil, newValidation("Source", "unknown source %q (app, web, wxa or wap)", string(req.Source))
	case !req.Type.Valid():
		return nil, newValidation("Type", "unknown type %d (0, 1 or 2)", int(req.Type))
	}
	ticket, err := c.ticketFor(ctx, req.Ticket)
	if err != nil {
		return nil, err
	}
	resp, err := postJSON[wire.AuthURLResponse](ctx, c, opGetAuthURL, &wire.AuthURLRequest{
		SPAppID: req.SPAppID, OrderID: req.OrderID, Money: wire.Int(req.Money), Timestamp: wire.Int(stampOrNow(req.Timestamp)),
		Source: string(req.Source), RedirectURL: req.RedirectURL, Ticket: ticket, Type: wire.Int(req.Type),
	})
	if err != nil {
		return nil, err
	}
	return &GetAuthURLResponse{AuthURL: resp.AuthURL, AppID: resp.AppID}, nil
}

// ticketFor returns given, or the cached wx_card ticket when it is empty.
func (c *Client) ticketFor(ctx context.Context, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	return c.CardTicket(ctx)
}

// stampOrNow returns t as Unix seconds, or now when t is zero.
func stampOrNow(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().Unix()
	}
	return unixSeconds(t)
}

// The invoice_status values GetAuthData has been seen to report. WeChat does
// not document the full list.
const (
	AuthStatusSuccess = "auth success" // the user authorized the order
	AuthStatusNever   = "never auth"   // the user has not (yet) authorized it
)

// GetAuthDataRequest names the order whose authorization is queried.
type GetAuthDataRequest struct {
	SPAppID string // the invoicing platform's (or fiscal bureau's) s_pappid (required)
	OrderID string // required
}

// GetAuthDataResponse is the result of GetAuthData.
type GetAuthDataResponse struct {
	// InvoiceStatus is WeChat's invoice_status as sent, e.g.
	// AuthStatusSuccess or AuthStatusNever.
	InvoiceStatus string
	AuthTime      time.Time // auth_time; zero when WeChat sends none
	// UserAuthInfo is what the user filled in on a type 1 page; empty
	// otherwise.
	UserAuthInfo UserAuthInfo
}

// Authorized reports whether InvoiceStatus is AuthStatusSuccess.
func (r *GetAuthDataResponse) Authorized() bool { return r.InvoiceStatus == AuthStatusSuccess }

// UserAuthInfo is what a user filled in on an authorization page
// (user_auth_info): a personal title (User) or a business one (Biz).
type UserAuthInfo struct {
	User UserAuthFields // user_field
	Biz  BizAuthFields  // biz_field
}

// UserAuthFields is a personal title as the user filled it in.
type UserAuthFields struct {
	Title        string
	Phone        string
	Email        string
	CustomFields []CustomFieldValue
}

// BizAuthFields is a business title as the user filled it in.
type BizAuthFields struct {
	Title        string
	TaxNo        string // 税号
	Addr         string
	Phone        string
	BankType     string // 开户行
	BankNo       string // 银行账号
	CustomFields []CustomFieldValue
}

// CustomFieldValue is a custom field (see CustomField) as the user filled it in.
type CustomFieldValue struct {
	Key   string
	Value string
}

// GetAuthData returns the authorization state of an order and what the user
// filled in.
//
// WeChat API: POST /card/invoice/getauthdata (查询授权完成状态)
//
// The same call serves fiscal e-bills (财政电子票据), whose orders are
// authorized through GetBillAuthURL. An order refused with RejectInsert
// answers ErrInsertRejected (72035).
func (c *Client) GetAuthData(ctx context.Context, req *GetAuthDataRequest) (*GetAuthDataResponse, error) {
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case req.SPAppID == "":
		return nil, newValidation("SPAppID", "must not be empty")
	case req.OrderID == "":
		return nil, newValidation("OrderID", "must not be empty")
	}
	resp, err := postJSON[wire.AuthDataResponse](ctx, c, opGetAuthData, &wire.OrderRequest{SPAppID: req.SPAppID, OrderID: req.OrderID})
	if err != nil {
		return nil, err
	}
	out := &GetAuthDataResponse{InvoiceStatus: resp.InvoiceStatus, AuthTime: fromUnix(resp.AuthTime)}
	if ui := resp.UserAuthInfo; ui != nil {
		if u := ui.UserField; u != nil {
			out.UserAuthInfo.User = UserAuthFields{Title: u.Title, Phone: u.Phone, Email: u.Email, CustomFields: customValues(u.CustomField)}
		}
		if b := ui.BizField; b != nil {
			out.UserAuthInfo.Biz = BizAuthFields{Title: b.Title, TaxNo: b.TaxNo, Addr: b.Addr, Phone: b.Phone,
				BankType: b.BankType, BankNo: b.BankNo, CustomFields: customValues(b.CustomField)}
		}
	}
	return out, nil
}

func customValues(in []wire.CustomFieldValue) []CustomFieldValue {
	if len(in) == 0 {
		return nil
	}
	out := make([]CustomFieldValue, len(in))
	for i, f := range in {
		out[i] = CustomFieldValue{Key: f.Key, Value: f.Value}
	}
	return out
}

// fromUnix converts a Unix-seconds wire value; 0 is the zero time.
func fromUnix(v wire.Int) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(int64(v), 0)
}

// RejectInsertRequest refuses to invoice an order.
type RejectInsertRequest struct {
	SPAppID string // required
	OrderID string // required
	Reason  string // 商家解释拒绝开票的原因, shown to the user (required)
	URL     string // optional link shown with the notice (wire name url)
}

// RejectInsert refuses to invoice an authorized order (拒绝开票); the user is
// notified with Reason.
//
// WeChat API: POST /card/invoice/rejectinsert (拒绝开票)
//
// It is irreversible: the order can never be invoiced; a later insert for it
// answers ErrInsertRejected (72035) and invoicing again needs a new order id
// and a new authorization. Fiscal bureaus use the same call to refuse a bill.
func (c *Client) RejectInsert(ctx context.Context, req *RejectInsertRequest) error {
	switch {
	case req == nil:
		return newValidation("req", "must not be nil")
	case req.SPAppID == "":
		return newValidation("SPAppID", "must not be empty")
	case req.OrderID == "":
		return newValidation("OrderID", "must not be empty")
	case req.Reason == "":
		return newValidation("Reason", "must not be empty")
	}
	_, err := postJSON[wire.Empty](ctx, c, opRejectInsert, &wire.RejectInsertRequest{
		SPAppID: req.SPAppID, OrderID: req.OrderID, Reason: req.Reason, URL: req.URL,
	})
	return err
}

// ---- setbizattr ----

// AuthField configures which fields a type 1 authorization page
// (AuthPageFillTitle) shows and requires: the personal title (User) and the
// business title (Biz).
type AuthField struct {
	User UserFieldSettings // user_field
	Biz  BizFieldSettings  // biz_field
}

// UserFieldSettings is the personal-title part of an authorization page.
// Shown fields become mandatory on the page. The Require* flags are part of
// what get_auth_field returns; they are sent only when set.
type UserFieldSettings struct {
	ShowTitle    bool // show_title
	ShowPhone    bool // show_phone
	ShowEmail    bool // show_email
	RequirePhone bool // require_phone
	RequireEmail bool // require_email
	CustomFields []CustomField
}

// BizFieldSettings is the business-title part of an authorization page.
type BizFieldSettings struct {
	ShowTitle       bool // show_title
	ShowTaxNo       bool // show_tax_no
	ShowAddr        bool // show_addr
	ShowPhone       bool // show_phone
	ShowBankType    bool // show_bank_type
	ShowBankNo      bool // show_bank_no
	RequireTaxNo    bool // require_tax_no
	RequireAddr     bool // require_addr
	RequirePhone    bool // require_phone
	RequireBankType bool // require_bank_type
	RequireBankNo   bool // require_bank_no
	CustomFields    []CustomField
}

// CustomField is a merchant-defined field of an authorization page.
type CustomField struct {
	Key      string // the field's name (required)
	Required bool   // is_require
	Notice   string // a hint shown with the field
}

// SetAuthField sets the fields of the account's type 1 authorization pages.
// It is a one-time setting (later calls replace it).
//
// WeChat API: POST /card/invoice/setbizattr?action=set_auth_field (设置授权页字段信息)
func (c *Client) SetAuthField(ctx context.Context, f *AuthField) error {
	if f == nil {
		return newValidation("f", "must not be nil")
	}
	for i, cf := range f.User.CustomFields {
		if cf.Key == "" {
			return newValidation("User.CustomFields["+strconv.Itoa(i)+"].Key", "must not be empty")
		}
	}
	for i, cf := range f.Biz.CustomFields {
		if cf.Key == "" {
			return newValidation("Biz.CustomFields["+strconv.Itoa(i)+"].Key", "must not be empty")
		}
	}
	u, b := &f.User, &f.Biz
	w := &wire.AuthFieldRequest{AuthField: wire.AuthField{
		UserField: wire.UserFieldConfig{
			ShowTitle: flag(u.ShowTitle), ShowPhone: flag(u.ShowPhone), ShowEmail: flag(u.ShowEmail),
			RequirePhone: flag(u.RequirePhone), RequireEmail: flag(u.RequireEmail), CustomField: wireCustomFields(u.CustomFields),
		},
		BizField: wire.BizFieldConfig{
			ShowTitle: flag(b.ShowTitle), ShowTaxNo: flag(b.ShowTaxNo), ShowAddr: flag(b.ShowAddr), ShowPhone: flag(b.ShowPhone),
			ShowBankType: flag(b.ShowBankType), ShowBankNo: flag(b.ShowBankNo),
			RequireTaxNo: flag(b.RequireTaxNo), RequireAddr: flag(b.RequireAddr), RequirePhone: flag(b.RequirePhone),
			RequireBankType: flag(b.RequireBankType), RequireBankNo: flag(b.RequireBankNo), CustomField: wireCustomFields(b.CustomFields),
		},
	}}
	_, err := postJSON[wire.Empty](ctx, c, opSetAuthField, w)
	return err
}

// GetAuthField returns the fields of the account's type 1 authorization
// pages. Before any SetAuthField expect ErrAuthFieldNotSet (72029, "invoice
// never set auth field"; the reference does not tie the code to this call,
// the fake server answers it).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_auth_field (查询授权页字段信息)
func (c *Client) GetAuthField(ctx context.Context) (*AuthField, error) {
	resp, err := postJSON[wire.AuthFieldResponse](ctx, c, opGetAuthField, struct{}{})
	if err != nil {
		return nil, err
	}
	u, b := &resp.AuthField.UserField, &resp.AuthField.BizField
	return &AuthField{
		User: UserFieldSettings{
			ShowTitle: u.ShowTitle != 0, ShowPhone: u.ShowPhone != 0, ShowEmail: u.ShowEmail != 0,
			RequirePhone: u.RequirePhone != 0, RequireEmail: u.RequireEmail != 0, CustomFields: customFields(u.CustomField),
		},
		Biz: BizFieldSettings{
			ShowTitle: b.ShowTitle != 0, ShowTaxNo: b.ShowTaxNo != 0, ShowAddr: b.ShowAddr != 0, ShowPhone: b.ShowPhone != 0,
			ShowBankType: b.ShowBankType != 0, ShowBankNo: b.ShowBankNo != 0,
			RequireTaxNo: b.RequireTaxNo != 0, RequireAddr: b.RequireAddr != 0, RequirePhone: b.RequirePhone != 0,
			RequireBankType: b.RequireBankType != 0, RequireBankNo: b.RequireBankNo != 0, CustomFields: customFields(b.CustomField),
		},
	}, nil
}

func flag(b bool) wire.Int {
	if b {
		return 1
	}
	return 0
}

func wireCustomFields(in []CustomField) []wire.CustomFieldConfig {
	if len(in) == 0 {
		return nil
	}
	out := make([]wire.CustomFieldConfig, len(in))
	for i, f := range in {
		out[i] = wire.CustomFieldConfig{Key: f.Key, IsRequire: flag(f.Required), Notice: f.Notice}
	}
	return out
}

func customFields(in []wire.CustomFieldConfig) []CustomField {
	if len(in) == 0 {
		return nil
	}
	out := make([]CustomField, len(in))
	for i, f := range in {
		out[i] = CustomField{Key: f.Key, Required: f.IsRequire != 0, Notice: f.Notice}
	}
	return out
}

// PayMchInfo links a WeChat Pay merchant to an invoicing platform for
// invoicing after payment (支付后开票).
type PayMchInfo struct {
	MchID   string // 微信支付商户号 (required)
	SPAppID string // the invoicing platform's s_pappid (required)
}

// SetPayMch links the account's WeChat Pay merchant to an invoicing
// platform. It is a one-time setting.
//
// WeChat API: POST /card/invoice/setbizattr?action=set_pay_mch (关联商户号与开票平台)
func (c *Client) SetPayMch(ctx context.Context, info *PayMchInfo) error {
	switch {
	case info == nil:
		return newValidation("info", "must not be nil")
	case info.MchID == "":
		return newValidation("MchID", "must not be empty")
	case info.SPAppID == "":
		return newValidation("SPAppID", "must not be empty")
	}
	_, err := postJSON[wire.Empty](ctx, c, opSetPayMch, &wire.PayMchRequest{PayMchInfo: wire.PayMchInfo{MchID: info.MchID, SPAppID: info.SPAppID}})
	return err
}

// GetPayMch returns the account's WeChat Pay merchant link. Before any
// SetPayMch expect ErrPayMchNotSet (72028, "invoice never set pay mch info";
// the reference does not tie the code to this call, the fake server answers
// it).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_pay_mch (查询商户号与开票平台关联情况)
func (c *Client) GetPayMch(ctx context.Context) (*PayMchInfo, error) {
	resp, err := postJSON[wire.PayMchResponse](ctx, c, opGetPayMch, struct{}{})
	if err != nil {
		return nil, err
	}
	return &PayMchInfo{MchID: resp.PayMchInfo.MchID, SPAppID: resp.PayMchInfo.SPAppID}, nil
}

// Contact is the merchant's contact for invoicing (联系方式).
type Contact struct {
	Phone string // 联系电话 (required)
	// Timeout is time_out (开票超时时间), sent as given. The reference gives no
	// unit; WeChat staff answered seconds.
	Timeout int64
}

// SetContact sets the merchant's contact. It must be done before the first
// GetAuthURL (else ErrContactNotSet, 72063).
//
// WeChat API: POST /card/invoice/setbizattr?action=set_contact (设置商户联系方式)
func (c *Client) SetContact(ctx context.Context, ct *Contact) error {
	switch {
	case ct == nil:
		return newValidation("ct", "must not be nil")
	case ct.Phone == "":
		return newValidation("Phone", "must not be empty")
	case ct.Timeout < 0:
		return newValidation("Timeout", "must not be negative, got %d", ct.Timeout)
	}
	_, err := postJSON[wire.Empty](ctx, c, opSetContact, &wire.ContactRequest{Contact: wire.Contact{Phone: ct.Phone, TimeOut: wire.Int(ct.Timeout)}})
	return err
}

// GetContact returns the merchant's contact. Before any SetContact expect
// ErrContactNotSet (72063; the reference does not tie the code to this call,
// the fake server answers it).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_contact (查询商户联系方式)
func (c *Client) GetContact(ctx context.Context) (*Contact, error) {
	resp, err := postJSON[wire.ContactResponse](ctx, c, opGetContact, struct{}{})
	if err != nil {
		return nil, err
	}
	return &Contact{Phone: resp.Contact.Phone, Timeout: int64(resp.Contact.TimeOut)}, nil
}

// ---- unified issuing (统一开票) ----

// MakeOutInvoiceRequest is a blue invoice (蓝票) to issue through WeChat's
// unified invoicing relay. Field names follow WeChat's pinyin abbreviations;
// amounts are yuan (元) decimal strings such as "159.00" (FormatYuan converts
// from fen).
type MakeOutInvoiceRequest struct {
	WxOpenID  string // wxopenid: the user (required)
	Ddh       string // ddh: 订单号 (required)
	Fpqqlsh   string // fpqqlsh: 发票请求流水号, unique per invoice; reuse it to retry (required)
	Nsrsbh    string // nsrsbh: 纳税人识别号 (required)
	Nsrmc     string // nsrmc: 纳税人名称 (required)
	Nsrdz     string // nsrdz: 纳税人地址 (required)
	Nsrdh     string // nsrdh: 纳税人电话 (required)
	NsrBank   string // nsrbank: 纳税人开户行
	NsrBankID string // nsrbankid: 纳税人银行账号
	Ghfnsrsbh string // ghfnsrsbh: 购货方识别号
	Ghfmc     string // ghfmc: 购货方名称 (required)
	Ghfdz     string // ghfdz: 购货方地址
	Ghfdh     string // ghfdh: 购货方电话
	GhfBank   string // ghfbank: 购货方开户行
	GhfBankID string // ghfbankid: 购货方银行账号
	Kpr       string // kpr: 开票人 (required)
	Skr       string // skr: 收款人
	Fhr       string // fhr: 复核人
	Jshj      string // jshj: 价税合计, yuan (required, ≥ 0)
	Hjje      string // hjje: 合计金额, yuan (required, ≥ 0)
	Hjse      string // hjse: 合计税额, yuan (required, ≥ 0)
	Bz        string // bz: 备注
	Hylx      string // hylx: 行业类型, "0" 商业 or "1" 其它 (required)
	Details   []MakeOutInvoiceDetail
}

// MakeOutInvoiceDetail is one line of a unified invoice (invoicedetail_list).
// Amounts are yuan strings; a discount line (Fphxz "1") carries negative ones.
type MakeOutInvoiceDetail struct {
	Fphxz string // fphxz: 发票行性质, "0" 正常, "1" 折扣, "2" 被折扣
	Spbm  string // spbm: 19 位税收分类编码
	Xmmc  string // xmmc: 项目名称
	Dw    string // dw: 单位
	Ggxh  string // ggxh: 规格型号
	Xmsl  string // xmsl: 数量
	Xmdj  string // xmdj: 单价
	Xmje  string // xmje: 金额 (不含税), yuan
	Sl    string // sl: 税率, e.g. "0.13"
	Se    string // se: 税额, yuan
}

// FormatYuan formats an amount in fen (分) as the yuan decimal string the
// unified invoicing API expects: FormatYuan(15900) == "159.00".
func FormatYuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	cents := u % 100
	s := sign + strconv.FormatUint(u/100, 10) + "."
	if cents < 10 {
		s += "0"
	}
	return s + strconv.FormatUint(cents, 10)
}

// MakeOutInvoice asks WeChat's unified invoicing relay to issue a blue invoice
// (开具蓝票). The call only starts the issuing: the result arrives as the
// cloud_invoice_invoiceresult_event push (CloudInvoiceResultEvent, see
// EventConfig.OnCloudInvoiceResult) and can be read with QueryInvoiceInfo.
//
// WeChat API: POST /card/invoice/makeoutinvoice (统一开票接口-开具蓝票)
//
// The call is a write and is never replayed when its outcome is unknown
// (ErrOutcomeUnknown). ErrMakeOutTimeout (73105), ErrFpqqlshProcessing
// (73107) and ErrInvoicePlatform (73100) mean the invoice may still have been
// issued: query it with QueryInvoiceInfo, or retry with the SAME Fpqqlsh
// (and Ddh) — a new fpqqlsh could issue it twice. ErrFpqqlshReused (73106)
// and ErrDdhReused (73108) report a fpqqlsh/ddh pair that does not match an
// earlier request.
func (c *Client) MakeOutInvoice(ctx context.Context, req *MakeOutInvoiceRequest) error {
	if err := validateMakeOut(req); err != nil {
		return err
	}
	w := &wire.MakeOutInvoiceRequest{InvoiceInfo: wire.MakeOutInvoiceInfo{
		WxOpenID: req.WxOpenID, Ddh: req.Ddh, Fpqqlsh: req.Fpqqlsh,
		Nsrsbh: req.Nsrsbh, Nsrmc: req.Nsrmc, Nsrdz: req.Nsrdz, Nsrdh: req.Nsrdh, Nsrbank: req.NsrBank, Nsrbankid: req.NsrBankID,
		Ghfnsrsbh: req.Ghfnsrsbh, Ghfmc: req.Ghfmc, Ghfdz: req.Ghfdz, Ghfdh: req.Ghfdh, Ghfbank: req.GhfBank, Ghfbankid: req.GhfBankID,
		Kpr: req.Kpr, Skr: req.Skr, Fhr: req.Fhr, Jshj: req.Jshj, Hjje: req.Hjje, Hjse: req.Hjse, Bz: req.Bz, Hylx: req.Hylx,
	}}
	if len(req.Details) > 0 {
		w.InvoiceInfo.InvoiceDetailList = make([]wire.MakeOutInvoiceDetail, len(req.Details))
		for i, d := range req.Details {
			w.InvoiceInfo.InvoiceDetailList[i] = wire.MakeOutInvoiceDetail{Fphxz: d.Fphxz, Spbm: d.Spbm, Xmmc: d.Xmmc,
				Dw: d.Dw, Ggxh: d.Ggxh, Xmsl: d.Xmsl, Xmdj: d.Xmdj, Xmje: d.Xmje, Sl: d.Sl, Se: d.Se}
		}
	}
	_, err := postJSON[wire.Empty](ctx, c, opMakeOutInvoice, w)
	return err
}

// validateMakeOut refuses what WeChat's 73002–73016 codes name as missing,
// amounts that are not decimal numbers, negative totals and unknown enums.
func validateMakeOut(req *MakeOutInvoiceRequest) error {
	if req == nil {
		return newValidation("req", "must not be nil")
	}
	for _, f := range [...]struct{ name, v string }{
		{"WxOpenID", req.WxOpenID}, {"Ddh", req.Ddh}, {"Fpqqlsh", req.Fpqqlsh}, {"Nsrsbh", req.Nsrsbh},
		{"Nsrmc", req.Nsrmc}, {"Nsrdz", req.Nsrdz}, {"Nsrdh", req.Nsrdh}, {"Ghfmc", req.Ghfmc}, {"Kpr", req.Kpr},
		{"Jshj", req.Jshj}, {"Hjje", req.Hjje}, {"Hjse", req.Hjse}, {"Hylx", req.Hylx},
	} {
		if f.v == "" {
			return newValidation(f.name, "must not be empty")
		}
	}
	for _, f := range [...]struct{ name, v string }{{"Jshj", req.Jshj}, {"Hjje", req.Hjje}, {"Hjse", req.Hjse}} {
		v, ok := parseYuan(f.v)
		if !ok {
			return newValidation(f.name, "not a yuan amount: %q", f.v)
		}
		if v < 0 {
			return newValidation(f.name, "must not be negative, got %s", f.v)
		}
	}
	if req.Hylx != "0" && req.Hylx != "1" {
		return newValidation("Hylx", "unknown 行业类型 %q (\"0\" or \"1\")", req.Hylx)
	}
	for i, d := range req.Details {
		field := func(name string) string { return "Details[" + strconv.Itoa(i) + "]." + name }
		if d.Fphxz != "" && d.Fphxz != "0" && d.Fphxz != "1" && d.Fphxz != "2" {
			return newValidation(field("Fphxz"), "unknown 发票行性质 %q (\"0\", \"1\" or \"2\")", d.Fphxz)
		}
		for _, a := range [...]struct{ name, v string }{{"Xmdj", d.Xmdj}, {"Xmje", d.Xmje}, {"Se", d.Se}} {
			if _, ok := parseYuan(a.v); a.v != "" && !ok {
				return newValidation(field(a.name), "not a yuan amount: %q", a.v)
			}
		}
	}
	return nil
}

// parseYuan parses a plain decimal amount such as "159.0" or "-23.10"
// (no exponent, hex, infinity or spaces).
func parseYuan(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "eEpPxXiInN_ \t") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// ClearOutInvoiceRequest voids (冲红) an invoice issued with MakeOutInvoice by
// issuing its red counterpart.
type ClearOutInvoiceRequest struct {
	WxOpenID string // wxopenid (required)
	Fpqqlsh  string // fpqqlsh: a NEW 发票请求流水号 for the red invoice (required)
	Nsrsbh   string // nsrsbh: 纳税人识别号 (required)
	Nsrmc    string // nsrmc: 纳税人名称 (required)
	Yfpdm    string // yfpdm: 原发票代码 (empty for a 数电发票, which has none)
	Yfphm    string // yfphm: 原发票号码 (required)
}

// ClearOutInvoice voids (冲红) an invoice issued through unified invoicing.
//
// WeChat API: POST /card/invoice/clearoutinvoice (统一开票接口-冲红)
//
// Like MakeOutInvoice it is a write that is never replayed when its outcome
// is unknown, and 73105/73107/73100 mean it may still have succeeded: query
// the red invoice's Fpqqlsh with QueryInvoiceInfo or retry with the same one.
func (c *Client) ClearOutInvoice(ctx context.Context, req *ClearOutInvoiceRequest) error {
	if req == nil {
		return newValidation("req", "must not be nil")
	}
	for _, f := range [...]struct{ name, v string }{
		{"WxOpenID", req.WxOpenID}, {"Fpqqlsh", req.Fpqqlsh}, {"Nsrsbh", req.Nsrsbh}, {"Nsrmc", req.Nsrmc}, {"Yfphm", req.Yfphm},
	} {
		if f.v == "" {
			return newValidation(f.name, "must not be empty")
		}
	}
	_, err := postJSON[wire.Empty](ctx, c, opClearOutInvoice, &wire.ClearOutInvoiceRequest{InvoiceInfo: wire.ClearOutInvoiceInfo{
		WxOpenID: req.WxOpenID, Fpqqlsh: req.Fpqqlsh, Nsrsbh: req.Nsrsbh, Nsrmc: req.Nsrmc, Yfpdm: req.Yfpdm, Yfphm: req.Yfphm,
	}})
	return err
}

// QueryInvoiceInfoRequest names a unified invoice.
type QueryInvoiceInfoRequest struct {
	Fpqqlsh string // the 发票请求流水号 given to MakeOutInvoice or ClearOutInvoice (required)
	Nsrsbh  string // 纳税人识别号 (required)
}

// QueryInvoiceInfoResponse is an issued unified invoice (invoicedetail).
type QueryInvoiceInfoResponse struct {
	Fpqqlsh string // 发票请求流水号
	Fpdm    string // 发票代码
	Fphm    string // 发票号码
	Jym     string // 校验码
	Kprq    string // 开票日期 as sent, e.g. "20171204172159"
	// IssuedAt is Kprq read as yyyyMMddHHmmss in China time (UTC+8); zero
	// when Kprq is not in that form.
	IssuedAt time.Time
	PDFURL   string // pdfurl
}

// chinaZone is the zone WeChat's date strings are written in.
var chinaZone = time.FixedZone("CST", 8*3600)

// QueryInvoiceInfo returns a unified invoice issued with MakeOutInvoice (or
// the red invoice of ClearOutInvoice). ErrFpqqlshNotFound (73109) means the
// platform has no such request; ErrFpqqlshProcessing (73107) that it is
// still being issued.
//
// WeChat API: POST /card/invoice/queryinvoceinfo (统一开票接口-查询已开发票)
//
// The path is spelled "queryinvoceinfo", as WeChat serves it.
func (c *Client) QueryInvoiceInfo(ctx context.Context, req *QueryInvoiceInfoRequest) (*QueryInvoiceInfoResponse, error) {
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case req.Fpqqlsh == "":
		return nil, newValidation("Fpqqlsh", "must not be empty")
	case req.Nsrsbh == "":
		return nil, newValidation("Nsrsbh", "must not be empty")
	}
	resp, err := postJSON[wire.QueryInvoiceInfoResponse](ctx, c, opQueryInvoice, &wire.QueryInvoiceInfoRequest{Fpqqlsh: req.Fpqqlsh, Nsrsbh: req.Nsrsbh})
	if err != nil {
		return nil, err
	}
	d := &resp.InvoiceDetail
	out := &QueryInvoiceInfoResponse{Fpqqlsh: d.Fpqqlsh, Fpdm: d.Fpdm, Fphm: d.Fphm, Jym: d.Jym, Kprq: d.Kprq, PDFURL: d.PDFURL}
	if t, perr := time.ParseInLocation("20060102150405", d.Kprq, chinaZone); perr == nil {
		out.IssuedAt = t
	}
	return out, nil
}
