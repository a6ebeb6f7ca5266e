package wxinvoice

import (
	"context"
	"fmt"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// request is a public request type of a JSON endpoint: it validates itself
// (reporting the first invalid field) and converts itself to its wire shape.
// validate must accept a nil receiver and refuse it.
type request interface {
	validate() error
	toWire() any
}

// call is the shape of every JSON endpoint method: validate req (nothing is
// sent when it is invalid), post its wire shape to op through the shared
// request path, and convert WeChat's answer with convert.
func call[W any, PW interface {
	*W
	wire.Enveloped
}, Out any](ctx context.Context, c *Client, op *operation, req request, convert func(*W) Out) (Out, error) {
	var zero Out
	if err := req.validate(); err != nil {
		if c.obs.enabled() { // refused before sending: a call of 0 attempts
			c.obs.endCall(c.obs.startCall(ctx, op.path), callInfo(op.path, 0, time.Now(), err))
		}
		return zero, err
	}
	resp, err := postJSON[W, PW](ctx, c, op, req.toWire())
	if err != nil {
		return zero, err
	}
	return convert(resp), nil
}

// act is call for an endpoint whose answer carries nothing but the errcode.
func act(ctx context.Context, c *Client, op *operation, req request) error {
	_, err := call(ctx, c, op, req, func(*wire.Empty) struct{} { return struct{}{} })
	return err
}

// errNilRequest is the validation error of a nil request.
func errNilRequest() error { return newValidation("req", "must not be nil") }

// rule is one validation rule: when bad holds, field is invalid. The reason
// is formatted only for the rule that fails, so that valid requests cost no
// allocation.
type rule struct {
	bad    bool
	field  string
	reason string // used when n is not set
	n      int64  // the negative value of a nonNegative rule
	neg    bool
}

// nonEmpty is the rule that value, the field's value, is not empty.
func nonEmpty(field, value string) rule {
	return rule{bad: value == "", field: field, reason: "must not be empty"}
}

// nonNegative is the rule that value, an amount in fen or a count, is not
// negative.
func nonNegative(field string, value int64) rule {
	return rule{bad: value < 0, field: field, n: value, neg: true}
}

// firstInvalid returns the *ValidationError of the first broken rule, or nil.
func firstInvalid(rules ...rule) error {
	for _, r := range rules {
		if !r.bad {
			continue
		}
		if r.neg {
			return newValidation(r.field, "must not be negative, got %d", r.n)
		}
		return &ValidationError{Field: r.field, Reason: r.reason}
	}
	return nil
}

// noRequest is the request of an endpoint that takes none: WeChat's body is
// the empty object.
type noRequest struct{}

func (noRequest) validate() error { return nil }
func (noRequest) toWire() any     { return struct{}{} }

// newValidation returns a *ValidationError for field.
func newValidation(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
