package wxinvoicetest

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wxcrypto"
)

const (
	pushToken = "pushtoken"
	pushKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// received is one push as a receiver saw it.
type received struct {
	query url.Values
	body  []byte
}

// receiver is an httptest server answering pushes with the answers queued in
// replies (then "success"), recording each.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	replies []func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, replies ...func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{replies: replies}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{query: r.URL.Query(), body: body})
		var reply func(w http.ResponseWriter, r *http.Request)
		if len(rc.replies) > 0 {
			reply, rc.replies = rc.replies[0], rc.replies[1:]
		}
		rc.mu.Unlock()
		if reply != nil {
			reply(w, r)
			return
		}
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) pushes() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func answer(status int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// statusXML is the update_invoice_status push, decoded independently of the SDK.
type statusXML struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	MsgType      string
	Event        string
	Status       string
	CardId       string //nolint:revive // WeChat's element name
	Code         string
}

func TestPushPlaintextSigned(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	l := newLifecycle(t, WithEventPush(rc.URL+"/wx/push", PushConfig{Token: pushToken}))
	res := l.insert(t, "o-1", "1")
	l.srv.Advance(time.Minute)
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()

	got := rc.pushes()
	require.Len(t, got, 1)
	q := got[0].query
	require.True(t, wxcrypto.VerifySignature(q.Get("signature"), pushToken, q.Get("timestamp"), q.Get("nonce")))
	require.Empty(t, q.Get("encrypt_type"))
	var ev statusXML
	require.NoError(t, xml.Unmarshal(got[0].body, &ev))
	require.Equal(t, statusXML{
		ToUserName: l.srv.Username(), FromUserName: res.OpenID, CreateTime: t0.Add(time.Minute).Unix(),
		MsgType: "event", Event: "update_invoice_status", Status: "INVOICE_REIMBURSE_LOCK",
		CardId: l.cardID, Code: res.Code,
	}, ev)

	pushes := l.srv.Pushes()
	require.Len(t, pushes, 1)
	p := pushes[0]
	require.True(t, p.Delivered)
	require.True(t, p.Done)
	require.Equal(t, rc.URL+"/wx/push", p.URL)
	require.Len(t, p.Attempts, 1)
	require.Equal(t, http.StatusOK, p.Attempts[0].StatusCode)
	require.Equal(t, "success", p.Attempts[0].Body)
	require.Equal(t, wxinvoice.InvoiceStatusEvent{ToUserName: l.srv.Username(), FromUserName: res.OpenID,
		CreateTime: t0.Add(time.Minute), Status: wxinvoice.ReimburseLock, CardID: l.cardID, Code: res.Code}, p.Event)
}

func TestPushEncryptedDecryptable(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	l := newLifecycle(t, WithApp("wxb11529c136998cb6", "s"),
		WithEventPush(rc.URL, PushConfig{Token: pushToken, EncodingAESKey: pushKey, AppID: "wxb11529c136998cb6"}))
	res := l.insert(t, "o-1", "1")
	require.NoError(t, l.srv.SetStatus(l.cardID, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()

	got := rc.pushes()
	require.Len(t, got, 1)
	q := got[0].query
	require.Equal(t, "aes", q.Get("encrypt_type"))
	var env struct{ ToUserName, Encrypt string }
	require.NoError(t, xml.Unmarshal(got[0].body, &env))
	require.True(t, wxcrypto.VerifySignature(q.Get("msg_signature"), pushToken, q.Get("timestamp"), q.Get("nonce"), env.Encrypt))
	c, err := wxcrypto.NewCipher(pushKey, "wxb11529c136998cb6")
	require.NoError(t, err)
	plain, err := c.Decrypt(env.Encrypt)
	require.NoError(t, err)
	var ev statusXML
	require.NoError(t, xml.Unmarshal(plain, &ev))
	require.Equal(t, res.Code, ev.Code)
	require.Equal(t, "INVOICE_REIMBURSE_LOCK", ev.Status)
	require.Equal(t, res.OpenID, ev.FromUserName)
}

// TestPushThroughEventHandler feeds the pushes to the SDK's own EventHandler
// in each of WeChat's three modes.
func TestPushThroughEventHandler(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name   string
		key    string
		compat bool
	}{{"plaintext", "", false}, {"safe", pushKey, false}, {"compatible", pushKey, true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			const appID = "wx0123456789abcdef"
			var mu sync.Mutex
			var events []*wxinvoice.InvoiceStatusEvent
			h, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
				Token: pushToken, EncodingAESKey: mode.key, AppID: appID,
				OnInvoiceStatus: func(_ context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, ev)
					return nil
				},
			})
			require.NoError(t, err)
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)

			l := newLifecycle(t, WithApp(appID, "secret"), WithEventPush(hs.URL,
				PushConfig{Token: pushToken, EncodingAESKey: mode.key, AppID: appID, Compat: mode.compat}))
			res := l.insert(t, "o-1", "1")
			requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
			requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseClosure))
			l.srv.WaitPushes()

			for _, p := range l.srv.Pushes() {
				require.True(t, p.Delivered, "%+v", p.Attempts)
			}
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, events, 2)
			require.Equal(t, wxinvoice.ReimburseLock, events[0].Status, "delivered in order")
			require.Equal(t, wxinvoice.ReimburseClosure, events[1].Status)
			for _, ev := range events {
				require.Equal(t, l.srv.Username(), ev.ToUserName)
				require.Equal(t, res.OpenID, ev.FromUserName)
				require.Equal(t, l.cardID, ev.CardID)
				require.Equal(t, res.Code, ev.Code)
				require.True(t, ev.CreateTime.Equal(t0), "CreateTime is the server's clock: %v", ev.CreateTime)
			}
		})
	}
}

func TestPushRetriedAfter500(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, answer(http.StatusInternalServerError, "oops"))
	l := newLifecycle(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	res := l.insert(t, "o-1", "1")
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseCancel))
	l.srv.WaitPushes()

	got := rc.pushes()
	require.Len(t, got, 2)
	require.Equal(t, got[0].body, got[1].body, "a retry carries the same event")
	p := l.srv.Pushes()[0]
	require.True(t, p.Delivered)
	require.Len(t, p.Attempts, 2)
	require.Equal(t, http.StatusInternalServerError, p.Attempts[0].StatusCode)
	require.Equal(t, "oops", p.Attempts[0].Body)
	require.Equal(t, http.StatusOK, p.Attempts[1].StatusCode)
}

func TestPushRetriedAfterTimeout(t *testing.T) {
	t.Parallel()
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	rc := newReceiver(t, slow, answer(http.StatusOK, ""))
	l := newLifecycle(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}),
		WithPushPolicy(100*time.Millisecond, 3))
	res := l.insert(t, "o-1", "1")
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()

	p := l.srv.Pushes()[0]
	require.True(t, p.Delivered, "an empty 200 answer counts as delivered")
	require.Len(t, p.Attempts, 2)
	require.NotEmpty(t, p.Attempts[0].Err)
	require.Zero(t, p.Attempts[0].StatusCode)
	require.Less(t, p.Attempts[0].Duration, 2*time.Second)
}

func TestPushGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t,
		answer(http.StatusOK, "<xml>not success</xml>"),
		answer(http.StatusBadGateway, ""),
		answer(http.StatusInternalServerError, ""),
		answer(http.StatusInternalServerError, ""),
		answer(http.StatusInternalServerError, ""))
	l := newLifecycle(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	res := l.insert(t, "o-1", "1")
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()
	p := l.srv.Pushes()[0]
	require.False(t, p.Delivered)
	require.True(t, p.Done)
	require.Len(t, p.Attempts, 4, "the first attempt and 3 retries")
	require.Len(t, rc.pushes(), 4)

	// WithPushPolicy changes the number of retries.
	rc2 := newReceiver(t, answer(500, ""), answer(500, ""))
	l2 := newLifecycle(t, WithEventPush(rc2.URL, PushConfig{Token: pushToken}), WithPushPolicy(time.Second, 1))
	res2 := l2.insert(t, "o-1", "1")
	require.NoError(t, l2.srv.SetStatus(l2.cardID, res2.Code, wxinvoice.ReimburseLock))
	l2.srv.WaitPushes()
	require.Len(t, l2.srv.Pushes()[0].Attempts, 2)
	require.False(t, l2.srv.Pushes()[0].Delivered)
}

func TestPushUnreachableReceiver(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	l := newLifecycle(t, WithEventPush(deadURL, PushConfig{Token: pushToken}))
	res := l.insert(t, "o-1", "1")
	require.NoError(t, l.srv.SetStatus(l.cardID, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()
	p := l.srv.Pushes()[0]
	require.False(t, p.Delivered)
	require.Len(t, p.Attempts, 4)
	require.NotEmpty(t, p.Attempts[3].Err)
}

func TestNoPushWithoutConfigOrChange(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	res := l.insert(t, "o-1", "1")
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
	l.srv.WaitPushes()
	require.Empty(t, l.srv.Pushes())

	rc := newReceiver(t)
	c := newLifecycle(t, WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	res = c.insert(t, "o-1", "1")
	require.NoError(t, c.srv.SetStatus(c.cardID, res.Code, wxinvoice.ReimburseInit), "no change")
	requireCode(t, 72024, updateStatus(t, c, res.Code, wxinvoice.ReimburseClosure))
	c.srv.WaitPushes()
	require.Empty(t, c.srv.Pushes(), "neither an unchanged status nor a refused move pushes")
}

func TestCloseWaitsForPushes(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "success")
	})
	srv := NewServer(WithClock(t0), WithEventPush(rc.URL, PushConfig{Token: pushToken}))
	tok := stableToken(t, srv)
	l := &lifecycle{srv: srv, tok: tok, cardID: createCard(t, srv, tok), mediaID: uploadOK(t, srv, tok)}
	res := l.insert(t, "o-1", "1")
	requireCode(t, 0, updateStatus(t, l, res.Code, wxinvoice.ReimburseLock))
	srv.Close()
	p := srv.Pushes()[0]
	require.True(t, p.Done)
	require.True(t, p.Delivered)
	require.Len(t, rc.pushes(), 1)
}
