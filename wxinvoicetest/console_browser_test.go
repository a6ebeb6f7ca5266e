package wxinvoicetest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// chromiumPath returns the headless browser to drive. Without one the test
// skips, except under CI=true, where .ci/run installs it and its absence is
// a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found under CI=true (.ci/run installs the chromium package)")
	}
	t.Skip("no Chromium installed (apt-get install -y chromium); this test runs under CI")
	return ""
}

// TestConsoleInBrowser drives the console and the simulated user's page in
// a real headless Chromium: the console lists the order, its link opens the
// authorization page, pressing 授权 authorizes the order (so the insert,
// refused with 72038 before, goes through), and the invoice appears in the
// console's card pack. Everything is asserted from the DOM.
//
// WXINVOICE_CONSOLE_SCREENSHOT=path writes a screenshot of the console at
// the end (docs/sandbox-console.png is made this way).
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	browser := chromiumPath(t)
	rc := newReceiver(t)
	m := newMerchant(t, WithControlAPI(), WithAuthorizationRequired(), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	srv := m.srv
	m.authURL(t, "order-browser")
	insert := func() []byte {
		return post(t, srv, "/card/invoice/insert", m.tok, validInsert(srv, m.cardID, m.mediaID, "order-browser", "B-browser"))
	}
	requireCode(t, 72038, insert())

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1400))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(v)
	}

	// The console lists the order, not yet authorized, with a link to its page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?refresh=0")))
	orderRow := text(`#orders tr.order`)
	require.Contains(t, orderRow, "order-browser")
	require.Contains(t, orderRow, "never auth")
	require.Contains(t, text(`#no-invoices`), "No invoice")

	// The user opens the page, types an openid and presses 授权.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#orders tr.order a`)),
		chromedp.WaitVisible(chromedp.CSS(`#authorize`)),
	))
	require.Equal(t, "order-browser", text(`#order-id`))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#openid`), "o-chromium-user"),
		chromedp.Click(chromedp.CSS(`#authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`#message-text`)),
	))
	result := text(`#message-text`)
	require.Contains(t, result, "已授权")
	require.Contains(t, result, "o-chromium-user")

	// The platform inserts; the invoice appears in the console's card pack.
	ins := decodeOK[wire.InsertResponse](t, insert())
	require.Equal(t, "o-chromium-user", ins.OpenID)
	srv.WaitPushes()
	sel := `#card-pack .inv[data-code="` + ins.Code + `"]`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?refresh=0"),
		chromedp.WaitVisible(chromedp.CSS(sel)),
	))
	require.Equal(t, "北京测试有限公司", text(sel+` .inv-title`))
	require.Equal(t, "¥1.00", text(sel+` .amount`))
	require.Equal(t, "INVOICE_REIMBURSE_INIT", text(sel+` .status`))
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel+` a.pdf`), "href"))
	require.NoError(t, err)
	require.Equal(t, "/sandbox/pdf?s_media_id="+m.mediaID, href.Value)
	requests := text(`#requests`)
	require.Contains(t, requests, "72038")
	require.NotContains(t, requests, "favicon", "the browser's icon request is not a WeChat call")
	pushes := text(`#pushes`)
	require.Contains(t, pushes, "user_authorize_invoice")
	require.Contains(t, pushes, "HTTP 200")
	require.Contains(t, text(`#orders tr.order`), "auth success")

	if path := os.Getenv("WXINVOICE_CONSOLE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
	}
}
