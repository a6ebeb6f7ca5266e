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
	TripPDFURL            string // trip_pdf_url (the reference spells it trip_pdf_ur; both are read)
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
	if ref == nil {
		return nil, newValidation("ref", "must not be nil")
	}
	if err := validateRef("", ref); err != nil {
		return nil, err
	}
	resp, err := postJSON[wire.GetInvoiceInfoResponse](ctx, c, opGetInvoiceInfo, &wire.InvoiceRef{CardID: ref.CardID, EncryptCode: ref.EncryptCode})
	if err != nil {
		return nil, err
	}
	inv := fromWireReimburse(&resp.ReimburseInvoice)
	return &inv, nil
}

// GetInvoiceBatchRequest names the invoices GetInvoiceBatch reads.
type GetInvoiceBatchRequest struct {
	Invoices []InvoiceRef // item_list (required, non-empty)
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
	switch {
	case req == nil:
		return nil, newValidation("req", "must not be nil")
	case len(req.Invoices) == 0:
		return nil, newValidation("Invoices", "must not be empty")
	}
	refs := req.Invoices
	w := &wire.GetInvoiceBatchRequest{ItemList: make([]wire.InvoiceRef, len(refs))}
	for i := range refs {
		if err := validateRef("Invoices["+strconv.Itoa(i)+"].", &refs[i]); err != nil {
			return nil, err
		}
		w.ItemList[i] = wire.InvoiceRef{CardID: refs[i].CardID, EncryptCode: refs[i].EncryptCode}
	}
	resp, err := postJSON[wire.GetInvoiceBatchResponse](ctx, c, opGetInvoiceBatch, w)
	if err != nil {
		return nil, err
	}
	out := &GetInvoiceBatchResponse{Invoices: make([]ReimburseInvoice, len(resp.ItemList))}
	for i := range resp.ItemList {
		out.Invoices[i] = fromWireReimburse(&resp.ItemList[i])
	}
	return out, nil
}

func validateRef(prefix string, ref *InvoiceRef) error {
	switch {
	case ref.CardID == "":
		return newValidation(prefix+"CardID", "must not be empty")
	case ref.EncryptCode == "":
		return newValidation(prefix+"EncryptCode", "must not be empty")
	}
	return nil
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
// platform's, through UpdateStatus; wechatpy refuses it here too.
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
	Status      ReimburseStatus // ReimburseLock, ReimburseInit (unlock) or ReimburseClosure (required)
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
	if req == nil {
		return newValidation("req", "must not be nil")
	}
	if err := validateRef("", &InvoiceRef{CardID: req.CardID, EncryptCode: req.EncryptCode}); err != nil {
		return err
	}
	if err := validReimburserStatus(req.Status); err != nil {
		return err
	}
	_, err := postJSON[wire.Empty](ctx, c, opUpdateInvoiceStatus, &wire.ReimburseUpdateRequest{
		CardID: req.CardID, EncryptCode: req.EncryptCode, ReimburseStatus: string(req.Status),
	})
	return err
}

// UpdateStatusBatchRequest sets the status of several invoices of one user.
type UpdateStatusBatchRequest struct {
	OpenID   string          // the user all the invoices belong to (required)
	Status   ReimburseStatus // ReimburseLock, ReimburseInit or ReimburseClosure (required)
	Invoices []InvoiceRef    // invoice_list (required, non-empty)
}

// UpdateStatusBatch sets the status of several invoices of one user in one
// transaction: WeChat documents it as all-or-nothing — if any invoice fails,
// none is changed. An error therefore means no invoice moved (unless the
// outcome is unknown, ErrOutcomeUnknown, when the call is never replayed).
//
// WeChat API: POST /card/invoice/reimburse/updatestatusbatch (报销方批量更新发票状态)
func (c *Client) UpdateStatusBatch(ctx context.Context, req *UpdateStatusBatchRequest) error {
	switch {
	case req == nil:
		return newValidation("req", "must not be nil")
	case req.OpenID == "":
		return newValidation("OpenID", "must not be empty")
	case len(req.Invoices) == 0:
		return newValidation("Invoices", "must not be empty")
	}
	if err := validReimburserStatus(req.Status); err != nil {
		return err
	}
	w := &wire.UpdateStatusBatchRequest{OpenID: req.OpenID, ReimburseStatus: string(req.Status), InvoiceList: make([]wire.InvoiceRef, len(req.Invoices))}
	for i := range req.Invoices {
		if err := validateRef("Invoices["+strconv.Itoa(i)+"].", &req.Invoices[i]); err != nil {
			return err
		}
		w.InvoiceList[i] = wire.InvoiceRef{CardID: req.Invoices[i].CardID, EncryptCode: req.Invoices[i].EncryptCode}
	}
	_, err := postJSON[wire.Empty](ctx, c, opUpdateStatusBatch, w)
	return err
}
