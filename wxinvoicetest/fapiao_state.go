package wxinvoicetest

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// This file holds the e-invoice side's state types: per-(sub-)merchant
// accounts, applications and their invoices, title links, uploads,
// download links and invitations.

// Scenes and statuses of the e-invoice API.
const (
	FapiaoSceneWithWechatPay    = "WITH_WECHATPAY"    // the application is a WeChat Pay order
	FapiaoSceneWithoutWechatPay = "WITHOUT_WECHATPAY" // the application is a title-url id

	FapiaoIssueAccepted   = "ISSUE_ACCEPTED"   // 开票申请已受理
	FapiaoIssued          = "ISSUED"           // 已开具
	FapiaoReverseAccepted = "REVERSE_ACCEPTED" // 冲红申请已受理
	FapiaoReversed        = "REVERSED"         // 已冲红
	FapiaoIssueFailed     = "ISSUE_FAILED"     // 开具失败 (数电)
	FapiaoReverseFailed   = "REVERSE_FAILED"   // 冲红失败 (数电)

	FapiaoCardInsertAccepted  = "INSERT_ACCEPTED"  // 插卡申请已受理
	FapiaoCardInserted        = "INSERTED"         // 已插入卡包
	FapiaoCardDiscardAccepted = "DISCARD_ACCEPTED" // 作废申请已受理
	FapiaoCardDiscarded       = "DISCARDED"        // 已作废
)

// fapiaoAccount is the state of one merchant, or of one sub-merchant of a
// partner.
type fapiaoAccount struct {
	key       fapiaoAccountKey
	template  *FapiaoCardTemplate
	devConfig *FapiaoDevConfig
	orders    map[string]*fapiaoOrder       // transaction_id → paid order
	titles    map[string]*fapiaoTitle       // scene + " " + fapiao_apply_id → the user's title
	apps      map[string]*FapiaoApplication // fapiao_apply_id → application
	appOrder  []string                      // fapiao_apply_ids in creation order
}

// acct returns the account of (mchID, subMchID), creating it. Callers hold
// s.mu.
func (st *fapiaoState) acct(mchID, subMchID string) *fapiaoAccount {
	k := fapiaoAccountKey{mchID, subMchID}
	a := st.accounts[k]
	if a == nil {
		a = &fapiaoAccount{key: k, orders: map[string]*fapiaoOrder{}, titles: map[string]*fapiaoTitle{},
			apps: map[string]*FapiaoApplication{}}
		st.accounts[k] = a
	}
	return a
}

// FapiaoCardTemplate is the card template of a (sub-)merchant (E01).
type FapiaoCardTemplate struct {
	CardAppID string
	CardID    string
	PayeeName string
	LogoURL   string
}

// FapiaoDevConfig is the development configuration of a (sub-)merchant
// (E02).
type FapiaoDevConfig struct {
	CallbackURL      string `json:"callback_url"`
	ShowFapiaoCell   bool   `json:"show_fapiao_cell"`
	SupportVATFapiao bool   `json:"support_vat_fapiao"`
}

// FapiaoTitle is a buyer's title (抬头) as the user fills it and as
// buyer_information carries it, phone and email in clear text (the wire
// carries them encrypted).
type FapiaoTitle struct {
	Type             string `json:"type"` // INDIVIDUAL or ORGANIZATION
	Name             string `json:"name"`
	TaxpayerID       string `json:"taxpayer_id,omitempty"`
	Address          string `json:"address,omitempty"`
	Telephone        string `json:"telephone,omitempty"`
	BankName         string `json:"bank_name,omitempty"`
	BankAccount      string `json:"bank_account,omitempty"`
	Phone            string `json:"phone,omitempty"`
	Email            string `json:"email,omitempty"`
	Amount           int64  `json:"amount,omitempty"`
	OutTradeNo       string `json:"out_trade_no,omitempty"`
	FapiaoBillType   string `json:"fapiao_bill_type,omitempty"`
	UserApplyMessage string `json:"user_apply_message,omitempty"`
}

// encrypted returns t with phone and email encrypted for m.
func (t FapiaoTitle) encrypted(m *fapiaoMerchant) FapiaoTitle {
	t.Phone = encryptFor(m, t.Phone)
	t.Email = encryptFor(m, t.Email)
	return t
}

// fapiaoOrder is a paid WeChat Pay order (UserApply).
type fapiaoOrder struct {
	transactionID string
	openID        string
	amount        int64
}

// fapiaoTitle is a title the user submitted for an application.
type fapiaoTitle struct {
	title  FapiaoTitle
	openID string
	time   time.Time
}

// fapiaoTitleLink is a title_url handed out by E06.
type fapiaoTitleLink struct {
	acct          fapiaoAccountKey
	fapiaoApplyID string
	openID        string
	appID         string
	totalAmount   int64
	expires       time.Time
	used          bool
}

// fapiaoMedia is a file uploaded with upload-fapiao-file (E13).
type fapiaoMedia struct {
	acct     fapiaoAccountKey
	fileType string
	data     []byte
	expires  time.Time
}

// fapiaoDownload is a download_url handed out by E10.
type fapiaoDownload struct {
	acct          fapiaoAccountKey
	fapiaoApplyID string
	fapiaoID      string
	expires       time.Time
}

// FapiaoApplication is an invoicing application (one fapiao_apply_id) with
// its invoices, as listed by FapiaoFake.Applications.
type FapiaoApplication struct {
	MchID         string
	SubMchID      string // "" for a direct merchant
	FapiaoApplyID string
	Scene         string      // FapiaoSceneWithWechatPay or FapiaoSceneWithoutWechatPay ("" for the 数电 issue endpoints)
	Buyer         FapiaoTitle // the buyer_information of the last issue or insert-cards, decrypted
	OpenID        string      // the user's openid (card_openid)
	Invoices      []FapiaoInvoice

	limit       int64  // the most all invoices may total (order amount or title-url total_amount); 0: none
	issueBody   []byte // canonical form of the last accepted issue request (idempotency)
	insertBody  []byte // canonical form of the accepted insert-cards request
	reverseBody []byte // canonical form of the last accepted reverse request
}

// FapiaoInvoice is one invoice of an application.
type FapiaoInvoice struct {
	FapiaoID      string
	Status        string // FapiaoIssueAccepted … FapiaoReverseFailed
	CardStatus    string // FapiaoCardInsertAccepted … FapiaoCardDiscarded
	SelfIssued    bool   // inserted with insert-cards (issued by the merchant's own tax system)
	Digital       bool   // issued with a 数电 endpoint (issue-general, …)
	TotalAmount   int64  // 价税合计, 分
	Amount        int64  // 不含税金额, 分
	TaxAmount     int64  // 税额, 分
	Blue          *FapiaoNumbers
	Red           *FapiaoNumbers
	CardAppID     string
	CardID        string
	CardCode      string
	Items         []FapiaoItem
	Remark        string
	MediaID       string // fapiao_media_id of a self-issued invoice
	File          []byte // the invoice file (PDF) served by the download
	ReverseReason string
	ErrorCode     string // fapiao_error_code of a failed 数电 issue
	ErrorMessage  string
}

// FapiaoNumbers is a blue or red invoice's numbers (blue_fapiao, red_fapiao).
type FapiaoNumbers struct {
	FapiaoCode   string `json:"fapiao_code,omitempty"`
	FapiaoNumber string `json:"fapiao_number"`
	CheckCode    string `json:"check_code"`
	Password     string `json:"password"`
	FapiaoTime   string `json:"fapiao_time"`
}

// FapiaoItem is an invoice line as E09 answers it (and insert-cards sends it).
type FapiaoItem struct {
	TaxCode       string `json:"tax_code"`
	GoodsName     string `json:"goods_name"`
	Specification string `json:"specification,omitempty"`
	Unit          string `json:"unit,omitempty"`
	Quantity      int64  `json:"quantity"`
	UnitPrice     int64  `json:"unit_price"`
	Amount        int64  `json:"amount"`
	TaxAmount     int64  `json:"tax_amount"`
	TotalAmount   int64  `json:"total_amount"`
	TaxRate       int64  `json:"tax_rate"`
	TaxPreferMark string `json:"tax_prefer_mark"`
	Discount      bool   `json:"discount"`
}

// clone returns a deep copy of a.
func (a *FapiaoApplication) clone() FapiaoApplication {
	out := *a
	out.Invoices = make([]FapiaoInvoice, len(a.Invoices))
	for i, inv := range a.Invoices {
		inv.Items = append([]FapiaoItem(nil), inv.Items...)
		inv.File = bytes.Clone(inv.File)
		if inv.Blue != nil {
			b := *inv.Blue
			inv.Blue = &b
		}
		if inv.Red != nil {
			r := *inv.Red
			inv.Red = &r
		}
		out.Invoices[i] = inv
	}
	out.issueBody, out.insertBody, out.reverseBody = nil, nil, nil
	return out
}

// invoice returns the invoice fapiaoID of a, or nil.
func (a *FapiaoApplication) invoice(fapiaoID string) *FapiaoInvoice {
	for i := range a.Invoices {
		if a.Invoices[i].FapiaoID == fapiaoID {
			return &a.Invoices[i]
		}
	}
	return nil
}

// live returns how many invoices are not reversed or failed.
func (a *FapiaoApplication) live() int {
	n := 0
	for _, inv := range a.Invoices {
		if inv.Status != FapiaoReversed && inv.Status != FapiaoIssueFailed {
			n++
		}
	}
	return n
}

// FapiaoInvite is a partner's invitation (E21) and its outcome.
type FapiaoInvite struct {
	PartnerMchID string
	InviteCode   string
	FapiaoMode   []string
	Abilities    []string
	Time         time.Time
	Status       string // "" until AcceptInvite / FailInvite: MCH_INVITE_SUCC or MCH_INVITE_FAILED
	SubMchID     string
	EpName       string
	TaxID        string
	FailedCode   string
	FailedReason string
	OperateTime  time.Time
}

// splitAmount splits a tax-inclusive total at rate (万分比) into the
// amount without tax and the tax, rounding the amount half up.
func splitAmount(total, rate int64) (amount, tax int64) {
	if rate <= 0 {
		return total, 0
	}
	num := new(big.Int).Mul(big.NewInt(total), big.NewInt(2*10000))
	num.Add(num, big.NewInt(10000+rate))
	num.Quo(num, big.NewInt(2*(10000+rate)))
	amount = num.Int64()
	return amount, total - amount
}

// unitPrice returns the unit price in 10⁻⁶ 分 of amount (分) for quantity
// (10⁻⁸ units); 0 for a zero quantity.
func unitPrice(amount, quantity int64) int64 {
	if quantity <= 0 {
		return 0
	}
	p := new(big.Int).Mul(big.NewInt(amount), big.NewInt(100000000000000)) // ×10⁶ (price scale) ×10⁸ (quantity scale)
	p.Quo(p, big.NewInt(quantity))
	return p.Int64()
}

// sm3Hex returns the SM3 digest of b, lower-case hex.
func sm3Hex(b []byte) string {
	sum := sm3.Sum(b)
	return hex.EncodeToString(sum[:])
}

// fapiaoPDF returns the file the fake serves for an invoice.
func fapiaoPDF(inv *FapiaoInvoice) []byte {
	num := ""
	if inv.Blue != nil {
		num = inv.Blue.FapiaoCode + " " + inv.Blue.FapiaoNumber
	}
	return []byte("%PDF-1.4\n% wxinvoicetest fapiao " + inv.FapiaoID + " " + strings.TrimSpace(num) +
		"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
}

// validApplyID reports whether id is a fapiao_apply_id: 1–32 characters of
// letters, digits and - _ | *.
func validApplyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '|' || r == '*'
		if !ok {
			return false
		}
	}
	return true
}
