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
