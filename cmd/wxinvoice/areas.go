package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/wxinvoice/wxinvoice"
)

// The merchant, reimburser, title and fiscal e-bill areas: each command is an endpoint over one
// SDK method, adapted by viaMethod (request → result), viaAction (request →
// error; the request is printed back as confirmation) or viaGetter (no
// request → result).

// viaMethod adapts a method expression such as (*wxinvoice.Client).GetAuthURL.
func viaMethod[Req, Resp any](m func(*wxinvoice.Client, context.Context, *Req) (Resp, error)) func(context.Context, *app, *wxinvoice.Client, *Req) (Resp, error) {
	return func(ctx context.Context, _ *app, c *wxinvoice.Client, req *Req) (Resp, error) { return m(c, ctx, req) }
}

// viaAction adapts a method that returns only an error: on success the
// request is the result.
func viaAction[Req any](m func(*wxinvoice.Client, context.Context, *Req) error) func(context.Context, *app, *wxinvoice.Client, *Req) (*Req, error) {
	return func(ctx context.Context, _ *app, c *wxinvoice.Client, req *Req) (*Req, error) {
		if err := m(c, ctx, req); err != nil {
			return nil, err
		}
		return req, nil
	}
}

// viaGetter adapts a method without a request.
func viaGetter[Resp any](m func(*wxinvoice.Client, context.Context) (Resp, error)) func(context.Context, *app, *wxinvoice.Client, *struct{}) (Resp, error) {
	return func(ctx context.Context, _ *app, c *wxinvoice.Client, _ *struct{}) (Resp, error) { return m(c, ctx) }
}

// urlResult is the result of the methods that return a bare link.
type urlResult struct{ URL string }

// viaURL adapts a method returning a link.
func viaURL[Req any](m func(*wxinvoice.Client, context.Context, *Req) (string, error)) func(context.Context, *app, *wxinvoice.Client, *Req) (*urlResult, error) {
	return func(ctx context.Context, _ *app, c *wxinvoice.Client, req *Req) (*urlResult, error) {
		u, err := m(c, ctx, req)
		if err != nil {
			return nil, err
		}
		return &urlResult{URL: u}, nil
	}
}

// scanInput is the request of `scantitle`.
type scanInput struct{ ScanText string }

func withGroup(group string, cmds ...*cobra.Command) []*cobra.Command {
	for _, c := range cmds {
		c.GroupID = group
	}
	return cmds
}

var (
	flagSPAppID = flagField{name: "s-pappid", path: "SPAppID", usage: "the invoicing platform's s_pappid (wxinvoice seturl)"}
	flagOrderID = flagField{name: "order-id", path: "OrderID", usage: "the order_id"}
)

// areaCmds returns the merchant, reimburser, title and fiscal e-bill
// commands, grouped in the help.
func (a *app) areaCmds() []*cobra.Command {
	var out []*cobra.Command
	out = append(out, withGroup("merchant",
		endpointCmd(a, endpoint[wxinvoice.GetAuthURLRequest, *wxinvoice.GetAuthURLResponse]{
			use:   "getauthurl",
			short: "Get the authorization page of an order (获取授权页链接)",
			flags: []flagField{flagSPAppID, flagOrderID,
				{name: "money", path: "Money", usage: "order amount in fen"},
				{name: "source", path: "Source", usage: "app, web, wxa or wap"}},
			call: viaMethod((*wxinvoice.Client).GetAuthURL),
		}),
		endpointCmd(a, endpoint[wxinvoice.GetAuthDataRequest, *wxinvoice.GetAuthDataResponse]{
			use:   "getauthdata",
			short: "Check whether the user authorized an order, and what they filled in (查询授权完成状态)",
			flags: []flagField{flagSPAppID, flagOrderID},
			call:  viaMethod((*wxinvoice.Client).GetAuthData),
		}),
		endpointCmd(a, endpoint[wxinvoice.RejectInsertRequest, *wxinvoice.RejectInsertRequest]{
			use:   "rejectinsert",
			short: "Refuse to invoice an authorized order, telling the user why (拒绝开票)",
			flags: []flagField{flagSPAppID, flagOrderID,
				{name: "reason", path: "Reason", usage: "the reason shown to the user"},
				{name: "url", path: "URL", usage: "optional link shown with the notice"}},
			call: viaAction((*wxinvoice.Client).RejectInsert),
		}),
		endpointCmd(a, endpoint[wxinvoice.AuthField, *wxinvoice.AuthField]{
			use:   "setauthfield",
			short: "Set the fields users fill in on the authorization page (设置授权页字段信息)",
			call:  viaAction((*wxinvoice.Client).SetAuthField),
		}),
		endpointCmd(a, endpoint[struct{}, *wxinvoice.AuthField]{
			use: "getauthfield", short: "Show the authorization page's fields (查询授权页字段信息)", noInput: true,
			call: viaGetter((*wxinvoice.Client).GetAuthField),
		}),
		endpointCmd(a, endpoint[wxinvoice.PayMchInfo, *wxinvoice.PayMchInfo]{
			use:   "setpaymch",
			short: "Link a WeChat Pay merchant id to the invoicing platform (关联商户号与开票平台)",
			flags: []flagField{{name: "mchid", path: "MchID", usage: "微信支付商户号"}, flagSPAppID},
			call:  viaAction((*wxinvoice.Client).SetPayMch),
		}),
		endpointCmd(a, endpoint[struct{}, *wxinvoice.PayMchInfo]{
			use: "getpaymch", short: "Show the linked WeChat Pay merchant id (查询商户号与开票平台关联情况)", noInput: true,
			call: viaGetter((*wxinvoice.Client).GetPayMch),
		}),
		endpointCmd(a, endpoint[wxinvoice.Contact, *wxinvoice.Contact]{
			use:   "setcontact",
			short: "Set the merchant's invoicing contact (设置商户联系方式)",
			flags: []flagField{{name: "phone", path: "Phone", usage: "联系电话"}, {name: "time-out", path: "Timeout", usage: "开票超时时间 (time_out), seconds (--timeout is the per-call timeout of every command)"}},
			call:  viaAction((*wxinvoice.Client).SetContact),
		}),
		endpointCmd(a, endpoint[struct{}, *wxinvoice.Contact]{
			use: "getcontact", short: "Show the merchant's invoicing contact (查询商户联系方式)", noInput: true,
			call: viaGetter((*wxinvoice.Client).GetContact),
		}),
		endpointCmd(a, endpoint[wxinvoice.MakeOutInvoiceRequest, *wxinvoice.MakeOutInvoiceRequest]{
			use:   "makeoutinvoice",
			short: "Issue an invoice through WeChat's unified issuing (统一开票接口-开具蓝票)",
			long:  "Calls POST /card/invoice/makeoutinvoice with a MakeOutInvoiceRequest from -f (see --example). Amounts are yuan strings.",
			call:  viaAction((*wxinvoice.Client).MakeOutInvoice),
		}),
		endpointCmd(a, endpoint[wxinvoice.ClearOutInvoiceRequest, *wxinvoice.ClearOutInvoiceRequest]{
			use:   "clearoutinvoice",
			short: "Void an invoice by issuing its red invoice (统一开票接口-发票冲红)",
			call:  viaAction((*wxinvoice.Client).ClearOutInvoice),
		}),
		endpointCmd(a, endpoint[wxinvoice.QueryInvoiceInfoRequest, *wxinvoice.QueryInvoiceInfoResponse]{
			use:   "queryinvoiceinfo",
			short: "Query an invoice issued through unified issuing (统一开票接口-查询已开发票)",
			flags: []flagField{{name: "fpqqlsh", path: "Fpqqlsh", usage: "发票请求流水号"}, {name: "nsrsbh", path: "Nsrsbh", usage: "纳税人识别号"}},
			call:  viaMethod((*wxinvoice.Client).QueryInvoiceInfo),
		}),
	)...)

	out = append(out, withGroup("reimburse",
		endpointCmd(a, endpoint[wxinvoice.InvoiceRef, *wxinvoice.ReimburseInvoice]{
			use:   "getinvoiceinfo",
			short: "Show one invoice as a reimburser sees it (查询报销发票信息)",
			flags: []flagField{{name: "card-id", path: "CardID", usage: "the invoice's card_id"},
				{name: "encrypt-code", path: "EncryptCode", usage: "the invoice's encrypt_code"}},
			call: viaMethod((*wxinvoice.Client).GetInvoiceInfo),
		}),
		endpointCmd(a, endpoint[wxinvoice.GetInvoiceBatchRequest, *wxinvoice.GetInvoiceBatchResponse]{
			use:   "getinvoicebatch",
			short: "Show several invoices as a reimburser sees them (批量查询报销发票信息)",
			call:  viaMethod((*wxinvoice.Client).GetInvoiceBatch),
		}),
		endpointCmd(a, endpoint[wxinvoice.UpdateInvoiceStatusRequest, *wxinvoice.UpdateInvoiceStatusRequest]{
			use:   "updateinvoicestatus",
			short: "Lock, unlock or close an invoice as a reimburser (报销方更新发票状态)",
			flags: []flagField{{name: "card-id", path: "CardID", usage: "the invoice's card_id"},
				{name: "encrypt-code", path: "EncryptCode", usage: "the invoice's encrypt_code"},
				{name: "set", path: "Status", usage: "lock, init (unlock) or closure", parse: parseStatus}},
			call: viaAction((*wxinvoice.Client).UpdateInvoiceStatus),
		}),
		endpointCmd(a, endpoint[wxinvoice.UpdateStatusBatchRequest, *wxinvoice.UpdateStatusBatchRequest]{
			use:   "updatestatusbatch",
			short: "Lock, unlock or close several invoices of one user, all or nothing (报销方批量更新发票状态)",
			flags: []flagField{{name: "openid", path: "OpenID", usage: "the user the invoices belong to"},
				{name: "set", path: "Status", usage: "lock, init (unlock) or closure", parse: parseStatus}},
			call: viaAction((*wxinvoice.Client).UpdateStatusBatch),
		}),
	)...)

	out = append(out, withGroup("title",
		endpointCmd(a, endpoint[wxinvoice.GetUserTitleURLRequest, *urlResult]{
			use:   "getusertitleurl",
			short: "Get a link that adds an invoice title to the user's WeChat (获取添加抬头链接)",
			flags: []flagField{{name: "title", path: "Title", usage: "抬头"}, {name: "tax-no", path: "TaxNo", usage: "税号"}},
			call:  viaURL((*wxinvoice.Client).GetUserTitleURL),
		}),
		endpointCmd(a, endpoint[wxinvoice.GetSelectTitleURLRequest, *urlResult]{
			use:   "getselecttitleurl",
			short: "Get the merchant's title-selection link (获取商户专属二维码)",
			flags: []flagField{{name: "biz-name", path: "BizName", usage: "商户名称"}, {name: "attach", path: "Attach", usage: "comes back in the submit_invoice_title push"}},
			call:  viaURL((*wxinvoice.Client).GetSelectTitleURL),
		}),
		endpointCmd(a, endpoint[scanInput, *wxinvoice.UserTitle]{
			use:   "scantitle [SCAN_TEXT]",
			short: "Read the title behind a user's title QR code (扫描二维码获取抬头)",
			args:  []string{"ScanText"},
			call: func(ctx context.Context, _ *app, c *wxinvoice.Client, req *scanInput) (*wxinvoice.UserTitle, error) {
				return c.ScanTitle(ctx, req.ScanText)
			},
		}),
	)...)

	out = append(out, withGroup("nontax",
		endpointCmd(a, endpoint[wxinvoice.GetBillAuthURLRequest, *wxinvoice.GetBillAuthURLResponse]{
			use:   "getbillauthurl",
			short: "Get the authorization page of a fiscal e-bill order (获取授权页链接)",
			flags: []flagField{{name: "s-pappid", path: "SPAppID", usage: "the fiscal bureau's s_pappid"}, flagOrderID,
				{name: "money", path: "Money", usage: "amount in fen"}, {name: "source", path: "Source", usage: "app, web, wxa or wap"}},
			call: viaMethod((*wxinvoice.Client).GetBillAuthURL),
		}),
		endpointCmd(a, endpoint[wxinvoice.CreateBillCardRequest, *wxinvoice.CreateBillCardResponse]{
			use:   "createbillcard",
			short: "Create a fiscal e-bill card template (创建财政电子票据接口)",
			flags: []flagField{{name: "payee", path: "Payee", usage: "收款方"}, {name: "logo-url", path: "LogoURL", usage: "logo URL (a permanent material URL)"}},
			call:  viaMethod((*wxinvoice.Client).CreateBillCard),
		}),
		a.insertbillCmd(),
	)...)
	return out
}
