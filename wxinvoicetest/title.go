package wxinvoicetest

import (
	"errors"
	"net/url"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file simulates the invoice-title (发票抬头) side: the title links, the
// user's title QR codes (AddUserTitle + scantitle) and the
// submit_invoice_title push (UserSubmitTitle).

// handleGetUserTitleURL serves POST /card/invoice/biz/getusertitleurl:
// user_fill must be 0 or 1 and, when 0 (or absent), title is required
// (72031). The answer is a usertitle link like WeChat's (not served).
func (s *Server) handleGetUserTitleURL(c *call) {
	var req wire.UserTitleURLRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.UserFill != 0 && req.UserFill != 1:
		c.fail(72031, "invalid user_fill")
		return
	case req.UserFill == 0 && req.Title == "":
		c.fail(72031, "title is empty")
		return
	}
	key := randB64(22)
	u := "https://mp.weixin.qq.com/intp/invoice/usertitle?action=list_auth&biz_title_key=" + key + "#wechat_redirect"
	s.mu.Lock()
	if page := s.pageLink("title", url.Values{"action": {"list_auth"}, "biz_title_key": {key}}); page != "" {
		u = page // the sandbox's own page (userpages.go)
	}
	s.biz().userURLs[u] = req.Title
	s.mu.Unlock()
	c.ok(&wire.URLResponse{URL: u})
}

// handleGetSelectTitleURL serves POST /card/invoice/biz/getselecttitleurl:
// attach and biz_name are optional. The link (not served) is remembered
// with its attach for UserSubmitTitle.
func (s *Server) handleGetSelectTitleURL(c *call) {
	var req wire.SelectTitleURLRequest
	if !c.decode(&req) {
		return
	}
	key := randB64(22)
	u := "https://mp.weixin.qq.com/intp/invoice/usertitle?action=select_title&select_title_key=" + key + "#wechat_redirect"
	s.mu.Lock()
	if page := s.pageLink("title", url.Values{"action": {"select_title"}, "select_title_key": {key}}); page != "" {
		u = page // the sandbox's own page (userpages.go)
	}
	s.biz().selectURLs[u] = req.Attach
	s.mu.Unlock()
	c.ok(&wire.URLResponse{URL: u})
}

// AddUserTitle simulates a user keeping title t in WeChat and showing its QR
// code: it returns the scan_text a scanner reads from the code, which
// /card/invoice/scantitle resolves to t. Scan texts do not expire in the
// fake.
func (s *Server) AddUserTitle(t wxinvoice.UserTitle) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := "https://mp.weixin.qq.com/intp/invoice/usertitlewxa?action=list_auth&invoice_key=" + randB64(32)
	s.biz().titles[text] = t
	return text
}

// handleScanTitle serves POST /card/invoice/scantitle: scan_text is required
// (72031); one AddUserTitle did not hand out answers 72044 (scan text out of
// time: WeChat cannot tell an unknown code from an expired one either).
func (s *Server) handleScanTitle(c *call) {
	var req wire.ScanTitleRequest
	if !c.decode(&req) {
		return
	}
	if req.ScanText == "" {
		c.fail(72031, "scan_text is empty")
		return
	}
	s.mu.Lock()
	t, ok := s.biz().titles[req.ScanText]
	s.mu.Unlock()
	if !ok {
		c.fail(72044, "")
		return
	}
	c.ok(&wire.ScanTitleResponse{TitleType: wire.Int(t.Type), Title: t.Title, Phone: t.Phone, TaxNo: t.TaxNo,
		Addr: t.Addr, BankType: t.BankType, BankNo: t.BankNo})
}

// UserSubmitTitle simulates a user opening a link from getselecttitleurl and
// submitting title t: submit_invoice_title is pushed to the WithEventPush
// URL with the link's attach and title_type InvoiceUserTitleBusinessType or
// InvoiceUserTitlePersonType. It returns an error for a link the server did
// not hand out.
func (s *Server) UserSubmitTitle(selectTitleURL, openid string, t wxinvoice.UserTitle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	attach, ok := s.biz().selectURLs[selectTitleURL]
	if !ok {
		return errors.New("wxinvoicetest: no getselecttitleurl link " + selectTitleURL)
	}
	tt := "InvoiceUserTitleBusinessType"
	if t.Type == wxinvoice.TitleTypePerson {
		tt = "InvoiceUserTitlePersonType"
	}
	ev := wxinvoice.SubmitInvoiceTitleEvent{ToUserName: s.Username(), FromUserName: openid, CreateTime: s.clk.now(),
		Title: t.Title, Phone: t.Phone, TaxNo: t.TaxNo, Addr: t.Addr, BankType: t.BankType, BankNo: t.BankNo,
		Attach: attach, TitleType: tt}
	s.queueEvent(&Push{Name: wxinvoice.EventSubmitInvoiceTitle, XML: SubmitInvoiceTitleEventXML(&ev)})
	return nil
}
