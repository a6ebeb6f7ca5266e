package wire

// User invoice titles (发票抬头 / 极速开发票).

// UserTitleURLRequest is the body of /card/invoice/biz/getusertitleurl.
// user_fill is 0 (the merchant gives the title) or 1 (the user fills it in);
// 0 is omitted, as in the official sample.
type UserTitleURLRequest struct {
	UserFill   Int    `json:"user_fill,omitempty"`
	Title      string `json:"title,omitempty"`
	Phone      string `json:"phone,omitempty"`
	TaxNo      string `json:"tax_no,omitempty"`
	Addr       string `json:"addr,omitempty"`
	BankType   string `json:"bank_type,omitempty"`
	BankNo     string `json:"bank_no,omitempty"`
	OutTitleID string `json:"out_title_id,omitempty"`
}

// SelectTitleURLRequest is the body of /card/invoice/biz/getselecttitleurl.
type SelectTitleURLRequest struct {
	Attach  string `json:"attach,omitempty"`
	BizName string `json:"biz_name,omitempty"`
}

// URLResponse is the answer of getusertitleurl and getselecttitleurl.
type URLResponse struct {
	Status
	URL string `json:"url"`
}

// ScanTitleRequest is the body of /card/invoice/scantitle.
type ScanTitleRequest struct {
	ScanText string `json:"scan_text"`
}

// ScanTitleResponse is the answer of /card/invoice/scantitle. title_type is
// 0 (单位) or 1 (个人).
type ScanTitleResponse struct {
	Status
	TitleType Int    `json:"title_type"`
	Title     string `json:"title"`
	Phone     string `json:"phone,omitempty"`
	TaxNo     string `json:"tax_no,omitempty"`
	Addr      string `json:"addr,omitempty"`
	BankType  string `json:"bank_type,omitempty"`
	BankNo    string `json:"bank_no,omitempty"`
}
