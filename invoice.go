package wxinvoice

import (
	"context"
	"crypto/rand"
	"net/url"
	"strconv"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// SetURLResponse is the result of SetURL.
type SetURLResponse struct {
	InvoiceURL string // the platform's invoice_url
	SPAppID    string // the s_pappid parsed from InvoiceURL: the platform's id for merchants' getauthurl
}

// CreateCardRequest describes an invoice card template (发票卡券模板) for one payee.
type CreateCardRequest struct {
	Payee    string       // 收款方（开票方）全称，显示在发票详情内 (required)
	Type     string       // 发票类型, e.g. "广东省增值税普通发票" (required)
	BaseInfo CardBaseInfo // 发票卡券模板基础信息
}

// CardBaseInfo is the base_info of an invoice card template. The docs limit
// Title to 9 Chinese characters, the *URLName fields to 5 and the *SubTitle
// fields to 6; WeChat enforces these, the SDK does not guess byte limits.
type CardBaseInfo struct {
	LogoURL              string // 发票商家 LOGO, a permanent material URL (required)
	Title                string // 收款方名称, shown in the payee list (required)
	CustomURLName        string // 开票平台自定义入口名称
	CustomURL            string // 开票平台自定义入口跳转外链的地址链接, gets ?encrypt_code=&card_id=
	CustomURLSubTitle    string // 显示在入口右侧的 tips
	PromotionURLName     string // 营销场景的自定义入口
	PromotionURL         string // 入口跳转外链的地址链接, gets ?encrypt_code=&card_id=
	PromotionURLSubTitle string // 显示在入口右侧的 tips
}

// CreateCardResponse is the result of CreateCard.
type CreateCardResponse struct {
	CardID string // the template's card_id, used by InsertInvoice
}

// InsertInvoiceRequest is an invoice to put into a user's card bag.
type InsertInvoiceRequest struct {
	OrderID  string // the order the user authorized (required)
	CardID   string // the template from CreateCard (required)
	AppID    string // the appid the order was authorized with, usually the merchant's (required)
	NonceStr string // anti-replay random string; generated when empty
	Invoice  InvoiceData
}

// InvoiceData is invoice_user_data. Money is int64 fen (分).
//
// The docs disagree on which of BillingNo/BillingCode is 发票号码 and which is
// 发票代码; the SDK sends both as opaque strings under their wire names. For a
// 数电发票 send the 20-digit number in BillingNo and leave BillingCode and
// CheckCode empty.
type InvoiceData struct {
	Fee                   int64         // 发票的金额, fen (required, ≥ 0)
	Title                 string        // 发票的抬头 (required)
	BillingTime           time.Time     // 发票的开票时间, sent as Unix seconds (required)
	BillingNo             string        // billing_no (required)
	BillingCode           string        // billing_code
	Items                 []InvoiceItem `wire:"info"`
	FeeWithoutTax         int64         // 不含税金额, fen
	Tax                   int64         // 税额, fen
	PDFMediaID            string        `wire:"s_pdf_media_id"`      // s_pdf_media_id from UploadPDF (required)
	TripPDFMediaID        string        `wire:"s_trip_pdf_media_id"` // s_trip_pdf_media_id: 行程单 PDF
	CheckCode             string        // 校验码
	BuyerNumber           string        // 购买方纳税人识别号
	BuyerAddressAndPhone  string
	BuyerBankAccount      string
	SellerNumber          string
	SellerAddressAndPhone string
	SellerBankAccount     string
	Remarks               string
	Cashier               string
	Maker                 string
}

// InsertInvoiceResponse is the result of InsertInvoice.
type InsertInvoiceResponse struct {
	Code    string // the invoice card's code; with CardID it identifies the invoice
	OpenID  string // the user the invoice went to
	UnionID string // set only when the account is bound to an Open Platform account
}

var (
	opSetURL     = &operation{path: "/card/invoice/seturl"}
	opCreateCard = &operation{path: "/card/invoice/platform/createcard", write: true}
	opInsert     = &operation{path: "/card/invoice/insert", write: true}
	opDecrypt    = &operation{path: "/card/code/decrypt"}
)

// SetURL returns the platform's invoice_url and the s_pappid in it.
//
// WeChat API: POST /card/invoice/seturl (获取开票平台识别码)
func (c *Client) SetURL(ctx context.Context) (*SetURLResponse, error) {
	resp, err := postJSON[wire.SetURLResponse](ctx, c, opSetURL, struct{}{})
	if err != nil {
		return nil, err
	}
	out := &SetURLResponse{InvoiceURL: resp.InvoiceURL}
	if u, perr := url.Parse(resp.InvoiceURL); perr == nil {
		out.SPAppID = u.Query().Get("s_pappid")
	}
	return out, nil
}

// CreateCard creates an invoice card template for a payee.
//
// WeChat API: POST /card/invoice/platform/createcard (创建发票卡券模板)
func (c *Client) CreateCard(ctx context.Context, req *CreateCardRequest) (*CreateCardResponse, error) {
	return call(ctx, c, opCreateCard, req, func(w *wire.CardIDResponse) *CreateCardResponse {
		return &CreateCardResponse{CardID: w.CardID}
	})
}

func (r *CreateCardRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("Payee", r.Payee), nonEmpty("Type", r.Type),
		nonEmpty("BaseInfo.LogoURL", r.BaseInfo.LogoURL), nonEmpty("BaseInfo.Title", r.BaseInfo.Title))
}

func (r *CreateCardRequest) toWire() any {
	b := r.BaseInfo
	return &wire.CreateCardRequest{InvoiceInfo: wire.CardInvoiceInfo{Payee: r.Payee, Type: r.Type, BaseInfo: wire.CardBaseInfo{
		LogoURL: b.LogoURL, Title: b.Title, CustomURLName: b.CustomURLName, CustomURL: b.CustomURL,
		CustomURLSubTitle: b.CustomURLSubTitle, PromotionURLName: b.PromotionURLName,
		PromotionURL: b.PromotionURL, PromotionURLSubTitle: b.PromotionURLSubTitle,
	}}}
}

// InsertInvoice puts an invoice into the user's card bag (WeChat 卡包).
//
// WeChat API: POST /card/invoice/insert (将电子发票卡券插入用户卡包)
//
// The flat request is sent in WeChat's nested shape
// {order_id, card_id, appid, card_ext: {nonce_str, user_card: {invoice_user_data}}}
// with billing_time as Unix seconds. Insert is a write and WeChat has no
// idempotency key: it is replayed only when WeChat certainly did not act on
// it; when the outcome is unknown the error wraps ErrOutcomeUnknown and a
// duplicate retry would answer ErrDuplicateInvoice (72042).
func (c *Client) InsertInvoice(ctx context.Context, req *InsertInvoiceRequest) (*InsertInvoiceResponse, error) {
	return call(ctx, c, opInsert, req, func(w *wire.InsertResponse) *InsertInvoiceResponse {
		return &InsertInvoiceResponse{Code: w.Code, OpenID: w.OpenID, UnionID: w.UnionID}
	})
}

func (r *InsertInvoiceRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	inv := &r.Invoice
	err := firstInvalid(nonEmpty("OrderID", r.OrderID), nonEmpty("CardID", r.CardID), nonEmpty("AppID", r.AppID),
		nonNegative("Invoice.Fee", inv.Fee), nonNegative("Invoice.FeeWithoutTax", inv.FeeWithoutTax),
		nonNegative("Invoice.Tax", inv.Tax), nonEmpty("Invoice.Title", inv.Title),
		rule{bad: inv.BillingTime.IsZero(), field: "Invoice.BillingTime", reason: "must be set"},
		nonEmpty("Invoice.BillingNo", inv.BillingNo),
		rule{bad: inv.PDFMediaID == "", field: "Invoice.PDFMediaID", reason: "must not be empty (upload the PDF with UploadPDF)"})
	if err != nil {
		return err
	}
	for i, it := range inv.Items {
		if it.Name == "" || it.Price < 0 || it.Num < 0 {
			return firstInvalid(nonEmpty(itemField(i, "Name"), it.Name), nonNegative(itemField(i, "Price"), it.Price),
				nonNegative(itemField(i, "Num"), it.Num))
		}
	}
	return nil
}

// toWire returns WeChat's nested shape {order_id, card_id, appid, card_ext:
// {nonce_str, user_card: {invoice_user_data}}}, with a fresh nonce_str when
// NonceStr is empty.
func (r *InsertInvoiceRequest) toWire() any {
	nonce := r.NonceStr
	if nonce == "" {
		nonce = newNonce()
	}
	inv := &r.Invoice
	return &wire.InsertRequest{OrderID: r.OrderID, CardID: r.CardID, AppID: r.AppID, CardExt: wire.CardExt{
		NonceStr: nonce, UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{
			Fee: inv.Fee, Title: inv.Title, BillingTime: wire.Int(unixSeconds(inv.BillingTime)),
			BillingNo: inv.BillingNo, BillingCode: inv.BillingCode, Info: wireItems(inv.Items),
			FeeWithoutTax: &inv.FeeWithoutTax, Tax: &inv.Tax,
			SPDFMediaID: inv.PDFMediaID, STripPDFMediaID: inv.TripPDFMediaID, CheckCode: inv.CheckCode,
			BuyerNumber: inv.BuyerNumber, BuyerAddressAndPhone: inv.BuyerAddressAndPhone, BuyerBankAccount: inv.BuyerBankAccount,
			SellerNumber: inv.SellerNumber, SellerAddressAndPhone: inv.SellerAddressAndPhone, SellerBankAccount: inv.SellerBankAccount,
			Remarks: inv.Remarks, Cashier: inv.Cashier, Maker: inv.Maker,
		}},
	}}
}

func itemField(i int, name string) string {
	return "Invoice.Items[" + strconv.Itoa(i) + "]." + name
}

func wireItems(items []InvoiceItem) []wire.InvoiceItem {
	if len(items) == 0 {
		return nil
	}
	out := make([]wire.InvoiceItem, len(items))
	for i, it := range items {
		out[i] = wire.InvoiceItem{Name: it.Name, Num: it.Num, Unit: it.Unit, Price: it.Price}
	}
	return out
}

const nonceAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newNonce returns 16 random alphanumeric characters.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = nonceAlphabet[int(b[i])%len(nonceAlphabet)]
	}
	return string(b[:])
}

// DecryptCode turns the encrypt_code WeChat appends to a card's custom or
// promotion URL into the invoice's real code.
//
// WeChat API: POST /card/code/decrypt (解码code)
func (c *Client) DecryptCode(ctx context.Context, encryptCode string) (string, error) {
	if encryptCode == "" {
		return "", newValidation("encryptCode", "must not be empty")
	}
	resp, err := postJSON[wire.DecryptCodeResponse](ctx, c, opDecrypt, &wire.DecryptCodeRequest{EncryptCode: encryptCode})
	if err != nil {
		return "", err
	}
	return resp.Code, nil
}
