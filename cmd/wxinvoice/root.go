package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// Exit codes. They are part of the CLI's contract (docs/cli.md).
const (
	exitOK          = 0
	exitFailure     = 1   // anything else (a file that cannot be read or written, a failed download)
	exitUsage       = 2   // bad flags or input, missing credentials, or the SDK's *ValidationError: nothing was sent
	exitAPI         = 3   // WeChat answered a non-zero errcode (*wxinvoice.APIError)
	exitTransport   = 4   // no usable answer: connection, timeout, HTTP status, undecodable body (*wxinvoice.OpError)
	exitUnknown     = 5   // a write was sent but no answer arrived: check before retrying (wxinvoice.ErrOutcomeUnknown)
	exitInterrupted = 130 // SIGINT/SIGTERM
)

// Environment variables.
const (
	envAppID       = "WECHAT_APPID"
	envAppSecret   = "WECHAT_APPSECRET"
	envBaseURL     = "WXINVOICE_BASE_URL"
	envAccessToken = "WXINVOICE_ACCESS_TOKEN"
)

// usageError is a mistake in the command line or its input: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries an exit code chosen by a command (upload's summary).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// app is one invocation of the CLI: its streams, environment, flags and the
// client it builds on demand.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer // redacting
	rawStdout      io.Writer // for `token --show` and the sandbox banner only
	rawStderr      io.Writer // to tell whether stderr is a terminal
	outMu          *sync.Mutex
	env            func(string) string

	// persistent flags
	output     string
	sandbox    bool
	appID      string
	baseURL    string
	secretFile string
	timeout    time.Duration
	verbose    bool

	started bool // a command's RunE began: errors before it are usage errors

	mu      sync.Mutex
	secrets []string // values never printed: the app secret and every access token seen
	client  *wxinvoice.Client
	wecom   *wxinvoice.WeComClient // wecom.go
	corpID  string                 // wecom --corpid
	tokens  *recordingStore
	fake    *wxinvoicetest.Server // the embedded --sandbox server
	static  bool                  // the token comes from WXINVOICE_ACCESS_TOKEN
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, env func(string) string) *app {
	if env == nil {
		env = func(string) string { return "" }
	}
	a := &app{stdin: stdin, env: env, rawStdout: stdout, rawStderr: stderr, outMu: new(sync.Mutex)}
	a.stdout = &redactWriter{w: stdout, mu: a.outMu, secrets: a.secretList}
	a.stderr = &redactWriter{w: stderr, mu: a.outMu, secrets: a.secretList}
	return a
}

// newRootCmd returns the wxinvoice command tree reading stdin and writing
// stdout/stderr, with env as its environment, so tests run commands
// in-process. Errors are returned by Execute, not printed; run prints them and
// maps them to exit codes.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer, env func(string) string) *cobra.Command {
	return newApp(stdin, stdout, stderr, env).rootCmd()
}

// run executes args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	a := newApp(stdin, stdout, stderr, env)
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	a.close()
	if err == nil {
		return exitOK
	}
	if !a.started && !isClassified(err) {
		err = &usageError{err}
	}
	code := exitCode(err)
	if code == exitOK {
		return exitOK
	}
	a.printError(cmd, err, code)
	return code
}

func isClassified(err error) bool {
	var ue *usageError
	var ee *exitError
	return errors.As(err, &ue) || errors.As(err, &ee)
}

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var (
		ee  *exitError
		ue  *usageError
		ve  *wxinvoice.ValidationError
		ae  *wxinvoice.APIError
		ope *wxinvoice.OpError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), errors.As(err, &ve):
		return exitUsage
	case errors.As(err, &ae):
		return exitAPI
	case errors.Is(err, wxinvoice.ErrOutcomeUnknown):
		return exitUnknown
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ope):
		return exitTransport
	}
	return exitFailure
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wxinvoice",
		Short: "WeChat e-invoice (微信电子发票) operations from the shell",
		Long: `wxinvoice calls the WeChat e-invoice APIs for one appid: upload and fetch invoice
PDFs, create card templates, insert invoices into users' card bags, void (冲红) or
unlock them, decrypt the encrypt_code of a card link, check the access token, and
run a fake WeChat server (wxinvoice sandbox) to try it all without credentials.

Credentials come from the environment (flags override):
  WECHAT_APPID            the official account's appid (--appid)
  WECHAT_APPSECRET        its AppSecret (--appsecret-file reads it from a file instead)
  WXINVOICE_BASE_URL      API host, default https://api.weixin.qq.com (--base-url)
  WXINVOICE_ACCESS_TOKEN  use this access token instead of fetching one with the secret
With --sandbox none is needed: the command runs against an embedded, empty fake.
WeCom (企业微信) reimbursers use WECOM_CORPID and WECOM_CORPSECRET: see 'wxinvoice wecom --help'.

Input is JSON (-f file.json, or -f - for stdin) in the shape of the SDK's request
struct; keys may be Go names (OrderID) or snake_case (order_id); --example prints
a skeleton. Output is a table, or JSON with -o json. The secret and access tokens
are never printed (except by 'wxinvoice token --show').

Exit codes: 0 ok, 1 other failure, 2 usage or validation (nothing was sent),
3 WeChat errcode, 4 transport, 5 write sent but outcome unknown, 130 interrupted.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("--output must be table or json, got %q", a.output)
			}
			if a.timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			return nil
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.BoolVar(&a.sandbox, "sandbox", false, "run against an embedded fake WeChat server (no credentials needed; state lasts one command)")
	pf.StringVar(&a.appID, "appid", "", "appid (default $"+envAppID+")")
	pf.StringVar(&a.baseURL, "base-url", "", "API base URL (default $"+envBaseURL+" or "+wxinvoice.DefaultBaseURL+")")
	pf.StringVar(&a.secretFile, "appsecret-file", "", "read the AppSecret from this file instead of $"+envAppSecret)
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each API call")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "log each API call (path, errcode, duration; never the token) to stderr")

	for _, g := range groups {
		root.AddGroup(&cobra.Group{ID: g[0], Title: g[1]})
	}
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	root.AddCommand(withGroup("platform", a.platformCmds()...)...)
	root.AddCommand(a.areaCmds()...)
	root.AddCommand(withGroup("reimburse", a.wecomCmd())...)
	tc, sc := a.tokenCmd(), a.sandboxCmd()
	tc.GroupID, sc.GroupID = "other", "other"
	root.AddCommand(tc, sc)
	root.AddCommand(a.fapiaoCmd())
	root.AddCommand(withGroup("other", a.inboxCmd())...)
	return root
}

// groups are the sections of the help, in order.
var groups = [][2]string{
	{"platform", "Invoicing platform (开票平台) commands:"},
	{"merchant", "Merchant (商户) commands:"},
	{"reimburse", "Reimburser (报销方) commands:"},
	{"title", "Invoice title (抬头) commands:"},
	{"nontax", "Fiscal e-bill (财政电子票据) commands:"},
	{"other", "Other commands:"},
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// runE wraps a command's body: it marks the start of the command proper (so
// that earlier errors count as usage errors).
func (a *app) runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return fn(cmd, args)
	}
}

// getClient builds the client on first use, from --sandbox or the
// credentials in flags and environment.
func (a *app) getClient() (*wxinvoice.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		return a.client, nil
	}
	a.tokens = &recordingStore{TokenStore: wxinvoice.NewMemoryTokenStore(), onSet: a.addSecret}
	opts := []wxinvoice.Option{wxinvoice.WithTokenStore(a.tokens)}
	if a.verbose {
		opts = append(opts, wxinvoice.WithLogger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	var appID, secret string
	if a.sandbox {
		a.fake = wxinvoicetest.NewServer()
		appID, secret = a.fake.AppID, a.fake.AppSecret
		opts = append(opts, wxinvoice.WithBaseURL(a.fake.URL))
	} else {
		appID = firstNonEmpty(a.appID, a.env(envAppID))
		if appID == "" {
			return nil, usagef("no appid: set %s or --appid (or try --sandbox)", envAppID)
		}
		if tok := a.env(envAccessToken); tok != "" {
			a.secrets = append(a.secrets, tok)
			a.static = true
			opts = append(opts, wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(tok)))
		} else {
			var err error
			if secret, err = a.readSecret(); err != nil {
				return nil, err
			}
		}
		if u := firstNonEmpty(a.baseURL, a.env(envBaseURL)); u != "" {
			opts = append(opts, wxinvoice.WithBaseURL(u))
		}
	}
	if secret != "" {
		a.secrets = append(a.secrets, secret)
	}
	c, err := wxinvoice.New(appID, secret, opts...)
	if err != nil {
		return nil, &usageError{err}
	}
	a.client = c
	return c, nil
}

func (a *app) readSecret() (string, error) {
	if a.secretFile != "" {
		b, err := os.ReadFile(a.secretFile)
		if err != nil {
			return "", usagef("read --appsecret-file: %v", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", usagef("--appsecret-file %s is empty", a.secretFile)
		}
		return s, nil
	}
	if s := strings.TrimSpace(a.env(envAppSecret)); s != "" {
		return s, nil
	}
	return "", usagef("no AppSecret: set %s or --appsecret-file (or %s, or try --sandbox)", envAppSecret, envAccessToken)
}

// close releases what the invocation started (the embedded sandbox).
func (a *app) close() {
	a.mu.Lock()
	fake := a.fake
	a.mu.Unlock()
	if fake != nil {
		fake.Close()
	}
}

// callCtx bounds one API call by --timeout.
func (a *app) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// httpClient is used for downloads (pdf_url), outside the SDK.
func (a *app) httpClient() *http.Client { return &http.Client{Timeout: a.timeout} }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ---- secrets ----

func (a *app) addSecret(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.secrets {
		if x == s {
			return
		}
	}
	a.secrets = append(a.secrets, s)
}

func (a *app) secretList() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.secrets...)
}

// redactWriter replaces the app secret and any access token seen in this
// invocation by [REDACTED] before writing. The SDK already keeps them out of
// its errors; this also covers text we do not control (an errmsg, a URL). It
// serialises writes to stdout and stderr so concurrent lines do not tear.
type redactWriter struct {
	w       io.Writer
	mu      *sync.Mutex
	secrets func() []string
}

func (r *redactWriter) Write(p []byte) (int, error) {
	s := string(p)
	for _, sec := range r.secrets() {
		if len(sec) >= 6 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ---- errors ----

// errorJSON is how errors are printed to stderr with -o json.
type errorJSON struct {
	Error struct {
		Message     string
		ExitCode    int
		ErrCode     int    `json:",omitempty"`
		Description string `json:",omitempty"`
		ErrMsg      string `json:",omitempty"`
		Op          string `json:",omitempty"`
		Field       string `json:",omitempty"`
	}
}

func (a *app) printError(cmd *cobra.Command, err error, code int) {
	var ae *wxinvoice.APIError
	var ve *wxinvoice.ValidationError
	isAPI := errors.As(err, &ae)
	isVal := errors.As(err, &ve)
	if a.output == "json" {
		var ej errorJSON
		ej.Error.Message, ej.Error.ExitCode = err.Error(), code
		if isAPI {
			ej.Error.ErrCode, ej.Error.Description, ej.Error.ErrMsg, ej.Error.Op = ae.Code, ae.Description(), ae.Msg, ae.Op
		}
		if isVal {
			ej.Error.Field = ve.Field
		}
		enc := json.NewEncoder(a.stderr)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(&ej)
		return
	}
	var b strings.Builder
	if isAPI {
		desc := ae.Description()
		if desc == "" {
			desc = "(not in the documented errcode table)"
		}
		fmt.Fprintf(&b, "Error: errcode %d: %s\n  api:    %s\n  errmsg: %s\n", ae.Code, desc, ae.Op, ae.Msg)
		hints := errcodeHints
		if isWeComCmd(cmd) {
			hints = weComHints
		}
		if h := hints[ae.Code]; h != "" {
			fmt.Fprintf(&b, "  hint:   %s\n", h)
		}
	} else {
		fmt.Fprintf(&b, "Error: %v\n", err)
	}
	var ue *usageError
	if errors.As(err, &ue) && !a.started {
		fmt.Fprintf(&b, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	if code == exitUnknown {
		b.WriteString("  The request reached WeChat but no answer came back: check the invoice's state before retrying.\n")
	}
	_, _ = io.WriteString(a.stderr, b.String())
}

// errcodeHints suggests a fix for the codes operators meet most.
var errcodeHints = map[int]string{
	40001: "check " + envAppSecret + " (or the access token) belongs to " + envAppID,
	40013: "check " + envAppID,
	40125: "check " + envAppSecret,
	40164: "add this machine's public IP to the account's IP whitelist (公众平台 > 开发 > 基本配置)",
	72024: "allowed moves: init→lock, lock→init, lock→closure, init|lock→cancel; closure and cancel are final",
	72039: "the reimburser must lock the invoice first",
	72040: "the s_media_id is unknown or expired (3 days after upload): upload the PDF again",
	72042: "an invoice with this billing_no and billing_code was already inserted",
}

// ---- token store ----

// recordingStore is an in-memory TokenStore that tells the app every token
// the client obtains, so the token can be redacted from output and the
// `token` command can report its expiry.
type recordingStore struct {
	wxinvoice.TokenStore
	onSet func(string)

	mu   sync.Mutex
	last wxinvoice.Token
}

func (s *recordingStore) SetToken(ctx context.Context, key string, tok wxinvoice.Token) error {
	s.mu.Lock()
	s.last = tok
	s.mu.Unlock()
	if tok.Value != "" {
		s.onSet(tok.Value)
	}
	return s.TokenStore.SetToken(ctx, key, tok)
}

func (s *recordingStore) lastToken() wxinvoice.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}
