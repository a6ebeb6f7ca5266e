package wire

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIntAcceptsNumbersAndNumericStrings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Int{`12`: 12, `"12"`: 12, `" 7 "`: 7, `""`: 0, `null`: 0, `-1`: -1, `"-1"`: -1,
		`1.468306058e9`: 1468306058, `7200.0`: 7200} {
		var got Int
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{`"abc"`, `1.5`, `true`, `"1e"`} {
		var got Int
		require.Error(t, json.Unmarshal([]byte(in), &got), in)
	}
	b, err := json.Marshal(struct {
		T Int `json:"billing_time"`
	}{1468306058})
	require.NoError(t, err)
	require.JSONEq(t, `{"billing_time":1468306058}`, string(b))
}

func TestStatusDecodesLooseErrcode(t *testing.T) {
	t.Parallel()
	var r SetURLResponse
	require.NoError(t, json.Unmarshal([]byte(`{"errcode":"0","errmsg":"ok","invoice_url":"u"}`), &r))
	require.Zero(t, r.WireStatus().ErrCode)
	require.Equal(t, "u", r.InvoiceURL)
}

func FuzzInt(f *testing.F) {
	for _, s := range []string{`12`, `"12"`, `""`, `null`, `1e3`, `"-0"`, `9223372036854775807`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var i Int
		if err := i.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := i.MarshalJSON()
		require.NoError(t, err)
		var j Int
		require.NoError(t, j.UnmarshalJSON(b))
		require.Equal(t, i, j)
	})
}
