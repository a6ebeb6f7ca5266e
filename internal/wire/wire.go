// Package wire holds the JSON shapes of the WeChat e-invoice APIs, shared by the
// SDK (package wxinvoice) and its fake server (package wxinvoicetest) so that
// there is exactly one copy of every wire shape.
//
// Field names follow the official documentation verbatim. Money is int64 fen (分).
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Int is an integer that decodes from a JSON number or a numeric string
// (WeChat types errcode and timestamps loosely on some pages) and always
// encodes as a JSON number.
type Int int64

// MarshalJSON encodes i as a JSON number.
func (i Int) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(i), 10), nil
}

// UnmarshalJSON accepts 12, "12", "" and null.
func (i *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	if len(b) == 0 || string(b) == "null" {
		*i = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Accept numbers written as floats without a fraction (1.468306058e9).
		var f json.Number = json.Number(b)
		fl, ferr := f.Float64()
		if ferr != nil || fl != float64(int64(fl)) {
			// The value itself is left out: a field WeChat filled with
			// something else may hold a token or a secret.
			return errors.New("wire: not an integer (" + strconv.Itoa(len(b)) + " bytes)")
		}
		n = int64(fl)
	}
	*i = Int(n)
	return nil
}

// Status is the envelope every WeChat response carries. Success is errcode 0
// (or no errcode at all, as /cgi-bin/token answers).
type Status struct {
	ErrCode Int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// WireStatus returns s; response types embed Status and so satisfy Enveloped.
func (s *Status) WireStatus() *Status { return s }

// Enveloped is implemented by every response type (through the embedded Status).
type Enveloped interface{ WireStatus() *Status }

// TokenResponse is the answer of /cgi-bin/token and /cgi-bin/stable_token.
type TokenResponse struct {
	Status
	AccessToken string `json:"access_token"`
	ExpiresIn   Int    `json:"expires_in"`
}

// StableTokenRequest is the body of POST /cgi-bin/stable_token.
type StableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// Empty is a response with no business fields.
type Empty struct{ Status }

// SetURLResponse is the answer of /card/invoice/seturl.
type SetURLResponse struct {
	Status
	InvoiceURL string `json:"invoice_url"`
}

// CreateCardRequest is the body of /card/invoice/platform/createcard.
type CreateCardRequest struct {
	InvoiceInfo CardInvoiceInfo `json:"invoice_info"`
}

// CardInvoiceInfo is createcard's invoice_info object.
type CardInvoiceInfo struct {
	BaseInfo CardBaseInfo `json:"base_info"`
	Payee    string       `json:"payee"`
	Type     string       `json:"type"`
}

// CardBaseInfo is createcard's base_info object.
type CardBaseInfo struct {
	LogoURL              string `json:"logo_url"`
	Title                string `json:"title"`
	CustomURLName        string `json:"custom_url_name,omitempty"`
	CustomURL            string `json:"custom_url,omitempty"`
	CustomURLSubTitle    string `json:"custom_url_sub_title,omitempty"`
	PromotionURLName     string `json:"promotion_url_name,omitempty"`
	PromotionURL         string `json:"promotion_url,omitempty"`
	PromotionURLSubTitle string `json:"promotion_url_sub_title,omitempty"`
}

// CardIDResponse is the answer of createcard and createbillcard.
type CardIDResponse struct {
	Status
	CardID string `json:"card_id"`
}

// SetPDFResponse is the answer of /card/invoice/platform/setpdf.
type SetPDFResponse struct {
	Status
	SMediaID string `json:"s_media_id"`
}

// GetPDFRequest is the body of /card/invoice/platform/getpdf.
type GetPDFRequest struct {
	Action   string `json:"action"`
	SMediaID string `json:"s_media_id"`
}

// GetPDFResponse is the answer of /card/invoice/platform/getpdf.
type GetPDFResponse struct {
	Status
	PDFURL           string `json:"pdf_url"`
	PDFURLExpireTime Int    `json:"pdf_url_expire_time"`
}

// InsertRequest is the body of /card/invoice/insert and /nontax/insertbill.
type InsertRequest struct {
	OrderID string  `json:"order_id"`
	CardID  string  `json:"card_id"`
	AppID   string  `json:"appid"`
	CardExt CardExt `json:"card_ext"`
}

// CardExt is insert's card_ext object. nonce_str is absent for /nontax/insertbill.
type CardExt struct {
	NonceStr string   `json:"nonce_str,omitempty"`
	UserCard UserCard `json:"user_card"`
}

// UserCard is card_ext.user_card.
type UserCard struct {
	InvoiceUserData InvoiceUserData `json:"invoice_user_data"`
}

// InvoiceUserData is card_ext.user_card.invoice_user_data. The nontax bill uses
// the subset fee, title, billing_time, billing_no, billing_code, s_pdf_media_id;
// Tax and FeeWithoutTax are pointers so that a bill omits them while an invoice
// always sends them (0 is a legal tax).
type InvoiceUserData struct {
	Fee                   int64         `json:"fee"`
	Title                 string        `json:"title"`
	BillingTime           Int           `json:"billing_time"`
	BillingNo             string        `json:"billing_no"`
	BillingCode           string        `json:"billing_code,omitempty"`
	Info                  []InvoiceItem `json:"info,omitempty"`
	FeeWithoutTax         *int64        `json:"fee_without_tax,omitempty"`
	Tax                   *int64        `json:"tax,omitempty"`
	SPDFMediaID           string        `json:"s_pdf_media_id,omitempty"`
	STripPDFMediaID       string        `json:"s_trip_pdf_media_id,omitempty"`
	CheckCode             string        `json:"check_code,omitempty"`
	BuyerNumber           string        `json:"buyer_number,omitempty"`
	BuyerAddressAndPhone  string        `json:"buyer_address_and_phone,omitempty"`
	BuyerBankAccount      string        `json:"buyer_bank_account,omitempty"`
	SellerNumber          string        `json:"seller_number,omitempty"`
	SellerAddressAndPhone string        `json:"seller_address_and_phone,omitempty"`
	SellerBankAccount     string        `json:"seller_bank_account,omitempty"`
	Remarks               string        `json:"remarks,omitempty"`
	Cashier               string        `json:"cashier,omitempty"`
	Maker                 string        `json:"maker,omitempty"`
}

// InvoiceItem is one entry of invoice_user_data.info.
type InvoiceItem struct {
	Name  string `json:"name"`
	Num   int64  `json:"num,omitempty"`
	Unit  string `json:"unit,omitempty"`
	Price int64  `json:"price"`
}

// InsertResponse is the answer of /card/invoice/insert and /nontax/insertbill.
type InsertResponse struct {
	Status
	Code    string `json:"code"`
	OpenID  string `json:"openid"`
	UnionID string `json:"unionid,omitempty"`
}

// UpdateStatusRequest is the body of /card/invoice/platform/updatestatus.
type UpdateStatusRequest struct {
	CardID          string `json:"card_id"`
	Code            string `json:"code"`
	ReimburseStatus string `json:"reimburse_status"`
}

// DecryptCodeRequest is the body of /card/code/decrypt.
type DecryptCodeRequest struct {
	EncryptCode string `json:"encrypt_code"`
}

// DecryptCodeResponse is the answer of /card/code/decrypt.
type DecryptCodeResponse struct {
	Status
	Code string `json:"code"`
}
