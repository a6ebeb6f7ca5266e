package wxinvoicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
)

// A failing callback_url is retried on the server's clock with the
// e-invoice schedule (15 s, 15 s, 30 s, 3 min, 30 min ×4, 1 h), each attempt
// signed afresh, and given up after the tenth.
func TestFapiaoCallbackRetrySchedule(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)
	rcv.setStatus(http.StatusInternalServerError)

	_, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	f.WaitCallbacks()

	waits := []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
		30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour}
	for i, w := range waits {
		cb := f.Callbacks()[0]
		require.Len(t, cb.Attempts, i+1)
		assert.False(t, cb.Done)
		assert.Equal(t, srv.Now().Add(w), cb.NextAttempt, "retry %d", i+1)
		srv.Advance(w - time.Second)
		f.WaitCallbacks()
		require.Len(t, f.Callbacks()[0].Attempts, i+1, "not before its time")
		srv.Advance(time.Second)
		f.WaitCallbacks()
	}
	cb := f.Callbacks()[0]
	require.Len(t, cb.Attempts, 10)
	assert.True(t, cb.Done)
	assert.False(t, cb.Delivered)
	assert.True(t, cb.NextAttempt.IsZero())
	start := cb.Attempts[0].Time
	assert.Equal(t, t0, start)
	assert.Equal(t, t0.Add(3*time.Hour+4*time.Minute), cb.Attempts[9].Time)
	nonces := map[string]bool{}
	for _, a := range cb.Attempts {
		assert.Equal(t, http.StatusInternalServerError, a.StatusCode)
		assert.JSONEq(t, `{"code":"FAIL","message":"失败"}`, a.Body)
		nonces[a.Header.Get("Wechatpay-Nonce")] = true
	}
	assert.Len(t, nonces, 10, "each attempt is signed with a fresh nonce")
	srv.Advance(24 * time.Hour)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks()[0].Attempts, 10, "nothing after the last retry")
	assert.Empty(t, rcv.failures(), "every attempt verified")

	// A callback that succeeds on its third attempt stops there.
	_, err = f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "李四"}})
	require.NoError(t, err)
	f.WaitCallbacks()
	srv.Advance(15 * time.Second)
	f.WaitCallbacks()
	rcv.setStatus(http.StatusOK)
	srv.Advance(15 * time.Second)
	f.WaitCallbacks()
	cb = f.Callbacks()[1]
	require.Len(t, cb.Attempts, 3)
	assert.True(t, cb.Delivered && cb.Done)
	assert.Equal(t, cb.Body, f.Callbacks()[1].Body, "the same envelope on every attempt")
	srv.Advance(time.Hour)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks()[1].Attempts, 3)
}

// A custom schedule, an unreachable URL and a slow receiver.
func TestFapiaoCallbackScheduleAndTimeout(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	setupMerchant(t, c, slow.URL)
	f.SetRetrySchedule(time.Minute)
	f.SetCallbackTimeout(50 * time.Millisecond)
	_, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	f.WaitCallbacks()
	srv.Advance(time.Minute)
	f.WaitCallbacks()
	cb := f.Callbacks()[0]
	require.Len(t, cb.Attempts, 2)
	assert.True(t, cb.Done)
	for _, a := range cb.Attempts {
		assert.Zero(t, a.StatusCode)
		assert.NotEmpty(t, a.Err, "timed out")
	}

	// No callback_url: the event is recorded, not sent.
	_, f2, _ := fapiaoSetup(t)
	_, err = f2.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	cbs := f2.Callbacks()
	require.Len(t, cbs, 1)
	assert.True(t, cbs[0].Done)
	assert.Empty(t, cbs[0].URL)
	assert.Empty(t, cbs[0].Attempts)
	assert.Contains(t, string(cbs[0].Resource), `"fapiao_apply_id"`)
}

// wechatpay-go's own notify handler (public-key mode) verifies and
// decrypts the fake's callbacks.
func TestFapiaoCallbackOfficialSDKParses(t *testing.T) {
	_, f, c := fapiaoSetup(t)
	keyID, pub := f.PublicKey()
	handler, err := notify.NewRSANotifyHandler(fpAPIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(keyID, *pub))
	require.NoError(t, err)
	type resource struct {
		MchID         string `json:"mchid"`
		FapiaoApplyID string `json:"fapiao_apply_id"`
		ApplyTime     string `json:"apply_time"`
	}
	got := make(chan resource, 1)
	official := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res resource
		req, err := handler.ParseNotifyRequest(context.Background(), r, &res)
		if err != nil || req.EventType != FapiaoEventUserApplied || req.Resource.OriginalType != "fapiao" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- res
		w.WriteHeader(http.StatusNoContent)
	}))
	defer official.Close()
	setupMerchant(t, c, official.URL)
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 100, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	select {
	case res := <-got:
		assert.Equal(t, resource{MchID: fpMchID, FapiaoApplyID: txn, ApplyTime: "2024-05-01T10:00:00+08:00"}, res)
	case <-time.After(20 * time.Second):
		t.Fatal("wechatpay-go did not accept the callback")
	}
	f.WaitCallbacks()
	assert.True(t, f.Callbacks()[0].Delivered)

	// A tampered copy of the same body is refused by the official handler.
	a := f.Callbacks()[0].Attempts[0]
	body := bytes.Replace(f.Callbacks()[0].Body, []byte(`"summary":"`), []byte(`"summary":"x`), 1)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header = a.Header.Clone()
	var res resource
	_, err = handler.ParseNotifyRequest(context.Background(), req, &res)
	assert.Error(t, err)
}

// Close gives up pending retries and waits for attempts in flight; many
// users and merchant calls at once keep the state consistent.
func TestFapiaoConcurrentAndClose(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)
	const n = 8
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(issueRequest(t, c, FapiaoSceneWithWechatPay, "order-"+itoa(i)))
	}
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, TransactionID: "order-" + itoa(i), Amount: 429900,
				Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
			if err != nil {
				errs <- err
				return
			}
			st, err := c.post(fpBase+"/fapiao-applications", bodies[i])
			if err == nil && st != http.StatusAccepted {
				err = fmt.Errorf("issue answered %d", st)
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		require.NoError(t, <-errs)
	}
	f.WaitCallbacks()
	cbs := f.Callbacks()
	require.Len(t, cbs, 2*n)
	for _, cb := range cbs {
		assert.True(t, cb.Delivered, cb.EventType)
	}
	assert.Len(t, f.Applications(), n)

	// A failing callback with its retry pending: Close gives it up.
	rcv.setStatus(http.StatusServiceUnavailable)
	_, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 1, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	f.WaitCallbacks()
	last := f.Callbacks()[2*n]
	require.Len(t, last.Attempts, 1)
	require.False(t, last.NextAttempt.IsZero())
	srv.Close()
	last = f.Callbacks()[2*n]
	assert.True(t, last.Done)
	assert.False(t, last.Delivered)
	assert.True(t, last.NextAttempt.IsZero())
	srv.Advance(time.Hour)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks()[2*n].Attempts, 1, "no attempt after Close")
}
