package wxinvoice

import (
	"context"
	"net/http"

	"github.com/wxinvoice/wxinvoice/internal/pushtest"
)

// The push builders of package wxinvoicetest, for this package's internal
// tests (which cannot import wxinvoicetest): the same implementation, under
// the names the tests use.

type PushConfig = pushtest.Config

func NewPushRequest(ctx context.Context, url string, cfg PushConfig, eventXML []byte) (*http.Request, error) {
	return pushtest.NewRequest(ctx, url, cfg, eventXML)
}

func NewVerifyRequest(ctx context.Context, url string, cfg PushConfig, echostr string) (*http.Request, error) {
	return pushtest.NewVerifyRequest(ctx, url, cfg, echostr)
}

func InvoiceStatusEventXML(ev *InvoiceStatusEvent) []byte {
	return pushtest.InvoiceStatus(ev.ToUserName, ev.FromUserName, ev.CreateTime, string(ev.Status), ev.CardID, ev.Code)
}

func UserAuthorizeInvoiceEventXML(ev *UserAuthorizeInvoiceEvent) []byte {
	return pushtest.UserAuthorizeInvoice(ev.ToUserName, ev.FromUserName, ev.CreateTime, ev.SuccOrderID, ev.FailOrderID,
		ev.AppID, ev.Source)
}

func SubmitInvoiceTitleEventXML(ev *SubmitInvoiceTitleEvent) []byte {
	return pushtest.SubmitInvoiceTitle(ev.ToUserName, ev.FromUserName, ev.CreateTime,
		[8]string{ev.Title, ev.TaxNo, ev.Addr, ev.Phone, ev.BankType, ev.BankNo, ev.Attach, ev.TitleType})
}

func CloudInvoiceResultEventXML(ev *CloudInvoiceResultEvent) []byte {
	return pushtest.CloudInvoiceResult(ev.ToUserName, ev.FromUserName, ev.CreateTime, ev.Fpqqlsh, ev.Status, ev.Nsrsbh)
}
