package wxinvoicetest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

// This file is the sandbox's control API: everything the Go API offers tests
// (state, recorded requests, pushes, the clock, faults, the user's and the
// reimburser's steps), as JSON over HTTP under ControlPrefix, for scripts in
// any language. It is served only with WithControlAPI, and its requests are
// not recorded (Requests lists the WeChat API calls only).

// ControlPrefix is the path prefix of the control API, the user pages and
// the console's assets. WeChat serves nothing under it, so it cannot collide
// with a simulated path.
const ControlPrefix = "/sandbox/"

// maxControlBody bounds a control request's JSON body.
const maxControlBody = 1 << 20

//go:embed openapi.json
var openAPIDoc []byte

// WithControlAPI serves the sandbox's control API under ControlPrefix (JSON;
// described by the OpenAPI document at /sandbox/openapi.json), the pages of
// the simulated WeChat user under /sandbox/pages/, and the console at "/".
// The links the server hands out for a person to open (getauthurl's and
// getbillauthurl's auth_url, the title links) then point at those pages on
// the server's URL (WithPublicURL, else the URL it serves on) instead of
// mp.weixin.qq.com. The control API has no authentication: serve it on
// loopback or a trusted network only.
func WithControlAPI() Option {
	return func(c *config) { c.control = true }
}

// controlRoute is one route of the control API, user pages and console.
type controlRoute struct {
	method, path string
	handle       func(w http.ResponseWriter, r *http.Request)
}

// controlRoutes lists every route served with WithControlAPI; the OpenAPI
// document describes exactly these (TestControlOpenAPIMatchesRoutes).
func (s *Server) controlRoutes() []controlRoute {
	return []controlRoute{
		{http.MethodGet, "/", s.handleConsole},
		{http.MethodGet, "/favicon.ico", s.ctlFavicon},
		{http.MethodGet, "/sandbox/healthz", s.ctlHealth},
		{http.MethodGet, "/sandbox/openapi.json", s.ctlOpenAPI},
		{http.MethodGet, "/sandbox/state", s.ctlState},
		{http.MethodGet, "/sandbox/requests", s.ctlRequests},
		{http.MethodGet, "/sandbox/pushes", s.ctlPushes},
		{http.MethodPost, "/sandbox/clock/advance", s.ctlAdvance},
		{http.MethodGet, "/sandbox/faults", s.ctlFaults},
		{http.MethodPost, "/sandbox/faults", s.ctlAddFault},
		{http.MethodDelete, "/sandbox/faults", s.ctlClearFaults},
		{http.MethodPost, "/sandbox/reset", s.ctlReset},
		{http.MethodGet, "/sandbox/pdf", s.ctlPDF},
		{http.MethodPost, "/sandbox/user/authorize", s.ctlUserAuthorize},
		{http.MethodPost, "/sandbox/user/decline", s.ctlUserDecline},
		{http.MethodPost, "/sandbox/user/title", s.ctlUserTitle},
		{http.MethodPost, "/sandbox/user/title-qrcode", s.ctlUserTitleQRCode},
		{http.MethodPost, "/sandbox/reimburser/status", s.ctlReimburserStatus},
		{http.MethodPost, "/sandbox/wecom/users", s.ctlWeComUser},
		{http.MethodPost, "/sandbox/fapiao/user/apply", s.ctlFapiaoApply},
		{http.MethodPost, "/sandbox/fapiao/user/title", s.ctlFapiaoTitle},
		{http.MethodPost, "/sandbox/fapiao/user/discard", s.ctlFapiaoDiscard},
		{http.MethodGet, pagesPrefix + "authorize", s.pageAuthorize},
		{http.MethodPost, pagesPrefix + "authorize", s.pageAuthorizeSubmit},
		{http.MethodGet, pagesPrefix + "title", s.pageTitle},
		{http.MethodPost, pagesPrefix + "title", s.pageTitleSubmit},
		{http.MethodGet, fapiaoTitlePagePath, s.pageFapiaoTitle},
		{http.MethodPost, fapiaoTitlePagePath, s.pageFapiaoTitleSubmit},
	}
}

// serveControl answers r when it is a control, page or console route and
// reports whether it did. Unknown paths under ControlPrefix answer a JSON
// 404; other paths are left to the WeChat API.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if p != "/" && p != "/favicon.ico" && p != fapiaoTitlePagePath && !strings.HasPrefix(p, ControlPrefix) {
		return false
	}
	allowed := []string{}
	for _, rt := range s.controlRoutes() {
		if rt.path != p {
			continue
		}
		if rt.method == r.Method || (rt.method == http.MethodGet && r.Method == http.MethodHead) {
			rt.handle(w, r)
			return true
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		ctlError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+p+" (allowed: "+strings.Join(allowed, ", ")+")")
		return true
	}
	if p == "/" || p == "/favicon.ico" {
		return false
	}
	ctlError(w, http.StatusNotFound, "no sandbox route "+p+" (see /sandbox/openapi.json)")
	return true
}

// ctlError answers {"error": msg} with status.
func ctlError(w http.ResponseWriter, status int, msg string) {
	ctlJSON(w, status, map[string]string{"error": msg})
}

func ctlJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ctlDecode reads r's JSON body into v (unknown fields refused), answering
// 400 and returning false when it cannot. An empty body decodes as {}.
func ctlDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil || len(body) > maxControlBody {
		ctlError(w, http.StatusBadRequest, "body unreadable or larger than 1 MiB")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ctlError(w, http.StatusBadRequest, "body is not the expected JSON object: "+err.Error())
		return false
	}
	if dec.More() {
		ctlError(w, http.StatusBadRequest, "body has data after the JSON object")
		return false
	}
	return true
}

func (s *Server) ctlHealth(w http.ResponseWriter, _ *http.Request) {
	ctlJSON(w, http.StatusOK, map[string]any{"status": "ok", "now": s.Now()})
}

// ctlFavicon answers the browser's icon request with nothing, so that
// opening the console does not fill the request log.
func (s *Server) ctlFavicon(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ctlOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPIDoc)
}

// ---- clock ----

func (s *Server) ctlAdvance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Seconds *float64 `json:"seconds"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	switch {
	case req.Seconds == nil:
		ctlError(w, http.StatusBadRequest, "seconds is required")
		return
	case *req.Seconds <= 0 || *req.Seconds > 100*365*24*3600:
		ctlError(w, http.StatusBadRequest, "seconds must be > 0 and at most 100 years")
		return
	}
	s.Advance(time.Duration(*req.Seconds * float64(time.Second)))
	ctlJSON(w, http.StatusOK, map[string]any{"now": s.Now()})
}

// ---- faults ----

// ctlFault is a fault as the control API takes and lists it.
type ctlFault struct {
	Path         string `json:"path"`
	ErrCode      int    `json:"errcode,omitempty"`
	ErrMsg       string `json:"errmsg,omitempty"`
	HTTPStatus   int    `json:"http_status,omitempty"`
	Body         string `json:"body,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	Drop         bool   `json:"drop,omitempty"`
	LoseResponse bool   `json:"lose_response,omitempty"`
	DelayMS      int64  `json:"delay_ms,omitempty"`
	// Count is how many calls fail (FailNext); 0 makes the fault apply until
	// cleared (Inject).
	Count int `json:"count,omitempty"`
}

func (f ctlFault) fault() Fault {
	return Fault{ErrCode: f.ErrCode, ErrMsg: f.ErrMsg, HTTPStatus: f.HTTPStatus, Body: []byte(f.Body),
		ContentType: f.ContentType, Drop: f.Drop, LoseResponse: f.LoseResponse,
		Delay: time.Duration(f.DelayMS) * time.Millisecond}
}

func toCtlFault(path string, f Fault, count int) ctlFault {
	return ctlFault{Path: path, ErrCode: f.ErrCode, ErrMsg: f.ErrMsg, HTTPStatus: f.HTTPStatus, Body: string(f.Body),
		ContentType: f.ContentType, Drop: f.Drop, LoseResponse: f.LoseResponse, DelayMS: f.Delay.Milliseconds(), Count: count}
}

func (s *Server) ctlAddFault(w http.ResponseWriter, r *http.Request) {
	var f ctlFault
	if !ctlDecode(w, r, &f) {
		return
	}
	kinds := 0
	for _, set := range []bool{f.ErrCode != 0, f.HTTPStatus != 0, f.Drop, f.LoseResponse, f.DelayMS != 0} {
		if set {
			kinds++
		}
	}
	switch {
	case f.Path == "":
		ctlError(w, http.StatusBadRequest, `path is required (a WeChat path such as "/card/invoice/insert", or "*" for every path)`)
		return
	case f.Path != AnyPath && !strings.HasPrefix(f.Path, "/"):
		ctlError(w, http.StatusBadRequest, `path must start with "/" or be "*"`)
		return
	case strings.HasPrefix(f.Path, ControlPrefix):
		ctlError(w, http.StatusBadRequest, "path: the control API cannot be faulted")
		return
	case kinds == 0:
		ctlError(w, http.StatusBadRequest, "one of errcode, http_status, drop, lose_response, delay_ms is required")
		return
	case f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599):
		ctlError(w, http.StatusBadRequest, "http_status must be between 100 and 599")
		return
	case f.DelayMS < 0 || f.DelayMS > 600_000:
		ctlError(w, http.StatusBadRequest, "delay_ms must be between 0 and 600000")
		return
	case f.Count < 0 || f.Count > 10_000:
		ctlError(w, http.StatusBadRequest, "count must be between 0 (until cleared) and 10000")
		return
	}
	if f.Count == 0 {
		s.Inject(f.Path, f.fault())
	} else {
		s.FailNext(f.Path, f.Count, f.fault())
	}
	ctlJSON(w, http.StatusCreated, map[string]any{"faults": s.ctlFaultList()})
}

func (s *Server) ctlClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults(r.URL.Query().Get("path"))
	ctlJSON(w, http.StatusOK, map[string]any{"faults": s.ctlFaultList()})
}

func (s *Server) ctlFaults(w http.ResponseWriter, _ *http.Request) {
	ctlJSON(w, http.StatusOK, map[string]any{"faults": s.ctlFaultList()})
}

// ctlFaultList lists the faults queued or injected, by path: the n-shot ones
// grouped (count = how many calls they still fail), then the persistent one
// (count 0).
func (s *Server) ctlFaultList() []ctlFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	paths := make([]string, 0, len(s.faults))
	for p := range s.faults {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := []ctlFault{}
	for _, p := range paths {
		plan := s.faults[p]
		for i := 0; i < len(plan.next); {
			j := i + 1
			for j < len(plan.next) && faultEqual(plan.next[j], plan.next[i]) {
				j++
			}
			out = append(out, toCtlFault(p, plan.next[i], j-i))
			i = j
		}
		if plan.persistent != nil {
			out = append(out, toCtlFault(p, *plan.persistent, 0))
		}
	}
	return out
}

func faultEqual(a, b Fault) bool {
	return a.ErrCode == b.ErrCode && a.ErrMsg == b.ErrMsg && a.HTTPStatus == b.HTTPStatus && bytes.Equal(a.Body, b.Body) &&
		a.ContentType == b.ContentType && a.Delay == b.Delay && a.Drop == b.Drop && a.LoseResponse == b.LoseResponse
}

// ---- reset ----

func (s *Server) ctlReset(w http.ResponseWriter, _ *http.Request) {
	s.reset()
	ctlJSON(w, http.StatusOK, map[string]any{"status": "reset", "now": s.Now()})
}

// reset forgets the card-invoice side's state (templates, PDFs and their
// links, invoices and bills, orders and their authorizations, encrypt_codes,
// merchant settings, titles, unified invoices, locks), the recorded requests,
// the finished pushes and every fault. It keeps the identities, the issued
// access tokens and wx_card tickets (what a client caches stays valid), the
// reimbursers' tokens, the clock, the WeCom corp's members, the third-party
// platform and the WeChat Pay side.
func (s *Server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards = map[string]*Card{}
	s.media = map[string]*media{}
	s.links = map[string]*pdfLink{}
	s.invoices = map[invoiceKey]*Invoice{}
	s.orders = map[string]bool{}
	s.billings = map[string]bool{}
	s.encCodes = map[string]invoiceKey{}
	s.encByKey = map[invoiceKey]string{}
	s.faults = map[string]*faultPlan{}
	s.requests = nil
	if old := s.bizst; old != nil {
		s.bizst = nil
		s.biz().tickets, s.biz().parties = old.tickets, old.parties
	}
	kept := s.push.list[:0:0]
	for _, p := range s.push.list {
		if !p.Done {
			kept = append(kept, p)
		}
	}
	s.push.list = kept
}

// ---- the user and the reimburser ----

// ctlOrderStep is the body of /sandbox/user/authorize and /decline.
type ctlOrderStep struct {
	OrderID string `json:"order_id"`
	AuthURL string `json:"auth_url"`
	OpenID  string `json:"openid"`
	// The fields of a type 1 page (填写字段开票授权), reported by getauthdata.
	Info *ctlAuthInfo `json:"user_auth_info"`
}

type ctlAuthInfo struct {
	User *struct {
		Title string `json:"title"`
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"user_field"`
	Biz *struct {
		Title    string `json:"title"`
		TaxNo    string `json:"tax_no"`
		Addr     string `json:"addr"`
		Phone    string `json:"phone"`
		BankType string `json:"bank_type"`
		BankNo   string `json:"bank_no"`
	} `json:"biz_field"`
}

func (in *ctlAuthInfo) info() wxinvoice.UserAuthInfo {
	var out wxinvoice.UserAuthInfo
	if in == nil {
		return out
	}
	if u := in.User; u != nil {
		out.User = wxinvoice.UserAuthFields{Title: u.Title, Phone: u.Phone, Email: u.Email}
	}
	if b := in.Biz; b != nil {
		out.Biz = wxinvoice.BizAuthFields{Title: b.Title, TaxNo: b.TaxNo, Addr: b.Addr, Phone: b.Phone,
			BankType: b.BankType, BankNo: b.BankNo}
	}
	return out
}

// orderRef returns the order_id or auth_url of a step, or an error naming
// the fields.
func (st ctlOrderStep) orderRef() (string, error) {
	switch {
	case st.OrderID != "" && st.AuthURL != "":
		return "", errors.New("give order_id or auth_url, not both")
	case st.OrderID != "":
		return st.OrderID, nil
	case st.AuthURL != "":
		return st.AuthURL, nil
	}
	return "", errors.New("order_id or auth_url is required")
}

// userOpenID is the openid a user step acts as: the one given, else a new
// one of the account.
func (s *Server) userOpenID(openid string) string {
	if openid != "" {
		return openid
	}
	return s.newOpenID()
}

func (s *Server) ctlUserAuthorize(w http.ResponseWriter, r *http.Request) {
	var st ctlOrderStep
	if !ctlDecode(w, r, &st) {
		return
	}
	ref, err := st.orderRef()
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	openid := s.userOpenID(st.OpenID)
	if err := s.UserAuthorizeWithInfo(ref, openid, st.Info.info()); err != nil {
		ctlError(w, http.StatusConflict, err.Error())
		return
	}
	o, _ := s.authOrderByRef(ref)
	ctlJSON(w, http.StatusOK, ctlOrderOf(o))
}

func (s *Server) ctlUserDecline(w http.ResponseWriter, r *http.Request) {
	var st ctlOrderStep
	if !ctlDecode(w, r, &st) {
		return
	}
	ref, err := st.orderRef()
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	if st.Info != nil {
		ctlError(w, http.StatusBadRequest, "user_auth_info: a declining user fills nothing in")
		return
	}
	if err := s.UserDeclineAuthorization(ref, s.userOpenID(st.OpenID)); err != nil {
		ctlError(w, http.StatusConflict, err.Error())
		return
	}
	o, _ := s.authOrderByRef(ref)
	ctlJSON(w, http.StatusOK, ctlOrderOf(o))
}

// authOrderByRef returns the order named by its order_id or auth_url.
func (s *Server) authOrderByRef(ref string) (AuthOrder, bool) {
	s.mu.Lock()
	id := ref
	if oid, ok := s.biz().authURLs[ref]; ok {
		id = oid
	}
	s.mu.Unlock()
	return s.AuthOrder(id)
}

// ctlTitle is a user's title (发票抬头) in the control API.
type ctlTitle struct {
	// Type is "business" (单位, the default) or "person" (个人).
	Type     string `json:"type"`
	Title    string `json:"title"`
	TaxNo    string `json:"tax_no"`
	Addr     string `json:"addr"`
	Phone    string `json:"phone"`
	BankType string `json:"bank_type"`
	BankNo   string `json:"bank_no"`
}

func (t ctlTitle) userTitle() (wxinvoice.UserTitle, error) {
	out := wxinvoice.UserTitle{Title: t.Title, TaxNo: t.TaxNo, Addr: t.Addr, Phone: t.Phone, BankType: t.BankType, BankNo: t.BankNo}
	switch t.Type {
	case "", "business":
		out.Type = wxinvoice.TitleTypeBusiness
	case "person":
		out.Type = wxinvoice.TitleTypePerson
	default:
		return out, errors.New(`title.type must be "business" or "person"`)
	}
	if t.Title == "" {
		return out, errors.New("title.title is required")
	}
	return out, nil
}

func (s *Server) ctlUserTitle(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL    string   `json:"url"`
		OpenID string   `json:"openid"`
		Title  ctlTitle `json:"title"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	if req.URL == "" {
		ctlError(w, http.StatusBadRequest, "url is required (the link getselecttitleurl answered)")
		return
	}
	t, err := req.Title.userTitle()
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	openid := s.userOpenID(req.OpenID)
	if err := s.UserSubmitTitle(req.URL, openid, t); err != nil {
		ctlError(w, http.StatusConflict, err.Error())
		return
	}
	ctlJSON(w, http.StatusOK, map[string]any{"submitted": true, "openid": openid})
}

func (s *Server) ctlUserTitleQRCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title ctlTitle `json:"title"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	t, err := req.Title.userTitle()
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctlJSON(w, http.StatusOK, map[string]any{"scan_text": s.AddUserTitle(t)})
}

func (s *Server) ctlReimburserStatus(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CardID string `json:"card_id"`
		Code   string `json:"code"`
		Status string `json:"status"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	switch {
	case req.CardID == "":
		ctlError(w, http.StatusBadRequest, "card_id is required")
		return
	case req.Code == "":
		ctlError(w, http.StatusBadRequest, "code is required")
		return
	case !wxinvoice.ReimburseStatus(req.Status).Valid():
		ctlError(w, http.StatusBadRequest, "status must be one of INVOICE_REIMBURSE_INIT, INVOICE_REIMBURSE_LOCK, INVOICE_REIMBURSE_CLOSURE, INVOICE_REIMBURSE_CANCEL")
		return
	}
	if err := s.SetStatus(req.CardID, req.Code, wxinvoice.ReimburseStatus(req.Status)); err != nil {
		ctlError(w, http.StatusNotFound, err.Error())
		return
	}
	inv, _ := s.Invoice(req.CardID, req.Code)
	ctlJSON(w, http.StatusOK, s.ctlInvoiceOf(inv, ""))
}

func (s *Server) ctlWeComUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"userid"`
		OpenID string `json:"openid"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	if req.UserID == "" {
		ctlError(w, http.StatusBadRequest, "userid is required")
		return
	}
	openid := s.userOpenID(req.OpenID)
	s.AddWeComUser(req.UserID, openid)
	ctlJSON(w, http.StatusOK, map[string]string{"userid": req.UserID, "openid": openid})
}

// ---- the WeChat Pay user ----

func (s *Server) ctlFapiaoApply(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MchID         string      `json:"mchid"`
		SubMchID      string      `json:"sub_mchid"`
		TransactionID string      `json:"transaction_id"`
		OpenID        string      `json:"openid"`
		Amount        int64       `json:"amount"`
		OutTradeNo    string      `json:"out_trade_no"`
		Title         FapiaoTitle `json:"title"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	if req.MchID == "" {
		ctlError(w, http.StatusBadRequest, "mchid is required")
		return
	}
	id, err := s.Fapiao().UserApply(FapiaoUserApply{MchID: req.MchID, SubMchID: req.SubMchID, TransactionID: req.TransactionID,
		OpenID: req.OpenID, Amount: req.Amount, OutTradeNo: req.OutTradeNo, Title: req.Title})
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctlJSON(w, http.StatusOK, map[string]string{"fapiao_apply_id": id})
}

func (s *Server) ctlFapiaoTitle(w http.ResponseWriter, r *http.Request) {
	var req struct {
		TitleURL string      `json:"title_url"`
		Title    FapiaoTitle `json:"title"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	if req.TitleURL == "" {
		ctlError(w, http.StatusBadRequest, "title_url is required (the link GET /user-title/title-url answered)")
		return
	}
	if err := s.Fapiao().UserFillTitle(req.TitleURL, req.Title); err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctlJSON(w, http.StatusOK, map[string]bool{"submitted": true})
}

func (s *Server) ctlFapiaoDiscard(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MchID         string `json:"mchid"`
		SubMchID      string `json:"sub_mchid"`
		FapiaoApplyID string `json:"fapiao_apply_id"`
		FapiaoID      string `json:"fapiao_id"`
	}
	if !ctlDecode(w, r, &req) {
		return
	}
	for _, f := range []struct{ name, v string }{{"mchid", req.MchID}, {"fapiao_apply_id", req.FapiaoApplyID}, {"fapiao_id", req.FapiaoID}} {
		if f.v == "" {
			ctlError(w, http.StatusBadRequest, f.name+" is required")
			return
		}
	}
	err := s.Fapiao().UserDiscardCard(FapiaoInvoiceRef{MchID: req.MchID, SubMchID: req.SubMchID,
		FapiaoApplyID: req.FapiaoApplyID, FapiaoID: req.FapiaoID})
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctlJSON(w, http.StatusOK, map[string]bool{"discarded": true})
}

// ---- PDFs ----

// ctlPDF serves an uploaded PDF by its s_media_id (the console's link; it
// does not need a pdf_url).
func (s *Server) ctlPDF(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("s_media_id")
	if id == "" {
		ctlError(w, http.StatusBadRequest, "s_media_id is required")
		return
	}
	data, ok := s.PDF(id)
	if !ok {
		ctlError(w, http.StatusNotFound, "no PDF "+id+" is held (never uploaded, or purged after 3 days)")
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="`+url.PathEscape(id)+`.pdf"`)
	_, _ = w.Write(data)
}
