package fapiao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wxinvoice/wxinvoice"
)

func pdfOfSize(n int) []byte {
	b := bytes.Repeat([]byte{'x'}, n)
	copy(b, "%PDF-1.7\n")
	return b
}

func TestUploadFileOnTheWire(t *testing.T) {
	s := newAPIServer(t, func(*wireRequest) reply {
		return reply{body: string(readTestdata(t, "upload_fapiao_file_response.json"))}
	})
	c := newTestClient(t, s)
	file := pdfOfSize(4096)
	out, err := c.UploadFile(context.Background(), &UploadFileRequest{SubMchID: "1900000109", FileType: "PDF", File: bytes.NewReader(file)})
	if err != nil {
		t.Fatal(err)
	}
	if out.FapiaoMediaID != "ASNFZ4mrze/+3LqYdlQyEA==" {
		t.Errorf("media id = %q", out.FapiaoMediaID)
	}
	r := s.last()
	if r.AuthErr != nil {
		t.Errorf("the signature over the meta part does not verify: %v", r.AuthErr)
	}
	if r.Method != "POST" || r.Path != "/v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file" {
		t.Errorf("%s %s", r.Method, r.Path)
	}
	if strings.Join(r.Parts, ",") != "meta,file" {
		t.Errorf("parts %v, want meta then file", r.Parts)
	}
	want := `{"sub_mchid":"1900000109","file_type":"PDF","digest_alogrithm":"SM3","digest":"` + SM3Hex(file) + `"}`
	if string(r.Body) != want {
		t.Errorf("meta = %s\nwant %s", r.Body, want)
	}
	if SM3Hex(file) != strings.ToLower(SM3Hex(file)) {
		t.Error("digest not lower case")
	}
	if !bytes.Equal(r.File, file) || r.FileName != "fapiao.pdf" || r.FileType != "application/pdf" {
		t.Errorf("file part %q %q (%d bytes)", r.FileName, r.FileType, len(r.File))
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data; boundary=") {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
}

func TestUploadFileLimitsBeforeSending(t *testing.T) {
	s := newAPIServer(t, func(*wireRequest) reply { return reply{body: `{"fapiao_media_id":"m"}`} })
	c := newTestClient(t, s)
	ctx := context.Background()
	big := pdfOfSize(MaxFileSize + 1)
	for name, r := range map[string]io.Reader{
		"sized reader":   bytes.NewReader(big),
		"unsized reader": io.MultiReader(bytes.NewReader(big)),
	} {
		_, err := c.UploadFile(ctx, &UploadFileRequest{FileType: "PDF", File: r})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "File" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for name, req := range map[string]*UploadFileRequest{
		"not a PDF":       {FileType: "PDF", File: strings.NewReader("hello")},
		"not an OFD":      {FileType: "OFD", File: strings.NewReader("%PDF-1.7")},
		"empty":           {FileType: "PDF", File: strings.NewReader("")},
		"wrong digest":    {FileType: "PDF", File: strings.NewReader("%PDF-1.7"), Digest: SM3Hex([]byte("other"))},
		"other algorithm": {FileType: "PDF", File: strings.NewReader("%PDF-1.7"), DigestAlgorithm: "SHA256"},
		"bad file name":   {FileType: "PDF", File: strings.NewReader("%PDF-1.7"), FileName: "a\"b.pdf"},
	} {
		if _, err := c.UploadFile(ctx, req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	// Exactly 2 MB goes, and a matching upper-case digest is accepted.
	exact := pdfOfSize(MaxFileSize)
	if _, err := c.UploadFile(ctx, &UploadFileRequest{FileType: "PDF", File: bytes.NewReader(exact), Digest: strings.ToUpper(SM3Hex(exact))}); err != nil {
		t.Fatal(err)
	}
	if r := s.last(); len(r.File) != MaxFileSize || r.AuthErr != nil {
		t.Errorf("file part %d bytes, auth %v", len(r.File), r.AuthErr)
	}
	// OFD: a ZIP container.
	if _, err := c.UploadFile(ctx, &UploadFileRequest{FileType: "OFD", File: strings.NewReader("PK\x03\x04rest")}); err != nil {
		t.Fatal(err)
	}
	if r := s.last(); r.FileName != "fapiao.ofd" || !strings.Contains(string(r.Body), `"file_type":"OFD"`) {
		t.Errorf("OFD upload: %q %s", r.FileName, r.Body)
	}
}

func TestUploadFileOutcomeUnknown(t *testing.T) {
	s, n := hangupServer(t)
	loadTestKeys(t)
	c, _ := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub), WithBaseURL(s.URL))
	_, err := c.UploadFile(context.Background(), &UploadFileRequest{FileType: "PDF", File: strings.NewReader("%PDF-1.7")})
	if !errors.Is(err, wxinvoice.ErrOutcomeUnknown) || n.Load() != 1 {
		t.Errorf("err = %v after %d requests", err, n.Load())
	}
}

// downloadServer serves one invoice file at /invoicing/fapiao/fapiao-file
// with the given SM3-Digest header (empty: none).
func downloadServer(t *testing.T, file []byte, digest string, check func(r *http.Request)) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		if r.URL.Query().Get("token") != "tok123" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":"INVALID_REQUEST","message":"链接已过期"}`)
			return
		}
		if digest != "" {
			w.Header().Set("SM3-Digest", digest)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="fapiao-id-12.pdf"`)
		w.Header().Set("Request-ID", "dl-1")
		w.Write(file)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestDownload(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t, nil)
	c := newTestClient(t, api)
	file := pdfOfSize(10000)
	var got url.Values
	var auth string
	s := downloadServer(t, file, strings.ToUpper(SM3Hex(file)), func(r *http.Request) {
		got, auth = r.URL.Query(), r.Header.Get("Authorization")
		if !strings.HasPrefix(r.URL.RawQuery, "token="+r.URL.Query().Get("token")+"&mchid=") {
			t.Errorf("query %q: the download URL's own query must come first, unchanged", r.URL.RawQuery)
		}
	})
	req := &DownloadRequest{DownloadURL: s.URL + "/invoicing/fapiao/fapiao-file?token=tok123", OpenID: "o3v4BuMFNejs-gAOfXgS",
		InvoiceCode: "14403220", InvoiceNo: "0923", FapiaoID: "fapiao-id-14"}
	var buf bytes.Buffer
	out, err := c.Download(ctx, req, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), file) || out.Size != int64(len(file)) || out.FileName != "fapiao-id-12.pdf" || out.RequestID != "dl-1" {
		t.Errorf("out = %+v (%d bytes written)", out, buf.Len())
	}
	if auth != "" {
		t.Error("the download carried an Authorization header")
	}
	for k, v := range map[string]string{"mchid": "1900000001", "openid": "o3v4BuMFNejs-gAOfXgS", "invoice_code": "14403220", "invoice_no": "0923", "fapiao_id": "fapiao-id-14"} {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if got.Has("sub_mchid") {
		t.Error("sub_mchid sent though not set")
	}

	// A digest that does not match, or none at all.
	for name, digest := range map[string]string{"mismatch": SM3Hex([]byte("other")), "missing": ""} {
		s := downloadServer(t, file, digest, nil)
		r := *req
		r.DownloadURL = s.URL + "/invoicing/fapiao/fapiao-file?token=tok123"
		var buf bytes.Buffer
		if _, err := c.Download(ctx, &r, &buf); !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "do not trust") {
			t.Errorf("%s: err = %v", name, err)
		}
		if name == "missing" && buf.Len() != 0 {
			t.Errorf("without a digest to check, %d bytes were written", buf.Len())
		}
	}
	// Larger than MaxSize.
	r := *req
	r.MaxSize = 100
	if _, err := c.Download(ctx, &r, io.Discard); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("oversized: err = %v", err)
	}
	// An error answer (expired URL): an unsigned APIError without the token.
	r = *req
	r.DownloadURL = s.URL + "/invoicing/fapiao/fapiao-file?token=expired-secret-token"
	_, err = c.Download(ctx, &r, io.Discard)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "INVALID_REQUEST" || !ae.Unsigned || strings.Contains(err.Error(), "expired-secret-token") {
		t.Errorf("err = %v", err)
	}
	if len(api.requests()) != 0 {
		t.Error("the download went through the API path")
	}
	// A transport failure does not print the URL (its token).
	r.DownloadURL = "http://127.0.0.1:1/x?token=very-secret-token"
	if _, err := c.Download(ctx, &r, io.Discard); err == nil || strings.Contains(err.Error(), "very-secret-token") {
		t.Errorf("err = %v", err)
	}
}

func TestUploadRequestJSONIsTheMeta(t *testing.T) {
	var r UploadFileRequest
	fixtureInto(t, "upload_fapiao_file_meta.json", &r)
	if r.FileType != "PDF" || r.DigestAlgorithm != "SM3" || r.Digest != "addca90a6a290b9642dbaccffdf01e8c22aa348940b2e96754169ba08c19e5db" {
		t.Errorf("r = %+v", r)
	}
	b, _ := json.Marshal(&r)
	if strings.Contains(string(b), "File") {
		t.Errorf("marshalled %s", b)
	}
}
