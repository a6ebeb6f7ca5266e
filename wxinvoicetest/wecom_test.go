package wxinvoicetest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func getWeComToken(t *testing.T, srv *Server, corpID, secret string) []byte {
	t.Helper()
	q := url.Values{}
	if corpID != "" {
		q.Set("corpid", corpID)
	}
	if secret != "" {
		q.Set("corpsecret", secret)
	}
	resp, raw := send(t, http.MethodGet, srv.URL+"/cgi-bin/gettoken?"+q.Encode(), "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return raw
}

func weComToken(t *testing.T, srv *Server) wire.TokenResponse {
	t.Helper()
	return decodeOK[wire.TokenResponse](t, getWeComToken(t, srv, srv.CorpID, srv.CorpSecret))
}

const weComInfoPath = "/cgi-bin/card/invoice/reimburse/getinvoiceinfo"

func TestWeComGetToken(t *testing.T) {
	t.Parallel()
	srv := start(t, WithWeComCorp("wwcorp0001", "corp-secret"))
	require.Equal(t, "wwcorp0001", srv.CorpID)
	require.Equal(t, "corp-secret", srv.CorpSecret)

	first := weComToken(t, srv)
	require.EqualValues(t, 7200, first.ExpiresIn)
	require.NotEmpty(t, first.AccessToken)

	// The same token while it is valid, with its remaining lifetime.
	srv.Advance(time.Hour)
	again := weComToken(t, srv)
	require.Equal(t, first.AccessToken, again.AccessToken)
	require.EqualValues(t, 3600, again.ExpiresIn)

	// Expired: 42001 on calls, a new token from gettoken.
	srv.Advance(time.Hour)
	requireCode(t, 42001, post(t, srv, weComInfoPath, first.AccessToken, `{"card_id":"c","encrypt_code":"e"}`))
	renewed := weComToken(t, srv)
	require.NotEqual(t, first.AccessToken, renewed.AccessToken)
	require.EqualValues(t, 7200, renewed.ExpiresIn)

	// Revoked: 40014, and gettoken hands out a new one.
	srv.RevokeTokens()
	requireCode(t, 40014, post(t, srv, weComInfoPath, renewed.AccessToken, `{"card_id":"c","encrypt_code":"e"}`))
	require.NotEqual(t, renewed.AccessToken, weComToken(t, srv).AccessToken)

	for _, tc := range []struct {
		corpID, secret string
		code           int
	}{{"", "corp-secret", 41002}, {"wwother", "corp-secret", 40013}, {"wwcorp0001", "", 41004}, {"wwcorp0001", "wrong", 40001}} {
		raw := getWeComToken(t, srv, tc.corpID, tc.secret)
		requireCode(t, tc.code, raw, tc.corpID, tc.secret)
		require.Contains(t, string(raw), "more info at https://open.work.weixin.qq.com/devtool/query?e=", "WeCom-style errmsg")
	}
}

func TestWeComGenericChecks(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := weComToken(t, srv).AccessToken
	body := `{"card_id":"c","encrypt_code":"e"}`
	resp, raw := send(t, http.MethodGet, apiURL(srv, weComInfoPath, tok), "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireCode(t, 43002, raw)
	requireCode(t, 41001, post(t, srv, weComInfoPath, "", body))
	requireCode(t, 40014, post(t, srv, weComInfoPath, "unknown", body))
	requireCode(t, 40014, post(t, srv, weComInfoPath, stableToken(t, srv), body), "an Official Account token is no corp token")
	requireCode(t, 40014, post(t, srv, "/card/invoice/seturl", tok, "{}"), "a corp token is no Official Account token")
	requireCode(t, 44002, post(t, srv, weComInfoPath, tok, ""))
	requireCode(t, 47001, post(t, srv, weComInfoPath, tok, "not json"))
	requireCode(t, 40056, post(t, srv, weComInfoPath, tok, body), "an encrypt_code the server never handed out")
	requireCode(t, 72031, post(t, srv, "/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch", tok, `{"item_list":[]}`))
}

func TestWeComConvertToOpenID(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := srv.IssueWeComToken()
	srv.AddWeComUser("zhangsan", "o-zhangsan")
	got := decodeOK[wire.ConvertToOpenIDResponse](t, post(t, srv, "/cgi-bin/user/convert_to_openid", tok, `{"userid":"zhangsan"}`))
	require.Equal(t, "o-zhangsan", got.OpenID)
	srv.AddWeComUser("zhangsan", "o-zhangsan-2")
	got = decodeOK[wire.ConvertToOpenIDResponse](t, post(t, srv, "/cgi-bin/user/convert_to_openid", tok, `{"userid":"zhangsan"}`))
	require.Equal(t, "o-zhangsan-2", got.OpenID, "registering again replaces")
	requireCode(t, 60111, post(t, srv, "/cgi-bin/user/convert_to_openid", tok, `{"userid":"lisi"}`))
	requireCode(t, 40003, post(t, srv, "/cgi-bin/user/convert_to_openid", tok, `{}`))
}

// TestWeComSharesInvoicesWithOfficialAccount: the corp reads, locks and
// closes an invoice inserted on the Official Account side, through the same
// status machine: the corp's lock is the corp's, 72023 to the account.
func TestWeComSharesInvoicesWithOfficialAccount(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t)
	ins := l.insert(t, "order-wc", "WC0001")
	enc := l.srv.EncryptCode(l.cardID, ins.Code)
	ref := map[string]string{"card_id": l.cardID, "encrypt_code": enc}
	tok := l.srv.IssueWeComToken()

	info := decodeOK[wire.GetInvoiceInfoResponse](t, post(t, l.srv, weComInfoPath, tok, ref))
	require.Equal(t, ins.OpenID, info.OpenID)
	require.Equal(t, "INVOICE_REIMBURSE_INIT", info.UserInfo.ReimburseStatus)
	batch := decodeOK[wire.GetInvoiceBatchResponse](t, post(t, l.srv, "/cgi-bin/card/invoice/reimburse/getinvoiceinfobatch", tok,
		map[string]any{"item_list": []any{ref}}))
	require.Len(t, batch.ItemList, 1)

	lock := map[string]string{"card_id": l.cardID, "encrypt_code": enc, "reimburse_status": "INVOICE_REIMBURSE_LOCK"}
	decodeOK[wire.Empty](t, post(t, l.srv, "/cgi-bin/card/invoice/reimburse/updateinvoicestatus", tok, lock))
	owner, ok := l.srv.LockedBy(l.cardID, ins.Code)
	require.True(t, ok)
	require.Equal(t, l.srv.CorpID, owner)
	requireCode(t, 72023, post(t, l.srv, "/card/invoice/reimburse/updateinvoicestatus", l.tok,
		map[string]string{"card_id": l.cardID, "encrypt_code": enc, "reimburse_status": "INVOICE_REIMBURSE_INIT"}))
	requireCode(t, 72031, post(t, l.srv, "/cgi-bin/card/invoice/reimburse/updateinvoicestatus", tok,
		map[string]string{"card_id": l.cardID, "encrypt_code": enc, "reimburse_status": "INVOICE_REIMBURSE_CANCEL"}), "CANCEL is the platform's")

	closure := map[string]any{"openid": ins.OpenID, "reimburse_status": "INVOICE_REIMBURSE_CLOSURE", "invoice_list": []any{ref}}
	decodeOK[wire.Empty](t, post(t, l.srv, "/cgi-bin/card/invoice/reimburse/updatestatusbatch", tok, closure))
	inv, ok := l.srv.Invoice(l.cardID, ins.Code)
	require.True(t, ok)
	require.Equal(t, "INVOICE_REIMBURSE_CLOSURE", string(inv.Status))

	// Every WeCom call is recorded under its own path.
	var recorded []Request
	for _, r := range l.srv.Requests() {
		if strings.HasPrefix(r.Path, "/cgi-bin/card/") {
			recorded = append(recorded, r)
		}
	}
	require.Len(t, recorded, 5)
	require.Equal(t, 1, l.srv.Calls("/cgi-bin/card/invoice/reimburse/updatestatusbatch"))
}
