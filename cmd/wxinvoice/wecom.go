package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// WeCom (企业微信) environment variables.
const (
	envCorpID      = "WECOM_CORPID"
	envCorpSecret  = "WECOM_CORPSECRET"
	envWeComBase   = "WECOM_BASE_URL"
	flagCorpIDName = "corpid"
)

// openIDResult is what `wecom converttoopenid` prints.
type openIDResult struct {
	UserID string
	OpenID string
}

// userIDInput is the request of `wecom converttoopenid`.
type userIDInput struct{ UserID string }

var (
	flagWeComCardID = flagField{name: "card-id", path: "CardID", usage: "the invoice's card_id"}
	flagWeComCode   = flagField{name: "encrypt-code", path: "EncryptCode", usage: "the invoice's encrypt_code"}
	flagWeComSet    = flagField{name: "set", path: "Status", usage: "lock, init (unlock) or closure", parse: parseStatus}
)

// wecomCmd is `wxinvoice wecom …`: the WeCom reimburser's calls on
// qyapi.weixin.qq.com, each an endpoint over one WeComClient method.
func (a *app) wecomCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wecom",
		Short: "WeCom (企业微信) reimburser commands: read, lock and close invoices as a corp",
		Long: `The WeCom reimburser's calls on https://qyapi.weixin.qq.com.

Credentials come from the environment (flags override):
  WECOM_CORPID      the corp's ID (企业ID) (--corpid)
  WECOM_CORPSECRET  the secret of the application that reimburses (应用的Secret)
  WECOM_BASE_URL    API host, default https://qyapi.weixin.qq.com (--base-url)
With --sandbox none is needed: the command runs against an embedded, empty fake.

Only verified corps may call these APIs; getinvoiceinfobatch also needs more
than 200 activated members.`,
	}
	cmd.PersistentFlags().StringVar(&a.corpID, flagCorpIDName, "", "corp ID (default $"+envCorpID+")")
	cmd.AddCommand(
		endpointCmd(a, endpoint[wxinvoice.InvoiceRef, *wxinvoice.ReimburseInvoice]{
			use:   "getinvoiceinfo",
			short: "Show one invoice the user chose (查询电子发票)",
			long:  "Calls POST /cgi-bin/card/invoice/reimburse/getinvoiceinfo on WeCom.",
			flags: []flagField{flagWeComCardID, flagWeComCode},
			wecom: (*wxinvoice.WeComClient).GetInvoiceInfo,
		}),
		endpointCmd(a, endpoint[wxinvoice.GetInvoiceBatchRequest, *wxinvoice.GetInvoiceBatchResponse]{
			use:     "getinvoiceinfobatch",
			short:   "Show several invoices at once (批量查询电子发票)",
			long:    "Calls POST /cgi-bin/card/invoice/reimburse/getinvoiceinfobatch on WeCom with a GetInvoiceBatchRequest from -f (see --example).",
			example: `  echo '{"invoices":[{"card_id":"pjZ8Yt1","encrypt_code":"E1"}]}' | wxinvoice wecom getinvoiceinfobatch -f -`,
			wecom:   (*wxinvoice.WeComClient).GetInvoiceInfoBatch,
		}),
		endpointCmd(a, endpoint[wxinvoice.UpdateInvoiceStatusRequest, *wxinvoice.UpdateInvoiceStatusRequest]{
			use:   "updateinvoicestatus",
			short: "Lock, unlock or close an invoice (更新发票状态)",
			long: `Calls POST /cgi-bin/card/invoice/reimburse/updateinvoicestatus on WeCom.
closure (核销) is final: the invoice leaves the user's card package.`,
			flags: []flagField{flagWeComCardID, flagWeComCode, flagWeComSet},
			wecom: viaWeComAction((*wxinvoice.WeComClient).UpdateInvoiceStatus),
		}),
		endpointCmd(a, endpoint[wxinvoice.UpdateStatusBatchRequest, *wxinvoice.UpdateStatusBatchRequest]{
			use:   "updatestatusbatch",
			short: "Lock, unlock or close several invoices of one user, all or nothing (批量更新发票状态)",
			long: `Calls POST /cgi-bin/card/invoice/reimburse/updatestatusbatch on WeCom with an
UpdateStatusBatchRequest from -f (see --example). --openid is the user's openid:
wxinvoice wecom converttoopenid USERID gives it.`,
			flags: []flagField{{name: "openid", path: "OpenID", usage: "the user the invoices belong to (wecom converttoopenid)"}, flagWeComSet},
			wecom: viaWeComAction((*wxinvoice.WeComClient).UpdateStatusBatch),
		}),
		endpointCmd(a, endpoint[userIDInput, *openIDResult]{
			use:   "converttoopenid [USERID]",
			short: "Convert a member's userid to the openid updatestatusbatch takes (userid转openid)",
			long:  "Calls POST /cgi-bin/user/convert_to_openid on WeCom.",
			args:  []string{"UserID"},
			wecom: func(c *wxinvoice.WeComClient, ctx context.Context, req *userIDInput) (*openIDResult, error) {
				openid, err := c.ConvertToOpenID(ctx, req.UserID)
				if err != nil {
					return nil, err
				}
				return &openIDResult{UserID: req.UserID, OpenID: openid}, nil
			},
		}),
	)
	return cmd
}

// viaWeComAction adapts a WeComClient method that returns only an error: on
// success the request is the result.
func viaWeComAction[Req any](m func(*wxinvoice.WeComClient, context.Context, *Req) error) func(*wxinvoice.WeComClient, context.Context, *Req) (*Req, error) {
	return func(c *wxinvoice.WeComClient, ctx context.Context, req *Req) (*Req, error) {
		if err := m(c, ctx, req); err != nil {
			return nil, err
		}
		return req, nil
	}
}

// getWeComClient builds the WeCom client on first use, from --sandbox or
// the WeCom credentials in flags and environment. The secret and every
// token it obtains are redacted from the output.
func (a *app) getWeComClient() (*wxinvoice.WeComClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wecom != nil {
		return a.wecom, nil
	}
	opts := []wxinvoice.Option{wxinvoice.WithTokenStore(&recordingStore{TokenStore: wxinvoice.NewMemoryTokenStore(), onSet: a.addSecret})}
	if a.verbose {
		opts = append(opts, wxinvoice.WithLogger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	var corpID, secret string
	if a.sandbox {
		if a.fake == nil {
			a.fake = wxinvoicetest.NewServer()
		}
		corpID, secret = a.fake.CorpID, a.fake.CorpSecret
		opts = append(opts, wxinvoice.WithBaseURL(a.fake.URL))
	} else {
		corpID = firstNonEmpty(a.corpID, a.env(envCorpID))
		if corpID == "" {
			return nil, usagef("no corp ID: set %s or --%s (or try --sandbox)", envCorpID, flagCorpIDName)
		}
		if secret = strings.TrimSpace(a.env(envCorpSecret)); secret == "" {
			return nil, usagef("no corp secret: set %s (or try --sandbox)", envCorpSecret)
		}
		if u := firstNonEmpty(a.baseURL, a.env(envWeComBase)); u != "" {
			opts = append(opts, wxinvoice.WithBaseURL(u))
		}
	}
	a.secrets = append(a.secrets, secret)
	c, err := wxinvoice.NewWeCom(corpID, secret, opts...)
	if err != nil {
		return nil, &usageError{err}
	}
	a.wecom = c
	return c, nil
}

// isWeComCmd reports whether cmd is one of the `wecom` commands.
func isWeComCmd(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "wecom" && c.Parent() != nil && !c.Parent().HasParent() {
			return true
		}
	}
	return false
}

// weComHints suggests a fix for the codes a WeCom reimburser meets most.
var weComHints = map[int]string{
	40001: "check " + envCorpSecret + " is the secret of an application of " + envCorpID,
	40013: "check " + envCorpID,
	48002: "only verified corps may call the invoice APIs; getinvoiceinfobatch also needs more than 200 activated members",
	60011: "the member must be within the application's visible range",
	60020: "add this machine's public IP to the application's trusted IPs (企业可信IP)",
	60111: "the userid is not a member of the corp",
	72023: "another reimburser holds the lock",
	72024: "allowed moves: init→lock, lock→init, lock→closure; closure is final",
}
