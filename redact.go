package wxinvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// redactor blanks secrets in text before it reaches an error string or a log
// line. It works two ways, always both:
//
//   - by key: the value after a sensitive parameter name (access_token,
//     secret, refresh_token, ticket, auth_code, authorization_code, and
//     longer names ending with them such as component_appsecret), whatever
//     the case (ACCESS_TOKEN, accessToken), quoting (`"key":"v"`,
//     `\"key\":\"v\"`, &quot;) and separator (=, :, %3D, &#61;, \u003d);
//   - by value: every secret the SDK holds or has seen (the app secret, the
//     access tokens it used or was handed, the component secret, tickets,
//     refresh tokens, the wx_card api_ticket), raw and URL-query-escaped,
//     URL-path-escaped, escaped twice, HTML-escaped (named and numeric
//     entities) and JSON-escaped, matched without regard to ASCII case.
//
// Values shorter than minRedactLen are matched by key only: blanking every
// occurrence of a two-letter test token would garble messages, and WeChat's
// credentials are far longer. Pinned values (secrets given to New or
// NewComponent) are kept for the redactor's life; the others are the most
// recent maxRedactValues, re-registered each time they are used.
//
// A nil *redactor redacts by key only. A redactor is safe for concurrent use.
type redactor struct {
	mu     sync.RWMutex
	vals   map[string][]string // value → its lower-cased encodings
	order  []string            // unpinned values, oldest first
	pinned map[string]bool
	last   atomic.Pointer[string] // the value registered last: the common case of add is one compare
}

const (
	minRedactLen    = 8
	maxRedactValues = 1024
)

func newRedactor() *redactor {
	return &redactor{vals: map[string][]string{}, pinned: map[string]bool{}}
}

// pin registers secret values kept for the redactor's life.
func (r *redactor) pin(vs ...string) {
	for _, v := range vs {
		r.register(v, true)
	}
}

// add registers secret values seen at run time (tokens, tickets).
func (r *redactor) add(vs ...string) {
	for _, v := range vs {
		r.register(v, false)
	}
}

func (r *redactor) register(v string, pin bool) {
	if r == nil || len(v) < minRedactLen {
		return
	}
	if l := r.last.Load(); l != nil && *l == v && !pin {
		return
	}
	r.mu.RLock()
	_, known := r.vals[v]
	pinned := r.pinned[v]
	r.mu.RUnlock()
	if known && (pinned || !pin) {
		r.setLast(v)
		return
	}
	enc := encodings(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.vals[v]; !ok {
		r.vals[v] = enc
		if !pin {
			r.order = append(r.order, v)
		}
	}
	if pin {
		r.pinned[v] = true
	}
	for len(r.order) > maxRedactValues {
		old := r.order[0]
		r.order = r.order[1:]
		if !r.pinned[old] {
			delete(r.vals, old)
		}
	}
	r.setLast(v)
}

// setLast records v as the value registered last. Its own function, so
// that only this path (not every add) moves a copy of v to the heap.
func (r *redactor) setLast(v string) { r.last.Store(&v) }

// encodings returns v as it may be echoed back: raw, URL-escaped (query,
// path, twice), HTML-escaped and JSON-escaped, lower-cased, without repeats.
func encodings(v string) []string {
	qe := url.QueryEscape(v)
	js, jsPlain := jsonEscape(v, true), jsonEscape(v, false)
	cands := []string{v, qe, url.PathEscape(v), url.QueryEscape(qe), html.EscapeString(v),
		htmlNumeric(v, false), htmlNumeric(v, true), js, jsPlain,
		strings.ReplaceAll(js, "/", `\/`), strings.ReplaceAll(jsPlain, "/", `\/`)}
	out := make([]string, 0, len(cands))
	for _, c := range cands {
		c = lowerASCII(c)
		if c != "" && !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// htmlNumeric writes every byte of v that is not a letter or digit as an
// HTML numeric character reference (&#61; or &#x3d;).
func htmlNumeric(v string, hex bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isAlnum(c) {
			b.WriteByte(c)
			continue
		}
		if hex {
			b.WriteString("&#x" + strconv.FormatInt(int64(c), 16) + ";")
		} else {
			b.WriteString("&#" + strconv.Itoa(int(c)) + ";")
		}
	}
	return b.String()
}

// jsonEscape returns v as the inside of a JSON string, with <, > and &
// escaped as \u003c... (Go's default) or not.
func jsonEscape(v string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	s := strings.TrimSpace(b.String())
	return s[1 : len(s)-1]
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lowerASCII lower-cases ASCII letters only, so that byte offsets in the
// result are offsets in s.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

const redacted = "REDACTED"

// redact returns s with every secret blanked: registered values in all their
// encodings, then the values of sensitive keys.
func (r *redactor) redact(s string) string {
	if r != nil && len(s) >= minRedactLen {
		s = r.redactValues(s)
	}
	return redactKeys(s)
}

func (r *redactor) redactValues(s string) string {
	lower := lowerASCII(s)
	var spans [][2]int
	r.mu.RLock()
	for _, enc := range r.vals {
		for _, e := range enc {
			for from := 0; ; {
				i := strings.Index(lower[from:], e)
				if i < 0 {
					break
				}
				spans = append(spans, [2]int{from + i, from + i + len(e)})
				from += i + len(e)
			}
		}
	}
	r.mu.RUnlock()
	return blank(s, spans)
}

// blank replaces each maximal run of bytes covered by spans with REDACTED.
// An empty span (a key with an empty value) inserts REDACTED.
func blank(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	covered := make([]bool, len(s)+1)
	empty := make([]bool, len(s)+1)
	for _, sp := range spans {
		if sp[0] == sp[1] {
			empty[sp[0]] = true
		}
		for i := sp[0]; i < sp[1]; i++ {
			covered[i] = true
		}
	}
	var b strings.Builder
	for i := 0; i <= len(s); {
		if empty[i] && (i == 0 || !covered[i-1]) && !covered[i] {
			b.WriteString(redacted)
		}
		if i == len(s) {
			break
		}
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(redacted)
		for i < len(s) && covered[i] {
			i++
		}
	}
	return b.String()
}

// redact blanks the values of sensitive keys in s (see redactor).
func redact(s string) string { return redactKeys(s) }

// sensitiveKeys are the parameter names whose values are blanked, lower-case,
// with and without underscores (access_token, accessToken); a name also
// matches as the end of a longer one (authorizer_access_token,
// component_appsecret).
var sensitiveKeys = [...]string{"access_token", "accesstoken", "secret", "refresh_token", "refreshtoken",
	"ticket", "auth_code", "authcode", "authorization_code", "authorizationcode"}

// Quotes that may close a key or open a value, and the separators between
// them, in the encodings an echo may use (raw, JSON-escaped, HTML, URL).
var (
	keyQuotes  = [...]string{`\"`, `"`, "&quot;", "&#34;", "&#x22;", "%22", "'", "&#39;", "&#x27;"}
	separators = [...]string{"=", ":", "%3d", "%3a", "%253d", "%253a", "&#61;", "&#x3d;", "&#58;", "&#x3a;", `\u003d`, `\u003a`}
)

func redactKeys(s string) string {
	lower := lowerASCII(s)
	if !strings.ContainsAny(lower, "=:%&\\") {
		return s
	}
	var spans [][2]int
	for _, k := range sensitiveKeys {
		for from := 0; from < len(lower); {
			i := strings.Index(lower[from:], k)
			if i < 0 {
				break
			}
			from += i + len(k)
			start, ok := valueStart(lower, from)
			if !ok {
				continue
			}
			end := valueEnd(lower, start)
			spans = append(spans, [2]int{start, end})
			from = end
		}
	}
	return blank(s, spans)
}

// valueStart returns where the value after a key ending at i starts: after an
// optional closing quote, a separator and an optional opening quote, with
// spaces allowed around the separator.
func valueStart(s string, i int) (int, bool) {
	i = skipPrefix(s, i, keyQuotes[:])
	i = skipSpaces(s, i)
	j := skipPrefix(s, i, separators[:])
	if j == i {
		return 0, false
	}
	j = skipSpaces(s, j)
	return skipPrefix(s, j, keyQuotes[:]), true
}

func skipPrefix(s string, i int, prefixes []string) int {
	for _, p := range prefixes {
		if strings.HasPrefix(s[i:], p) {
			return i + len(p)
		}
	}
	return i
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// valueEnd returns where a value starting at i ends: at a delimiter, raw or
// URL-escaped (%26 is &, %2526 is & escaped twice).
func valueEnd(s string, i int) int {
	for ; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("&\"' \t\n\r<>,;})]\\", c) >= 0 {
			return i
		}
		if c == '%' {
			rest := s[i+1:]
			rest = strings.TrimPrefix(rest, "25")
			if len(rest) >= 2 && isEscapedDelim(rest[:2]) {
				return i
			}
		}
	}
	return i
}

func isEscapedDelim(h string) bool {
	switch h {
	case "26", "22", "27", "20", "2c", "3b", "7d", "5d", "29", "3c", "3e", "5c", "0a", "0d", "09":
		return true
	}
	return false
}

// redactedError is an error whose text had secrets in it: Error returns the
// redacted text, Unwrap the original (so that errors.Is and errors.As see the
// chain: context.Canceled, *json.SyntaxError, ...).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// error returns err with a redacted text: err itself when its text holds no
// secret, a *url.Error rebuilt with its URL redacted, else a redactedError.
func (r *redactor) error(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: r.redact(ue.URL), Err: r.error(ue.Err)}
	}
	s := err.Error()
	if red := r.redact(s); red != s {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// logger returns l with every message and attribute redacted.
func (r *redactor) logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(discardHandler{})
	}
	return slog.New(&redactHandler{h: l.Handler(), r: r})
}

// redactHandler redacts every record before passing it on.
type redactHandler struct {
	h slog.Handler
	r *redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &redactHandler{h: h.h.WithAttrs(red), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: h.h.WithGroup(name), r: h.r}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.r.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, x := range g {
			red[i] = h.attr(x)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			a.Value = slog.AnyValue(h.r.error(err))
			break
		}
		s := fmt.Sprintf("%+v", v.Any())
		if red := h.r.redact(s); red != s {
			a.Value = slog.StringValue(red)
		} else {
			a.Value = v
		}
	default:
		a.Value = v
	}
	return a
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }
