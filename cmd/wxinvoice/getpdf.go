package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wxinvoice/wxinvoice"
)

// getPDFInput is the request of `getpdf`.
type getPDFInput struct{ SMediaID string }

// getPDFResult is what `getpdf` prints.
type getPDFResult struct {
	PDFURL     string
	ExpireTime time.Time
	SavedTo    string `json:",omitempty"` // --download
	Bytes      int64  `json:",omitempty"`
}

func (a *app) getpdfCmd() *cobra.Command {
	var download string
	return endpointCmd(a, endpoint[getPDFInput, *getPDFResult]{
		use:   "getpdf [S_MEDIA_ID]",
		short: "Get the download URL of an uploaded PDF, or download it (获取上传的发票PDF)",
		long: `Calls POST /card/invoice/platform/getpdf and prints the pdf_url (valid 2 hours) and
its expiry. With --download FILE the PDF is fetched from pdf_url and saved to FILE.`,
		example: `  wxinvoice getpdf 3509813445312345
  wxinvoice getpdf 3509813445312345 --download invoice.pdf`,
		args:  []string{"SMediaID"},
		flags: []flagField{{name: "s-media-id", path: "SMediaID", usage: "the PDF's s_media_id (or give it as the argument)"}},
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&download, "download", "", "also download the PDF from pdf_url into this file")
		},
		call: func(ctx context.Context, a *app, c *wxinvoice.Client, req *getPDFInput) (*getPDFResult, error) {
			if download != "" {
				if err := writableDir(download); err != nil {
					return nil, err
				}
			}
			resp, err := c.GetPDF(ctx, req.SMediaID)
			if err != nil {
				return nil, err
			}
			out := &getPDFResult{PDFURL: resp.PDFURL, ExpireTime: resp.ExpireTime.Truncate(time.Second)}
			if download != "" {
				n, err := a.download(ctx, resp.PDFURL, download)
				if err != nil {
					return nil, err
				}
				out.SavedTo, out.Bytes = download, n
			}
			return out, nil
		},
	})
}

// writableDir checks, before anything is sent, that the directory file is to
// be saved in exists.
func writableDir(file string) error {
	dir := filepath.Dir(file)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return usagef("--download %s: directory %s does not exist", file, dir)
	case !fi.IsDir():
		return usagef("--download %s: %s is not a directory", file, dir)
	}
	return nil
}

// download saves the PDF at u into file (written to a temporary file in the
// same directory, then renamed, so a failed download leaves no partial file).
func (a *app) download(ctx context.Context, u, file string) (int64, error) {
	const op = "GET pdf_url"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return 0, &wxinvoice.OpError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &wxinvoice.OpError{Op: op, Err: fmt.Errorf("HTTP %d (the link is valid for 2 hours)", resp.StatusCode)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.part")
	if err != nil {
		return 0, fmt.Errorf("download: cannot write %s: %w", file, errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	head := make([]byte, 5)
	k, _ := io.ReadFull(resp.Body, head)
	if !bytes.Equal(head[:k], []byte("%PDF-")) {
		tmp.Close()
		return 0, &wxinvoice.OpError{Op: op, Err: errors.New("the answer is not a PDF")}
	}
	n, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), resp.Body))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, &wxinvoice.OpError{Op: op, Err: err}
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	return n, nil
}

// decryptInput is the request of `decrypt`.
type decryptInput struct{ EncryptCode string }

// decryptResult is what `decrypt` prints.
type decryptResult struct {
	CardID string `json:",omitempty"` // when a link was given
	Code   string
}

func (a *app) decryptCmd() *cobra.Command {
	return endpointCmd(a, endpoint[decryptInput, *decryptResult]{
		use:   "decrypt [ENCRYPT_CODE|LINK]",
		short: "Turn a card link's encrypt_code into the invoice's code (解码code)",
		long: `Calls POST /card/code/decrypt. The argument is the encrypt_code, or the whole link a
user sent (…?encrypt_code=…&card_id=…): the encrypt_code and card_id are taken from it.
Percent-encoding is undone; a '+' is kept (it is part of the base64 code).`,
		example: `  wxinvoice decrypt 'https://example.com/invoice?encrypt_code=O%2FmPnGTpBu22a1szmK2Ogz...&card_id=pjZ8Yt...'`,
		args:    []string{"EncryptCode"},
		flags:   []flagField{{name: "encrypt-code", path: "EncryptCode", usage: "the encrypt_code (or give it, or the link, as the argument)"}},
		call: func(ctx context.Context, _ *app, c *wxinvoice.Client, req *decryptInput) (*decryptResult, error) {
			enc, cardID := parseEncryptCode(req.EncryptCode)
			code, err := c.DecryptCode(ctx, enc)
			if err != nil {
				return nil, err
			}
			return &decryptResult{CardID: cardID, Code: code}, nil
		},
	})
}

// parseEncryptCode extracts encrypt_code (and card_id) from a link or query,
// or unescapes a bare code. Query values are unescaped with PathUnescape so
// that a literal '+' of the base64 code is not turned into a space.
func parseEncryptCode(s string) (enc, cardID string) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "encrypt_code=") {
		if u, err := url.PathUnescape(s); err == nil {
			return u, ""
		}
		return s, ""
	}
	q := s
	if i := strings.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	}
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	for _, part := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		if uv, err := url.PathUnescape(v); err == nil {
			v = uv
		}
		switch k {
		case "encrypt_code":
			enc = v
		case "card_id":
			cardID = v
		}
	}
	return enc, cardID
}
