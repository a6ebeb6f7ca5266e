package wxinvoice

import (
	"context"
	"strconv"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// UpdateStatusRequest sets the reimbursement status of one invoice.
type UpdateStatusRequest struct {
	CardID string          // the invoice's card_id (required)
	Code   string          // the invoice's code from InsertInvoice (required)
	Status ReimburseStatus `wire:"reimburse_status"` // one of the four ReimburseXxx values (required)
}

var opUpdateStatus = &operation{path: "/card/invoice/platform/updatestatus", write: true}

// UpdateStatus changes an invoice's reimbursement status as the invoicing
// platform, e.g. ReimburseCancel when the invoice is voided (冲红).
//
// WeChat API: POST /card/invoice/platform/updatestatus (更新发票卡券状态)
//
// Only the four documented statuses are accepted; anything else is a
// *ValidationError and nothing is sent. WeChat answers ErrInvoiceStatus
// (72024) for a move its status machine forbids (see ReimburseStatus.CanMoveTo).
func (c *Client) UpdateStatus(ctx context.Context, req *UpdateStatusRequest) error {
	return act(ctx, c, opUpdateStatus, req)
}

func (r *UpdateStatusRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("CardID", r.CardID), nonEmpty("Code", r.Code), validStatus("Status", r.Status))
}

func (r *UpdateStatusRequest) toWire() any {
	return &wire.UpdateStatusRequest{CardID: r.CardID, Code: r.Code, ReimburseStatus: string(r.Status)}
}

// validStatus is the rule that s is one of the four documented statuses.
func validStatus(field string, s ReimburseStatus) rule {
	if s.Valid() {
		return rule{}
	}
	return rule{bad: true, field: field, reason: "unknown reimburse status " + strconv.Quote(string(s))}
}
