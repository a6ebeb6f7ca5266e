package fapiao

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wxinvoice/wxinvoice"
)

// ValidationError reports input that is certainly invalid; it is returned
// before anything is sent. Field is the Go field path, e.g.
// "BuyerInformation.Name".
type ValidationError = wxinvoice.ValidationError

func newValidation(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// APIError is an answer of WeChat Pay with a non-2xx HTTP status; its body
// is {"code", "message", "detail"} (WeChat Pay's error answer). errors.Is(err, ErrX)
// matches the sentinels below on Code.
type APIError struct {
	StatusCode int             // HTTP status
	Code       string          // e.g. "PARAM_ERROR", "SIGN_ERROR", "NO_AUTH"
	Message    string          // WeChat's text, usually Chinese
	Detail     json.RawMessage // "detail" as sent (e.g. field/value/issue/location), or nil
	Op         string          // the API operation, e.g. "POST /v3/new-tax-control-fapiao/fapiao-applications"
	RequestID  string          // Request-ID header, for WeChat Pay support
	// Unsigned is true when the answer carried no Wechatpay signature (such
	// as a 401 SIGN_ERROR, or an error page of a proxy): its content could
	// not be verified and is reported as received.
	Unsigned bool

	outcomeUnknown bool // a write answered 5xx: WeChat may have acted on it
}

// Error returns "fapiao: <op>: HTTP <status> <code>: <message>".
func (e *APIError) Error() string {
	s := "fapiao: " + e.Op + ": HTTP " + strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Unsigned {
		s += " (unsigned answer)"
	}
	if e.outcomeUnknown {
		s += " (" + wxinvoice.ErrOutcomeUnknown.Error() + ")"
	}
	return s
}

// Is reports whether target is the sentinel for e.Code, or
// wxinvoice.ErrOutcomeUnknown for a write that WeChat answered with a 5xx
// status (it may have acted on the write before failing).
func (e *APIError) Is(target error) bool {
	if target == wxinvoice.ErrOutcomeUnknown {
		return e.outcomeUnknown
	}
	t, ok := target.(*codeError)
	return ok && e.Code != "" && t.code == e.Code
}

// errorBody is the JSON body of an error answer.
type errorBody struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// codeError is the type of the code sentinels.
type codeError struct{ code, text string }

func (e *codeError) Error() string { return "fapiao: " + e.code + ": " + e.text }

// Sentinels for the error codes the e-invoice pages document, matched by errors.Is on
// APIError.Code.
var (
	// ErrParam (400 PARAM_ERROR): a parameter is wrong, e.g. Wechatpay-Serial
	// missing or a sensitive field not decryptable by WeChat.
	ErrParam error = &codeError{"PARAM_ERROR", "parameter error"}
	// ErrInvalidRequest (400 INVALID_REQUEST): well formed but against the
	// business rules, e.g. files of an invoice not issued on the WeChat Pay side.
	ErrInvalidRequest error = &codeError{"INVALID_REQUEST", "request violates the business rules"}
	// ErrSign (401 SIGN_ERROR): WeChat Pay did not accept the request's
	// signature (wrong key or serial, or a clock more than 5 minutes off).
	ErrSign error = &codeError{"SIGN_ERROR", "signature not accepted"}
	// ErrNoAuth (403 NO_AUTH): no permission, e.g. the sub-merchant has not
	// authorised the partner or not finished the e-invoice setup.
	ErrNoAuth error = &codeError{"NO_AUTH", "no permission"}
	// ErrNotFound (404 RESOURCE_NOT_EXISTS): the resource does not exist.
	ErrNotFound error = &codeError{"RESOURCE_NOT_EXISTS", "resource does not exist"}
	// ErrOrderNotExist (404 ORDER_NOT_EXIST): the order does not exist
	// (generic APIv3 table).
	ErrOrderNotExist error = &codeError{"ORDER_NOT_EXIST", "order does not exist"}
	// ErrFrequencyLimited (429 FREQUENCY_LIMITED): lower the request rate.
	ErrFrequencyLimited error = &codeError{"FREQUENCY_LIMITED", "frequency limited"}
	// ErrRateLimitExceeded (429 RATELIMIT_EXCEEDED): the generic APIv3 rate limit.
	ErrRateLimitExceeded error = &codeError{"RATELIMIT_EXCEEDED", "rate limit exceeded"}
	// ErrSystem (500 SYSTEM_ERROR): WeChat Pay failed; retry with the same
	// parameters (a read is retried by the client; a write is not).
	ErrSystem error = &codeError{"SYSTEM_ERROR", "system error"}
	// ErrServiceUnavailable (502/503 SERVICE_UNAVAILABLE): offline or overloaded.
	ErrServiceUnavailable error = &codeError{"SERVICE_UNAVAILABLE", "service unavailable"}
)

// ErrDigestMismatch is returned by Download when the SM3 digest of the bytes
// written does not match the SM3-Digest header, or the header is missing:
// do not trust (and discard) whatever was written.
var ErrDigestMismatch = errors.New("fapiao: downloaded file does not match its SM3-Digest; do not trust the bytes written")

// opError wraps a failure that is not an answer of WeChat Pay (transport,
// verification, decoding) with the operation.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "fapiao: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// unknownOutcome marks a write that was sent without a trustworthy answer.
type unknownOutcome struct{ err error }

func (e *unknownOutcome) Error() string {
	return wxinvoice.ErrOutcomeUnknown.Error() + ": " + e.err.Error()
}
func (e *unknownOutcome) Unwrap() []error { return []error{wxinvoice.ErrOutcomeUnknown, e.err} }
