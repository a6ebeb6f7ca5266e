package wxinvoice

import (
	"context"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the invoice-title (发票抬头 / 极速开发票) side: putting a title
// into a user's WeChat, the merchant's title-selection QR code, and reading
// the title a user shows as a QR code.

var (
	opGetUserTitleURL   = &operation{path: "/card/invoice/biz/getusertitleurl"}
	opGetSelectTitleURL = &operation{path: "/card/invoice/biz/getselecttitleurl"}
	opScanTitle         = &operation{path: "/card/invoice/scantitle"}
)

// TitleType tells a business title from a personal one (title_type).
type TitleType int

// The documented title types.
const (
	TitleTypeBusiness TitleType = 0 // 单位
	TitleTypePerson   TitleType = 1 // 个人
)

// GetUserTitleURLRequest describes a title to offer to users.
type GetUserTitleURLRequest struct {
	// UserFill lets the user fill in the title (user_fill 1); otherwise the
	// merchant gives it (user_fill 0, omitted on the wire as in the official
	// sample) and Title is required.
	UserFill bool
	Title    string // 抬头
	Phone    string // 联系方式: digits or "-"
	TaxNo    string // 税号: 15–20 digits or letters per WeChat's documentation
	Addr     string // 地址
	BankType string // 银行类型
	BankNo   string // 银行号码
	// OutTitleID is the merchant's own id for the title (开票码).
	OutTitleID string
}

// GetUserTitleURL returns a link that adds an invoice title to the user's
// WeChat (将发票抬头信息录入到用户微信中).
//
// WeChat API: POST /card/invoice/biz/getusertitleurl (录入抬头到用户微信)
//
// Format limits (tax number length, phone characters) are left to WeChat:
// the official sample itself sends a 10-character tax_no.
func (c *Client) GetUserTitleURL(ctx context.Context, req *GetUserTitleURLRequest) (string, error) {
	return call(ctx, c, opGetUserTitleURL, req, urlOf)
}

func (r *GetUserTitleURLRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	if !r.UserFill && r.Title == "" {
		return newValidation("Title", "must not be empty unless UserFill is set")
	}
	return nil
}

func (r *GetUserTitleURLRequest) toWire() any {
	return &wire.UserTitleURLRequest{
		UserFill: flag(r.UserFill), Title: r.Title, Phone: r.Phone, TaxNo: r.TaxNo, Addr: r.Addr,
		BankType: r.BankType, BankNo: r.BankNo, OutTitleID: r.OutTitleID,
	}
}

func urlOf(w *wire.URLResponse) string { return w.URL }

// GetSelectTitleURLRequest describes a merchant's title-selection page.
type GetSelectTitleURLRequest struct {
	// Attach comes back in the submit_invoice_title push
	// (SubmitInvoiceTitleEvent.Attach), e.g. to tell the cash desk apart.
	Attach  string
	BizName string // 商户名称 shown on the page
}

// GetSelectTitleURL returns the merchant's own title-selection link (商户专属
// 开票链接), usually shown as a QR code: a user who opens it picks a title,
// and WeChat pushes submit_invoice_title (EventConfig.OnSubmitInvoiceTitle).
//
// WeChat API: POST /card/invoice/biz/getselecttitleurl (获取商户专属抬头链接)
func (c *Client) GetSelectTitleURL(ctx context.Context, req *GetSelectTitleURLRequest) (string, error) {
	return call(ctx, c, opGetSelectTitleURL, req, urlOf)
}

// validate accepts anything: every field is optional, and a nil request is
// the empty one.
func (r *GetSelectTitleURLRequest) validate() error { return nil }

func (r *GetSelectTitleURLRequest) toWire() any {
	if r == nil {
		return &wire.SelectTitleURLRequest{}
	}
	return &wire.SelectTitleURLRequest{Attach: r.Attach, BizName: r.BizName}
}

// UserTitle is an invoice title a user keeps in WeChat.
type UserTitle struct {
	Type     TitleType // title_type
	Title    string
	Phone    string
	TaxNo    string
	Addr     string
	BankType string
	BankNo   string
}

// ScanTitle reads the title behind the QR code a user shows (the text a
// scanner gun reads from it).
//
// WeChat API: POST /card/invoice/scantitle (解析扫描的抬头二维码)
//
// Note the path is not under /biz/. A code that is too old answers
// ErrScanTextExpired (72044). Third-party platforms cannot call it.
func (c *Client) ScanTitle(ctx context.Context, scanText string) (*UserTitle, error) {
	if scanText == "" {
		return nil, newValidation("scanText", "must not be empty")
	}
	resp, err := postJSON[wire.ScanTitleResponse](ctx, c, opScanTitle, &wire.ScanTitleRequest{ScanText: scanText})
	if err != nil {
		return nil, err
	}
	return &UserTitle{Type: TitleType(resp.TitleType), Title: resp.Title, Phone: resp.Phone, TaxNo: resp.TaxNo,
		Addr: resp.Addr, BankType: resp.BankType, BankNo: resp.BankNo}, nil
}
