package wxinvoicetest

import "github.com/wxinvoice/wxinvoice/internal/wire"

// handleGetBillAuthURL serves POST /nontax/getbillauthurl: getauthurl's
// checks (s_pappid, order_id, money ≥ 0, timestamp, a live ticket: 72031)
// with source web or app only and no type; no contact is needed (the nontax
// page does not ask for one); an order refused with rejectinsert answers
// 72035. The auth_url expires after expire_time (7200 s, the sample's value)
// on the server's clock; UserAuthorize then fails.
func (s *Server) handleGetBillAuthURL(c *call) {
	var req wire.BillAuthURLRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.authURLFields(req.SPAppID, req.OrderID, req.Money, req.Timestamp, req.Ticket); d != "" {
		c.fail(72031, d)
		return
	}
	if req.Source != "web" && req.Source != "app" {
		c.fail(72031, "invalid source")
		return
	}
	if s.biz().rejected[req.OrderID] {
		c.fail(72035, "")
		return
	}
	o := s.recordAuthOrder(req.OrderID, req.SPAppID, int64(req.Money), req.Timestamp, req.Source, req.RedirectURL, true)
	c.ok(&wire.BillAuthURLResponse{AuthURL: o.AuthURL, ExpireTime: wire.Int(billAuthURLTTL.Seconds())})
}
