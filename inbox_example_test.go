package wxinvoice_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// The handler appends each push to the inbox and answers WeChat at once; a
// worker delivers it to the callback, retrying it until it succeeds. Use
// redisstore's inbox in production: the memory inbox is not durable.
func ExampleNewInboxWorker() {
	inbox := wxinvoice.NewMemoryInbox(0)
	handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: "token", Inbox: inbox})
	if err != nil {
		panic(err)
	}
	answered, done := make(chan struct{}), make(chan struct{})
	calls := 0
	worker, err := wxinvoice.NewInboxWorker(inbox, wxinvoice.WorkerConfig{
		OnInvoiceStatus: func(ctx context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			<-answered // for the example's output order only
			calls++
			if calls == 1 {
				return fmt.Errorf("ERP unavailable") // retried after Backoff
			}
			env, _ := wxinvoice.EnvelopeFromContext(ctx)
			fmt.Println("callback:", ev.Code, ev.Status, "attempt", env.Attempts)
			close(done)
			return nil
		},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = worker.Run(ctx); close(stopped) }()

	ev := &wxinvoice.InvoiceStatusEvent{ToUserName: "gh_1", FromUserName: "openid", CreateTime: time.Now(),
		Status: wxinvoice.ReimburseLock, CardID: "card", Code: "code-1"}
	req, err := wxinvoicetest.NewPushRequest(ctx, "http://localhost/wechat/events",
		wxinvoicetest.PushConfig{Token: "token"}, wxinvoicetest.InvoiceStatusEventXML(ev))
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("WeChat got:", rec.Code, rec.Body.String())
	close(answered)

	<-done
	cancel()
	<-stopped
	// Output:
	// WeChat got: 200 success
	// callback: code-1 INVOICE_REIMBURSE_LOCK attempt 2
}
