package wxinvoicetest

import "github.com/wxinvoice/wxinvoice/internal/wire"

// handleCreateBillCard serves POST /nontax/createbillcard: the official
// sample's invoice_info wrapper, with payee and base_info.logo_url required
// (72031 invalid params).
func (s *Server) handleCreateBillCard(c *call) {
	var req wire.CreateCardRequest
	if !c.decode(&req) {
		return
	}
	ii := req.InvoiceInfo
	switch {
	case ii.Payee == "":
		c.fail(72031, "payee is empty")
		return
	case ii.BaseInfo.LogoURL == "":
		c.fail(72031, "logo_url is empty")
		return
	}
	c.ok(&wire.CardIDResponse{CardID: s.addCard(ii, true)})
}

// handleInsertBill serves POST /nontax/insertbill: like /card/invoice/insert
// without nonce_str, with billing_code and s_pdf_media_id required, and with
// order ids and billing numbers of its own (see insert). Bills get codes from
// the same generator as invoices, so (card_id, code) stays unique.
func (s *Server) handleInsertBill(c *call) { s.insert(c, true) }
