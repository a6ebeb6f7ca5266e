package wxinvoicetest

import (
	"encoding/json"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file simulates the reimburser (报销方) side: /card/invoice/reimburse/*.
// Reimbursers name an invoice by card_id + encrypt_code (Server.EncryptCode
// hands them out, as WeChat's card links do). Each reimburser is an appid:
// calls made with the server's own tokens act as srv.AppID, calls made with
// a ReimburserToken act as that token's appid, so that two reimbursers can
// compete for one invoice.

// cardValidity is the end_time the fake reports: begin_time (the insert)
// plus this. WeChat does not document a card's validity.
const cardValidity = 365 * 24 * time.Hour

// ReimburserToken returns a fresh access token (valid 7200 s) with which
// calls act as the reimburser appID, another party than srv.AppID: its locks
// are its own (another reimburser touching them gets 72023). Use it with
// wxinvoice.StaticTokenSource.
func (s *Server) ReimburserToken(appID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.newToken(kindIssued)
	s.biz().parties[tok] = appID
	return tok
}

// LockedBy returns the appid of the reimburser whose updateinvoicestatus
// locked the invoice (cardID, code); ok is false when the invoice is not
// locked through the reimburser API.
func (s *Server) LockedBy(cardID, code string) (appID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := invoiceKey{cardID, code}
	inv := s.invoices[k]
	if inv == nil || inv.Status != wxinvoice.ReimburseLock {
		return "", false
	}
	appID, ok = s.biz().lockedBy[k]
	return appID, ok
}

// party returns the reimburser a call acts as. Callers hold s.mu.
func (s *Server) party(c *call) string {
	if p, ok := s.biz().parties[c.query.Get("access_token")]; ok {
		return p
	}
	return s.AppID
}

// resolve finds the invoice a reimburser names. card_id and encrypt_code
// are required (72031); an encrypt_code the server never handed out answers
// 40056 (invalid serial code, as /card/code/decrypt), one of another card
// 40073 (invalid card id), and one whose invoice does not exist 72001 (no
// match card). Callers hold s.mu.
func (s *Server) resolve(ref wire.InvoiceRef) (*Invoice, int, string) {
	switch {
	case ref.CardID == "":
		return nil, 72031, "card_id is empty"
	case ref.EncryptCode == "":
		return nil, 72031, "encrypt_code is empty"
	}
	k, ok := s.encCodes[ref.EncryptCode]
	switch {
	case !ok:
		return nil, 40056, ""
	case k.cardID != ref.CardID:
		return nil, 40073, "card_id does not match encrypt_code"
	}
	inv := s.invoices[k]
	if inv == nil {
		return nil, 72001, ""
	}
	return inv, 0, ""
}

// reimburseView builds what a reimburser reads of inv: the card's type and
// payee, the insert's data, fresh pdf_url (and trip_pdf_url) links valid 2
// hours while the PDFs are held, begin_time at the insert and end_time a
// year later, user_card_status NORMAL. Callers hold s.mu.
func (s *Server) reimburseView(base string, inv *Invoice) wire.ReimburseInvoice {
	var ins wire.InsertRequest
	_ = json.Unmarshal(inv.Body, &ins)
	ud := &ins.CardExt.UserCard.InvoiceUserData
	out := wire.ReimburseInvoice{
		CardID: inv.CardID, OpenID: inv.OpenID, UserCardStatus: "NORMAL",
		BeginTime: wire.Int(inv.InsertedAt.Unix()), EndTime: wire.Int(inv.InsertedAt.Add(cardValidity).Unix()),
		UserInfo: wire.ReimburseUserInfo{
			Fee: wire.Int(inv.Fee), Title: inv.Title, BillingTime: wire.Int(inv.BillingTime.Unix()),
			BillingNo: inv.BillingNo, BillingCode: inv.BillingCode, Info: reimburseItems(ud.Info),
			ReimburseStatus: string(inv.Status), OrderID: inv.OrderID, CheckCode: ud.CheckCode,
			BuyerNumber: ud.BuyerNumber, BuyerAddressAndPhone: ud.BuyerAddressAndPhone, BuyerBankAccount: ud.BuyerBankAccount,
			SellerNumber: ud.SellerNumber, SellerAddressAndPhone: ud.SellerAddressAndPhone, SellerBankAccount: ud.SellerBankAccount,
			Remarks: ud.Remarks, Cashier: ud.Cashier, Maker: ud.Maker,
		},
	}
	if ud.FeeWithoutTax != nil {
		out.UserInfo.FeeWithoutTax = wire.Int(*ud.FeeWithoutTax)
	}
	if ud.Tax != nil {
		out.UserInfo.Tax = wire.Int(*ud.Tax)
	}
	if card := s.cards[inv.CardID]; card != nil {
		out.Type, out.Payee = card.Type, card.Payee
	}
	now := s.clk.now()
	if inv.PDFMediaID != "" && s.mediaLive(inv.PDFMediaID, now) {
		out.UserInfo.PDFURL = s.mediaLink(base, inv.PDFMediaID)
	}
	if inv.TripPDFMediaID != "" && s.mediaLive(inv.TripPDFMediaID, now) {
		out.UserInfo.TripPDFURL = s.mediaLink(base, inv.TripPDFMediaID)
	}
	return out
}

// reimburseItems converts the inserted line items to what a reimburser reads.
func reimburseItems(in []wire.InvoiceItem) []wire.ReimburseItem {
	if len(in) == 0 {
		return nil
	}
	out := make([]wire.ReimburseItem, len(in))
	for i, it := range in {
		out[i] = wire.ReimburseItem{Name: it.Name, Num: wire.Int(it.Num), Unit: it.Unit, Price: wire.Int(it.Price)}
	}
	return out
}

// handleGetInvoiceInfo serves POST /card/invoice/reimburse/getinvoiceinfo:
// the invoice named by card_id + encrypt_code (see resolve for the errors).
// trip_pdf_url is sent with that spelling (the documentation's trip_pdf_ur is
// taken for a typo).
func (s *Server) handleGetInvoiceInfo(c *call) {
	var req wire.InvoiceRef
	if !c.decode(&req) {
		return
	}
	base := c.baseFor()
	s.mu.Lock()
	inv, code, detail := s.resolve(req)
	if code != 0 {
		s.mu.Unlock()
		c.fail(code, detail)
		return
	}
	view := s.reimburseView(base, inv)
	s.mu.Unlock()
	c.ok(&wire.GetInvoiceInfoResponse{ReimburseInvoice: view})
}

// handleGetInvoiceBatch serves POST /card/invoice/reimburse/getinvoicebatch:
// item_list must not be empty (72031); any entry that does not resolve fails
// the whole call with that entry's code (WeChat does not say whether it
// skips it instead). Items come back in the request's order.
func (s *Server) handleGetInvoiceBatch(c *call) {
	var req wire.GetInvoiceBatchRequest
	if !c.decode(&req) {
		return
	}
	if len(req.ItemList) == 0 {
		c.fail(72031, "item_list is empty")
		return
	}
	base := c.baseFor()
	s.mu.Lock()
	resp := &wire.GetInvoiceBatchResponse{ItemList: make([]wire.ReimburseInvoice, 0, len(req.ItemList))}
	for _, ref := range req.ItemList {
		inv, code, detail := s.resolve(ref)
		if code != 0 {
			s.mu.Unlock()
			c.fail(code, detail)
			return
		}
		resp.ItemList = append(resp.ItemList, s.reimburseView(base, inv))
	}
	s.mu.Unlock()
	c.ok(resp)
}

// reimburserStatus checks a reimburse_status a reimburser sends: INIT, LOCK
// or CLOSURE (72031 otherwise; CANCEL is the platform's).
func reimburserStatus(st string) (wxinvoice.ReimburseStatus, bool) {
	switch next := wxinvoice.ReimburseStatus(st); next {
	case wxinvoice.ReimburseInit, wxinvoice.ReimburseLock, wxinvoice.ReimburseClosure:
		return next, true
	}
	return "", false
}

// checkMove reports why party may not move an invoice from cur (locked by
// owner, "" when not through the reimburser API) to next: 72023 (invoice
// has been lock by others) when it is locked by another reimburser — a lock
// set with SetStatus belongs to nobody the API knows, so it counts as
// another's — and 72024 (invoice status error) for a move the status machine
// forbids (the same status included).
func checkMove(cur wxinvoice.ReimburseStatus, owner, party string, next wxinvoice.ReimburseStatus) (int, string) {
	if cur == wxinvoice.ReimburseLock && owner != party {
		return 72023, ""
	}
	if !cur.CanMoveTo(next) {
		return 72024, "cannot move from " + string(cur) + " to " + string(next)
	}
	return 0, ""
}

// applyMove changes inv's status (pushing update_invoice_status to the
// platform, as a reimburser's change is) and keeps track of its lock owner.
// Callers hold s.mu.
func (s *Server) applyMove(inv *Invoice, party string, next wxinvoice.ReimburseStatus) {
	k := invoiceKey{inv.CardID, inv.Code}
	if next == wxinvoice.ReimburseLock {
		s.biz().lockedBy[k] = party
	} else {
		delete(s.biz().lockedBy, k)
	}
	s.changeStatus(inv, next)
}

// lockOwner returns who holds inv's lock through the API. Callers hold s.mu.
func (s *Server) lockOwner(inv *Invoice) string {
	if inv.Status != wxinvoice.ReimburseLock {
		return ""
	}
	return s.biz().lockedBy[invoiceKey{inv.CardID, inv.Code}]
}

// handleUpdateInvoiceStatus serves POST
// /card/invoice/reimburse/updateinvoicestatus: card_id, encrypt_code (see
// resolve) and a reimburse_status of INIT, LOCK or CLOSURE (72031). The
// caller (srv.AppID, or a ReimburserToken's appid) may lock an INIT invoice,
// and unlock (INIT) or close (CLOSURE) one it locked; an invoice locked by
// another reimburser answers 72023, any other move 72024. The change is
// pushed to the platform as update_invoice_status.
func (s *Server) handleUpdateInvoiceStatus(c *call) {
	var req wire.ReimburseUpdateRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, code, detail := s.resolve(wire.InvoiceRef{CardID: req.CardID, EncryptCode: req.EncryptCode})
	if code != 0 {
		c.fail(code, detail)
		return
	}
	next, ok := reimburserStatus(req.ReimburseStatus)
	if !ok {
		c.fail(72031, "invalid reimburse_status")
		return
	}
	party := s.party(c)
	if code, detail := checkMove(inv.Status, s.lockOwner(inv), party, next); code != 0 {
		c.fail(code, detail)
		return
	}
	s.applyMove(inv, party, next)
	c.ok(&wire.Empty{})
}

// handleUpdateStatusBatch serves POST
// /card/invoice/reimburse/updatestatusbatch, all-or-nothing as WeChat
// documents: openid, a non-empty invoice_list and a reimburse_status of
// INIT, LOCK or CLOSURE are required (72031); every invoice must resolve,
// belong to openid (72031 otherwise: the code is not documented) and allow
// the move as in updateinvoicestatus (72023, 72024; an invoice listed twice
// fails its second move). The first failure is answered and nothing
// changes; otherwise every invoice moves and each change is pushed.
func (s *Server) handleUpdateStatusBatch(c *call) {
	var req wire.UpdateStatusBatchRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.OpenID == "":
		c.fail(72031, "openid is empty")
		return
	case len(req.InvoiceList) == 0:
		c.fail(72031, "invoice_list is empty")
		return
	}
	next, ok := reimburserStatus(req.ReimburseStatus)
	if !ok {
		c.fail(72031, "invalid reimburse_status")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	party := s.party(c)
	type planned struct {
		status wxinvoice.ReimburseStatus
		owner  string
	}
	plan := map[*Invoice]*planned{}
	var order []*Invoice
	for _, ref := range req.InvoiceList {
		inv, code, detail := s.resolve(ref)
		if code != 0 {
			c.fail(code, detail)
			return
		}
		if inv.OpenID != req.OpenID {
			c.fail(72031, "card "+ref.CardID+" does not belong to openid")
			return
		}
		p := plan[inv]
		if p == nil {
			p = &planned{status: inv.Status, owner: s.lockOwner(inv)}
			plan[inv] = p
			order = append(order, inv)
		}
		if code, detail := checkMove(p.status, p.owner, party, next); code != 0 {
			c.fail(code, detail)
			return
		}
		p.status, p.owner = next, ""
		if next == wxinvoice.ReimburseLock {
			p.owner = party
		}
	}
	for _, inv := range order {
		s.applyMove(inv, party, next)
	}
	c.ok(&wire.Empty{})
}
