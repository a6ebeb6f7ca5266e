package wxinvoicetest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// A test of your own code runs against a Server: point the Client at its URL
// and inspect what WeChat would hold.
func ExampleNewServer() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	up, err := client.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	if err != nil {
		panic(err)
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	fmt.Println(last.Method, last.Path, strings.HasPrefix(last.ContentType, "multipart/form-data"))

	// The fake's clock: an uploaded PDF is purged after 3 days.
	srv.Advance(72*time.Hour + time.Second)
	_, err = client.GetPDF(ctx, up.SMediaID)
	fmt.Println(errors.Is(err, wxinvoice.ErrInvalidPDF))
	// Output:
	// POST /card/invoice/platform/setpdf true
	// true
}

// Faults make the fake answer as WeChat or a gateway does on a bad day.
func ExampleServer_FailNext() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	client, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL),
		wxinvoice.WithRetryPolicy(wxinvoice.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	ctx := context.Background()

	// errcode -1 (system busy) twice: a read is retried and succeeds.
	srv.FailNext("/card/invoice/seturl", 2, wxinvoicetest.Fault{ErrCode: -1})
	_, err := client.SetURL(ctx)
	fmt.Println("seturl:", err)

	// A rejection WeChat may give for any call.
	srv.FailNext("/card/invoice/platform/createcard", 1, wxinvoicetest.Fault{ErrCode: 45009})
	_, err = client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "p", Type: "t",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://l", Title: "t"}})
	fmt.Println(errors.Is(err, wxinvoice.ErrRateLimited))
	// Output:
	// seturl: <nil>
	// true
}

// With WithEventPush the fake pushes every status change to your
// EventHandler, signed and encrypted as WeChat does.
func ExampleWithEventPush() {
	const token, key = "push-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	got := make(chan wxinvoice.ReimburseStatus, 4)
	h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: token, EncodingAESKey: key, AppID: "wxexample0000002",
		OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error { got <- ev.Status; return nil }})
	if err != nil {
		panic(err)
	}
	events := httptest.NewServer(h)
	defer events.Close()

	srv := wxinvoicetest.NewServer(wxinvoicetest.WithApp("wxexample0000002", "secret"),
		wxinvoicetest.WithEventPush(events.URL, wxinvoicetest.PushConfig{Token: token, EncodingAESKey: key, AppID: "wxexample0000002"}))
	defer srv.Close()
	client, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	ctx := context.Background()
	card, _ := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "p", Type: "t",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://l", Title: "t"}})
	up, _ := client.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	inv, _ := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "o1", CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 1, Title: "t", BillingTime: time.Now(), BillingNo: "1", PDFMediaID: up.SMediaID}})

	_ = srv.SetStatus(card.CardID, inv.Code, wxinvoice.ReimburseLock) // a reimburser locks it
	srv.WaitPushes()
	fmt.Println(<-got)
	// Output:
	// INVOICE_REIMBURSE_LOCK
}
