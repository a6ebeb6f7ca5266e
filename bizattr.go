package wxinvoice

import (
	"context"
	"strconv"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the merchant's business attributes (POST
// /card/invoice/setbizattr with an action in the query): the fields of the
// type 1 authorization page, the WeChat Pay merchant link and the contact.

var (
	opSetAuthField = bizAttrOp(wire.ActionSetAuthField, true)
	opGetAuthField = bizAttrOp(wire.ActionGetAuthField, false)
	opSetPayMch    = bizAttrOp(wire.ActionSetPayMch, true)
	opGetPayMch    = bizAttrOp(wire.ActionGetPayMch, false)
	opSetContact   = bizAttrOp(wire.ActionSetContact, true)
	opGetContact   = bizAttrOp(wire.ActionGetContact, false)
)

// bizAttrOp is POST /card/invoice/setbizattr with its action in the query.
func bizAttrOp(action string, write bool) *operation {
	return &operation{path: "/card/invoice/setbizattr", query: "&action=" + action, write: write}
}

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
	ShowTitle    bool          // show_title
	ShowPhone    bool          // show_phone
	ShowEmail    bool          // show_email
	RequirePhone bool          // require_phone
	RequireEmail bool          // require_email
	CustomFields []CustomField `wire:"custom_field"`
}

// BizFieldSettings is the business-title part of an authorization page.
type BizFieldSettings struct {
	ShowTitle       bool          // show_title
	ShowTaxNo       bool          // show_tax_no
	ShowAddr        bool          // show_addr
	ShowPhone       bool          // show_phone
	ShowBankType    bool          // show_bank_type
	ShowBankNo      bool          // show_bank_no
	RequireTaxNo    bool          // require_tax_no
	RequireAddr     bool          // require_addr
	RequirePhone    bool          // require_phone
	RequireBankType bool          // require_bank_type
	RequireBankNo   bool          // require_bank_no
	CustomFields    []CustomField `wire:"custom_field"`
}

// CustomField is a merchant-defined field of an authorization page.
type CustomField struct {
	Key      string // the field's name (required)
	Required bool   `wire:"is_require"`
	Notice   string // a hint shown with the field
}

// SetAuthField sets the fields of the account's type 1 authorization pages.
// It is a one-time setting (later calls replace it).
//
// WeChat API: POST /card/invoice/setbizattr?action=set_auth_field (设置授权页字段信息)
func (c *Client) SetAuthField(ctx context.Context, f *AuthField) error {
	return act(ctx, c, opSetAuthField, f)
}

func (f *AuthField) validate() error {
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
	return nil
}

// toWire returns the set_auth_field body: the booleans as WeChat's 0/1 flags.
func (f *AuthField) toWire() any {
	u, b := &f.User, &f.Biz
	return &wire.AuthFieldRequest{AuthField: wire.AuthField{
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
}

// authFieldFromWire is the inverse of AuthField.toWire for get_auth_field's answer.
func authFieldFromWire(resp *wire.AuthFieldResponse) *AuthField {
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
	}
}

// GetAuthField returns the fields of the account's type 1 authorization
// pages. Before any SetAuthField expect ErrAuthFieldNotSet (72029, "invoice
// never set auth field": the errcode's meaning; WeChat's page for this call
// lists no errcodes).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_auth_field (查询授权页字段信息)
func (c *Client) GetAuthField(ctx context.Context) (*AuthField, error) {
	return call(ctx, c, opGetAuthField, noRequest{}, authFieldFromWire)
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
	return act(ctx, c, opSetPayMch, info)
}

func (info *PayMchInfo) validate() error {
	if info == nil {
		return newValidation("info", "must not be nil")
	}
	return firstInvalid(nonEmpty("MchID", info.MchID), nonEmpty("SPAppID", info.SPAppID))
}

func (info *PayMchInfo) toWire() any {
	return &wire.PayMchRequest{PayMchInfo: wire.PayMchInfo{MchID: info.MchID, SPAppID: info.SPAppID}}
}

// GetPayMch returns the account's WeChat Pay merchant link. Before any
// SetPayMch expect ErrPayMchNotSet (72028, "invoice never set pay mch info":
// the errcode's meaning; WeChat's page for this call lists no errcodes).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_pay_mch (查询商户号与开票平台关联情况)
func (c *Client) GetPayMch(ctx context.Context) (*PayMchInfo, error) {
	return call(ctx, c, opGetPayMch, noRequest{}, func(w *wire.PayMchResponse) *PayMchInfo {
		return &PayMchInfo{MchID: w.PayMchInfo.MchID, SPAppID: w.PayMchInfo.SPAppID}
	})
}

// Contact is the merchant's contact for invoicing (联系方式).
type Contact struct {
	Phone string // 联系电话 (required)
	// Timeout is time_out (开票超时时间), sent as given. WeChat's documentation
	// gives no unit; WeChat staff answered seconds.
	Timeout int64
}

// SetContact sets the merchant's contact. It must be done before the first
// GetAuthURL (else ErrContactNotSet, 72063).
//
// WeChat API: POST /card/invoice/setbizattr?action=set_contact (设置商户联系方式)
func (c *Client) SetContact(ctx context.Context, ct *Contact) error {
	return act(ctx, c, opSetContact, ct)
}

func (ct *Contact) validate() error {
	if ct == nil {
		return newValidation("ct", "must not be nil")
	}
	return firstInvalid(nonEmpty("Phone", ct.Phone), nonNegative("Timeout", ct.Timeout))
}

func (ct *Contact) toWire() any {
	return &wire.ContactRequest{Contact: wire.Contact{Phone: ct.Phone, TimeOut: wire.Int(ct.Timeout)}}
}

// GetContact returns the merchant's contact. Before any SetContact expect
// ErrContactNotSet (72063: the errcode's meaning; WeChat's page for this
// call lists no errcodes).
//
// WeChat API: POST /card/invoice/setbizattr?action=get_contact (查询商户联系方式)
func (c *Client) GetContact(ctx context.Context) (*Contact, error) {
	return call(ctx, c, opGetContact, noRequest{}, func(w *wire.ContactResponse) *Contact {
		return &Contact{Phone: w.Contact.Phone, Timeout: int64(w.Contact.TimeOut)}
	})
}
