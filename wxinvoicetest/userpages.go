package wxinvoicetest

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

// This file serves, with WithControlAPI, the pages a WeChat user opens from
// the links the fake hands out (the authorization page of getauthurl and
// getbillauthurl, the title pages of getusertitleurl and getselecttitleurl,
// the WeChat Pay title_url) and the console at "/". Pages are server-rendered
// html/template with no JavaScript and nothing loaded from elsewhere; a form
// submission does what WeChat does when the user taps the button (the same
// Go calls as the control API: state change and push).

// pagesPrefix is where the simulated user's pages are served.
const pagesPrefix = ControlPrefix + "pages/"

// fapiaoTitlePagePath is the path of the WeChat Pay title_url the fake hands
// out (GET /user-title/title-url); served as a page with WithControlAPI.
const fapiaoTitlePagePath = "/fapiao/user-title"

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"yuan":   yuan,
	"clock":  func(t time.Time) string { return formatTime(t) },
	"errmsg": func(code int) string { return errMsg(code) },
}).ParseFS(templateFS, "templates/*.html"))

// yuan formats an amount in fen as yuan ("12.34").
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(chinaTime).Format("2006-01-02 15:04:05")
}

// renderPage renders template name with data as an HTML answer.
func renderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		ctlError(w, http.StatusInternalServerError, "rendering "+name+": "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageMessage is the data of the result and error pages.
type pageMessage struct {
	Title, Message string
	Error          bool
	Link, LinkText string
}

func pageError(w http.ResponseWriter, status int, msg string) {
	renderPage(w, status, "message.html", pageMessage{Title: "出错了 (error)", Message: msg, Error: true})
}

// pageBase returns the base URL of the user pages, or "" when links are to
// stay WeChat's (no control API, or the server's URL is unknown: only
// Handler is mounted and WithPublicURL is not set). Callers hold s.mu.
func (s *Server) pageBase() string {
	if !s.cfg.control {
		return ""
	}
	if s.cfg.publicURL != "" {
		return s.cfg.publicURL
	}
	return s.baseURL
}

// pageLink returns the user page link for page with query q, or "" (see
// pageBase). Callers hold s.mu.
func (s *Server) pageLink(page string, q url.Values) string {
	base := s.pageBase()
	if base == "" {
		return ""
	}
	return base + pagesPrefix + page + "?" + q.Encode()
}

// linkWithParam finds, among links, the one whose query parameter name is
// value.
func linkWithParam(links map[string]string, name, value string) (string, bool) {
	if value == "" {
		return "", false
	}
	for l := range links {
		if u, err := url.Parse(l); err == nil && u.Query().Get(name) == value {
			return l, true
		}
	}
	return "", false
}

// ---- the authorization page (授权页) ----

type authPage struct {
	AuthKey string
	Order   ctlOrder
	Payee   string
	OpenID  string
	AppID   string
}

// authOrderByKey returns the auth_url carrying auth_key and its order.
func (s *Server) authOrderByKey(key string) (string, AuthOrder, bool) {
	s.mu.Lock()
	link, ok := linkWithParam(s.biz().authURLs, "auth_key", key)
	s.mu.Unlock()
	if !ok {
		return "", AuthOrder{}, false
	}
	o, ok := s.authOrderByRef(link)
	return link, o, ok
}

func (s *Server) pageAuthorize(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("auth_key")
	_, o, ok := s.authOrderByKey(key)
	if !ok {
		pageError(w, http.StatusNotFound, "这个授权链接不是本沙箱发出的 (no auth URL with this auth_key was handed out).")
		return
	}
	renderPage(w, http.StatusOK, "authorize.html", authPage{AuthKey: key, Order: ctlOrderOf(o), AppID: s.AppID,
		OpenID: r.URL.Query().Get("openid")})
}

func (s *Server) pageAuthorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		pageError(w, http.StatusBadRequest, "form unreadable: "+err.Error())
		return
	}
	link, o, ok := s.authOrderByKey(r.PostForm.Get("auth_key"))
	if !ok {
		pageError(w, http.StatusNotFound, "这个授权链接不是本沙箱发出的 (no auth URL with this auth_key was handed out).")
		return
	}
	openid := s.userOpenID(strings.TrimSpace(r.PostForm.Get("openid")))
	var err error
	msg := ""
	switch r.PostForm.Get("action") {
	case "authorize":
		info := wxinvoice.UserAuthInfo{}
		if t := strings.TrimSpace(r.PostForm.Get("title")); t != "" {
			if r.PostForm.Get("title_type") == "person" {
				info.User = wxinvoice.UserAuthFields{Title: t, Phone: r.PostForm.Get("phone"), Email: r.PostForm.Get("email")}
			} else {
				info.Biz = wxinvoice.BizAuthFields{Title: t, TaxNo: r.PostForm.Get("tax_no")}
			}
		}
		err = s.UserAuthorizeWithInfo(link, openid, info)
		msg = "已授权 (authorized): order " + o.OrderID + " may be invoiced into the card pack of " + openid + "."
	case "decline":
		err = s.UserDeclineAuthorization(link, openid)
		msg = "已拒绝 (declined): order " + o.OrderID + " stays unauthorized."
	default:
		pageError(w, http.StatusBadRequest, `action must be "authorize" or "decline"`)
		return
	}
	if err != nil {
		pageError(w, http.StatusConflict, err.Error())
		return
	}
	m := pageMessage{Title: "授权结果 (result)", Message: msg, Link: "/", LinkText: "console"}
	if o.RedirectURL != "" {
		m.Link, m.LinkText = o.RedirectURL, "返回商户 (back to the merchant: "+o.RedirectURL+")"
	}
	renderPage(w, http.StatusOK, "message.html", m)
}

// ---- the title pages (抬头) ----

type titlePage struct {
	Action, Key string // select_title (getselecttitleurl) or list_auth (getusertitleurl)
	OpenID      string
	Title       string // the title the merchant's getusertitleurl offers
}

func (s *Server) titleLink(action, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch action {
	case "select_title":
		return linkWithParam(s.biz().selectURLs, "select_title_key", key)
	case "list_auth":
		return linkWithParam(s.biz().userURLs, "biz_title_key", key)
	}
	return "", false
}

func (s *Server) pageTitle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action, key := q.Get("action"), q.Get("select_title_key")
	if action == "list_auth" {
		key = q.Get("biz_title_key")
	}
	link, ok := s.titleLink(action, key)
	if !ok {
		pageError(w, http.StatusNotFound, "这个抬头链接不是本沙箱发出的 (no title link with this key was handed out).")
		return
	}
	p := titlePage{Action: action, Key: key, OpenID: q.Get("openid")}
	if action == "list_auth" {
		s.mu.Lock()
		p.Title = s.biz().userURLs[link]
		s.mu.Unlock()
	}
	renderPage(w, http.StatusOK, "title.html", p)
}

func (s *Server) pageTitleSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		pageError(w, http.StatusBadRequest, "form unreadable: "+err.Error())
		return
	}
	f := r.PostForm
	action := f.Get("action")
	link, ok := s.titleLink(action, f.Get("key"))
	if !ok {
		pageError(w, http.StatusNotFound, "这个抬头链接不是本沙箱发出的 (no title link with this key was handed out).")
		return
	}
	ct := ctlTitle{Type: f.Get("type"), Title: strings.TrimSpace(f.Get("title")), TaxNo: f.Get("tax_no"), Addr: f.Get("addr"),
		Phone: f.Get("phone"), BankType: f.Get("bank_type"), BankNo: f.Get("bank_no")}
	t, err := ct.userTitle()
	if err != nil {
		pageError(w, http.StatusBadRequest, err.Error())
		return
	}
	if action == "list_auth" {
		text := s.AddUserTitle(t)
		renderPage(w, http.StatusOK, "message.html", pageMessage{Title: "抬头已保存 (title saved)",
			Message: "The title's QR code reads: " + text + " (scantitle resolves it).", Link: "/", LinkText: "console"})
		return
	}
	openid := s.userOpenID(strings.TrimSpace(f.Get("openid")))
	if err := s.UserSubmitTitle(link, openid, t); err != nil {
		pageError(w, http.StatusConflict, err.Error())
		return
	}
	renderPage(w, http.StatusOK, "message.html", pageMessage{Title: "抬头已提交 (title submitted)",
		Message: "submit_invoice_title was pushed for " + openid + ".", Link: "/", LinkText: "console"})
}

// ---- the WeChat Pay title page ----

func (s *Server) pageFapiaoTitle(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	s.mu.Lock()
	live := false
	if st := s.fapiaoSt; st != nil && tok != "" {
		l := st.titleLinks[tok]
		live = l != nil && !l.used && s.clk.now().Before(l.expires)
	}
	s.mu.Unlock()
	if !live {
		pageError(w, http.StatusNotFound, "这个抬头链接无效 (not a live title_url of this sandbox: unknown, used, or older than 30 minutes).")
		return
	}
	renderPage(w, http.StatusOK, "fapiao_title.html", map[string]string{"Token": tok})
}

func (s *Server) pageFapiaoTitleSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		pageError(w, http.StatusBadRequest, "form unreadable: "+err.Error())
		return
	}
	f := r.PostForm
	t := FapiaoTitle{Type: f.Get("type"), Name: strings.TrimSpace(f.Get("name")), TaxpayerID: f.Get("taxpayer_id"),
		Address: f.Get("address"), Telephone: f.Get("telephone"), BankName: f.Get("bank_name"),
		BankAccount: f.Get("bank_account"), Phone: f.Get("phone"), Email: f.Get("email")}
	if err := s.Fapiao().UserFillTitle(fapiaoTitlePagePath+"?token="+url.QueryEscape(f.Get("token")), t); err != nil {
		pageError(w, http.StatusBadRequest, err.Error())
		return
	}
	renderPage(w, http.StatusOK, "message.html", pageMessage{Title: "抬头已提交 (title submitted)",
		Message: "FAPIAO.USER_APPLIED was sent to the merchant.", Link: "/", LinkText: "console"})
}

// ---- the console ----

type consolePage struct {
	State     ctlState
	Requests  []ctlRequest
	Pushes    []ctlPush
	Callbacks []ctlCallback
	Refresh   int
}

// consoleRequests is how many recent requests the console lists.
const consoleRequests = 50

func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	p := consolePage{State: s.state(), Requests: s.ctlRequestsList(""), Pushes: s.ctlPushList(), Callbacks: s.ctlCallbackList(), Refresh: 5}
	if v, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil && v >= 0 && v <= 3600 {
		p.Refresh = v
	}
	// Newest first, the most recent only.
	reqs := p.Requests
	for i, j := 0, len(reqs)-1; i < j; i, j = i+1, j-1 {
		reqs[i], reqs[j] = reqs[j], reqs[i]
	}
	if len(reqs) > consoleRequests {
		reqs = reqs[:consoleRequests]
	}
	p.Requests = reqs
	renderPage(w, http.StatusOK, "console.html", p)
}
