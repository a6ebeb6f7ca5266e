// Package wxinvoicetest is an in-process, stateful fake of the WeChat
// e-invoice APIs (微信电子发票) for tests, examples and a standalone sandbox.
//
// A Server issues and expires access tokens on an injectable clock, keeps card
// templates, uploaded PDFs, inserted invoices and nontax bills and their
// reimbursement status machine, serves PDF downloads, decrypts the
// encrypt_codes it hands out, pushes signed (optionally AES-encrypted)
// update_invoice_status events with WeChat's retry rule, records every request
// and injects any errcode or transport fault on demand. It answers with
// WeChat's documented error codes; where the documentation is silent the
// choice is written on the handler and in README.md. Server.Fapiao is the
// WeChat Pay e-invoice side (APIv3, /v3/new-tax-control-fapiao/) on the same
// server.
//
// There is no package-level mutable state: every Server is independent, so
// parallel tests may each start their own, and every Server method is safe for
// concurrent use by multiple goroutines.
//
//	srv := wxinvoicetest.NewServer()
//	defer srv.Close()
//	client, _ := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
package wxinvoicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// maxBody bounds what the fake reads of one request body. WeChat documents no
// limit for setpdf; a larger body is answered with 47001.
const maxBody = 32 << 20

// Server is a fake WeChat API server. Create it with NewServer (started) or
// NewUnstartedServer (then Start or Serve).
//
// All methods are safe for concurrent use by multiple goroutines; the state
// lives behind one mutex, which is never held while pushing events over the
// network.
type Server struct {
	// URL is the base URL of the started server, e.g. "http://127.0.0.1:41234",
	// to be given to wxinvoice.WithBaseURL. Empty until Start or Serve.
	URL string
	// AppID is the fake official account's appid (random "wx…" unless set
	// with WithApp).
	AppID string
	// AppSecret is the appid's secret (random unless set with WithApp).
	AppSecret string
	// CorpID and CorpSecret are the fake WeCom corp's corpid ("ww…") and
	// application secret (random unless set with WithWeComCorp; wecom.go).
	CorpID, CorpSecret string

	cfg    config
	routes map[string]route

	closeOnce sync.Once
	closing   chan struct{} // closed by Close: aborts delays
	httpSrv   *http.Server

	mu       sync.Mutex
	pushCond *sync.Cond // on mu: signalled when a push finishes
	baseURL  string     // URL once started; "" when only Handler() is used
	clk      clock
	tok      tokenState
	cards    map[string]*Card
	media    map[string]*media
	links    map[string]*pdfLink
	invoices map[invoiceKey]*Invoice
	orders   map[string]bool // kind + order_id already inserted
	billings map[string]bool // kind + billing_no + billing_code already inserted
	encCodes map[string]invoiceKey
	encByKey map[invoiceKey]string
	requests []Request
	faults   map[string]*faultPlan
	push     pushState

	compState *componentState // the third-party platform side (component.go), created on first use
	bizst     *bizState       // merchant, reimburser, title and unified-issuing state (merchant.go), created on first use
	wecomst   *wecomState     // the WeCom side (wecom.go), created on first use

	fapiaoOnce sync.Once    // creates fapiaoSt (fapiao.go)
	fapiaoSt   *fapiaoState // the WeChat Pay e-invoice side (fapiao*.go), created on first use
}

// Option configures a Server.
type Option func(*config)

type config struct {
	appID, appSecret string
	clockStart       time.Time // zero: wall clock
	authRequired     bool
	pushURL          string
	pushCfg          PushConfig
	pushTimeout      time.Duration
	pushRetries      int
	logger           *slog.Logger
	publicURL        string
	corp             wecomCorp // WithWeComCorp (wecom.go)
	fapiao           fapiaoOptions
	control          bool // WithControlAPI (control.go)
}

// WithApp sets the fake account's appid and secret instead of random ones.
func WithApp(appID, appSecret string) Option {
	return func(c *config) { c.appID, c.appSecret = appID, appSecret }
}

// WithClock freezes the server's clock at start: it then moves only with
// Server.Advance, so token, PDF and download expiry are deterministic.
// Without it the clock follows the wall clock (plus whatever Advance added).
func WithClock(start time.Time) Option {
	return func(c *config) { c.clockStart = start }
}

// WithAuthorizationRequired makes /card/invoice/insert and /nontax/insertbill
// answer 72038 (invoice order never auth) for an order that was not authorized
// with Server.AuthorizeOrder. By default every order counts as authorized by
// its user, so the plain lifecycle works.
func WithAuthorizationRequired() Option {
	return func(c *config) { c.authRequired = true }
}

// WithEventPush makes the server push update_invoice_status events to url on
// every status change, signed with cfg.Token and, when cfg.EncodingAESKey is
// set, AES-encrypted for cfg.AppID, exactly as WeChat does.
//
// cfg.Timestamp and cfg.Nonce are normally left zero: each attempt is then
// signed with the wall-clock time (receivers check it against their own clock)
// and a fresh nonce. The event's CreateTime is the server's clock.
func WithEventPush(url string, cfg PushConfig) Option {
	return func(c *config) { c.pushURL, c.pushCfg = url, cfg }
}

// WithPushPolicy sets how pushes are retried: each attempt times out after
// timeout (WeChat: 5 s) and a failed push is retried up to retries times
// (WeChat: 3). Zero values keep WeChat's.
func WithPushPolicy(timeout time.Duration, retries int) Option {
	return func(c *config) { c.pushTimeout, c.pushRetries = timeout, retries }
}

// WithLogger logs one line per call (method, path, HTTP status, errcode,
// injected fault) to l. The query, and so the access token, is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithPublicURL sets the base URL the server puts in the links it hands out
// (getpdf's pdf_url; with WithControlAPI the user pages' links too), for a
// sandbox reached through another address than
// the one it listens on. By default the server's own URL is used, or the
// request's Host when only Handler is mounted.
func WithPublicURL(u string) Option {
	return func(c *config) { c.publicURL = strings.TrimRight(u, "/") }
}

// NewServer starts a fake WeChat server on a loopback port and returns it.
// Close it when done (t.Cleanup(srv.Close)).
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a server that is configured but not listening:
// call Start, or Serve with a listener of your own (the standalone sandbox),
// or mount Handler in a server of your own.
func NewUnstartedServer(opts ...Option) *Server {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.appID == "" {
		cfg.appID = "wx" + randHex(8)
	}
	if cfg.appSecret == "" {
		cfg.appSecret = randHex(16)
	}
	if cfg.pushTimeout <= 0 {
		cfg.pushTimeout = 5 * time.Second
	}
	if cfg.pushRetries <= 0 {
		cfg.pushRetries = 3
	}
	s := &Server{
		AppID:     cfg.appID,
		AppSecret: cfg.appSecret,
		cfg:       cfg,
		closing:   make(chan struct{}),
		clk:       newClock(cfg.clockStart),
		tok:       tokenState{tokens: map[string]*accessToken{}},
		cards:     map[string]*Card{},
		media:     map[string]*media{},
		links:     map[string]*pdfLink{},
		invoices:  map[invoiceKey]*Invoice{},
		orders:    map[string]bool{},
		billings:  map[string]bool{},
		encCodes:  map[string]invoiceKey{},
		encByKey:  map[invoiceKey]string{},
		faults:    map[string]*faultPlan{},
	}
	s.pushCond = sync.NewCond(&s.mu)
	s.CorpID, s.CorpSecret = cfg.corp.ids()
	s.routes = s.routeTable()
	errLog := log.New(io.Discard, "", 0)
	if cfg.logger != nil {
		errLog = slog.NewLogLogger(cfg.logger.Handler(), slog.LevelWarn)
	}
	s.httpSrv = &http.Server{Handler: s, ErrorLog: errLog, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// route is one endpoint of the fake.
type route struct {
	kind   routeKind
	handle func(c *call)
}

type routeKind int

const (
	routeAPI   routeKind = iota // POST, access_token in the query, non-empty body
	routeToken                  // the token endpoints: credentials instead of a token
	routeRaw                    // anything else (the PDF download link)
)

// routeTable maps each simulated path to its handler: adding an endpoint is
// one line here plus its handler in the file of its area.
func (s *Server) routeTable() map[string]route {
	rt := map[string]route{
		"/cgi-bin/token":                      {routeToken, s.handleToken},
		"/cgi-bin/stable_token":               {routeToken, s.handleStableToken},
		"/card/invoice/seturl":                {routeAPI, s.handleSetURL},
		"/card/invoice/platform/createcard":   {routeAPI, s.handleCreateCard},
		"/card/invoice/platform/setpdf":       {routeAPI, s.handleSetPDF},
		"/card/invoice/platform/getpdf":       {routeAPI, s.handleGetPDF},
		"/card/invoice/insert":                {routeAPI, s.refuseRejected(s.handleInsert)},
		"/card/code/decrypt":                  {routeAPI, s.handleDecryptCode},
		"/card/invoice/platform/updatestatus": {routeAPI, s.handleUpdateStatus},
		"/nontax/createbillcard":              {routeAPI, s.handleCreateBillCard},
		"/nontax/insertbill":                  {routeAPI, s.refuseRejected(s.handleInsertBill)},
		downloadPath:                          {routeRaw, s.handleDownload},

		// The third-party platform (component.go): component_access_token in the query.
		"/cgi-bin/component/api_component_token":     {routeToken, s.handleComponentToken},
		"/cgi-bin/component/api_start_push_ticket":   {routeToken, s.handleStartPushTicket},
		"/cgi-bin/component/api_create_preauthcode":  {routeToken, s.handleCreatePreAuthCode},
		"/cgi-bin/component/api_query_auth":          {routeToken, s.handleQueryAuth},
		"/cgi-bin/component/api_authorizer_token":    {routeToken, s.handleAuthorizerToken},
		"/cgi-bin/component/api_get_authorizer_list": {routeToken, s.handleAuthorizerList},

		// The merchant, reimburser, title and fiscal-bill sides (merchant.go, reimburse.go, title.go, nontaxbill.go).
		"/cgi-bin/ticket/getticket":                   {routeRaw, s.handleGetTicket},
		"/card/invoice/getauthurl":                    {routeAPI, s.handleGetAuthURL},
		"/card/invoice/getauthdata":                   {routeAPI, s.handleGetAuthData},
		"/card/invoice/rejectinsert":                  {routeAPI, s.handleRejectInsert},
		"/card/invoice/setbizattr":                    {routeAPI, s.handleSetBizAttr},
		"/card/invoice/makeoutinvoice":                {routeAPI, s.handleMakeOutInvoice},
		"/card/invoice/clearoutinvoice":               {routeAPI, s.handleClearOutInvoice},
		"/card/invoice/queryinvoceinfo":               {routeAPI, s.handleQueryInvoiceInfo},
		"/card/invoice/reimburse/getinvoiceinfo":      {routeAPI, s.handleGetInvoiceInfo},
		"/card/invoice/reimburse/getinvoicebatch":     {routeAPI, s.handleGetInvoiceBatch},
		"/card/invoice/reimburse/updateinvoicestatus": {routeAPI, s.handleUpdateInvoiceStatus},
		"/card/invoice/reimburse/updatestatusbatch":   {routeAPI, s.handleUpdateStatusBatch},
		"/card/invoice/biz/getusertitleurl":           {routeAPI, s.handleGetUserTitleURL},
		"/card/invoice/biz/getselecttitleurl":         {routeAPI, s.handleGetSelectTitleURL},
		"/card/invoice/scantitle":                     {routeAPI, s.handleScanTitle},
		"/nontax/getbillauthurl":                      {routeAPI, s.handleGetBillAuthURL},
	}
	for path, r := range s.wecomRoutes() { // the WeCom side (wecom.go)
		rt[path] = r
	}
	return rt
}

// Start starts the server on a loopback port and sets URL. It panics if the
// server was already started or if no loopback port can be had.
func (s *Server) Start() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic("wxinvoicetest: failed to listen on a loopback port: " + err.Error())
		}
	}
	s.setBase(l)
	go func() { _ = s.httpSrv.Serve(l) }()
}

// Serve serves on l until Close and then returns nil (or the error that
// stopped it). It sets URL from l's address unless URL was already set; an
// unspecified listening address (0.0.0.0, [::]) is given as 127.0.0.1.
// Use WithPublicURL when clients reach the sandbox through another address.
func (s *Server) Serve(l net.Listener) error {
	s.setBase(l)
	err := s.httpSrv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) setBase(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseURL != "" {
		panic("wxinvoicetest: server already started")
	}
	if s.URL == "" {
		host := l.Addr().String()
		if ta, ok := l.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
			host = net.JoinHostPort("127.0.0.1", itoa(ta.Port))
		}
		s.URL = "http://" + host
	}
	s.baseURL = s.URL
}

// Close stops the server: it aborts injected delays, waits (up to 5 s) for
// calls in progress, closes the listener, and then waits for queued event
// pushes to be delivered or to fail. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		// A short grace for answers in flight; connections a client opened
		// but never used would otherwise hold Shutdown for 5 s.
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			_ = s.httpSrv.Close()
		}
		s.WaitPushes()
		s.fapiaoClose()
	})
}

// Handler returns the server's http.Handler (the server itself), to mount in
// a server of your own; links it hands out then use WithPublicURL or the
// request's Host.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP answers one request: it is recorded, injected faults apply first
// (before any state change), then the endpoint's handler runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.control && s.serveControl(w, r) { // the sandbox's control API and pages, not recorded (control.go)
		return
	}
	start := time.Now()
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	idx := s.record(r, body)

	rec := httptest.NewRecorder()
	c := &call{s: s, w: rec, r: r, body: body, query: r.URL.Query()}
	f, hasFault := s.takeFault(r.URL.Path)
	faultName := ""
	switch {
	case hasFault:
		faultName = f.name()
		if !s.applyDelay(r.Context(), f.Delay) {
			// The client gave up or the server is closing: nothing was
			// done, and nothing is answered.
			s.finish(idx, 0, 0, faultName, true)
			s.log(r, 0, 0, faultName, start)
			drop(w)
			return
		}
		switch {
		case f.Drop:
			s.finish(idx, 0, 0, faultName, true)
			s.log(r, 0, 0, faultName, start)
			drop(w)
			return
		case f.ErrCode != 0:
			msg := f.ErrMsg
			if msg == "" {
				msg = errMsg(f.ErrCode) + ridSuffix()
			}
			c.writeJSON(http.StatusOK, &wire.Status{ErrCode: wire.Int(f.ErrCode), ErrMsg: msg})
		case f.HTTPStatus != 0:
			ct := f.ContentType
			if ct == "" {
				ct = "text/html; charset=utf-8"
			}
			rec.Header().Set("Content-Type", ct)
			rec.WriteHeader(f.HTTPStatus)
			_, _ = rec.Write(f.Body)
		default: // a pure delay (or LoseResponse): WeChat was slow, then acted
			s.dispatch(c, readErr)
		}
	default:
		s.dispatch(c, readErr)
	}
	s.signFapiaoAnswer(r, rec)

	code := responseErrCode(rec)
	if hasFault && f.LoseResponse {
		s.finish(idx, rec.Code, code, faultName, true)
		s.log(r, rec.Code, code, faultName, start)
		drop(w)
		return
	}
	s.finish(idx, rec.Code, code, faultName, hasFault)
	s.log(r, rec.Code, code, faultName, start)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// dispatch runs the generic checks of the route's kind and then its handler.
//
// Order of the checks for a business endpoint (WeChat does not document it):
// method (43002), access_token present (41001), token valid (40014 unknown,
// 40001 revoked or superseded, 42001 expired), body present (44002); the
// handler then decodes the body (47001) and checks the fields.
func (s *Server) dispatch(c *call, readErr error) {
	if s.serveFapiao(c, readErr) {
		return
	}
	rt, ok := s.routes[c.r.URL.Path]
	if !ok {
		// Unknown path: not simulated. WeChat answers unknown APIs with
		// 48001 (api unauthorized); the 404 makes the gap obvious.
		c.writeJSON(http.StatusNotFound, &wire.Status{ErrCode: 48001,
			ErrMsg: "api unauthorized, wxinvoicetest does not simulate " + c.r.URL.Path + ridSuffix()})
		return
	}
	if readErr != nil || len(c.body) > maxBody {
		c.fail(47001, "body unreadable or larger than 32 MiB")
		return
	}
	if rt.kind == routeAPI {
		if c.r.Method != http.MethodPost {
			c.fail(43002, "")
			return
		}
		tok := c.query.Get("access_token")
		if tok == "" {
			c.fail(41001, "")
			return
		}
		if code, detail := s.checkToken(tok); code != 0 {
			c.fail(code, detail)
			return
		}
		if len(bytes.TrimSpace(c.body)) == 0 {
			c.fail(44002, "")
			return
		}
	}
	rt.handle(c)
}

// call is one request being answered.
type call struct {
	s     *Server
	w     *httptest.ResponseRecorder
	r     *http.Request
	body  []byte
	query url.Values
}

// decode unmarshals the JSON body into v, answering 47001 when it is not JSON.
func (c *call) decode(v any) bool {
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(47001, "")
		return false
	}
	return true
}

// ok answers v (a wire response whose Status is filled in here) with HTTP 200.
func (c *call) ok(v wire.Enveloped) {
	*v.WireStatus() = wire.Status{ErrCode: 0, ErrMsg: "ok"}
	c.writeJSON(http.StatusOK, v)
}

// fail answers errcode code with WeChat's errmsg for it, the detail (if any)
// after a comma, and a " rid: …" suffix as WeChat appends.
func (c *call) fail(code int, detail string) {
	msg := errMsg(code)
	if detail != "" {
		msg += ", " + detail
	}
	c.writeJSON(http.StatusOK, &wire.Status{ErrCode: wire.Int(code), ErrMsg: msg + ridSuffix()})
}

func (c *call) writeJSON(status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	c.w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// baseFor returns the base URL for links handed out in answer to r.
func (c *call) baseFor() string {
	if c.s.cfg.publicURL != "" {
		return c.s.cfg.publicURL
	}
	c.s.mu.Lock()
	b := c.s.baseURL
	c.s.mu.Unlock()
	if b != "" {
		return b
	}
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host
}

// errMsg returns the errmsg WeChat answers for code: the live API's English
// text for the global codes, else the documented text of the errcode table.
func errMsg(code int) string {
	switch code {
	case -1:
		return "system error"
	case 40001:
		return "invalid credential, access_token is invalid or not latest"
	case 40002:
		return "invalid grant_type"
	case 40013:
		return "invalid appid"
	case 40014:
		return "invalid access_token"
	case 40056:
		return "invalid serial code"
	case 40125:
		return "invalid appsecret"
	case 41001:
		return "access_token missing"
	case 42001:
		return "access_token expired"
	case 43002:
		return "require POST method"
	case 44002:
		return "empty post data"
	case 45009:
		return "reach max api daily quota limit"
	case 47001:
		return "data format error"
	case 48001:
		return "api unauthorized"
	}
	if d := wxinvoice.ErrorDescription(code); d != "" {
		return d
	}
	return "error"
}

// ridSuffix returns a WeChat-style request id suffix (" rid: 64f4444a-5f19e663-62c00404").
func ridSuffix() string {
	b := randBytes(12)
	h := hex.EncodeToString(b)
	return " rid: " + h[:8] + "-" + h[8:16] + "-" + h[16:24]
}

// responseErrCode extracts the errcode of a JSON answer (0 when none).
func responseErrCode(rec *httptest.ResponseRecorder) int {
	if !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		return 0
	}
	var st wire.Status
	if json.Unmarshal(rec.Body.Bytes(), &st) != nil {
		return 0
	}
	return int(st.ErrCode)
}

func (s *Server) log(r *http.Request, status, errcode int, fault string, start time.Time) {
	if s.cfg.logger == nil {
		return
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "errcode", errcode,
		"duration", time.Since(start)}
	if fault != "" {
		attrs = append(attrs, "fault", fault)
	}
	s.cfg.logger.Info("wxinvoicetest call", attrs...)
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// ---- Recording ----

// Request is one request the server received, as recorded by Server.Requests.
type Request struct {
	Time        time.Time  // the server's clock when it arrived
	Method      string     // e.g. "POST"
	Path        string     // e.g. "/card/invoice/insert"
	Query       url.Values // the query, access_token included (it is a fake)
	ContentType string     // the Content-Type header
	Body        []byte     // the whole body, multipart bodies included
	Status      int        // HTTP status answered; 0 when the connection was dropped or the call aborted
	ErrCode     int        // errcode answered (0 for success or a non-JSON answer)
	Fault       string     // the injected fault that applied, "" when none
}

func (s *Server) record(r *http.Request, body []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path { // counted here so that faulted fetches count too
	case "/cgi-bin/token":
		s.tok.stats.Token++
	case "/cgi-bin/stable_token":
		s.tok.stats.Stable++
	}
	s.requests = append(s.requests, Request{
		Time:        s.clk.now(),
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.Query(),
		ContentType: r.Header.Get("Content-Type"),
		Body:        body,
	})
	return len(s.requests) - 1
}

func (s *Server) finish(idx, status, errcode int, fault string, faulted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx >= len(s.requests) { // ResetRequests ran meanwhile
		return
	}
	rq := &s.requests[idx]
	rq.Status, rq.ErrCode = status, errcode
	if faulted {
		rq.Fault = fault
	}
}

// Requests returns a copy of every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// Calls returns how many requests were received on path.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests (not the token fetch counts),
// those of Fapiao().Requests included.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	if s.fapiaoSt != nil {
		s.fapiaoSt.requests = nil
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ---- Fault injection ----

// Fault is an injected failure of one call. Exactly what WeChat did is
// stated by each kind: except for LoseResponse, a fault applies before any
// state change, so the server did nothing.
//
// Kinds, checked in this order after the Delay:
//   - Drop: the connection is closed without an answer.
//   - ErrCode: HTTP 200 with {"errcode":ErrCode,"errmsg":ErrMsg} (ErrMsg
//     defaults to WeChat's text for the code plus a rid suffix).
//   - HTTPStatus: that status with Body (e.g. an HTML 502 page) and
//     ContentType (default text/html).
//   - none of the above: the call is handled normally after the Delay
//     (a slow WeChat), and if LoseResponse is set the connection is then
//     closed without the answer (WeChat acted, the client cannot know).
type Fault struct {
	ErrCode      int
	ErrMsg       string
	HTTPStatus   int
	Body         []byte
	ContentType  string
	Delay        time.Duration // wait before answering; aborted (nothing done, nothing answered) when the client gives up or Close is called
	Drop         bool
	LoseResponse bool
}

func (f Fault) name() string {
	switch {
	case f.Drop:
		return "drop"
	case f.ErrCode != 0:
		return "errcode " + itoa(f.ErrCode)
	case f.HTTPStatus != 0:
		return "http " + itoa(f.HTTPStatus)
	case f.LoseResponse:
		return "lose-response"
	default:
		return "delay " + f.Delay.String()
	}
}

// faultPlan is the faults queued for one path: n-shot ones first, then the
// persistent one.
type faultPlan struct {
	next       []Fault
	persistent *Fault
}

// AnyPath is the path under which a fault applies to every path that has no
// fault of its own.
const AnyPath = "*"

// Inject makes every call to path (e.g. "/card/invoice/insert", or AnyPath)
// fail with f until ClearFaults. Faults queued with FailNext go first.
func (s *Server) Inject(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan(path).persistent = &f
}

// FailNext makes the next n calls to path (or AnyPath) fail with f; calls to
// FailNext queue up in order.
func (s *Server) FailNext(path string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan(path)
	for i := 0; i < n; i++ {
		p.next = append(p.next, f)
	}
}

// ClearFaults removes every fault queued or injected for path ("" clears all
// paths).
func (s *Server) ClearFaults(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path == "" {
		s.faults = map[string]*faultPlan{}
		return
	}
	delete(s.faults, path)
}

func (s *Server) plan(path string) *faultPlan {
	p := s.faults[path]
	if p == nil {
		p = &faultPlan{}
		s.faults[path] = p
	}
	return p
}

func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{path, AnyPath} {
		p := s.faults[key]
		if p == nil {
			continue
		}
		if len(p.next) > 0 {
			f := p.next[0]
			p.next = p.next[1:]
			return f, true
		}
		if p.persistent != nil {
			return *p.persistent, true
		}
	}
	return Fault{}, false
}

// applyDelay waits d; false when the client went away or the server closes.
func (s *Server) applyDelay(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// ---- Clock ----

// clock is the server's notion of now: a frozen instant moved only by
// Advance (WithClock), or the wall clock plus Advance's offset.
type clock struct {
	frozen bool
	base   time.Time
	offset time.Duration
}

func newClock(start time.Time) clock {
	if start.IsZero() {
		return clock{}
	}
	return clock{frozen: true, base: start}
}

func (c *clock) now() time.Time {
	if c.frozen {
		return c.base.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Now returns the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clk.now()
}

// Advance moves the server's clock forward by d (a negative d is ignored):
// tokens, uploaded PDFs and download links expire as if d had passed.
func (s *Server) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clk.offset += d
	s.fapiaoAdvanced()
}

// ---- Identities and random ids ----

// SPAppID returns the platform identifier (s_pappid) found in the invoice_url
// answered by /card/invoice/seturl. It is derived from the appid, so it is
// stable across servers with the same appid, and URL-safe.
func (s *Server) SPAppID() string {
	sum := sha256.Sum256([]byte("s_pappid:" + s.AppID))
	return base64.RawURLEncoding.EncodeToString(append([]byte(s.AppID+"_"), sum[:12]...))
}

// Username returns the fake account's original id (gh_…), the ToUserName of
// the events it pushes.
func (s *Server) Username() string {
	sum := sha256.Sum256([]byte("username:" + s.AppID))
	return "gh_" + hex.EncodeToString(sum[:6])
}

// accountPrefix is the 5 characters WeChat puts after the first letter of the
// account's card ids and openids ("pjZ8Yt…", "ojZ8Yt…").
func (s *Server) accountPrefix() string {
	sum := sha256.Sum256([]byte("prefix:" + s.AppID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:5]
}

// newCardID returns a fresh 28-character card id like "pjZ8Yt7Um2jYxzneP8GomnxoVFWo".
func (s *Server) newCardID() string { return "p" + s.accountPrefix() + randB64(22) }

// newOpenID returns a fresh 28-character openid like "ojZ8Ytz4lESgdWZ34L_R1TvB2Kds".
func (s *Server) newOpenID() string { return "o" + s.accountPrefix() + randB64(22) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("wxinvoicetest: crypto/rand: " + err.Error())
	}
	return b
}

func randHex(n int) string { return hex.EncodeToString(randBytes(n)) }

func randB64(n int) string { return base64.RawURLEncoding.EncodeToString(randBytes(n))[:n] }

// randDigits returns n random decimal digits, the first non-zero.
func randDigits(n int) string {
	b := randBytes(n)
	out := make([]byte, n)
	for i, v := range b {
		out[i] = '0' + v%10
	}
	if out[0] == '0' {
		out[0] = '1'
	}
	return string(out)
}

func itoa(n int) string { return strconv.Itoa(n) }
