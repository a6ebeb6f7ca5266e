package wxinvoicetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file serves the e-invoice endpoints E01–E22 (see fapiaoRoutes).
// Every handler runs under s.mu after the request's signature verified.
// Field checks answer 400 PARAM_ERROR naming the field; business rules
// 400 INVALID_REQUEST; unknown applications 404 RESOURCE_NOT_EXISTS;
// another merchant's sub-merchant 403 NO_AUTH.

// ---- E01 card template ----

type fpCardTemplateReq struct {
	SubMchID                string `json:"sub_mchid"`
	CardAppID               string `json:"card_appid"`
	CardTemplateInformation *struct {
		PayeeName  string `json:"payee_name"`
		LogoURL    string `json:"logo_url"`
		CustomCell *struct {
			Words       string `json:"words"`
			Description string `json:"description"`
		} `json:"custom_cell"`
	} `json:"card_template_information"`
}

// fpCardTemplate serves POST /card-template (创建电子发票卡券模板): each call
// replaces the (sub-)merchant's template with a new card_id.
func (s *Server) fpCardTemplate(fc *fcall) {
	var req fpCardTemplateReq
	if !fc.decode(&req) {
		return
	}
	a, ok := fc.account("body", "sub_mchid", req.SubMchID)
	if !ok {
		return
	}
	info := req.CardTemplateInformation
	switch {
	case req.CardAppID == "" || len(req.CardAppID) > 32:
		fc.bad("body", "card_appid", "required, at most 32 characters")
		return
	case info == nil:
		fc.bad("body", "card_template_information", "required")
		return
	case info.LogoURL == "" || len(info.LogoURL) > 1024:
		fc.bad("body", "card_template_information.logo_url", "required, at most 1024 characters")
		return
	case len([]rune(info.PayeeName)) > 32:
		fc.bad("body", "card_template_information.payee_name", "at most 32 characters")
		return
	case info.CustomCell != nil && info.CustomCell.Words == "":
		fc.bad("body", "card_template_information.custom_cell.words", "required")
		return
	case info.CustomCell != nil && info.CustomCell.Description == "":
		fc.bad("body", "card_template_information.custom_cell.description", "required")
		return
	}
	a.template = &FapiaoCardTemplate{CardAppID: req.CardAppID, CardID: "p" + randB64(27),
		PayeeName: info.PayeeName, LogoURL: info.LogoURL}
	fc.json(http.StatusOK, map[string]string{"card_appid": a.template.CardAppID, "card_id": a.template.CardID})
}

// ---- E02/E03 development config ----

type fpDevConfigReq struct {
	CallbackURL      *string `json:"callback_url"`
	SubMchCode       string  `json:"sub_mch_code"`
	ShowFapiaoCell   *bool   `json:"show_fapiao_cell"`
	SupportVATFapiao *bool   `json:"support_vat_fapiao"`
}

// devAccount resolves the account of a development config call: a partner
// may name a sub-merchant (sub_mch_code) or configure its own account.
func (fc *fcall) devAccount(location, sub string) (*fapiaoAccount, bool) {
	if sub == "" {
		return fc.st.acct(fc.m.MchID, ""), true
	}
	return fc.account(location, "sub_mch_code", sub)
}

// fpPatchDevConfig serves PATCH /merchant/development-config (配置开发选项):
// the fields present are set. callback_url must be an absolute http(s) URL
// without query or fragment (the fake accepts http so tests need no TLS).
func (s *Server) fpPatchDevConfig(fc *fcall) {
	var req fpDevConfigReq
	if !fc.decode(&req) {
		return
	}
	a, ok := fc.devAccount("body", req.SubMchCode)
	if !ok {
		return
	}
	if req.CallbackURL != nil {
		u, err := url.Parse(*req.CallbackURL)
		switch {
		case len(*req.CallbackURL) > 256:
			fc.bad("body", "callback_url", "at most 256 characters")
			return
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			fc.bad("body", "callback_url", "must be an absolute HTTPS URL")
			return
		case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(*req.CallbackURL, "?#"):
			fc.bad("body", "callback_url", "must not carry a query string")
			return
		}
	}
	cfg := FapiaoDevConfig{}
	if a.devConfig != nil {
		cfg = *a.devConfig
	}
	if req.CallbackURL != nil {
		cfg.CallbackURL = *req.CallbackURL
	}
	if req.ShowFapiaoCell != nil {
		cfg.ShowFapiaoCell = *req.ShowFapiaoCell
	}
	if req.SupportVATFapiao != nil {
		cfg.SupportVATFapiao = *req.SupportVATFapiao
	}
	a.devConfig = &cfg
	fc.json(http.StatusOK, cfg)
}

// fpGetDevConfig serves GET /merchant/development-config (查询商户配置的开发
// 选项); a partner may add ?sub_mch_code= (the SKIT .NET SDK). Never configured: zero
// values.
func (s *Server) fpGetDevConfig(fc *fcall) {
	a, ok := fc.devAccount("query", fc.query.Get("sub_mch_code"))
	if !ok {
		return
	}
	cfg := FapiaoDevConfig{}
	if a.devConfig != nil {
		cfg = *a.devConfig
	}
	fc.json(http.StatusOK, cfg)
}

// ---- E04/E05 merchant information ----

// fpBaseInformation serves GET /merchant/base-information (获取商户开票基础信息).
func (s *Server) fpBaseInformation(fc *fcall) {
	if _, ok := fc.account("query", "sub_mchid", fc.query.Get("sub_mchid")); !ok {
		return
	}
	fc.json(http.StatusOK, map[string]any{"seller_information": fc.m.Seller, "extra_information": fc.m.Extra})
}

// fapiaoTaxCodes is the fake's 商品和服务税收分类对照表.
var fapiaoTaxCodes = []struct {
	GoodsName     string `json:"goods_name"`
	TaxCode       string `json:"tax_code"`
	TaxRate       int64  `json:"tax_rate"`
	TaxPreferMark string `json:"tax_prefer_mark"`
}{
	{"出租汽车客运服务", "3010101020203000000", 1300, "NO_FAVORABLE"},
	{"餐饮服务", "3070401000000000000", 600, "NO_FAVORABLE"},
	{"住宿服务", "3070402000000000000", 600, "NO_FAVORABLE"},
	{"图书", "1060201010000000000", 900, "NO_FAVORABLE"},
	{"信息技术服务", "3040201000000000000", 600, "NO_FAVORABLE"},
	{"车辆停放服务", "3040502020200000000", 900, "NO_FAVORABLE"},
	{"蔬菜", "1010112000000000000", 0, "VAT_EXEMPT"},
}

// fpTaxCodes serves GET /merchant/tax-codes (获取商品和服务税收分类对照表):
// offset ≥ 0 and 1 ≤ limit ≤ 100 required (the maximum is the fake's).
func (s *Server) fpTaxCodes(fc *fcall) {
	if _, ok := fc.account("query", "sub_mchid", fc.query.Get("sub_mchid")); !ok {
		return
	}
	offset, ok := fc.intParam("offset", 0, 1<<31)
	if !ok {
		return
	}
	limit, ok := fc.intParam("limit", 1, 100)
	if !ok {
		return
	}
	data := fapiaoTaxCodes[min(offset, int64(len(fapiaoTaxCodes))):]
	data = data[:min(int64(len(data)), limit)]
	fc.json(http.StatusOK, map[string]any{"offset": offset, "limit": limit, "data": data,
		"total_count": len(fapiaoTaxCodes)})
}

// intParam reads a required integer query parameter in [lo, hi].
func (fc *fcall) intParam(name string, lo, hi int64) (int64, bool) {
	v := fc.query.Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil || n < lo || n > hi {
		fc.bad("query", name, "required integer between "+strconv.FormatInt(lo, 10)+" and "+strconv.FormatInt(hi, 10))
		return 0, false
	}
	return n, true
}

// ---- E06/E07 titles ----

// fpTitleURL serves GET /user-title/title-url (获取抬头填写链接): a 30-minute
// link (not served: FapiaoFake.UserFillTitle stands for the user filling it);
// another call with the same fapiao_apply_id replaces the link.
func (s *Server) fpTitleURL(fc *fcall) {
	q := fc.query
	a, ok := fc.account("query", "sub_mchid", q.Get("sub_mchid"))
	if !ok {
		return
	}
	id := q.Get("fapiao_apply_id")
	source := q.Get("source")
	switch {
	case !validApplyID(id):
		fc.bad("query", "fapiao_apply_id", "required, 1-32 characters of letters, digits, - _ | *")
		return
	case source != "WEB" && source != "MINIPROGRAM":
		fc.bad("query", "source", "must be WEB or MINIPROGRAM")
		return
	case q.Get("appid") == "" || len(q.Get("appid")) > 32:
		fc.bad("query", "appid", "required, at most 32 characters")
		return
	case q.Get("openid") == "" || len(q.Get("openid")) > 32:
		fc.bad("query", "openid", "required, at most 32 characters")
		return
	}
	total, ok := fc.intParam("total_amount", 1, 1<<53)
	if !ok {
		return
	}
	for _, b := range []string{"show_phone_cell", "must_input_phone", "show_email_cell", "must_input_email"} {
		if v := q.Get(b); v != "" && v != "true" && v != "false" {
			fc.bad("query", b, "must be true or false")
			return
		}
	}
	if len([]rune(q.Get("seller_name"))) > 32 {
		fc.bad("query", "seller_name", "at most 32 characters")
		return
	}
	if app := a.apps[id]; app != nil && app.Scene == FapiaoSceneWithWechatPay {
		fc.invalid("fapiao_apply_id " + id + " is a WeChat Pay order of this merchant")
		return
	}
	for tok, l := range fc.st.titleLinks {
		if l.acct == a.key && l.fapiaoApplyID == id {
			delete(fc.st.titleLinks, tok)
		}
	}
	tok := randB64(24)
	fc.st.titleLinks[tok] = &fapiaoTitleLink{acct: a.key, fapiaoApplyID: id, openID: q.Get("openid"),
		appID: q.Get("appid"), totalAmount: total, expires: fc.now.Add(fapiaoTitleURLTTL)}
	out := map[string]string{"title_url": fc.base + "/fapiao/user-title?token=" + tok}
	if source == "MINIPROGRAM" {
		out["miniprogram_appid"] = fapiaoMiniProgramAppID
		out["miniprogram_path"] = "pages/fapiao/title?token=" + tok
		out["miniprogram_user_name"] = "gh_wxinvoicetest@app"
	}
	fc.json(http.StatusOK, out)
}

// fapiaoMiniProgramAppID is the mini program the fake's title links name
// (WeChat's own is undocumented).
const fapiaoMiniProgramAppID = "wxinvoicetestfp01"

// fpUserTitle serves GET /user-title (获取用户填写的抬头): the title the user
// filled, phone and email encrypted with the merchant's public key; none
// yet 404 RESOURCE_NOT_EXISTS.
func (s *Server) fpUserTitle(fc *fcall) {
	q := fc.query
	a, ok := fc.account("query", "sub_mchid", q.Get("sub_mchid"))
	if !ok {
		return
	}
	scene, id := q.Get("scene"), q.Get("fapiao_apply_id")
	if scene != FapiaoSceneWithWechatPay && scene != FapiaoSceneWithoutWechatPay {
		fc.bad("query", "scene", "must be WITH_WECHATPAY or WITHOUT_WECHATPAY")
		return
	}
	if !validApplyID(id) {
		fc.bad("query", "fapiao_apply_id", "required, 1-32 characters of letters, digits, - _ | *")
		return
	}
	t := a.titles[scene+" "+id]
	if t == nil {
		fc.notFound("the user has not filled a title for " + id)
		return
	}
	fc.json(http.StatusOK, t.title.encrypted(fc.m))
}

// ---- E08 issue ----

type fpIssueReq struct {
	SubMchID          string           `json:"sub_mchid"`
	Scene             string           `json:"scene"`
	FapiaoApplyID     string           `json:"fapiao_apply_id"`
	BuyerInformation  *FapiaoTitle     `json:"buyer_information"`
	FapiaoInformation []fpIssueInvoice `json:"fapiao_information"`
}

type fpIssueInvoice struct {
	FapiaoID    string        `json:"fapiao_id"`
	TotalAmount *int64        `json:"total_amount"`
	NeedList    *bool         `json:"need_list"`
	Remark      string        `json:"remark,omitempty"`
	Items       []fpIssueItem `json:"items"`
}

type fpIssueItem struct {
	TaxCode       string   `json:"tax_code"`
	GoodsCategory string   `json:"goods_category,omitempty"`
	GoodsName     string   `json:"goods_name,omitempty"`
	Specification string   `json:"specification,omitempty"`
	Unit          string   `json:"unit,omitempty"`
	Quantity      *int64   `json:"quantity"`
	TotalAmount   *int64   `json:"total_amount"`
	TaxRate       *float64 `json:"tax_rate,omitempty"`
	TaxPreferMark string   `json:"tax_prefer_mark,omitempty"`
	Discount      *bool    `json:"discount"`

	// 数电 variants (E17–E20).
	PassengerInformation *struct {
		CertificateNumber string `json:"certificate_number"`
	} `json:"passenger_information,omitempty"`
	RealEstateLeasingInformation *struct {
		CertificateNo string `json:"certificate_no"`
	} `json:"real_estate_leasing_information,omitempty"`
}

// checkBuyer checks buyer_information.
func (fc *fcall) checkBuyer(b *FapiaoTitle) bool {
	switch {
	case b == nil:
		fc.bad("body", "buyer_information", "required")
	case b.Type != "INDIVIDUAL" && b.Type != "ORGANIZATION":
		fc.bad("body", "buyer_information.type", "must be INDIVIDUAL or ORGANIZATION")
	case b.Name == "" || len([]rune(b.Name)) > 256:
		fc.bad("body", "buyer_information.name", "required, at most 256 characters")
	case b.Type == "ORGANIZATION" && b.TaxpayerID == "":
		fc.bad("body", "buyer_information.taxpayer_id", "required for an ORGANIZATION")
	default:
		return true
	}
	return false
}

// buyerFields returns the encrypted fields of buyer_information.
func buyerFields(b *FapiaoTitle) []*string {
	if b == nil {
		return nil
	}
	return []*string{&b.Phone, &b.Email}
}

// checkItems checks invoice lines (quantity required unless quantityOptional)
// and returns them in the E09 shape.
func (fc *fcall) checkItems(field string, items []fpIssueItem, quantityOptional bool) ([]FapiaoItem, bool) {
	if len(items) == 0 {
		fc.bad("body", field, "at least one item required")
		return nil, false
	}
	out := make([]FapiaoItem, len(items))
	for i, it := range items {
		f := field + "[" + strconv.Itoa(i) + "]."
		switch {
		case it.TaxCode == "":
			fc.bad("body", f+"tax_code", "required")
			return nil, false
		case it.Quantity == nil && !quantityOptional:
			fc.bad("body", f+"quantity", "required")
			return nil, false
		case it.TotalAmount == nil:
			fc.bad("body", f+"total_amount", "required")
			return nil, false
		case it.Discount == nil:
			fc.bad("body", f+"discount", "required")
			return nil, false
		}
		var rate int64
		if it.TaxRate != nil {
			rate = int64(*it.TaxRate + 0.5)
		}
		var qty int64
		if it.Quantity != nil {
			qty = *it.Quantity
		}
		amount, tax := splitAmount(*it.TotalAmount, rate)
		mark := it.TaxPreferMark
		if mark == "" {
			mark = "NO_FAVORABLE"
		}
		out[i] = FapiaoItem{TaxCode: it.TaxCode, GoodsName: it.GoodsName, Specification: it.Specification,
			Unit: it.Unit, Quantity: qty, UnitPrice: unitPrice(amount, qty), Amount: amount, TaxAmount: tax,
			TotalAmount: *it.TotalAmount, TaxRate: rate, TaxPreferMark: mark, Discount: *it.Discount}
	}
	return out, true
}

// application finds the application id of a for an issuing call: WITH_WECHATPAY
// needs a paid order of the merchant (FapiaoFake.UserApply), WITHOUT_WECHATPAY
// a title link handed out for the id (E06). It is created on first use.
func (fc *fcall) application(a *fapiaoAccount, scene, id string) (*FapiaoApplication, bool) {
	app := a.apps[id]
	if app != nil {
		if app.Scene != scene && app.Scene != "" {
			fc.invalid("fapiao_apply_id " + id + " belongs to scene " + app.Scene)
			return nil, false
		}
		return app, true
	}
	app = &FapiaoApplication{MchID: a.key.mchID, SubMchID: a.key.subMchID, FapiaoApplyID: id, Scene: scene}
	switch scene {
	case FapiaoSceneWithWechatPay:
		o := a.orders[id]
		if o == nil {
			fc.invalid("fapiao_apply_id " + id + " is not a WeChat Pay order of this merchant")
			return nil, false
		}
		app.OpenID, app.limit = o.openID, o.amount
	case FapiaoSceneWithoutWechatPay:
		var link *fapiaoTitleLink
		for _, l := range fc.st.titleLinks {
			if l.acct == a.key && l.fapiaoApplyID == id {
				link = l
			}
		}
		if t := a.titles[scene+" "+id]; t != nil {
			app.OpenID = t.openID
		}
		if link == nil && app.OpenID == "" {
			fc.invalid("no title link was requested for fapiao_apply_id " + id)
			return nil, false
		}
		if link != nil {
			app.OpenID, app.limit = link.openID, link.totalAmount
		}
	default: // the 数电 endpoints: no prior order or link
		app.OpenID = "o" + randB64(27)
	}
	a.apps[id] = app
	a.appOrder = append(a.appOrder, id)
	return app, true
}

// canonical returns a stable form of a decoded request (sensitive fields in
// clear), to compare a repeated request with the accepted one.
func canonical(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// fpIssue serves POST /fapiao-applications (开具电子发票) → 202; the
// invoices are ISSUE_ACCEPTED, then ISSUED after the processing delay
// (FapiaoFake.SetProcessingDelay; 0 by default) with FAPIAO.ISSUED sent.
//
// Repeating the accepted request (same fields, phone and email compared in
// clear) answers 202 and does nothing; another request on an application
// whose invoices are not all reversed answers 400 INVALID_REQUEST (WeChat's
// behaviour is undocumented).
func (s *Server) fpIssue(fc *fcall) {
	var req fpIssueReq
	if !fc.decode(&req) {
		return
	}
	a, ok := fc.account("body", "sub_mchid", req.SubMchID)
	if !ok {
		return
	}
	if !fc.sensitive(buyerFields(req.BuyerInformation)...) {
		return
	}
	switch {
	case req.Scene != FapiaoSceneWithWechatPay && req.Scene != FapiaoSceneWithoutWechatPay:
		fc.bad("body", "scene", "must be WITH_WECHATPAY or WITHOUT_WECHATPAY")
		return
	case !validApplyID(req.FapiaoApplyID):
		fc.bad("body", "fapiao_apply_id", "required, 1-32 characters of letters, digits, - _ | *")
		return
	case !fc.checkBuyer(req.BuyerInformation):
		return
	case len(req.FapiaoInformation) == 0:
		fc.bad("body", "fapiao_information", "at least one invoice required")
		return
	case len(req.FapiaoInformation) > fapiaoMaxPerApply:
		fc.bad("body", "fapiao_information", "at most 5 invoices per application")
		return
	}
	invs := make([]FapiaoInvoice, len(req.FapiaoInformation))
	seen := map[string]bool{}
	for i, fi := range req.FapiaoInformation {
		f := "fapiao_information[" + strconv.Itoa(i) + "]"
		switch {
		case fi.FapiaoID == "" || len(fi.FapiaoID) > 32:
			fc.bad("body", f+".fapiao_id", "required, at most 32 characters")
			return
		case seen[fi.FapiaoID]:
			fc.bad("body", f+".fapiao_id", "repeated in the request")
			return
		case fi.TotalAmount == nil || *fi.TotalAmount <= 0:
			fc.bad("body", f+".total_amount", "required, > 0")
			return
		case fi.NeedList == nil:
			fc.bad("body", f+".need_list", "required")
			return
		}
		seen[fi.FapiaoID] = true
		items, ok := fc.checkItems(f+".items", fi.Items, false)
		if !ok {
			return
		}
		invs[i] = fc.newInvoice(fi.FapiaoID, *fi.TotalAmount, fi.Remark, items)
	}
	fc.issue(a, req.Scene, req.FapiaoApplyID, *req.BuyerInformation, invs, canonical(req), false)
}

// newInvoice returns an ISSUE_ACCEPTED invoice.
func (fc *fcall) newInvoice(id string, total int64, remark string, items []FapiaoItem) FapiaoInvoice {
	inv := FapiaoInvoice{FapiaoID: id, Status: FapiaoIssueAccepted, TotalAmount: total, Remark: remark, Items: items}
	for _, it := range items {
		inv.Amount += it.Amount
		inv.TaxAmount += it.TaxAmount
	}
	return inv
}

// issue applies an accepted issuing request (E08, E17–E20) and answers 202.
func (fc *fcall) issue(a *fapiaoAccount, scene, id string, buyer FapiaoTitle, invs []FapiaoInvoice, body []byte, digital bool) {
	if a.template == nil {
		fc.invalid("create the card template (POST /v3/new-tax-control-fapiao/card-template) before issuing")
		return
	}
	app, ok := fc.application(a, scene, id)
	if !ok {
		return
	}
	if app.issueBody != nil && bytes.Equal(app.issueBody, body) {
		fc.empty(http.StatusAccepted)
		return
	}
	if app.live() > 0 {
		fc.invalid("fapiao_apply_id " + id + " already has invoices that are not reversed")
		return
	}
	if len(app.Invoices)+len(invs) > fapiaoMaxPerApply {
		fc.invalid("at most 5 invoices per application")
		return
	}
	var total int64
	for _, inv := range invs {
		if app.invoice(inv.FapiaoID) != nil {
			fc.invalid("fapiao_id " + inv.FapiaoID + " was already used on this application")
			return
		}
		total += inv.TotalAmount
	}
	if app.limit > 0 && total > app.limit {
		fc.invalid("the invoices total " + strconv.FormatInt(total, 10) + " exceeds the order amount " +
			strconv.FormatInt(app.limit, 10))
		return
	}
	failure, failing := fc.st.takeIssueFailure(digital)
	for i := range invs {
		invs[i].Digital = digital
		invs[i].CardAppID = a.template.CardAppID
		invs[i].CardID = a.template.CardID
	}
	app.Buyer = buyer
	app.issueBody = body
	first := len(app.Invoices)
	app.Invoices = append(app.Invoices, invs...)
	acctKey := a.key
	fc.st.schedule(fc.s, fc.now.Add(fc.st.processing), func(now time.Time) {
		fc.s.fapiaoCompleteIssue(acctKey, id, first, now, failure, failing)
	})
	fc.empty(http.StatusAccepted)
}

// ---- E09 query ----

type fpCardInfo struct {
	CardAppID  string `json:"card_appid"`
	CardOpenID string `json:"card_openid"`
	CardID     string `json:"card_id,omitempty"`
	CardCode   string `json:"card_code,omitempty"`
	CardStatus string `json:"card_status"`
}

type fpQueryInvoice struct {
	FapiaoID          string         `json:"fapiao_id"`
	Status            string         `json:"status"`
	BlueFapiao        *FapiaoNumbers `json:"blue_fapiao,omitempty"`
	RedFapiao         *FapiaoNumbers `json:"red_fapiao,omitempty"`
	CardInformation   *fpCardInfo    `json:"card_information,omitempty"`
	TotalAmount       int64          `json:"total_amount"`
	TaxAmount         int64          `json:"tax_amount"`
	Amount            int64          `json:"amount"`
	SellerInformation FapiaoSeller   `json:"seller_information"`
	BuyerInformation  FapiaoTitle    `json:"buyer_information"`
	ExtraInformation  FapiaoExtra    `json:"extra_information"`
	Items             []FapiaoItem   `json:"items"`
	Remark            string         `json:"remark,omitempty"`
	FapiaoErrorCode   string         `json:"fapiao_error_code,omitempty"`
	FapiaoErrorMsg    string         `json:"fapiao_error_message,omitempty"`
}

// fpQuery serves GET /fapiao-applications/{fapiao_apply_id} (查询电子发票),
// optionally only ?fapiao_id=; buyer phone and email encrypted for the
// merchant.
func (s *Server) fpQuery(fc *fcall) {
	app, ok := fc.pathApplication("query")
	if !ok {
		return
	}
	want := fc.query.Get("fapiao_id")
	list := []fpQueryInvoice{}
	buyer := app.Buyer.encrypted(fc.m)
	for _, inv := range app.Invoices {
		if want != "" && inv.FapiaoID != want {
			continue
		}
		q := fpQueryInvoice{FapiaoID: inv.FapiaoID, Status: inv.Status, BlueFapiao: inv.Blue, RedFapiao: inv.Red,
			TotalAmount: inv.TotalAmount, TaxAmount: inv.TaxAmount, Amount: inv.Amount,
			SellerInformation: fc.m.Seller, BuyerInformation: buyer, ExtraInformation: fc.m.Extra,
			Items: inv.Items, Remark: inv.Remark, FapiaoErrorCode: inv.ErrorCode, FapiaoErrorMsg: inv.ErrorMessage}
		if q.Items == nil {
			q.Items = []FapiaoItem{}
		}
		if inv.CardStatus != "" {
			q.CardInformation = &fpCardInfo{CardAppID: inv.CardAppID, CardOpenID: app.OpenID, CardID: inv.CardID,
				CardCode: inv.CardCode, CardStatus: inv.CardStatus}
		}
		list = append(list, q)
	}
	if want != "" && len(list) == 0 {
		fc.notFound("fapiao_id " + want + " is not an invoice of " + app.FapiaoApplyID)
		return
	}
	fc.json(http.StatusOK, map[string]any{"total_count": len(list), "fapiao_information": list})
}

// pathApplication resolves {fapiao_apply_id} for the request's
// (sub-)merchant: 404 RESOURCE_NOT_EXISTS when it has no invoices.
func (fc *fcall) pathApplication(location string) (*FapiaoApplication, bool) {
	a, ok := fc.account(location, "sub_mchid", fc.subFrom(location))
	if !ok {
		return nil, false
	}
	id := fc.params["fapiao_apply_id"]
	app := a.apps[id]
	if app == nil || len(app.Invoices) == 0 {
		fc.notFound("no invoice was applied for with fapiao_apply_id " + id)
		return nil, false
	}
	return app, true
}

// subFrom returns the sub_mchid of the query (location "query"); body
// handlers decode it themselves.
func (fc *fcall) subFrom(location string) string {
	if location == "query" {
		return fc.query.Get("sub_mchid")
	}
	return ""
}

// ---- E10/E11 files ----

// fpFiles serves GET /fapiao-applications/{fapiao_apply_id}/fapiao-files
// (获取发票下载信息): a 30-second download_url per ISSUED or REVERSED invoice
// issued on the WeChat Pay side; a self-issued (insert-cards) invoice asked
// by fapiao_id answers 400 INVALID_REQUEST.
func (s *Server) fpFiles(fc *fcall) {
	app, ok := fc.pathApplication("query")
	if !ok {
		return
	}
	want := fc.query.Get("fapiao_id")
	list := []map[string]string{}
	for _, inv := range app.Invoices {
		if want != "" && inv.FapiaoID != want {
			continue
		}
		if inv.SelfIssued {
			if want != "" {
				fc.invalid("fapiao_id " + want + " was not issued on the WeChat Pay side")
				return
			}
			continue
		}
		if inv.Status != FapiaoIssued && inv.Status != FapiaoReversed {
			continue
		}
		tok := randB64(32)
		fc.st.downloads[tok] = &fapiaoDownload{acct: fapiaoAccountKey{app.MchID, app.SubMchID},
			fapiaoApplyID: app.FapiaoApplyID, fapiaoID: inv.FapiaoID, expires: fc.now.Add(fapiaoDownloadTTL)}
		list = append(list, map[string]string{"fapiao_id": inv.FapiaoID, "status": inv.Status,
			"download_url": fc.base + fapiaoDownloadPath + "?token=" + url.QueryEscape(tok)})
	}
	if want != "" && app.invoice(want) == nil {
		fc.notFound("fapiao_id " + want + " is not an invoice of " + app.FapiaoApplyID)
		return
	}
	fc.json(http.StatusOK, map[string]any{"fapiao_download_info_list": list})
}

// fpDownload serves GET {download_url} (下载发票文件), unsigned: the token
// must be live (30 s on the server's clock) and mchid, openid (the
// card_openid), invoice_code, invoice_no and fapiao_id must be those of the
// invoice (sub_mchid, when appended, its sub-merchant). Answers the file with
// an upper-case SM3-Digest header.
func (s *Server) fpDownload(fc *fcall) {
	if fc.r.Method != http.MethodGet {
		fc.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "download with GET")
		return
	}
	q := fc.query
	d := fc.st.downloads[q.Get("token")]
	if d == nil {
		fc.notFound("unknown download token")
		return
	}
	if !fc.now.Before(d.expires) {
		fc.invalid("the download_url expired (valid 30 seconds)")
		return
	}
	app := fc.st.acct(d.acct.mchID, d.acct.subMchID).apps[d.fapiaoApplyID]
	inv := app.invoice(d.fapiaoID)
	code, number := "", ""
	if inv.Blue != nil {
		code, number = inv.Blue.FapiaoCode, inv.Blue.FapiaoNumber
	}
	for _, p := range []struct{ name, want string }{
		{"mchid", d.acct.mchID}, {"openid", app.OpenID}, {"invoice_code", code},
		{"invoice_no", number}, {"fapiao_id", d.fapiaoID},
	} {
		if _, present := q[p.name]; !present || q.Get(p.name) != p.want {
			fc.bad("query", p.name, "missing or not that of the invoice")
			return
		}
	}
	if sub, present := q["sub_mchid"]; present && sub[0] != d.acct.subMchID {
		fc.bad("query", "sub_mchid", "not that of the invoice")
		return
	}
	h := fc.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+d.fapiaoID+`.pdf"`)
	h.Set("SM3-Digest", strings.ToUpper(sm3Hex(inv.File)))
	h.Set("Request-ID", randHex(16))
	fc.w.WriteHeader(http.StatusOK)
	_, _ = fc.w.Write(inv.File)
}

// ---- E12 reverse ----

type fpReverseReq struct {
	SubMchID          string `json:"sub_mchid"`
	ReverseReason     string `json:"reverse_reason"`
	FapiaoInformation []struct {
		FapiaoID     string `json:"fapiao_id"`
		FapiaoCode   string `json:"fapiao_code,omitempty"`
		FapiaoNumber string `json:"fapiao_number"`
	} `json:"fapiao_information"`
}

// fpReverse serves POST /fapiao-applications/{fapiao_apply_id}/reverse
// (冲红电子发票) → 202: the invoices named (all ISSUED ones when
// fapiao_information is absent) go REVERSE_ACCEPTED, then REVERSED with a
// red invoice and the card DISCARDED, and FAPIAO.REVERSED is sent. The
// reason is free text (not checked against the 数电 enum). Repeating the
// accepted request answers 202 and does nothing.
func (s *Server) fpReverse(fc *fcall) {
	var req fpReverseReq
	if !fc.decode(&req) {
		return
	}
	a, ok := fc.account("body", "sub_mchid", req.SubMchID)
	if !ok {
		return
	}
	id := fc.params["fapiao_apply_id"]
	app := a.apps[id]
	switch {
	case req.ReverseReason == "" || len([]rune(req.ReverseReason)) > 200:
		fc.bad("body", "reverse_reason", "required, at most 200 characters")
		return
	case len(req.FapiaoInformation) > fapiaoMaxPerApply:
		fc.bad("body", "fapiao_information", "at most 5 invoices")
		return
	case app == nil || len(app.Invoices) == 0:
		fc.notFound("no invoice was applied for with fapiao_apply_id " + id)
		return
	}
	body := canonical(req)
	if app.reverseBody != nil && bytes.Equal(app.reverseBody, body) {
		fc.empty(http.StatusAccepted)
		return
	}
	var targets []int
	if len(req.FapiaoInformation) == 0 {
		for i, inv := range app.Invoices {
			if inv.Status == FapiaoIssued && !inv.SelfIssued {
				targets = append(targets, i)
			}
		}
		if len(targets) == 0 {
			fc.invalid("fapiao_apply_id " + id + " has no ISSUED invoice to reverse")
			return
		}
	}
	for i, fi := range req.FapiaoInformation {
		f := "fapiao_information[" + strconv.Itoa(i) + "]"
		if fi.FapiaoID == "" {
			fc.bad("body", f+".fapiao_id", "required")
			return
		}
		if fi.FapiaoNumber == "" {
			fc.bad("body", f+".fapiao_number", "required")
			return
		}
		inv := app.invoice(fi.FapiaoID)
		switch {
		case inv == nil:
			fc.notFound("fapiao_id " + fi.FapiaoID + " is not an invoice of " + id)
			return
		case inv.SelfIssued:
			fc.invalid("fapiao_id " + fi.FapiaoID + " was not issued on the WeChat Pay side")
			return
		case inv.Status != FapiaoIssued && inv.Status != FapiaoReverseFailed:
			fc.invalid("fapiao_id " + fi.FapiaoID + " is " + inv.Status + ", only an ISSUED invoice can be reversed")
			return
		case inv.Blue == nil || fi.FapiaoNumber != inv.Blue.FapiaoNumber ||
			(fi.FapiaoCode != "" && fi.FapiaoCode != inv.Blue.FapiaoCode):
			fc.invalid("fapiao_number/fapiao_code do not match fapiao_id " + fi.FapiaoID)
			return
		}
		for j := range app.Invoices {
			if &app.Invoices[j] == inv {
				targets = append(targets, j)
			}
		}
	}
	for _, j := range targets {
		app.Invoices[j].Status = FapiaoReverseAccepted
		app.Invoices[j].ReverseReason = req.ReverseReason
	}
	app.reverseBody = body
	acctKey := a.key
	fc.st.schedule(fc.s, fc.now.Add(fc.st.processing), func(now time.Time) {
		fc.s.fapiaoCompleteReverse(acctKey, id, targets, now)
	})
	fc.empty(http.StatusAccepted)
}

// ---- E13 upload ----

type fpUploadMeta struct {
	SubMchID        string `json:"sub_mchid"`
	FileType        string `json:"file_type"`
	DigestAlogrithm string `json:"digest_alogrithm"`
	Digest          string `json:"digest"`
}

// uploadMeta returns the bytes of the meta part of an upload (the body line
// of its signature).
func uploadMeta(c *call) ([]byte, bool) {
	parts, ok := multipartParts(c)
	if !ok {
		return nil, false
	}
	meta, ok := parts["meta"]
	return meta.data, ok
}

type fpPart struct {
	data        []byte
	filename    string
	contentType string
}

// multipartParts returns the parts of a multipart/form-data body by name
// (the first of a repeated name).
func multipartParts(c *call) (map[string]fpPart, bool) {
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	out := map[string]fpPart{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, false
		}
		if _, dup := out[p.FormName()]; !dup {
			out[p.FormName()] = fpPart{data: b, filename: p.FileName(), contentType: p.Header.Get("Content-Type")}
		}
	}
}

// fpUpload serves POST /fapiao-applications/upload-fapiao-file (上传电子发票
// 文件): multipart with a meta part (signed, JSON: file_type PDF or OFD,
// digest_alogrithm SM3, digest the SM3 of the file in hex, either case) and
// a file part of at most 2 MB. Answers a fapiao_media_id valid 3 days.
func (s *Server) fpUpload(fc *fcall) {
	parts, _ := multipartParts(fc.call)
	var meta fpUploadMeta
	if err := json.Unmarshal(parts["meta"].data, &meta); err != nil {
		fc.bad("body", "meta", "not JSON")
		return
	}
	a, ok := fc.account("body", "meta.sub_mchid", meta.SubMchID)
	if !ok {
		return
	}
	file, hasFile := parts["file"]
	switch {
	case meta.FileType != "PDF" && meta.FileType != "OFD":
		fc.bad("body", "meta.file_type", "must be PDF or OFD")
		return
	case meta.DigestAlogrithm != "SM3":
		fc.bad("body", "meta.digest_alogrithm", "must be SM3")
		return
	case len(meta.Digest) != 64:
		fc.bad("body", "meta.digest", "must be the 64 hex digits of the file's SM3")
		return
	case !hasFile || len(file.data) == 0:
		fc.bad("body", "file", "required")
		return
	case len(file.data) > fapiaoMaxFile:
		fc.bad("body", "file", "larger than 2 MB")
		return
	case !strings.EqualFold(meta.Digest, sm3Hex(file.data)):
		fc.bad("body", "meta.digest", "does not match the SM3 digest of the file")
		return
	}
	id := base64.StdEncoding.EncodeToString(randBytes(16))
	fc.st.media[id] = &fapiaoMedia{acct: a.key, fileType: meta.FileType, data: file.data,
		expires: fc.now.Add(fapiaoMediaTTL)}
	fc.json(http.StatusOK, map[string]string{"fapiao_media_id": id})
}

// ---- E14 insert-cards ----

type fpInsertReq struct {
	SubMchID              string       `json:"sub_mchid"`
	Scene                 string       `json:"scene"`
	BuyerInformation      *FapiaoTitle `json:"buyer_information"`
	FapiaoCardInformation []struct {
		FapiaoMediaID     string        `json:"fapiao_media_id"`
		FapiaoNumber      string        `json:"fapiao_number"`
		FapiaoCode        string        `json:"fapiao_code"`
		FapiaoTime        string        `json:"fapiao_time"`
		CheckCode         string        `json:"check_code"`
		Password          string        `json:"password"`
		TotalAmount       *int64        `json:"total_amount"`
		TaxAmount         *int64        `json:"tax_amount"`
		Amount            *int64        `json:"amount"`
		SellerInformation *FapiaoSeller `json:"seller_information"`
		ExtraInformation  *FapiaoExtra  `json:"extra_information"`
		Items             []FapiaoItem  `json:"items"`
		Remark            string        `json:"remark,omitempty"`
	} `json:"fapiao_card_information"`
}

// fpInsertCards serves POST /fapiao-applications/{fapiao_apply_id}/insert-cards
// (将电子发票插入微信用户卡包) → 202: at most 5 self-issued invoices, each
// with a live fapiao_media_id of the (sub-)merchant, go INSERT_ACCEPTED, then
// INSERTED with FAPIAO.CARD_INSERTED sent. One insertion per application:
// repeating the accepted request answers 202 and does nothing, another one
// 400 INVALID_REQUEST.
func (s *Server) fpInsertCards(fc *fcall) {
	var req fpInsertReq
	if !fc.decode(&req) {
		return
	}
	a, ok := fc.account("body", "sub_mchid", req.SubMchID)
	if !ok {
		return
	}
	if !fc.sensitive(buyerFields(req.BuyerInformation)...) {
		return
	}
	id := fc.params["fapiao_apply_id"]
	switch {
	case req.Scene != FapiaoSceneWithWechatPay && req.Scene != FapiaoSceneWithoutWechatPay:
		fc.bad("body", "scene", "must be WITH_WECHATPAY or WITHOUT_WECHATPAY")
		return
	case !validApplyID(id):
		fc.bad("path", "fapiao_apply_id", "1-32 characters of letters, digits, - _ | *")
		return
	case !fc.checkBuyer(req.BuyerInformation):
		return
	case len(req.FapiaoCardInformation) == 0:
		fc.bad("body", "fapiao_card_information", "at least one invoice required")
		return
	case len(req.FapiaoCardInformation) > fapiaoMaxPerApply:
		fc.bad("body", "fapiao_card_information", "at most 5 invoices")
		return
	}
	invs := make([]FapiaoInvoice, len(req.FapiaoCardInformation))
	numbers := map[string]bool{}
	for i, ci := range req.FapiaoCardInformation {
		f := "fapiao_card_information[" + strconv.Itoa(i) + "]."
		var missing string
		switch {
		case ci.FapiaoMediaID == "":
			missing = "fapiao_media_id"
		case ci.FapiaoNumber == "":
			missing = "fapiao_number"
		case ci.FapiaoCode == "":
			missing = "fapiao_code"
		case ci.CheckCode == "":
			missing = "check_code"
		case ci.Password == "":
			missing = "password"
		case ci.TotalAmount == nil:
			missing = "total_amount"
		case ci.TaxAmount == nil:
			missing = "tax_amount"
		case ci.Amount == nil:
			missing = "amount"
		case ci.SellerInformation == nil:
			missing = "seller_information"
		case ci.ExtraInformation == nil:
			missing = "extra_information"
		case len(ci.Items) == 0:
			missing = "items"
		}
		if missing != "" {
			fc.bad("body", f+missing, "required")
			return
		}
		if _, err := time.Parse(time.RFC3339, ci.FapiaoTime); err != nil {
			fc.bad("body", f+"fapiao_time", "required, RFC 3339 with offset")
			return
		}
		if numbers[ci.FapiaoCode+" "+ci.FapiaoNumber] {
			fc.bad("body", f+"fapiao_number", "repeated in the request")
			return
		}
		numbers[ci.FapiaoCode+" "+ci.FapiaoNumber] = true
		md := fc.st.media[ci.FapiaoMediaID]
		if md == nil || md.acct != a.key || !fc.now.Before(md.expires) {
			fc.invalid(f + "fapiao_media_id is unknown or expired (valid 3 days after upload)")
			return
		}
		// A self-issued invoice has no fapiao_id on the wire: the fake
		// lists it under its fapiao_number.
		invs[i] = FapiaoInvoice{FapiaoID: ci.FapiaoNumber, Status: FapiaoIssued, SelfIssued: true,
			TotalAmount: *ci.TotalAmount, Amount: *ci.Amount, TaxAmount: *ci.TaxAmount, Items: ci.Items,
			Remark: ci.Remark, MediaID: ci.FapiaoMediaID, File: bytes.Clone(md.data),
			Blue: &FapiaoNumbers{FapiaoCode: ci.FapiaoCode, FapiaoNumber: ci.FapiaoNumber, CheckCode: ci.CheckCode,
				Password: ci.Password, FapiaoTime: ci.FapiaoTime}}
	}
	if a.template == nil {
		fc.invalid("create the card template (POST /v3/new-tax-control-fapiao/card-template) before inserting cards")
		return
	}
	body := canonical(req)
	if app := a.apps[id]; app != nil && app.insertBody != nil {
		if bytes.Equal(app.insertBody, body) {
			fc.empty(http.StatusAccepted)
			return
		}
		fc.invalid("fapiao_apply_id " + id + " already had its cards inserted")
		return
	}
	app, ok := fc.application(a, req.Scene, id)
	if !ok {
		return
	}
	if app.live() > 0 {
		fc.invalid("fapiao_apply_id " + id + " already has invoices issued on the WeChat Pay side")
		return
	}
	for i := range invs {
		invs[i].CardAppID, invs[i].CardID = a.template.CardAppID, a.template.CardID
		invs[i].CardStatus = FapiaoCardInsertAccepted
	}
	app.Buyer = *req.BuyerInformation
	app.insertBody = body
	first := len(app.Invoices)
	app.Invoices = append(app.Invoices, invs...)
	acctKey := a.key
	fc.st.schedule(fc.s, fc.now.Add(fc.st.processing), func(now time.Time) {
		fc.s.fapiaoCompleteInsert(acctKey, id, first, now)
	})
	fc.empty(http.StatusAccepted)
}

// ---- E15/E16 partner checks ----

// fpCheck serves POST /merchant/{sub_mchid}/check (检查子商户开票功能状态) →
// 204 for a sub-merchant of the partner, else 403 NO_AUTH.
func (s *Server) fpCheck(fc *fcall) {
	if !fc.partner() {
		return
	}
	if _, ok := fc.account("path", "sub_mchid", fc.params["sub_mchid"]); !ok {
		return
	}
	fc.empty(http.StatusNoContent)
}

// fpCheckStatus serves GET /merchant/{sub_mchid}/check-status (POST too, as
// the SKIT .NET SDK sends it): both modes ENABLED, billing_person_info an object.
func (s *Server) fpCheckStatus(fc *fcall) {
	if !fc.partner() {
		return
	}
	sub := fc.params["sub_mchid"]
	if _, ok := fc.account("path", "sub_mchid", sub); !ok {
		return
	}
	fc.json(http.StatusOK, map[string]any{
		"sub_mchid":  sub,
		"third_mode": map[string]string{"status": "ENABLED"},
		"digital_tax_mode": map[string]any{
			"status":              "ENABLED",
			"billing_person_info": map[string]string{"id": "187776276864872", "name": "张伟"},
			"access_time":         fc.now.In(chinaTime).Format(time.RFC3339),
			"ability_info":        []map[string]string{{"type": "BASE_ABILITY", "status": "AUTHORIZED"}},
		},
	})
}

// ---- E17–E20 数电 issue ----

type fapiaoDigitalKind int

const (
	fapiaoGeneral fapiaoDigitalKind = iota
	fapiaoPassenger
	fapiaoRefinedOil
	fapiaoRealEstate
)

type fpDigitalReq struct {
	SubMchID          string       `json:"sub_mchid"`
	FapiaoApplyID     string       `json:"fapiao_apply_id"`
	BuyerInformation  *FapiaoTitle `json:"buyer_information"`
	FapiaoInformation *struct {
		FapiaoID               string        `json:"fapiao_id"`
		TotalAmount            *int64        `json:"total_amount"`
		NeedList               *bool         `json:"need_list,omitempty"`
		Items                  []fpIssueItem `json:"items"`
		BillingPersonID        string        `json:"billing_person_id"`
		FapiaoBillType         string        `json:"fapiao_bill_type"`
		TransactionInformation []struct {
			PayChannel    string `json:"pay_channel"`
			TransactionID string `json:"transaction_id"`
			Amount        *int64 `json:"amount"`
		} `json:"transaction_information"`
		Remark string `json:"remark,omitempty"`
	} `json:"fapiao_information"`
}

// fpIssueDigital serves the partner's 数电 issuing endpoints (issue-general,
// issue-passenger-transport, issue-refined-oil, real-estate-leasing) → 202:
// one invoice (fapiao_information is an object; need_list is optional,
// as in the documentation's issue-general sample), sensitive fields
// (phone, email, certificate_number, certificate_no) decrypted. A failed
// application (FapiaoFake.FailNextIssue) takes a new fapiao_id.
func (s *Server) fpIssueDigital(kind fapiaoDigitalKind) func(fc *fcall) {
	return func(fc *fcall) {
		if !fc.partner() {
			return
		}
		var req fpDigitalReq
		if !fc.decode(&req) {
			return
		}
		a, ok := fc.account("body", "sub_mchid", req.SubMchID)
		if !ok {
			return
		}
		fields := []*string{}
		if b := req.BuyerInformation; b != nil {
			fields = append(fields, &b.Phone, &b.Email)
		}
		if fi := req.FapiaoInformation; fi != nil {
			for i := range fi.Items {
				if p := fi.Items[i].PassengerInformation; p != nil {
					fields = append(fields, &p.CertificateNumber)
				}
				if r := fi.Items[i].RealEstateLeasingInformation; r != nil {
					fields = append(fields, &r.CertificateNo)
				}
			}
		}
		if !fc.sensitive(fields...) {
			return
		}
		fi := req.FapiaoInformation
		switch {
		case !validApplyID(req.FapiaoApplyID):
			fc.bad("body", "fapiao_apply_id", "required, 1-32 characters of letters, digits, - _ | *")
			return
		case !fc.checkBuyer(req.BuyerInformation):
			return
		case fi == nil:
			fc.bad("body", "fapiao_information", "required")
			return
		case fi.FapiaoID == "" || len(fi.FapiaoID) > 32:
			fc.bad("body", "fapiao_information.fapiao_id", "required, at most 32 characters")
			return
		case fi.TotalAmount == nil || *fi.TotalAmount <= 0:
			fc.bad("body", "fapiao_information.total_amount", "required, > 0")
			return
		case fi.BillingPersonID == "":
			fc.bad("body", "fapiao_information.billing_person_id", "required")
			return
		case fi.FapiaoBillType != "COMM_FAPIAO" && fi.FapiaoBillType != "VAT_FAPIAO":
			fc.bad("body", "fapiao_information.fapiao_bill_type", "must be COMM_FAPIAO or VAT_FAPIAO")
			return
		case len(fi.TransactionInformation) == 0:
			fc.bad("body", "fapiao_information.transaction_information", "required")
			return
		}
		for i, t := range fi.TransactionInformation {
			f := "fapiao_information.transaction_information[" + strconv.Itoa(i) + "]."
			switch {
			case t.PayChannel != "WECHAT_PAY":
				fc.bad("body", f+"pay_channel", "must be WECHAT_PAY")
				return
			case t.TransactionID == "":
				fc.bad("body", f+"transaction_id", "required")
				return
			case t.Amount == nil:
				fc.bad("body", f+"amount", "required")
				return
			}
		}
		for i, it := range fi.Items {
			f := "fapiao_information.items[" + strconv.Itoa(i) + "]."
			if it.GoodsName == "" {
				fc.bad("body", f+"goods_name", "required")
				return
			}
			if it.TaxRate == nil {
				fc.bad("body", f+"tax_rate", "required")
				return
			}
			if kind == fapiaoPassenger && it.PassengerInformation == nil {
				fc.bad("body", f+"passenger_information", "required")
				return
			}
			if kind == fapiaoRealEstate && it.RealEstateLeasingInformation == nil {
				fc.bad("body", f+"real_estate_leasing_information", "required")
				return
			}
		}
		items, ok := fc.checkItems("fapiao_information.items", fi.Items, true)
		if !ok {
			return
		}
		inv := fc.newInvoice(fi.FapiaoID, *fi.TotalAmount, fi.Remark, items)
		fc.issue(a, "", req.FapiaoApplyID, *req.BuyerInformation, []FapiaoInvoice{inv}, canonical(req), true)
	}
}

// ---- E21/E22 invitations ----

// fpInviteURL serves GET /fapiaomerchant/getspinviteurl (获取服务商邀请链接):
// operation_type AUTH_BINDING, fapiao_mode (repeated or comma-joined)
// THIRD_OR_SELF_FAPIAO / TENCENT_DIGITAL_TAX, fapiao_ability_type_list
// required for TENCENT_DIGITAL_TAX, invite_code ≤ 128; operate_user, when
// given, is encrypted (Wechatpay-Serial required). The invitation is recorded
// (FapiaoFake.Invites) and completed with AcceptInvite or FailInvite.
func (s *Server) fpInviteURL(fc *fcall) {
	if !fc.partner() {
		return
	}
	q := fc.query
	op := q.Get("operate_user")
	if !fc.sensitive(&op) {
		return
	}
	modes := splitList(q["fapiao_mode"])
	abilities := splitList(q["fapiao_ability_type_list"])
	digital := false
	for _, m := range modes {
		switch m {
		case "THIRD_OR_SELF_FAPIAO":
		case "TENCENT_DIGITAL_TAX":
			digital = true
		default:
			fc.bad("query", "fapiao_mode", "must be THIRD_OR_SELF_FAPIAO or TENCENT_DIGITAL_TAX")
			return
		}
	}
	for _, ab := range abilities {
		switch ab {
		case "BASE_ABILITY", "REAL_ESTATE_ABILITY", "REFINED_OIL_ABILITY", "PASSENGER_TRANSPORT_ABILITY":
		default:
			fc.bad("query", "fapiao_ability_type_list", "unknown ability "+ab)
			return
		}
	}
	code := q.Get("invite_code")
	switch {
	case q.Get("operation_type") != "AUTH_BINDING":
		fc.bad("query", "operation_type", "must be AUTH_BINDING")
		return
	case len(modes) == 0:
		fc.bad("query", "fapiao_mode", "required")
		return
	case digital && len(abilities) == 0:
		fc.bad("query", "fapiao_ability_type_list", "required for TENCENT_DIGITAL_TAX")
		return
	case code == "" || len(code) > 128:
		fc.bad("query", "invite_code", "required, at most 128 characters")
		return
	}
	fc.st.invites = append(fc.st.invites, &FapiaoInvite{PartnerMchID: fc.m.MchID, InviteCode: code,
		FapiaoMode: modes, Abilities: abilities, Time: fc.now})
	fc.json(http.StatusOK, map[string]string{
		"invite_url":        fc.base + "/fapiao/invite?code=" + url.QueryEscape(code),
		"miniprogram_appid": fapiaoMiniProgramAppID,
		"miniprogram_path":  "pages/fapiao/invite?code=" + url.QueryEscape(code),
	})
}

// splitList accepts a list parameter repeated or comma-joined.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// fpListInvites serves GET /fapiaomerchant/listspinvitemchinfo (查询服务商邀请
// 的商户信息): the partner's completed invitations with that status, operated
// within [query_time_start, query_time_end], paged by offset/limit (≤ 100).
func (s *Server) fpListInvites(fc *fcall) {
	if !fc.partner() {
		return
	}
	q := fc.query
	start, err1 := time.Parse(time.RFC3339, q.Get("query_time_start"))
	end, err2 := time.Parse(time.RFC3339, q.Get("query_time_end"))
	status := q.Get("mch_invite_status")
	switch {
	case err1 != nil:
		fc.bad("query", "query_time_start", "required, RFC 3339")
		return
	case err2 != nil:
		fc.bad("query", "query_time_end", "required, RFC 3339")
		return
	case status != "MCH_INVITE_SUCC" && status != "MCH_INVITE_FAILED":
		fc.bad("query", "mch_invite_status", "must be MCH_INVITE_SUCC or MCH_INVITE_FAILED")
		return
	}
	offset, ok := fc.intParam("offset", 0, 1<<31)
	if !ok {
		return
	}
	limit, ok := fc.intParam("limit", 1, 100)
	if !ok {
		return
	}
	type result struct {
		SubMchID           string `json:"sub_mchid,omitempty"`
		MchInviteStatus    string `json:"mch_invite_status"`
		EpName             string `json:"ep_name"`
		TaxID              string `json:"tax_id"`
		InviteCode         string `json:"invite_code"`
		OperateTime        string `json:"operate_time"`
		InviteFailedCode   string `json:"invite_failed_code,omitempty"`
		InviteFailedReason string `json:"invite_failed_reason,omitempty"`
	}
	all := []result{}
	for _, inv := range fc.st.invites {
		if inv.PartnerMchID != fc.m.MchID || inv.Status != status ||
			inv.OperateTime.Before(start) || inv.OperateTime.After(end) ||
			(q.Get("invite_code") != "" && q.Get("invite_code") != inv.InviteCode) {
			continue
		}
		all = append(all, result{SubMchID: inv.SubMchID, MchInviteStatus: inv.Status, EpName: inv.EpName,
			TaxID: inv.TaxID, InviteCode: inv.InviteCode, OperateTime: inv.OperateTime.In(chinaTime).Format(time.RFC3339),
			InviteFailedCode: inv.FailedCode, InviteFailedReason: inv.FailedReason})
	}
	page := all[min(offset, int64(len(all))):]
	page = page[:min(int64(len(page)), limit)]
	fc.json(http.StatusOK, map[string]any{"total_count": len(all), "offset": offset, "limit": limit,
		"mch_invite_result_list": page})
}
