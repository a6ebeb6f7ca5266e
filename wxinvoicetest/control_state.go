package wxinvoicetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file renders the server's state, recorded requests and pushes for the
// control API and the console. No token, secret or key value is ever part of
// it: tokens are listed by kind and expiry, and recorded requests have every
// secret the server knows replaced by "REDACTED".

// redacted replaces secret values in recorded requests.
const redacted = "REDACTED"

type ctlState struct {
	Now       time.Time          `json:"now"`
	Clock     ctlClock           `json:"clock"`
	App       ctlApp             `json:"app"`
	Tokens    []ctlToken         `json:"tokens"`
	Cards     []ctlCard          `json:"cards"`
	PDFs      []ctlPDFInfo       `json:"pdfs"`
	Invoices  []ctlInvoice       `json:"invoices"`
	Bills     []ctlInvoice       `json:"bills"`
	Orders    []ctlOrder         `json:"orders"`
	Merchant  ctlMerchant        `json:"merchant"`
	Component *ctlComponent      `json:"component"`
	WeCom     ctlWeCom           `json:"wecom"`
	Faults    []ctlFault         `json:"faults"`
	Fapiao    *ctlFapiao         `json:"fapiao"`
	Counts    map[string]int     `json:"counts"`
	Settings  map[string]any     `json:"settings"`
	Pushes    ctlPushSummary     `json:"pushes"`
	Unified   []ctlCloudInvoice  `json:"unified_invoices"`
	Titles    []ctlUserTitleInfo `json:"user_titles"`
}

type ctlClock struct {
	Frozen        bool    `json:"frozen"`
	OffsetSeconds float64 `json:"offset_seconds"`
}

type ctlApp struct {
	AppID    string `json:"appid"`
	SPAppID  string `json:"s_pappid"`
	Username string `json:"username"`
	CorpID   string `json:"corpid"`
	PushURL  string `json:"push_url,omitempty"`
}

type ctlToken struct {
	Kind       string    `json:"kind"`
	ExpiresAt  time.Time `json:"expires_at"`
	Expired    bool      `json:"expired"`
	Revoked    bool      `json:"revoked"`
	Superseded bool      `json:"superseded"`
}

type ctlCard struct {
	CardID    string    `json:"card_id"`
	Bill      bool      `json:"bill"`
	Payee     string    `json:"payee"`
	Type      string    `json:"type,omitempty"`
	Title     string    `json:"title,omitempty"`
	LogoURL   string    `json:"logo_url"`
	CreatedAt time.Time `json:"created_at"`
}

type ctlPDFInfo struct {
	SMediaID  string    `json:"s_media_id"`
	Size      int       `json:"size"`
	Filename  string    `json:"filename,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Linked    bool      `json:"linked"` // used by an inserted invoice: kept for good
	Held      bool      `json:"held"`
}

type ctlInvoice struct {
	CardID      string    `json:"card_id"`
	Code        string    `json:"code"`
	Bill        bool      `json:"bill"`
	OrderID     string    `json:"order_id"`
	OpenID      string    `json:"openid"`
	Status      string    `json:"status"`
	LockedBy    string    `json:"locked_by,omitempty"`
	Fee         int64     `json:"fee"`
	Title       string    `json:"title"`
	BillingNo   string    `json:"billing_no"`
	BillingCode string    `json:"billing_code,omitempty"`
	BillingTime time.Time `json:"billing_time"`
	InsertedAt  time.Time `json:"inserted_at"`
	PDFMediaID  string    `json:"s_pdf_media_id,omitempty"`
	EncryptCode string    `json:"encrypt_code,omitempty"`
	CardTitle   string    `json:"card_title,omitempty"`
	Payee       string    `json:"payee,omitempty"`
}

type ctlOrder struct {
	OrderID      string    `json:"order_id"`
	Bill         bool      `json:"bill"`
	Money        int64     `json:"money"`
	Source       string    `json:"source,omitempty"`
	Type         int       `json:"type"`
	AuthURL      string    `json:"auth_url,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	Status       string    `json:"status"`
	OpenID       string    `json:"openid,omitempty"`
	AuthTime     time.Time `json:"auth_time,omitzero"`
	Rejected     bool      `json:"rejected"`
	RejectReason string    `json:"reject_reason,omitempty"`
}

type ctlMerchant struct {
	ContactSet   bool `json:"contact_set"`
	AuthFieldSet bool `json:"auth_field_set"`
	PayMchSet    bool `json:"pay_mch_set"`
}

type ctlComponent struct {
	AppID       string          `json:"appid"`
	PushURL     string          `json:"push_url,omitempty"`
	Authorizers []ctlAuthorizer `json:"authorizers"`
	Pushes      int             `json:"pushes"`
}

type ctlAuthorizer struct {
	AppID       string    `json:"appid"`
	Authorized  bool      `json:"authorized"`
	AuthTime    time.Time `json:"auth_time,omitzero"`
	Permissions []int     `json:"permissions"`
}

type ctlWeCom struct {
	CorpID      string            `json:"corpid"`
	Users       map[string]string `json:"users"` // userid → openid
	TokenIssued bool              `json:"token_issued"`
}

type ctlFapiao struct {
	Merchants    []ctlFapiaoMerchant    `json:"merchants"`
	Applications []ctlFapiaoApplication `json:"applications"`
	Callbacks    int                    `json:"callbacks"`
}

type ctlFapiaoMerchant struct {
	MchID     string   `json:"mchid"`
	SubMchIDs []string `json:"sub_mchids,omitempty"`
}

type ctlFapiaoApplication struct {
	MchID         string             `json:"mchid"`
	SubMchID      string             `json:"sub_mchid,omitempty"`
	FapiaoApplyID string             `json:"fapiao_apply_id"`
	Scene         string             `json:"scene,omitempty"`
	BuyerName     string             `json:"buyer_name,omitempty"`
	OpenID        string             `json:"openid,omitempty"`
	Invoices      []ctlFapiaoInvoice `json:"invoices"`
}

type ctlFapiaoInvoice struct {
	FapiaoID    string `json:"fapiao_id"`
	Status      string `json:"status"`
	CardStatus  string `json:"card_status"`
	TotalAmount int64  `json:"total_amount"`
	FileSize    int    `json:"file_size"`
}

type ctlPushSummary struct {
	Total     int `json:"total"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"`
}

type ctlCloudInvoice struct {
	Fpqqlsh  string    `json:"fpqqlsh"`
	Ddh      string    `json:"ddh,omitempty"`
	WxOpenID string    `json:"wxopenid"`
	Fphm     string    `json:"fphm"`
	IssuedAt time.Time `json:"issued_at"`
	Red      bool      `json:"red"`
	Cleared  bool      `json:"cleared"`
}

type ctlUserTitleInfo struct {
	ScanText string `json:"scan_text"`
	Title    string `json:"title"`
}

func ctlOrderOf(o AuthOrder) ctlOrder {
	return ctlOrder{OrderID: o.OrderID, Bill: o.Bill, Money: o.Money, Source: o.Source, Type: o.Type, AuthURL: o.AuthURL,
		ExpiresAt: o.Expires, Status: o.Status, OpenID: o.OpenID, AuthTime: o.AuthTime, Rejected: o.Rejected,
		RejectReason: o.RejectReason}
}

// ctlInvoiceOf renders inv; lockedBy is the reimburser holding its lock.
func (s *Server) ctlInvoiceOf(inv Invoice, lockedBy string) ctlInvoice {
	out := ctlInvoice{CardID: inv.CardID, Code: inv.Code, Bill: inv.Bill, OrderID: inv.OrderID, OpenID: inv.OpenID,
		Status: string(inv.Status), LockedBy: lockedBy, Fee: inv.Fee, Title: inv.Title, BillingNo: inv.BillingNo,
		BillingCode: inv.BillingCode, BillingTime: inv.BillingTime, InsertedAt: inv.InsertedAt, PDFMediaID: inv.PDFMediaID}
	if c, ok := s.Card(inv.CardID); ok {
		out.CardTitle, out.Payee = c.Title, c.Payee
	}
	out.EncryptCode = s.EncryptCode(inv.CardID, inv.Code)
	return out
}

func tokenKindName(k tokenKind) string {
	switch k {
	case kindToken:
		return "access_token (/cgi-bin/token)"
	case kindStable:
		return "access_token (/cgi-bin/stable_token)"
	case kindIssued:
		return "access_token (IssueToken)"
	case kindAuthorizer:
		return "authorizer_access_token"
	}
	return "access_token (other)"
}

// state collects the server's state (token values left out).
func (s *Server) state() ctlState {
	invs := s.Invoices()
	sort.Slice(invs, func(i, j int) bool {
		if !invs[i].InsertedAt.Equal(invs[j].InsertedAt) {
			return invs[i].InsertedAt.Before(invs[j].InsertedAt)
		}
		return invs[i].CardID+invs[i].Code < invs[j].CardID+invs[j].Code
	})
	st := ctlState{Invoices: []ctlInvoice{}, Bills: []ctlInvoice{}, Faults: s.ctlFaultList()}
	for _, inv := range invs {
		locked, _ := s.LockedBy(inv.CardID, inv.Code)
		ci := s.ctlInvoiceOf(inv, locked)
		if inv.Bill {
			st.Bills = append(st.Bills, ci)
		} else {
			st.Invoices = append(st.Invoices, ci)
		}
	}

	s.mu.Lock()
	now := s.clk.now()
	st.Now = now
	st.Clock = ctlClock{Frozen: s.clk.frozen, OffsetSeconds: s.clk.offset.Seconds()}
	st.App = ctlApp{AppID: s.AppID, SPAppID: s.SPAppID(), Username: s.Username(), CorpID: s.CorpID, PushURL: s.cfg.pushURL}
	st.Tokens = []ctlToken{}
	for _, t := range s.tok.tokens {
		st.Tokens = append(st.Tokens, ctlToken{Kind: tokenKindName(t.kind), ExpiresAt: t.expires,
			Expired: !now.Before(t.expires), Revoked: t.revoked, Superseded: t.superseded})
	}
	sort.Slice(st.Tokens, func(i, j int) bool { return st.Tokens[i].ExpiresAt.Before(st.Tokens[j].ExpiresAt) })
	st.Cards = []ctlCard{}
	for _, c := range s.cards {
		st.Cards = append(st.Cards, ctlCard{CardID: c.ID, Bill: c.Bill, Payee: c.Payee, Type: c.Type, Title: c.Title,
			LogoURL: c.LogoURL, CreatedAt: c.CreatedAt})
	}
	sort.Slice(st.Cards, func(i, j int) bool { return st.Cards[i].CreatedAt.Before(st.Cards[j].CreatedAt) })
	st.PDFs = []ctlPDFInfo{}
	for id, m := range s.media {
		st.PDFs = append(st.PDFs, ctlPDFInfo{SMediaID: id, Size: len(m.data), Filename: m.filename, ExpiresAt: m.expires,
			Linked: m.linked, Held: m.linked || now.Before(m.expires)})
	}
	sort.Slice(st.PDFs, func(i, j int) bool { return st.PDFs[i].ExpiresAt.Before(st.PDFs[j].ExpiresAt) })
	st.Orders = []ctlOrder{}
	st.Unified = []ctlCloudInvoice{}
	st.Titles = []ctlUserTitleInfo{}
	if b := s.bizst; b != nil {
		for _, o := range b.orders {
			st.Orders = append(st.Orders, ctlOrderOf(*o))
		}
		for id := range b.rejected {
			if b.orders[id] == nil {
				st.Orders = append(st.Orders, ctlOrder{OrderID: id, Status: "never auth", Rejected: true})
			}
		}
		st.Merchant = ctlMerchant{ContactSet: b.contact != nil, AuthFieldSet: b.authField != nil, PayMchSet: b.payMch != nil}
		for _, ci := range b.cloud {
			st.Unified = append(st.Unified, ctlCloudInvoice{Fpqqlsh: ci.Fpqqlsh, Ddh: ci.Ddh, WxOpenID: ci.WxOpenID,
				Fphm: ci.Fphm, IssuedAt: ci.IssuedAt, Red: ci.Red, Cleared: ci.Cleared})
		}
		for text, t := range b.titles {
			st.Titles = append(st.Titles, ctlUserTitleInfo{ScanText: text, Title: t.Title})
		}
	}
	sort.Slice(st.Orders, func(i, j int) bool { return st.Orders[i].OrderID < st.Orders[j].OrderID })
	sort.Slice(st.Unified, func(i, j int) bool { return st.Unified[i].IssuedAt.Before(st.Unified[j].IssuedAt) })
	sort.Slice(st.Titles, func(i, j int) bool { return st.Titles[i].ScanText < st.Titles[j].ScanText })
	if c := s.compState; c != nil {
		cs := &ctlComponent{AppID: c.app.AppID, PushURL: c.pushURL, Authorizers: []ctlAuthorizer{}, Pushes: len(c.pushes)}
		for _, a := range c.authorizers {
			cs.Authorizers = append(cs.Authorizers, ctlAuthorizer{AppID: a.appID, Authorized: a.authorized,
				AuthTime: a.authTime, Permissions: append([]int{}, a.perms...)})
		}
		sort.Slice(cs.Authorizers, func(i, j int) bool { return cs.Authorizers[i].AppID < cs.Authorizers[j].AppID })
		st.Component = cs
	}
	st.WeCom = ctlWeCom{CorpID: s.CorpID, Users: map[string]string{}}
	if w := s.wecomst; w != nil {
		for u, o := range w.users {
			st.WeCom.Users[u] = o
		}
		st.WeCom.TokenIssued = w.cur != ""
	}
	for _, p := range s.push.list {
		st.Pushes.Total++
		switch {
		case p.Delivered:
			st.Pushes.Delivered++
		case p.Done:
			st.Pushes.Failed++
		default:
			st.Pushes.Pending++
		}
	}
	st.Counts = map[string]int{"requests": len(s.requests), "cards": len(st.Cards), "pdfs": len(st.PDFs),
		"invoices": len(st.Invoices), "bills": len(st.Bills), "orders": len(st.Orders)}
	fp := s.fapiaoSt
	s.mu.Unlock()

	if fp != nil {
		st.Fapiao = s.fapiaoSummary()
	}
	return st
}

// fapiaoSummary renders the WeChat Pay side (APIv3 keys and files left out).
func (s *Server) fapiaoSummary() *ctlFapiao {
	f := s.Fapiao()
	out := &ctlFapiao{Merchants: []ctlFapiaoMerchant{}, Applications: []ctlFapiaoApplication{}, Callbacks: len(f.Callbacks())}
	s.mu.Lock()
	for _, m := range s.fapiaoSt.merchants {
		out.Merchants = append(out.Merchants, ctlFapiaoMerchant{MchID: m.MchID, SubMchIDs: append([]string(nil), m.SubMchIDs...)})
	}
	s.mu.Unlock()
	sort.Slice(out.Merchants, func(i, j int) bool { return out.Merchants[i].MchID < out.Merchants[j].MchID })
	for _, a := range f.Applications() {
		ca := ctlFapiaoApplication{MchID: a.MchID, SubMchID: a.SubMchID, FapiaoApplyID: a.FapiaoApplyID, Scene: a.Scene,
			BuyerName: a.Buyer.Name, OpenID: a.OpenID, Invoices: []ctlFapiaoInvoice{}}
		for _, inv := range a.Invoices {
			ca.Invoices = append(ca.Invoices, ctlFapiaoInvoice{FapiaoID: inv.FapiaoID, Status: inv.Status,
				CardStatus: inv.CardStatus, TotalAmount: inv.TotalAmount, FileSize: len(inv.File)})
		}
		out.Applications = append(out.Applications, ca)
	}
	return out
}

func (s *Server) ctlState(w http.ResponseWriter, _ *http.Request) {
	ctlJSON(w, http.StatusOK, s.state())
}

// ---- requests ----

type ctlRequest struct {
	Seq         int               `json:"seq"`
	Time        time.Time         `json:"time"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Query       map[string]string `json:"query,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Body        string            `json:"body,omitempty"`
	BodySize    int               `json:"body_size"`
	Status      int               `json:"status"`
	ErrCode     int               `json:"errcode"`
	Fault       string            `json:"fault,omitempty"`
}

// maxShownBody is how much of a recorded body the control API shows.
const maxShownBody = 16 << 10

// secrets returns every secret value the server knows: its tokens, tickets,
// codes and app secrets, longest first (so that no secret is replaced
// inside a longer one first).
func (s *Server) secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{s.AppSecret, s.CorpSecret}
	for t := range s.tok.tokens {
		out = append(out, t)
	}
	if c := s.compState; c != nil {
		out = append(out, c.app.AppSecret, c.app.Token, c.app.EncodingAESKey)
		for t := range c.tokens {
			out = append(out, t)
		}
		for t := range c.tickets {
			out = append(out, t)
		}
		for t := range c.preAuth {
			out = append(out, t)
		}
		for t := range c.codes {
			out = append(out, t)
		}
		for _, a := range c.authorizers {
			out = append(out, a.refreshToken)
		}
	}
	if b := s.bizst; b != nil {
		for t := range b.tickets {
			out = append(out, t)
		}
	}
	out = append(out, s.cfg.pushCfg.Token, s.cfg.pushCfg.EncodingAESKey)
	if st := s.fapiaoSt; st != nil {
		for t := range st.downloads { // bearer links to invoice files
			out = append(out, t)
		}
		for t := range st.titleLinks {
			out = append(out, t)
		}
		for _, m := range st.merchants {
			out = append(out, m.APIv3Key)
		}
	}
	kept := out[:0]
	for _, v := range out {
		if len(v) >= 8 {
			kept = append(kept, v)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return len(kept[i]) > len(kept[j]) })
	return kept
}

// secretParams are query and JSON keys whose value is always redacted.
var secretParams = map[string]bool{
	"access_token": true, "component_access_token": true, "secret": true, "appsecret": true, "corpsecret": true,
	"component_appsecret": true, "authorizer_refresh_token": true, "component_verify_ticket": true, "ticket": true,
	"authorization_code": true, "pre_auth_code": true,
}

// redact replaces every secret of the server found in v.
func redact(v string, secrets []string) string {
	for _, sec := range secrets {
		if strings.Contains(v, sec) {
			v = strings.ReplaceAll(v, sec, redacted)
		}
		if e := url.QueryEscape(sec); e != sec && strings.Contains(v, e) {
			v = strings.ReplaceAll(v, e, redacted)
		}
	}
	return v
}

// redactJSON replaces the values of secretParams keys anywhere in a JSON
// document; ok is false when body is not JSON.
func redactJSON(body []byte) ([]byte, bool) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil, false
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, e := range t {
				if secretParams[strings.ToLower(k)] {
					t[k] = redacted
				} else {
					t[k] = walk(e)
				}
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	return out, err == nil
}

// ctlRequestsList renders the recorded requests (secrets redacted), the
// ones on path only when path is not "".
func (s *Server) ctlRequestsList(path string) []ctlRequest {
	secrets := s.secrets()
	out := []ctlRequest{}
	for i, r := range s.Requests() {
		if path != "" && r.Path != path {
			continue
		}
		cr := ctlRequest{Seq: i + 1, Time: r.Time, Method: r.Method, Path: r.Path, ContentType: r.ContentType,
			BodySize: len(r.Body), Status: r.Status, ErrCode: r.ErrCode, Fault: r.Fault}
		if len(r.Query) > 0 {
			cr.Query = map[string]string{}
			for k, vs := range r.Query {
				v := strings.Join(vs, ",")
				if secretParams[strings.ToLower(k)] {
					v = redacted
				}
				cr.Query[k] = redact(v, secrets)
			}
		}
		switch body := r.Body; {
		case len(body) == 0:
		case len(body) > maxShownBody || strings.HasPrefix(r.ContentType, "multipart/") || !utf8.Valid(body):
			cr.Body = "(" + strconv.Itoa(len(body)) + " bytes not shown)"
		default:
			if j, ok := redactJSON(body); ok {
				body = j
			}
			cr.Body = redact(string(body), secrets)
		}
		out = append(out, cr)
	}
	return out
}

func (s *Server) ctlRequests(w http.ResponseWriter, r *http.Request) {
	ctlJSON(w, http.StatusOK, map[string]any{"requests": s.ctlRequestsList(r.URL.Query().Get("path"))})
}

// ---- pushes ----

type ctlPush struct {
	Seq       int              `json:"seq"`
	URL       string           `json:"url"`
	Event     string           `json:"event"`
	CardID    string           `json:"card_id,omitempty"`
	Code      string           `json:"code,omitempty"`
	Status    string           `json:"status,omitempty"`
	XML       string           `json:"xml"`
	Delivered bool             `json:"delivered"`
	Done      bool             `json:"done"`
	Attempts  []ctlPushAttempt `json:"attempts"`
}

type ctlPushAttempt struct {
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
	HTTPStatus int       `json:"http_status"`
	Body       string    `json:"body,omitempty"`
	Error      string    `json:"error,omitempty"`
}

type ctlCallback struct {
	ID        string           `json:"id"`
	EventType string           `json:"event_type"`
	URL       string           `json:"url,omitempty"`
	Delivered bool             `json:"delivered"`
	Attempts  []ctlPushAttempt `json:"attempts"`
}

func (s *Server) ctlPushList() []ctlPush {
	out := []ctlPush{}
	for i, p := range s.Pushes() {
		cp := ctlPush{Seq: i + 1, URL: p.URL, Event: p.Name, CardID: p.Event.CardID, Code: p.Event.Code,
			Status: string(p.Event.Status), XML: string(p.XML), Delivered: p.Delivered, Done: p.Done, Attempts: []ctlPushAttempt{}}
		for _, a := range p.Attempts {
			cp.Attempts = append(cp.Attempts, ctlPushAttempt{Time: a.Time, DurationMS: a.Duration.Milliseconds(),
				HTTPStatus: a.StatusCode, Body: a.Body, Error: a.Err})
		}
		out = append(out, cp)
	}
	return out
}

func (s *Server) ctlCallbackList() []ctlCallback {
	out := []ctlCallback{}
	s.mu.Lock()
	has := s.fapiaoSt != nil
	s.mu.Unlock()
	if !has {
		return out
	}
	for _, cb := range s.Fapiao().Callbacks() {
		cc := ctlCallback{ID: cb.ID, EventType: cb.EventType, URL: cb.URL, Delivered: cb.Delivered, Attempts: []ctlPushAttempt{}}
		for _, a := range cb.Attempts {
			cc.Attempts = append(cc.Attempts, ctlPushAttempt{Time: a.Time, HTTPStatus: a.StatusCode, Body: a.Body, Error: a.Err})
		}
		out = append(out, cc)
	}
	return out
}

func (s *Server) ctlPushes(w http.ResponseWriter, _ *http.Request) {
	ctlJSON(w, http.StatusOK, map[string]any{"pushes": s.ctlPushList(), "fapiao_callbacks": s.ctlCallbackList()})
}
