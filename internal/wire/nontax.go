package wire

// Fiscal e-bill (财政电子票据) shapes beyond insertbill (which shares
// InsertRequest).

// BillAuthURLRequest is the body of /nontax/getbillauthurl: getauthurl's
// fields without type.
type BillAuthURLRequest struct {
	SPAppID     string `json:"s_pappid"`
	OrderID     string `json:"order_id"`
	Money       Int    `json:"money"`
	Timestamp   Int    `json:"timestamp"`
	Source      string `json:"source"`
	RedirectURL string `json:"redirect_url,omitempty"`
	Ticket      string `json:"ticket"`
}

// BillAuthURLResponse is the answer of /nontax/getbillauthurl; expire_time
// is the link's lifetime in seconds.
type BillAuthURLResponse struct {
	Status
	AuthURL    string `json:"auth_url"`
	ExpireTime Int    `json:"expire_time"`
}

// CreateBillCardRequest is the body of /nontax/createbillcard, in the
// official sample's invoice_info wrapper (the reference table shows the
// fields at the top level; the sample and SKIT wrap them).
type CreateBillCardRequest struct {
	InvoiceInfo BillCardInfo `json:"invoice_info"`
}

// BillCardInfo is createbillcard's invoice_info object.
type BillCardInfo struct {
	Payee    string           `json:"payee"`
	BaseInfo BillCardBaseInfo `json:"base_info"`
}

// BillCardBaseInfo is createbillcard's base_info object.
type BillCardBaseInfo struct {
	LogoURL string `json:"logo_url"`
}
