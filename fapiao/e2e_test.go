package fapiao_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// The merchant of the end-to-end tests: wechatpay-go's published test key
// (certificate serial D7CE59D1F522D701) and wechatpay-java's 32-byte test
// APIv3 key. The fake signs with its own key (e2e_wechatpay_key.pem).
const (
	e2eMchID    = "1900000001"
	e2ePartner  = "1900000100"
	e2eSub      = "1900000109"
	e2eSerial   = "D7CE59D1F522D701"
	e2eAPIv3Key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
	e2eKeyID    = "PUB_KEY_ID_0116571234562024052000123400000000"
	e2ePhone    = "18507550000"
	e2eEmail    = "123110@qq.com"
	e2eAppID    = "wxb1170446a4c0a5a2"
)

var e2eStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func e2eKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := fapiao.LoadPrivateKeyFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// recorder collects the typed callbacks a NotifyHandler ran.
type recorder struct {
	mu      sync.Mutex
	applied []*fapiao.UserAppliedEvent
	events  map[string][]*fapiao.FapiaoEvent // by event type
	other   []*fapiao.Notification
	fail    int // answer the next n callbacks with an error
}

func (r *recorder) fapiaoEvent(typ string) func(context.Context, *fapiao.FapiaoEvent) error {
	return func(_ context.Context, ev *fapiao.FapiaoEvent) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			return errors.New("not now")
		}
		r.events[typ] = append(r.events[typ], ev)
		return nil
	}
}

func (r *recorder) get(typ string) []*fapiao.FapiaoEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fapiao.FapiaoEvent(nil), r.events[typ]...)
}

func (r *recorder) userApplied() []*fapiao.UserAppliedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fapiao.UserAppliedEvent(nil), r.applied...)
}

// e2e is a wxinvoicetest server with the merchant (and a partner serving
// e2eSub) registered, a fapiao.Client for each, and a NotifyHandler at the
// callback_url.
type e2e struct {
	srv     *wxinvoicetest.Server
	fp      *wxinvoicetest.FapiaoFake
	mch     *fapiao.Client
	partner *fapiao.Client
	rec     *recorder
	notify  *httptest.Server
}

func newE2E(t *testing.T, opts ...fapiao.Option) *e2e {
	t.Helper()
	srv := wxinvoicetest.NewServer(wxinvoicetest.WithClock(e2eStart),
		wxinvoicetest.WithWechatPayKey(e2eKeyID, e2eKey(t, "e2e_wechatpay_key.pem")))
	t.Cleanup(srv.Close)
	fp := srv.Fapiao()
	mk := e2eKey(t, "test_private_key.pem")
	for _, m := range []wxinvoicetest.FapiaoMerchant{
		{MchID: e2eMchID, CertSerialNo: e2eSerial, PublicKey: &mk.PublicKey, APIv3Key: e2eAPIv3Key},
		{MchID: e2ePartner, CertSerialNo: e2eSerial, PublicKey: &mk.PublicKey, APIv3Key: e2eAPIv3Key, SubMchIDs: []string{e2eSub}},
	} {
		if err := fp.RegisterMerchant(m); err != nil {
			t.Fatal(err)
		}
	}
	keyID, pub := fp.PublicKey()
	if keyID != e2eKeyID {
		t.Fatalf("fake key id %q", keyID)
	}
	newClient := func(mchID string) *fapiao.Client {
		c, err := fapiao.New(mchID, append([]fapiao.Option{
			fapiao.WithMerchantKey(e2eSerial, mk),
			fapiao.WithWechatPayPublicKey(keyID, pub),
			fapiao.WithBaseURL(srv.URL),
			fapiao.WithRetryPolicy(fapiao.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rec := &recorder{events: map[string][]*fapiao.FapiaoEvent{}}
	h, err := fapiao.NewNotifyHandler(fapiao.NotifyConfig{
		APIv3Key: e2eAPIv3Key, WechatPayPublicKeyID: keyID, WechatPayPublicKey: pub,
		OnUserApplied: func(_ context.Context, ev *fapiao.UserAppliedEvent) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.applied = append(rec.applied, ev)
			return nil
		},
		OnIssued:        rec.fapiaoEvent(fapiao.EventIssued),
		OnReversed:      rec.fapiaoEvent(fapiao.EventReversed),
		OnCardInserted:  rec.fapiaoEvent(fapiao.EventCardInserted),
		OnCardDiscarded: rec.fapiaoEvent(fapiao.EventCardDiscarded),
		OnEvent: func(_ context.Context, n *fapiao.Notification) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.other = append(rec.other, n)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	notify := httptest.NewServer(h)
	t.Cleanup(notify.Close)
	return &e2e{srv: srv, fp: fp, mch: newClient(e2eMchID), partner: newClient(e2ePartner), rec: rec, notify: notify}
}

func ptr[T any](v T) *T { return &v }

type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// setUp configures the callback URL and the card template of the merchant
// (sub "" ) or of the partner's sub-merchant.
func (e *e2e) setUp(t *testing.T, c *fapiao.Client, sub string) {
	t.Helper()
	ctx := context.Background()
	dev := must(c.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{
		CallbackURL: e.notify.URL + "/fapiao", SubMchCode: sub, ShowFapiaoCell: ptr(true), SupportVatFapiao: ptr(false)})).ok(t)
	if dev.CallbackURL != e.notify.URL+"/fapiao" || !dev.ShowFapiaoCell {
		t.Fatalf("E02 answer %+v", dev)
	}
	got := must(c.GetDevelopmentConfig(ctx, &fapiao.GetDevelopmentConfigRequest{SubMchCode: sub})).ok(t)
	if *got != *dev {
		t.Fatalf("E03 %+v, E02 %+v", got, dev)
	}
	tpl := must(c.CreateCardTemplate(ctx, &fapiao.CreateCardTemplateRequest{SubMchID: sub, CardAppID: e2eAppID,
		CardTemplateInformation: fapiao.CardTemplateInformation{PayeeName: "某某餐厅", LogoURL: "https://mmbiz.qpic.cn/logo"}})).ok(t)
	if tpl.CardAppID != e2eAppID || !strings.HasPrefix(tpl.CardID, "p") {
		t.Fatalf("E01 answer %+v", tpl)
	}
	mch := c.MchID()
	held, ok := e.fp.CardTemplate(mch, sub)
	if !ok || held.CardID != tpl.CardID {
		t.Fatalf("fake holds template %+v %v, client got %q", held, ok, tpl.CardID)
	}
}

func issueLine(total int64) fapiao.IssueFapiaoDetail {
	return fapiao.IssueFapiaoDetail{TotalAmount: total, Items: []fapiao.IssueItem{{
		TaxCode: "3010101020203000000", GoodsName: "出租汽车客运服务", Quantity: 100000000, TotalAmount: total,
		TaxRate: ptr[int64](600), Discount: false}}}
}

// TestE2EMerchantLifecycle drives E01–E12 as a direct merchant against the
// fake, with the NotifyHandler receiving USER_APPLIED, ISSUED, REVERSED
// and CARD_DISCARDED.
func TestE2EMerchantLifecycle(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	c := e.mch
	e.setUp(t, c, "")

	// E04, E05: the seller and the tax codes.
	base := must(c.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{})).ok(t)
	if base.SellerInformation.Name == "" || base.SellerInformation.TaxpayerID == "" || base.ExtraInformation.Drawer == "" {
		t.Fatalf("E04 %+v", base)
	}
	codes := must(c.ListTaxCodes(ctx, &fapiao.ListTaxCodesRequest{Offset: 2, Limit: 3})).ok(t)
	if codes.Offset != 2 || codes.Limit != 3 || len(codes.Data) != 3 || codes.TotalCount < 4 || len(codes.Data[0].TaxCode) != 19 {
		t.Fatalf("E05 %+v", codes)
	}

	// The user pays and applies (WITH_WECHATPAY): USER_APPLIED, then E07.
	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 429900, OutTradeNo: "order_1",
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "张三", Phone: e2ePhone, Email: e2eEmail}})).ok(t)
	e.fp.WaitCallbacks()
	applied := e.rec.userApplied()
	if len(applied) != 1 || applied[0].FapiaoApplyID != txn || applied[0].MchID != e2eMchID || applied[0].Notification.EventType != fapiao.EventUserApplied {
		t.Fatalf("USER_APPLIED callbacks: %+v", applied)
	}
	title := must(c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn})).ok(t)
	if title.Name != "张三" || title.Phone != e2ePhone || title.Email != e2eEmail || title.Amount != 429900 {
		t.Fatalf("E07 title (decrypted) %q %q %q %d", title.Name, string(title.Phone), string(title.Email), title.Amount)
	}
	// The wire carried the phone encrypted for the merchant, never in clear.
	for _, r := range e.fp.Requests() {
		if strings.Contains(string(r.Body), e2ePhone) {
			t.Fatalf("%s %s carried the phone in clear", r.Method, r.URI)
		}
	}

	// E08 issue: sensitive fields encrypted with Wechatpay-Serial; 202, then ISSUED.
	buyer := *title
	accepted := must(c.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn,
		BuyerInformation: buyer, FapiaoInformation: []fapiao.IssueFapiaoDetail{
			func() fapiao.IssueFapiaoDetail { d := issueLine(429900); d.FapiaoID = "fp-1"; return d }()}})).ok(t)
	if accepted.StatusCode != http.StatusAccepted {
		t.Fatalf("E08 status %d", accepted.StatusCode)
	}
	issueReq := lastRequest(t, e.fp, http.MethodPost, "/v3/new-tax-control-fapiao/fapiao-applications")
	if issueReq.Header.Get("Wechatpay-Serial") != e2eKeyID || bytes.Contains(issueReq.Body, []byte(e2ePhone)) || bytes.Contains(issueReq.Body, []byte(e2eEmail)) {
		t.Fatalf("E08 wire: serial %q body %s", issueReq.Header.Get("Wechatpay-Serial"), issueReq.Body)
	}
	held, _ := e.fp.Application(e2eMchID, "", txn)
	if held.Buyer.Phone != e2ePhone || held.Buyer.Email != e2eEmail {
		t.Fatalf("the fake decrypted %q %q", held.Buyer.Phone, held.Buyer.Email)
	}
	e.fp.WaitCallbacks()
	issued := e.rec.get(fapiao.EventIssued)
	if len(issued) != 1 || issued[0].FapiaoApplyID != txn || len(issued[0].FapiaoInformation) != 1 ||
		issued[0].FapiaoInformation[0] != (fapiao.FapiaoStatus{FapiaoID: "fp-1", FapiaoStatus: fapiao.StatusIssued, CardStatus: fapiao.CardInserted}) {
		t.Fatalf("ISSUED callbacks: %+v", issued)
	}

	// E09 query: amounts split, buyer decrypted, card information.
	app := must(c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})).ok(t)
	if app.TotalCount != 1 || len(app.FapiaoInformation) != 1 {
		t.Fatalf("E09 %+v", app)
	}
	inv := app.FapiaoInformation[0]
	if inv.Status != fapiao.StatusIssued || inv.BlueFapiao == nil || inv.BlueFapiao.FapiaoNumber == "" ||
		inv.CardInformation == nil || inv.CardInformation.CardStatus != fapiao.CardInserted ||
		inv.TotalAmount != 429900 || inv.Amount+inv.TaxAmount != 429900 || inv.BuyerInformation.Phone != e2ePhone {
		t.Fatalf("E09 invoice %+v", inv)
	}
	if one := must(c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn, FapiaoID: "fp-1"})).ok(t); len(one.FapiaoInformation) != 1 {
		t.Fatalf("E09 ?fapiao_id: %+v", one)
	}

	// E10 + E11: download with the SM3-Digest check.
	info := must(c.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{FapiaoApplyID: txn, FapiaoID: "fp-1"})).ok(t)
	if len(info.FapiaoDownloadInfoList) != 1 || info.FapiaoDownloadInfoList[0].DownloadURL == "" {
		t.Fatalf("E10 %+v", info)
	}
	var pdf bytes.Buffer
	dl := must(c.Download(ctx, &fapiao.DownloadRequest{DownloadURL: info.FapiaoDownloadInfoList[0].DownloadURL,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode, InvoiceNo: inv.BlueFapiao.FapiaoNumber,
		FapiaoID: "fp-1"}, &pdf)).ok(t)
	held, _ = e.fp.Application(e2eMchID, "", txn)
	if !bytes.Equal(pdf.Bytes(), held.Invoices[0].File) || dl.Size != int64(pdf.Len()) || !strings.EqualFold(dl.SM3Digest, fapiao.SM3Hex(pdf.Bytes())) {
		t.Fatalf("E11 download: %d bytes, digest %s, response %+v", pdf.Len(), fapiao.SM3Hex(pdf.Bytes()), dl)
	}
	if dl.FileName != "fp-1.pdf" {
		t.Fatalf("E11 file name %q", dl.FileName)
	}

	// E12 reverse: 202, then REVERSED with the card discarded.
	rev := must(c.Reverse(ctx, &fapiao.ReverseRequest{FapiaoApplyID: txn, ReverseReason: "退款",
		FapiaoInformation: []fapiao.ReverseFapiao{{FapiaoID: "fp-1", FapiaoCode: inv.BlueFapiao.FapiaoCode, FapiaoNumber: inv.BlueFapiao.FapiaoNumber}}})).ok(t)
	if rev.StatusCode != http.StatusAccepted {
		t.Fatalf("E12 status %d", rev.StatusCode)
	}
	e.fp.WaitCallbacks()
	reversed := e.rec.get(fapiao.EventReversed)
	if len(reversed) != 1 || reversed[0].FapiaoInformation[0].FapiaoStatus != fapiao.StatusReversed ||
		reversed[0].FapiaoInformation[0].CardStatus != fapiao.CardDiscarded {
		t.Fatalf("REVERSED callbacks: %+v", reversed)
	}
	app = must(c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})).ok(t)
	if app.FapiaoInformation[0].Status != fapiao.StatusReversed || app.FapiaoInformation[0].RedFapiao == nil {
		t.Fatalf("E09 after reverse %+v", app.FapiaoInformation[0])
	}

	// E06 title link (WITHOUT_WECHATPAY), the user fills it, a second issue, and the user discards the card.
	link := must(c.GetTitleURL(ctx, &fapiao.GetTitleURLRequest{FapiaoApplyID: "apply-2", Source: fapiao.SourceWeb,
		AppID: e2eAppID, OpenID: "oUser2", TotalAmount: 1000, ShowPhoneCell: true})).ok(t)
	if link.TitleURL == "" {
		t.Fatalf("E06 %+v", link)
	}
	if err := e.fp.UserFillTitle(link.TitleURL, wxinvoicetest.FapiaoTitle{Type: "ORGANIZATION", Name: "某某公司", TaxpayerID: "91440300MA5EXAMPLE"}); err != nil {
		t.Fatal(err)
	}
	e.fp.WaitCallbacks()
	if a := e.rec.userApplied(); len(a) != 2 || a[1].FapiaoApplyID != "apply-2" {
		t.Fatalf("USER_APPLIED after the title link: %+v", a)
	}
	t2 := must(c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithoutWechatPay, FapiaoApplyID: "apply-2"})).ok(t)
	d := issueLine(1000)
	d.FapiaoID = "fp-2"
	must(c.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithoutWechatPay, FapiaoApplyID: "apply-2",
		BuyerInformation: *t2, FapiaoInformation: []fapiao.IssueFapiaoDetail{d}})).ok(t)
	if err := e.fp.UserDiscardCard(wxinvoicetest.FapiaoInvoiceRef{MchID: e2eMchID, FapiaoApplyID: "apply-2", FapiaoID: "fp-2"}); err != nil {
		t.Fatal(err)
	}
	e.fp.WaitCallbacks()
	if ev := e.rec.get(fapiao.EventCardDiscarded); len(ev) != 1 || ev[0].FapiaoApplyID != "apply-2" || ev[0].FapiaoInformation[0].CardStatus != fapiao.CardDiscarded {
		t.Fatalf("CARD_DISCARDED callbacks: %+v", ev)
	}
	if len(e.rec.get(fapiao.EventIssued)) != 2 {
		t.Fatalf("ISSUED callbacks: %d", len(e.rec.get(fapiao.EventIssued)))
	}
	// Every callback was delivered on its first attempt and signed with the fake's key.
	for _, cb := range e.fp.Callbacks() {
		if !cb.Delivered || len(cb.Attempts) != 1 || cb.Attempts[0].StatusCode != http.StatusNoContent || cb.Serial != e2eKeyID {
			t.Fatalf("callback %s: delivered %v, attempts %+v", cb.EventType, cb.Delivered, cb.Attempts)
		}
	}
}

func lastRequest(t *testing.T, fp *wxinvoicetest.FapiaoFake, method, uriPrefix string) wxinvoicetest.FapiaoRequest {
	t.Helper()
	reqs := fp.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && strings.HasPrefix(reqs[i].URI, uriPrefix) {
			return reqs[i]
		}
	}
	t.Fatalf("no %s %s", method, uriPrefix)
	return wxinvoicetest.FapiaoRequest{}
}

// TestE2ESelfIssued uploads a self-issued invoice (E13, SM3 over the file,
// meta signed) and inserts it into the user's card pack (E14):
// CARD_INSERTED.
func TestE2ESelfIssued(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	c := e.mch
	e.setUp(t, c, "")
	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 10000,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "李四", Phone: e2ePhone}})).ok(t)

	file := []byte("%PDF-1.4\n% a self-issued invoice\n%%EOF\n")
	up := must(c.UploadFile(ctx, &fapiao.UploadFileRequest{FileType: "PDF", File: bytes.NewReader(file)})).ok(t)
	if up.FapiaoMediaID == "" {
		t.Fatal("E13: no media id")
	}
	if held, ok := e.fp.Media(up.FapiaoMediaID); !ok || !bytes.Equal(held, file) {
		t.Fatalf("E13: the fake holds %q", held)
	}
	upReq := lastRequest(t, e.fp, http.MethodPost, "/v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file")
	if !bytes.Contains(upReq.Body, []byte(`"digest":"`+fapiao.SM3Hex(file)+`"`)) {
		t.Fatalf("E13 meta lacks the SM3 digest %s", fapiao.SM3Hex(file))
	}

	title := must(c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn})).ok(t)
	base := must(c.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{})).ok(t)
	acc := must(c.InsertCards(ctx, &fapiao.InsertCardsRequest{FapiaoApplyID: txn, Scene: fapiao.SceneWithWechatPay,
		BuyerInformation: *title, FapiaoCardInformation: []fapiao.FapiaoCard{{
			FapiaoMediaID: up.FapiaoMediaID, FapiaoNumber: "12897794", FapiaoCode: "044001911211",
			FapiaoTime: "2026-11-30T18:00:00+08:00", CheckCode: "69001808340631374774", Password: "006>299-375/326>2+7/*0-+<351059<80<4*/5>+<11631+*3030/5*>+/-*<9-<+-2>6+<",
			TotalAmount: 10000, TaxAmount: 1150, Amount: 8850, SellerInformation: base.SellerInformation,
			ExtraInformation: base.ExtraInformation, Items: []fapiao.FapiaoItem{{TaxCode: "3010101020203000000",
				GoodsName: "餐饮服务", Quantity: 100000000, UnitPrice: 8850000000, Amount: 8850, TaxAmount: 1150,
				TotalAmount: 10000, TaxRate: 1300, TaxPreferMark: "NO_FAVORABLE"}}}}})).ok(t)
	if acc.StatusCode != http.StatusAccepted {
		t.Fatalf("E14 status %d", acc.StatusCode)
	}
	insReq := lastRequest(t, e.fp, http.MethodPost, "/v3/new-tax-control-fapiao/fapiao-applications/"+txn+"/insert-cards")
	if insReq.Header.Get("Wechatpay-Serial") != e2eKeyID || bytes.Contains(insReq.Body, []byte(e2ePhone)) {
		t.Fatalf("E14 wire: serial %q body %s", insReq.Header.Get("Wechatpay-Serial"), insReq.Body)
	}
	e.fp.WaitCallbacks()
	ev := e.rec.get(fapiao.EventCardInserted)
	if len(ev) != 1 || ev[0].FapiaoApplyID != txn || ev[0].FapiaoInformation[0].CardStatus != fapiao.CardInserted {
		t.Fatalf("CARD_INSERTED callbacks: %+v", ev)
	}
}

// TestE2EPartner drives every endpoint a partner has (E01–E22 with
// sub_mchid, the partner-only E15–E22 included) against the fake.
func TestE2EPartner(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	c := e.partner
	e.setUp(t, c, e2eSub)

	must(c.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{SubMchID: e2eSub})).ok(t)
	must(c.ListTaxCodes(ctx, &fapiao.ListTaxCodesRequest{SubMchID: e2eSub, Limit: 10})).ok(t)

	// E15, E16.
	if r := must(c.CheckSubMerchant(ctx, &fapiao.CheckSubMerchantRequest{SubMchID: e2eSub})).ok(t); r.StatusCode != http.StatusNoContent {
		t.Fatalf("E15 status %d", r.StatusCode)
	}
	st := must(c.GetSubMerchantStatus(ctx, &fapiao.GetSubMerchantStatusRequest{SubMchID: e2eSub})).ok(t)
	if st.SubMchID != e2eSub || st.DigitalTaxMode == nil || st.DigitalTaxMode.Status != "ENABLED" {
		t.Fatalf("E16 %+v", st)
	}

	// E06–E12 with sub_mchid.
	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2ePartner, SubMchID: e2eSub, Amount: 5000,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "王五", Email: e2eEmail}})).ok(t)
	title := must(c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{SubMchID: e2eSub, Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn})).ok(t)
	if title.Email != e2eEmail {
		t.Fatalf("E07 email %q", string(title.Email))
	}
	d := issueLine(5000)
	d.FapiaoID = "p-1"
	must(c.Issue(ctx, &fapiao.IssueRequest{SubMchID: e2eSub, Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn,
		BuyerInformation: *title, FapiaoInformation: []fapiao.IssueFapiaoDetail{d}})).ok(t)
	app := must(c.Query(ctx, &fapiao.QueryRequest{SubMchID: e2eSub, FapiaoApplyID: txn})).ok(t)
	inv := app.FapiaoInformation[0]
	info := must(c.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{SubMchID: e2eSub, FapiaoApplyID: txn, FapiaoID: "p-1"})).ok(t)
	var pdf bytes.Buffer
	must(c.Download(ctx, &fapiao.DownloadRequest{DownloadURL: info.FapiaoDownloadInfoList[0].DownloadURL, SubMchID: e2eSub,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode, InvoiceNo: inv.BlueFapiao.FapiaoNumber, FapiaoID: "p-1"}, &pdf)).ok(t)
	if pdf.Len() == 0 {
		t.Fatal("E11: empty file")
	}
	must(c.Reverse(ctx, &fapiao.ReverseRequest{SubMchID: e2eSub, FapiaoApplyID: txn, ReverseReason: "退款"})).ok(t)
	link := must(c.GetTitleURL(ctx, &fapiao.GetTitleURLRequest{SubMchID: e2eSub, FapiaoApplyID: "p-apply-2",
		Source: fapiao.SourceMiniprogram, AppID: e2eAppID, OpenID: "oUser3", TotalAmount: 100})).ok(t)
	if link.MiniprogramPath == "" {
		t.Fatalf("E06 MINIPROGRAM %+v", link)
	}
	must(c.UploadFile(ctx, &fapiao.UploadFileRequest{SubMchID: e2eSub, FileType: "PDF", File: strings.NewReader("%PDF-1.4 partner\n%%EOF\n")})).ok(t)
	e.fp.WaitCallbacks()
	for _, typ := range []string{fapiao.EventIssued, fapiao.EventReversed} {
		ev := e.rec.get(typ)
		if len(ev) != 1 || ev[0].MchID != e2ePartner || ev[0].SubMchID != e2eSub {
			t.Fatalf("%s callbacks: %+v", typ, ev)
		}
	}

	// E17–E20: the 数电 issue endpoints, sensitive fields encrypted.
	var general fapiao.DigitalIssueRequest
	if err := json.Unmarshal(readFile(t, "issue_general_request.json"), &general); err != nil {
		t.Fatal(err)
	}
	general.SubMchID = e2eSub
	general.BuyerInformation.Phone, general.BuyerInformation.Email = e2ePhone, e2eEmail
	variants := []struct {
		name  string
		call  func(context.Context, *fapiao.DigitalIssueRequest) (*fapiao.AcceptedResponse, error)
		alter func(*fapiao.DigitalItem)
		path  string
	}{
		{"issue-general", c.IssueGeneral, func(*fapiao.DigitalItem) {}, "issue-general"},
		{"passenger", c.IssuePassengerTransport, func(it *fapiao.DigitalItem) {
			it.PassengerInformation = &fapiao.PassengerInformation{Name: "张三", CertificateType: "RESIDENT_IDENTITY_CARD",
				CertificateNumber: "440300199001010000", DepartureDate: "2026-11-30", DeparturePlace: "深圳",
				Destination: "广州", TransportationType: "LONG_DISTANCE_BUS"}
		}, "issue-passenger-transport"},
		{"refined-oil", c.IssueRefinedOil, func(it *fapiao.DigitalItem) {
			it.Unit = "LETER"
			it.RefinedOilInformation = &fapiao.RefinedOilInformation{Station: "南山站", TradeTime: "2026-11-30T10:00:00+08:00", GunNumber: "3"}
		}, "issue-refined-oil"},
		{"real-estate", c.IssueRealEstateLeasing, func(it *fapiao.DigitalItem) {
			it.RealEstateLeasingInformation = &fapiao.RealEstateLeasingInformation{Province: "广东省", City: "深圳市",
				Address: "南山区", LeasePeriodStart: "2026-01-01T00:00:00+08:00", LeasePeriodEnd: "2026-12-31T00:00:00+08:00",
				CertificateNo: "440300199001010000"}
		}, "real-estate-leasing"},
	}
	for i, v := range variants {
		r := general
		r.FapiaoApplyID = "dg-" + v.path
		r.FapiaoInformation.FapiaoID = "d" + string(rune('0'+i))
		r.FapiaoInformation.Items = append([]fapiao.DigitalItem(nil), general.FapiaoInformation.Items...)
		v.alter(&r.FapiaoInformation.Items[0])
		if a, err := v.call(ctx, &r); err != nil || a.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %v %+v", v.name, err, a)
		}
		w := lastRequest(t, e.fp, http.MethodPost, "/v3/new-tax-control-fapiao/fapiao-applications/"+v.path)
		if bytes.Contains(w.Body, []byte(e2ePhone)) || bytes.Contains(w.Body, []byte("440300199001010000")) || w.Header.Get("Wechatpay-Serial") != e2eKeyID {
			t.Fatalf("%s sent a sensitive field in clear", v.name)
		}
		held, ok := e.fp.Application(e2ePartner, e2eSub, r.FapiaoApplyID)
		if !ok || held.Buyer.Phone != e2ePhone || held.Invoices[0].Status != fapiao.StatusIssued {
			t.Fatalf("%s: the fake holds %+v", v.name, held)
		}
		got := must(c.Query(ctx, &fapiao.QueryRequest{SubMchID: e2eSub, FapiaoApplyID: r.FapiaoApplyID})).ok(t)
		if got.FapiaoInformation[0].BlueFapiao == nil || len(got.FapiaoInformation[0].BlueFapiao.FapiaoNumber) != 20 {
			t.Fatalf("%s: 数电 number %+v", v.name, got.FapiaoInformation[0].BlueFapiao)
		}
	}

	// A 数电 invoice has no fapiao_code: its download sends invoice_code empty.
	dg := must(c.Query(ctx, &fapiao.QueryRequest{SubMchID: e2eSub, FapiaoApplyID: "dg-issue-general"})).ok(t).FapiaoInformation[0]
	dgInfo := must(c.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{SubMchID: e2eSub, FapiaoApplyID: "dg-issue-general"})).ok(t)
	var dgFile bytes.Buffer
	must(c.Download(ctx, &fapiao.DownloadRequest{DownloadURL: dgInfo.FapiaoDownloadInfoList[0].DownloadURL, SubMchID: e2eSub,
		OpenID: dg.CardInformation.CardOpenID, InvoiceNo: dg.BlueFapiao.FapiaoNumber, FapiaoID: dg.FapiaoID}, &dgFile)).ok(t)
	if dgFile.Len() == 0 || dg.BlueFapiao.FapiaoCode != "" {
		t.Fatalf("数电 download: %d bytes, code %q", dgFile.Len(), dg.BlueFapiao.FapiaoCode)
	}

	// A failed 数电 issue reports the error code in the query.
	e.fp.FailNextIssue(wxinvoicetest.FapiaoIssueFailure{Code: "BIZ_ERROR", Message: "开票额度不足"})
	r := general
	r.FapiaoApplyID, r.FapiaoInformation.FapiaoID = "digital-failed", "dfail"
	must(c.IssueGeneral(ctx, &r)).ok(t)
	got := must(c.Query(ctx, &fapiao.QueryRequest{SubMchID: e2eSub, FapiaoApplyID: "digital-failed"})).ok(t)
	if f := got.FapiaoInformation[0]; f.Status != fapiao.StatusIssueFailed || f.FapiaoErrorCode != "BIZ_ERROR" {
		t.Fatalf("failed 数电 issue: %+v", f)
	}

	// E21, E22: invite a merchant, it accepts, list it.
	url := must(c.GetPartnerInviteURL(ctx, &fapiao.GetPartnerInviteURLRequest{OperationType: "AUTH_BINDING",
		FapiaoMode: "TENCENT_DIGITAL_TAX", FapiaoAbilityTypeList: []string{"BASE_ABILITY"}, OperateUser: "操作员",
		InviteCode: "inv-1"})).ok(t)
	if url.InviteURL == "" {
		t.Fatalf("E21 %+v", url)
	}
	inviteReq := lastRequest(t, e.fp, http.MethodGet, "/v3/new-tax-control-fapiao/fapiaomerchant/getspinviteurl")
	if strings.Contains(inviteReq.URI, "操作员") || strings.Contains(inviteReq.URI, "%E6%93%8D") {
		t.Fatalf("E21 sent operate_user in clear: %s", inviteReq.URI)
	}
	if err := e.fp.AcceptInvite("inv-1", "1900000111", "某某公司", "91440300MA5EXAMPLE"); err != nil {
		t.Fatal(err)
	}
	list := must(c.ListInvitedMerchants(ctx, &fapiao.ListInvitedMerchantsRequest{
		QueryTimeStart: e2eStart.Add(-time.Hour).Format(time.RFC3339), QueryTimeEnd: e2eStart.Add(time.Hour).Format(time.RFC3339),
		Limit: 10, MchInviteStatus: "MCH_INVITE_SUCC"})).ok(t)
	if len(list.MchInviteResultList) != 1 || list.MchInviteResultList[0].SubMchID != "1900000111" || list.MchInviteResultList[0].InviteCode != "inv-1" {
		t.Fatalf("E22 %+v", list)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestE2EFaults: a 5xx on an issue is an unknown outcome and never
// replayed; a 500 or 429 on a read is retried.
func TestE2EFaults(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	c := e.mch
	e.setUp(t, c, "")
	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 100,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "赵六"}})).ok(t)

	issuePath := "/v3/new-tax-control-fapiao/fapiao-applications"
	e.srv.FailNext(issuePath, 1, wxinvoicetest.FapiaoError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统异常，请稍后重试"))
	d := issueLine(100)
	d.FapiaoID = "f-1"
	req := &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn,
		BuyerInformation: fapiao.BuyerInformation{Type: "INDIVIDUAL", Name: "赵六"}, FapiaoInformation: []fapiao.IssueFapiaoDetail{d}}
	_, err := c.Issue(ctx, req)
	if !errors.Is(err, wxinvoice.ErrOutcomeUnknown) {
		t.Fatalf("5xx on issue: %v, want ErrOutcomeUnknown", err)
	}
	var apiErr *fapiao.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "SYSTEM_ERROR" || apiErr.StatusCode != 500 {
		t.Fatalf("5xx on issue: %#v", err)
	}
	if n := e.srv.Calls(issuePath); n != 1 {
		t.Fatalf("issue sent %d times, want 1 (never replayed)", n)
	}

	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		queryPath := "/v3/new-tax-control-fapiao/merchant/base-information"
		before := e.srv.Calls(queryPath)
		code := "SYSTEM_ERROR"
		if status == http.StatusTooManyRequests {
			code = "FREQUENCY_LIMITED"
		}
		e.srv.FailNext(queryPath, 2, wxinvoicetest.FapiaoError(status, code, "稍后重试"))
		if _, err := c.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{}); err != nil {
			t.Fatalf("%d twice on a read, then success: %v", status, err)
		}
		if n := e.srv.Calls(queryPath) - before; n != 3 {
			t.Fatalf("%d on a read: %d attempts, want 3", status, n)
		}
	}

	// A callback answered with an error is retried on the fake's clock and
	// the handler runs the callback once it succeeds.
	e.fp.SetRetrySchedule(15 * time.Second)
	e.rec.mu.Lock()
	e.rec.fail = 1
	e.rec.mu.Unlock()
	must(c.Issue(ctx, req)).ok(t)
	e.fp.WaitCallbacks()
	if n := len(e.rec.get(fapiao.EventIssued)); n != 0 {
		t.Fatalf("ISSUED ran %d times after a failing callback", n)
	}
	e.srv.Advance(15 * time.Second)
	e.fp.WaitCallbacks()
	if n := len(e.rec.get(fapiao.EventIssued)); n != 1 {
		t.Fatalf("ISSUED ran %d times after the retry, want 1", n)
	}
	var last wxinvoicetest.FapiaoCallback
	for _, cb := range e.fp.Callbacks() {
		if cb.EventType == fapiao.EventIssued {
			last = cb
		}
	}
	if len(last.Attempts) != 2 || last.Attempts[0].StatusCode != http.StatusInternalServerError || !last.Delivered {
		t.Fatalf("ISSUED attempts %+v", last.Attempts)
	}
}

// TestE2ESignaturesBothWays: the fake refuses a request signed with another
// key (SIGN_ERROR), the client refuses the fake's answer under another
// WeChat Pay key (ErrUnverified), and a NotifyHandler with another APIv3 key
// refuses the callback, which the fake then retries.
func TestE2ESignaturesBothWays(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	keyID, pub := e.fp.PublicKey()

	// The merchant's key is not the one registered.
	other := e2eKey(t, "e2e_wechatpay_key.pem")
	wrongSigner := must(fapiao.New(e2eMchID, fapiao.WithMerchantKey(e2eSerial, other),
		fapiao.WithWechatPayPublicKey(keyID, pub), fapiao.WithBaseURL(e.srv.URL))).ok(t)
	_, err := wrongSigner.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{})
	var apiErr *fapiao.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "SIGN_ERROR" || !errors.Is(err, fapiao.ErrSign) {
		t.Fatalf("request under another key: %v, want 401 SIGN_ERROR", err)
	}

	// The WeChat Pay key the client holds is not the fake's: nothing decoded.
	mk := e2eKey(t, "test_private_key.pem")
	wrongVerifier := must(fapiao.New(e2eMchID, fapiao.WithMerchantKey(e2eSerial, mk),
		fapiao.WithWechatPayPublicKey(keyID, &mk.PublicKey), fapiao.WithBaseURL(e.srv.URL))).ok(t)
	got, err := wrongVerifier.GetBaseInformation(ctx, &fapiao.GetBaseInformationRequest{})
	if !errors.Is(err, fapiao.ErrUnverified) || got != nil {
		t.Fatalf("answer under another WeChat Pay key: %v, %+v; want ErrUnverified and nothing", err, got)
	}

	// A handler with another APIv3 key: 401, no callback run, retried later.
	var ran atomic.Int32
	h := must(fapiao.NewNotifyHandler(fapiao.NotifyConfig{APIv3Key: strings.Repeat("k", 32), WechatPayPublicKeyID: keyID,
		WechatPayPublicKey: pub, OnEvent: func(context.Context, *fapiao.Notification) error { ran.Add(1); return nil }})).ok(t)
	wrong := httptest.NewServer(h)
	defer wrong.Close()
	must(e.mch.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{CallbackURL: wrong.URL})).ok(t)
	e.fp.SetRetrySchedule(15 * time.Second)
	must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 100,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "赵六"}})).ok(t)
	e.fp.WaitCallbacks()
	cbs := e.fp.Callbacks()
	last := cbs[len(cbs)-1]
	if ran.Load() != 0 || last.Delivered || len(last.Attempts) != 1 || last.Attempts[0].StatusCode != http.StatusUnauthorized || last.NextAttempt.IsZero() {
		t.Fatalf("callback under another APIv3 key: ran %d, %+v", ran.Load(), last)
	}
}

// TestE2EDownloadTampered: a file altered between the fake and the client
// fails the SM3-Digest check.
func TestE2EDownloadTampered(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	// A proxy in front of the fake flips one byte of every invoice file.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/fapiao-file") && len(body) > 0 {
			body[len(body)/2] ^= 1
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	defer proxy.Close()
	mk := e2eKey(t, "test_private_key.pem")
	keyID, pub := e.fp.PublicKey()
	c := must(fapiao.New(e2eMchID, fapiao.WithMerchantKey(e2eSerial, mk), fapiao.WithWechatPayPublicKey(keyID, pub),
		fapiao.WithBaseURL(proxy.URL))).ok(t)
	e.setUp(t, c, "")
	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 100,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "赵六"}})).ok(t)
	d := issueLine(100)
	d.FapiaoID = "t-1"
	must(c.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn,
		BuyerInformation: fapiao.BuyerInformation{Type: "INDIVIDUAL", Name: "赵六"}, FapiaoInformation: []fapiao.IssueFapiaoDetail{d}})).ok(t)
	inv := must(c.Query(ctx, &fapiao.QueryRequest{FapiaoApplyID: txn})).ok(t).FapiaoInformation[0]
	info := must(c.GetDownloadInfo(ctx, &fapiao.GetDownloadInfoRequest{FapiaoApplyID: txn})).ok(t)
	// The fake names its own host in download_url: go through the proxy.
	u := strings.Replace(info.FapiaoDownloadInfoList[0].DownloadURL, e.srv.URL, proxy.URL, 1)
	if !strings.HasPrefix(u, proxy.URL) {
		t.Fatalf("download_url %s", info.FapiaoDownloadInfoList[0].DownloadURL)
	}
	var file bytes.Buffer
	_, err := c.Download(ctx, &fapiao.DownloadRequest{DownloadURL: u,
		OpenID: inv.CardInformation.CardOpenID, InvoiceCode: inv.BlueFapiao.FapiaoCode, InvoiceNo: inv.BlueFapiao.FapiaoNumber,
		FapiaoID: "t-1"}, &file)
	if err == nil || !strings.Contains(err.Error(), "SM3") {
		t.Fatalf("tampered download: err = %v, want an SM3 mismatch", err)
	}
}

// TestE2EPlatformCertificate: a client holding only the fake's platform
// certificate (the older mode) signs, encrypts and verifies under the
// certificate's serial, and a NotifyHandler holding both keys accepts
// callbacks signed alternately with each, as during WeChat's migration.
func TestE2EPlatformCertificate(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	cert := e.fp.PlatformCertificate()
	mk := e2eKey(t, "test_private_key.pem")
	c := must(fapiao.New(e2eMchID, fapiao.WithMerchantKey(e2eSerial, mk), fapiao.WithPlatformCertificates(cert),
		fapiao.WithBaseURL(e.srv.URL))).ok(t)
	serial := fapiao.CertificateSerial(cert)
	if c.WechatPaySerial() != serial {
		t.Fatalf("client names %q, certificate serial %q", c.WechatPaySerial(), serial)
	}
	e.setUp(t, c, "")
	e.fp.SetCallbackSigning(wxinvoicetest.FapiaoSignAlternate)

	keyID, pub := e.fp.PublicKey()
	var got []string
	var mu sync.Mutex
	h := must(fapiao.NewNotifyHandler(fapiao.NotifyConfig{APIv3Key: e2eAPIv3Key, WechatPayPublicKeyID: keyID,
		WechatPayPublicKey: pub, PlatformCertificates: []*x509.Certificate{cert},
		OnEvent: func(_ context.Context, n *fapiao.Notification) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, n.EventType)
			return nil
		}})).ok(t)
	both := httptest.NewServer(h)
	defer both.Close()
	must(c.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{CallbackURL: both.URL})).ok(t)

	txn := must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 100,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "赵六", Phone: e2ePhone}})).ok(t)
	title := must(c.GetUserTitle(ctx, &fapiao.GetUserTitleRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn})).ok(t)
	d := issueLine(100)
	d.FapiaoID = "c-1"
	must(c.Issue(ctx, &fapiao.IssueRequest{Scene: fapiao.SceneWithWechatPay, FapiaoApplyID: txn, BuyerInformation: *title,
		FapiaoInformation: []fapiao.IssueFapiaoDetail{d}})).ok(t)
	w := lastRequest(t, e.fp, http.MethodPost, "/v3/new-tax-control-fapiao/fapiao-applications")
	if !strings.EqualFold(w.Header.Get("Wechatpay-Serial"), serial) {
		t.Fatalf("issue named %q, want the certificate serial %s", w.Header.Get("Wechatpay-Serial"), serial)
	}
	if held, _ := e.fp.Application(e2eMchID, "", txn); held.Buyer.Phone != e2ePhone {
		t.Fatalf("the fake opened the phone as %q", held.Buyer.Phone)
	}
	e.fp.WaitCallbacks()
	serials := map[string]bool{}
	for _, cb := range e.fp.Callbacks() {
		if cb.URL == both.URL {
			serials[cb.Serial] = true
			if !cb.Delivered {
				t.Fatalf("%s signed under %s refused: %+v", cb.EventType, cb.Serial, cb.Attempts)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(serials) != 2 || len(got) != 2 {
		t.Fatalf("callbacks under %v, handled %v; want both keys and USER_APPLIED, ISSUED", serials, got)
	}
}

// TestE2ECertificateSerialLeadingZero: a platform certificate whose serial
// starts with a byte under 0x10 is named with its leading zero ("0A…"), as
// WeChat Pay writes it, by both the client and the fake, so the fake signs
// the answer with the certificate the client asked for.
func TestE2ECertificateSerialLeadingZero(t *testing.T) {
	key := e2eKey(t, "e2e_wechatpay_key.pem")
	serial := new(big.Int).SetBytes(append([]byte{0x0a}, bytes.Repeat([]byte{0x5c}, 19)...))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "leading zero"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if got := fapiao.CertificateSerial(cert); !strings.HasPrefix(got, "0A") || len(got) != 40 {
		t.Fatalf("CertificateSerial = %q", got)
	}
	srv := wxinvoicetest.NewServer(wxinvoicetest.WithPlatformCertificate(cert, key))
	t.Cleanup(srv.Close)
	mk := e2eKey(t, "test_private_key.pem")
	if err := srv.Fapiao().RegisterMerchant(wxinvoicetest.FapiaoMerchant{MchID: e2eMchID, CertSerialNo: e2eSerial,
		PublicKey: &mk.PublicKey, APIv3Key: e2eAPIv3Key}); err != nil {
		t.Fatal(err)
	}
	c := must(fapiao.New(e2eMchID, fapiao.WithMerchantKey(e2eSerial, mk), fapiao.WithPlatformCertificates(srv.Fapiao().PlatformCertificate()),
		fapiao.WithBaseURL(srv.URL))).ok(t)
	if _, err := c.GetDevelopmentConfig(context.Background(), nil); err != nil {
		t.Fatalf("answer not verified under the certificate: %v", err)
	}
}
