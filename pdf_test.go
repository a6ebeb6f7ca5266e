package wxinvoice

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
)

var testPDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

// readPDFPart asserts the multipart shape WeChat requires and returns the file.
func readPDFPart(t *testing.T, r *http.Request) (filename string, data []byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mt)
	require.NotEqual(t, int64(-1), r.ContentLength, "an exact Content-Length must be sent")
	require.Empty(t, r.TransferEncoding)
	mr := multipart.NewReader(r.Body, params["boundary"])
	p, err := mr.NextPart()
	require.NoError(t, err)
	require.Equal(t, "pdf", p.FormName())
	require.Equal(t, "application/pdf", p.Header.Get("Content-Type"))
	data, err = io.ReadAll(p)
	require.NoError(t, err)
	_, err = mr.NextPart()
	require.ErrorIs(t, err, io.EOF, "exactly one part")
	return p.FileName(), data
}

func TestUploadPDFWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "POST", r.Method)
		require.Equal(t, testToken, r.URL.Query().Get("access_token"))
		name, data := readPDFPart(t, r)
		require.Equal(t, "inv-001.pdf", name)
		require.Equal(t, testPDF, data)
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Platform__CardInvoicePlatformSetPdfResponse.json")))
	})
	c := ts.client(t)
	// A seekable source (streamed) ...
	resp, err := c.UploadPDF(bg, "inv-001.pdf", bytes.NewReader(testPDF))
	require.NoError(t, err)
	require.Equal(t, "3015806758683707", resp.SMediaID)
	// ... a file ...
	path := filepath.Join(t.TempDir(), "inv.pdf")
	require.NoError(t, os.WriteFile(path, testPDF, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = c.UploadPDF(bg, "inv-001.pdf", f)
	require.NoError(t, err)
	// ... and a plain reader (buffered once).
	_, err = c.UploadPDF(bg, "inv-001.pdf", io.MultiReader(bytes.NewReader(testPDF[:3]), bytes.NewReader(testPDF[3:])))
	require.NoError(t, err)
}

func TestUploadPDFRefusesNonPDF(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	c := ts.client(t)
	for _, in := range []string{"", "%PDF", "<html>%PDF-1.4", "PK\x03\x04"} {
		_, err := c.UploadPDF(bg, "x.pdf", bytes.NewReader([]byte(in)))
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "%q", in)
		require.Equal(t, "pdf", ve.Field)
	}
	_, err := c.UploadPDF(bg, "x.pdf", nil)
	require.Error(t, err)
	require.Zero(t, ts.tokenCalls.Load())
}

// A retried upload (the first attempt answers errcode -1, system busy: WeChat
// did not act) sends the whole PDF again.
func TestUploadPDFReplaysBody(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var calls atomic.Int32
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) {
		_, data := readPDFPart(t, r)
		require.Equal(t, testPDF, data)
		if calls.Add(1) == 1 {
			_, _ = w.Write([]byte(`{"errcode":-1,"errmsg":"system error"}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","s_media_id":"42"}`))
	})
	// Start in the middle of a reader: the offset is honoured on every attempt.
	src := bytes.NewReader(append([]byte("junk"), testPDF...))
	_, _ = src.Seek(4, io.SeekStart)
	resp, err := ts.client(t).UploadPDF(bg, "a.pdf", src)
	require.NoError(t, err)
	require.Equal(t, "42", resp.SMediaID)
	require.Equal(t, int32(2), calls.Load())
}

func TestGetPDFWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/card/invoice/platform/getpdf", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "get_url", r.URL.Query().Get("action"))
		require.JSONEq(t, `{"action":"get_url","s_media_id":"75195574948725301"}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "CardInvoice__Platform__CardInvoicePlatformGetPdfResponse.json")))
	})
	before := time.Now()
	resp, err := ts.client(t).GetPDF(bg, "75195574948725301")
	require.NoError(t, err)
	require.Contains(t, resp.PDFURL, "https://mp.weixin.qq.com/intp/invoice/getpdf?action=media_pdf&media_key=")
	require.WithinRange(t, resp.ExpireTime, before.Add(7200*time.Second), time.Now().Add(7200*time.Second))
}

// httpmock drives the same calls without a socket, as users' own tests can.
func TestGetPDFWithHTTPMock(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Transport: httpmock.NewMockTransport()}
	mock := hc.Transport.(*httpmock.MockTransport)
	mock.RegisterResponder("POST", "https://api.weixin.qq.com/card/invoice/platform/getpdf",
		func(r *http.Request) (*http.Response, error) {
			if r.URL.Query().Get("access_token") != "static-token" || r.URL.Query().Get("action") != "get_url" {
				return httpmock.NewStringResponse(200, `{"errcode":40014,"errmsg":"invalid access_token"}`), nil
			}
			return httpmock.NewStringResponse(200, `{"errcode":"0","errmsg":"ok","pdf_url":"https://x/y","pdf_url_expire_time":"7200"}`), nil
		})
	c, err := New("wxapp", "", WithHTTPClient(hc), WithTokenSource(StaticTokenSource("static-token")))
	require.NoError(t, err)
	resp, err := c.GetPDF(bg, "1")
	require.NoError(t, err, "errcode and expire time as numeric strings decode")
	require.Equal(t, "https://x/y", resp.PDFURL)
	require.Equal(t, 1, mock.GetTotalCallCount())
}

func TestUploadPDFUnknownOutcomeNotReplayed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var calls atomic.Int32
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		_ = conn.Close() // the request arrived; the answer never does
	})
	_, err := ts.client(t).UploadPDF(bg, "a.pdf", bytes.NewReader(testPDF))
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Equal(t, int32(1), calls.Load())
	requireNoSecrets(t, err.Error())
	var opErr *OpError
	require.True(t, errors.As(err, &opErr))
	require.Equal(t, "/card/invoice/platform/setpdf", opErr.Op)
}

// WeChat answering errcode -1 (system busy) before reading the upload: the
// retry sends the whole file intact. (open waits for net/http to close the first attempt's
// body before rewinding the file; this test passes with or without that wait
// on today's net/http, which closes the body before Do returns here.)
func TestUploadPDFRetryAfterEarlyAnswer(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 4<<20)...)
	var calls atomic.Int32
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte(`{"errcode":-1,"errmsg":"system error"}`))
			return
		}
		_, data := readPDFPart(t, r)
		require.Equal(t, len(big), len(data))
		require.True(t, bytes.Equal(big, data), "the retried body is the whole file, unmixed")
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","s_media_id":"7"}`))
	})
	path := filepath.Join(t.TempDir(), "big.pdf")
	require.NoError(t, os.WriteFile(path, big, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	resp, err := ts.client(t).UploadPDF(bg, "big.pdf", f)
	require.NoError(t, err)
	require.Equal(t, "7", resp.SMediaID)
	require.Equal(t, int32(2), calls.Load())
}

// A large PDF from a non-seekable reader (a network stream) is spooled to a
// temporary file once, replayed from it on a retry, and the file is removed.
func TestUploadPDFSpoolsLargeStreams(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.CreateTemp's directory; no t.Parallel with Setenv
	ts := newTestServer(t)
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("y"), 3<<20)...)
	var calls atomic.Int32
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) {
		_, data := readPDFPart(t, r)
		require.True(t, bytes.Equal(big, data), "the whole stream, intact")
		if calls.Add(1) == 1 {
			entries, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Len(t, entries, 1, "spooled to one temporary file")
			_, _ = w.Write([]byte(`{"errcode":-1,"errmsg":"system error"}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","s_media_id":"9"}`))
	})
	stream := io.MultiReader(bytes.NewReader(big[:1000]), bytes.NewReader(big[1000:])) // not seekable
	resp, err := ts.client(t).UploadPDF(bg, "big.pdf", stream)
	require.NoError(t, err)
	require.Equal(t, "9", resp.SMediaID)
	require.Equal(t, int32(2), calls.Load())
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "the temporary file is removed")

	// A large stream that is not a PDF is refused, and its spool removed too.
	_, err = ts.client(t).UploadPDF(bg, "x.pdf", io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("z"), 2<<20))))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	entries, _ = os.ReadDir(tmp)
	require.Empty(t, entries)
}

// A stream that fails after the in-memory part (a dropped download) is an
// error, never a truncated PDF sent to WeChat.
func TestUploadPDFStreamErrorIsNotTruncated(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var calls atomic.Int32
	ts.mux.HandleFunc("/card/invoice/platform/setpdf", func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	broken := io.MultiReader(bytes.NewReader(append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("z"), 1<<20)...)),
		iotestErrReader{errors.New("connection reset by peer")})
	_, err := ts.client(t).UploadPDF(bg, "big.pdf", broken)
	require.ErrorContains(t, err, "connection reset by peer")
	require.Zero(t, calls.Load(), "nothing sent")
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }
