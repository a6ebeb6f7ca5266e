package main

import (
	"testing"

	"github.com/wxinvoice/wxinvoice"
)

// FuzzDecodeInput: whatever JSON an operator feeds a command, decoding it
// into a request returns a value or a usage error, never a panic.
func FuzzDecodeInput(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"1","card_id":"c","appid":"wx","invoice":{"fee":"100","billing_time":"2024-05-01 10:00:00","items":[{"name":"x","price":1}]}}`,
		`{"OrderID":1468306058,"Invoice":{"BillingTime":1468306058,"Fee":-1}}`,
		`{"card_id":"c","code":"1","status":"cancel"}`,
		`{"invoiceinfo":{"wxopenid":"o","invoicedetail_list":[{"xmsl":"1.5"}]}}`,
		`{"invoice":{"items":{"name":"x"}}}`, `[]`, `null`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(wxinvoice.InsertInvoiceRequest) },
		func() any { return new(wxinvoice.UpdateStatusRequest) },
		func() any { return new(wxinvoice.MakeOutInvoiceRequest) },
		func() any { return new(wxinvoice.InsertBillRequest) },
		func() any { return new(wxinvoice.GetAuthURLRequest) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseInput(data)
		if err != nil {
			return
		}
		for _, mk := range targets {
			_ = decodeInto(m, mk())
		}
	})
}
