package wxinvoice

import (
	"context"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// InsertBillRequest is a fiscal e-bill (财政电子票据) to put into a user's card bag.
type InsertBillRequest struct {
	OrderID string // the authorized order (required)
	CardID  string // the bill template from createbillcard (required)
	AppID   string // the appid the order was authorized with, usually the collecting unit's (required)
	Bill    BillData
}

// BillData is the bill's invoice_user_data. Money is int64 fen (分). The nontax
// page calls billing_no 票据代码 and billing_code 票据号码; both are required.
type BillData struct {
	Fee         int64     // 金额, fen (required, ≥ 0)
	Title       string    // 缴费单位 (required)
	BillingTime time.Time // 开票时间, sent as Unix seconds (required)
	BillingNo   string    // billing_no (required)
	BillingCode string    // billing_code (required)
	PDFMediaID  string    `wire:"s_pdf_media_id"` // s_pdf_media_id from UploadPDF (required)
}

// InsertBillResponse is the result of InsertBill.
type InsertBillResponse struct {
	Code   string // the bill card's code
	OpenID string // the user the bill went to
}

var opInsertBill = &operation{path: "/nontax/insertbill", write: true}

// InsertBill puts a fiscal e-bill into the user's card bag.
//
// WeChat API: POST /nontax/insertbill (票据插入用户卡包)
//
// The wire shape is insert's, without nonce_str (the official sample has none).
func (c *Client) InsertBill(ctx context.Context, req *InsertBillRequest) (*InsertBillResponse, error) {
	return call(ctx, c, opInsertBill, req, func(w *wire.InsertResponse) *InsertBillResponse {
		return &InsertBillResponse{Code: w.Code, OpenID: w.OpenID}
	})
}

func (r *InsertBillRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	b := &r.Bill
	return firstInvalid(nonEmpty("OrderID", r.OrderID), nonEmpty("CardID", r.CardID), nonEmpty("AppID", r.AppID),
		nonNegative("Bill.Fee", b.Fee), nonEmpty("Bill.Title", b.Title),
		rule{bad: b.BillingTime.IsZero(), field: "Bill.BillingTime", reason: "must be set"},
		nonEmpty("Bill.BillingNo", b.BillingNo), nonEmpty("Bill.BillingCode", b.BillingCode),
		rule{bad: b.PDFMediaID == "", field: "Bill.PDFMediaID", reason: "must not be empty (upload the PDF with UploadPDF)"})
}

func (r *InsertBillRequest) toWire() any {
	b := &r.Bill
	return &wire.InsertRequest{OrderID: r.OrderID, CardID: r.CardID, AppID: r.AppID, CardExt: wire.CardExt{
		UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{
			Fee: b.Fee, Title: b.Title, BillingTime: wire.Int(unixSeconds(b.BillingTime)),
			BillingNo: b.BillingNo, BillingCode: b.BillingCode, SPDFMediaID: b.PDFMediaID,
		}},
	}}
}

var (
	opGetBillAuthURL = &operation{path: "/nontax/getbillauthurl"}
	opCreateBillCard = &operation{path: "/nontax/createbillcard", write: true}
)

// GetBillAuthURLRequest asks for the authorization page of a fiscal e-bill
// order. It has getauthurl's fields without Type.
type GetBillAuthURLRequest struct {
	SPAppID string // the fiscal bureau's s_pappid (财政局id) (required)
	OrderID string // required
	Money   int64  // 金额, fen (≥ 0)
	// Timestamp is sent as Unix seconds; zero means now.
	Timestamp time.Time
	// Source is AuthSourceWeb (公众号开票) or AuthSourceApp (app开票), the only
	// two the nontax page lists (required).
	Source      AuthSource
	RedirectURL string // optional
	Ticket      string // the wx_card api_ticket; empty: CardTicket (cached) is used
}

// GetBillAuthURLResponse is the result of GetBillAuthURL.
type GetBillAuthURLResponse struct {
	AuthURL    string
	ExpireTime time.Time // when AuthURL stops working (now + expire_time)
}

// GetBillAuthURL returns the authorization page of a fiscal e-bill order;
// the user's answer arrives like an invoice's (user_authorize_invoice,
// GetAuthData), and a bill may be refused with RejectInsert.
//
// WeChat API: POST /nontax/getbillauthurl (获取授权页链接)
func (c *Client) GetBillAuthURL(ctx context.Context, req *GetBillAuthURLRequest) (*GetBillAuthURLResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	ticket, err := c.ticketFor(ctx, req.Ticket)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	return call(ctx, c, opGetBillAuthURL, withTicket{req, ticket}, func(w *wire.BillAuthURLResponse) *GetBillAuthURLResponse {
		out := &GetBillAuthURLResponse{AuthURL: w.AuthURL}
		if w.ExpireTime > 0 {
			out.ExpireTime = start.Add(time.Duration(w.ExpireTime) * time.Second)
		}
		return out
	})
}

func (r *GetBillAuthURLRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	err := firstInvalid(nonEmpty("SPAppID", r.SPAppID), nonEmpty("OrderID", r.OrderID), nonNegative("Money", r.Money))
	if err == nil && r.Source != AuthSourceWeb && r.Source != AuthSourceApp {
		return newValidation("Source", "unknown source %q (web or app)", string(r.Source))
	}
	return err
}

func (r *GetBillAuthURLRequest) toWireWithTicket(ticket string) any {
	return &wire.BillAuthURLRequest{
		SPAppID: r.SPAppID, OrderID: r.OrderID, Money: wire.Int(r.Money), Timestamp: wire.Int(stampOrNow(r.Timestamp)),
		Source: string(r.Source), RedirectURL: r.RedirectURL, Ticket: ticket,
	}
}

// CreateBillCardRequest describes a fiscal e-bill card template, one per
// collecting unit (执收单位).
type CreateBillCardRequest struct {
	Payee   string // 收款方 (required)
	LogoURL string // base_info.logo_url: a permanent material URL (required)
}

// CreateBillCardResponse is the result of CreateBillCard.
type CreateBillCardResponse struct {
	CardID string // the template's card_id, used by InsertBill
}

// CreateBillCard creates a fiscal e-bill card template.
//
// WeChat API: POST /nontax/createbillcard (创建财政电子票据模板)
//
// The reference table lists payee and base_info at the top level, but the
// official sample wraps them in invoice_info; the SDK sends the sample's
// shape, as SKIT does.
func (c *Client) CreateBillCard(ctx context.Context, req *CreateBillCardRequest) (*CreateBillCardResponse, error) {
	return call(ctx, c, opCreateBillCard, req, func(w *wire.CardIDResponse) *CreateBillCardResponse {
		return &CreateBillCardResponse{CardID: w.CardID}
	})
}

func (r *CreateBillCardRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("Payee", r.Payee), nonEmpty("LogoURL", r.LogoURL))
}

func (r *CreateBillCardRequest) toWire() any {
	return &wire.CreateBillCardRequest{InvoiceInfo: wire.BillCardInfo{Payee: r.Payee, BaseInfo: wire.BillCardBaseInfo{LogoURL: r.LogoURL}}}
}
