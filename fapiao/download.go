package fapiao

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// DefaultMaxDownloadSize bounds a downloaded invoice file when
// DownloadRequest.MaxSize is zero.
const DefaultMaxDownloadSize = 32 << 20

// DownloadRequest is the request of Download.
type DownloadRequest struct {
	// DownloadURL is FapiaoDownloadInfo.DownloadURL, valid 30 seconds; it is
	// kept as is (with its token) and the parameters below are appended.
	DownloadURL string `json:"download_url"`
	MchID       string `json:"mchid,omitempty"`     // default: the client's merchant ID
	SubMchID    string `json:"sub_mchid,omitempty"` // appended only when set
	OpenID      string `json:"openid"`              // CardInformation.CardOpenID from Query
	InvoiceCode string `json:"invoice_code"`        // FapiaoNumbers.FapiaoCode; "" for 数电 invoices (sent blank: the parameter is required)
	InvoiceNo   string `json:"invoice_no"`          // FapiaoNumbers.FapiaoNumber
	FapiaoID    string `json:"fapiao_id"`
	MaxSize     int64  `json:"-"` // refuse files larger than this; 0: DefaultMaxDownloadSize
}

// DownloadResponse describes a downloaded file whose SM3 digest matched.
type DownloadResponse struct {
	Size        int64  // bytes written
	SM3Digest   string // the SM3-Digest header (hex), verified
	ContentType string
	FileName    string // from Content-Disposition, when given
	RequestID   string
}

func (r *DownloadRequest) validate() (*url.URL, error) {
	if r == nil {
		return nil, newValidation("DownloadRequest", "must not be nil")
	}
	u, err := url.Parse(r.DownloadURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, newValidation("DownloadURL", "must be the absolute URL from GetDownloadInfo")
	}
	for _, f := range []struct{ name, v string }{{"OpenID", r.OpenID}, {"InvoiceCode", r.InvoiceCode}, {"InvoiceNo", r.InvoiceNo}, {"FapiaoID", r.FapiaoID}} {
		if err := checkText(f.name, f.v, 64, f.name != "InvoiceCode"); err != nil {
			return nil, err
		}
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return nil, err
	}
	if r.MaxSize < 0 {
		return nil, newValidation("MaxSize", "must not be negative")
	}
	return u, nil
}

// Download fetches an invoice file from its download URL and streams it to
// w. The request carries no Authorization and the answer no signature (as
// WeChat documents for this URL); instead the file's SM3 is checked against
// the SM3-Digest header. On ErrDigestMismatch (also when the header is
// missing) bytes were already written to w: do not trust them. Download is
// neither retried nor redirected: call GetDownloadInfo again for a fresh URL.
// Through the default transport, a w that blocks for 26–30 s fails the download
// as a stalled connection would (see WithHTTPClient).
//
// WeChat Pay API: GET {download_url}&mchid=&openid=&invoice_code=&invoice_no=&fapiao_id= (下载发票文件)
func (c *Client) Download(ctx context.Context, req *DownloadRequest, w io.Writer) (*DownloadResponse, error) {
	u, err := req.validate()
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, newValidation("w", "must not be nil")
	}
	mch := req.MchID
	if mch == "" {
		mch = c.mchID
	}
	var q query
	q = append(q, u.RawQuery...)
	q.add("mchid", mch)
	q.add("sub_mchid", req.SubMchID)
	q.add("openid", req.OpenID)
	q.addAlways("invoice_code", req.InvoiceCode) // required; blank for 数电 invoices, which have no code
	q.add("invoice_no", req.InvoiceNo)
	q.add("fapiao_id", req.FapiaoID)
	u.RawQuery = string(q)
	const op = "GET {download_url}"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &opError{op: op, err: errors.New("cannot build the request")}
	}
	hreq.Header["Accept"] = []string{"*/*"}
	hreq.Header["User-Agent"] = []string{userAgent}
	start := time.Now()
	resp, err := c.hc.Do(hreq)
	if err != nil {
		inner := redactURLError(err)
		if ctx.Err() != nil {
			inner = ctx.Err()
		}
		return nil, &opError{op: op, err: inner}
	}
	defer resp.Body.Close()
	rid := resp.Header.Get(headerRequestID)
	if c.log != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "fapiao download", slog.String("op", op), slog.Int("status", resp.StatusCode),
			slog.String("request_id", rid), slog.Duration("took", time.Since(start)))
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		apiErr := &APIError{StatusCode: resp.StatusCode, Op: op, RequestID: rid, Unsigned: true}
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil {
			apiErr.Code, apiErr.Message, apiErr.Detail = eb.Code, eb.Message, eb.Detail
		} else if len(raw) > 0 {
			apiErr.Message = snippet(raw)
		}
		return nil, apiErr
	}
	limit := req.MaxSize
	if limit == 0 {
		limit = DefaultMaxDownloadSize
	}
	want := strings.TrimSpace(resp.Header.Get("SM3-Digest"))
	if want == "" { // nothing could be checked: write nothing
		return nil, &opError{op: op, err: fmt.Errorf("%w (no SM3-Digest header)", ErrDigestMismatch)}
	}
	h := sm3.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &opError{op: op, err: fmt.Errorf("%w (interrupted after %d bytes: %v)", ErrDigestMismatch, n, redactURLError(err))}
	}
	if n > limit {
		return nil, &opError{op: op, err: fmt.Errorf("%w (file larger than %d bytes)", ErrDigestMismatch, limit)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return nil, &opError{op: op, err: ErrDigestMismatch}
	}
	out := &DownloadResponse{Size: n, SM3Digest: want, ContentType: resp.Header.Get("Content-Type"), RequestID: rid}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		out.FileName = params["filename"]
	}
	return out, nil
}
