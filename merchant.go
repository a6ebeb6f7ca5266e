package wxinvoice

import (
	"context"
	"errors"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the merchant (商户) side of an order: the wx_card ticket, the
// authorization page and its state, and rejecting an order. The business
// attributes are in bizattr.go, unified issuing in unified.go.

var (
	opGetTicket    = &operation{path: "/cgi-bin/ticket/getticket", method: "GET", query: "&type=wx_card"}
	opGetAuthURL   = &operation{path: "/card/invoice/getauthurl"}
	opGetAuthData  = &operation{path: "/card/invoice/getauthdata"}
	opRejectInsert = &operation{path: "/card/invoice/rejectinsert", write: true}
)

// ---- wx_card ticket ----

// ticketSource fetches the wx_card api_ticket (授权页ticket) through the
// shared request path; the Client caches it in a tokenCache of its own, so
// tickets get the access token's treatment: cached until shortly before
// expiry, refreshed early in the background, one fetch in flight however
// many callers wait, shared through the TokenStore when one is configured.
type ticketSource struct{ c *Client }

func (s *ticketSource) Token(ctx context.Context) (Token, error) {
	start := time.Now()
	resp, err := do[wire.TicketResponse](ctx, s.c, opGetTicket, nil, new(wire.TicketResponse))
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
	return &tokenCache{src: &ticketSource{c: c}, store: store, key: "wx_card_ticket:" + c.appID, logger: c.logger, now: time.Now,
		kind: "wx_card_ticket", obs: c.obs}
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
// fetched first (CardTicket). All four documented sources are accepted, wxa
// included.
func (c *Client) GetAuthURL(ctx context.Context, req *GetAuthURLRequest) (*GetAuthURLResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	ticket, err := c.ticketFor(ctx, req.Ticket)
	if err != nil {
		return nil, err
	}
	return call(ctx, c, opGetAuthURL, withTicket{req, ticket}, func(w *wire.AuthURLResponse) *GetAuthURLResponse {
		return &GetAuthURLResponse{AuthURL: w.AuthURL, AppID: w.AppID}
	})
}

func (r *GetAuthURLRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	err := firstInvalid(nonEmpty("SPAppID", r.SPAppID), nonEmpty("OrderID", r.OrderID), nonNegative("Money", r.Money))
	switch {
	case err != nil:
		return err
	case !r.Source.Valid():
		return newValidation("Source", "unknown source %q (app, web, wxa or wap)", string(r.Source))
	case !r.Type.Valid():
		return newValidation("Type", "unknown type %d (0, 1 or 2)", int(r.Type))
	}
	return nil
}

func (r *GetAuthURLRequest) toWireWithTicket(ticket string) any {
	return &wire.AuthURLRequest{
		SPAppID: r.SPAppID, OrderID: r.OrderID, Money: wire.Int(r.Money), Timestamp: wire.Int(stampOrNow(r.Timestamp)),
		Source: string(r.Source), RedirectURL: r.RedirectURL, Ticket: ticket, Type: wire.Int(r.Type),
	}
}

// ticketRequest is a request whose wire shape carries the wx_card ticket.
type ticketRequest interface {
	validate() error
	toWireWithTicket(ticket string) any
}

// withTicket is a validated ticketRequest and the ticket it is sent with.
type withTicket struct {
	req    ticketRequest
	ticket string
}

func (w withTicket) validate() error { return nil } // validated before the ticket was fetched
func (w withTicket) toWire() any     { return w.req.toWireWithTicket(w.ticket) }

// ticketFor returns given, or the cached wx_card ticket when it is empty.
func (c *Client) ticketFor(ctx context.Context, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	return c.CardTicket(ctx)
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
	return call(ctx, c, opGetAuthData, req, authDataFromWire)
}

func (r *GetAuthDataRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("SPAppID", r.SPAppID), nonEmpty("OrderID", r.OrderID))
}

func (r *GetAuthDataRequest) toWire() any {
	return &wire.OrderRequest{SPAppID: r.SPAppID, OrderID: r.OrderID}
}

func authDataFromWire(resp *wire.AuthDataResponse) *GetAuthDataResponse {
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
	return out
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
	return act(ctx, c, opRejectInsert, req)
}

func (r *RejectInsertRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("SPAppID", r.SPAppID), nonEmpty("OrderID", r.OrderID), nonEmpty("Reason", r.Reason))
}

func (r *RejectInsertRequest) toWire() any {
	return &wire.RejectInsertRequest{SPAppID: r.SPAppID, OrderID: r.OrderID, Reason: r.Reason, URL: r.URL}
}
