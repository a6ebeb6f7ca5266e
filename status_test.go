package wxinvoice

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUpdateStatusWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/platform/updatestatus", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "CardInvoice__Platform__CardInvoicePlatformUpdateStatusRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	err := ts.client(t).UpdateStatus(bg, &UpdateStatusRequest{CardID: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", Code: "186921658591", Status: ReimburseInit})
	require.NoError(t, err)
}

func TestReimburseStatusMachine(t *testing.T) {
	t.Parallel()
	all := []ReimburseStatus{ReimburseInit, ReimburseLock, ReimburseClosure, ReimburseCancel}
	allowed := map[[2]ReimburseStatus]bool{
		{ReimburseInit, ReimburseLock}: true, {ReimburseInit, ReimburseCancel}: true,
		{ReimburseLock, ReimburseInit}: true, {ReimburseLock, ReimburseClosure}: true, {ReimburseLock, ReimburseCancel}: true,
	}
	for _, from := range all {
		require.True(t, from.Valid())
		for _, to := range all {
			require.Equal(t, allowed[[2]ReimburseStatus{from, to}], from.CanMoveTo(to), "%s -> %s", from, to)
		}
	}
	require.False(t, ReimburseStatus("INVOICE_REIMBURSE_X").Valid())
	require.False(t, ReimburseStatus("").Valid())
}
