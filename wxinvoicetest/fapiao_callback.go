package wxinvoicetest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// This file sends the FAPIAO.* callbacks (encrypted with the merchant's
// APIv3 key, signed with the fake's WeChat Pay key) with WeChat's retry
// schedule on the server's clock, and runs the timed jobs of the e-invoice
// side (issuing, reversing and inserting complete after the processing
// delay; callback retries).

// The FAPIAO.* event types.
const (
	FapiaoEventUserApplied   = "FAPIAO.USER_APPLIED"   // the user filled the title (用户发票抬头填写完成)
	FapiaoEventIssued        = "FAPIAO.ISSUED"         // 发票开具成功
	FapiaoEventReversed      = "FAPIAO.REVERSED"       // 发票冲红成功
	FapiaoEventCardInserted  = "FAPIAO.CARD_INSERTED"  // 发票插入用户卡包成功
	FapiaoEventCardDiscarded = "FAPIAO.CARD_DISCARDED" // 发票卡券作废
)

// defaultFapiaoRetry is the retry schedule the e-invoice pages print:
// after a failed attempt the next one comes 15 s, 15 s, 30 s, 3 min,
// 30 min ×4 and 1 h later (10 attempts in all).
var defaultFapiaoRetry = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour,
}

var fapiaoSummaries = map[string]string{
	FapiaoEventUserApplied:   "用户发票抬头填写完成",
	FapiaoEventIssued:        "发票开具成功",
	FapiaoEventReversed:      "发票冲红成功",
	FapiaoEventCardInserted:  "发票插入用户卡包成功",
	FapiaoEventCardDiscarded: "发票卡券作废",
}

// FapiaoCallback is one FAPIAO.* notification, as listed by
// FapiaoFake.Callbacks.
type FapiaoCallback struct {
	ID            string    // the envelope id (EV-…)
	EventType     string    // FapiaoEventUserApplied, …
	MchID         string    // the merchant (the partner in partner mode)
	SubMchID      string    // the sub-merchant in partner mode
	FapiaoApplyID string    // the application
	CreateTime    time.Time // the server's clock when the event happened
	// URL is the callback_url it is sent to; "" when none was configured
	// (the event is then recorded, not sent).
	URL string
	// Resource is the decrypted resource JSON.
	Resource []byte
	// Body is the envelope POSTed (the same bytes on every attempt).
	Body []byte
	// Serial is the Wechatpay-Serial it is signed under: the public key ID,
	// or the platform certificate serial (SetCallbackSigning).
	Serial      string
	Attempts    []FapiaoCallbackAttempt
	Delivered   bool      // an attempt was answered 200 or 204
	Done        bool      // delivered, every attempt failed, nothing to send, or given up by Close
	NextAttempt time.Time // server clock of the next retry; zero when none is due

	signer fapiaoKey
}

// FapiaoCallbackAttempt is one HTTP attempt of a FapiaoCallback.
type FapiaoCallbackAttempt struct {
	Time       time.Time   // the server's clock when it was sent
	Header     http.Header // the headers sent (Wechatpay-Timestamp/Nonce/Signature/Serial, …)
	StatusCode int         // HTTP status answered; 0 when there was no answer
	Body       string      // the answer's body (at most 64 KiB)
	Err        string      // transport error or timeout, "" when answered
}

// fapiaoJob is work due at a time of the server's clock.
type fapiaoJob struct {
	due   time.Time
	run   func(due time.Time)
	timer *time.Timer // wall clock only: runs it when due
}

// schedule adds a job due at due. With the wall clock a timer runs it;
// with a frozen clock it runs when Advance or a later call reaches due.
// Callers hold s.mu and call runDue afterwards.
func (st *fapiaoState) schedule(s *Server, due time.Time, run func(due time.Time)) {
	j := &fapiaoJob{due: due, run: run}
	st.jobs = append(st.jobs, j)
	if !s.clk.frozen {
		d := due.Sub(s.clk.now())
		j.timer = time.AfterFunc(max(d, 0), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			st.runDue(s)
		})
	}
}

// runDue runs every job that is due, earliest first (jobs they add and
// that are due run too). Callers hold s.mu.
func (st *fapiaoState) runDue(s *Server) {
	for {
		now := s.clk.now()
		idx := -1
		for i, j := range st.jobs {
			if !j.due.After(now) && (idx < 0 || j.due.Before(st.jobs[idx].due)) {
				idx = i
			}
		}
		if idx < 0 {
			return
		}
		j := st.jobs[idx]
		st.jobs = append(st.jobs[:idx], st.jobs[idx+1:]...)
		if j.timer != nil {
			j.timer.Stop()
		}
		j.run(j.due)
	}
}

// fapiaoAdvanced runs what the clock reached; called by Advance under s.mu.
func (s *Server) fapiaoAdvanced() {
	if s.fapiaoSt != nil {
		s.fapiaoSt.runDue(s)
	}
}

// fapiaoClose gives up the pending retries (their callbacks are Done) and
// waits for callback attempts in flight; called by Close.
func (s *Server) fapiaoClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.fapiaoSt
	if st == nil {
		return
	}
	st.closed = true
	for _, j := range st.jobs {
		if j.timer != nil {
			j.timer.Stop()
		}
	}
	for _, cb := range st.callbacks {
		if !cb.NextAttempt.IsZero() { // a retry that will not come
			cb.NextAttempt, cb.Done = time.Time{}, true
		}
	}
	for st.inflight > 0 {
		s.pushCond.Wait()
	}
	if st.client != nil {
		st.client.CloseIdleConnections() // no keep-alive goroutine outlives Close
	}
}

// ---- Completing the asynchronous work ----

// fapiaoCompleteIssue issues the invoices from index first of an
// application (or fails them with failure), then sends FAPIAO.ISSUED.
func (s *Server) fapiaoCompleteIssue(k fapiaoAccountKey, id string, first int, now time.Time, failure FapiaoIssueFailure, failing bool) {
	st := s.fapiaoSt
	a := st.acct(k.mchID, k.subMchID)
	app := a.apps[id]
	for i := first; i < len(app.Invoices); i++ {
		inv := &app.Invoices[i]
		if inv.Status != FapiaoIssueAccepted {
			continue
		}
		if failing {
			inv.Status, inv.ErrorCode, inv.ErrorMessage = FapiaoIssueFailed, failure.Code, failure.Message
			continue
		}
		inv.Status = FapiaoIssued
		inv.Blue = newFapiaoNumbers(inv.Digital, now)
		inv.CardCode = randDigits(12)
		inv.CardStatus = FapiaoCardInserted
		inv.File = fapiaoPDF(inv)
	}
	if failing {
		return // WeChat documents no callback for a failed 数电 issue: query E09
	}
	st.notify(s, k, FapiaoEventIssued, id, fapiaoStatusResource(app))
}

// fapiaoCompleteReverse reverses the invoices at the indexes, then sends
// FAPIAO.REVERSED (the cards are discarded with them).
func (s *Server) fapiaoCompleteReverse(k fapiaoAccountKey, id string, idx []int, now time.Time) {
	st := s.fapiaoSt
	app := st.acct(k.mchID, k.subMchID).apps[id]
	for _, i := range idx {
		inv := &app.Invoices[i]
		if inv.Status != FapiaoReverseAccepted {
			continue
		}
		inv.Status = FapiaoReversed
		inv.Red = newFapiaoNumbers(inv.Digital, now)
		inv.CardStatus = FapiaoCardDiscarded
	}
	st.notify(s, k, FapiaoEventReversed, id, fapiaoStatusResource(app))
}

// fapiaoCompleteInsert inserts the self-issued cards from index first, then
// sends FAPIAO.CARD_INSERTED.
func (s *Server) fapiaoCompleteInsert(k fapiaoAccountKey, id string, first int, _ time.Time) {
	st := s.fapiaoSt
	app := st.acct(k.mchID, k.subMchID).apps[id]
	for i := first; i < len(app.Invoices); i++ {
		if app.Invoices[i].CardStatus == FapiaoCardInsertAccepted {
			app.Invoices[i].CardStatus = FapiaoCardInserted
			app.Invoices[i].CardCode = randDigits(12)
		}
	}
	st.notify(s, k, FapiaoEventCardInserted, id, fapiaoStatusResource(app))
}

// fapiaoCompleteDiscard discards the card of invoice i, then sends
// FAPIAO.CARD_DISCARDED.
func (s *Server) fapiaoCompleteDiscard(k fapiaoAccountKey, id string, i int, _ time.Time) {
	st := s.fapiaoSt
	app := st.acct(k.mchID, k.subMchID).apps[id]
	if app.Invoices[i].CardStatus != FapiaoCardDiscardAccepted {
		return
	}
	app.Invoices[i].CardStatus = FapiaoCardDiscarded
	st.notify(s, k, FapiaoEventCardDiscarded, id, fapiaoStatusResource(app))
}

// newFapiaoNumbers returns fresh invoice numbers: a 12-digit code and an
// 8-digit number, or for a 数电 invoice no code and a 20-digit number.
func newFapiaoNumbers(digital bool, now time.Time) *FapiaoNumbers {
	n := &FapiaoNumbers{FapiaoCode: randDigits(12), FapiaoNumber: randDigits(8), CheckCode: randDigits(20),
		Password: randB64(40), FapiaoTime: now.In(chinaTime).Format(time.RFC3339)}
	if digital {
		n.FapiaoCode, n.FapiaoNumber = "", randDigits(20)
	}
	return n
}

type fpStatusItem struct {
	FapiaoID     string `json:"fapiao_id"`
	FapiaoStatus string `json:"fapiao_status"`
	CardStatus   string `json:"card_status"`
}

type fpStatusResource struct {
	MchID             string         `json:"mchid"`
	SubMchID          string         `json:"sub_mchid,omitempty"`
	FapiaoApplyID     string         `json:"fapiao_apply_id"`
	FapiaoInformation []fpStatusItem `json:"fapiao_information"`
}

type fpAppliedResource struct {
	MchID         string `json:"mchid"`
	SubMchID      string `json:"sub_mchid,omitempty"`
	FapiaoApplyID string `json:"fapiao_apply_id"`
	ApplyTime     string `json:"apply_time"`
}

// fapiaoStatusResource lists every invoice of app with its statuses (the
// resource of every event but USER_APPLIED).
func fapiaoStatusResource(app *FapiaoApplication) fpStatusResource {
	r := fpStatusResource{MchID: app.MchID, SubMchID: app.SubMchID, FapiaoApplyID: app.FapiaoApplyID,
		FapiaoInformation: []fpStatusItem{}}
	for _, inv := range app.Invoices {
		if inv.Status == FapiaoIssueFailed {
			continue
		}
		r.FapiaoInformation = append(r.FapiaoInformation, fpStatusItem{FapiaoID: inv.FapiaoID,
			FapiaoStatus: inv.Status, CardStatus: inv.CardStatus})
	}
	return r
}

// ---- Sending ----

type fpEnvelope struct {
	ID           string     `json:"id"`
	CreateTime   string     `json:"create_time"`
	ResourceType string     `json:"resource_type"`
	EventType    string     `json:"event_type"`
	Summary      string     `json:"summary"`
	Resource     fpResource `json:"resource"`
}

type fpResource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// callbackURL returns where events of account k go: its own callback_url,
// else (a partner's sub-merchant) the partner's.
func (st *fapiaoState) callbackURL(k fapiaoAccountKey) string {
	for _, key := range []fapiaoAccountKey{k, {k.mchID, ""}} {
		if a := st.accounts[key]; a != nil && a.devConfig != nil && a.devConfig.CallbackURL != "" {
			return a.devConfig.CallbackURL
		}
	}
	return ""
}

// notify records a FAPIAO.* event of account k and sends it now (when a
// callback_url is configured). Callers hold s.mu.
func (st *fapiaoState) notify(s *Server, k fapiaoAccountKey, eventType, applyID string, resource any) {
	m := st.merchants[k.mchID]
	plain, _ := json.Marshal(resource)
	now := s.clk.now()
	nonce := randAlnum(12)
	block, _ := aes.NewCipher([]byte(m.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	ct := gcm.Seal(nil, []byte(nonce), plain, nil)
	env := fpEnvelope{ID: "EV-" + randDigits(19), CreateTime: now.In(chinaTime).Format(time.RFC3339),
		ResourceType: "encrypt-resource", EventType: eventType, Summary: fapiaoSummaries[eventType],
		Resource: fpResource{OriginalType: "fapiao", Algorithm: "AEAD_AES_256_GCM",
			Ciphertext: base64.StdEncoding.EncodeToString(ct), Nonce: nonce}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(env)
	cb := &FapiaoCallback{ID: env.ID, EventType: eventType, MchID: k.mchID, SubMchID: k.subMchID,
		FapiaoApplyID: applyID, CreateTime: now, URL: st.callbackURL(k), Resource: plain,
		Body: bytes.TrimRight(buf.Bytes(), "\n")}
	cb.signer = st.callbackKey()
	cb.Serial = cb.signer.serial
	st.callbacks = append(st.callbacks, cb)
	if cb.URL == "" || st.closed {
		cb.Done = true
		return
	}
	st.scheduleAttempt(s, cb, now)
}

// scheduleAttempt schedules the next attempt of cb at due. Callers hold s.mu.
func (st *fapiaoState) scheduleAttempt(s *Server, cb *FapiaoCallback, due time.Time) {
	cb.NextAttempt = due
	st.schedule(s, due, func(time.Time) {
		cb.NextAttempt = time.Time{}
		if st.closed {
			cb.Done = true
			return
		}
		st.inflight++
		go s.fapiaoAttempt(st, cb, s.clk.now(), st.cbTimeout)
	})
}

// fapiaoAttempt makes one attempt of cb (sent at clock time sent) and
// schedules the next one when it failed and the schedule has more.
func (s *Server) fapiaoAttempt(st *fapiaoState, cb *FapiaoCallback, sent time.Time, timeout time.Duration) {
	a := st.send(cb.URL, cb.Body, cb.signer, timeout)
	a.Time = sent
	s.mu.Lock()
	defer s.mu.Unlock()
	st.inflight--
	s.pushCond.Broadcast()
	cb.Attempts = append(cb.Attempts, a)
	switch {
	case a.Err == "" && (a.StatusCode == http.StatusOK || a.StatusCode == http.StatusNoContent):
		cb.Delivered, cb.Done = true, true
	case len(cb.Attempts) > len(st.retry) || st.closed:
		cb.Done = true
	default:
		st.scheduleAttempt(s, cb, s.clk.now().Add(st.retry[len(cb.Attempts)-1]))
		st.runDue(s)
	}
}

// send POSTs one signed attempt of a callback body to url.
func (st *fapiaoState) send(url string, body []byte, k fapiaoKey, timeout time.Duration) FapiaoCallbackAttempt {
	var a FapiaoCallbackAttempt
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := randAlnum(32)
	sig, err := k.sign(ts + "\n" + nonce + "\n" + string(body) + "\n")
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Request-ID", randHex(16))
	req.Header.Set("Wechatpay-Nonce", nonce)
	req.Header.Set("Wechatpay-Serial", k.serial)
	req.Header.Set("Wechatpay-Signature", sig)
	req.Header.Set("Wechatpay-Signature-Type", fapiaoSignatureType)
	req.Header.Set("Wechatpay-Timestamp", ts)
	a.Header = req.Header.Clone()
	resp, err := st.client.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.StatusCode, a.Body = resp.StatusCode, string(b)
	if err != nil {
		a.Err = err.Error()
	}
	return a
}
