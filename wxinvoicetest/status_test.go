package wxinvoicetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

var allStatuses = []wxinvoice.ReimburseStatus{
	wxinvoice.ReimburseInit, wxinvoice.ReimburseLock, wxinvoice.ReimburseClosure, wxinvoice.ReimburseCancel,
}

func updateStatus(t *testing.T, l *lifecycle, code string, st wxinvoice.ReimburseStatus) []byte {
	t.Helper()
	return post(t, l.srv, "/card/invoice/platform/updatestatus", l.tok,
		wire.UpdateStatusRequest{CardID: l.cardID, Code: code, ReimburseStatus: string(st)})
}

func TestUpdateStatusMachine(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	// The machine as WeChat documents it, written out independently of CanMoveTo.
	allowed := map[[2]wxinvoice.ReimburseStatus]bool{
		{wxinvoice.ReimburseInit, wxinvoice.ReimburseLock}:    true,
		{wxinvoice.ReimburseInit, wxinvoice.ReimburseCancel}:  true,
		{wxinvoice.ReimburseLock, wxinvoice.ReimburseInit}:    true,
		{wxinvoice.ReimburseLock, wxinvoice.ReimburseClosure}: true,
		{wxinvoice.ReimburseLock, wxinvoice.ReimburseCancel}:  true,
	}
	n := 0
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			n++
			res := l.insert(t, "order-"+string(from)+"-"+string(to), string(rune('A'+n)))
			require.NoError(t, l.srv.SetStatus(l.cardID, res.Code, from))
			raw := updateStatus(t, l, res.Code, to)
			inv, ok := l.srv.Invoice(l.cardID, res.Code)
			require.True(t, ok)
			want := allowed[[2]wxinvoice.ReimburseStatus{from, to}]
			require.Equal(t, want, from.CanMoveTo(to), "CanMoveTo(%s→%s)", from, to)
			if want {
				requireCode(t, 0, raw)
				require.Equal(t, to, inv.Status, "%s→%s", from, to)
			} else {
				requireCode(t, 72024, raw)
				require.Equal(t, from, inv.Status, "%s→%s refused without a change", from, to)
			}
		}
	}
}

func TestUpdateStatusErrors(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	res := l.insert(t, "o-1", "1")
	for _, tc := range []struct {
		name string
		req  wire.UpdateStatusRequest
		want int
	}{
		{"missing card_id", wire.UpdateStatusRequest{Code: res.Code, ReimburseStatus: "INVOICE_REIMBURSE_LOCK"}, 72031},
		{"missing code", wire.UpdateStatusRequest{CardID: l.cardID, ReimburseStatus: "INVOICE_REIMBURSE_LOCK"}, 72031},
		{"missing status", wire.UpdateStatusRequest{CardID: l.cardID, Code: res.Code}, 72031},
		{"unknown status", wire.UpdateStatusRequest{CardID: l.cardID, Code: res.Code, ReimburseStatus: "INVOICE_REIMBURSE_PAID"}, 72031},
		{"unknown code", wire.UpdateStatusRequest{CardID: l.cardID, Code: "000000000000", ReimburseStatus: "INVOICE_REIMBURSE_LOCK"}, 72001},
		{"unknown card", wire.UpdateStatusRequest{CardID: "pNope", Code: res.Code, ReimburseStatus: "INVOICE_REIMBURSE_LOCK"}, 72001},
		{"same status", wire.UpdateStatusRequest{CardID: l.cardID, Code: res.Code, ReimburseStatus: "INVOICE_REIMBURSE_INIT"}, 72024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, tc.want, post(t, l.srv, "/card/invoice/platform/updatestatus", l.tok, tc.req))
		})
	}
	inv, _ := l.srv.Invoice(l.cardID, res.Code)
	require.Equal(t, wxinvoice.ReimburseInit, inv.Status)

	require.Error(t, l.srv.SetStatus(l.cardID, "nope", wxinvoice.ReimburseLock))
	require.Error(t, l.srv.SetStatus(l.cardID, res.Code, "INVOICE_REIMBURSE_PAID"))
	// SetStatus bypasses the machine (test setup): CLOSURE straight from INIT.
	require.NoError(t, l.srv.SetStatus(l.cardID, res.Code, wxinvoice.ReimburseClosure))
	inv, _ = l.srv.Invoice(l.cardID, res.Code)
	require.Equal(t, wxinvoice.ReimburseClosure, inv.Status)
}
