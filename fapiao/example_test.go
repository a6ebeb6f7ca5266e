package fapiao_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/fapiao"
)

// Example walks the WeChat-Pay scene: the user filled a title for a paid
// order, the merchant fetches it (phone decrypted), issues the invoice
// (phone encrypted again, 202) and queries the application.
func Example() {
	fake := fapiao.NewExampleFake() // a signing stand-in for api.mch.weixin.qq.com
	defer fake.Close()
	// In production: fapiao.LoadPrivateKeyFile("apiclient_key.pem"),
	// fapiao.LoadPublicKeyFile("pub_key.pem") and the IDs from the merchant platform.
	c, err := fapiao.New("1900000001",
		fapiao.WithMerchantKey("D7CE59D1F522D701", fake.Key),
		fapiao.WithWechatPayPublicKey(fake.KeyID, fake.PubKey),
		fapiao.WithBaseURL(fake.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	const order = "4200000444201910177461284488"
	title, err := c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: order})
	if err != nil {
		panic(err)
	}
	fmt.Println("title:", title.Name, "phone:", title.Phone, "(decrypted, printed redacted)")

	_, err = c.Issue(ctx, &fapiao.IssueRequest{
		Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: order, BuyerInformation: *title,
		FapiaoInformation: []fapiao.IssueFapiaoDetail{{FapiaoID: "20200701123456", TotalAmount: 429900,
			Items: []fapiao.IssueItem{{TaxCode: "3010101020203000000", GoodsName: "出租汽车客运服务", Quantity: 100000000, TotalAmount: 429900}}}},
	})
	switch {
	case errors.Is(err, wxinvoice.ErrOutcomeUnknown):
		fmt.Println("unknown outcome: query before issuing again")
	case err != nil:
		panic(err)
	}
	app, err := c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: order})
	if err != nil {
		panic(err)
	}
	for _, f := range app.FapiaoInformation {
		fmt.Println(f.FapiaoID, f.Status, f.TotalAmount)
	}
	_, err = c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: "no-such-application"})
	fmt.Println(errors.Is(err, fapiao.ErrNotFound))
	// Output:
	// title: 张三 phone: [redacted] (decrypted, printed redacted)
	// 20200701123456 ISSUED 429900
	// true
}

// ExampleNewNotifyHandler verifies, decrypts and dispatches a FAPIAO.ISSUED
// callback; WeChat's retry of the same notification is acknowledged without
// running the callback again.
func ExampleNewNotifyHandler() {
	fake := fapiao.NewExampleFake()
	defer fake.Close()
	const apiV3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	h, err := fapiao.NewNotifyHandler(fapiao.NotifyConfig{
		APIv3Key:             apiV3Key,
		WechatPayPublicKeyID: fake.KeyID,
		WechatPayPublicKey:   fake.PubKey,
		OnIssued: func(ctx context.Context, ev *fapiao.FapiaoEvent) error {
			for _, f := range ev.FapiaoInformation {
				fmt.Println(ev.Notification.EventType, ev.FapiaoApplyID, f.FapiaoID, f.FapiaoStatus, f.CardStatus)
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	// http.Handle("/fapiao/notify", h) in a real server.
	issued := fapiao.FapiaoEvent{MchID: "1900000001", FapiaoApplyID: "4200000444201910177461284488",
		FapiaoInformation: []fapiao.FapiaoStatus{{FapiaoID: "20200701123456", FapiaoStatus: fapiao.StatusIssued, CardStatus: fapiao.CardInserted}}}
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fake.Callback(apiV3Key, "EV-2018022511223320873", fapiao.EventIssued, issued))
		fmt.Println("answer:", w.Code)
	}
	// A forged callback (signed under an unknown serial) is refused.
	w := httptest.NewRecorder()
	r := fake.Callback(apiV3Key, "EV-forged", fapiao.EventIssued, issued)
	r.Header.Set("Wechatpay-Serial", "PUB_KEY_ID_FORGED")
	h.ServeHTTP(w, r)
	fmt.Println("answer:", w.Code, w.Body.String())
	// Output:
	// FAPIAO.ISSUED 4200000444201910177461284488 20200701123456 ISSUED INSERTED
	// answer: 204
	// answer: 204
	// answer: 401 {"code":"FAIL","message":"失败"}
}
