// Command fapiao runs the whole WeChat Pay e-invoice (微信支付电子发票,
// APIv3) lifecycle with package fapiao:
//
//	development config with a callback_url → card template → the user pays
//	and applies (FAPIAO.USER_APPLIED) → fetch the title → issue →
//	FAPIAO.ISSUED → query → download with the SM3 check → reverse →
//	FAPIAO.REVERSED
//
// It runs against the fake WeChat Pay built into wxinvoicetest and needs no
// credentials: it generates a merchant key and an APIv3 key, registers them
// with the fake, and receives the callbacks with a fapiao.NotifyHandler.
//
//	go run ./examples/fapiao
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fapiao:", err)
		var apiErr *fapiao.APIError
		if errors.As(err, &apiErr) {
			fmt.Fprintf(os.Stderr, "WeChat Pay answered HTTP %d %s: %s\n", apiErr.StatusCode, apiErr.Code, apiErr.Message)
		}
		os.Exit(1)
	}
}

const (
	mchID     = "1900000001"
	cardAppID = "wxb1170446a4c0a5a2"
)

// callbacks carries what the NotifyHandler received to the main flow.
type callbacks struct {
	applied  chan *fapiao.UserAppliedEvent
	issued   chan *fapiao.FapiaoEvent
	reversed chan *fapiao.FapiaoEvent
}

func wait[T any](ctx context.Context, ch <-chan T, what string) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("no %s callback: %w", what, ctx.Err())
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	step := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// The merchant's credentials: an API key pair with its certificate
	// serial, and the APIv3 key that encrypts callbacks. A real merchant
	// loads them with fapiao.LoadPrivateKeyFile and friends.
	merchantKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	serial := strings.ToUpper(hex.EncodeToString(randomBytes(20)))
	apiV3Key := hex.EncodeToString(randomBytes(16)) // 32 characters

	// The fake WeChat Pay: it verifies the merchant's signatures and signs
	// its answers and callbacks with its own key, exposed with its ID.
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	fp := srv.Fapiao()
	if err := fp.RegisterMerchant(wxinvoicetest.FapiaoMerchant{MchID: mchID, CertSerialNo: serial,
		PublicKey: &merchantKey.PublicKey, APIv3Key: apiV3Key}); err != nil {
		return err
	}
	keyID, wechatPayKey := fp.PublicKey()
	step("WeChat Pay: the built-in fake at %s (WeChat Pay public key %s)", srv.URL, keyID)

	// The callback_url: a NotifyHandler verifies, decrypts and dispatches.
	cb := callbacks{applied: make(chan *fapiao.UserAppliedEvent, 4), issued: make(chan *fapiao.FapiaoEvent, 4),
		reversed: make(chan *fapiao.FapiaoEvent, 4)}
	handler, err := fapiao.NewNotifyHandler(fapiao.NotifyConfig{
		APIv3Key: apiV3Key, WechatPayPublicKeyID: keyID, WechatPayPublicKey: wechatPayKey,
		OnUserApplied: func(_ context.Context, ev *fapiao.UserAppliedEvent) error { cb.applied <- ev; return nil },
		OnIssued:      func(_ context.Context, ev *fapiao.FapiaoEvent) error { cb.issued <- ev; return nil },
		OnReversed:    func(_ context.Context, ev *fapiao.FapiaoEvent) error { cb.reversed <- ev; return nil },
	})
	if err != nil {
		return err
	}
	notify := httptest.NewServer(handler)
	defer notify.Close()

	client, err := fapiao.New(mchID,
		fapiao.WithMerchantKey(serial, merchantKey),
		fapiao.WithWechatPayPublicKey(keyID, wechatPayKey),
		fapiao.WithBaseURL(srv.URL))
	if err != nil {
		return err
	}

	// 1. Development configuration (E02): where callbacks go.
	show := true
	dev, err := client.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{
		CallbackURL: notify.URL + "/fapiao/notify", ShowFapiaoCell: &show})
	if err != nil {
		return err
	}
	step("1. development config: callback_url %s, show_fapiao_cell %v", dev.CallbackURL, dev.ShowFapiaoCell)

	// 2. Card template (E01): how invoices look in the user's card pack.
	tpl, err := client.CreateCardTemplate(ctx, &fapiao.CreateCardTemplateRequest{CardAppID: cardAppID,
		CardTemplateInformation: fapiao.CardTemplateInformation{PayeeName: "某某餐厅", LogoURL: "https://mmbiz.qpic.cn/logo"}})
	if err != nil {
		return err
	}
	step("2. card template: card_id %s", tpl.CardID)

	// 3. The user pays 42.99 元 and taps 开发票 (the fake plays the user).
	txn, err := fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: mchID, Amount: 4299, OutTradeNo: "order-0001",
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "张三", Phone: "18507550000"}})
	if err != nil {
		return err
	}
	applied, err := wait(ctx, cb.applied, "FAPIAO.USER_APPLIED")
	if err != nil {
		return err
	}
	step("3. callback %s: the user applied for order %s", applied.Notification.EventType, applied.FapiaoApplyID)

	// 4. The title the user filled (E07); the phone arrives encrypted and
	// is decrypted with the merchant key.
	title, err := client.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn})
	if err != nil {
		return err
	}
	step("4. title: %s %s, amount %d 分, phone %s (decrypted: %d digits; a fapiao.Sensitive prints redacted)",
		title.Type, title.Name, title.Amount, title.Phone, len(title.Phone))

	// 5. Issue (E08): 202 Accepted, then FAPIAO.ISSUED.
	rate := int64(600)
	acc, err := client.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn,
		BuyerInformation: *title, FapiaoInformation: []fapiao.IssueFapiaoDetail{{FapiaoID: "FP0001", TotalAmount: 4299,
			Items: []fapiao.IssueItem{{TaxCode: "3070401000000000000", GoodsName: "餐饮服务", Quantity: 100000000,
				TotalAmount: 4299, TaxRate: &rate}}}}})
	if err != nil {
		return err
	}
	step("5. issue: HTTP %d", acc.StatusCode)
	issued, err := wait(ctx, cb.issued, "FAPIAO.ISSUED")
	if err != nil {
		return err
	}
	step("   callback %s: %s %s, card %s", issued.Notification.EventType, issued.FapiaoInformation[0].FapiaoID,
		issued.FapiaoInformation[0].FapiaoStatus, issued.FapiaoInformation[0].CardStatus)

	// 6. Query (E09).
	app, err := client.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})
	if err != nil {
		return err
	}
	inv := app.FapiaoInformation[0]
	if inv.BlueFapiao == nil || inv.CardInformation == nil {
		return fmt.Errorf("query: invoice %s has no numbers or card", inv.FapiaoID)
	}
	step("6. query: %s %s, number %s, %d = %d + tax %d 分", inv.FapiaoID, inv.Status, inv.BlueFapiao.FapiaoNumber,
		inv.TotalAmount, inv.Amount, inv.TaxAmount)

	// 7. Download (E10, E11): the file is streamed and its SM3-Digest checked.
	info, err := client.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{FapiaoApplyID: txn, FapiaoID: inv.FapiaoID})
	if err != nil {
		return err
	}
	var pdf bytes.Buffer
	dl, err := client.Download(ctx, &fapiao.DownloadRequest{DownloadURL: info.FapiaoDownloadInfoList[0].DownloadURL,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode,
		InvoiceNo: inv.BlueFapiao.FapiaoNumber, FapiaoID: inv.FapiaoID}, &pdf)
	if err != nil {
		return err
	}
	step("7. download: %s, %d bytes, SM3 %s… verified", dl.FileName, dl.Size, strings.ToLower(dl.SM3Digest)[:16])

	// 8. Reverse (E12): 202 Accepted, then FAPIAO.REVERSED.
	acc, err = client.Reverse(ctx, &fapiao.ReverseRequest{FapiaoApplyID: txn, ReverseReason: "退款",
		FapiaoInformation: []fapiao.ReverseFapiao{{FapiaoID: inv.FapiaoID, FapiaoCode: inv.BlueFapiao.FapiaoCode,
			FapiaoNumber: inv.BlueFapiao.FapiaoNumber}}})
	if err != nil {
		return err
	}
	step("8. reverse: HTTP %d", acc.StatusCode)
	reversed, err := wait(ctx, cb.reversed, "FAPIAO.REVERSED")
	if err != nil {
		return err
	}
	step("   callback %s: %s %s, card %s", reversed.Notification.EventType, reversed.FapiaoInformation[0].FapiaoID,
		reversed.FapiaoInformation[0].FapiaoStatus, reversed.FapiaoInformation[0].CardStatus)

	step("Done: %d requests signed and verified, %d callbacks received.", len(fp.Requests()), len(fp.Callbacks()))
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
