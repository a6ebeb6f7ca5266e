package wxinvoice_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// weComClient returns a WeComClient for the fake's corp.
func weComClient(t *testing.T, srv *wxinvoicetest.Server, opts ...wxinvoice.Option) *wxinvoice.WeComClient {
	t.Helper()
	c, err := wxinvoice.NewWeCom(srv.CorpID, srv.CorpSecret, append([]wxinvoice.Option{wxinvoice.WithBaseURL(srv.URL)}, opts...)...)
	require.NoError(t, err)
	return c
}

// TestFakeWeComReimburserLocksPlatformInvoice: the platform inserts an
// invoice; a WeCom reimburser reads it, converts the employee's userid to
// the openid, locks and closes it in a batch; the platform's EventHandler
// receives each change as update_invoice_status; an Official Account
// reimburser cannot touch the corp's lock, nor the corp the account's.
func TestFakeWeComReimburserLocksPlatformInvoice(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	_, cardID, mediaID := e.platformSetup(t)
	var codes []string
	var refs []wxinvoice.InvoiceRef
	var openid string
	for i, order := range []string{"wc-1", "wc-2"} {
		e.srv.AuthorizeOrder(order, "o-employee-zhangsan")
		inv, err := e.c.InsertInvoice(bg, e.insertRequest(order, cardID, mediaID, fmt.Sprintf("WB%d", i)))
		require.NoError(t, err)
		openid = inv.OpenID
		codes = append(codes, inv.Code)
		refs = append(refs, wxinvoice.InvoiceRef{CardID: cardID, EncryptCode: e.srv.EncryptCode(cardID, inv.Code)})
	}
	require.Equal(t, "o-employee-zhangsan", openid)
	e.srv.AddWeComUser("zhangsan", openid)
	wc := weComClient(t, e.srv)

	got, err := wc.GetInvoiceInfo(bg, &refs[0])
	require.NoError(t, err)
	require.Equal(t, openid, got.OpenID)
	require.Equal(t, "测试-收款方", got.Payee)
	require.Equal(t, wxinvoice.ReimburseInit, got.Invoice.Status)
	require.NotEmpty(t, got.Invoice.PDFURL)
	batch, err := wc.GetInvoiceInfoBatch(bg, &wxinvoice.GetInvoiceBatchRequest{Invoices: refs})
	require.NoError(t, err)
	require.Len(t, batch.Invoices, 2)
	require.Equal(t, "WB1", batch.Invoices[1].Invoice.BillingNo, "in the request's order")

	require.NoError(t, wc.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: refs[0].EncryptCode, Status: wxinvoice.ReimburseLock}))
	owner, ok := e.srv.LockedBy(cardID, codes[0])
	require.True(t, ok)
	require.Equal(t, e.srv.CorpID, owner, "the corp holds the lock")

	// The Official Account reimburser (srv.AppID) cannot touch the corp's lock.
	err = e.c.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: refs[0].EncryptCode, Status: wxinvoice.ReimburseInit})
	require.ErrorIs(t, err, wxinvoice.ErrInvoiceLocked)

	// The corp locks the second and closes both in one batch, by openid.
	uid, err := wc.ConvertToOpenID(bg, "zhangsan")
	require.NoError(t, err)
	require.Equal(t, openid, uid)
	require.NoError(t, wc.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: refs[1].EncryptCode, Status: wxinvoice.ReimburseLock}))
	err = wc.UpdateStatusBatch(bg, &wxinvoice.UpdateStatusBatchRequest{OpenID: "o-someone-else", Status: wxinvoice.ReimburseClosure, Invoices: refs})
	require.ErrorIs(t, err, wxinvoice.ErrInvalidParams, "every invoice must belong to the openid")
	require.NoError(t, wc.UpdateStatusBatch(bg, &wxinvoice.UpdateStatusBatchRequest{OpenID: uid, Status: wxinvoice.ReimburseClosure, Invoices: refs}))
	for _, code := range codes {
		inv, _ := e.srv.Invoice(cardID, code)
		require.Equal(t, wxinvoice.ReimburseClosure, inv.Status)
	}

	_, st, _, _ := e.events()
	require.Len(t, st, 4, "lock, lock, closure, closure")
	want := []struct {
		code   string
		status wxinvoice.ReimburseStatus
	}{{codes[0], wxinvoice.ReimburseLock}, {codes[1], wxinvoice.ReimburseLock}, {codes[0], wxinvoice.ReimburseClosure}, {codes[1], wxinvoice.ReimburseClosure}}
	for i, w := range want {
		require.Equal(t, wxinvoice.InvoiceStatusEvent{ToUserName: e.srv.Username(), FromUserName: openid, CreateTime: st[i].CreateTime,
			Status: w.status, CardID: cardID, Code: w.code}, st[i], i)
	}
}

// TestFakeWeComOfficialAccountLockBlocksCorp: a lock the Official Account
// reimburser holds answers 72023 to the corp.
func TestFakeWeComOfficialAccountLockBlocksCorp(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)
	_, cardID, mediaID := e.platformSetup(t)
	inv, err := e.c.InsertInvoice(bg, e.insertRequest("oa-1", cardID, mediaID, "OA1"))
	require.NoError(t, err)
	ref := wxinvoice.InvoiceRef{CardID: cardID, EncryptCode: e.srv.EncryptCode(cardID, inv.Code)}
	require.NoError(t, e.c.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseLock}))
	wc := weComClient(t, e.srv)
	err = wc.UpdateInvoiceStatus(bg, &wxinvoice.UpdateInvoiceStatusRequest{CardID: cardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseClosure})
	require.ErrorIs(t, err, wxinvoice.ErrInvoiceLocked)
	read, err := wc.GetInvoiceInfo(bg, &ref)
	require.NoError(t, err, "reading is allowed")
	require.Equal(t, wxinvoice.ReimburseLock, read.Invoice.Status)
}

// TestFakeWeComTokens: corp tokens follow the app token's rules on the
// fake: one gettoken for many callers, a revoked token is dropped and
// refetched once, tokens are not interchangeable between the Official
// Account and WeCom paths, and the corp's errcodes are WeCom's.
func TestFakeWeComTokens(t *testing.T) {
	t.Parallel()
	srv := wxinvoicetest.NewServer(wxinvoicetest.WithWeComCorp("wwfakecorp01", "fake-corp-secret"))
	t.Cleanup(srv.Close)
	require.Equal(t, "wwfakecorp01", srv.CorpID)
	srv.AddWeComUser("lisi", "o-lisi")
	wc := weComClient(t, srv)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			openid, err := wc.ConvertToOpenID(bg, "lisi")
			require.NoError(t, err)
			require.Equal(t, "o-lisi", openid)
		}()
	}
	wg.Wait()
	require.Equal(t, 1, srv.Calls("/cgi-bin/gettoken"))

	srv.RevokeTokens()
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := wc.ConvertToOpenID(bg, "lisi")
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, 2, srv.Calls("/cgi-bin/gettoken"), "one refetch after the revocation")

	_, err := wc.ConvertToOpenID(bg, "nobody")
	require.ErrorIs(t, err, wxinvoice.ErrUserIDNotFound)

	// An Official Account token is no corp token, and the other way round.
	oa, err := wxinvoice.NewWeCom(srv.CorpID, "", wxinvoice.WithBaseURL(srv.URL),
		wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(srv.IssueToken())), wxinvoice.WithRetryPolicy(wxinvoice.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	_, err = oa.ConvertToOpenID(bg, "lisi")
	require.ErrorIs(t, err, wxinvoice.ErrInvalidAccessToken)
	corpTok, err := wc.AccessToken(bg)
	require.NoError(t, err)
	app, err := wxinvoice.New(srv.AppID, "", wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(corpTok)))
	require.NoError(t, err)
	_, err = app.DecryptCode(bg, "x")
	require.ErrorIs(t, err, wxinvoice.ErrInvalidAccessToken)

	// Wrong credentials.
	bad, err := wxinvoice.NewWeCom(srv.CorpID, "wrong", wxinvoice.WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, err = bad.AccessToken(bg)
	require.ErrorIs(t, err, wxinvoice.ErrInvalidCredential)
	require.NotContains(t, err.Error(), "wrong")
	other, err := wxinvoice.NewWeCom("wwother", srv.CorpSecret, wxinvoice.WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, err = other.AccessToken(bg)
	require.ErrorIs(t, err, wxinvoice.ErrInvalidCorpID)
}

// A Mini Program's expense flow: wx.chooseInvoice hands the page an
// invoiceInfo string; the page posts it to the server, which parses it and
// reads the invoices with the Mini Program's own appid and secret (the
// Official Account reimburser calls), then locks them while the claim is
// processed.
func ExampleParseChooseInvoiceResult() {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	invoiceInfo := exampleChosenInvoices(srv) // what wx.chooseInvoice returned to the Mini Program

	refs, err := wxinvoice.ParseChooseInvoiceResult(invoiceInfo)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The server side: the Mini Program's own appid and secret.
	mp, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	one, _ := mp.GetInvoiceInfo(ctx, &refs[0])
	fmt.Println(len(refs), "invoices chosen; first:", one.Payee, one.Invoice.Fee, one.Invoice.Status)
	batch, _ := mp.GetInvoiceBatch(ctx, &wxinvoice.GetInvoiceBatchRequest{Invoices: refs})
	for _, inv := range batch.Invoices {
		fmt.Println(inv.Invoice.BillingNo, inv.Invoice.Title)
	}
	err = mp.UpdateStatusBatch(ctx, &wxinvoice.UpdateStatusBatchRequest{OpenID: batch.Invoices[0].OpenID, Status: wxinvoice.ReimburseLock, Invoices: refs})
	fmt.Println("locked:", err == nil)

	_, err = wxinvoice.ParseChooseInvoiceResult(`[{"card_id":"pjZ8Yt","encrypt_code":"x"},{"card_id":"pjZ8Yt"}]`)
	fmt.Println(err)
	// Output:
	// 2 invoices chosen; first: 示例科技有限公司 1100 INVOICE_REIMBURSE_INIT
	// 0001 某某公司
	// 0002 某某公司
	// locked: true
	// wxinvoice: invalid invoiceInfo[1].encrypt_code: missing
}

// exampleChosenInvoices inserts two invoices for one user as the platform
// and returns the invoiceInfo wx.chooseInvoice gives when the user picks them.
func exampleChosenInvoices(srv *wxinvoicetest.Server) string {
	ctx := context.Background()
	platform, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	card, _ := platform.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	pdf, _ := platform.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	info := "["
	for i, no := range []string{"0001", "0002"} {
		order := "mp-order-" + no
		srv.AuthorizeOrder(order, "o-mini-program-user")
		inv, _ := platform.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: order, CardID: card.CardID, AppID: srv.AppID,
			Invoice: wxinvoice.InvoiceData{Fee: 1100, Title: "某某公司", BillingTime: srv.Now(), BillingNo: no, PDFMediaID: pdf.SMediaID}})
		if i > 0 {
			info += ","
		}
		info += fmt.Sprintf(`{"card_id":%q,"encrypt_code":%q,"app_id":%q}`, card.CardID, srv.EncryptCode(card.CardID, inv.Code), srv.AppID)
	}
	return info + "]"
}

// A WeCom application reimburses an invoice an employee shared: it reads
// it, locks it while the claim is processed, and closes it (核销) in a batch
// by the employee's openid once paid.
func ExampleNewWeCom() {
	srv := wxinvoicetest.NewServer(wxinvoicetest.WithWeComCorp("ww0123456789abcdef", "the-application-secret"))
	defer srv.Close()
	ctx := context.Background()
	ref := exampleInvoiceOf(srv, "o-employee-zhangsan")
	srv.AddWeComUser("zhangsan", "o-employee-zhangsan")

	wc, err := wxinvoice.NewWeCom("ww0123456789abcdef", "the-application-secret", wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	inv, _ := wc.GetInvoiceInfo(ctx, &ref)
	fmt.Println(inv.Payee, inv.Invoice.Fee, inv.Invoice.Status)
	err = wc.UpdateInvoiceStatus(ctx, &wxinvoice.UpdateInvoiceStatusRequest{CardID: ref.CardID, EncryptCode: ref.EncryptCode, Status: wxinvoice.ReimburseLock})
	fmt.Println("locked:", err == nil)

	openid, _ := wc.ConvertToOpenID(ctx, "zhangsan")
	err = wc.UpdateStatusBatch(ctx, &wxinvoice.UpdateStatusBatchRequest{OpenID: openid, Status: wxinvoice.ReimburseClosure, Invoices: []wxinvoice.InvoiceRef{ref}})
	fmt.Println("closed:", err == nil)

	_, err = wc.ConvertToOpenID(ctx, "nobody")
	fmt.Println(errors.Is(err, wxinvoice.ErrUserIDNotFound))
	// Output:
	// 示例科技有限公司 1100 INVOICE_REIMBURSE_INIT
	// locked: true
	// closed: true
	// true
}

// exampleInvoiceOf inserts an invoice for openid as the platform and
// returns the reference the user shares.
func exampleInvoiceOf(srv *wxinvoicetest.Server, openid string) wxinvoice.InvoiceRef {
	ctx := context.Background()
	platform, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	card, _ := platform.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "示例科技有限公司", Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "示例科技"}})
	pdf, _ := platform.UploadPDF(ctx, "inv.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
	srv.AuthorizeOrder("order-"+openid, openid)
	inv, _ := platform.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: "order-" + openid, CardID: card.CardID, AppID: srv.AppID,
		Invoice: wxinvoice.InvoiceData{Fee: 1100, Title: "某某公司", BillingTime: srv.Now(), BillingNo: "0001", PDFMediaID: pdf.SMediaID}})
	return wxinvoice.InvoiceRef{CardID: card.CardID, EncryptCode: srv.EncryptCode(card.CardID, inv.Code)}
}
