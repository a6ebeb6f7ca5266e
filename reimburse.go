package wxinvoice

import (
	"context"
	"strconv"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is the reimburser (报销方) side: reading invoices from users'
// card packages and locking, unlocking and closing them.

var (
	opGetInvoiceInfo      = &operation{path: "/card/invoice/reimburse/getinvoiceinfo"}
	opGetInvoiceBatch     = &operation{path: "/card/invoice/reimburse/getinvoicebatch"}
	opUpdateInvoiceStatus = &operation{path: "/card/invoice/reimburse/updateinvoicestatus", write: true}
	opUpdateStatusBatch   = &operation{path: "/card/invoice/reimburse/updatestatusbatch", write: true}
)

// InvoiceRef identifies an invoice card for a reimburser: its card_id and
// the encrypt_code WeChat passes along when the user shares the invoice
// (choose-invoice JS API, card links).
type InvoiceRef struct {
	CardID      string // required
	EncryptCode string // required
}

// ReimburseInvoice is an invoice as a reimburser reads it.
type ReimburseInvoice struct {
	CardID    string
	OpenID    string    // the user whose card package holds it
	Type      string    // 发票类型, e.g. "广东省增值税普通发票"
	Payee     string    // 收款方
	Detail    string    // 详情
	BeginTime time.Time // begin_time: start of the card's validity; zero when not sent
	EndTime   time.Time // end_time: end of the card's validity; zero when not sent
	// UserCardStatus is the card's state in the package as sent (e.g.
	// "NORMAL", "EXPIRE"); WeChat does not document the list.
	UserCardStatus string
	Invoice        ReimburseInvoiceData // user_info
}

// ReimburseInvoiceData is the user_info of an invoice: the data the
// platform inserted, plus its PDF links and reimbursement status. Money is
// int64 fen (分).
type ReimburseInvoiceData struct {
	Fee                   int64
	Title                 string
	BillingTime           time.Time // zero when not sent
	BillingNo             string
	BillingCode           string
	Items                 []InvoiceItem // info
	FeeWithoutTax         int64
	Tax                   int64
	Detail                string
	PDFURL                string // pdf_url
	TripPDFURL            string // trip_pdf_url (WeChat's documentation spells it trip_pdf_ur; both are read)
	Status                ReimburseStatus
	OrderID               string // order_id, given in batch answers
	CheckCode             string
	BuyerNumber           string
	BuyerAddressAndPhone  string
	BuyerBankAccount      string
	SellerNumber          string
	SellerAddressAndPhone string
	SellerBankAccount     string
	Remarks               string
	Cashier               string
	Maker                 string
}

// GetInvoiceInfo returns one invoice from a user's card package.
//
// WeChat API: POST /card/invoice/reimburse/getinvoiceinfo (查询报销发票信息)
func (c *Client) GetInvoiceInfo(ctx context.Context, ref *InvoiceRef) (*ReimburseInvoice, error) {
	return call(ctx, c, opGetInvoiceInfo, ref, fromWireInvoiceInfo)
}

// fromWireInvoiceInfo converts a getinvoiceinfo answer (Official Account and WeCom alike).
func fromWireInvoiceInfo(w *wire.GetInvoiceInfoResponse) *ReimburseInvoice {
	inv := fromWireReimburse(&w.ReimburseInvoice)
	return &inv
}

func (ref *InvoiceRef) validate() error {
	if ref == nil {
		return newValidation("ref", "must not be nil")
	}
	return ref.validateAt("")
}

// validateAt validates ref as the element of a list, prefix naming it.
func (ref *InvoiceRef) validateAt(prefix string) error {
	if ref.CardID == "" || ref.EncryptCode == "" {
		return firstInvalid(nonEmpty(prefix+"CardID", ref.CardID), nonEmpty(prefix+"EncryptCode", ref.EncryptCode))
	}
	return nil
}

func (ref *InvoiceRef) toWire() any {
	w := ref.wire()
	return &w
}

func (ref *InvoiceRef) wire() wire.InvoiceRef {
	return wire.InvoiceRef{CardID: ref.CardID, EncryptCode: ref.EncryptCode}
}

// validateRefs validates a non-empty list of references, field naming it.
func validateRefs(field string, refs []InvoiceRef) error {
	if len(refs) == 0 {
		return newValidation(field, "must not be empty")
	}
	for i := range refs {
		if err := refs[i].validateAt(field + "[" + strconv.Itoa(i) + "]."); err != nil {
			return err
		}
	}
	return nil
}

func wireRefs(refs []InvoiceRef) []wire.InvoiceRef {
	out := make([]wire.InvoiceRef, len(refs))
	for i := range refs {
		out[i] = refs[i].wire()
	}
	return out
}

// GetInvoiceBatchRequest names the invoices GetInvoiceBatch reads.
type GetInvoiceBatchRequest struct {
	Invoices []InvoiceRef `wire:"item_list"` // item_list (required, non-empty)
}

// GetInvoiceBatchResponse is the result of GetInvoiceBatch.
type GetInvoiceBatchResponse struct {
	Invoices []ReimburseInvoice // item_list, in WeChat's order
}

// GetInvoiceBatch returns several invoices at once. WeChat documents no
// maximum number of items.
//
// WeChat API: POST /card/invoice/reimburse/getinvoicebatch (批量查询报销发票信息)
func (c *Client) GetInvoiceBatch(ctx context.Context, req *GetInvoiceBatchRequest) (*GetInvoiceBatchResponse, error) {
	return call(ctx, c, opGetInvoiceBatch, req, fromWireInvoiceBatch)
}

// fromWireInvoiceBatch converts a batch answer (getinvoicebatch, WeCom's getinvoiceinfobatch).
func fromWireInvoiceBatch(w *wire.GetInvoiceBatchResponse) *GetInvoiceBatchResponse {
	out := &GetInvoiceBatchResponse{Invoices: make([]ReimburseInvoice, len(w.ItemList))}
	for i := range w.ItemList {
		out.Invoices[i] = fromWireReimburse(&w.ItemList[i])
	}
	return out
}

func (r *GetInvoiceBatchRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return validateRefs("Invoices", r.Invoices)
}

func (r *GetInvoiceBatchRequest) toWire() any {
	return &wire.GetInvoiceBatchRequest{ItemList: wireRefs(r.Invoices)}
}

func fromWireReimburse(w *wire.ReimburseInvoice) ReimburseInvoice {
	u := &w.UserInfo
	trip := u.TripPDFURL
	if trip == "" {
		trip = u.TripPDFUr
	}
	var items []InvoiceItem
	if len(u.Info) > 0 {
		items = make([]InvoiceItem, len(u.Info))
		for i, it := range u.Info {
			items[i] = InvoiceItem{Name: it.Name, Num: int64(it.Num), Unit: it.Unit, Price: int64(it.Price)}
		}
	}
	return ReimburseInvoice{
		CardID: w.CardID, OpenID: w.OpenID, Type: w.Type, Payee: w.Payee, Detail: w.Detail,
		BeginTime: fromUnix(w.BeginTime), EndTime: fromUnix(w.EndTime), UserCardStatus: w.UserCardStatus,
		Invoice: ReimburseInvoiceData{
			Fee: int64(u.Fee), Title: u.Title, BillingTime: fromUnix(u.BillingTime), BillingNo: u.BillingNo, BillingCode: u.BillingCode,
			Items: items, FeeWithoutTax: int64(u.FeeWithoutTax), Tax: int64(u.Tax), Detail: u.Detail,
			PDFURL: u.PDFURL, TripPDFURL: trip, Status: ReimburseStatus(u.ReimburseStatus), OrderID: u.OrderID,
			CheckCode: u.CheckCode, BuyerNumber: u.BuyerNumber, BuyerAddressAndPhone: u.BuyerAddressAndPhone,
			BuyerBankAccount: u.BuyerBankAccount, SellerNumber: u.SellerNumber, SellerAddressAndPhone: u.SellerAddressAndPhone,
			SellerBankAccount: u.SellerBankAccount, Remarks: u.Remarks, Cashier: u.Cashier, Maker: u.Maker,
		},
	}
}

// validReimburserStatus refuses what a reimburser may not set: anything
// but INIT (unlock), LOCK and CLOSURE. CANCEL (冲红) is the invoicing
// platform's, through UpdateStatus.
func validReimburserStatus(s ReimburseStatus) error {
	switch s {
	case ReimburseInit, ReimburseLock, ReimburseClosure:
		return nil
	case ReimburseCancel:
		return newValidation("Status", "%s is set by the invoicing platform (UpdateStatus), not by a reimburser", string(s))
	}
	return newValidation("Status", "unknown reimburse status %q", string(s))
}

// UpdateInvoiceStatusRequest sets the reimbursement status of one invoice.
type UpdateInvoiceStatusRequest struct {
	CardID      string          // required
	EncryptCode string          // required
	Status      ReimburseStatus `wire:"reimburse_status"` // ReimburseLock, ReimburseInit (unlock) or ReimburseClosure (required)
}

// UpdateInvoiceStatus locks, unlocks or closes an invoice as a reimburser.
// WeChat pushes the change to the invoicing platform (update_invoice_status).
//
// WeChat API: POST /card/invoice/reimburse/updateinvoicestatus (报销方更新发票状态)
//
// ReimburseClosure (核销) is irreversible: the invoice leaves the user's card
// package. An invoice another reimburser locked answers ErrInvoiceLocked
// (72023); a move the status machine forbids ErrInvoiceStatus (72024). The
// call is a write, never replayed when its outcome is unknown: read the
// state back with GetInvoiceInfo.
func (c *Client) UpdateInvoiceStatus(ctx context.Context, req *UpdateInvoiceStatusRequest) error {
	return act(ctx, c, opUpdateInvoiceStatus, req)
}

func (r *UpdateInvoiceStatusRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	if err := (&InvoiceRef{CardID: r.CardID, EncryptCode: r.EncryptCode}).validateAt(""); err != nil {
		return err
	}
	return validReimburserStatus(r.Status)
}

func (r *UpdateInvoiceStatusRequest) toWire() any {
	return &wire.ReimburseUpdateRequest{CardID: r.CardID, EncryptCode: r.EncryptCode, ReimburseStatus: string(r.Status)}
}

// UpdateStatusBatchRequest sets the status of several invoices of one user.
type UpdateStatusBatchRequest struct {
	OpenID   string          // the user all the invoices belong to (required)
	Status   ReimburseStatus `wire:"reimburse_status"` // ReimburseLock, ReimburseInit or ReimburseClosure (required)
	Invoices []InvoiceRef    `wire:"invoice_list"`     // invoice_list (required, non-empty)
}

// UpdateStatusBatch sets the status of several invoices of one user in one
// transaction: WeChat documents it as all-or-nothing — if any invoice fails,
// none is changed. An error therefore means no invoice moved (unless the
// outcome is unknown, ErrOutcomeUnknown, when the call is never replayed).
//
// WeChat API: POST /card/invoice/reimburse/updatestatusbatch (报销方批量更新发票状态)
func (c *Client) UpdateStatusBatch(ctx context.Context, req *UpdateStatusBatchRequest) error {
	return act(ctx, c, opUpdateStatusBatch, req)
}

func (r *UpdateStatusBatchRequest) validate() error {
	switch {
	case r == nil:
		return errNilRequest()
	case r.OpenID == "":
		return newValidation("OpenID", "must not be empty")
	case len(r.Invoices) == 0:
		return newValidation("Invoices", "must not be empty")
	}
	if err := validReimburserStatus(r.Status); err != nil {
		return err
	}
	return validateRefs("Invoices", r.Invoices)
}

func (r *UpdateStatusBatchRequest) toWire() any {
	return &wire.UpdateStatusBatchRequest{OpenID: r.OpenID, ReimburseStatus: string(r.Status), InvoiceList: wireRefs(r.Invoices)}
}
