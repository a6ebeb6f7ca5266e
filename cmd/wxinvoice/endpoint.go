package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wxinvoice/wxinvoice"
)

// flagField binds a flag to a field of the request (a dotted path of Go
// field names). The flag's text is converted like JSON input (integers,
// times), after parse when given.
type flagField struct {
	name, usage, path string
	parse             func(string) (any, error)
}

// endpoint describes a command that runs "JSON in → SDK method → JSON or
// table out": the request is read from -f (a file, or - for stdin), then
// flags and positional arguments fill fields, then call runs with a client
// and its result is printed. Every endpoint command is one of these.
type endpoint[Req, Resp any] struct {
	use, short, long, example string
	args                      []string // request fields filled by positional arguments, in order
	flags                     []flagField
	noInput                   bool                 // the method takes no request: no -f, no --example
	setup                     func(*pflag.FlagSet) // extra flags that are not request fields
	call                      func(ctx context.Context, a *app, c *wxinvoice.Client, req *Req) (Resp, error)
	// wecom, when set instead of call, runs the command with the WeCom
	// client (wecom.go); a method expression such as
	// (*wxinvoice.WeComClient).GetInvoiceInfo fits.
	wecom func(c *wxinvoice.WeComClient, ctx context.Context, req *Req) (Resp, error)
}

func endpointCmd[Req, Resp any](a *app, e endpoint[Req, Resp]) *cobra.Command {
	var (
		file        string
		showExample bool
		vals        = make([]string, len(e.flags))
	)
	cmd := &cobra.Command{
		Use:     e.use,
		Short:   e.short,
		Long:    e.long,
		Example: e.example,
		Args:    cobra.MaximumNArgs(len(e.args)),
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		req := new(Req)
		if showExample {
			return writeJSON(a.stdout, example(reflect.TypeOf(req).Elem()).Interface())
		}
		m := map[string]any{}
		if file != "" {
			data, err := a.readInput(file)
			if err != nil {
				return err
			}
			raw, err := parseInput(data)
			if err != nil {
				return err
			}
			norm, err := normalize(raw, reflect.TypeOf(req).Elem(), "")
			if err != nil {
				return &usageError{err}
			}
			m = norm.(map[string]any)
		}
		for i, f := range e.flags {
			if !cmd.Flags().Changed(f.name) {
				continue
			}
			var v any = vals[i]
			if f.parse != nil {
				var err error
				if v, err = f.parse(vals[i]); err != nil {
					return usagef("--%s: %v", f.name, err)
				}
			}
			setPath(m, f.path, v)
		}
		for i, arg := range args {
			setPath(m, e.args[i], arg)
		}
		if err := decodeInto(m, req); err != nil {
			return err
		}
		resp, err := runEndpoint(cmd.Context(), a, &e, req)
		if err != nil {
			return withFlagHint(err, e.flags, e.args)
		}
		return a.print(resp)
	})
	fs := cmd.Flags()
	if !e.noInput {
		fs.StringVarP(&file, "file", "f", "", "request as JSON: a file, or - for stdin (see --example)")
		fs.BoolVar(&showExample, "example", false, "print a skeleton of the JSON request and exit")
	}
	for i, f := range e.flags {
		fs.StringVar(&vals[i], f.name, "", f.usage)
	}
	if e.setup != nil {
		e.setup(fs)
	}
	return cmd
}

// runEndpoint builds the command's client (the WeCom one for a wecom
// command) and makes its call under --timeout.
func runEndpoint[Req, Resp any](ctx context.Context, a *app, e *endpoint[Req, Resp], req *Req) (Resp, error) {
	if e.wecom != nil {
		wc, err := a.getWeComClient()
		if err != nil {
			var zero Resp
			return zero, err
		}
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		return e.wecom(wc, ctx, req)
	}
	c, err := a.getClient()
	if err != nil {
		var zero Resp
		return zero, err
	}
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	return e.call(ctx, a, c, req)
}

// flagHint adds to a *wxinvoice.ValidationError the flag or argument that
// sets the field it names.
type flagHint struct {
	err  error
	hint string
}

func (h *flagHint) Error() string { return h.err.Error() + " (" + h.hint + ")" }
func (h *flagHint) Unwrap() error { return h.err }

func withFlagHint(err error, flags []flagField, args []string) error {
	var ve *wxinvoice.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, f := range flags {
		if foldKey(f.path) == foldKey(ve.Field) {
			return &flagHint{err, "set it with --" + f.name}
		}
	}
	for i, p := range args { // a Go name or a wire name (sub_mchid for SubMchID)
		if foldKey(p) == foldKey(ve.Field) {
			return &flagHint{err, fmt.Sprintf("give it as argument %d", i+1)}
		}
	}
	return err
}

// ---- the invoicing platform's commands ----

func (a *app) platformCmds() []*cobra.Command {
	return []*cobra.Command{
		a.seturlCmd(), a.createcardCmd(), a.uploadCmd(), a.getpdfCmd(), a.insertCmd(),
		a.statusCmd(), a.decryptCmd(),
	}
}

func (a *app) seturlCmd() *cobra.Command {
	return endpointCmd(a, endpoint[struct{}, *wxinvoice.SetURLResponse]{
		use:     "seturl",
		short:   "Get the platform's invoice_url and s_pappid (获取开票平台识别码)",
		long:    "Calls POST /card/invoice/seturl and prints the platform's invoice_url and the s_pappid in it.",
		noInput: true,
		call:    viaGetter((*wxinvoice.Client).SetURL),
	})
}

func (a *app) createcardCmd() *cobra.Command {
	return endpointCmd(a, endpoint[wxinvoice.CreateCardRequest, *wxinvoice.CreateCardResponse]{
		use:   "createcard",
		short: "Create an invoice card template for a payee (创建发票卡券模板)",
		long: `Calls POST /card/invoice/platform/createcard and prints the new card_id.
The request is a CreateCardRequest (-f, see --example); the flags set its required fields.`,
		example: `  wxinvoice createcard --payee 测试餐饮有限公司 --type 广东省增值税普通发票 \
    --logo-url http://mmbiz.qpic.cn/logo.png --title 测试餐饮`,
		flags: []flagField{
			{name: "payee", path: "Payee", usage: "收款方（开票方）全称"},
			{name: "type", path: "Type", usage: "发票类型, e.g. 广东省增值税普通发票"},
			{name: "logo-url", path: "BaseInfo.LogoURL", usage: "logo URL (a permanent material URL)"},
			{name: "title", path: "BaseInfo.Title", usage: "收款方名称 shown in the card (≤ 9 characters)"},
		},
		call: viaMethod((*wxinvoice.Client).CreateCard),
	})
}

func (a *app) insertCmd() *cobra.Command {
	return endpointCmd(a, endpoint[wxinvoice.InsertInvoiceRequest, *wxinvoice.InsertInvoiceResponse]{
		use:   "insert",
		short: "Insert an invoice into the user's card bag (将电子发票卡券插入用户卡包)",
		long: `Calls POST /card/invoice/insert with an InsertInvoiceRequest read from -f (see --example;
money in fen, BillingTime as RFC 3339, "2006-01-02 15:04:05" China time or Unix seconds)
and prints the invoice's code and the user's openid. Flags override fields of the file.

Insert is not idempotent: if the outcome is unknown (exit 5), check before retrying;
a duplicate answers errcode 72042.`,
		example: `  wxinvoice insert --example > invoice.json   # edit it
  wxinvoice insert -f invoice.json --pdf-media-id 3509813445312345`,
		flags: []flagField{
			{name: "order-id", path: "OrderID", usage: "the authorized order_id"},
			{name: "card-id", path: "CardID", usage: "the card template (createcard)"},
			{name: "pdf-media-id", path: "Invoice.PDFMediaID", usage: "s_media_id of the uploaded PDF (upload)"},
		},
		call: viaMethod((*wxinvoice.Client).InsertInvoice),
	})
}

func (a *app) insertbillCmd() *cobra.Command {
	return endpointCmd(a, endpoint[wxinvoice.InsertBillRequest, *wxinvoice.InsertBillResponse]{
		use:   "insertbill",
		short: "Insert a fiscal e-bill into the user's card bag (财政电子票据: 票据插入用户卡包)",
		long: `Calls POST /nontax/insertbill with an InsertBillRequest read from -f (see --example)
and prints the bill's code and the user's openid.`,
		example: `  wxinvoice insertbill -f bill.json`,
		flags: []flagField{
			{name: "order-id", path: "OrderID", usage: "the authorized order_id"},
			{name: "card-id", path: "CardID", usage: "the bill card template"},
			{name: "pdf-media-id", path: "Bill.PDFMediaID", usage: "s_media_id of the uploaded PDF (upload)"},
		},
		call: viaMethod((*wxinvoice.Client).InsertBill),
	})
}

// statusResult is what `status` prints: the invoice and its new status.
type statusResult struct {
	CardID string
	Code   string
	Status wxinvoice.ReimburseStatus
}

func (a *app) statusCmd() *cobra.Command {
	return endpointCmd(a, endpoint[wxinvoice.UpdateStatusRequest, *statusResult]{
		use:   "status",
		short: "Set an invoice's reimbursement status, e.g. void it (更新发票卡券状态, 冲红)",
		long: `Calls POST /card/invoice/platform/updatestatus.

--set takes a status: cancel (INVOICE_REIMBURSE_CANCEL, the invoice was voided/冲红),
lock, init (unlock) or closure, or the full INVOICE_REIMBURSE_* name. WeChat allows
init→lock, lock→init, lock→closure and init|lock→cancel; closure and cancel are
final (another move answers errcode 72024).`,
		example: `  wxinvoice status --card-id pjZ8Yt1XGILfi-FUsewpnnolGgZk --code 030102100111 --set cancel`,
		flags: []flagField{
			{name: "card-id", path: "CardID", usage: "the invoice's card_id"},
			{name: "code", path: "Code", usage: "the invoice's code (from insert)"},
			{name: "set", path: "Status", usage: "new status: cancel, lock, init, closure (or INVOICE_REIMBURSE_*)", parse: parseStatus},
		},
		call: func(ctx context.Context, _ *app, c *wxinvoice.Client, req *wxinvoice.UpdateStatusRequest) (*statusResult, error) {
			if err := c.UpdateStatus(ctx, req); err != nil {
				return nil, err
			}
			return &statusResult{CardID: req.CardID, Code: req.Code, Status: req.Status}, nil
		},
	})
}

// parseStatus accepts the short forms and the full names, in any case.
func parseStatus(s string) (any, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "INVOICE_REIMBURSE_")
	switch u {
	case "INIT", "UNLOCK":
		return string(wxinvoice.ReimburseInit), nil
	case "LOCK":
		return string(wxinvoice.ReimburseLock), nil
	case "CLOSURE", "CLOSE":
		return string(wxinvoice.ReimburseClosure), nil
	case "CANCEL", "VOID":
		return string(wxinvoice.ReimburseCancel), nil
	}
	return nil, fmt.Errorf("unknown status %q: use cancel, lock, init, closure or INVOICE_REIMBURSE_CANCEL/LOCK/INIT/CLOSURE", s)
}
