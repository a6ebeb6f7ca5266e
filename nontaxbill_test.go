package wxinvoice

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGetBillAuthURLWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/nontax/getbillauthurl", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "Nontax__Bill__NontaxGetBillAuthUrlRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "Nontax__Bill__NontaxGetBillAuthUrlResponse.json")))
	})
	start := time.Now()
	resp, err := ts.client(t).GetBillAuthURL(bg, &GetBillAuthURLRequest{SPAppID: "wxabcd", OrderID: "1234", Money: 11,
		Timestamp: time.Unix(1474875876, 0), Source: AuthSourceWeb, RedirectURL: "https://mp.weixin.qq.com", Ticket: "tttt"})
	require.NoError(t, err)
	require.Equal(t, "http://auth_url", resp.AuthURL)
	require.WithinDuration(t, start.Add(7200*time.Second), resp.ExpireTime, 5*time.Second)
}

func TestGetBillAuthURLFetchesTicket(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var hits atomic.Int64
	handleTicket(t, ts, &hits, 0)
	ts.mux.HandleFunc("/nontax/getbillauthurl", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		require.NoError(t, jsonUnmarshal(testRequest(t, r, "POST"), &m))
		require.Equal(t, sampleTicket, m["ticket"])
		require.Equal(t, "app", m["source"])
		require.NotContains(t, m, "type", "the bill page has no type")
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","auth_url":"u"}`))
	})
	resp, err := ts.client(t).GetBillAuthURL(bg, &GetBillAuthURLRequest{SPAppID: "s", OrderID: "o", Source: AuthSourceApp})
	require.NoError(t, err)
	require.True(t, resp.ExpireTime.IsZero(), "no expire_time, no ExpireTime")
	require.EqualValues(t, 1, hits.Load())
}

func TestCreateBillCardWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/nontax/createbillcard", func(w http.ResponseWriter, r *http.Request) {
		require.JSONEq(t, fixture(t, "Nontax__Bill__NontaxCreateBillCardRequest.json"), string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "Nontax__Bill__NontaxCreateBillCardResponse.json")))
	})
	resp, err := ts.client(t).CreateBillCard(bg, &CreateBillCardRequest{Payee: "测试非税票据",
		LogoURL: "http://mmbiz.qpic.cn/mmbiz/iaL1LJM1mF9aRKPZJkmG8xXhiaHqkKSVMMWeN3hLut7X7hicFNjakmxibMLGWpXrEXB33367o7zHN0CwngnQY7zb7g/0"})
	require.NoError(t, err)
	require.Equal(t, "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", resp.CardID)
}
