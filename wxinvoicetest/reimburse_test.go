package wxinvoicetest

import (
	"encoding/xml"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// reimburse posts to /card/invoice/reimburse/<op>.
func reimburse(t *testing.T, srv *Server, tok, op string, body any) []byte {
	t.Helper()
	return post(t, srv, "/card/invoice/reimburse/"+op, tok, body)
}

func setStatus(t *testing.T, srv *Server, tok string, ref wire.InvoiceRef, st wxinvoice.ReimburseStatus) []byte {
	t.Helper()
	return reimburse(t, srv, tok, "updateinvoicestatus", wire.ReimburseUpdateRequest{CardID: ref.CardID, EncryptCode: ref.EncryptCode, ReimburseStatus: string(st)})
}

func TestReimburseGetInvoiceInfo(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv := l.srv
	res := l.insert(t, "o-1", "B1")
	ref := wire.InvoiceRef{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, res.Code)}
	srv.Advance(time.Hour)

	got := decodeOK[wire.GetInvoiceInfoResponse](t, reimburse(t, srv, l.tok, "getinvoiceinfo", ref))
	require.NotEmpty(t, got.UserInfo.PDFURL)
	want := wire.ReimburseInvoice{CardID: l.cardID, OpenID: res.OpenID, Type: "广东省增值税普通发票", Payee: "测试-收款方",
		UserCardStatus: "NORMAL", BeginTime: wire.Int(t0.Unix()), EndTime: wire.Int(t0.Add(cardValidity).Unix()),
		UserInfo: wire.ReimburseUserInfo{Fee: 100, Title: "北京测试有限公司", BillingTime: wire.Int(t0.Unix()), BillingNo: "B1",
			BillingCode: "044001800111", Info: []wire.ReimburseItem{{Name: "餐饮", Num: 1, Unit: "份", Price: 100}},
			FeeWithoutTax: 87, Tax: 13, PDFURL: got.UserInfo.PDFURL, ReimburseStatus: "INVOICE_REIMBURSE_INIT", OrderID: "o-1"}}
	require.Equal(t, want, got.ReimburseInvoice)

	// pdf_url serves the invoice's PDF for 2 hours.
	resp, err := http.Get(got.UserInfo.PDFURL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, samplePDF, body)

	other := l.insert(t, "o-2", "B2")
	requireCode(t, 72031, reimburse(t, srv, l.tok, "getinvoiceinfo", wire.InvoiceRef{CardID: l.cardID}))
	requireCode(t, 72031, reimburse(t, srv, l.tok, "getinvoiceinfo", wire.InvoiceRef{EncryptCode: ref.EncryptCode}))
	requireCode(t, 40056, reimburse(t, srv, l.tok, "getinvoiceinfo", wire.InvoiceRef{CardID: l.cardID, EncryptCode: "bogus"}))
	requireCode(t, 40073, reimburse(t, srv, l.tok, "getinvoiceinfo", wire.InvoiceRef{CardID: "pOther", EncryptCode: ref.EncryptCode}))
	requireCode(t, 72001, reimburse(t, srv, l.tok, "getinvoiceinfo", wire.InvoiceRef{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, "999")}))

	batch := decodeOK[wire.GetInvoiceBatchResponse](t, reimburse(t, srv, l.tok, "getinvoicebatch", wire.GetInvoiceBatchRequest{ItemList: []wire.InvoiceRef{
		{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, other.Code)}, ref}}))
	require.Len(t, batch.ItemList, 2)
	require.Equal(t, "o-2", batch.ItemList[0].UserInfo.OrderID, "request order")
	require.Equal(t, "o-1", batch.ItemList[1].UserInfo.OrderID)
	requireCode(t, 72031, reimburse(t, srv, l.tok, "getinvoicebatch", wire.GetInvoiceBatchRequest{}))
	requireCode(t, 40056, reimburse(t, srv, l.tok, "getinvoicebatch", wire.GetInvoiceBatchRequest{ItemList: []wire.InvoiceRef{ref, {CardID: l.cardID, EncryptCode: "x"}}}))
}

func TestReimburserLockAndOthers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	l := newLifecycle(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := l.srv
	res := l.insert(t, "o-1", "B1")
	ref := wire.InvoiceRef{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, res.Code)}
	other := srv.ReimburserToken("wxotherreimburser")

	requireCode(t, 72031, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseCancel), "CANCEL is the platform's")
	requireCode(t, 72031, setStatus(t, srv, l.tok, ref, "INVOICE_REIMBURSE_X"))
	requireCode(t, 72024, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseClosure), "INIT cannot be closed")
	requireCode(t, 0, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseLock))
	who, ok := srv.LockedBy(l.cardID, res.Code)
	require.True(t, ok)
	require.Equal(t, srv.AppID, who)

	// Another reimburser cannot lock, unlock or close it.
	for _, st := range []wxinvoice.ReimburseStatus{wxinvoice.ReimburseLock, wxinvoice.ReimburseInit, wxinvoice.ReimburseClosure} {
		requireCode(t, 72023, setStatus(t, srv, other, ref, st), string(st))
	}
	requireCode(t, 72024, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseLock), "locking twice")
	requireCode(t, 0, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseInit), "the owner unlocks")
	_, ok = srv.LockedBy(l.cardID, res.Code)
	require.False(t, ok)
	requireCode(t, 0, setStatus(t, srv, other, ref, wxinvoice.ReimburseLock), "now the other may lock")
	requireCode(t, 72023, setStatus(t, srv, l.tok, ref, wxinvoice.ReimburseClosure))
	requireCode(t, 0, setStatus(t, srv, other, ref, wxinvoice.ReimburseClosure))
	inv, _ := srv.Invoice(l.cardID, res.Code)
	require.Equal(t, wxinvoice.ReimburseClosure, inv.Status)
	requireCode(t, 72024, setStatus(t, srv, other, ref, wxinvoice.ReimburseInit), "CLOSURE is final")

	// A lock set with SetStatus belongs to a reimburser the API does not know.
	res2 := l.insert(t, "o-2", "B2")
	require.NoError(t, srv.SetStatus(l.cardID, res2.Code, wxinvoice.ReimburseLock))
	requireCode(t, 72023, setStatus(t, srv, l.tok, wire.InvoiceRef{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, res2.Code)}, wxinvoice.ReimburseClosure))

	// Every change reached the platform as update_invoice_status.
	srv.WaitPushes()
	var statuses []string
	for _, p := range rc.pushes() {
		var ev statusXML
		require.NoError(t, xml.Unmarshal(p.body, &ev))
		require.Equal(t, "update_invoice_status", ev.Event)
		statuses = append(statuses, ev.Status)
	}
	require.Equal(t, []string{"INVOICE_REIMBURSE_LOCK", "INVOICE_REIMBURSE_INIT", "INVOICE_REIMBURSE_LOCK", "INVOICE_REIMBURSE_CLOSURE",
		"INVOICE_REIMBURSE_LOCK"}, statuses)
}

func TestUpdateStatusBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	srv := l.srv
	srv.AuthorizeOrder("o-1", "ouser")
	srv.AuthorizeOrder("o-2", "ouser")
	srv.AuthorizeOrder("o-3", "ouser")
	srv.AuthorizeOrder("o-x", "ostranger")
	var refs []wire.InvoiceRef
	var codes []string
	for i, o := range []string{"o-1", "o-2", "o-3", "o-x"} {
		res := l.insert(t, o, "B"+itoa(i))
		codes = append(codes, res.Code)
		refs = append(refs, wire.InvoiceRef{CardID: l.cardID, EncryptCode: srv.EncryptCode(l.cardID, res.Code)})
	}
	other := srv.ReimburserToken("wxother")
	requireCode(t, 0, setStatus(t, srv, other, refs[2], wxinvoice.ReimburseLock))
	batch := func(tok string, st wxinvoice.ReimburseStatus, list ...wire.InvoiceRef) []byte {
		return reimburse(t, srv, tok, "updatestatusbatch", wire.UpdateStatusBatchRequest{OpenID: "ouser", ReimburseStatus: string(st), InvoiceList: list})
	}
	status := func(i int) wxinvoice.ReimburseStatus { inv, _ := srv.Invoice(l.cardID, codes[i]); return inv.Status }
	unchanged := func(msg string) {
		t.Helper()
		require.Equal(t, wxinvoice.ReimburseInit, status(0), msg)
		require.Equal(t, wxinvoice.ReimburseInit, status(1), msg)
		require.Equal(t, wxinvoice.ReimburseLock, status(2), msg)
	}

	requireCode(t, 72023, batch(l.tok, wxinvoice.ReimburseLock, refs[0], refs[1], refs[2]), "the last one is locked by another")
	unchanged("72023: nothing moved")
	requireCode(t, 72031, batch(l.tok, wxinvoice.ReimburseLock, refs[0], refs[3]), "another user's invoice")
	unchanged("72031: nothing moved")
	requireCode(t, 40056, batch(l.tok, wxinvoice.ReimburseLock, refs[0], wire.InvoiceRef{CardID: l.cardID, EncryptCode: "x"}))
	requireCode(t, 72024, batch(l.tok, wxinvoice.ReimburseLock, refs[0], refs[0]), "listed twice: the second lock fails")
	unchanged("72024: nothing moved")
	requireCode(t, 72031, batch(l.tok, wxinvoice.ReimburseCancel, refs[0]))
	requireCode(t, 72031, reimburse(t, srv, l.tok, "updatestatusbatch", wire.UpdateStatusBatchRequest{ReimburseStatus: "INVOICE_REIMBURSE_LOCK", InvoiceList: refs[:1]}))
	requireCode(t, 72031, batch(l.tok, wxinvoice.ReimburseLock))

	requireCode(t, 0, batch(l.tok, wxinvoice.ReimburseLock, refs[0], refs[1]))
	require.Equal(t, wxinvoice.ReimburseLock, status(0))
	require.Equal(t, wxinvoice.ReimburseLock, status(1))
	requireCode(t, 0, batch(l.tok, wxinvoice.ReimburseClosure, refs[0], refs[1]))
	require.Equal(t, wxinvoice.ReimburseClosure, status(1))
	requireCode(t, 0, batch(other, wxinvoice.ReimburseClosure, refs[2]))
	require.Equal(t, wxinvoice.ReimburseClosure, status(2))
}
