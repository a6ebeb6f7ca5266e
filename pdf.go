package wxinvoice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// UploadPDFResponse is the result of UploadPDF.
type UploadPDFResponse struct {
	// SMediaID identifies the uploaded PDF for InsertInvoice (s_pdf_media_id)
	// and GetPDF. It is valid for 3 days; a PDF not linked to an inserted
	// invoice by then is purged and must be uploaded again.
	SMediaID string
}

// GetPDFResponse is the result of GetPDF.
type GetPDFResponse struct {
	PDFURL     string    // download URL, valid for 2 hours
	ExpireTime time.Time // when PDFURL stops working (now + pdf_url_expire_time)
}

// DefaultMaxPDFSize is the largest PDF UploadPDF sends unless WithMaxPDFSize
// says otherwise. WeChat documents no limit for setpdf; invoice PDFs are tens
// to hundreds of KiB, WeChat Pay's e-invoice upload allows 2 MB and Official
// Account media at most 20 MB. A larger file is refused with a
// *ValidationError before anything is sent, instead of being sent in full
// for WeChat to refuse.
const DefaultMaxPDFSize = 20 << 20

// WithMaxPDFSize sets the largest PDF UploadPDF sends (n <= 0:
// DefaultMaxPDFSize).
func WithMaxPDFSize(n int64) Option { return func(c *config) { c.maxPDF = n } }

var (
	opSetPDF = &operation{path: "/card/invoice/platform/setpdf", write: true}
	opGetPDF = &operation{path: "/card/invoice/platform/getpdf", query: "&action=get_url"}
)

// UploadPDF uploads an invoice PDF and returns its s_media_id.
//
// WeChat API: POST /card/invoice/platform/setpdf (上传发票PDF)
//
// The body is multipart/form-data with the file in the field "pdf" (the only
// name WeChat accepts), the given filename and Content-Type application/pdf,
// sent with an exact Content-Length. When pdf is an io.ReadSeeker (an
// *os.File, a *bytes.Reader) it is streamed from its current offset without
// being held in memory and rewound for retries; any other reader (a network
// stream, say) is copied exactly once: up to 256 KiB into memory, a larger one
// into a temporary file (os.CreateTemp) that is removed after the upload.
// Input that does not start with "%PDF-", or is larger than the limit
// (DefaultMaxPDFSize, WithMaxPDFSize; a stream is read no further than the
// limit), is refused with a *ValidationError before anything is sent.
func (c *Client) UploadPDF(ctx context.Context, filename string, pdf io.Reader) (*UploadPDFResponse, error) {
	if pdf == nil {
		return nil, newValidation("pdf", "must not be nil")
	}
	if filename == "" {
		filename = "invoice.pdf"
	}
	body, err := newMultipartBody("pdf", filename, pdf, c.maxPDF)
	if err != nil {
		return nil, err
	}
	defer body.close()
	resp, err := do[wire.SetPDFResponse](ctx, c, opSetPDF, body, new(wire.SetPDFResponse))
	if err != nil {
		return nil, err
	}
	return &UploadPDFResponse{SMediaID: resp.SMediaID}, nil
}

// GetPDF returns a download URL (valid 2 hours) for an uploaded PDF.
//
// WeChat API: POST /card/invoice/platform/getpdf (获取上传的发票PDF)
//
// action=get_url is sent both in the query (as the platform guide shows) and
// in the body (as the API reference requires).
func (c *Client) GetPDF(ctx context.Context, sMediaID string) (*GetPDFResponse, error) {
	if sMediaID == "" {
		return nil, newValidation("sMediaID", "must not be empty")
	}
	start := time.Now()
	resp, err := postJSON[wire.GetPDFResponse](ctx, c, opGetPDF, &wire.GetPDFRequest{Action: "get_url", SMediaID: sMediaID})
	if err != nil {
		return nil, err
	}
	return &GetPDFResponse{PDFURL: resp.PDFURL, ExpireTime: start.Add(time.Duration(resp.PDFURLExpireTime) * time.Second)}, nil
}

// multipartBody streams one file part: head, the file, tail.
type multipartBody struct {
	head, tail []byte
	ctype      string
	src        io.ReadSeeker
	start      int64 // offset of the file's first byte in src
	size       int64
	prev       chan struct{} // closed once net/http has closed the previous attempt's body
	cleanup    func()        // removes a spooled copy of src; nil when src is the caller's
}

// close releases a spooled copy once net/http is done reading the last
// attempt's body.
func (m *multipartBody) close() {
	if m.cleanup == nil {
		return
	}
	if m.prev != nil {
		t := time.NewTimer(rewindWait)
		select {
		case <-m.prev:
		case <-t.C:
		}
		t.Stop()
	}
	m.cleanup()
}

// rewindWait bounds the wait for the previous attempt's body to be closed.
// net/http always closes a request body, but may do so after RoundTrip
// returns (e.g. when a proxy answered 502 before reading the upload);
// rewinding src while it still reads would corrupt the retry.
const rewindWait = 10 * time.Second

// newMultipartBody checks the PDF magic and computes the exact framing.
func newMultipartBody(field, filename string, r io.Reader, max int64) (*multipartBody, error) {
	var cleanup func()
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		var err error
		if rs, cleanup, err = bufferOnce(io.LimitReader(r, max+1)); err != nil {
			return nil, err
		}
	}
	m, err := framePDF(field, filename, rs)
	if err == nil && m.size > max {
		err = newValidation(field, "%d bytes is over the %d-byte limit (WithMaxPDFSize)", m.size, max)
	}
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, err
	}
	m.cleanup = cleanup
	return m, nil
}

// spoolThreshold is the size above which a non-seekable PDF is copied to a
// temporary file rather than held in memory.
const spoolThreshold = 256 << 10

// bufferOnce makes r replayable by copying it once: into memory when it is at
// most spoolThreshold bytes, else into a temporary file. cleanup (nil for
// memory) closes and removes the file.
func bufferOnce(r io.Reader) (io.ReadSeeker, func(), error) {
	var head bytes.Buffer
	n, err := io.CopyN(&head, r, spoolThreshold+1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("wxinvoice: read pdf: %w", err)
	}
	if n <= spoolThreshold {
		return bytes.NewReader(head.Bytes()), nil, nil
	}
	f, err := os.CreateTemp("", "wxinvoice-pdf-*")
	if err != nil {
		return nil, nil, fmt.Errorf("wxinvoice: spool pdf: %w", err)
	}
	cleanup := func() { _ = f.Close(); _ = os.Remove(f.Name()) }
	_, err = head.WriteTo(f)
	if err == nil {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("wxinvoice: spool pdf: %w", err)
	}
	return f, cleanup, nil
}

// framePDF checks the PDF magic of rs (from its current offset) and computes
// the exact multipart framing.
func framePDF(field, filename string, rs io.ReadSeeker) (*multipartBody, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wxinvoice: seek pdf: %w", err)
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("wxinvoice: seek pdf: %w", err)
	}
	size := end - start
	var magic [5]byte
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("wxinvoice: seek pdf: %w", err)
	}
	if n, err := io.ReadFull(rs, magic[:]); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("wxinvoice: read pdf: %w", err)
	} else if n < 5 || string(magic[:]) != "%PDF-" {
		return nil, newValidation("pdf", "not a PDF: content does not start with %%PDF-")
	}

	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, field, escapeQuotes(filename)))
	h.Set("Content-Type", "application/pdf")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return &multipartBody{
		head: head.Bytes(), tail: []byte(tail), ctype: mw.FormDataContentType(),
		src: rs, start: start, size: size,
	}, nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }

func (m *multipartBody) open() (io.Reader, int64, error) {
	if m.prev != nil {
		t := time.NewTimer(rewindWait)
		select {
		case <-m.prev:
		case <-t.C:
		}
		t.Stop()
	}
	if _, err := m.src.Seek(m.start, io.SeekStart); err != nil {
		return nil, 0, err
	}
	done := make(chan struct{})
	m.prev = done
	r := &attemptBody{Reader: io.MultiReader(bytes.NewReader(m.head), io.LimitReader(m.src, m.size), bytes.NewReader(m.tail)), done: done}
	return r, int64(len(m.head)) + m.size + int64(len(m.tail)), nil
}

// attemptBody is one attempt's upload body; Close reports that net/http is
// done reading it.
type attemptBody struct {
	io.Reader
	once sync.Once
	done chan struct{}
}

func (a *attemptBody) Close() error {
	a.once.Do(func() { close(a.done) })
	return nil
}

func (m *multipartBody) contentType() string { return m.ctype }
