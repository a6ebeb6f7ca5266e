package wxinvoicetest

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// This file is the Go API of the e-invoice side for tests and the sandbox:
// playing the user (apply on a paid order, fill a title, discard a card),
// inspecting state and callbacks, and tuning timings and failures.

// FapiaoUserApply is a user's invoice application on a paid WeChat Pay order
// (the user tapped 开发票 after paying and filled the title), for
// FapiaoFake.UserApply.
type FapiaoUserApply struct {
	MchID    string // the merchant (the partner in partner mode)
	SubMchID string // the sub-merchant in partner mode
	// TransactionID is the WeChat Pay order number, the application's
	// fapiao_apply_id; "" generates a 28-digit one.
	TransactionID string
	OpenID        string // the user's openid; "" generates one
	Amount        int64  // the order amount in 分; the invoices may total at most this (> 0)
	OutTradeNo    string // the merchant's order number (optional)
	Title         FapiaoTitle
}

// UserApply pays an order and has its user apply for an invoice with title
// a.Title (scene WITH_WECHATPAY): GET /user-title then answers the title, and
// FAPIAO.USER_APPLIED is sent. It returns the transaction id (the
// fapiao_apply_id). The merchant (and sub-merchant) must be registered.
func (f *FapiaoFake) UserApply(a FapiaoUserApply) (string, error) {
	if err := checkTitle(a.Title); err != nil {
		return "", err
	}
	if a.Amount <= 0 {
		return "", errors.New("wxinvoicetest: FapiaoUserApply.Amount must be > 0")
	}
	if a.TransactionID == "" {
		a.TransactionID = "42" + randDigits(26)
	} else if !validApplyID(a.TransactionID) {
		return "", errors.New("wxinvoicetest: FapiaoUserApply.TransactionID is not a valid fapiao_apply_id")
	}
	if a.OpenID == "" {
		a.OpenID = "o" + randB64(27)
	}
	st := f.s.fapiaoInit()
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	acct, err := st.userAccount(a.MchID, a.SubMchID)
	if err != nil {
		return "", err
	}
	if acct.orders[a.TransactionID] != nil {
		return "", fmt.Errorf("wxinvoicetest: order %s was already applied for", a.TransactionID)
	}
	acct.orders[a.TransactionID] = &fapiaoOrder{transactionID: a.TransactionID, openID: a.OpenID, amount: a.Amount}
	t := a.Title
	t.Amount, t.OutTradeNo = a.Amount, a.OutTradeNo
	now := s.clk.now()
	acct.titles[FapiaoSceneWithWechatPay+" "+a.TransactionID] = &fapiaoTitle{title: t, openID: a.OpenID, time: now}
	st.notify(s, acct.key, FapiaoEventUserApplied, a.TransactionID, fpAppliedResource{MchID: a.MchID,
		SubMchID: a.SubMchID, FapiaoApplyID: a.TransactionID, ApplyTime: now.In(chinaTime).Format(time.RFC3339)})
	st.runDue(s)
	return a.TransactionID, nil
}

// UserFillTitle has the user open titleURL (the title_url, or the
// miniprogram_path, answered by GET /user-title/title-url) and submit t
// (scene WITHOUT_WECHATPAY): GET /user-title then answers it and
// FAPIAO.USER_APPLIED is sent. It fails for a link the fake did not hand out,
// one replaced by a newer link for the same fapiao_apply_id, one older than
// 30 minutes, or one already used.
func (f *FapiaoFake) UserFillTitle(titleURL string, t FapiaoTitle) error {
	if err := checkTitle(t); err != nil {
		return err
	}
	tok := ""
	if u, err := url.Parse(titleURL); err == nil {
		tok = u.Query().Get("token")
	}
	st := f.s.fapiaoInit()
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	l := st.titleLinks[tok]
	now := s.clk.now()
	switch {
	case tok == "" || l == nil:
		return errors.New("wxinvoicetest: not a live title link of this server")
	case !now.Before(l.expires):
		return errors.New("wxinvoicetest: the title link expired (valid 30 minutes)")
	case l.used:
		return errors.New("wxinvoicetest: the title link was already used")
	}
	l.used = true
	t.Amount = l.totalAmount
	acct := st.acct(l.acct.mchID, l.acct.subMchID)
	acct.titles[FapiaoSceneWithoutWechatPay+" "+l.fapiaoApplyID] = &fapiaoTitle{title: t, openID: l.openID, time: now}
	st.notify(s, l.acct, FapiaoEventUserApplied, l.fapiaoApplyID, fpAppliedResource{MchID: l.acct.mchID,
		SubMchID: l.acct.subMchID, FapiaoApplyID: l.fapiaoApplyID, ApplyTime: now.In(chinaTime).Format(time.RFC3339)})
	st.runDue(s)
	return nil
}

// FapiaoInvoiceRef names one invoice: the merchant (and sub-merchant), the
// application and the invoice's fapiao_id.
type FapiaoInvoiceRef struct {
	MchID, SubMchID, FapiaoApplyID, FapiaoID string
}

// UserDiscardCard has the user delete the invoice's card from the card
// pack: the card goes DISCARD_ACCEPTED, then DISCARDED after the processing
// delay, and FAPIAO.CARD_DISCARDED is sent. The card must be INSERTED.
func (f *FapiaoFake) UserDiscardCard(ref FapiaoInvoiceRef) error {
	st := f.s.fapiaoInit()
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	app := st.acct(ref.MchID, ref.SubMchID).apps[ref.FapiaoApplyID]
	if app == nil {
		return fmt.Errorf("wxinvoicetest: no application %s", ref.FapiaoApplyID)
	}
	for i := range app.Invoices {
		inv := &app.Invoices[i]
		if inv.FapiaoID != ref.FapiaoID {
			continue
		}
		if inv.CardStatus != FapiaoCardInserted {
			return fmt.Errorf("wxinvoicetest: the card of %s is %q, not INSERTED", ref.FapiaoID, inv.CardStatus)
		}
		inv.CardStatus = FapiaoCardDiscardAccepted
		k, id, idx := fapiaoAccountKey{ref.MchID, ref.SubMchID}, ref.FapiaoApplyID, i
		st.schedule(s, s.clk.now().Add(st.processing), func(now time.Time) { s.fapiaoCompleteDiscard(k, id, idx, now) })
		st.runDue(s)
		return nil
	}
	return fmt.Errorf("wxinvoicetest: no invoice %s in application %s", ref.FapiaoID, ref.FapiaoApplyID)
}

// userAccount returns the account of a registered merchant (and one of its
// sub-merchants). Callers hold s.mu.
func (st *fapiaoState) userAccount(mchID, subMchID string) (*fapiaoAccount, error) {
	m := st.merchants[mchID]
	switch {
	case m == nil:
		return nil, fmt.Errorf("wxinvoicetest: merchant %q is not registered", mchID)
	case len(m.subs) > 0 && !m.subs[subMchID]:
		return nil, fmt.Errorf("wxinvoicetest: %q is not a sub-merchant of partner %s", subMchID, mchID)
	case len(m.subs) == 0 && subMchID != "":
		return nil, fmt.Errorf("wxinvoicetest: merchant %s is not a partner", mchID)
	}
	return st.acct(mchID, subMchID), nil
}

func checkTitle(t FapiaoTitle) error {
	switch {
	case t.Type != "INDIVIDUAL" && t.Type != "ORGANIZATION":
		return errors.New("wxinvoicetest: FapiaoTitle.Type must be INDIVIDUAL or ORGANIZATION")
	case t.Name == "":
		return errors.New("wxinvoicetest: FapiaoTitle.Name is empty")
	case t.Type == "ORGANIZATION" && t.TaxpayerID == "":
		return errors.New("wxinvoicetest: FapiaoTitle.TaxpayerID is required for an ORGANIZATION")
	}
	return nil
}

// ---- Inspection ----

// Applications returns a copy of every application (merchants in mchid
// order, then creation order), with decrypted buyer data and invoice files.
func (f *FapiaoFake) Applications() []FapiaoApplication {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.runDue(f.s)
	keys := make([]fapiaoAccountKey, 0, len(st.accounts))
	for k := range st.accounts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].mchID != keys[j].mchID {
			return keys[i].mchID < keys[j].mchID
		}
		return keys[i].subMchID < keys[j].subMchID
	})
	var out []FapiaoApplication
	for _, k := range keys {
		a := st.accounts[k]
		for _, id := range a.appOrder {
			out = append(out, a.apps[id].clone())
		}
	}
	return out
}

// Application returns a copy of one application.
func (f *FapiaoFake) Application(mchID, subMchID, fapiaoApplyID string) (FapiaoApplication, bool) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.runDue(f.s)
	a := st.accounts[fapiaoAccountKey{mchID, subMchID}]
	if a == nil || a.apps[fapiaoApplyID] == nil {
		return FapiaoApplication{}, false
	}
	return a.apps[fapiaoApplyID].clone(), true
}

// CardTemplate returns the card template of a (sub-)merchant, if created.
func (f *FapiaoFake) CardTemplate(mchID, subMchID string) (FapiaoCardTemplate, bool) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	a := st.accounts[fapiaoAccountKey{mchID, subMchID}]
	if a == nil || a.template == nil {
		return FapiaoCardTemplate{}, false
	}
	return *a.template, true
}

// DevConfig returns the development configuration of a (sub-)merchant, if
// set (a partner's own configuration has subMchID "").
func (f *FapiaoFake) DevConfig(mchID, subMchID string) (FapiaoDevConfig, bool) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	a := st.accounts[fapiaoAccountKey{mchID, subMchID}]
	if a == nil || a.devConfig == nil {
		return FapiaoDevConfig{}, false
	}
	return *a.devConfig, true
}

// Media returns the content of an uploaded fapiao_media_id while it is held
// (3 days after the upload).
func (f *FapiaoFake) Media(fapiaoMediaID string) ([]byte, bool) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	md := st.media[fapiaoMediaID]
	if md == nil || !f.s.clk.now().Before(md.expires) {
		return nil, false
	}
	return bytes.Clone(md.data), true
}

// Callbacks returns a copy of every FAPIAO.* event so far with its attempts,
// oldest first.
func (f *FapiaoFake) Callbacks() []FapiaoCallback {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.runDue(f.s)
	out := make([]FapiaoCallback, len(st.callbacks))
	for i, cb := range st.callbacks {
		c := *cb
		c.Resource = bytes.Clone(cb.Resource)
		c.Body = bytes.Clone(cb.Body)
		c.Attempts = make([]FapiaoCallbackAttempt, len(cb.Attempts))
		for j, a := range cb.Attempts {
			a.Header = a.Header.Clone()
			c.Attempts[j] = a
		}
		out[i] = c
	}
	return out
}

// WaitCallbacks blocks until no callback attempt is in flight and none is
// due on the server's clock: every callback is then delivered, exhausted,
// or waiting for a retry the clock has not reached (Advance moves it).
func (f *FapiaoFake) WaitCallbacks() {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	for {
		st.runDue(f.s)
		if st.inflight == 0 {
			return
		}
		f.s.pushCond.Wait()
	}
}

// ---- Tuning ----

// SetRetrySchedule sets the waits between callback attempts: after the nth
// failed attempt the next comes intervals[n-1] later on the server's clock;
// after the last, the callback is given up. Default: 15 s, 15 s, 30 s,
// 3 min, 30 min ×4, 1 h (the e-invoice pages' schedule). No intervals: one
// attempt only. Applies to attempts scheduled afterwards.
func (f *FapiaoFake) SetRetrySchedule(intervals ...time.Duration) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.retry = append([]time.Duration(nil), intervals...)
}

// SetCallbackTimeout sets how long (wall clock) one callback attempt waits
// for the answer (default 5 s, what WeChat allows).
func (f *FapiaoFake) SetCallbackTimeout(d time.Duration) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if d > 0 {
		st.cbTimeout = d
	}
}

// SetProcessingDelay sets how long on the server's clock issuing,
// reversing, inserting cards and discarding take after the 202: until then
// the invoices are ISSUE_ACCEPTED / REVERSE_ACCEPTED and cards
// INSERT_ACCEPTED / DISCARD_ACCEPTED. Default 0: done right after the answer.
func (f *FapiaoFake) SetProcessingDelay(d time.Duration) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.processing = max(d, 0)
}

// FapiaoIssueFailure is how a 数电 issue fails (fapiao_error_code and
// fapiao_error_message of the query answer).
type FapiaoIssueFailure struct {
	Code    string // e.g. "BIZ_ERROR"
	Message string // e.g. "开票额度不足"
}

// FailNextIssue makes the next 数电 application (issue-general,
// issue-passenger-transport, issue-refined-oil, real-estate-leasing) end
// ISSUE_FAILED with failure; calls queue up. No callback is sent for a
// failed issue; a retry takes a new fapiao_id.
func (f *FapiaoFake) FailNextIssue(failure FapiaoIssueFailure) {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	st.failNextIssue = append(st.failNextIssue, failure)
}

// takeIssueFailure pops the next queued failure for a 数电 issue. Callers
// hold s.mu.
func (st *fapiaoState) takeIssueFailure(digital bool) (FapiaoIssueFailure, bool) {
	if !digital || len(st.failNextIssue) == 0 {
		return FapiaoIssueFailure{}, false
	}
	f := st.failNextIssue[0]
	st.failNextIssue = st.failNextIssue[1:]
	return f, true
}

// ---- Invitations ----

// Invites returns a copy of every invitation partners asked for (E21).
func (f *FapiaoFake) Invites() []FapiaoInvite {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	out := make([]FapiaoInvite, len(st.invites))
	for i, inv := range st.invites {
		out[i] = *inv
		out[i].FapiaoMode = append([]string(nil), inv.FapiaoMode...)
		out[i].Abilities = append([]string(nil), inv.Abilities...)
	}
	return out
}

// AcceptInvite has a merchant accept the latest invitation with inviteCode:
// it becomes MCH_INVITE_SUCC (listspinvitemchinfo) and subMchID a
// sub-merchant of the partner.
func (f *FapiaoFake) AcceptInvite(inviteCode, subMchID, epName, taxID string) error {
	return f.completeInvite(inviteCode, func(inv *FapiaoInvite, st *fapiaoState) {
		inv.Status, inv.SubMchID, inv.EpName, inv.TaxID = "MCH_INVITE_SUCC", subMchID, epName, taxID
		if m := st.merchants[inv.PartnerMchID]; m != nil && subMchID != "" {
			m.subs[subMchID] = true
		}
	})
}

// FailInvite makes the latest invitation with inviteCode fail with code
// (e.g. "NOT_IN_PILOT_SCOPE") and reason: MCH_INVITE_FAILED.
func (f *FapiaoFake) FailInvite(inviteCode, epName, taxID, code, reason string) error {
	return f.completeInvite(inviteCode, func(inv *FapiaoInvite, _ *fapiaoState) {
		inv.Status, inv.EpName, inv.TaxID, inv.FailedCode, inv.FailedReason = "MCH_INVITE_FAILED", epName, taxID, code, reason
	})
}

func (f *FapiaoFake) completeInvite(code string, apply func(*FapiaoInvite, *fapiaoState)) error {
	st := f.s.fapiaoInit()
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	for i := len(st.invites) - 1; i >= 0; i-- {
		inv := st.invites[i]
		if inv.InviteCode == code && inv.Status == "" {
			apply(inv, st)
			inv.OperateTime = f.s.clk.now()
			return nil
		}
	}
	return fmt.Errorf("wxinvoicetest: no open invitation %q", strings.TrimSpace(code))
}
