package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

func (a *app) sandboxCmd() *cobra.Command {
	var (
		addr, appID, secret, publicURL    string
		eventURL, eventToken, eventAESKey string
		requireAuth, eventCompat, control bool
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve the fake WeChat e-invoice API (wxinvoicetest) standalone",
		Long: `Runs wxinvoicetest, the SDK's stateful fake of the WeChat e-invoice APIs, as a
server: tokens, card templates, PDFs (and their download links), invoices and their
status machine, encrypt_codes, nontax bills, and update_invoice_status pushes. It
prints the appid, secret and base URL to use (as export lines; the WeCom corp's
too), logs every call to
stderr (never the token), logs each inserted invoice with the encrypt_code of its
card link (so 'decrypt' can be tried), and stops on Ctrl-C or SIGTERM.

It also serves (unless --control=false) a console at / (the simulated user's card
pack, orders, templates, PDFs, faults, the request log and the pushes), a JSON
control API under /sandbox/ described by /sandbox/openapi.json (state, requests,
pushes, clock, faults, reset, and the WeChat user's and reimburser's steps), and
the pages a WeChat user opens: the auth_url of getauthurl and getbillauthurl and
the title links point at the sandbox, where a person can press 授权 or fill a title.
The control API has no authentication: the sandbox listens on loopback unless
--addr says otherwise.

State lives in memory until the sandbox stops. See docs/sandbox.md for a session in
curl and Python, and wxinvoicetest/README.md for what is and is not simulated.`,
		Example: `  wxinvoice sandbox --addr 127.0.0.1:8089
  wxinvoice sandbox --event-url http://127.0.0.1:8080/wechat/events --event-token T \
    --event-aes-key abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG`,
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if eventURL == "" && (eventToken != "" || eventAESKey != "" || eventCompat) {
				return usagef("--event-token, --event-aes-key and --event-compat need --event-url")
			}
			if eventURL != "" && eventToken == "" {
				return usagef("--event-url needs --event-token (the Token configured for the push URL)")
			}
			if eventAESKey != "" {
				if k, err := base64.StdEncoding.DecodeString(eventAESKey + "="); len(eventAESKey) != 43 || err != nil || len(k) != 32 {
					return usagef("--event-aes-key must be a 43-character EncodingAESKey")
				}
			}
			if appID == "" {
				appID = "wx" + randomHex(8)
			}
			if secret == "" {
				secret = randomHex(16)
			}
			logs := &sandboxLog{Handler: slog.NewTextHandler(a.stderr, nil), state: &sandboxState{seen: map[[2]string]bool{}}}
			opts := []wxinvoicetest.Option{wxinvoicetest.WithApp(appID, secret), wxinvoicetest.WithLogger(slog.New(logs))}
			if requireAuth {
				opts = append(opts, wxinvoicetest.WithAuthorizationRequired())
			}
			if eventURL != "" {
				opts = append(opts, wxinvoicetest.WithEventPush(eventURL, wxinvoicetest.PushConfig{
					Token: eventToken, EncodingAESKey: eventAESKey, AppID: appID, Compat: eventCompat,
				}))
			}
			if publicURL != "" {
				opts = append(opts, wxinvoicetest.WithPublicURL(publicURL))
			}
			if control {
				opts = append(opts, wxinvoicetest.WithControlAPI())
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			srv := wxinvoicetest.NewUnstartedServer(opts...)
			srv.URL = strings.TrimRight(firstNonEmpty(publicURL, listenURL(l)), "/")
			logs.state.srv = srv
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()

			var b strings.Builder
			fmt.Fprintf(&b, "wxinvoice sandbox: fake WeChat e-invoice API listening on %s\n", srv.URL)
			fmt.Fprintf(&b, "  appid     %s\n  secret    %s\n  s_pappid  %s\n", appID, secret, srv.SPAppID())
			if requireAuth {
				b.WriteString("  inserts need an authorized order (72038 otherwise)\n")
			}
			if eventURL != "" {
				mode := "plaintext"
				if eventAESKey != "" {
					mode = "safe mode (AES)"
					if eventCompat {
						mode = "compatible mode (AES)"
					}
				}
				fmt.Fprintf(&b, "  pushes update_invoice_status to %s, %s\n", eventURL, mode)
			}
			if control {
				fmt.Fprintf(&b, "  console   %s/\n  control   %s/sandbox/ (OpenAPI: %s/sandbox/openapi.json)\n", srv.URL, srv.URL, srv.URL)
				if !loopback(l) {
					fmt.Fprintf(&b, "  warning: %s is not a loopback address and the control API has no authentication\n", l.Addr())
				}
			}
			b.WriteString("Use it from another shell:\n")
			fmt.Fprintf(&b, "  export %s=%s\n  export %s=%s\n  export %s=%s\n", envAppID, appID, envAppSecret, secret, envBaseURL, srv.URL)
			fmt.Fprintf(&b, "  export %s=%s\n  export %s=%s\n  export %s=%s   # wxinvoice wecom …\n",
				envCorpID, srv.CorpID, envCorpSecret, srv.CorpSecret, envWeComBase, srv.URL)
			b.WriteString("Calls are logged to stderr. Ctrl-C stops.\n")
			// Printed unredacted: the fake's secret is the point of the banner.
			a.outMu.Lock()
			_, _ = fmt.Fprint(a.rawStdout, b.String())
			a.outMu.Unlock()

			ctx := cmd.Context()
			stopWatch := watchPushes(srv, logs)
			select {
			case <-ctx.Done():
			case err = <-served:
			}
			srv.Close()
			stopWatch()
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			logs.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "sandbox stopped", 0))
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "127.0.0.1:8089", "address to listen on")
	fs.StringVar(&appID, "appid", "", "the fake account's appid (default random)")
	fs.StringVar(&secret, "secret", "", "the fake account's AppSecret (default random)")
	fs.StringVar(&publicURL, "public-url", "", "base URL clients use when it differs from the listening address (also used in pdf_url links and the user pages' links)")
	fs.BoolVar(&requireAuth, "require-auth", false, "inserts of orders nobody authorized answer errcode 72038")
	fs.StringVar(&eventURL, "event-url", "", "push update_invoice_status events to this URL on every status change")
	fs.StringVar(&eventToken, "event-token", "", "the Token that signs pushes")
	fs.StringVar(&eventAESKey, "event-aes-key", "", "the EncodingAESKey (43 characters): pushes in safe mode")
	fs.BoolVar(&eventCompat, "event-compat", false, "with --event-aes-key: compatible mode (plaintext and ciphertext)")
	fs.BoolVar(&control, "control", true, "serve the console at /, the control API under /sandbox/ and the simulated user's pages")
	// The root's --appid means the account to call; here it names the fake's.
	return cmd
}

// listenURL is the base URL of l; an unspecified address is given as 127.0.0.1.
func listenURL(l net.Listener) string {
	host := l.Addr().String()
	if ta, ok := l.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return "http://" + host
}

// loopback reports whether l listens on a loopback address only.
func loopback(l net.Listener) bool {
	ta, ok := l.Addr().(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sandboxLog is the sandbox's slog handler: it passes the fake's call lines
// through and, after a successful insert or insertbill, logs each new invoice
// with the encrypt_code its card link would carry.
type sandboxLog struct {
	slog.Handler
	state *sandboxState
}

type sandboxState struct {
	srv  *wxinvoicetest.Server // set before the server serves
	mu   sync.Mutex
	seen map[[2]string]bool
}

func (h *sandboxLog) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	var path, errcode string
	r.Attrs(func(at slog.Attr) bool {
		switch at.Key {
		case "path":
			path = at.Value.String()
		case "errcode":
			errcode = at.Value.String()
		}
		return true
	})
	if errcode == "0" && (path == "/card/invoice/insert" || path == "/nontax/insertbill") {
		h.announce(ctx)
	}
	return err
}

func (h *sandboxLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sandboxLog{Handler: h.Handler.WithAttrs(attrs), state: h.state}
}

func (h *sandboxLog) WithGroup(name string) slog.Handler {
	return &sandboxLog{Handler: h.Handler.WithGroup(name), state: h.state}
}

func (h *sandboxLog) announce(ctx context.Context) {
	st := h.state
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, inv := range st.srv.Invoices() {
		k := [2]string{inv.CardID, inv.Code}
		if st.seen[k] {
			continue
		}
		st.seen[k] = true
		kind := "invoice"
		if inv.Bill {
			kind = "bill"
		}
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "new "+kind, 0)
		r.AddAttrs(slog.String("card_id", inv.CardID), slog.String("code", inv.Code), slog.String("openid", inv.OpenID),
			slog.String("encrypt_code", st.srv.EncryptCode(inv.CardID, inv.Code)))
		_ = h.Handler.Handle(ctx, r)
	}
}

// watchPushes logs each finished event push (delivered or failed) until the
// returned stop is called.
func watchPushes(srv *wxinvoicetest.Server, h slog.Handler) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	reported := 0
	report := func() {
		pushes := srv.Pushes()
		for ; reported < len(pushes) && pushes[reported].Done; reported++ {
			p := pushes[reported]
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "push", 0)
			r.AddAttrs(slog.String("url", p.URL), slog.String("status", string(p.Event.Status)),
				slog.String("card_id", p.Event.CardID), slog.String("code", p.Event.Code),
				slog.Bool("delivered", p.Delivered), slog.Int("attempts", len(p.Attempts)))
			if n := len(p.Attempts); n > 0 && !p.Delivered {
				last := p.Attempts[n-1]
				r.AddAttrs(slog.Int("last_http_status", last.StatusCode), slog.String("last_error", last.Err))
			}
			_ = h.Handle(context.Background(), r)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				report()
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
