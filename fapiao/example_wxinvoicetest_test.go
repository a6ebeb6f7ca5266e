package fapiao_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"

	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// exampleSetup starts a wxinvoicetest server, registers the merchant with
// its test key and returns a client for it. Tests of an application do the
// same.
func exampleSetup() (*wxinvoicetest.Server, *wxinvoicetest.FapiaoFake, *fapiao.Client) {
	merchantKey, err := fapiao.LoadPrivateKeyFile(filepath.Join("testdata", "test_private_key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	srv := wxinvoicetest.NewServer()
	fp := srv.Fapiao()
	if err := fp.RegisterMerchant(wxinvoicetest.FapiaoMerchant{MchID: "1900000001", CertSerialNo: "D7CE59D1F522D701",
		PublicKey: &merchantKey.PublicKey, APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"}); err != nil {
		log.Fatal(err)
	}
	keyID, wechatPayKey := fp.PublicKey()
	client, err := fapiao.New("1900000001",
		fapiao.WithMerchantKey("D7CE59D1F522D701", merchantKey),
		fapiao.WithWechatPayPublicKey(keyID, wechatPayKey),
		fapiao.WithBaseURL(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	return srv, fp, client
}

// exampleApply has the user apply for an invoice on a paid order; it
// returns the order number (the fapiao_apply_id).
func exampleApply(fp *wxinvoicetest.FapiaoFake) string {
	txn, err := fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: "1900000001", Amount: 4299,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	if err != nil {
		log.Fatal(err)
	}
	return txn
}

// exampleIssue has the user apply for an invoice on a paid order (unless
// txn names one) and issues it; it returns the order number.
func exampleIssue(ctx context.Context, fp *wxinvoicetest.FapiaoFake, client *fapiao.Client, txn ...string) string {
	if len(txn) == 0 {
		txn = []string{exampleApply(fp)}
	}
	if _, err := client.CreateCardTemplate(ctx, &fapiao.CreateCardTemplateRequest{CardAppID: "wxb1170446a4c0a5a2",
		CardTemplateInformation: fapiao.CardTemplateInformation{LogoURL: "https://mmbiz.qpic.cn/logo"}}); err != nil {
		log.Fatal(err)
	}
	title, err := client.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn[0]})
	if err != nil {
		log.Fatal(err)
	}
	rate := int64(600)
	if _, err := client.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn[0],
		BuyerInformation: *title, FapiaoInformation: []fapiao.IssueFapiaoDetail{{FapiaoID: "FP0001", TotalAmount: 4299,
			Items: []fapiao.IssueItem{{TaxCode: "3070401000000000000", GoodsName: "餐饮服务", Quantity: 100000000,
				TotalAmount: 4299, TaxRate: &rate}}}}}); err != nil {
		log.Fatal(err)
	}
	return txn[0]
}

// A user applies for an invoice after paying; the merchant fetches the title
// and issues it, then queries the result. The fake WeChat Pay of
// wxinvoicetest verifies every signature and signs every answer.
func ExampleClient_Issue() {
	ctx := context.Background()
	srv, fp, client := exampleSetup()
	defer srv.Close()

	txn := exampleIssue(ctx, fp, client)
	app, err := client.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})
	if err != nil {
		log.Fatal(err)
	}
	inv := app.FapiaoInformation[0]
	fmt.Println(inv.FapiaoID, inv.Status, inv.CardInformation.CardStatus)
	fmt.Println("total", inv.TotalAmount, "= amount", inv.Amount, "+ tax", inv.TaxAmount)
	fmt.Println("buyer", inv.BuyerInformation.Name)
	// Output:
	// FP0001 ISSUED INSERTED
	// total 4299 = amount 4056 + tax 243
	// buyer 张三
}

// Download streams an issued invoice's file and checks its SM3-Digest.
func ExampleClient_Download() {
	ctx := context.Background()
	srv, fp, client := exampleSetup()
	defer srv.Close()
	txn := exampleIssue(ctx, fp, client)

	app, err := client.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})
	if err != nil {
		log.Fatal(err)
	}
	inv := app.FapiaoInformation[0]
	info, err := client.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{FapiaoApplyID: txn, FapiaoID: inv.FapiaoID})
	if err != nil {
		log.Fatal(err)
	}
	var file bytes.Buffer
	dl, err := client.Download(ctx, &fapiao.DownloadRequest{DownloadURL: info.FapiaoDownloadInfoList[0].DownloadURL,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode,
		InvoiceNo: inv.BlueFapiao.FapiaoNumber, FapiaoID: inv.FapiaoID}, &file)
	if err != nil {
		log.Fatal(err) // on a digest mismatch: do not trust what was written
	}
	fmt.Println(dl.FileName, dl.Size == int64(file.Len()), strings.EqualFold(dl.SM3Digest, fapiao.SM3Hex(file.Bytes())))
	// Output: FP0001.pdf true true
}

// UploadFile uploads an invoice issued by the merchant's own tax system
// (SM3 digest in the signed meta part); InsertCards then puts it into the
// user's card pack.
func ExampleClient_UploadFile() {
	ctx := context.Background()
	srv, fp, client := exampleSetup()
	defer srv.Close()

	pdf := []byte("%PDF-1.4\n%%EOF\n")
	up, err := client.UploadFile(ctx, &fapiao.UploadFileRequest{FileType: "PDF", File: bytes.NewReader(pdf)})
	if err != nil {
		log.Fatal(err)
	}
	held, _ := fp.Media(up.FapiaoMediaID)
	fmt.Println(up.FapiaoMediaID != "", bytes.Equal(held, pdf))
	// Output: true true
}

// A NotifyHandler at the callback_url receives the fake's encrypted, signed
// FAPIAO.* callbacks.
func ExampleNotifyHandler() {
	ctx := context.Background()
	srv, fp, client := exampleSetup()
	defer srv.Close()

	keyID, wechatPayKey := fp.PublicKey()
	handler, err := fapiao.NewNotifyHandler(fapiao.NotifyConfig{
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", WechatPayPublicKeyID: keyID, WechatPayPublicKey: wechatPayKey,
		OnUserApplied: func(_ context.Context, ev *fapiao.UserAppliedEvent) error {
			fmt.Println(ev.Notification.EventType, "from", ev.MchID)
			return nil
		},
		OnIssued: func(_ context.Context, ev *fapiao.FapiaoEvent) error {
			f := ev.FapiaoInformation[0]
			fmt.Println(ev.Notification.EventType, f.FapiaoID, f.FapiaoStatus, f.CardStatus)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	notify := httptest.NewServer(handler)
	defer notify.Close()
	if _, err := client.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{CallbackURL: notify.URL}); err != nil {
		log.Fatal(err)
	}

	txn := exampleApply(fp)
	fp.WaitCallbacks() // USER_APPLIED handled
	exampleIssue(ctx, fp, client, txn)
	fp.WaitCallbacks() // ISSUED handled
	// Output:
	// FAPIAO.USER_APPLIED from 1900000001
	// FAPIAO.ISSUED FP0001 ISSUED INSERTED
}
