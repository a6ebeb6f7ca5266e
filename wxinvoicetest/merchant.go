package wxinvoicetest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file simulates the merchant (商户) side: the wx_card ticket, the
// authorization page and the user's answer to it, rejectinsert, setbizattr
// and unified issuing (makeoutinvoice, clearoutinvoice, queryinvoceinfo).
// bizState also holds the reimburser and title state (reimburse.go,
// title.go).

// Documented windows of the merchant side.
const (
	ticketTTL      = 7200 * time.Second // getticket expires_in
	billAuthURLTTL = 7200 * time.Second // getbillauthurl expire_time (the sample's value)
)

// authMiniProgramAppID is the appid getauthurl answers for source wxa (the
// mini program that shows the page). WeChat's real one is not documented.
const authMiniProgramAppID = "wxinvoicetestwxa0"

// bizState is the state of the merchant, reimburser, title and
// unified-issuing endpoints. It lives behind s.mu, created on first use.
type bizState struct {
	tickets   map[string]time.Time  // wx_card ticket → expiry
	orders    map[string]*AuthOrder // order_id → its authorization request
	authURLs  map[string]string     // auth_url → order_id
	rejected  map[string]bool       // order_id refused with rejectinsert
	contact   *wire.Contact
	authField *wire.AuthField
	payMch    *wire.PayMchInfo

	parties  map[string]string     // access token → reimburser appid (ReimburserToken)
	lockedBy map[invoiceKey]string // invoice → appid of the reimburser holding its lock

	cloud    map[string]*CloudInvoice // fpqqlsh → unified invoice
	cloudDdh map[string]string        // ddh → fpqqlsh

	titles     map[string]wxinvoice.UserTitle // scan_text → title (AddUserTitle)
	selectURLs map[string]string              // getselecttitleurl url → attach
	userURLs   map[string]string              // getusertitleurl url → the title it offers
}

// biz returns the merchant-side state, creating it. Callers hold s.mu.
func (s *Server) biz() *bizState {
	if s.bizst == nil {
		s.bizst = &bizState{
			tickets: map[string]time.Time{}, orders: map[string]*AuthOrder{}, authURLs: map[string]string{},
			rejected: map[string]bool{}, parties: map[string]string{}, lockedBy: map[invoiceKey]string{},
			cloud: map[string]*CloudInvoice{}, cloudDdh: map[string]string{},
			titles: map[string]wxinvoice.UserTitle{}, selectURLs: map[string]string{}, userURLs: map[string]string{},
		}
	}
	return s.bizst
}

// AuthOrder is an order a merchant (getauthurl) or collecting unit
// (getbillauthurl) asked authorization for, as returned by Server.AuthOrder.
type AuthOrder struct {
	OrderID     string
	SPAppID     string
	Bill        bool // asked with /nontax/getbillauthurl
	Money       int64
	Timestamp   time.Time
	Source      string
	Type        int // getauthurl's type; 0 for a bill
	RedirectURL string
	AuthURL     string    // the latest auth_url handed out
	Expires     time.Time // when AuthURL stops working; zero: never (getauthurl documents no expiry)

	Status   string // wxinvoice.AuthStatusNever or wxinvoice.AuthStatusSuccess
	OpenID   string // the user who authorized it
	AuthTime time.Time
	Info     wxinvoice.UserAuthInfo // what the user filled in (UserAuthorizeWithInfo)

	Rejected     bool // refused with rejectinsert
	RejectReason string
}

// AuthOrder returns the authorization state of orderID, if it was asked
// with getauthurl or getbillauthurl.
func (s *Server) AuthOrder(orderID string) (AuthOrder, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.biz().orders[orderID]
	if o == nil {
		return AuthOrder{}, false
	}
	return *o, true
}

// UserAuthorize simulates the user opening the authorization page of an
// order (given by its order_id or by the auth_url handed out) and agreeing:
// the order counts as authorized by openid (inserts for it land in openid's
// card package, WithAuthorizationRequired lets them through), getauthdata
// answers "auth success", and user_authorize_invoice is pushed to the
// WithEventPush URL with SuccOrderId set. Authorizing again is a no-op.
//
// It returns an error for an order no auth URL was handed out for, an
// expired bill auth URL, or an order refused with rejectinsert.
func (s *Server) UserAuthorize(orderIDOrAuthURL, openid string) error {
	return s.UserAuthorizeWithInfo(orderIDOrAuthURL, openid, wxinvoice.UserAuthInfo{})
}

// UserAuthorizeWithInfo is UserAuthorize for a type 1 page (填写字段开票授权):
// info is what the user filled in, reported by getauthdata's user_auth_info.
func (s *Server) UserAuthorizeWithInfo(orderIDOrAuthURL, openid string, info wxinvoice.UserAuthInfo) error {
	if openid == "" {
		return errors.New("wxinvoicetest: UserAuthorize needs the user's openid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.pendingOrder(orderIDOrAuthURL)
	if err != nil {
		return err
	}
	if o.Status == wxinvoice.AuthStatusSuccess {
		return nil
	}
	now := s.clk.now()
	o.Status, o.OpenID, o.AuthTime, o.Info = wxinvoice.AuthStatusSuccess, openid, now, info
	s.pushAuthorize(o, openid, true)
	return nil
}

// UserDeclineAuthorization simulates the user refusing the authorization
// page: user_authorize_invoice is pushed with FailOrderId set, and the order
// stays unauthorized.
func (s *Server) UserDeclineAuthorization(orderIDOrAuthURL, openid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.pendingOrder(orderIDOrAuthURL)
	if err != nil {
		return err
	}
	s.pushAuthorize(o, openid, false)
	return nil
}

// pendingOrder finds the order a user step applies to. Callers hold s.mu.
func (s *Server) pendingOrder(orderIDOrAuthURL string) (*AuthOrder, error) {
	f := s.biz()
	id := orderIDOrAuthURL
	if oid, ok := f.authURLs[orderIDOrAuthURL]; ok {
		id = oid
	}
	o := f.orders[id]
	switch {
	case o == nil:
		return nil, errors.New("wxinvoicetest: no auth URL was handed out for order " + orderIDOrAuthURL)
	case o.Rejected:
		return nil, errors.New("wxinvoicetest: order " + o.OrderID + " was refused with rejectinsert")
	case !o.Expires.IsZero() && !s.clk.now().Before(o.Expires):
		return nil, errors.New("wxinvoicetest: the auth URL of order " + o.OrderID + " has expired")
	}
	return o, nil
}

// pushAuthorize queues user_authorize_invoice. Callers hold s.mu.
func (s *Server) pushAuthorize(o *AuthOrder, openid string, ok bool) {
	ev := wxinvoice.UserAuthorizeInvoiceEvent{ToUserName: s.Username(), FromUserName: openid, CreateTime: s.clk.now(),
		AppID: s.AppID, Source: o.Source}
	if ok {
		ev.SuccOrderID = o.OrderID
	} else {
		ev.FailOrderID = o.OrderID
	}
	s.queueEvent(&Push{Name: wxinvoice.EventUserAuthorizeInvoice, XML: UserAuthorizeInvoiceEventXML(&ev)})
}

// ---- getticket ----

// handleGetTicket serves GET /cgi-bin/ticket/getticket?access_token=&type=wx_card.
//
// Another method answers 43001 (require GET method); the access token is
// checked as for every business call (41001, 40014, 40001, 42001). Only
// type=wx_card is simulated (another type answers like an unknown path).
// Every call issues a new ticket valid for 7200 s on the server's clock; the
// earlier ones stay valid until their own expiry (WeChat does not say).
func (s *Server) handleGetTicket(c *call) {
	if c.r.Method != http.MethodGet {
		c.writeJSON(http.StatusOK, &wire.Status{ErrCode: 43001, ErrMsg: "require GET method" + ridSuffix()})
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
	if c.query.Get("type") != "wx_card" {
		c.writeJSON(http.StatusNotFound, &wire.Status{ErrCode: 48001,
			ErrMsg: "api unauthorized, wxinvoicetest simulates getticket only with type=wx_card" + ridSuffix()})
		return
	}
	s.mu.Lock()
	ticket := randB64(86)
	s.biz().tickets[ticket] = s.clk.now().Add(ticketTTL)
	s.mu.Unlock()
	c.ok(&wire.TicketResponse{Ticket: ticket, ExpiresIn: wire.Int(ticketTTL / time.Second)})
}

// ticketLive reports whether ticket was issued and has not expired. Callers hold s.mu.
func (s *Server) ticketLive(ticket string) bool {
	exp, ok := s.biz().tickets[ticket]
	return ok && s.clk.now().Before(exp)
}

// ---- getauthurl / getauthdata / rejectinsert ----

// authURLFields checks the fields getauthurl and getbillauthurl share
// (72031 invalid params). Callers hold s.mu.
func (s *Server) authURLFields(sp, orderID string, money, ts wire.Int, ticket string) string {
	switch {
	case sp == "":
		return "s_pappid is empty"
	case orderID == "":
		return "order_id is empty"
	case money < 0:
		return "money is negative"
	case ts <= 0:
		return "timestamp is empty"
	case ticket == "":
		return "ticket is empty"
	case !s.ticketLive(ticket):
		return "ticket is invalid or expired"
	}
	return ""
}

// handleGetAuthURL serves POST /card/invoice/getauthurl.
//
// Checks, in order: s_pappid, order_id, money ≥ 0, timestamp, ticket (one
// getticket handed out and not expired: WeChat's code for a bad ticket is
// not documented, the fake answers 72031), source (app, web, wxa, wap) and
// type (0, 1, 2) (72031 invalid params); a contact set with
// setbizattr?action=set_contact (72063); for type 1 an auth field set with
// set_auth_field (72029); an order not refused with rejectinsert (72035).
// The auth_url is not served; simulate the user with UserAuthorize. Source
// wxa also answers an appid (the fake's "wxinvoicetestwxa0").
func (s *Server) handleGetAuthURL(c *call) {
	var req wire.AuthURLRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.biz()
	if d := s.authURLFields(req.SPAppID, req.OrderID, req.Money, req.Timestamp, req.Ticket); d != "" {
		c.fail(72031, d)
		return
	}
	switch req.Source {
	case "app", "web", "wxa", "wap":
	default:
		c.fail(72031, "invalid source")
		return
	}
	if req.Type < 0 || req.Type > 2 {
		c.fail(72031, "invalid type")
		return
	}
	switch {
	case f.contact == nil:
		c.fail(72063, "")
		return
	case req.Type == 1 && f.authField == nil:
		c.fail(72029, "")
		return
	case f.rejected[req.OrderID]:
		c.fail(72035, "")
		return
	}
	o := s.recordAuthOrder(req.OrderID, req.SPAppID, int64(req.Money), req.Timestamp, req.Source, req.RedirectURL, false)
	o.Type = int(req.Type)
	resp := &wire.AuthURLResponse{AuthURL: o.AuthURL}
	if req.Source == "wxa" {
		resp.AppID = authMiniProgramAppID
	}
	c.ok(resp)
}

// recordAuthOrder records (or renews) the authorization request of an order
// and hands out a new auth_url. Callers hold s.mu.
func (s *Server) recordAuthOrder(orderID, sp string, money int64, ts wire.Int, source, redirect string, bill bool) *AuthOrder {
	f := s.biz()
	o := f.orders[orderID]
	if o == nil {
		o = &AuthOrder{OrderID: orderID, Status: wxinvoice.AuthStatusNever}
		f.orders[orderID] = o
	}
	o.SPAppID, o.Bill, o.Money, o.Timestamp, o.Source, o.RedirectURL = sp, bill, money, time.Unix(int64(ts), 0), source, redirect
	key := randB64(32)
	o.AuthURL = "https://mp.weixin.qq.com/bizmall/authinvoice?action=auth&s_pappid=" + url.QueryEscape(sp) +
		"&auth_key=" + key + "#wechat_redirect"
	if page := s.pageLink("authorize", url.Values{"s_pappid": {sp}, "auth_key": {key}}); page != "" {
		o.AuthURL = page // the sandbox's own page (userpages.go)
	}
	o.Expires = time.Time{}
	if bill {
		o.Expires = s.clk.now().Add(billAuthURLTTL)
	}
	f.authURLs[o.AuthURL] = orderID
	return o
}

// handleGetAuthData serves POST /card/invoice/getauthdata.
//
// s_pappid and order_id are required (72031). An order refused with
// rejectinsert answers 72035; one that was never asked with getauthurl or
// getbillauthurl (and not authorized with AuthorizeOrder) 72038 (invoice
// order never auth: the documentation lists the code, not the case). A known
// order answers invoice_status "auth success" (with auth_time and
// user_auth_info) once UserAuthorize ran, else "never auth". An order
// authorized only with AuthorizeOrder answers "auth success" with no
// auth_time.
func (s *Server) handleGetAuthData(c *call) {
	var req wire.OrderRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.SPAppID == "":
		c.fail(72031, "s_pappid is empty")
		return
	case req.OrderID == "":
		c.fail(72031, "order_id is empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.biz()
	if f.rejected[req.OrderID] {
		c.fail(72035, "")
		return
	}
	o := f.orders[req.OrderID]
	switch {
	case o != nil && o.Status == wxinvoice.AuthStatusSuccess:
		c.ok(&wire.AuthDataResponse{InvoiceStatus: o.Status, AuthTime: wire.Int(o.AuthTime.Unix()), UserAuthInfo: wireAuthInfo(o.Info)})
	case o != nil:
		c.ok(&wire.AuthDataResponse{InvoiceStatus: wxinvoice.AuthStatusNever})
	default:
		c.fail(72038, "")
	}
}

func wireAuthInfo(in wxinvoice.UserAuthInfo) *wire.UserAuthInfo {
	u, b := in.User, in.Biz
	out := &wire.UserAuthInfo{}
	if u.Title != "" || u.Phone != "" || u.Email != "" || len(u.CustomFields) > 0 {
		out.UserField = &wire.UserFieldValues{Title: u.Title, Phone: u.Phone, Email: u.Email, CustomField: wireValues(u.CustomFields)}
	}
	if b.Title != "" || b.TaxNo != "" || b.Addr != "" || b.Phone != "" || b.BankType != "" || b.BankNo != "" || len(b.CustomFields) > 0 {
		out.BizField = &wire.BizFieldValues{Title: b.Title, TaxNo: b.TaxNo, Addr: b.Addr, Phone: b.Phone,
			BankType: b.BankType, BankNo: b.BankNo, CustomField: wireValues(b.CustomFields)}
	}
	if out.UserField == nil && out.BizField == nil {
		return nil
	}
	return out
}

func wireValues(in []wxinvoice.CustomFieldValue) []wire.CustomFieldValue {
	var out []wire.CustomFieldValue
	for _, v := range in {
		out = append(out, wire.CustomFieldValue{Key: v.Key, Value: v.Value})
	}
	return out
}

// handleRejectInsert serves POST /card/invoice/rejectinsert: s_pappid,
// order_id and reason are required (72031). The order is refused for good
// (whether or not an auth URL was handed out for it): later inserts or bills
// for it, getauthurl and getauthdata answer 72035. Refusing again is
// accepted.
func (s *Server) handleRejectInsert(c *call) {
	var req wire.RejectInsertRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.SPAppID == "":
		c.fail(72031, "s_pappid is empty")
		return
	case req.OrderID == "":
		c.fail(72031, "order_id is empty")
		return
	case req.Reason == "":
		c.fail(72031, "reason is empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.biz()
	f.rejected[req.OrderID] = true
	if o := f.orders[req.OrderID]; o != nil && !o.Rejected {
		o.Rejected, o.RejectReason = true, req.Reason
	}
	c.ok(&wire.Empty{})
}

// refuseRejected wraps the insert handlers: an order refused with
// rejectinsert answers 72035 (biz reject insert) before any other check of
// the insert.
func (s *Server) refuseRejected(next func(c *call)) func(c *call) {
	return func(c *call) {
		var req struct {
			OrderID string `json:"order_id"`
		}
		if json.Unmarshal(c.body, &req) == nil && req.OrderID != "" {
			s.mu.Lock()
			rejected := s.bizst != nil && s.bizst.rejected[req.OrderID]
			s.mu.Unlock()
			if rejected {
				c.fail(72035, "")
				return
			}
		}
		next(c)
	}
}

// ---- setbizattr ----

// handleSetBizAttr serves POST /card/invoice/setbizattr?action=…: the six
// actions store and return the account's auth field, pay merchant and
// contact. An unknown or missing action answers 72027 (invoice action
// error). set_auth_field needs every custom field's key, set_pay_mch mchid
// and s_pappid, set_contact phone and a time_out ≥ 0 (72031). A get_* before
// its set_* answers the matching "never set" code: 72029 (auth field), 72028
// (pay mch), 72063 (contact).
func (s *Server) handleSetBizAttr(c *call) {
	switch action := c.query.Get("action"); action {
	case wire.ActionSetAuthField:
		var req wire.AuthFieldRequest
		if !c.decode(&req) {
			return
		}
		for _, cf := range append(append([]wire.CustomFieldConfig(nil), req.AuthField.UserField.CustomField...), req.AuthField.BizField.CustomField...) {
			if cf.Key == "" {
				c.fail(72031, "custom_field key is empty")
				return
			}
		}
		s.mu.Lock()
		s.biz().authField = &req.AuthField
		s.mu.Unlock()
		c.ok(&wire.Empty{})
	case wire.ActionSetPayMch:
		var req wire.PayMchRequest
		if !c.decode(&req) {
			return
		}
		if req.PayMchInfo.MchID == "" || req.PayMchInfo.SPAppID == "" {
			c.fail(72031, "mchid or s_pappid is empty")
			return
		}
		s.mu.Lock()
		s.biz().payMch = &req.PayMchInfo
		s.mu.Unlock()
		c.ok(&wire.Empty{})
	case wire.ActionSetContact:
		var req wire.ContactRequest
		if !c.decode(&req) {
			return
		}
		if req.Contact.Phone == "" || req.Contact.TimeOut < 0 {
			c.fail(72031, "phone is empty or time_out negative")
			return
		}
		s.mu.Lock()
		s.biz().contact = &req.Contact
		s.mu.Unlock()
		c.ok(&wire.Empty{})
	case wire.ActionGetAuthField, wire.ActionGetPayMch, wire.ActionGetContact:
		var req map[string]any
		if !c.decode(&req) {
			return
		}
		s.mu.Lock()
		f := s.biz()
		var resp wire.Enveloped
		code := 0
		switch {
		case action == wire.ActionGetAuthField && f.authField != nil:
			resp = &wire.AuthFieldResponse{AuthField: *f.authField}
		case action == wire.ActionGetAuthField:
			code = 72029
		case action == wire.ActionGetPayMch && f.payMch != nil:
			resp = &wire.PayMchResponse{PayMchInfo: *f.payMch}
		case action == wire.ActionGetPayMch:
			code = 72028
		case f.contact != nil:
			resp = &wire.ContactResponse{Contact: *f.contact}
		default:
			code = 72063
		}
		s.mu.Unlock()
		if code != 0 {
			c.fail(code, "")
			return
		}
		c.ok(resp)
	default:
		c.fail(72027, "unknown action "+strings.TrimSpace(action))
	}
}

// ---- unified issuing (统一开票) ----

// CloudInvoice is an invoice issued with makeoutinvoice (blue) or
// clearoutinvoice (red), as returned by Server.CloudInvoice.
type CloudInvoice struct {
	Fpqqlsh  string
	Ddh      string // "" for a red invoice
	WxOpenID string
	Nsrsbh   string
	Nsrmc    string
	Fpdm     string // 12-digit 发票代码
	Fphm     string // 8-digit 发票号码
	Jym      string // 20-digit 校验码
	IssuedAt time.Time
	Red      bool   // issued by clearoutinvoice
	Original string // for a red invoice: the blue invoice's fpqqlsh
	Cleared  bool   // a blue invoice voided by clearoutinvoice
	PDF      []byte // the invoice's PDF, served by queryinvoceinfo's pdfurl
	// Body is the makeoutinvoice or clearoutinvoice request as received.
	Body []byte

	mediaID string // PDF as held in s.media
}

// CloudInvoice returns the unified invoice issued for fpqqlsh.
func (s *Server) CloudInvoice(fpqqlsh string) (CloudInvoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci := s.biz().cloud[fpqqlsh]
	if ci == nil {
		return CloudInvoice{}, false
	}
	out := *ci
	out.PDF = append([]byte(nil), ci.PDF...)
	out.Body = append([]byte(nil), ci.Body...)
	return out, true
}

// handleMakeOutInvoice serves POST /card/invoice/makeoutinvoice.
//
// The fields WeChat's 73xxx codes name are required, checked in this order:
// wxopenid (73003), ddh (73002), fpqqlsh (73004), nsrsbh (73016), nsrmc
// (73007), nsrdz (73008), nsrdh (73009), ghfmc (73010), kpr (73011), jshj
// (73012), hjje (73013), hjse (73014), hylx (73015). A fpqqlsh already used
// with another ddh answers 73106 and a ddh already used with another
// fpqqlsh 73108; the same pair again is accepted without issuing twice (the
// retry WeChat asks for after 73105). The invoice is issued at once (random
// fpdm, fphm, jym; a small PDF) and cloud_invoice_invoiceresult_event is
// pushed with status 100 (the sample's value) and FromUserName wxopenid.
// Amounts are not checked.
func (s *Server) handleMakeOutInvoice(c *call) {
	var req wire.MakeOutInvoiceRequest
	if !c.decode(&req) {
		return
	}
	ii := &req.InvoiceInfo
	for _, f := range [...]struct {
		v    string
		code int
	}{
		{ii.WxOpenID, 73003}, {ii.Ddh, 73002}, {ii.Fpqqlsh, 73004}, {ii.Nsrsbh, 73016}, {ii.Nsrmc, 73007}, {ii.Nsrdz, 73008},
		{ii.Nsrdh, 73009}, {ii.Ghfmc, 73010}, {ii.Kpr, 73011}, {ii.Jshj, 73012}, {ii.Hjje, 73013}, {ii.Hjse, 73014}, {ii.Hylx, 73015},
	} {
		if f.v == "" {
			c.fail(f.code, "")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.biz()
	if ci := bs.cloud[ii.Fpqqlsh]; ci != nil {
		if ci.Red || ci.Ddh != ii.Ddh {
			c.fail(73106, "")
			return
		}
		c.ok(&wire.Empty{}) // the same request again: already issued
		return
	}
	if other, ok := bs.cloudDdh[ii.Ddh]; ok && other != ii.Fpqqlsh {
		c.fail(73108, "")
		return
	}
	s.issueCloud(&CloudInvoice{Fpqqlsh: ii.Fpqqlsh, Ddh: ii.Ddh, WxOpenID: ii.WxOpenID, Nsrsbh: ii.Nsrsbh, Nsrmc: ii.Nsrmc,
		Body: append([]byte(nil), c.body...)})
	bs.cloudDdh[ii.Ddh] = ii.Fpqqlsh
	c.ok(&wire.Empty{})
}

// issueCloud completes and stores ci, and pushes its result. Callers hold s.mu.
func (s *Server) issueCloud(ci *CloudInvoice) {
	now := s.clk.now()
	ci.Fpdm, ci.Fphm, ci.Jym, ci.IssuedAt = randDigits(12), randDigits(8), randDigits(20), now
	ci.PDF = []byte("%PDF-1.4\n% wxinvoicetest unified invoice " + ci.Fpqqlsh + " " + ci.Fpdm + " " + ci.Fphm + "\n%%EOF\n")
	ci.mediaID = randDigits(16)
	for s.media[ci.mediaID] != nil {
		ci.mediaID = randDigits(16)
	}
	s.media[ci.mediaID] = &media{data: ci.PDF, filename: ci.Fpqqlsh + ".pdf", contentType: "application/pdf", linked: true}
	s.biz().cloud[ci.Fpqqlsh] = ci
	ev := wxinvoice.CloudInvoiceResultEvent{ToUserName: s.Username(), FromUserName: ci.WxOpenID, CreateTime: now,
		Fpqqlsh: ci.Fpqqlsh, Status: "100", Nsrsbh: ci.Nsrsbh}
	s.queueEvent(&Push{Name: wxinvoice.EventCloudInvoiceResult, XML: CloudInvoiceResultEventXML(&ev)})
}

// handleClearOutInvoice serves POST /card/invoice/clearoutinvoice (冲红).
//
// wxopenid (73003), fpqqlsh (73004), nsrsbh (73016) and nsrmc (73007) are
// required, and yfphm (72031); yfpdm may be empty (数电发票 have no code).
// The original is the blue invoice with that yfphm (and yfpdm when given):
// none answers 72031, another nsrsbh 73101 (nsrsbh not cmp), one already
// voided 72024 (invoice status error); a fpqqlsh already used for anything
// but this very red invoice answers 73106. The red invoice is issued at once
// and its result pushed, as for makeoutinvoice.
func (s *Server) handleClearOutInvoice(c *call) {
	var req wire.ClearOutInvoiceRequest
	if !c.decode(&req) {
		return
	}
	ii := &req.InvoiceInfo
	for _, f := range [...]struct {
		v    string
		code int
	}{{ii.WxOpenID, 73003}, {ii.Fpqqlsh, 73004}, {ii.Nsrsbh, 73016}, {ii.Nsrmc, 73007}} {
		if f.v == "" {
			c.fail(f.code, "")
			return
		}
	}
	if ii.Yfphm == "" {
		c.fail(72031, "yfphm is empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.biz()
	var orig *CloudInvoice
	for _, ci := range bs.cloud {
		if !ci.Red && ci.Fphm == ii.Yfphm && (ii.Yfpdm == "" || ci.Fpdm == ii.Yfpdm) {
			orig = ci
			break
		}
	}
	if prev := bs.cloud[ii.Fpqqlsh]; prev != nil {
		if prev.Red && orig != nil && prev.Original == orig.Fpqqlsh {
			c.ok(&wire.Empty{}) // the same request again
			return
		}
		c.fail(73106, "")
		return
	}
	switch {
	case orig == nil:
		c.fail(72031, "no invoice with yfpdm "+ii.Yfpdm+" and yfphm "+ii.Yfphm)
		return
	case orig.Nsrsbh != ii.Nsrsbh:
		c.fail(73101, "")
		return
	case orig.Cleared:
		c.fail(72024, "the invoice was already voided")
		return
	}
	orig.Cleared = true
	s.issueCloud(&CloudInvoice{Fpqqlsh: ii.Fpqqlsh, WxOpenID: ii.WxOpenID, Nsrsbh: ii.Nsrsbh, Nsrmc: ii.Nsrmc,
		Red: true, Original: orig.Fpqqlsh, Body: append([]byte(nil), c.body...)})
	c.ok(&wire.Empty{})
}

// handleQueryInvoiceInfo serves POST /card/invoice/queryinvoceinfo (the
// path's spelling is WeChat's). fpqqlsh (73004) and nsrsbh (73016) are
// required; an unknown fpqqlsh answers 73109 and another nsrsbh 73101. The
// answer's errmsg is the sample's "发票数据获取成功"; pdfurl is a download link
// on the fake, valid 2 hours like getpdf's, and kprq the issue time in China
// time (yyyyMMddHHmmss).
func (s *Server) handleQueryInvoiceInfo(c *call) {
	var req wire.QueryInvoiceInfoRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Fpqqlsh == "":
		c.fail(73004, "")
		return
	case req.Nsrsbh == "":
		c.fail(73016, "")
		return
	}
	base := c.baseFor()
	s.mu.Lock()
	ci := s.biz().cloud[req.Fpqqlsh]
	switch {
	case ci == nil:
		s.mu.Unlock()
		c.fail(73109, "")
		return
	case ci.Nsrsbh != req.Nsrsbh:
		s.mu.Unlock()
		c.fail(73101, "")
		return
	}
	link := s.mediaLink(base, ci.mediaID)
	resp := &wire.QueryInvoiceInfoResponse{InvoiceDetail: wire.QueryInvoiceDetail{Fpqqlsh: ci.Fpqqlsh, Fpdm: ci.Fpdm, Fphm: ci.Fphm,
		Jym: ci.Jym, Kprq: ci.IssuedAt.In(chinaTime).Format("20060102150405"), PDFURL: link}}
	s.mu.Unlock()
	resp.Status = wire.Status{ErrCode: 0, ErrMsg: "发票数据获取成功"}
	c.writeJSON(http.StatusOK, resp)
}

// mediaLink returns a new download link for the held PDF id, valid for 2
// hours. Callers hold s.mu.
func (s *Server) mediaLink(base, id string) string {
	key := randB64(32)
	s.links[key] = &pdfLink{mediaID: id, expires: s.clk.now().Add(linkTTL)}
	return base + downloadPath + "?action=media_pdf&media_key=" + key
}
