package wxinvoice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestFakeReimburserLock: a reimburser reads and locks an invoice; the
// platform receives update_invoice_status; a second reimburser gets 72023.
func TestFakeReimburserLock(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	_, cardID, mediaID := e.platformSetup(t)
	inv, err := e.c.InsertInvoice(bg, e.insertRequest("order-1", cardID, mediaID, "B1"))
	require.NoError(t, err)
	ref := wxinvoice.InvoiceRef{CardID: cardID, EncryptCode: e.srv.EncryptCode(cardID, inv.Code)}

	// The reimburser (here the same account) reads the invoice.
	got, err := e.c.GetInvoiceInfo(bg, &ref)
	require.NoError(t, err)
	require.Equal(t, inv.OpenID, got.OpenID)
	require.Equal(t, "测试-收款方", got.Payee)
	require.Equal(t, "广东省增值税普通发票", got.Type)
	require.Equal(t, int64(1100), got.Invoice.Fee)
	require.Equal(t, "B1", got.Invoice.BillingNo)
	require.Equal(t, []wxinvoice.InvoiceItem{{Name: "绿巨人", Num: 10, Unit: "吨", Price: 110}}, got.Invoice.Items)
	require.Equal(t, int64(100), got.Invoice.Tax)
	require.Equal(t, wxinvoice.ReimburseInit, got.Invoice.Status)
	require.NotEmpty(t, got.Invoice.PDFURL)
	require.False(t, got.BeginTime.IsZero())

	require.NoError(t, e.c.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseLock}))

	// Another reimburser cannot touch it.
	other, err := wxinvoice.New("wxotherreimburser", "", wxinvoice.WithBaseURL(e.srv.URL),
		wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(e.srv.ReimburserToken("wxotherreimburser"))))
	require.NoError(t, err)
	for _, st := range []wxinvoice.ReimburseStatus{wxinvoice.ReimburseLock, wxinvoice.ReimburseClosure, wxinvoice.ReimburseInit} {
		err = other.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: st})
		require.ErrorIs(t, err, wxinvoice.ErrInvoiceLocked, string(st))
	}
	err = other.UpdateStatusBatch(bg, &wxinvoice.UpdateStatusBatchRequest{OpenID: inv.OpenID, Status: wxinvoice.ReimburseClosure, Invoices: []wxinvoice.InvoiceRef{ref}})
	require.ErrorIs(t, err, wxinvoice.ErrInvoiceLocked)
	read, err := other.GetInvoiceInfo(bg, &ref)
	require.NoError(t, err, "reading is allowed")
	require.Equal(t, wxinvoice.ReimburseLock, read.Invoice.Status)

	// The lock holder closes it (核销).
	require.NoError(t, e.c.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseClosure}))
	err = e.c.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseInit})
	require.ErrorIs(t, err, wxinvoice.ErrInvoiceStatus, "CLOSURE is final")

	_, st, _, _ := e.events()
	require.Len(t, st, 2)
	for i, want := range []wxinvoice.ReimburseStatus{wxinvoice.ReimburseLock, wxinvoice.ReimburseClosure} {
		require.Equal(t, wxinvoice.InvoiceStatusEvent{ToUserName: e.srv.Username(), FromUserName: inv.OpenID, CreateTime: st[i].CreateTime,
			Status: want, CardID: cardID, Code: inv.Code}, st[i])
	}
}

// TestFakeBatchAllOrNothing: a batch with one invoice another reimburser
// locked changes nothing; the batch without it changes all.
func TestFakeBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t, wxinvoicetest.WithAuthorizationRequired())
	_, cardID, mediaID := e.platformSetup(t)
	var refs []wxinvoice.InvoiceRef
	var codes []string
	for i, order := range []string{"o-1", "o-2", "o-3"} {
		e.srv.AuthorizeOrder(order, "ouser")
		inv, err := e.c.InsertInvoice(bg, e.insertRequest(order, cardID, mediaID, "B"+order))
		require.NoError(t, err, i)
		codes = append(codes, inv.Code)
		refs = append(refs, wxinvoice.InvoiceRef{CardID: cardID, EncryptCode: e.srv.EncryptCode(cardID, inv.Code)})
	}
	other, err := wxinvoice.New("wxother", "", wxinvoice.WithBaseURL(e.srv.URL),
		wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(e.srv.ReimburserToken("wxother"))))
	require.NoError(t, err)
	require.NoError(t, other.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: refs[2].EncryptCode, Status: wxinvoice.ReimburseLock}))

	statuses := func() []wxinvoice.ReimburseStatus {
		b, err := e.c.GetInvoiceBatch(bg, &wxinvoice.GetInvoiceBatchRequest{Invoices: refs})
		require.NoError(t, err)
		var out []wxinvoice.ReimburseStatus
		for _, inv := range b.Invoices {
			out = append(out, inv.Invoice.Status)
		}
		return out
	}
	err = e.c.UpdateStatusBatch(bg, &wxinvoice.UpdateStatusBatchRequest{OpenID: "ouser", Status: wxinvoice.ReimburseLock, Invoices: refs})
	require.ErrorIs(t, err, wxinvoice.ErrInvoiceLocked)
	require.Equal(t, []wxinvoice.ReimburseStatus{wxinvoice.ReimburseInit, wxinvoice.ReimburseInit, wxinvoice.ReimburseLock}, statuses(),
		"all-or-nothing: the first two did not move")

	require.NoError(t, e.c.UpdateStatusBatch(bg, &wxinvoice.UpdateStatusBatchRequest{OpenID: "ouser", Status: wxinvoice.ReimburseLock, Invoices: refs[:2]}))
	require.Equal(t, []wxinvoice.ReimburseStatus{wxinvoice.ReimburseLock, wxinvoice.ReimburseLock, wxinvoice.ReimburseLock}, statuses())
	for i, code := range codes[:2] {
		inv, _ := e.srv.Invoice(cardID, code)
		require.Equal(t, wxinvoice.ReimburseLock, inv.Status, i)
	}
	_, st, _, _ := e.events()
	require.Len(t, st, 3, "one push per change: the other's lock and the batch's two")
}

// A reimburser locks an invoice the user submitted; another reimburser
// trying the same gets ErrInvoiceLocked.
func ExampleClient_UpdateInvoiceStatus() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	platform, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	card, _ := platform.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	pdf, _ := platform.UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	inv, _ := platform.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "order-1", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: time.Now(), BillingNo: "0001", PDFMediaID: pdf.SMediaID}})
	// The user shares the invoice with a reimburser: card_id + encrypt_code.
	ref := wxinvoice.InvoiceRef{CardID: card.CardID, EncryptCode: srv.EncryptCode(card.CardID, inv.Code)}

	reimburser, _ := wxinvoice.New("wxreimburser0001", "", wxinvoice.WithBaseURL(srv.URL),
		wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(srv.ReimburserToken("wxreimburser0001"))))
	err := reimburser.UpdateInvoiceStatus(ctx, &wxinvoice.UpdateInvoiceStatusRequest{
		CardID: ref.CardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseLock})
	fmt.Println("locked:", err == nil)

	another, _ := wxinvoice.New("wxreimburser0002", "", wxinvoice.WithBaseURL(srv.URL),
		wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(srv.ReimburserToken("wxreimburser0002"))))
	err = another.UpdateInvoiceStatus(ctx, &wxinvoice.UpdateInvoiceStatusRequest{
		CardID: ref.CardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseLock})
	fmt.Println("second lock refused:", errors.Is(err, wxinvoice.ErrInvoiceLocked))
	// Output:
	// locked: true
	// second lock refused: true
}
