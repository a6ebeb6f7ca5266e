package fapiao

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sensitive is a personal field that travels encrypted (phone, email,
// certificate numbers): in a request it holds the plaintext, which the client
// encrypts with RSA-OAEP before sending; in an answer it holds the plaintext
// the client decrypted with the merchant key. fmt and slog print it as
// "[redacted]"; its JSON form is the value itself.
type Sensitive string

// String returns "[redacted]" (or "" for an empty value).
func (s Sensitive) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString returns the quoted String.
func (s Sensitive) GoString() string { return strconv.Quote(s.String()) }

// Format writes String for every verb.
func (s Sensitive) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer.
func (s Sensitive) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Int is an integer in an answer that WeChat documents as an integer but
// some samples send as a numeric string (tax-codes "offset": "0").
type Int int64

// UnmarshalJSON accepts a JSON number or a string holding one.
func (n *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
	}
	if string(b) == "null" || len(b) == 0 {
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("fapiao: %q is not an integer", b)
	}
	*n = Int(v)
	return nil
}

// Links are the paging links of a list answer.
type Links struct {
	Next string `json:"next,omitempty"`
	Prev string `json:"prev,omitempty"`
	Self string `json:"self,omitempty"`
}

// SellerInformation is the seller (销售方) of an invoice.
type SellerInformation struct {
	Name        string `json:"name"`
	TaxpayerID  string `json:"taxpayer_id"`
	Address     string `json:"address"`
	Telephone   string `json:"telephone,omitempty"`
	BankName    string `json:"bank_name,omitempty"`
	BankAccount string `json:"bank_account,omitempty"`
}

// ExtraInformation names the people on an invoice.
type ExtraInformation struct {
	Payee    string `json:"payee,omitempty"`    // 收款人
	Reviewer string `json:"reviewer,omitempty"` // 复核人
	Drawer   string `json:"drawer"`             // 开票人
}

// Buyer types.
const (
	BuyerIndividual   = "INDIVIDUAL"   // 个人
	BuyerOrganization = "ORGANIZATION" // 单位
)

// Scenes of an invoice application.
const (
	SceneWithWechatPay    = "WITH_WECHATPAY"    // fapiao_apply_id is the WeChat Pay order number
	SceneWithoutWechatPay = "WITHOUT_WECHATPAY" // fapiao_apply_id is the merchant's id given to GetTitleURL
)

// BuyerInformation is the buyer (购买方) title: the answer of GetUserTitle,
// and the buyer of Issue, InsertCards and the partner issue variants. Phone
// and Email are plaintext here; on the wire they are RSA-OAEP ciphertext
// (RSA-OAEP, see crypto.go). Amount, OutTradeNo, FapiaoBillType and
// UserApplyMessage come with the user's title (InsertCards and the partner
// variants send them back).
type BuyerInformation struct {
	Type             string    `json:"type"` // BuyerIndividual or BuyerOrganization
	Name             string    `json:"name"`
	TaxpayerID       string    `json:"taxpayer_id,omitempty"`
	Address          string    `json:"address,omitempty"`
	Telephone        string    `json:"telephone,omitempty"`
	BankName         string    `json:"bank_name,omitempty"`
	BankAccount      string    `json:"bank_account,omitempty"`
	Phone            Sensitive `json:"phone,omitempty"`
	Email            Sensitive `json:"email,omitempty"`
	Amount           int64     `json:"amount,omitempty"` // 订单金额, 分
	OutTradeNo       string    `json:"out_trade_no,omitempty"`
	FapiaoBillType   string    `json:"fapiao_bill_type,omitempty"` // COMM_FAPIAO or VAT_FAPIAO
	UserApplyMessage string    `json:"user_apply_message,omitempty"`
}

func (b *BuyerInformation) validate(field string) error {
	if b.Type != BuyerIndividual && b.Type != BuyerOrganization {
		return newValidation(field+".Type", "must be INDIVIDUAL or ORGANIZATION")
	}
	if err := checkText(field+".Name", b.Name, 256, true); err != nil {
		return err
	}
	if b.Amount < 0 {
		return newValidation(field+".Amount", "must not be negative")
	}
	return checkEnum(field+".FapiaoBillType", b.FapiaoBillType, false, "COMM_FAPIAO", "VAT_FAPIAO")
}

// sealBuyer returns a copy of b with Phone and Email encrypted for WeChat Pay.
func (c *Client) sealBuyer(field string, b BuyerInformation) (BuyerInformation, error) {
	var err error
	if b.Phone, err = c.seal(field+".Phone", b.Phone); err != nil {
		return b, err
	}
	b.Email, err = c.seal(field+".Email", b.Email)
	return b, err
}

// seal encrypts one sensitive request field with the key named by the
// Wechatpay-Serial the client sends; an empty value stays empty.
func (c *Client) seal(field string, v Sensitive) (Sensitive, error) {
	if v == "" {
		return "", nil
	}
	ct, err := encryptOAEP(c.keys.acceptKey, string(v))
	if err != nil {
		return "", newValidation(field, "cannot be encrypted: %v", err)
	}
	return Sensitive(ct), nil
}

// openBuyer decrypts Phone and Email of an answer in place.
func (c *Client) openBuyer(b *BuyerInformation) error {
	p, err := decryptOAEP(c.signer.key, string(b.Phone))
	if err != nil {
		return fmt.Errorf("decrypt buyer phone: %w", err)
	}
	e, err := decryptOAEP(c.signer.key, string(b.Email))
	if err != nil {
		return fmt.Errorf("decrypt buyer email: %w", err)
	}
	b.Phone, b.Email = Sensitive(p), Sensitive(e)
	return nil
}

// checkText checks a string field's presence and length in characters
// (WeChat's string(N); counting characters, not bytes, never refuses a
// value WeChat may accept).
func checkText(field, v string, maxLen int, required bool) error {
	if v == "" {
		if required {
			return newValidation(field, "is required")
		}
		return nil
	}
	if n := utf8.RuneCountInString(v); maxLen > 0 && n > maxLen {
		return newValidation(field, "is %d characters; at most %d", n, maxLen)
	}
	return nil
}

// checkEnum checks that v is one of allowed (or empty when not required).
func checkEnum(field, v string, required bool, allowed ...string) error {
	if v == "" && !required {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return newValidation(field, "must be one of %s", strings.Join(allowed, ", "))
}

// checkSubMchID checks an optional sub-merchant ID (required in partner
// mode, which only the caller knows).
func checkSubMchID(v string) error { return checkID("SubMchID", v, false) }

// checkID checks an identifier that travels in a path or query: at most 32
// characters of letters, digits and - _ | * (the fapiao_apply_id alphabet).
func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return newValidation(field, "is required")
		}
		return nil
	}
	if len(v) > 32 {
		return newValidation(field, "is %d characters; at most 32", len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '|' || c == '*') {
			return newValidation(field, "may hold only letters, digits and - _ | *")
		}
	}
	return nil
}

// checkAmount checks that a money amount (分) is not negative.
func checkAmount(field string, v int64) error {
	if v < 0 {
		return newValidation(field, "must not be negative")
	}
	return nil
}
