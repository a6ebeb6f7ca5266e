package wxinvoicetest

import (
	"bytes"
	"encoding/base64"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// Card is an invoice (or nontax bill) card template the server keeps, as
// returned by Server.Card.
type Card struct {
	ID        string    // card_id
	Bill      bool      // created with /nontax/createbillcard
	Payee     string    // 收款方
	Type      string    // 发票类型 ("" for a bill card)
	CreatedAt time.Time // the server's clock at creation

	LogoURL, Title                                       string
	CustomURLName, CustomURL, CustomURLSubTitle          string
	PromotionURLName, PromotionURL, PromotionURLSubTitle string
}

// Invoice is an inserted invoice or nontax bill, as returned by Server.Invoice.
type Invoice struct {
	CardID, Code string
	Bill         bool // inserted with /nontax/insertbill
	OrderID      string
	AppID        string // the appid given in the insert request
	OpenID       string // the user whose card package holds it
	NonceStr     string
	Status       wxinvoice.ReimburseStatus
	InsertedAt   time.Time // the server's clock at insertion

	Fee            int64 // fen
	Title          string
	BillingTime    time.Time
	BillingNo      string
	BillingCode    string
	PDFMediaID     string
	TripPDFMediaID string

	// Body is the insert request body as received; decode it for the fields
	// not copied above.
	Body []byte
}

type invoiceKey struct{ cardID, code string }

// Card returns the card template with the given card_id.
func (s *Server) Card(cardID string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cards[cardID]
	if c == nil {
		return Card{}, false
	}
	return *c, true
}

// Invoice returns the state of the invoice or bill (cardID, code).
func (s *Server) Invoice(cardID, code string) (Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoices[invoiceKey{cardID, code}]
	if inv == nil {
		return Invoice{}, false
	}
	out := *inv
	out.Body = bytes.Clone(inv.Body)
	return out, true
}

// Invoices returns every inserted invoice and bill, in no particular order.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invoice, 0, len(s.invoices))
	for _, inv := range s.invoices {
		v := *inv
		v.Body = bytes.Clone(inv.Body)
		out = append(out, v)
	}
	return out
}

// AuthorizeOrder records that the user openid authorized invoicing of order
// orderID (the user_authorize_invoice step), for WithAuthorizationRequired.
// An invoice inserted for the order then lands in openid's card package.
//
// It is the shortcut of UserAuthorize for an order no auth URL was asked
// for; both keep one record per order (Server.AuthOrder), which insert and
// getauthdata read. No user_authorize_invoice push is made.
func (s *Server) AuthorizeOrder(orderID, openid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.biz()
	o := f.orders[orderID]
	if o == nil {
		o = &AuthOrder{OrderID: orderID, Status: wxinvoice.AuthStatusNever}
		f.orders[orderID] = o
	}
	o.Status, o.OpenID, o.AuthTime = wxinvoice.AuthStatusSuccess, openid, s.clk.now()
}

// authorizedBy returns the openid of the user who authorized orderID, if
// one did. Callers hold s.mu.
func (s *Server) authorizedBy(orderID string) (string, bool) {
	if o := s.biz().orders[orderID]; o != nil && o.Status == wxinvoice.AuthStatusSuccess {
		return o.OpenID, true
	}
	return "", false
}

// EncryptCode returns the encrypt_code WeChat would put in a card link for
// (cardID, code); /card/code/decrypt resolves it. The same pair always gets
// the same encrypt_code. The invoice need not exist.
func (s *Server) EncryptCode(cardID, code string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := invoiceKey{cardID, code}
	if e, ok := s.encByKey[k]; ok {
		return e
	}
	e := base64.StdEncoding.EncodeToString(randBytes(48))
	s.encByKey[k] = e
	s.encCodes[e] = k
	return e
}

// handleSetURL serves POST /card/invoice/seturl: body {} → invoice_url with
// the s_pappid (Server.SPAppID).
func (s *Server) handleSetURL(c *call) {
	var req map[string]any
	if !c.decode(&req) {
		return
	}
	c.ok(&wire.SetURLResponse{
		InvoiceURL: "https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=" + s.SPAppID(),
	})
}

// handleCreateCard serves POST /card/invoice/platform/createcard. payee, type,
// base_info.logo_url and base_info.title are required (72031 invalid params).
// The documented length limits of title and the url names are not checked.
func (s *Server) handleCreateCard(c *call) {
	var req wire.CreateCardRequest
	if !c.decode(&req) {
		return
	}
	ii := req.InvoiceInfo
	switch {
	case ii.Payee == "":
		c.fail(72031, "payee is empty")
		return
	case ii.Type == "":
		c.fail(72031, "type is empty")
		return
	case ii.BaseInfo.LogoURL == "":
		c.fail(72031, "logo_url is empty")
		return
	case ii.BaseInfo.Title == "":
		c.fail(72031, "title is empty")
		return
	}
	c.ok(&wire.CardIDResponse{CardID: s.addCard(ii, false)})
}

func (s *Server) addCard(ii wire.CardInvoiceInfo, bill bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newCardID()
	b := ii.BaseInfo
	s.cards[id] = &Card{
		ID: id, Bill: bill, Payee: ii.Payee, Type: ii.Type, CreatedAt: s.clk.now(),
		LogoURL: b.LogoURL, Title: b.Title,
		CustomURLName: b.CustomURLName, CustomURL: b.CustomURL, CustomURLSubTitle: b.CustomURLSubTitle,
		PromotionURLName: b.PromotionURLName, PromotionURL: b.PromotionURL, PromotionURLSubTitle: b.PromotionURLSubTitle,
	}
	return id
}

// handleInsert serves POST /card/invoice/insert.
func (s *Server) handleInsert(c *call) { s.insert(c, false) }

// insert serves /card/invoice/insert (bill false) and /nontax/insertbill.
//
// Checks, in order: required fields (72031 invalid params: order_id, card_id,
// appid, card_ext.nonce_str for an invoice, and fee ≥ 0 (a 0 fen invoice,
// e.g. a fully discounted order, is accepted as the SDK's validation does;
// WeChat documents no minimum), title, billing_time,
// billing_no, plus billing_code and s_pdf_media_id for a bill); card_id known
// (40073 invalid card id; a bill may use any card the server made); the PDFs
// (72040 invoice pdf error when an invoice has no s_pdf_media_id, or a PDF is
// unknown or expired); authorization when required (72038); order_id not
// inserted before (72018); billing_no+billing_code not inserted before
// (72042). Invoices and bills keep separate order and billing namespaces.
func (s *Server) insert(c *call, bill bool) {
	var req wire.InsertRequest
	if !c.decode(&req) {
		return
	}
	ud := req.CardExt.UserCard.InvoiceUserData
	missing := ""
	switch {
	case req.OrderID == "":
		missing = "order_id"
	case req.CardID == "":
		missing = "card_id"
	case req.AppID == "":
		missing = "appid"
	case !bill && req.CardExt.NonceStr == "":
		missing = "nonce_str"
	case ud.Fee < 0:
		missing = "fee"
	case ud.Title == "":
		missing = "title"
	case ud.BillingTime <= 0:
		missing = "billing_time"
	case ud.BillingNo == "":
		missing = "billing_no"
	case bill && ud.BillingCode == "":
		missing = "billing_code"
	case bill && ud.SPDFMediaID == "":
		missing = "s_pdf_media_id"
	}
	if missing != "" {
		c.fail(72031, missing+" is empty")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.now()
	if s.cards[req.CardID] == nil {
		c.fail(40073, "")
		return
	}
	if ud.SPDFMediaID == "" {
		c.fail(72040, "s_pdf_media_id is empty")
		return
	}
	for _, id := range []string{ud.SPDFMediaID, ud.STripPDFMediaID} {
		if id != "" && !s.mediaLive(id, now) {
			c.fail(72040, "s_media_id "+id+" unknown or expired")
			return
		}
	}
	kind := "invoice\x00"
	if bill {
		kind = "bill\x00"
	}
	openid, authorized := s.authorizedBy(req.OrderID)
	if s.cfg.authRequired && !authorized {
		c.fail(72038, "")
		return
	}
	if s.orders[kind+req.OrderID] {
		c.fail(72018, "")
		return
	}
	billingKey := kind + ud.BillingNo + "\x00" + ud.BillingCode
	if s.billings[billingKey] {
		c.fail(72042, "")
		return
	}
	if openid == "" {
		openid = s.newOpenID()
	}
	code := randDigits(12)
	for s.codeTaken(code) {
		code = randDigits(12)
	}
	s.orders[kind+req.OrderID] = true
	s.billings[billingKey] = true
	for _, id := range []string{ud.SPDFMediaID, ud.STripPDFMediaID} {
		if m := s.media[id]; m != nil {
			m.linked = true
		}
	}
	s.invoices[invoiceKey{req.CardID, code}] = &Invoice{
		CardID: req.CardID, Code: code, Bill: bill,
		OrderID: req.OrderID, AppID: req.AppID, OpenID: openid, NonceStr: req.CardExt.NonceStr,
		Status: wxinvoice.ReimburseInit, InsertedAt: now,
		Fee: ud.Fee, Title: ud.Title, BillingTime: time.Unix(int64(ud.BillingTime), 0),
		BillingNo: ud.BillingNo, BillingCode: ud.BillingCode,
		PDFMediaID: ud.SPDFMediaID, TripPDFMediaID: ud.STripPDFMediaID,
		Body: bytes.Clone(c.body),
	}
	c.ok(&wire.InsertResponse{Code: code, OpenID: openid})
}

// codeTaken reports whether any invoice or bill has code. Callers hold s.mu.
func (s *Server) codeTaken(code string) bool {
	for k := range s.invoices {
		if k.code == code {
			return true
		}
	}
	return false
}

// handleDecryptCode serves POST /card/code/decrypt: an encrypt_code handed
// out by Server.EncryptCode resolves to its code; an empty or unknown one
// answers 40056 (invalid serial code: WeChat's code for a card code it does
// not know).
func (s *Server) handleDecryptCode(c *call) {
	var req wire.DecryptCodeRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	k, ok := s.encCodes[req.EncryptCode]
	s.mu.Unlock()
	if !ok {
		c.fail(40056, "")
		return
	}
	c.ok(&wire.DecryptCodeResponse{Code: k.code})
}
