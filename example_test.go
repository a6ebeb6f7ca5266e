package wxinvoice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// The whole platform flow against the fake server: upload the PDF, insert
// the invoice, void it.
func Example() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	ctx := context.Background()

	client, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	card, err := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{
		Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"},
	})
	if err != nil {
		panic(err)
	}
	pdf, err := client.UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	if err != nil {
		panic(err)
	}
	inv, err := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{
		OrderID: "order-1", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: time.Now(),
			BillingNo: "0001", BillingCode: "044001", PDFMediaID: pdf.SMediaID},
	})
	if err != nil {
		panic(err)
	}
	err = client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: inv.Code, Status: wxinvoice.ReimburseCancel})
	fmt.Println("voided:", err == nil)

	state, _ := srv.Invoice(card.CardID, inv.Code)
	fmt.Println("status:", state.Status)
	// Output:
	// voided: true
	// status: INVOICE_REIMBURSE_CANCEL
}

// Errcodes are errors: branch on them with errors.Is.
func ExampleAPIError() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))

	// An invoice WeChat does not know: errcode 72001 (no match card).
	err := client.UpdateStatus(context.Background(), &wxinvoice.UpdateStatusRequest{
		CardID: "unknown-card", Code: "1", Status: wxinvoice.ReimburseLock})
	var apiErr *wxinvoice.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("errcode:", apiErr.Code, apiErr.Description())
	}

	// Input that is certainly wrong is refused before anything is sent.
	err = client.UpdateStatus(context.Background(), &wxinvoice.UpdateStatusRequest{CardID: "c", Code: "1", Status: "VOID"})
	var ve *wxinvoice.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	// Output:
	// errcode: 72001 no match card
	// true Status
}

// An event URL in safe mode: WeChat's update_invoice_status pushes are
// verified, decrypted, deduplicated and handed to a typed callback. The fake
// server pushes them like WeChat does.
func ExampleNewEventHandler() {
	const token, key = "my-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	statuses := make(chan wxinvoice.ReimburseStatus, 1)
	handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
		Token: token, EncodingAESKey: key, AppID: "wxexample0000001",
		OnInvoiceStatus: func(ctx context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			statuses <- ev.Status // record it; an error here makes WeChat push again
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	events := httptest.NewServer(handler)
	defer events.Close()

	srv := wxinvoicetest.NewServer(
		wxinvoicetest.WithApp("wxexample0000001", "example-secret"),
		wxinvoicetest.WithEventPush(events.URL, wxinvoicetest.PushConfig{Token: token, EncodingAESKey: key, AppID: "wxexample0000001"}),
	)
	defer srv.Close()
	client, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	ctx := context.Background()
	card, _ := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	pdf, _ := client.UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	inv, _ := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "order-9", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: time.Now(), BillingNo: "0009", PDFMediaID: pdf.SMediaID}})

	// The platform voids the invoice; WeChat pushes the new status.
	_ = client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: inv.Code, Status: wxinvoice.ReimburseCancel})
	fmt.Println("pushed:", <-statuses)
	// Output:
	// pushed: INVOICE_REIMBURSE_CANCEL
}
