// Command quickstart runs the whole e-invoice lifecycle:
//
//	seturl → createcard → upload a PDF → getpdf and download it → insert →
//	updatestatus → receive the pushed update_invoice_status → decrypt code →
//	createbillcard → insertbill
//
// By default it runs against an embedded fake WeChat (wxinvoicetest), so it
// needs no credentials:
//
//	go run ./examples/quickstart
//
// With WECHAT_APPID and WECHAT_APPSECRET set it calls the real WeChat instead,
// or, with WXINVOICE_BASE_URL set too, the server at that URL (for example a
// `wxinvoice sandbox`, whose banner prints the three export lines). Then the
// steps only the embedded fake can play — a reimburser locking the invoice,
// the pushes it causes, and the encrypt_code WeChat would hand out — are
// skipped; set WECHAT_ENCRYPT_CODE to decrypt a real one.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		var apiErr *wxinvoice.APIError
		if errors.As(err, &apiErr) {
			fmt.Fprintf(os.Stderr, "WeChat errcode %d: %s\n", apiErr.Code, apiErr.Description())
		}
		os.Exit(1)
	}
}

// Push settings of the platform's event URL (公众号 服务器配置).
const (
	eventToken = "quickstart-token"
	eventKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // EncodingAESKey: 43 chars
)

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	step := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	appID, secret, baseURL := os.Getenv("WECHAT_APPID"), os.Getenv("WECHAT_APPSECRET"), os.Getenv("WXINVOICE_BASE_URL")
	if baseURL != "" && (appID == "" || secret == "") {
		return errors.New("WXINVOICE_BASE_URL is set: export WECHAT_APPID and WECHAT_APPSECRET too (a sandbox prints all three)")
	}
	var opts []wxinvoice.Option
	var srv *wxinvoicetest.Server
	statusEvents := make(chan *wxinvoice.InvoiceStatusEvent, 4)

	if appID == "" || secret == "" {
		// 1. The platform's event URL: an EventHandler in safe mode (AES).
		const fakeAppID = "wxquickstart00001"
		handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
			Token: eventToken, EncodingAESKey: eventKey, AppID: fakeAppID,
			OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
				statusEvents <- ev
				return nil
			},
		})
		if err != nil {
			return err
		}
		events := httptest.NewServer(handler)
		defer events.Close()

		// 2. The fake WeChat, pushing status changes to that URL.
		srv = wxinvoicetest.NewServer(
			wxinvoicetest.WithApp(fakeAppID, "quickstart-secret"),
			wxinvoicetest.WithEventPush(events.URL, wxinvoicetest.PushConfig{Token: eventToken, EncodingAESKey: eventKey, AppID: fakeAppID}),
		)
		defer srv.Close()
		appID, secret = srv.AppID, srv.AppSecret
		opts = append(opts, wxinvoice.WithBaseURL(srv.URL))
		step("Using the built-in fake WeChat at %s (set WECHAT_APPID/WECHAT_APPSECRET for the real one)", srv.URL)
	} else if baseURL != "" {
		opts = append(opts, wxinvoice.WithBaseURL(baseURL))
		step("Using the WeChat API at %s as %s (WXINVOICE_BASE_URL)", baseURL, appID)
	} else {
		step("Using the real WeChat API as %s", appID)
	}

	client, err := wxinvoice.New(appID, secret, opts...)
	if err != nil {
		return err
	}

	// seturl: the platform's s_pappid, which merchants put in their auth links.
	su, err := client.SetURL(ctx)
	if err != nil {
		return err
	}
	step("1. seturl       s_pappid=%s", su.SPAppID)

	card, err := client.CreateCard(ctx, &wxinvoice.CreateCardRequest{
		Payee: "示例科技有限公司", Type: "广东省增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/mmbiz/logo/0", Title: "示例科技"},
	})
	if err != nil {
		return err
	}
	step("2. createcard   card_id=%s", card.CardID)

	pdf := samplePDF()
	up, err := client.UploadPDF(ctx, "invoice-0001.pdf", bytes.NewReader(pdf))
	if err != nil {
		return err
	}
	step("3. setpdf       s_media_id=%s (%d bytes)", up.SMediaID, len(pdf))

	link, err := client.GetPDF(ctx, up.SMediaID)
	if err != nil {
		return err
	}
	n, err := download(ctx, link.PDFURL)
	if err != nil {
		return err
	}
	step("4. getpdf       downloaded %d bytes, link valid until %s", n, link.ExpireTime.Format(time.RFC3339))

	ins, err := client.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{
		OrderID: "order-0001", CardID: card.CardID, AppID: appID,
		Invoice: wxinvoice.InvoiceData{
			Fee: 11800, Title: "某某公司", BillingTime: time.Now(), BillingNo: "00000001", BillingCode: "044001900111",
			Items:         []wxinvoice.InvoiceItem{{Name: "技术服务费", Num: 1, Unit: "次", Price: 11800}},
			FeeWithoutTax: 11132, Tax: 668, PDFMediaID: up.SMediaID,
		},
	})
	if err != nil {
		return err
	}
	step("5. insert       code=%s openid=%s", ins.Code, ins.OpenID)

	// A reimburser locks the invoice (played by the fake); the platform
	// voids it (冲红). Each change is pushed to the platform's event URL.
	if srv != nil {
		if err := srv.SetStatus(card.CardID, ins.Code, wxinvoice.ReimburseLock); err != nil {
			return err
		}
		step("   (a reimburser locks the invoice: the fake plays the reimburser, WeChat pushes the change)")
		if err := receive(ctx, statusEvents, step); err != nil {
			return err
		}
	}
	if err := client.UpdateStatus(ctx, &wxinvoice.UpdateStatusRequest{CardID: card.CardID, Code: ins.Code, Status: wxinvoice.ReimburseCancel}); err != nil {
		return err
	}
	step("6. updatestatus %s", wxinvoice.ReimburseCancel)
	if srv != nil {
		if err := receive(ctx, statusEvents, step); err != nil {
			return err
		}
	}

	encrypted := os.Getenv("WECHAT_ENCRYPT_CODE")
	if srv != nil {
		encrypted = srv.EncryptCode(card.CardID, ins.Code) // what WeChat appends to the card's links
	}
	if encrypted != "" {
		code, err := client.DecryptCode(ctx, encrypted)
		if err != nil {
			return err
		}
		step("7. decrypt      encrypt_code → code=%s", code)
	}

	// A fiscal e-bill (财政电子票据) goes through its own template.
	billCard, err := client.CreateBillCard(ctx, &wxinvoice.CreateBillCardRequest{Payee: "某某市财政局", LogoURL: "http://mmbiz.qpic.cn/mmbiz/logo/0"})
	if err != nil {
		return err
	}
	bill, err := client.InsertBill(ctx, &wxinvoice.InsertBillRequest{
		OrderID: "bill-0001", CardID: billCard.CardID, AppID: appID,
		Bill: wxinvoice.BillData{Fee: 5000, Title: "某某市财政局", BillingTime: time.Now(),
			BillingNo: "44000123", BillingCode: "0000001", PDFMediaID: up.SMediaID},
	})
	if err != nil {
		return err
	}
	step("8. insertbill   bill card_id=%s code=%s openid=%s", billCard.CardID, bill.Code, bill.OpenID)
	step("Done: the whole lifecycle ran.")
	return nil
}

func receive(ctx context.Context, events <-chan *wxinvoice.InvoiceStatusEvent, step func(string, ...any)) error {
	select {
	case ev := <-events:
		step("   ← event      update_invoice_status %s for code %s (decrypted and verified)", ev.Status, ev.Code)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no update_invoice_status push arrived: %w", ctx.Err())
	}
}

func download(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("download pdf: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		return 0, errors.New("download pdf: not a PDF")
	}
	return len(b), nil
}

// samplePDF builds a minimal one-page PDF.
func samplePDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
		"<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 760 Td (Invoice 0001) Tj ET\nendstream",
	}
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
