package wxinvoice_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestNewRefusesPastedWhitespace: an appid or secret copied with a space or
// newline is refused by New, naming the argument and not echoing the secret.
func TestNewRefusesPastedWhitespace(t *testing.T) {
	for _, tc := range []struct{ appID, secret, field string }{
		{"wx abc", "s3cret-value", "appID"},
		{"wxabc\n", "s3cret-value", "appID"},
		{"wxabc", "s3cret-value\n", "appSecret"},
		{"wxabc", "s3cret\tvalue", "appSecret"},
	} {
		_, err := wxinvoice.New(tc.appID, tc.secret)
		var ve *wxinvoice.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("New(%q, …) = %v, want a ValidationError for %s", tc.appID, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error echoes the secret: %v", err)
		}
	}
}

// padReader is a non-seekable stream of a PDF header and n-5 more bytes.
type padReader struct{ left int }

func (p *padReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := min(len(b), p.left)
	for i := range n {
		b[i] = ' '
	}
	p.left -= n
	return n, nil
}

func pdfStream(size int) io.Reader {
	return io.MultiReader(strings.NewReader("%PDF-"), &padReader{left: size - 5})
}

// TestUploadPDFSizeLimit: a PDF over the limit is refused before anything is
// sent, whether seekable or streamed, and a stream is not read past the
// limit; one at the limit goes through.
func TestUploadPDFSizeLimit(t *testing.T) {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	const limit = 4096
	c, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithMaxPDFSize(limit))
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte("%PDF-"), bytes.Repeat([]byte{' '}, limit)...)
	for name, r := range map[string]io.Reader{"seekable": bytes.NewReader(big), "stream": pdfStream(limit + 1)} {
		_, err := c.UploadPDF(ctx, "big.pdf", r)
		var ve *wxinvoice.ValidationError
		if !errors.As(err, &ve) || ve.Field != "pdf" {
			t.Errorf("%s: err = %v, want a ValidationError for pdf", name, err)
		}
	}
	endless := &padReader{left: 1 << 40}
	if _, err := c.UploadPDF(ctx, "endless.pdf", io.MultiReader(strings.NewReader("%PDF-"), endless)); err == nil {
		t.Fatal("an endless stream was accepted")
	}
	if read := 1<<40 - endless.left; read > limit+1 {
		t.Errorf("read %d bytes of an endless stream, want at most the limit", read)
	}
	for _, r := range srv.Requests() {
		if r.Path == "/card/invoice/platform/setpdf" {
			t.Fatalf("a PDF over the limit was sent")
		}
	}
	if _, err := c.UploadPDF(ctx, "ok.pdf", pdfStream(limit)); err != nil {
		t.Fatalf("a PDF at the limit: %v", err)
	}
	d, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.UploadPDF(ctx, "huge.pdf", pdfStream(wxinvoice.DefaultMaxPDFSize+1))
	if !errors.As(err, new(*wxinvoice.ValidationError)) {
		t.Fatalf("over the default limit: %v", err)
	}
}
