package wxinvoice

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseChooseInvoiceResult(t *testing.T) {
	t.Parallel()
	refs, err := ParseChooseInvoiceResult(` [{"card_id":"pjZ8Yt1","encrypt_code":"O/mPnGTpBu22a1szmK2 ","app_id":"wxinvoiceparty"},
		{"card_id":"pjZ8Yt2","encrypt_code":"x","extra":1}] `)
	require.NoError(t, err)
	require.Equal(t, []InvoiceRef{{CardID: "pjZ8Yt1", EncryptCode: "O/mPnGTpBu22a1szmK2 "}, {CardID: "pjZ8Yt2", EncryptCode: "x"}}, refs,
		"values as given, app_id and unknown keys ignored")

	refs, err = ParseChooseInvoiceResult(`{"card_id":"c","encrypt_code":"e","app_id":"wx1"}`)
	require.NoError(t, err)
	require.Equal(t, []InvoiceRef{{CardID: "c", EncryptCode: "e"}}, refs, "a single object")

	for _, tc := range []struct{ in, field, reason string }{
		{"", "invoiceInfo", "must not be empty"},
		{"   ", "invoiceInfo", "must not be empty"},
		{"[]", "invoiceInfo", "no invoice chosen"},
		{`"[]"`, "invoiceInfo", "not a JSON array or object"},
		{`[{"card_id":"c","encrypt_code":"e"}`, "invoiceInfo", "not a JSON array of objects"},
		{`[null]`, "invoiceInfo[0]", "not a JSON object"},
		{`["c"]`, "invoiceInfo[0]", "not a JSON object"},
		{`[{"card_id":"c","encrypt_code":"e"},{"encrypt_code":"e"}]`, "invoiceInfo[1].card_id", "missing"},
		{`[{"card_id":"c","encrypt_code":""}]`, "invoiceInfo[0].encrypt_code", "must not be empty"},
		{`[{"card_id":1,"encrypt_code":"e"}]`, "invoiceInfo[0].card_id", "must be a JSON string"},
		{`{"card_id":"c"}`, "invoiceInfo.encrypt_code", "missing"},
		{`{"card_id":"c","encrypt_code":"e"} trailing`, "invoiceInfo", "not a JSON object"},
		{strings.Repeat(" ", maxChooseInvoiceInput+1), "invoiceInfo", "longer than"},
	} {
		_, err := ParseChooseInvoiceResult(tc.in)
		var ve *ValidationError
		require.True(t, errors.As(err, &ve), "%q: %v", tc.in, err)
		require.Equal(t, tc.field, ve.Field, tc.in)
		require.Contains(t, ve.Reason, tc.reason, tc.in)
	}
}

// FuzzParseChooseInvoiceResult: any input gives refs with non-empty ids or
// a *ValidationError naming invoiceInfo, never a panic.
func FuzzParseChooseInvoiceResult(f *testing.F) {
	for _, s := range []string{
		`[{"card_id":"pjZ8Yt1","encrypt_code":"e","app_id":"wx1"}]`, `{"card_id":"c","encrypt_code":"e"}`,
		`[]`, `[null]`, `[{"card_id":1}]`, `{"card_id":"c","encrypt_code":"e"}x`, `[{"card_id":"\u0000","encrypt_code":"\ud800"}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		refs, err := ParseChooseInvoiceResult(in)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "invoiceInfo") || refs != nil {
				t.Fatalf("%q: %v (refs %v)", in, err, refs)
			}
			return
		}
		if len(refs) == 0 {
			t.Fatalf("%q: no refs and no error", in)
		}
		for i, r := range refs {
			if r.CardID == "" || r.EncryptCode == "" {
				t.Fatalf("%q: ref %d empty: %+v", in, i, r)
			}
			if err := r.validateAt(""); err != nil {
				t.Fatalf("%q: ref %d does not validate: %v", in, i, err)
			}
		}
	})
}
