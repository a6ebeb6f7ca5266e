package wxinvoicetest

import (
	"errors"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// handleUpdateStatus serves POST /card/invoice/platform/updatestatus (also
// used for nontax bills).
//
// card_id, code and reimburse_status are required and the status must be one
// of the four documented values (72031 invalid params). A (card_id, code)
// pair that matches no inserted invoice answers 72001 (no match card: the
// documentation is silent; 72001 names exactly this case, while 40078 would
// say the card exists in a wrong state). A move the status machine forbids
// (wxinvoice.ReimburseStatus.CanMoveTo, a move to the same status included)
// answers 72024 (invoice status error). Otherwise the status changes and an
// update_invoice_status event is pushed (WithEventPush).
func (s *Server) handleUpdateStatus(c *call) {
	var req wire.UpdateStatusRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.CardID == "":
		c.fail(72031, "card_id is empty")
		return
	case req.Code == "":
		c.fail(72031, "code is empty")
		return
	case req.ReimburseStatus == "":
		c.fail(72031, "reimburse_status is empty")
		return
	}
	next := wxinvoice.ReimburseStatus(req.ReimburseStatus)
	if !next.Valid() {
		c.fail(72031, "invalid reimburse_status")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoices[invoiceKey{req.CardID, req.Code}]
	if inv == nil {
		c.fail(72001, "")
		return
	}
	if !inv.Status.CanMoveTo(next) {
		c.fail(72024, "cannot move from "+string(inv.Status)+" to "+string(next))
		return
	}
	s.changeStatus(inv, next)
	c.ok(&wire.Empty{})
}

// SetStatus sets the status of the invoice (cardID, code) as a reimburser
// would (e.g. ReimburseLock when the user submits it for reimbursement) and
// pushes update_invoice_status when the status changes. It bypasses the
// status machine, so that a test can set up any state; it returns an error
// for an unknown invoice or status.
func (s *Server) SetStatus(cardID, code string, status wxinvoice.ReimburseStatus) error {
	if !status.Valid() {
		return errors.New("wxinvoicetest: invalid status " + string(status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoices[invoiceKey{cardID, code}]
	if inv == nil {
		return errors.New("wxinvoicetest: no invoice with card_id " + cardID + " and code " + code)
	}
	if inv.Status != status {
		s.changeStatus(inv, status)
	}
	return nil
}

// changeStatus applies a status change and queues its push. Callers hold s.mu.
func (s *Server) changeStatus(inv *Invoice, next wxinvoice.ReimburseStatus) {
	inv.Status = next
	s.queuePush(wxinvoice.InvoiceStatusEvent{
		ToUserName:   s.Username(),
		FromUserName: inv.OpenID,
		CreateTime:   s.clk.now(),
		Status:       next,
		CardID:       inv.CardID,
		Code:         inv.Code,
	})
}
