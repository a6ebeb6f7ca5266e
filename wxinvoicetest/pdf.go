package wxinvoicetest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// Documented PDF windows.
const (
	mediaTTL = 72 * time.Hour // an s_media_id not linked to an inserted invoice is purged after 3 days
	linkTTL  = 2 * time.Hour  // a pdf_url works for 2 hours (pdf_url_expire_time 7200)
)

// downloadPath is where the pdf_url links handed out by getpdf point.
const downloadPath = "/intp/invoice/getpdf"

type media struct {
	data        []byte
	filename    string
	contentType string
	expires     time.Time
	linked      bool // used by an inserted invoice: kept for good
}

type pdfLink struct {
	mediaID string
	expires time.Time
}

// mediaLive reports whether s_media_id id is held. Callers hold s.mu.
func (s *Server) mediaLive(id string, now time.Time) bool {
	m := s.media[id]
	return m != nil && (m.linked || now.Before(m.expires))
}

// PDF returns the content of the uploaded PDF s_media_id, if the server still
// holds it (uploaded less than 3 days ago, or used by an inserted invoice).
func (s *Server) PDF(sMediaID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mediaLive(sMediaID, s.clk.now()) {
		return nil, false
	}
	return bytes.Clone(s.media[sMediaID].data), true
}

// handleSetPDF serves POST /card/invoice/platform/setpdf.
//
// The body must be multipart/form-data with the file in the part named "pdf":
// a body that is not multipart, or has no "pdf" part (e.g. the file sent as
// "media"), answers 47001 (data format error), as WeChat does. Content that
// does not start with "%PDF-" answers 72040 (invoice pdf error). The answer is
// a 16-digit s_media_id valid for 3 days on the server's clock, or for good
// once an inserted invoice uses it.
func (s *Server) handleSetPDF(c *call) {
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		c.fail(47001, "")
		return
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	var (
		data     []byte
		filename string
		ctype    string
		found    bool
	)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.fail(47001, "")
			return
		}
		if p.FormName() == "pdf" && !found {
			b, err := io.ReadAll(p)
			if err != nil {
				c.fail(47001, "")
				return
			}
			data, filename, ctype, found = b, p.FileName(), p.Header.Get("Content-Type"), true
		}
		_ = p.Close()
	}
	if !found {
		c.fail(47001, "")
		return
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		c.fail(72040, "")
		return
	}
	s.mu.Lock()
	id := randDigits(16)
	for s.media[id] != nil {
		id = randDigits(16)
	}
	s.media[id] = &media{data: data, filename: filename, contentType: ctype, expires: s.clk.now().Add(mediaTTL)}
	s.mu.Unlock()
	c.ok(&wire.SetPDFResponse{SMediaID: id})
}

// handleGetPDF serves POST /card/invoice/platform/getpdf.
//
// The body's action must be "get_url" (72031 otherwise); a query action, if
// present, too. s_media_id is required (72031); one the server does not hold
// (unknown, or unlinked and older than 3 days) answers 72040 (invoice pdf
// error: the documentation is silent, and 72040 is what insert answers for the
// same PDF). Each call hands out a new pdf_url on the server itself, valid for
// 2 hours on the server's clock.
func (s *Server) handleGetPDF(c *call) {
	var req wire.GetPDFRequest
	if !c.decode(&req) {
		return
	}
	if req.Action != "get_url" || (c.query.Has("action") && c.query.Get("action") != "get_url") {
		c.fail(72031, "action must be get_url")
		return
	}
	if req.SMediaID == "" {
		c.fail(72031, "s_media_id is empty")
		return
	}
	base := c.baseFor()
	s.mu.Lock()
	now := s.clk.now()
	if !s.mediaLive(req.SMediaID, now) {
		s.mu.Unlock()
		c.fail(72040, "")
		return
	}
	key := randB64(32)
	s.links[key] = &pdfLink{mediaID: req.SMediaID, expires: now.Add(linkTTL)}
	s.mu.Unlock()
	c.ok(&wire.GetPDFResponse{
		PDFURL:           base + downloadPath + "?action=media_pdf&media_key=" + key,
		PDFURLExpireTime: wire.Int(linkTTL / time.Second),
	})
}

// handleDownload serves GET <pdf_url>: the PDF with Content-Type
// application/pdf while the link is valid, 403 once it has expired (or its
// PDF was purged), 404 for an unknown link, 405 for another method.
func (s *Server) handleDownload(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.w.Header().Set("Allow", "GET, HEAD")
		http.Error(c.w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	now := s.clk.now()
	l := s.links[c.query.Get("media_key")]
	var data []byte
	status := http.StatusOK
	switch {
	case l == nil || c.query.Get("action") != "media_pdf":
		status = http.StatusNotFound
	case !now.Before(l.expires) || !s.mediaLive(l.mediaID, now):
		status = http.StatusForbidden
	default:
		data = s.media[l.mediaID].data
	}
	s.mu.Unlock()
	switch status {
	case http.StatusNotFound:
		http.Error(c.w, "404 page not found", status)
	case http.StatusForbidden:
		http.Error(c.w, "403 forbidden: link expired", status)
	default:
		c.w.Header().Set("Content-Type", "application/pdf")
		c.w.Header().Set("Content-Disposition", `inline; filename="invoice.pdf"`)
		if c.r.Method == http.MethodHead {
			c.w.Header().Set("Content-Length", itoa(len(data)))
			c.w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = c.w.Write(data)
	}
}
