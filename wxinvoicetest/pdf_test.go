package wxinvoicetest

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

func TestSetPDF(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)

	id := uploadOK(t, srv, tok)
	require.Len(t, id, 16)
	require.True(t, isDigits(id), id)
	data, ok := srv.PDF(id)
	require.True(t, ok)
	require.Equal(t, samplePDF, data)
	require.NotEqual(t, id, uploadOK(t, srv, tok))

	// The whole multipart body is recorded.
	var last Request
	for _, r := range srv.Requests() {
		if r.Path == "/card/invoice/platform/setpdf" {
			last = r
		}
	}
	mt, params, err := mime.ParseMediaType(last.ContentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mt)
	part, err := multipart.NewReader(bytes.NewReader(last.Body), params["boundary"]).NextPart()
	require.NoError(t, err)
	require.Equal(t, "pdf", part.FormName())
	require.Equal(t, "invoice.pdf", part.FileName())

	t.Run("field not named pdf", func(t *testing.T) {
		raw := upload(t, srv, tok, "media", samplePDF)
		requireCode(t, 47001, raw)
		require.Contains(t, string(raw), "data format error")
	})
	t.Run("not a PDF", func(t *testing.T) {
		requireCode(t, 72040, upload(t, srv, tok, "pdf", []byte("<html>not a pdf</html>")))
	})
	t.Run("empty file", func(t *testing.T) {
		requireCode(t, 72040, upload(t, srv, tok, "pdf", nil))
	})
	t.Run("JSON instead of multipart", func(t *testing.T) {
		requireCode(t, 47001, post(t, srv, "/card/invoice/platform/setpdf", tok, `{"pdf":"JVBERi0="}`))
	})
	t.Run("multipart without boundary", func(t *testing.T) {
		resp, raw := send(t, http.MethodPost, apiURL(srv, "/card/invoice/platform/setpdf", tok),
			"multipart/form-data", []byte("--x\r\n"))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		requireCode(t, 47001, raw)
	})
	t.Run("no token", func(t *testing.T) {
		requireCode(t, 41001, upload(t, srv, "", "pdf", samplePDF))
	})
}

func getPDF(t *testing.T, srv *Server, tok, mediaID string) []byte {
	t.Helper()
	resp, raw := send(t, http.MethodPost, srv.URL+"/card/invoice/platform/getpdf?action=get_url&access_token="+tok,
		"application/json", []byte(`{"action":"get_url","s_media_id":"`+mediaID+`"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return raw
}

func TestGetPDFAndDownload(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tok := stableToken(t, srv)
	id := uploadOK(t, srv, tok)

	got := decodeOK[wire.GetPDFResponse](t, getPDF(t, srv, tok, id))
	require.EqualValues(t, 7200, got.PDFURLExpireTime)
	require.True(t, strings.HasPrefix(got.PDFURL, srv.URL+"/intp/invoice/getpdf?action=media_pdf&media_key="), got.PDFURL)

	resp, body := send(t, http.MethodGet, got.PDFURL, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	require.Equal(t, samplePDF, body)

	// The body-only form (no query action) works as well.
	decodeOK[wire.GetPDFResponse](t, post(t, srv, "/card/invoice/platform/getpdf", tok,
		wire.GetPDFRequest{Action: "get_url", SMediaID: id}))

	// The link works for 2 hours on the server's clock.
	srv.Advance(2*time.Hour - time.Second)
	resp, _ = send(t, http.MethodGet, got.PDFURL, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srv.Advance(time.Second)
	resp, _ = send(t, http.MethodGet, got.PDFURL, "", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp, _ = send(t, http.MethodGet, srv.URL+"/intp/invoice/getpdf?action=media_pdf&media_key=nope", "", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = send(t, http.MethodPost, got.PDFURL, "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	tok = stableToken(t, srv)
	requireCode(t, 72031, post(t, srv, "/card/invoice/platform/getpdf", tok, wire.GetPDFRequest{SMediaID: id}))
	requireCode(t, 72031, post(t, srv, "/card/invoice/platform/getpdf", tok, wire.GetPDFRequest{Action: "get_url"}))
	requireCode(t, 72040, getPDF(t, srv, tok, "1234567890123456"))

	// An unlinked PDF is gone after 3 days: getpdf answers 72040 and links die.
	fresh := decodeOK[wire.GetPDFResponse](t, getPDF(t, srv, tok, id))
	srv.Advance(72*time.Hour - 2*time.Hour)
	tok = stableToken(t, srv)
	requireCode(t, 72040, getPDF(t, srv, tok, id))
	resp, _ = send(t, http.MethodGet, fresh.PDFURL, "", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestPDFURLFromHandler(t *testing.T) {
	t.Parallel()
	fake := NewUnstartedServer(WithClock(t0))
	mounted := httptest.NewServer(fake.Handler())
	t.Cleanup(mounted.Close)
	require.Empty(t, fake.URL)
	fake.URL = mounted.URL // what apiURL uses; the links use the request's Host
	tok := stableToken(t, fake)
	id := uploadOK(t, fake, tok)
	got := decodeOK[wire.GetPDFResponse](t, getPDF(t, fake, tok, id))
	require.True(t, strings.HasPrefix(got.PDFURL, mounted.URL+"/intp/invoice/getpdf?"), got.PDFURL)
	resp, body := send(t, http.MethodGet, got.PDFURL, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, samplePDF, body)

	public := start(t, WithPublicURL("https://sandbox.example.com/"))
	tok = stableToken(t, public)
	got = decodeOK[wire.GetPDFResponse](t, getPDF(t, public, tok, uploadOK(t, public, tok)))
	require.True(t, strings.HasPrefix(got.PDFURL, "https://sandbox.example.com/intp/invoice/getpdf?"), got.PDFURL)
}
