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
	PDFMediaID  string    // s_pdf_media_id from UploadPDF (required)
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
	if req == nil {
		return nil, newValidation("req", "must not be nil")
	}
	if err := requireIDs(req.OrderID, req.CardID, req.AppID); err != nil {
		return nil, err
	}
	b := &req.Bill
	switch {
	case b.Fee < 0:
		return nil, newValidation("Bill.Fee", "must not be negative, got %d", b.Fee)
	case b.Title == "":
		return nil, newValidation("Bill.Title", "must not be empty")
	case b.BillingTime.IsZero():
		return nil, newValidation("Bill.BillingTime", "must be set")
	case b.BillingNo == "":
		return nil, newValidation("Bill.BillingNo", "must not be empty")
	case b.BillingCode == "":
		return nil, newValidation("Bill.BillingCode", "must not be empty")
	case b.PDFMediaID == "":
		return nil, newValidation("Bill.PDFMediaID", "must not be empty (upload the PDF with UploadPDF)")
	}
	w := &wire.InsertRequest{OrderID: req.OrderID, CardID: req.CardID, AppID: req.AppID, CardExt: wire.CardExt{
		UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{
			Fee: b.Fee, Title: b.Title, BillingTime: wire.Int(unixSeconds(b.BillingTime)),
			BillingNo: b.BillingNo, BillingCode: b.BillingCode, SPDFMediaID: b.PDFMediaID,
		}},
	}}
	resp, err := postJSON[wire.InsertResponse](ctx, c, opInsertBill, w)
	if err != nil {
		return nil, err
	}
	return &InsertBillResponse{Code: resp.Code, OpenID: resp.OpenID}, nil
}

// ---- the rest of the fiscal e-bill (财政电子票据) family ----

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
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case req.SPAppID == "":
		return nil, newValidation("SPAppID", "must not be empty")
	case req.OrderID == "":
		return nil, newValidation("OrderID", "must not be empty")
	case req.Money < 0:
		return nil, newValidation("Money", "must not be negative, got %d", req.Money)
	case req.Source != AuthSourceWeb && req.Source != AuthSourceApp:
		return nil, newValidation("Source", "unknown source %q (web or app)", string(req.Source))
	}
	ticket, err := c.ticketFor(ctx, req.Ticket)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := postJSON[wire.BillAuthURLResponse](ctx, c, opGetBillAuthURL, &wire.BillAuthURLRequest{
		SPAppID: req.SPAppID, OrderID: req.OrderID, Money: wire.Int(req.Money), Timestamp: wire.Int(stampOrNow(req.Timestamp)),
		Source: string(req.Source), RedirectURL: req.RedirectURL, Ticket: ticket,
	})
	if err != nil {
		return nil, err
	}
	out := &GetBillAuthURLResponse{AuthURL: resp.AuthURL}
	if resp.ExpireTime > 0 {
		out.ExpireTime = start.Add(time.Duration(resp.ExpireTime) * time.Second)
	}
	return out, nil
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
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case req.Payee == "":
		return nil, newValidation("Payee", "must not be empty")
	case req.LogoURL == "":
		return nil, newValidation("LogoURL", "must not be empty")
	}
	resp, err := postJSON[wire.CardIDResponse](ctx, c, opCreateBillCard, &wire.CreateBillCardRequest{InvoiceInfo: wire.BillCardInfo{
		Payee: req.Payee, BaseInfo: wire.BillCardBaseInfo{LogoURL: req.LogoURL},
	}})
	if err != nil {
		return nil, err
	}
	return &CreateBillCardResponse{CardID: resp.CardID}, nil
}
