//go:build unix

// Command uploadrss measures the extra peak memory of one PDF upload.
//
//	go run ./internal/bench/uploadrss -mb 20 -mode sdk
//
// It writes a PDF of the given size to a temporary file, starts an in-process
// server that discards what it receives, and uploads the file once:
//
//	-mode none      opens the file and makes one small call instead (the floor)
//	-mode sdk       Client.UploadPDF from the *os.File (streamed)
//	-mode sdkreader Client.UploadPDF from a non-seekable reader (copied once, to a temporary file when large)
//	-mode naive     a hand-written multipart body built in memory (common practice)
//
// It prints the peak RSS (getrusage maxrss) in KiB; internal/bench/rss.sh runs
// every mode under /usr/bin/time -v and reports extra peak RSS / file size.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"

	"github.com/wxinvoice/wxinvoice"
)

func main() {
	mb := flag.Int("mb", 20, "PDF size in MiB")
	mode := flag.String("mode", "sdk", "none | sdk | sdkreader | naive")
	flag.Parse()

	dir, err := os.MkdirTemp("", "uploadrss")
	check(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "big.pdf")
	writePDF(path, *mb<<20)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","s_media_id":"1","code":"1"}`)
	}))
	defer srv.Close()
	client, err := wxinvoice.New("wxbench", "", wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource("t")))
	check(err)

	f, err := os.Open(path)
	check(err)
	defer f.Close()
	ctx := context.Background()
	switch *mode {
	case "none":
		// The floor: the same HTTP machinery warmed up by a small call.
		_, err = client.DecryptCode(ctx, "warm-up")
	case "sdk":
		_, err = client.UploadPDF(ctx, "big.pdf", f)
	case "sdkreader":
		_, err = client.UploadPDF(ctx, "big.pdf", struct{ io.Reader }{f})
	case "naive":
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("pdf", "big.pdf")
		_, _ = io.Copy(fw, f)
		_ = mw.Close()
		var resp *http.Response
		resp, err = http.Post(srv.URL+"/card/invoice/platform/setpdf?access_token=t", mw.FormDataContentType(), &body)
		if err == nil {
			resp.Body.Close()
		}
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	check(err)
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	fmt.Printf("mode=%s size_mib=%d maxrss_kib=%d\n", *mode, *mb, ru.Maxrss)
}

func writePDF(path string, size int) {
	f, err := os.Create(path)
	check(err)
	defer f.Close()
	_, err = f.WriteString("%PDF-1.4\n")
	check(err)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for n := 9; n < size; n += len(chunk) {
		_, err = f.Write(chunk[:min(len(chunk), size-n)])
		check(err)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "uploadrss:", err)
		os.Exit(1)
	}
}
