package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

const (
	testAppID  = "wx1234567890abcdef"
	testSecret = "0123456789abcdef0123456789abcdef"
)

// newFake starts a fake WeChat server with fixed credentials.
func newFake(t *testing.T, opts ...wxinvoicetest.Option) *wxinvoicetest.Server {
	t.Helper()
	srv := wxinvoicetest.NewServer(append([]wxinvoicetest.Option{wxinvoicetest.WithApp(testAppID, testSecret)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// envOf returns an environment pointing the CLI at srv.
func envOf(srv *wxinvoicetest.Server) map[string]string {
	return map[string]string{envAppID: srv.AppID, envAppSecret: srv.AppSecret, envBaseURL: srv.URL}
}

type result struct {
	stdout, stderr string
	code           int
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cli runs the CLI in-process with env and stdin.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	return cliCtx(context.Background(), t, env, stdin, nil, args...)
}

// cliCtx is cli with a context and an optional hook on stderr writes.
func cliCtx(ctx context.Context, t *testing.T, env map[string]string, stdin string, onStderr func(string), args ...string) result {
	t.Helper()
	var stdout syncBuffer
	stderr := &hookWriter{hook: onStderr}
	code := run(ctx, args, strings.NewReader(stdin), &stdout, stderr, func(k string) string { return env[k] })
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

type hookWriter struct {
	syncBuffer
	hook func(string)
}

func (w *hookWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if w.hook != nil {
		w.hook(string(p))
	}
	return n, err
}

// requireOK fails with the CLI's stderr when it did not exit 0.
func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.code, "stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
}

// requireNoSecrets checks that neither the app secret nor any access token
// the fake saw appears in the output.
func requireNoSecrets(t *testing.T, srv *wxinvoicetest.Server, rs ...result) {
	t.Helper()
	secrets := []string{srv.AppSecret}
	for _, req := range srv.Requests() {
		if tok := req.Query.Get("access_token"); tok != "" {
			secrets = append(secrets, tok)
		}
	}
	for _, r := range rs {
		for _, s := range secrets {
			require.NotContains(t, r.stdout, s)
			require.NotContains(t, r.stderr, s)
		}
	}
}

var (
	reTime     = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reDuration = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b`)
	reRID      = regexp.MustCompile(`rid: [0-9a-f-]+`)
	reMediaKey = regexp.MustCompile(`media_key=[^\s&"]+`)
)

// scrub replaces the values that change from run to run (ids the fake
// generates, times, the server's port) by placeholders.
func scrub(s string, repl ...string) string {
	s = strings.NewReplacer(repl...).Replace(s)
	s = reTime.ReplaceAllString(s, "<TIME>")
	s = reDuration.ReplaceAllString(s, "<DURATION>")
	s = reRID.ReplaceAllString(s, "rid: <RID>")
	return reMediaKey.ReplaceAllString(s, "media_key=<KEY>")
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got, "%s differs; run go test -update if the change is intended", path)
}

// pdf returns a small PDF whose content is unique to tag.
func pdf(tag string) []byte {
	return []byte("%PDF-1.4\n% " + tag + "\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}
