package wire

// Merchant (商户) side: the wx_card ticket, the authorization page, the
// business attributes (setbizattr) and unified issuing (统一开票).

// TicketResponse is the answer of GET /cgi-bin/ticket/getticket?type=wx_card.
type TicketResponse struct {
	Status
	Ticket    string `json:"ticket"`
	ExpiresIn Int    `json:"expires_in"`
}

// AuthURLRequest is the body of /card/invoice/getauthurl. type is always
// sent: 0 is a legal value (开票授权).
type AuthURLRequest struct {
	SPAppID     string `json:"s_pappid"`
	OrderID     string `json:"order_id"`
	Money       Int    `json:"money"`
	Timestamp   Int    `json:"timestamp"`
	Source      string `json:"source"`
	RedirectURL string `json:"redirect_url,omitempty"`
	Ticket      string `json:"ticket"`
	Type        Int    `json:"type"`
}

// AuthURLResponse is the answer of /card/invoice/getauthurl. appid is only
// given for source wxa.
type AuthURLResponse struct {
	Status
	AuthURL string `json:"auth_url"`
	AppID   string `json:"appid,omitempty"`
}

// OrderRequest is the body of /card/invoice/getauthdata.
type OrderRequest struct {
	SPAppID string `json:"s_pappid"`
	OrderID string `json:"order_id"`
}

// AuthDataResponse is the answer of /card/invoice/getauthdata.
type AuthDataResponse struct {
	Status
	InvoiceStatus string        `json:"invoice_status"`
	AuthTime      Int           `json:"auth_time"`
	UserAuthInfo  *UserAuthInfo `json:"user_auth_info,omitempty"`
}

// UserAuthInfo is getauthdata's user_auth_info: what the user filled in on a
// type 1 authorization page.
type UserAuthInfo struct {
	UserField *UserFieldValues `json:"user_field,omitempty"`
	BizField  *BizFieldValues  `json:"biz_field,omitempty"`
}

// UserFieldValues is user_auth_info.user_field (a personal title).
type UserFieldValues struct {
	Title       string             `json:"title,omitempty"`
	Phone       string             `json:"phone,omitempty"`
	Email       string             `json:"email,omitempty"`
	CustomField []CustomFieldValue `json:"custom_field,omitempty"`
}

// BizFieldValues is user_auth_info.biz_field (a business title).
type BizFieldValues struct {
	Title       string             `json:"title,omitempty"`
	TaxNo       string             `json:"tax_no,omitempty"`
	Addr        string             `json:"addr,omitempty"`
	Phone       string             `json:"phone,omitempty"`
	BankType    string             `json:"bank_type,omitempty"`
	BankNo      string             `json:"bank_no,omitempty"`
	CustomField []CustomFieldValue `json:"custom_field,omitempty"`
}

// CustomFieldValue is one filled-in custom field.
type CustomFieldValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RejectInsertRequest is the body of /card/invoice/rejectinsert.
type RejectInsertRequest struct {
	SPAppID string `json:"s_pappid"`
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	URL     string `json:"url,omitempty"`
}

// The six actions of POST /card/invoice/setbizattr?action=<action>.
const (
	ActionSetAuthField = "set_auth_field"
	ActionGetAuthField = "get_auth_field"
	ActionSetPayMch    = "set_pay_mch"
	ActionGetPayMch    = "get_pay_mch"
	ActionSetContact   = "set_contact"
	ActionGetContact   = "get_contact"
)

// AuthFieldRequest is the body of setbizattr?action=set_auth_field.
type AuthFieldRequest struct {
	AuthField AuthField `json:"auth_field"`
}

// AuthFieldResponse is the answer of setbizattr?action=get_auth_field.
type AuthFieldResponse struct {
	Status
	AuthField AuthField `json:"auth_field"`
}

// AuthField is the auth_field object: which fields a type 1 authorization
// page shows and requires. Flags are 0/1; 0 is omitted.
type AuthField struct {
	UserField UserFieldConfig `json:"user_field"`
	BizField  BizFieldConfig  `json:"biz_field"`
}

// UserFieldConfig is auth_field.user_field.
type UserFieldConfig struct {
	ShowTitle    Int                 `json:"show_title,omitempty"`
	ShowPhone    Int                 `json:"show_phone,omitempty"`
	ShowEmail    Int                 `json:"show_email,omitempty"`
	RequirePhone Int                 `json:"require_phone,omitempty"`
	RequireEmail Int                 `json:"require_email,omitempty"`
	CustomField  []CustomFieldConfig `json:"custom_field,omitempty"`
}

// BizFieldConfig is auth_field.biz_field.
type BizFieldConfig struct {
	ShowTitle       Int                 `json:"show_title,omitempty"`
	ShowTaxNo       Int                 `json:"show_tax_no,omitempty"`
	ShowAddr        Int                 `json:"show_addr,omitempty"`
	ShowPhone       Int                 `json:"show_phone,omitempty"`
	ShowBankType    Int                 `json:"show_bank_type,omitempty"`
	ShowBankNo      Int                 `json:"show_bank_no,omitempty"`
	RequireTaxNo    Int                 `json:"require_tax_no,omitempty"`
	RequireAddr     Int                 `json:"require_addr,omitempty"`
	RequirePhone    Int                 `json:"require_phone,omitempty"`
	RequireBankType Int                 `json:"require_bank_type,omitempty"`
	RequireBankNo   Int                 `json:"require_bank_no,omitempty"`
	CustomField     []CustomFieldConfig `json:"custom_field,omitempty"`
}

// CustomFieldConfig is one custom field of an authorization page.
type CustomFieldConfig struct {
	Key       string `json:"key"`
	IsRequire Int    `json:"is_require,omitempty"`
	Notice    string `json:"notice,omitempty"`
}

// PayMchRequest is the body of setbizattr?action=set_pay_mch.
type PayMchRequest struct {
	PayMchInfo PayMchInfo `json:"paymch_info"`
}

// PayMchResponse is the answer of setbizattr?action=get_pay_mch.
type PayMchResponse struct {
	Status
	PayMchInfo PayMchInfo `json:"paymch_info"`
}

// PayMchInfo is the paymch_info object.
type PayMchInfo struct {
	MchID   string `json:"mchid"`
	SPAppID string `json:"s_pappid"`
}

// ContactRequest is the body of setbizattr?action=set_contact.
type ContactRequest struct {
	Contact Contact `json:"contact"`
}

// ContactResponse is the answer of setbizattr?action=get_contact.
type ContactResponse struct {
	Status
	Contact Contact `json:"contact"`
}

// Contact is the contact object.
type Contact struct {
	Phone   string `json:"phone"`
	TimeOut Int    `json:"time_out"`
}

// MakeOutInvoiceRequest is the body of /card/invoice/makeoutinvoice.
type MakeOutInvoiceRequest struct {
	InvoiceInfo MakeOutInvoiceInfo `json:"invoiceinfo"`
}

// MakeOutInvoiceInfo is makeoutinvoice's invoiceinfo object. Amounts are
// yuan (元) strings.
type MakeOutInvoiceInfo struct {
	WxOpenID          string                 `json:"wxopenid"`
	Ddh               string                 `json:"ddh"`
	Fpqqlsh           string                 `json:"fpqqlsh"`
	Nsrsbh            string                 `json:"nsrsbh"`
	Nsrmc             string                 `json:"nsrmc"`
	Nsrdz             string                 `json:"nsrdz"`
	Nsrdh             string                 `json:"nsrdh"`
	Nsrbank           string                 `json:"nsrbank,omitempty"`
	Nsrbankid         string                 `json:"nsrbankid,omitempty"`
	Ghfnsrsbh         string                 `json:"ghfnsrsbh,omitempty"`
	Ghfmc             string                 `json:"ghfmc"`
	Ghfdz             string                 `json:"ghfdz,omitempty"`
	Ghfdh             string                 `json:"ghfdh,omitempty"`
	Ghfbank           string                 `json:"ghfbank,omitempty"`
	Ghfbankid         string                 `json:"ghfbankid,omitempty"`
	Kpr               string                 `json:"kpr"`
	Skr               string                 `json:"skr,omitempty"`
	Fhr               string                 `json:"fhr,omitempty"`
	Jshj              string                 `json:"jshj"`
	Hjje              string                 `json:"hjje"`
	Hjse              string                 `json:"hjse"`
	Bz                string                 `json:"bz,omitempty"`
	Hylx              string                 `json:"hylx"`
	InvoiceDetailList []MakeOutInvoiceDetail `json:"invoicedetail_list,omitempty"`
}

// MakeOutInvoiceDetail is one entry of invoicedetail_list.
type MakeOutInvoiceDetail struct {
	Fphxz string `json:"fphxz,omitempty"`
	Spbm  string `json:"spbm,omitempty"`
	Xmmc  string `json:"xmmc,omitempty"`
	Dw    string `json:"dw,omitempty"`
	Ggxh  string `json:"ggxh,omitempty"`
	Xmsl  string `json:"xmsl,omitempty"`
	Xmdj  string `json:"xmdj,omitempty"`
	Xmje  string `json:"xmje,omitempty"`
	Sl    string `json:"sl,omitempty"`
	Se    string `json:"se,omitempty"`
}

// ClearOutInvoiceRequest is the body of /card/invoice/clearoutinvoice.
type ClearOutInvoiceRequest struct {
	InvoiceInfo ClearOutInvoiceInfo `json:"invoiceinfo"`
}

// ClearOutInvoiceInfo is clearoutinvoice's invoiceinfo object.
type ClearOutInvoiceInfo struct {
	WxOpenID string `json:"wxopenid"`
	Fpqqlsh  string `json:"fpqqlsh"`
	Nsrsbh   string `json:"nsrsbh"`
	Nsrmc    string `json:"nsrmc"`
	Yfpdm    string `json:"yfpdm,omitempty"` // none for a 数电发票
	Yfphm    string `json:"yfphm"`
}

// QueryInvoiceInfoRequest is the body of /card/invoice/queryinvoceinfo.
type QueryInvoiceInfoRequest struct {
	Fpqqlsh string `json:"fpqqlsh"`
	Nsrsbh  string `json:"nsrsbh"`
}

// QueryInvoiceInfoResponse is the answer of /card/invoice/queryinvoceinfo.
type QueryInvoiceInfoResponse struct {
	Status
	InvoiceDetail QueryInvoiceDetail `json:"invoicedetail"`
}

// QueryInvoiceDetail is queryinvoceinfo's invoicedetail object.
type QueryInvoiceDetail struct {
	Fpqqlsh string `json:"fpqqlsh"`
	Fpdm    string `json:"fpdm"`
	Fphm    string `json:"fphm"`
	Jym     string `json:"jym"`
	Kprq    string `json:"kprq"`
	PDFURL  string `json:"pdfurl"`
}
