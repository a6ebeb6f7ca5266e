package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wxinvoice/wxinvoice"
)

// uploadOptions are the flags of `upload`.
type uploadOptions struct {
	concurrency int
	resume      string // results file of an earlier run: its files are not uploaded again
	results     string // where to append the CSV (default: the --resume file, else stdout)
}

func (a *app) uploadCmd() *cobra.Command {
	var o uploadOptions
	cmd := &cobra.Command{
		Use:   "upload DIR|FILE...",
		Short: "Upload invoice PDFs, many at a time, resumably (上传发票PDF)",
		Long: `Uploads PDFs with POST /card/invoice/platform/setpdf, --concurrency at a time, and writes
one CSV line "file,s_media_id" per uploaded file as soon as it is done (to --results or
--resume FILE, else stdout). Directories are walked recursively. Files that are not PDFs
(they do not start with %PDF-) are reported and skipped; nothing is sent for them.

--resume FILE skips every file FILE already lists with an s_media_id and appends the new
lines to FILE; a missing FILE is created, so the same command line can simply be run again
after an interruption or a failure. s_media_ids expire 3 days after upload unless an
inserted invoice uses them.

On a terminal a progress bar is shown on stderr; otherwise one line per file. The first
Ctrl-C lets the uploads in flight finish and stops; a second one kills at once. Exit code:
0 when every PDF is uploaded (skipped non-PDFs do not count as failures), 130 when
interrupted, otherwise that of the first failure (3 errcode, 4 transport, 5 unknown outcome).`,
		Example: `  wxinvoice upload --resume results.csv invoices/
  wxinvoice upload a.pdf b.pdf > results.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.upload(cmd.Context(), args, o)
		}),
	}
	fs := cmd.Flags()
	fs.IntVarP(&o.concurrency, "concurrency", "c", 4, "uploads in flight at once")
	fs.StringVar(&o.resume, "resume", "", "results CSV of an earlier run: skip the files it lists, append to it")
	fs.StringVarP(&o.results, "results", "r", "", "append the CSV results to this file (default: the --resume file, else stdout)")
	return cmd
}

// uploadSummary is what `upload -o json` prints, and what the table
// summary counts.
type uploadSummary struct {
	Uploaded    []uploadedFile
	AlreadyDone int // listed in the --resume file
	Skipped     []skippedFile
	Failed      []failedFile
	NotStarted  int // left when interrupted
	Interrupted bool
}

type uploadedFile struct{ File, SMediaID string }
type skippedFile struct{ File, Reason string }
type failedFile struct {
	File    string
	Error   string
	ErrCode int `json:",omitempty"`
}

// uploadCounts is the table view of an uploadSummary.
type uploadCounts struct {
	Files, AlreadyDone, Uploaded, Skipped, Failed, NotStarted int
}

// uploadRun is the state of one `upload`: every field behind mu.
type uploadRun struct {
	a     *app
	mu    sync.Mutex
	csv   *csv.Writer // nil with -o json and no results file
	bar   *progressbar.ProgressBar
	total int
	n     int // files finished
	sum   uploadSummary
	first error // the first failure
}

func (a *app) upload(ctx context.Context, args []string, o uploadOptions) error {
	if o.concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	files, explicit, err := collectFiles(args)
	if err != nil {
		return err
	}
	if err := refuseNamedNonPDFs(explicit); err != nil {
		return err
	}
	done := map[string]bool{}
	if o.resume != "" {
		if done, err = loadResults(o.resume); err != nil {
			return err
		}
		if fi, err := os.Stat(o.resume); err == nil && time.Since(fi.ModTime()) > 72*time.Hour {
			a.linef("warning: %s is older than 3 days: s_media_ids not used by an inserted invoice have expired", o.resume)
		}
	}
	var todo []string
	already := 0
	for _, f := range files {
		if done[resolvedKey(f)] {
			already++
			continue
		}
		todo = append(todo, f)
	}
	run := &uploadRun{a: a, total: len(todo), sum: uploadSummary{
		Uploaded: []uploadedFile{}, Skipped: []skippedFile{}, Failed: []failedFile{}, AlreadyDone: already,
	}}

	resultsPath := firstNonEmpty(o.results, o.resume)
	switch {
	case resultsPath != "":
		f, cut, err := openResults(resultsPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if cut != "" {
			a.linef("warning: dropped the last line of %s, cut short by an earlier run (%q): its file is not on record", resultsPath, cut)
		}
		run.csv = csv.NewWriter(f)
	case a.output != "json":
		run.csv = csv.NewWriter(a.stdout)
		run.csv.Write(resultsHeader)
		run.csv.Flush()
	}
	if already > 0 {
		a.linef("%d of %d files already uploaded (listed in %s), %d to go", already, len(files), o.resume, len(todo))
	}

	if len(todo) > 0 {
		c, err := a.getClient()
		if err != nil {
			return err
		}
		if isTerminal(a.rawStderr) {
			run.bar = progressbar.NewOptions(len(todo),
				progressbar.OptionSetWriter(a.stderr),
				progressbar.OptionSetDescription("uploading"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish())
		}
		run.uploadAll(ctx, c, todo, o.concurrency)
		if run.bar != nil {
			_ = run.bar.Finish()
		}
	}
	return run.finish(resultsPath, len(files))
}

// uploadAll feeds the files to the workers until ctx is cancelled; uploads
// already started are let finish (each bounded by --timeout).
func (r *uploadRun) uploadAll(ctx context.Context, c *wxinvoice.Client, files []string, workers int) {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < min(workers, len(files)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				if ctx.Err() != nil {
					continue // interrupted: start nothing new
				}
				r.one(ctx, c, f)
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case <-ctx.Done():
			break feed
		case jobs <- f:
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		r.mu.Lock()
		r.sum.Interrupted = true
		r.sum.NotStarted = len(files) - len(r.sum.Uploaded) - len(r.sum.Skipped) - len(r.sum.Failed)
		r.mu.Unlock()
	}
}

// one uploads a file and records the outcome.
func (r *uploadRun) one(ctx context.Context, c *wxinvoice.Client, file string) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.a.timeout)
	defer cancel()
	var resp *wxinvoice.UploadPDFResponse
	f, err := os.Open(file)
	if err == nil {
		resp, err = c.UploadPDF(callCtx, filepath.Base(file), f)
		f.Close()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	var ve *wxinvoice.ValidationError
	switch {
	case err == nil:
		r.sum.Uploaded = append(r.sum.Uploaded, uploadedFile{File: file, SMediaID: resp.SMediaID})
		if r.csv != nil {
			_ = r.csv.Write([]string{file, resp.SMediaID, resolvedPath(file)})
			r.csv.Flush() // one line at a time: an interrupted run can resume from it
			if err := r.csv.Error(); err != nil && r.first == nil {
				r.first = fmt.Errorf("write results: %w", err)
			}
		}
		r.progress(fmt.Sprintf("uploaded %s %s", file, resp.SMediaID), false)
	case errors.As(err, &ve):
		r.sum.Skipped = append(r.sum.Skipped, skippedFile{File: file, Reason: ve.Reason})
		r.progress(fmt.Sprintf("skipped %s: %s", file, ve.Reason), true)
	default:
		ff := failedFile{File: file, Error: err.Error()}
		var ae *wxinvoice.APIError
		if errors.As(err, &ae) {
			ff.ErrCode = ae.Code
			ff.Error = fmt.Sprintf("errcode %d (%s): %s", ae.Code, ae.Description(), ae.Msg)
		}
		r.sum.Failed = append(r.sum.Failed, ff)
		if r.first == nil {
			r.first = err
		}
		r.progress(fmt.Sprintf("FAILED %s: %s", file, ff.Error), true)
	}
}

// progress reports one finished file: a bar step on a terminal (notable
// lines printed above it), else a plain line. Called with r.mu held.
func (r *uploadRun) progress(line string, notable bool) {
	if r.bar == nil {
		r.a.linef("[%d/%d] %s", r.n, r.total, line)
		return
	}
	if notable {
		_ = r.bar.Clear()
		r.a.linef("%s", line)
	}
	_ = r.bar.Add(1)
}

// finish prints the summary and returns the command's error.
func (r *uploadRun) finish(resultsPath string, files int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	counts := uploadCounts{Files: files, AlreadyDone: s.AlreadyDone, Uploaded: len(s.Uploaded),
		Skipped: len(s.Skipped), Failed: len(s.Failed), NotStarted: s.NotStarted}
	var err error
	switch {
	case r.a.output == "json":
		err = writeJSON(r.a.stdout, &s)
	case resultsPath != "":
		err = writeTable(r.a.stdout, &counts)
	default: // stdout holds the CSV
		r.a.linef("%d files: %d uploaded, %d already done, %d skipped, %d failed, %d not started",
			files, counts.Uploaded, counts.AlreadyDone, counts.Skipped, counts.Failed, counts.NotStarted)
	}
	if err != nil {
		return err
	}
	again := "run again with --resume " + resultsPath
	if resultsPath == "" {
		again = "save the CSV to a file and run again with --resume FILE"
	}
	switch {
	case s.Interrupted:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted: %d files not started; %s", s.NotStarted, again)}
	case r.first != nil:
		code := exitCode(r.first)
		if code == exitOK || code == exitUsage {
			code = exitFailure
		}
		return &exitError{code, fmt.Errorf("%d of %d files failed to upload (first: %v); %s to retry only those", len(s.Failed), r.total, r.first, again)}
	}
	return nil
}

// refuseNamedNonPDFs checks, before anything is sent, that every file named
// on the command line starts with %PDF-: a user who names notes.txt made a
// mistake (exit 2, nothing sent), while the non-PDFs found in a directory
// are skipped during the run.
func refuseNamedNonPDFs(named map[string]bool) error {
	var refused []string
	for f := range named {
		head := make([]byte, 5)
		fh, err := os.Open(f)
		if err != nil {
			return usagef("%v", err)
		}
		n, _ := io.ReadFull(fh, head)
		fh.Close()
		if string(head[:n]) != "%PDF-" {
			refused = append(refused, f)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	sort.Strings(refused)
	return usagef("not a PDF (content does not start with %%PDF-): %s; nothing was sent", strings.Join(refused, ", "))
}

// linef prints one line to stderr.
func (a *app) linef(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

// collectFiles expands the arguments: files as given, directories walked
// recursively in lexical order. A path that does not exist is a usage error.
// explicit holds the files named as arguments (not found in a directory).
func collectFiles(args []string) (files []string, explicit map[string]bool, err error) {
	var out []string
	seen := map[string]bool{}
	explicit = map[string]bool{}
	add := func(p string) {
		if k := resolvedKey(p); !seen[k] {
			seen[k] = true
			out = append(out, filepath.Clean(p))
		}
	}
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, nil, usagef("%w", err)
		}
		if !fi.IsDir() {
			add(arg)
			explicit[filepath.Clean(arg)] = true
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if st, err := os.Stat(p); err != nil || st.IsDir() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			add(p)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("walk %s: %w", arg, err)
		}
	}
	return out, explicit, nil
}

// resultsHeader is the first line of a results CSV: the file as given on
// the command line, its s_media_id, and the file's resolved path (absolute,
// symbolic links followed), on which --resume matches files whatever the
// directory a run starts in. Files of earlier versions have no path column.
var resultsHeader = []string{"file", "s_media_id", "path"}

// resolvedPath returns p absolute with symbolic links followed, or as
// absolute as it can be made when p cannot be resolved.
func resolvedPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// resolvedKey is the key --resume matches a file on.
func resolvedKey(p string) string { return "path:" + resolvedPath(p) }

// loadResults reads a results CSV ("file,s_media_id,path" lines) and returns
// the resolved paths of the files it lists with an s_media_id. A line without
// a path (a file written by an earlier version) is resolved both from the
// current directory and from the results file's directory, where such a run
// most likely started. A missing file is an empty list. Text
// after the last newline is ignored: every line is written with its newline
// in one write, so such text is a line an earlier run was cut short in (a
// kill, a full disk), whose s_media_id or file name may be truncated.
func loadResults(path string) (map[string]bool, error) {
	done := map[string]bool{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, usagef("--resume: %w", err)
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, usagef("--resume %s: %w", path, err)
		}
		if len(rec) < 2 || rec[1] == "" || (line == 1 && rec[0] == "file") {
			continue
		}
		switch {
		case len(rec) >= 3 && rec[2] != "":
			done["path:"+rec[2]] = true
		case filepath.IsAbs(rec[0]):
			done[resolvedKey(rec[0])] = true
		default:
			done[resolvedKey(rec[0])] = true
			done[resolvedKey(filepath.Join(filepath.Dir(path), rec[0]))] = true
		}
	}
	return done, nil
}

// openResults opens path for appending CSV lines, writing the header to a
// new file. A last line an earlier run cut short (text after the last
// newline, which loadResults ignores) is removed and returned: kept, it would
// read as a complete line once more lines follow it, with a truncated
// s_media_id, or an unterminated quote that makes the file unreadable.
func openResults(path string) (f *os.File, cut string, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("results: %w", err)
	}
	fail := func(err error) (*os.File, string, error) {
		f.Close()
		return nil, "", fmt.Errorf("results: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	end, err := lastLineEnd(f, fi.Size())
	if err != nil {
		return fail(err)
	}
	if end < fi.Size() {
		tail := make([]byte, fi.Size()-end)
		if _, err := f.ReadAt(tail, end); err != nil {
			return fail(err)
		}
		if err := f.Truncate(end); err != nil {
			return fail(err)
		}
		cut = string(tail)
	}
	if end == 0 {
		if _, err := io.WriteString(f, strings.Join(resultsHeader, ",")+"\n"); err != nil {
			return fail(err)
		}
	}
	return f, cut, nil
}

// lastLineEnd returns the offset just after the last newline among the
// first size bytes of f (0 when there is none).
func lastLineEnd(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
