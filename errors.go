package wxinvoice

import (
	"errors"
	"fmt"
	"strconv"
)

// APIError is a non-zero errcode returned by WeChat.
//
// Use errors.Is with the Err* sentinels (which match on Code) or errors.As to
// read the code and message:
//
//	if errors.Is(err, wxinvoice.ErrDuplicateInvoice) { ... }
//	var apiErr *wxinvoice.APIError
//	if errors.As(err, &apiErr) { log.Println(apiErr.Code) }
type APIError struct {
	Code int    // WeChat's errcode
	Msg  string // WeChat's errmsg, verbatim (often with a "hint: [...]" or "rid: ..." suffix)
	Op   string // the API path, e.g. "/card/invoice/insert"; never carries the access token
}

// Error returns "wxinvoice: <op>: errcode <code> (<description>): <errmsg>".
func (e *APIError) Error() string {
	s := "wxinvoice: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += "errcode " + strconv.Itoa(e.Code)
	if d := ErrorDescription(e.Code); d != "" && d != e.Msg {
		s += " (" + d + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Is reports whether target is an *APIError with the same Code, so that
// errors.Is(err, ErrInvoiceLocked) works whatever Op and Msg say.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code == e.Code
}

// Description returns the documented meaning of e.Code, or "".
func (e *APIError) Description() string { return ErrorDescription(e.Code) }

// ErrorDescription returns the documented description of a WeChat errcode
// (the 72xxx/73xxx invoice codes and the global ones a client meets), or ""
// for an undocumented code.
func ErrorDescription(code int) string { return errDescriptions[code] }

// Sentinels for the errcodes callers branch on. Compare with errors.Is.
var (
	ErrSystemBusy          = &APIError{Code: -1, Msg: "system busy"}
	ErrInvalidCredential   = &APIError{Code: 40001, Msg: "invalid credential"}
	ErrInvalidAccessToken  = &APIError{Code: 40014, Msg: "invalid access_token"}
	ErrInvalidCardID       = &APIError{Code: 40073, Msg: "invalid card id"}
	ErrInvalidCardStatus   = &APIError{Code: 40078, Msg: "invalid card status"}
	ErrInvalidAppSecret    = &APIError{Code: 40125, Msg: "invalid appsecret"}
	ErrAccessTokenExpired  = &APIError{Code: 42001, Msg: "access_token expired"}
	ErrRateLimited         = &APIError{Code: 45009, Msg: "reach max api daily quota limit"}
	ErrTooFrequent         = &APIError{Code: 45011, Msg: "api minute-quota reach limit"}
	ErrDataFormat          = &APIError{Code: 47001, Msg: "data format error"} // the body could not be parsed: bad JSON, or a setpdf upload without a multipart part named "pdf"
	ErrUnauthorizedAPI     = &APIError{Code: 48001, Msg: "api unauthorized"}
	ErrUnauthorizedInvoice = &APIError{Code: 72015, Msg: "unauthorized create invoice"}
	ErrInvalidTitle        = &APIError{Code: 72017, Msg: "invalid invoice title"}
	ErrInvoiceLocked       = &APIError{Code: 72023, Msg: "invoice has been lock by others"}
	ErrInvoiceStatus       = &APIError{Code: 72024, Msg: "invoice status error"}
	ErrInvalidParams       = &APIError{Code: 72031, Msg: "invalid params"}
	ErrInsertRejected      = &APIError{Code: 72035, Msg: "biz reject insert"}
	ErrInvoiceBusy         = &APIError{Code: 72036, Msg: "invoice is busy, try again please"}
	ErrOrderNotAuthorized  = &APIError{Code: 72038, Msg: "invoice order never auth"}
	ErrInvoiceNotLocked    = &APIError{Code: 72039, Msg: "invoice must be lock first"}
	ErrInvalidPDF          = &APIError{Code: 72040, Msg: "invoice pdf error"}
	ErrDuplicateInvoice    = &APIError{Code: 72042, Msg: "billing_code and billing_no repeated"}
	ErrBillingNoSize       = &APIError{Code: 72043, Msg: "billing_code or billing_no size error"}
	ErrContactNotSet       = &APIError{Code: 72063, Msg: "biz contact is empty, set contact first please"}
)

// isTokenRejection reports whether code means WeChat rejected the access
// token (the call is replayed once with a fresh token).
func isTokenRejection(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

// ValidationError reports input that is certainly invalid; it is returned
// before anything is sent to WeChat.
type ValidationError struct {
	// Field names what was refused: a Go field path of the request struct
	// (e.g. "Invoice.Fee", "EventConfig.Token") or the name of a method's
	// parameter (e.g. "appID", "sMediaID", "pdf").
	Field  string
	Reason string
}

// Error returns "wxinvoice: invalid <field>: <reason>".
func (e *ValidationError) Error() string {
	return "wxinvoice: invalid " + e.Field + ": " + e.Reason
}

// ErrOutcomeUnknown is wrapped by errors from writes (every call that changes
// state on WeChat: insert, updatestatus, createcard, setpdf, insertbill,
// createbillcard, rejectinsert, makeoutinvoice, clearoutinvoice, the
// reimburser's status updates, setbizattr's set_* actions, api_query_auth)
// whose request may have reached WeChat but whose answer from WeChat never
// arrived: a timeout or a broken connection after the request was written,
// any HTTP status other than 200 (a gateway's 502 or 504 may come after
// WeChat acted), or an answer that cannot be decoded. WeChat may or may not
// have acted on it. The SDK never replays such a write by itself; check the
// state (e.g. with the reimburser's getinvoiceinfo) or retry knowingly.
//
// It is not wrapped when no request left the process (ctx already done, a
// connection that could not be made, a request body that could not be
// opened or read: errors.Is(err, context.Canceled) and the like then hold),
// nor for a redirect answer (3xx), which the SDK never follows: a redirect is
// WeChat's host, or a proxy before it, declining to handle the request, not
// an action taken.
var ErrOutcomeUnknown = errors.New("outcome unknown: the request may have reached WeChat but no answer from it arrived")

// OpError wraps a transport, HTTP status, redirect or decode failure of one
// API call. A redirect answer is an OpError whose text names the status and
// the (redacted) Location: the SDK never follows redirects.
//
// Err's text never contains the access token or another credential the SDK
// knows: URLs, body snippets and wrapped errors are redacted. Err still
// unwraps to the underlying error (context.DeadlineExceeded, a
// *json.SyntaxError...).
type OpError struct {
	Op  string // the API path
	Err error
}

// Error returns "wxinvoice: <op>: <err>".
func (e *OpError) Error() string { return fmt.Sprintf("wxinvoice: %s: %v", e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Sentinels of the merchant, reimburser, title and unified-issuing calls.
// Compare with errors.Is.
var (
	// ErrPayMchNotSet (72028): GetPayMch before any SetPayMch.
	ErrPayMchNotSet = &APIError{Code: 72028, Msg: "invoice never set pay mch info"}
	// ErrAuthFieldNotSet (72029): GetAuthField (or a type 1 page) before any SetAuthField.
	ErrAuthFieldNotSet = &APIError{Code: 72029, Msg: "invoice never set auth field"}
	// ErrScanTextExpired (72044): ScanTitle with a scan_text that is too old
	// (or one WeChat does not know).
	ErrScanTextExpired = &APIError{Code: 72044, Msg: "scan text out of time"}
	// ErrInvoicePlatform (73100): the invoicing platform failed. The invoice
	// may still have been issued: query it (QueryInvoiceInfo) before issuing
	// again, and retry only with the same fpqqlsh.
	ErrInvoicePlatform = &APIError{Code: 73100, Msg: "kaipiao plat error"}
	// ErrMakeOutTimeout (73105): the invoicing platform timed out. The invoice
	// may still have been issued: retry with the SAME fpqqlsh (never a new
	// one) or query it.
	ErrMakeOutTimeout = &APIError{Code: 73105, Msg: "Kp plat make invoice timeout, please try again with the same fpqqlsh"}
	// ErrFpqqlshReused (73106): the fpqqlsh was already used with another ddh.
	ErrFpqqlshReused = &APIError{Code: 73106, Msg: "Fpqqlsh exist with different ddh"}
	// ErrFpqqlshProcessing (73107): the request with this fpqqlsh is still
	// being processed and may yet succeed: wait and query it later.
	ErrFpqqlshProcessing = &APIError{Code: 73107, Msg: "Fpqqlsh is processing, please wait and query later"}
	// ErrDdhReused (73108): the ddh (order) was already used with another fpqqlsh.
	ErrDdhReused = &APIError{Code: 73108, Msg: "This ddh with other fpqqlsh already exist"}
	// ErrFpqqlshNotFound (73109): the invoicing platform has no request with this fpqqlsh.
	ErrFpqqlshNotFound = &APIError{Code: 73109, Msg: "This Fpqqlsh not exist in kpplat"}
)
