package wxinvoice

import (
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file holds the types several API areas share (the reimbursement
// status, invoice lines) and how times cross the wire: Unix seconds, and
// China time for WeChat's date strings.

// ReimburseStatus is the reimbursement state of an invoice card (报销状态).
//
// The platform moves an invoice between these states with UpdateStatus;
// reimbursers lock and close it. WeChat reports changes with the
// update_invoice_status event.
type ReimburseStatus string

// The four reimbursement states WeChat documents.
const (
	// ReimburseInit: 发票初始状态，未锁定，可提交报销.
	ReimburseInit ReimburseStatus = "INVOICE_REIMBURSE_INIT"
	// ReimburseLock: 已锁定，无法重复提交报销.
	ReimburseLock ReimburseStatus = "INVOICE_REIMBURSE_LOCK"
	// ReimburseClosure: 已核销，从用户卡包中移除 (irreversible).
	ReimburseClosure ReimburseStatus = "INVOICE_REIMBURSE_CLOSURE"
	// ReimburseCancel: 发票已被冲红 (voided); set by the platform with UpdateStatus.
	ReimburseCancel ReimburseStatus = "INVOICE_REIMBURSE_CANCEL"
)

// Valid reports whether s is one of the four documented states.
func (s ReimburseStatus) Valid() bool {
	switch s {
	case ReimburseInit, ReimburseLock, ReimburseClosure, ReimburseCancel:
		return true
	}
	return false
}

// CanMoveTo reports whether WeChat's status machine allows the move from s to
// next: INIT→LOCK, LOCK→INIT (unlock), LOCK→CLOSURE, and CANCEL (冲红) from INIT
// or LOCK. CLOSURE and CANCEL are final. The fake server enforces the same
// rule and answers 72024 (invoice status error) for any other move.
func (s ReimburseStatus) CanMoveTo(next ReimburseStatus) bool {
	switch s {
	case ReimburseInit:
		return next == ReimburseLock || next == ReimburseCancel
	case ReimburseLock:
		return next == ReimburseInit || next == ReimburseClosure || next == ReimburseCancel
	}
	return false
}

// InvoiceItem is one line of an invoice (invoice_user_data.info). Money in fen (分).
type InvoiceItem struct {
	Name  string // 项目的名称 (required)
	Num   int64  // 项目的数量
	Unit  string // 项目的单位，如个
	Price int64  // 项目的单价, fen (required)
}

// unixSeconds converts t to the 10-digit Unix timestamp WeChat expects. The
// instant is zone-independent; the docs' "(UTC+8)" describes how WeChat
// displays it, so no offset is applied.
func unixSeconds(t time.Time) int64 { return t.Unix() }

// stampOrNow returns t as Unix seconds, or now when t is zero.
func stampOrNow(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().Unix()
	}
	return unixSeconds(t)
}

// fromUnix converts a Unix-seconds wire value; 0 is the zero time.
func fromUnix(v wire.Int) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(int64(v), 0)
}

// chinaZone is the zone WeChat's date strings are written in.
var chinaZone = time.FixedZone("CST", 8*3600)
