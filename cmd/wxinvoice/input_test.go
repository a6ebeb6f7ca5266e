package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
)

func TestDecodeInto(t *testing.T) {
	t.Parallel()
	want := time.Date(2024, 5, 1, 10, 0, 0, 0, chinaTime)
	for _, bt := range []string{`1714528800`, `"1714528800"`, `"2024-05-01 10:00:00"`, `"2024-05-01T10:00:00"`,
		`"2024-05-01T10:00:00+08:00"`, `"2024-05-01T02:00:00Z"`} {
		m, err := parseInput([]byte(`{"order-id": 42, "Invoice": {"billing_time": ` + bt + `, "FEE": "007", "items": [{"num": "2"}]}}`))
		require.NoError(t, err)
		var req wxinvoice.InsertInvoiceRequest
		require.NoError(t, decodeInto(m, &req), bt)
		require.True(t, want.Equal(req.Invoice.BillingTime), "%s: %v", bt, req.Invoice.BillingTime)
		require.Equal(t, "42", req.OrderID)
		require.Equal(t, int64(7), req.Invoice.Fee)
		require.Equal(t, int64(2), req.Invoice.Items[0].Num)
	}
	m, err := parseInput([]byte(`{"Invoice": {"BillingTime": "2024-05-01"}}`))
	require.NoError(t, err)
	var req wxinvoice.InsertInvoiceRequest
	require.NoError(t, decodeInto(m, &req))
	require.True(t, time.Date(2024, 5, 1, 0, 0, 0, 0, chinaTime).Equal(req.Invoice.BillingTime))

	for in, msg := range map[string]string{
		`{"Invoice": {"Fee": 1.5}}`:                   "Invoice.Fee: expected an integer (money is in fen",
		`{"Invoice": {"billing_time": "yesterday"}}`:  `Invoice.BillingTime: "yesterday" is not a time`,
		`{"Invoice": {"Items": {"Name": "x"}}}`:       "Invoice.Items: expected a JSON array",
		`{"order_id": "a", "OrderID": "b"}`:           "field OrderID given twice",
		`{"card_ext": {}}`:                            `input: unknown field "card_ext" (known: AppID, CardID, Invoice, NonceStr, OrderID)`,
		`{"Invoice": {"Items": [{"Colour": "red"}]}}`: `Invoice.Items[0]: unknown field "Colour"`,
		`{"OrderID": true}`:                           "OrderID: expected a string",
	} {
		m, err := parseInput([]byte(in))
		require.NoError(t, err, in)
		err = decodeInto(m, new(wxinvoice.InsertInvoiceRequest))
		require.Error(t, err, in)
		require.Contains(t, err.Error(), msg, in)
		require.Equal(t, exitUsage, exitCode(err))
	}
	for _, in := range []string{`[1]`, `{"a":1} {"b":2}`, `{`} {
		_, err := parseInput([]byte(in))
		require.Error(t, err, in)
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	type row struct {
		Name   string
		Count  int
		Hidden string `json:"-"`
		Note   string `json:",omitempty"`
	}
	var b strings.Builder
	require.NoError(t, writeTable(&b, []row{{Name: "a", Count: 1}, {Name: "bb", Count: 22, Note: "n"}}))
	require.Equal(t, "NAME  COUNT  NOTE\na     1\nbb    22     n\n", b.String())

	b.Reset()
	require.NoError(t, writeTable(&b, &struct {
		ID    string
		Items []row
		When  time.Time
	}{ID: "x", Items: []row{{Name: "a"}}, When: time.Date(2024, 5, 1, 10, 0, 0, 0, chinaTime)}))
	require.Equal(t, "ID              x\nItems[0].Name   a\nItems[0].Count  0\nWhen            2024-05-01T10:00:00+08:00\n", b.String())
}

func TestParseEncryptCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"abc+/=":                        {"abc+/=", ""},
		"abc%2B%2F%3D":                  {"abc+/=", ""},
		"encrypt_code=abc+d&card_id=pX": {"abc+d", "pX"},
		"https://h/p?card_id=p1&encrypt_code=a%3D": {"a=", "p1"},
	} {
		enc, card := parseEncryptCode(in)
		require.Equal(t, want, [2]string{enc, card}, in)
	}
}

func TestIntegerErrorsMentionFenOnlyForMoney(t *testing.T) {
	var ct wxinvoice.Contact
	err := decodeInto(map[string]any{"Timeout": "30s"}, &ct)
	require.ErrorContains(t, err, "Timeout: expected an integer, got 30s")
	require.NotContains(t, err.Error(), "fen")
	var req wxinvoice.InsertInvoiceRequest
	err = decodeInto(map[string]any{"Invoice": map[string]any{"Fee": "1.5"}}, &req)
	require.ErrorContains(t, err, "money is in fen")
}

// TestDecodeAcceptsWeChatNames: the field names of WeChat's documentation
// are accepted beside the Go names.
func TestDecodeAcceptsWeChatNames(t *testing.T) {
	m, err := parseInput([]byte(`{"order_id":"o1","card_id":"c1","appid":"wx1","invoice":{"fee":100,"title":"t",
		"billing_time":1714528800,"billing_no":"1","s_pdf_media_id":"m1","s_trip_pdf_media_id":"m2",
		"info":[{"name":"n","num":1,"unit":"u","price":100}]}}`))
	require.NoError(t, err)
	var req wxinvoice.InsertInvoiceRequest
	require.NoError(t, decodeInto(m, &req))
	require.Equal(t, "m1", req.Invoice.PDFMediaID)
	require.Equal(t, "m2", req.Invoice.TripPDFMediaID)
	require.Len(t, req.Invoice.Items, 1)

	m, err = parseInput([]byte(`{"card_id":"c1","code":"1","reimburse_status":"INVOICE_REIMBURSE_CANCEL"}`))
	require.NoError(t, err)
	var st wxinvoice.UpdateStatusRequest
	require.NoError(t, decodeInto(m, &st))
	require.Equal(t, wxinvoice.ReimburseCancel, st.Status)
}
