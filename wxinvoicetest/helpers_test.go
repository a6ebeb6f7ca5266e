package wxinvoicetest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// t0 is the frozen start of every test server's clock.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, chinaTime)

// samplePDF is the smallest content the server accepts as a PDF.
var samplePDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

// start returns a started server with a frozen clock, closed at the end of t.
func start(t *testing.T, opts ...Option) *Server {
	t.Helper()
	srv := NewServer(append([]Option{WithClock(t0)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request and returns the response (body read) and its body.
func send(t *testing.T, method, u, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// apiURL returns srv's URL for path with access_token=tok ("" leaves it out).
func apiURL(srv *Server, path, tok string) string {
	u := srv.URL + path
	if tok != "" {
		u += "?access_token=" + url.QueryEscape(tok)
	}
	return u
}

// post sends body (marshalled unless it is []byte or string) as JSON to path.
func post(t *testing.T, srv *Server, path, tok string, body any) []byte {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	resp, raw := send(t, http.MethodPost, apiURL(srv, path, tok), "application/json", b)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	return raw
}

// errcode returns the errcode of a JSON answer.
func errcode(t *testing.T, raw []byte) int {
	t.Helper()
	var st wire.Status
	require.NoError(t, json.Unmarshal(raw, &st), string(raw))
	return int(st.ErrCode)
}

// requireCode checks that raw answers errcode want.
func requireCode(t *testing.T, want int, raw []byte, msg ...string) {
	t.Helper()
	require.Equal(t, want, errcode(t, raw), strings.Join(append(msg, string(raw)), ": "))
}

// decodeOK decodes a successful answer into a T.
func decodeOK[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var st wire.Status
	require.NoError(t, json.Unmarshal(raw, &st), string(raw))
	require.Equal(t, wire.Int(0), st.ErrCode, string(raw))
	require.Equal(t, "ok", st.ErrMsg)
	var v T
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

// stableToken fetches a token in stable_token normal mode.
func stableToken(t *testing.T, srv *Server) string {
	t.Helper()
	tr := fetchStable(t, srv, false)
	require.NotEmpty(t, tr.AccessToken)
	return tr.AccessToken
}

func fetchStable(t *testing.T, srv *Server, force bool) wire.TokenResponse {
	t.Helper()
	raw := post(t, srv, "/cgi-bin/stable_token", "", wire.StableTokenRequest{
		GrantType: "client_credential", AppID: srv.AppID, Secret: srv.AppSecret, ForceRefresh: force})
	var tr wire.TokenResponse
	require.NoError(t, json.Unmarshal(raw, &tr), string(raw))
	return tr
}

// multipartBody returns a multipart body with one file part.
func multipartBody(t *testing.T, field, filename string, content []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + filename + `"`}
	h["Content-Type"] = []string{"application/pdf"}
	pw, err := mw.CreatePart(h)
	require.NoError(t, err)
	_, err = pw.Write(content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// upload posts content to setpdf under field and returns the raw answer.
func upload(t *testing.T, srv *Server, tok, field string, content []byte) []byte {
	t.Helper()
	ct, body := multipartBody(t, field, "invoice.pdf", content)
	resp, raw := send(t, http.MethodPost, apiURL(srv, "/card/invoice/platform/setpdf", tok), ct, body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return raw
}

// uploadOK uploads samplePDF and returns its s_media_id.
func uploadOK(t *testing.T, srv *Server, tok string) string {
	t.Helper()
	return decodeOK[wire.SetPDFResponse](t, upload(t, srv, tok, "pdf", samplePDF)).SMediaID
}

// createCard creates an invoice card template and returns its card_id.
func createCard(t *testing.T, srv *Server, tok string) string {
	t.Helper()
	raw := post(t, srv, "/card/invoice/platform/createcard", tok, validCard())
	return decodeOK[wire.CardIDResponse](t, raw).CardID
}

func validCard() *wire.CreateCardRequest {
	return &wire.CreateCardRequest{InvoiceInfo: wire.CardInvoiceInfo{
		Payee: "测试-收款方",
		Type:  "广东省增值税普通发票",
		BaseInfo: wire.CardBaseInfo{
			LogoURL: "http://mmbiz.qpic.cn/mmbiz/logo/0",
			Title:   "测试商户",
		},
	}}
}

// validInsert returns a complete insert request.
func validInsert(srv *Server, cardID, mediaID, orderID, billingNo string) *wire.InsertRequest {
	tax, without := int64(13), int64(87)
	return &wire.InsertRequest{
		OrderID: orderID, CardID: cardID, AppID: srv.AppID,
		CardExt: wire.CardExt{NonceStr: "n" + orderID, UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{
			Fee: 100, Title: "北京测试有限公司", BillingTime: wire.Int(t0.Unix()),
			BillingNo: billingNo, BillingCode: "044001800111",
			Info:          []wire.InvoiceItem{{Name: "餐饮", Num: 1, Unit: "份", Price: 100}},
			FeeWithoutTax: &without, Tax: &tax, SPDFMediaID: mediaID,
		}}},
	}
}

// lifecycle is a server with a token, a card and an uploaded PDF.
type lifecycle struct {
	srv     *Server
	tok     string
	cardID  string
	mediaID string
}

func newLifecycle(t *testing.T, opts ...Option) *lifecycle {
	t.Helper()
	srv := start(t, opts...)
	tok := stableToken(t, srv)
	return &lifecycle{srv: srv, tok: tok, cardID: createCard(t, srv, tok), mediaID: uploadOK(t, srv, tok)}
}

// insert inserts an invoice for orderID and returns its code and openid.
func (l *lifecycle) insert(t *testing.T, orderID, billingNo string) wire.InsertResponse {
	t.Helper()
	raw := post(t, l.srv, "/card/invoice/insert", l.tok, validInsert(l.srv, l.cardID, l.mediaID, orderID, billingNo))
	return decodeOK[wire.InsertResponse](t, raw)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
