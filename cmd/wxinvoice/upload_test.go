package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

const setpdf = "/card/invoice/platform/setpdf"

// invoiceDir writes n PDFs (half of them in a subdirectory) and one text
// file, and returns the directory and the PDFs' paths in walk order.
func invoiceDir(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "invoices")
	var pdfs []string
	for i := 0; i < n; i++ {
		sub := ""
		if i >= n/2 {
			sub = "more"
		}
		pdfs = append(pdfs, writeFile(t, filepath.Join(dir, sub, fmt.Sprintf("inv-%02d.pdf", i)), pdf(fmt.Sprint(i))))
	}
	writeFile(t, filepath.Join(dir, "README.txt"), []byte("not an invoice"))
	return dir, pdfs
}

// TestUploadResume: a results file listing half the files → only the other
// half are uploaded; a second run uploads nothing.
func TestUploadResume(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir, pdfs := invoiceDir(t, 6)
	results := filepath.Join(t.TempDir(), "results.csv")
	listed := "file,s_media_id\n"
	for _, p := range pdfs[:3] {
		listed += p + ",1000000000000001\n"
	}
	writeFile(t, results, []byte(listed))

	r := cli(t, env, "", "upload", "--resume", results, dir)
	requireOK(t, r)
	require.Equal(t, 3, srv.Calls(setpdf), "only the files not in the results file are uploaded")
	require.Contains(t, r.stderr, "3 of 7 files already uploaded")
	require.Contains(t, r.stderr, "skipped "+filepath.Join(dir, "README.txt")+": not a PDF")
	got := readResults(t, results)
	require.Len(t, got, 6)
	for _, p := range pdfs[3:] {
		data, ok := srv.PDF(got[p])
		require.True(t, ok, p)
		require.Equal(t, pdf(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "inv-0"), ".pdf")), data)
	}
	require.Contains(t, r.stdout, "AlreadyDone  3")
	require.Contains(t, r.stdout, "Uploaded     3")
	require.Contains(t, r.stdout, "Skipped      1")

	// Run again: everything is done; the relative spelling of the same files matches too.
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, dir)
	require.NoError(t, err)
	r = cli(t, env, "", "upload", "--resume", results, "-o", "json", rel)
	requireOK(t, r)
	require.Equal(t, 3, srv.Calls(setpdf))
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Equal(t, 6, sum.AlreadyDone)
	require.Empty(t, sum.Uploaded)
	require.Len(t, sum.Skipped, 1)
}

// TestUploadInterrupted: Ctrl-C in the middle of a batch lets the uploads in
// flight finish, writes them, and exits 130; running the same command again
// uploads the rest, and no file is ever uploaded twice.
func TestUploadInterrupted(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir, pdfs := invoiceDir(t, 12)
	results := filepath.Join(t.TempDir(), "results.csv")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var uploaded atomic.Int32
	r := cliCtx(ctx, t, env, "", func(s string) {
		if strings.Contains(s, "] uploaded ") && uploaded.Add(1) == 3 {
			cancel() // the operator presses Ctrl-C after the third upload
		}
	}, "upload", "--concurrency", "2", "--resume", results, dir)
	require.Equal(t, exitInterrupted, r.code, r.stderr)
	require.Contains(t, r.stderr, "interrupted:")
	require.Contains(t, r.stderr, "run again with --resume "+results)
	first := srv.Calls(setpdf)
	require.GreaterOrEqual(t, first, 3)
	require.Less(t, first, len(pdfs), "the batch stopped early")
	require.Len(t, readResults(t, results), first, "every finished upload is in the results file")

	r = cli(t, env, "", "upload", "--concurrency", "2", "--resume", results, dir)
	requireOK(t, r)
	require.Equal(t, len(pdfs), srv.Calls(setpdf), "the second run uploads only the rest")
	got := readResults(t, results) // fails on a file listed twice
	require.Len(t, got, len(pdfs))
	for _, p := range pdfs {
		_, ok := srv.PDF(got[p])
		require.True(t, ok, p)
	}
}

// TestUploadFailure: a failed upload exits with the API error's code, is not
// written to the results, and is the only one retried by --resume.
func TestUploadFailure(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir, pdfs := invoiceDir(t, 4)
	results := filepath.Join(t.TempDir(), "results.csv")
	srv.FailNext(setpdf, 1, wxinvoicetest.Fault{ErrCode: 45011})

	r := cli(t, env, "", "upload", "--concurrency", "1", "--resume", results, dir)
	require.Equal(t, exitAPI, r.code, r.stderr)
	require.Contains(t, r.stderr, "FAILED "+pdfs[0]+": errcode 45011")
	require.Contains(t, r.stderr, "1 of 5 files failed to upload")
	require.Contains(t, r.stdout, "Failed       1")
	got := readResults(t, results)
	require.Len(t, got, 3)
	require.NotContains(t, got, pdfs[0])
	requireNoSecrets(t, srv, r)

	r = cli(t, env, "", "upload", "--resume", results, dir)
	requireOK(t, r)
	require.Equal(t, 5, srv.Calls(setpdf), "4 attempts, then only the failed file")
	require.Len(t, readResults(t, results), 4)
}

// TestUploadCSVToStdout: without a results file the CSV goes to stdout, and
// that output is a valid --resume file.
func TestUploadCSVToStdout(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir, pdfs := invoiceDir(t, 2)
	r := cli(t, env, "", "upload", pdfs[0])
	requireOK(t, r)
	require.True(t, strings.HasPrefix(r.stdout, "file,s_media_id,path\n"+pdfs[0]+","), r.stdout)
	require.Contains(t, r.stderr, "1 files: 1 uploaded")

	// A results file cut in the middle of a line by a kill: the partial line
	// is not taken as done, and is replaced by the complete one.
	results := writeFile(t, filepath.Join(t.TempDir(), "r.csv"), []byte(strings.TrimSuffix(r.stdout, "\n")+"\n"+pdfs[1]))
	r = cli(t, env, "", "upload", "--resume", results, dir)
	requireOK(t, r)
	require.Equal(t, 2, srv.Calls(setpdf))
	got := readResults(t, results) // fails on a file listed twice
	require.Len(t, got, 2)
	_, ok := srv.PDF(got[pdfs[1]])
	require.True(t, ok)
}

// TestUploadResumeAfterCutLine: a crash (kill -9, power loss, a full disk)
// can cut the results file's last line anywhere, also inside the s_media_id
// or inside a quoted file name. The cut line is not an upload on record: its
// file is uploaded again, the cut line is dropped from the file (so that no
// later run takes it for a complete one), and the file stays readable.
func TestUploadResumeAfterCutLine(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir := t.TempDir()
	plain := writeFile(t, filepath.Join(dir, "inv-1.pdf"), pdf("1"))
	comma := writeFile(t, filepath.Join(dir, "inv,2.pdf"), pdf("2")) // written quoted in the CSV
	r := cli(t, env, "", "upload", "--concurrency", "1", plain, comma)
	requireOK(t, r)
	require.Equal(t, 2, srv.Calls(setpdf))
	lines := strings.SplitAfter(r.stdout, "\n") // header, plain, comma, ""
	require.Len(t, lines, 4, r.stdout)
	require.True(t, strings.HasPrefix(lines[2], `"`), lines[2])
	calls := 2
	for _, tc := range []struct {
		name string
		file string // the results file as the crash left it
		redo string // the file that must be uploaded again
	}{
		{"inside the s_media_id", lines[0] + lines[2] + lines[1][:len(lines[1])-5], plain},
		{"just before the newline", lines[0] + lines[2] + strings.TrimSuffix(lines[1], "\n"), plain},
		{"inside a quoted name", lines[0] + lines[1] + lines[2][:len(comma)/2], comma},
		{"inside the quoted name's id", lines[0] + lines[1] + lines[2][:len(lines[2])-3], comma},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := writeFile(t, filepath.Join(t.TempDir(), "r.csv"), []byte(tc.file))
			r := cli(t, env, "", "upload", "--resume", results, plain, comma)
			requireOK(t, r)
			calls++
			require.Equal(t, calls, srv.Calls(setpdf), "only the file of the cut line is uploaded again")
			require.Contains(t, r.stderr, "1 of 2 files already uploaded")
			got := readResults(t, results) // fails on a file listed twice
			require.Len(t, got, 2)
			for _, f := range []string{plain, comma} {
				_, ok := srv.PDF(got[f])
				require.True(t, ok, "%s: %q", f, got[f])
			}
			r = cli(t, env, "", "upload", "--resume", results, plain, comma)
			requireOK(t, r)
			require.Equal(t, calls, srv.Calls(setpdf), "nothing left to upload")
		})
	}
}

func TestUploadUsage(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	r := cli(t, env, "", "upload", "no/such/dir")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no such file")
	r = cli(t, env, "", "upload")
	require.Equal(t, exitUsage, r.code)
	r = cli(t, env, "", "upload", "--concurrency", "0", ".")
	require.Equal(t, exitUsage, r.code)
	require.Zero(t, srv.Calls(setpdf))
}

// TestUploadResumeFromAnotherDirectory: a run started in the invoice
// directory with relative paths, then the same upload from elsewhere with
// absolute paths (a cron job), uploads nothing twice; a results file of the
// earlier two-column format still matches files given relative to it.
func TestUploadResumeFromAnotherDirectory(t *testing.T) {
	srv := newFake(t)
	env := envOf(srv)
	dir, _ := invoiceDir(t, 4)
	t.Chdir(dir)
	r := cli(t, env, "", "upload", "--resume", "results.csv", ".")
	requireOK(t, r)
	require.Equal(t, 4, srv.Calls(setpdf))

	t.Chdir(t.TempDir())
	r = cli(t, env, "", "upload", "--resume", filepath.Join(dir, "results.csv"), "-o", "json", dir)
	requireOK(t, r)
	require.Equal(t, 4, srv.Calls(setpdf), "nothing is uploaded twice")
	var sum uploadSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Equal(t, 4, sum.AlreadyDone)

	// The two-column format of earlier versions, paths relative to the results file.
	old := "file,s_media_id\n"
	for _, rec := range readResultsRecords(t, filepath.Join(dir, "results.csv")) {
		old += rec[0] + "," + rec[1] + "\n"
	}
	legacy := filepath.Join(dir, "legacy.csv")
	writeFile(t, legacy, []byte(old))
	r = cli(t, env, "", "upload", "--resume", legacy, "-o", "json", dir)
	requireOK(t, r)
	require.Equal(t, 4, srv.Calls(setpdf), "a two-column results file still matches")
}

func readResultsRecords(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	return recs[1:]
}

// TestUploadNamedNonPDF: a file named on the command line that is not a PDF
// fails the run with exit 2 before anything is sent, as exit 2 promises,
// while the non-PDFs found in a directory are skipped quietly (exit 0).
func TestUploadNamedNonPDF(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	dir := t.TempDir()
	notes := writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not a pdf"))
	good := writeFile(t, filepath.Join(dir, "inv-1.pdf"), pdf("1"))
	r := cli(t, env, "", "upload", notes, good)
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, notes)
	require.Zero(t, srv.Calls(setpdf), "exit 2: nothing was sent, not even the PDF named beside it")

	r = cli(t, env, "", "upload", dir)
	requireOK(t, r)
}

// TestGetPDFDownloadMissingDirectory: --download into a directory that does
// not exist is refused before anything is sent, naming the file.
func TestGetPDFDownloadMissingDirectory(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	env := envOf(srv)
	target := filepath.Join(t.TempDir(), "no", "such", "invoice.pdf")
	r := cli(t, env, "", "getpdf", "--s-media-id", "123", "--download", target)
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, target)
	require.NotContains(t, r.stderr, ".part")
	require.Zero(t, srv.Calls("/card/invoice/platform/getpdf"))
}
