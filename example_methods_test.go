package wxinvoice_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// newExampleClient returns a Client of the fake server's app.
func newExampleClient(srv *wxinvoicetest.Server) *wxinvoice.Client {
	client, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	return client
}

// A card template per payee, created once and reused for every invoice.
func ExampleClient_CreateCard() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client := newExampleClient(srv)

	card, err := client.CreateCard(context.Background(), &wxinvoice.CreateCardRequest{
		Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"},
	})
	if err != nil {
		panic(err)
	}
	tpl, _ := srv.Card(card.CardID)
	fmt.Println(tpl.Payee, tpl.Title)

	// Bad input is refused before anything is sent, naming the field.
	_, err = client.CreateCard(context.Background(), &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司"})
	var ve *wxinvoice.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	// Output:
	// 示例科技有限公司 示例科技
	// true Type
}

// An io.Reader is streamed; the PDF is checked for its %PDF- header before
// anything is sent.
func ExampleClient_UploadPDF() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client := newExampleClient(srv)
	ctx := context.Background()

	up, err := client.UploadPDF(ctx, "invoice-0001.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	if err != nil {
		panic(err)
	}
	stored, _ := srv.PDF(up.SMediaID)
	fmt.Printf("stored %d bytes\n", len(stored))

	_, err = client.UploadPDF(ctx, "notes.txt", strings.NewReader("not a PDF"))
	fmt.Println(errors.As(err, new(*wxinvoice.ValidationError)))
	// Output:
	// stored 15 bytes
	// true
}

// Insert puts the invoice into the user's card package. A write whose
// answer was lost is never replayed: the error wraps ErrOutcomeUnknown.
func ExampleClient_InsertInvoice() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client := newExampleClient(srv)
	ctx := context.Background()

	card, _ := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	up, _ := client.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	req := &wxinvoice.InsertInvoiceRequest{
		OrderID: "order-1", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{
			Fee: 11800, Title: "某某公司", BillingTime: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
			BillingNo: "00000001", BillingCode: "044001900111", PDFMediaID: up.SMediaID,
			Items: []wxinvoice.InvoiceItem{{Name: "技术服务费", Num: 1, Unit: "次", Price: 11800}},
		},
	}
	inv, err := client.InsertInvoice(ctx, req)
	if err != nil {
		panic(err)
	}
	got, _ := srv.Invoice(card.CardID, inv.Code)
	fmt.Println(got.Fee, got.Status)

	// The same order again: WeChat refuses it.
	_, err = client.InsertInvoice(ctx, req)
	var apiErr *wxinvoice.APIError
	fmt.Println(errors.As(err, &apiErr), apiErr.Code)

	// The gateway loses the answer of the next insert: the outcome is unknown.
	srv.FailNext("/card/invoice/insert", 1, wxinvoicetest.Fault{LoseResponse: true})
	req.OrderID, req.Invoice.BillingNo = "order-2", "00000002"
	_, err = client.InsertInvoice(ctx, req)
	fmt.Println(errors.Is(err, wxinvoice.ErrOutcomeUnknown), len(srv.Invoices()))
	// Output:
	// 11800 INVOICE_REIMBURSE_INIT
	// true 72018
	// true 2
}

// The platform voids an invoice (冲红); WeChat's status machine refuses a
// move it does not allow.
func ExampleClient_UpdateStatus() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client := newExampleClient(srv)
	ctx := context.Background()

	card, _ := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	up, _ := client.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	inv, _ := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "order-1", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: time.Now(), BillingNo: "1", PDFMediaID: up.SMediaID}})

	err := client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: inv.Code, Status: wxinvoice.ReimburseCancel})
	fmt.Println("voided:", err == nil)
	err = client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: inv.Code, Status: wxinvoice.ReimburseLock})
	fmt.Println(errors.Is(err, wxinvoice.ErrInvoiceStatus))
	// Output:
	// voided: true
	// true
}
