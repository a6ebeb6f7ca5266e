package wxinvoice

import (
	"context"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// UpdateStatusRequest sets the reimbursement status of one invoice.
type UpdateStatusRequest struct {
	CardID string          // the invoice's card_id (required)
	Code   string          // the invoice's code from InsertInvoice (required)
	Status ReimburseStatus // one of the four ReimburseXxx values (required)
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
	switch {
	case req == nil:
		return newValidation("req", "must not be nil")
	case req.CardID == "":
		return newValidation("CardID", "must not be empty")
	case req.Code == "":
		return newValidation("Code", "must not be empty")
	case !req.Status.Valid():
		return newValidation("Status", "unknown reimburse status %q", string(req.Status))
	}
	_, err := postJSON[wire.Empty](ctx, c, opUpdateStatus, &wire.UpdateStatusRequest{
		CardID: req.CardID, Code: req.Code, ReimburseStatus: string(req.Status),
	})
	return err
}
