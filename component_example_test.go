package wxinvoice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// A third-party platform (第三方平台) issuing invoices for two merchants'
// Official Accounts, against the fake server: WeChat pushes the ticket to
// the authorization event URL, the merchants authorize the platform, and
// each gets a normal *Client that calls as the merchant.
func ExampleComponent() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	app := srv.Component() // the platform's appid, secret, Token and EncodingAESKey
	ctx := context.Background()

	// Production: wxinvoice.WithTokenStore(redisstore.New(rdb)), shared by
	// every instance; refresh tokens must survive restarts.
	comp, err := wxinvoice.NewComponent(app.AppID, app.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}

	// The authorization event URL (授权事件接收URL).
	events, err := comp.EventHandler(wxinvoice.ComponentEventConfig{
		Token: app.Token, EncodingAESKey: app.EncodingAESKey,
		OnAuthorized: func(ctx context.Context, ev *wxinvoice.AuthorizationEvent) error {
			fmt.Println("authorized:", ev.AuthorizerAppID, "invoice permission:", ev.Authorization.HasPermission(wxinvoice.PermissionInvoice))
			return nil
		},
		OnUnauthorized: func(ctx context.Context, ev *wxinvoice.UnauthorizedEvent) error {
			fmt.Println("unauthorized:", ev.AuthorizerAppID)
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(events)
	defer hs.Close()
	srv.SetComponentPushURL(hs.URL)
	if _, err := srv.PushComponentTicket(); err != nil { // WeChat does this every 10 minutes
		panic(err)
	}

	// The page a merchant's admin opens to authorize the platform.
	page, err := comp.AuthorizationURL(ctx, &wxinvoice.AuthorizationURLRequest{
		RedirectURI: "https://platform.example/wx/authorized", AuthType: wxinvoice.ComponentAuthOfficialAccount})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(page, "https://mp.weixin.qq.com/cgi-bin/componentloginpage?"))

	merchants := []string{"wxmerchant00000001", "wxmerchant00000002"}
	clients := map[string]*wxinvoice.Client{}
	for _, m := range merchants {
		if _, err := srv.AuthorizeComponent(m); err != nil { // the admin scans and confirms
			panic(err)
		}
		if clients[m], err = comp.Client(m); err != nil {
			panic(err)
		}
	}

	// Invoices, each inserted as its merchant.
	for i, m := range merchants {
		c := clients[m]
		card, err := c.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "商户" + m, Type: "增值税普通发票",
			BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "商户"}})
		if err != nil {
			panic(err)
		}
		pdf, err := c.UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
		if err != nil {
			panic(err)
		}
		_, err = c.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: fmt.Sprint("order-", i), CardID: card.CardID, AppID: m,
			Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司", BillingTime: time.Now(),
				BillingNo: fmt.Sprint("000", i), BillingCode: "044001", PDFMediaID: pdf.SMediaID}})
		fmt.Println("inserted for", m+":", err == nil)
	}

	// The second merchant revokes the authorization: its calls fail with a
	// typed error, the first merchant's keep working.
	if err := srv.Unauthorize(merchants[1]); err != nil {
		panic(err)
	}
	_, err = clients[merchants[1]].UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	fmt.Println("revoked:", errors.Is(err, wxinvoice.ErrAuthorizerRevoked))
	_, err = clients[merchants[0]].UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	fmt.Println("still working:", err == nil)
	// Output:
	// true
	// authorized: wxmerchant00000001 invoice permission: true
	// authorized: wxmerchant00000002 invoice permission: true
	// inserted for wxmerchant00000001: true
	// inserted for wxmerchant00000002: true
	// unauthorized: wxmerchant00000002
	// revoked: true
	// still working: true
}
