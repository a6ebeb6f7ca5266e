package fapiao

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"strings"
)

// MaxFileSize is the largest invoice file upload-fapiao-file accepts: 2 MB
// (2 MiB, 2097152 bytes).
const MaxFileSize = 2 << 20

// UploadFileRequest is the request of UploadFile. Its JSON form is the
// upload's meta part; File is the PDF or OFD itself.
type UploadFileRequest struct {
	SubMchID string `json:"sub_mchid,omitempty"` // partner mode: the sub-merchant
	FileType string `json:"file_type"`           // "PDF" or "OFD" (数电 partners: PDF only)
	// Digest, when set, is the SM3 of File in hex (any case) that the caller
	// expects; UploadFile refuses a File that does not match it. The digest
	// sent is always computed from File.
	Digest string `json:"digest,omitempty"`
	// DigestAlgorithm, when set, must be "SM3" (wire name digest_alogrithm,
	// misspelt by WeChat).
	DigestAlgorithm string `json:"digest_alogrithm,omitempty"`

	FileName string    `json:"-"` // file name in the multipart part; default fapiao.pdf / fapiao.ofd
	File     io.Reader `json:"-"` // at most MaxFileSize bytes; read once, fully, before anything is sent
}

// UploadFileResponse is the answer of UploadFile.
type UploadFileResponse struct {
	FapiaoMediaID string `json:"fapiao_media_id"` // valid 3 days; pass to InsertCards
}

// uploadMeta is the signed meta part, in the order of the official sample.
type uploadMeta struct {
	SubMchID        string `json:"sub_mchid,omitempty"`
	FileType        string `json:"file_type"`
	DigestAlgorithm string `json:"digest_alogrithm"`
	Digest          string `json:"digest"`
}

// UploadFile uploads a self-issued invoice file and returns its media ID for
// InsertCards. The file's SM3 digest (lower-case hex) goes into the meta
// part, whose exact bytes are signed; a file over MaxFileSize or whose
// content is not of FileType is refused before anything is sent. An upload
// whose outcome is unknown is not replayed (wxinvoice.ErrOutcomeUnknown).
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file (上传电子发票文件)
func (c *Client) UploadFile(ctx context.Context, req *UploadFileRequest) (*UploadFileResponse, error) {
	file, err := req.validate()
	if err != nil {
		return nil, err
	}
	meta, err := jsonBody(&uploadMeta{SubMchID: req.SubMchID, FileType: req.FileType, DigestAlgorithm: "SM3", Digest: SM3Hex(file)})
	if err != nil {
		return nil, err
	}
	name, ctype := req.FileName, "application/pdf"
	if req.FileType == "OFD" {
		ctype = "application/octet-stream"
	}
	if name == "" {
		name = "fapiao." + strings.ToLower(req.FileType)
	}
	var out UploadFileResponse
	err = c.doJSON(ctx, &call{
		method: http.MethodPost,
		op:     "POST " + apiPrefix + "/fapiao-applications/upload-fapiao-file",
		path:   apiPrefix + "/fapiao-applications/upload-fapiao-file",
		upload: newUploadBody(c.boundary(), meta, name, ctype, file),
		write:  true,
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (r *UploadFileRequest) validate() ([]byte, error) {
	if r == nil {
		return nil, newValidation("UploadFileRequest", "must not be nil")
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return nil, err
	}
	if r.FileType != "PDF" && r.FileType != "OFD" {
		return nil, newValidation("FileType", "must be PDF or OFD")
	}
	if r.DigestAlgorithm != "" && r.DigestAlgorithm != "SM3" {
		return nil, newValidation("DigestAlgorithm", "must be SM3 or empty")
	}
	if strings.ContainsAny(r.FileName, "\"\\\r\n/") || len(r.FileName) > 128 {
		return nil, newValidation("FileName", "must be at most 128 bytes without quotes, backslashes, slashes or line breaks")
	}
	if r.File == nil {
		return nil, newValidation("File", "must not be nil")
	}
	if n, ok := knownSize(r.File); ok && n > MaxFileSize {
		return nil, newValidation("File", "is %d bytes; at most %d (2 MB) are accepted", n, MaxFileSize)
	}
	file, err := io.ReadAll(io.LimitReader(r.File, MaxFileSize+1))
	if err != nil {
		return nil, newValidation("File", "read failed: %v", err)
	}
	if len(file) > MaxFileSize {
		return nil, newValidation("File", "is larger than %d bytes (2 MB)", MaxFileSize)
	}
	if len(file) == 0 {
		return nil, newValidation("File", "is empty")
	}
	switch r.FileType {
	case "PDF":
		if !bytes.HasPrefix(file, []byte("%PDF-")) {
			return nil, newValidation("File", "does not start with %%PDF-, so it is not a PDF")
		}
	case "OFD":
		if !bytes.HasPrefix(file, []byte("PK\x03\x04")) {
			return nil, newValidation("File", "is not a ZIP container, so it is not an OFD")
		}
	}
	if r.Digest != "" && !strings.EqualFold(r.Digest, SM3Hex(file)) {
		return nil, newValidation("Digest", "does not match the SM3 of File")
	}
	return file, nil
}

// knownSize returns the size of readers that know it without reading.
func knownSize(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len()), true
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	}
	return 0, false
}

// uploadBody is the multipart/form-data body of an upload: the meta part
// (exactly the signed bytes) then the file part, streamed from memory with
// an exact Content-Length.
type uploadBody struct {
	meta        []byte
	head, tail  []byte
	file        []byte
	contentType string
}

func newUploadBody(boundary string, meta []byte, filename, fileType string, file []byte) *uploadBody {
	var h bytes.Buffer
	h.WriteString("--" + boundary + "\r\n")
	h.WriteString("Content-Disposition: form-data; name=\"meta\";\r\n")
	h.WriteString("Content-Type: application/json\r\n\r\n")
	h.Write(meta)
	h.WriteString("\r\n--" + boundary + "\r\n")
	h.WriteString("Content-Disposition: form-data; name=\"file\"; filename=\"" + filename + "\"\r\n")
	h.WriteString("Content-Type: " + fileType + "\r\n\r\n")
	return &uploadBody{
		meta:        meta,
		head:        h.Bytes(),
		tail:        []byte("\r\n--" + boundary + "--\r\n"),
		file:        file,
		contentType: "multipart/form-data; boundary=" + boundary,
	}
}

func (u *uploadBody) size() int64 { return int64(len(u.head) + len(u.file) + len(u.tail)) }

func (u *uploadBody) reader() io.Reader {
	return io.MultiReader(bytes.NewReader(u.head), bytes.NewReader(u.file), bytes.NewReader(u.tail))
}

// randomBoundary returns a multipart boundary of 32 random hex digits.
func randomBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (it aborts the program instead)
	return "wxinvoice-" + hex.EncodeToString(b[:])
}
