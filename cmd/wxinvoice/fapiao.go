package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// WeChat Pay (微信支付) environment variables of the fapiao commands.
const (
	envPayMchID    = "WXPAY_MCHID"
	envPaySerial   = "WXPAY_SERIAL"
	envPayKeyFile  = "WXPAY_KEY_FILE"
	envPayPubKeyID = "WXPAY_PUBKEY_ID"
	envPayPubKey   = "WXPAY_PUBKEY_FILE"
	envPayCertFile = "WXPAY_PLATFORM_CERT_FILE"
	envPayAPIv3Key = "WXPAY_APIV3_KEY"
	envPayBaseURL  = "WXPAY_BASE_URL"
)

// The merchants --sandbox registers: a direct merchant (the default) and a
// partner serving sandboxSubMchID (select it with --mchid).
const (
	sandboxMchID     = "1900000001"
	sandboxPartnerID = "1900000100"
	sandboxSubMchID  = "1900000109"
)

// fapiaoCLI holds the fapiao commands' flags and the client they build on
// first use.
type fapiaoCLI struct {
	a *app
	// persistent flags
	mchID, serial, keyFile, pubKeyID, pubKeyFile, certFile string

	mu     sync.Mutex
	client *fapiao.Client
	// --sandbox: the fake's WeChat Pay side and the generated merchant key
	sandboxFake                    *wxinvoicetest.FapiaoFake
	sandboxKey                     *rsa.PrivateKey
	sandboxSerial, sandboxAPIv3Key string
}

// fapiaoEndpoint is a fapiao command: JSON (WeChat's wire names) from -f
// decoded straight into Req, positional arguments filling wire fields, then
// the Client method, then the answer printed.
type fapiaoEndpoint[Req, Resp any] struct {
	use, short, long, example string
	args                      []string // wire names filled by positional arguments, in order
	noInput                   bool
	setup                     func(*pflag.FlagSet)
	prepare                   func(req *Req) error                                                // after decoding, before the call (files)
	call                      func(c *fapiao.Client, ctx context.Context, req *Req) (Resp, error) // a method expression fits
}

func fapiaoCmd[Req, Resp any](f *fapiaoCLI, e fapiaoEndpoint[Req, Resp]) *cobra.Command {
	a := f.a
	var (
		file        string
		showExample bool
	)
	cmd := &cobra.Command{Use: e.use, Short: e.short, Long: e.long, Example: e.example, Args: cobra.MaximumNArgs(len(e.args))}
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		req := new(Req)
		if showExample {
			return writeJSON(a.stdout, example(reflect.TypeOf(req).Elem()).Interface())
		}
		fields := map[string]any{}
		if file != "" {
			data, err := a.readInput(file)
			if err != nil {
				return err
			}
			if fields, err = parseInput(data); err != nil {
				return err
			}
		}
		for i, arg := range args {
			fields[e.args[i]] = arg
		}
		if err := decodeWire(fields, req); err != nil {
			return err
		}
		if e.prepare != nil {
			if err := e.prepare(req); err != nil {
				return err
			}
		}
		c, err := f.getClient()
		if err != nil {
			return err
		}
		ctx, cancel := a.callCtx(cmd.Context())
		defer cancel()
		resp, err := e.call(c, ctx, req)
		if err != nil {
			return withFlagHint(classifyFapiao(err), nil, e.args)
		}
		f.redactSensitive(reflect.ValueOf(resp))
		return a.print(resp)
	})
	fs := cmd.Flags()
	if !e.noInput {
		fs.StringVarP(&file, "file", "f", "", "request as JSON with WeChat's field names: a file, or - for stdin (see --example)")
		fs.BoolVar(&showExample, "example", false, "print a skeleton of the JSON request and exit")
	}
	if e.setup != nil {
		e.setup(fs)
	}
	return cmd
}

// decodeWire decodes fields into dst by its json tags (WeChat's wire names);
// an unknown or mistyped field is a usage error naming it.
func decodeWire(fields map[string]any, dst any) error {
	b, err := json.Marshal(fields)
	if err != nil {
		return usagef("input: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return usagef("input field %s: want a JSON %s, got %s", te.Field, te.Type, te.Value)
		}
		return usagef("input: %v (field names are WeChat's, e.g. fapiao_apply_id; see --example)", err)
	}
	return nil
}

// classifyFapiao maps the fapiao package's errors to the exit codes:
// unknown outcome 5, a WeChat Pay error answer 3, an answer that failed
// verification 4. Validation errors are wxinvoice.ValidationError (2).
func classifyFapiao(err error) error {
	var ae *fapiao.APIError
	switch {
	case errors.Is(err, wxinvoice.ErrOutcomeUnknown):
		return &exitError{code: exitUnknown, err: err}
	case errors.As(err, &ae):
		return &exitError{code: exitAPI, err: err}
	case errors.Is(err, fapiao.ErrUnverified):
		return &exitError{code: exitTransport, err: err}
	}
	var ve *wxinvoice.ValidationError
	if errors.As(err, &ve) || errors.Is(err, context.Canceled) {
		return err
	}
	return &exitError{code: exitTransport, err: err} // a timeout too, as for the card-invoice commands
}

// redactSensitive adds every decrypted value (phone, email, certificate
// numbers) of an answer to the values never printed.
func (f *fapiaoCLI) redactSensitive(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			f.redactSensitive(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.redactSensitive(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			f.redactSensitive(v.Index(i))
		}
	case reflect.String:
		if v.Type() == reflect.TypeFor[fapiao.Sensitive]() && v.Len() > 0 {
			f.a.addSecret(v.String())
		}
	}
}

// getClient builds the client on first use, from --sandbox or the keys in
// flags and environment.
func (f *fapiaoCLI) getClient() (*fapiao.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	a := f.a
	var opts []fapiao.Option
	if a.verbose {
		opts = append(opts, fapiao.WithLogger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	mchID := firstNonEmpty(f.mchID, a.env(envPayMchID))
	if k := strings.TrimSpace(a.env(envPayAPIv3Key)); k != "" {
		a.addSecret(k)
	}
	if a.sandbox {
		if err := f.startSandbox(); err != nil {
			return nil, err
		}
		if mchID == "" {
			mchID = sandboxMchID
		}
		keyID, pub := f.sandboxFake.PublicKey()
		opts = append(opts, fapiao.WithMerchantKey(f.sandboxSerial, f.sandboxKey), fapiao.WithWechatPayPublicKey(keyID, pub),
			fapiao.WithBaseURL(a.fake.URL))
	} else {
		if mchID == "" {
			return nil, usagef("no merchant ID: set %s or --mchid (or try --sandbox)", envPayMchID)
		}
		serial := firstNonEmpty(f.serial, a.env(envPaySerial))
		if serial == "" {
			return nil, usagef("no certificate serial: set %s or --serial (the merchant API certificate's serial number)", envPaySerial)
		}
		keyFile := firstNonEmpty(f.keyFile, a.env(envPayKeyFile))
		if keyFile == "" {
			return nil, usagef("no merchant key: set %s or --key-file (the apiclient_key.pem file)", envPayKeyFile)
		}
		key, err := fapiao.LoadPrivateKeyFile(keyFile)
		if err != nil {
			return nil, usagef("%s: cannot load the merchant private key (PEM): %v", keyFile, err)
		}
		opts = append(opts, fapiao.WithMerchantKey(serial, key))
		pubID, pubFile := firstNonEmpty(f.pubKeyID, a.env(envPayPubKeyID)), firstNonEmpty(f.pubKeyFile, a.env(envPayPubKey))
		if (pubID == "") != (pubFile == "") {
			return nil, usagef("set both %s and %s (--pubkey-id, --pubkey-file), or neither", envPayPubKeyID, envPayPubKey)
		}
		if pubFile != "" {
			pub, err := fapiao.LoadPublicKeyFile(pubFile)
			if err != nil {
				return nil, usagef("%s: cannot load the WeChat Pay public key (PEM): %v", pubFile, err)
			}
			opts = append(opts, fapiao.WithWechatPayPublicKey(pubID, pub))
		}
		certFile := firstNonEmpty(f.certFile, a.env(envPayCertFile))
		if pubFile == "" && certFile == "" {
			return nil, usagef("no WeChat Pay key: set %s and %s (or %s)", envPayPubKeyID, envPayPubKey, envPayCertFile)
		}
		if certFile != "" {
			cert, err := fapiao.LoadCertificateFile(certFile)
			if err != nil {
				return nil, usagef("%s: cannot load the platform certificate (PEM): %v", certFile, err)
			}
			opts = append(opts, fapiao.WithPlatformCertificates([]*x509.Certificate{cert}...))
		}
		if u := firstNonEmpty(a.baseURL, a.env(envPayBaseURL)); u != "" {
			opts = append(opts, fapiao.WithBaseURL(u))
		}
	}
	c, err := fapiao.New(mchID, opts...)
	if err != nil {
		return nil, &usageError{err}
	}
	f.client = c
	return c, nil
}

// startSandbox starts (or reuses) the embedded fake and registers a direct
// merchant and a partner with a key generated for this invocation. Callers
// hold f.mu.
func (f *fapiaoCLI) startSandbox() error {
	a := f.a
	a.mu.Lock()
	if a.fake == nil {
		a.fake = wxinvoicetest.NewServer()
	}
	srv := a.fake
	a.mu.Unlock()
	if f.sandboxFake != nil {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := make([]byte, 36)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	f.sandboxKey = key
	f.sandboxSerial = strings.ToUpper(hex.EncodeToString(b[:20]))
	f.sandboxAPIv3Key = hex.EncodeToString(b[20:])
	a.addSecret(f.sandboxAPIv3Key)
	fp := srv.Fapiao()
	for _, m := range []wxinvoicetest.FapiaoMerchant{
		{MchID: sandboxMchID, CertSerialNo: f.sandboxSerial, PublicKey: &key.PublicKey, APIv3Key: f.sandboxAPIv3Key},
		{MchID: sandboxPartnerID, CertSerialNo: f.sandboxSerial, PublicKey: &key.PublicKey, APIv3Key: f.sandboxAPIv3Key,
			SubMchIDs: []string{sandboxSubMchID}},
	} {
		if err := fp.RegisterMerchant(m); err != nil {
			return err
		}
	}
	f.sandboxFake = fp
	return nil
}

// fapiaoCmd is `wxinvoice fapiao …`: one command per endpoint of the WeChat
// Pay e-invoice API (E01–E22).
func (a *app) fapiaoCmd() *cobra.Command {
	f := &fapiaoCLI{a: a}
	cmd := &cobra.Command{
		Use:     "fapiao",
		GroupID: "other",
		Short:   "WeChat Pay e-invoice (微信支付电子发票, APIv3) commands: issue, query, download, reverse",
		Long: `The WeChat Pay e-invoice API under https://api.mch.weixin.qq.com/v3/new-tax-control-fapiao/
(package fapiao). Every request is signed with the merchant key and every answer verified
with the WeChat Pay key; phone, email and certificate numbers are encrypted on the wire.

Keys come from files named in the environment (flags override); none is ever printed:
  WXPAY_MCHID               merchant (or partner) ID (--mchid)
  WXPAY_SERIAL              serial number of the merchant API certificate (--serial)
  WXPAY_KEY_FILE            the merchant API private key, PEM (apiclient_key.pem) (--key-file)
  WXPAY_PUBKEY_ID           the WeChat Pay public key ID, PUB_KEY_ID_… (--pubkey-id)
  WXPAY_PUBKEY_FILE         the WeChat Pay public key, PEM (--pubkey-file)
  WXPAY_PLATFORM_CERT_FILE  a platform certificate, PEM (older mode; instead of or with the public key)
  WXPAY_APIV3_KEY           the APIv3 key (only redacted from output here; callbacks need it)
  WXPAY_BASE_URL            API host, default https://api.mch.weixin.qq.com (--base-url)
With --sandbox none is needed: the command runs against the embedded fake, which
registers merchant 1900000001 and partner 1900000100 (sub-merchant 1900000109)
with a key generated for the invocation; --mchid 1900000100 acts as the partner.

Input is JSON with WeChat's field names (fapiao_apply_id, buyer_information, …),
as in WeChat's documentation; --example prints a skeleton. Output is a table, or
JSON with -o json. Decrypted phone numbers and e-mails are printed as [REDACTED].`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.mchID, "mchid", "", "merchant ID (default $"+envPayMchID+")")
	pf.StringVar(&f.serial, "serial", "", "merchant API certificate serial number (default $"+envPaySerial+")")
	pf.StringVar(&f.keyFile, "key-file", "", "merchant API private key PEM file (default $"+envPayKeyFile+")")
	pf.StringVar(&f.pubKeyID, "pubkey-id", "", "WeChat Pay public key ID (default $"+envPayPubKeyID+")")
	pf.StringVar(&f.pubKeyFile, "pubkey-file", "", "WeChat Pay public key PEM file (default $"+envPayPubKey+")")
	pf.StringVar(&f.certFile, "platform-cert-file", "", "WeChat Pay platform certificate PEM file (default $"+envPayCertFile+")")

	accepted := "Prints the HTTP status (202: accepted; the result arrives by callback or query)."
	var uploadFile, downloadOut string
	cmd.AddCommand(
		fapiaoCmd(f, fapiaoEndpoint[fapiao.CreateCardTemplateRequest, *fapiao.CreateCardTemplateResponse]{
			use: "card-template", short: "Create the card template (创建电子发票卡券模板, E01)",
			long:    "Calls POST /v3/new-tax-control-fapiao/card-template.",
			example: `  echo '{"card_appid":"wxb1170446a4c0a5a2","card_template_information":{"logo_url":"https://mmbiz.qpic.cn/logo"}}' | wxinvoice fapiao card-template -f -`,
			call:    (*fapiao.Client).CreateCardTemplate,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.UpdateDevelopmentConfigRequest, *fapiao.DevelopmentConfig]{
			use: "dev-config-update", short: "Set the callback URL and options (配置开发选项, E02)",
			long:    "Calls PATCH /v3/new-tax-control-fapiao/merchant/development-config.",
			example: `  echo '{"callback_url":"https://example.com/fapiao/notify"}' | wxinvoice fapiao dev-config-update -f -`,
			call:    (*fapiao.Client).UpdateDevelopmentConfig,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetDevelopmentConfigRequest, *fapiao.DevelopmentConfig]{
			use: "dev-config", short: "Show the development configuration (查询商户配置的开发选项, E03)",
			long: "Calls GET /v3/new-tax-control-fapiao/merchant/development-config.",
			call: (*fapiao.Client).GetDevelopmentConfig,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetBaseInformationRequest, *fapiao.BaseInformation]{
			use: "base-info", short: "Show the seller's invoicing information (检查商户开票功能, E04)",
			long: "Calls GET /v3/new-tax-control-fapiao/merchant/base-information.",
			call: (*fapiao.Client).GetBaseInformation,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.ListTaxCodesRequest, *fapiao.TaxCodes]{
			use: "tax-codes", short: "List the tax codes (获取商品和服务税收分类对照表, E05)",
			long:    "Calls GET /v3/new-tax-control-fapiao/merchant/tax-codes.",
			example: `  echo '{"offset":0,"limit":20}' | wxinvoice fapiao tax-codes -f -`,
			call:    (*fapiao.Client).ListTaxCodes,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetTitleURLRequest, *fapiao.TitleURL]{
			use: "title-url", short: "Get a link where the user fills the title (获取抬头填写链接, E06)",
			long: "Calls GET /v3/new-tax-control-fapiao/user-title/title-url.",
			call: (*fapiao.Client).GetTitleURL,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetUserTitleRequest, *fapiao.BuyerInformation]{
			use: "user-title [FAPIAO_APPLY_ID]", short: "Show the title the user filled (获取用户填写的抬头, E07)",
			long: "Calls GET /v3/new-tax-control-fapiao/user-title. Phone and e-mail are decrypted, and printed as [REDACTED].",
			args: []string{"fapiao_apply_id"},
			call: (*fapiao.Client).GetUserTitle,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.IssueRequest, *fapiao.AcceptedResponse]{
			use: "issue", short: "Issue invoices (开具电子发票, E08)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications. " + accepted + `
Not replayed: when the outcome is unknown (exit 5), query before trying again.`,
			call: (*fapiao.Client).Issue,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.QueryRequest, *fapiao.Application]{
			use: "query [FAPIAO_APPLY_ID]", short: "Show an application's invoices (查询电子发票, E09)",
			long: "Calls GET /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}.",
			args: []string{"fapiao_apply_id"},
			call: (*fapiao.Client).Query,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetDownloadInfoRequest, *fapiao.DownloadInfo]{
			use: "download-info [FAPIAO_APPLY_ID]", short: "Get the invoices' download URLs (获取发票下载信息, E10)",
			long: "Calls GET /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/fapiao-files. The URLs live 30 s.",
			args: []string{"fapiao_apply_id"},
			call: (*fapiao.Client).GetDownloadInfo,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.DownloadRequest, *fapiao.DownloadResponse]{
			use: "download", short: "Download an invoice file and check its SM3 digest (下载发票文件, E11)",
			long: `GETs the download_url of download-info with mchid, openid, invoice_code, invoice_no
and fapiao_id appended, writes the file to --out and checks its SM3-Digest. On a
mismatch the file is removed and the command fails.`,
			setup: func(fs *pflag.FlagSet) { fs.StringVar(&downloadOut, "out", "", "write the file here (required)") },
			prepare: func(*fapiao.DownloadRequest) error {
				if downloadOut == "" {
					return usagef("--out is required")
				}
				return nil
			},
			call: func(c *fapiao.Client, ctx context.Context, req *fapiao.DownloadRequest) (*fapiao.DownloadResponse, error) {
				return downloadTo(ctx, c, req, downloadOut)
			},
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.ReverseRequest, *fapiao.AcceptedResponse]{
			use: "reverse [FAPIAO_APPLY_ID]", short: "Reverse (冲红) invoices (冲红电子发票, E12)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/reverse. " + accepted,
			args: []string{"fapiao_apply_id"},
			call: (*fapiao.Client).Reverse,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.UploadFileRequest, *fapiao.UploadFileResponse]{
			use: "upload", short: "Upload a self-issued invoice file (上传电子发票文件, E13)",
			long: `Calls POST /v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file with the
file of --pdf (≤ 2 MB); file_type defaults to PDF (-f may give file_type and sub_mchid).
The SM3 digest is computed. Prints the fapiao_media_id (valid 3 days) for insert-cards.`,
			setup: func(fs *pflag.FlagSet) {
				fs.StringVar(&uploadFile, "pdf", "", "the invoice file, PDF or OFD (required)")
			},
			prepare: func(req *fapiao.UploadFileRequest) error {
				if uploadFile == "" {
					return usagef("--pdf is required")
				}
				b, err := os.ReadFile(uploadFile)
				if err != nil {
					return usagef("--pdf: %v", err)
				}
				if req.FileType == "" {
					req.FileType = "PDF"
				}
				req.File, req.FileName = bytes.NewReader(b), filepath.Base(uploadFile)
				return nil
			},
			call: (*fapiao.Client).UploadFile,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.InsertCardsRequest, *fapiao.AcceptedResponse]{
			use: "insert-cards [FAPIAO_APPLY_ID]", short: "Insert self-issued invoices into the user's card pack (将电子发票插入微信用户卡包, E14)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/insert-cards. " + accepted,
			args: []string{"fapiao_apply_id"},
			call: (*fapiao.Client).InsertCards,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.CheckSubMerchantRequest, *fapiao.AcceptedResponse]{
			use: "check-sub-merchant [SUB_MCHID]", short: "Partner: check a sub-merchant's e-invoice setup (E15)",
			long: "Calls POST /v3/new-tax-control-fapiao/merchant/{sub_mchid}/check (204 on success).",
			args: []string{"sub_mchid"},
			call: (*fapiao.Client).CheckSubMerchant,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetSubMerchantStatusRequest, *fapiao.SubMerchantStatus]{
			use: "sub-merchant-status [SUB_MCHID]", short: "Partner: show a sub-merchant's invoicing modes (E16)",
			long: "Calls GET /v3/new-tax-control-fapiao/merchant/{sub_mchid}/check-status.",
			args: []string{"sub_mchid"},
			call: (*fapiao.Client).GetSubMerchantStatus,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.DigitalIssueRequest, *fapiao.AcceptedResponse]{
			use: "issue-general", short: "Partner: issue a 数电 invoice (开具数电发票, E17)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/issue-general. " + accepted,
			call: (*fapiao.Client).IssueGeneral,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.DigitalIssueRequest, *fapiao.AcceptedResponse]{
			use: "issue-passenger-transport", short: "Partner: issue a 数电 passenger-transport invoice (E18)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/issue-passenger-transport. " + accepted,
			call: (*fapiao.Client).IssuePassengerTransport,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.DigitalIssueRequest, *fapiao.AcceptedResponse]{
			use: "issue-refined-oil", short: "Partner: issue a 数电 refined-oil invoice (E19)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/issue-refined-oil. " + accepted,
			call: (*fapiao.Client).IssueRefinedOil,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.DigitalIssueRequest, *fapiao.AcceptedResponse]{
			use: "issue-real-estate-leasing", short: "Partner: issue a 数电 real-estate-leasing invoice (E20)",
			long: "Calls POST /v3/new-tax-control-fapiao/fapiao-applications/real-estate-leasing. " + accepted,
			call: (*fapiao.Client).IssueRealEstateLeasing,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.GetPartnerInviteURLRequest, *fapiao.PartnerInviteURL]{
			use: "invite-url", short: "Partner: get an invitation link for a merchant (获取服务商邀请链接, E21)",
			long: "Calls GET /v3/new-tax-control-fapiao/fapiaomerchant/getspinviteurl.",
			call: (*fapiao.Client).GetPartnerInviteURL,
		}),
		fapiaoCmd(f, fapiaoEndpoint[fapiao.ListInvitedMerchantsRequest, *fapiao.InvitedMerchants]{
			use: "invited-merchants", short: "Partner: list invited merchants (查询服务商邀请的商户, E22)",
			long: "Calls GET /v3/new-tax-control-fapiao/fapiaomerchant/listspinvitemchinfo.",
			call: (*fapiao.Client).ListInvitedMerchants,
		}),
	)
	return cmd
}

// downloadTo downloads into a new file at path; the file is removed unless
// the download succeeded and its SM3 digest matched.
func downloadTo(ctx context.Context, c *fapiao.Client, req *fapiao.DownloadRequest, path string) (resp *fapiao.DownloadResponse, err error) {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, usagef("--out: %v", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	resp, err = c.Download(ctx, req, out)
	if err != nil {
		return nil, fmt.Errorf("%w (%s removed)", err, path)
	}
	return resp, nil
}
