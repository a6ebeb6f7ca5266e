package wxinvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Secrets with characters that every encoding changes ('/', '+', '=', '@',
// '&', '<'), so that an echo in one encoding does not match another.
const (
	leakSecret = "app/Secret+Value=@1&<x>"
	leakToken  = "AT/token+Value=@2&<y>-long"
)

// leakForms returns v as an echo may carry it: raw, URL-query-escaped,
// path-escaped, escaped twice, HTML-escaped (named, decimal and hex
// entities), JSON-escaped (with and without HTML escaping, with \/).
// Computed here independently of the SDK's own list.
func leakForms(v string) map[string]string {
	jsonHTML, _ := json.Marshal(v)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	jsonPlain := strings.TrimSpace(plain.String())
	dec, hex := "", ""
	for _, c := range []byte(v) {
		if isAlnum(c) {
			dec += string(c)
			hex += string(c)
			continue
		}
		dec += "&#" + strconv.Itoa(int(c)) + ";"
		hex += "&#x" + strconv.FormatInt(int64(c), 16) + ";"
	}
	return map[string]string{
		"raw":           v,
		"query-escaped": url.QueryEscape(v),
		"path-escaped":  url.PathEscape(v),
		"escaped twice": url.QueryEscape(url.QueryEscape(v)),
		"lower-case %":  strings.ToLower(url.QueryEscape(v)),
		"html":          html.EscapeString(v),
		"html decimal":  dec,
		"html hex":      strings.ToUpper(hex),
		"json":          string(jsonHTML[1 : len(jsonHTML)-1]),
		"json plain":    jsonPlain[1 : len(jsonPlain)-1],
		"json \\/":      strings.ReplaceAll(jsonPlain[1:len(jsonPlain)-1], "/", `\/`),
	}
}

// requireNoLeak asserts that s holds none of the values in any form.
func requireNoLeak(t *testing.T, what, s string, values ...string) {
	t.Helper()
	for _, v := range values {
		for form, enc := range leakForms(v) {
			require.NotContains(t, s, enc, "%s leaks %q (%s)", what, v, form)
			// A secret cut by a snippet's end must not show its start either.
			require.NotContains(t, s, enc[:10], "%s leaks the start of %q (%s)", what, v, form)
		}
	}
}

// keyEchoes are echoes of an unregistered value behind a sensitive key, in
// the spellings key redaction must catch.
var keyEchoes = map[string]string{
	"ACCESS_TOKEN=":      "ACCESS_TOKEN=unknownTok123",
	"accessToken=":       "accessToken=unknownTok123",
	"access_token%3D":    "url=https%3A%2F%2Fx%2Fy%3Faccess_token%3DunknownTok123%26a%3Db",
	"access_token&#61;":  "href=\"/y?access_token&#61;unknownTok123&amp;a=b\"",
	`\"access_token\":`:  `{\"access_token\":\"unknownTok123\",\"x\":1}`,
	"&quot;secret&quot;": "&quot;secret&quot;:&quot;unknownTok123&quot;",
	"refreshToken:":      "refreshToken: unknownTok123",
	`"ticket": "`:        `{"ticket": "unknownTok123"}`,
}

// echoPlaces make the fake server put echo into one place an error or log
// line is built from. Each returns the handler for the business path and
// for stable_token.
type echoPlace struct {
	name     string
	business func(w http.ResponseWriter, echo string)
	token    func(w http.ResponseWriter, echo string) // nil: the token endpoint works
	warn     bool                                     // the echo shows in the background refresh's WARN line
}

var echoPlaces = []echoPlace{
	{name: "errmsg", business: func(w http.ResponseWriter, echo string) {
		writeJSON(w, map[string]any{"errcode": 72031, "errmsg": "invalid params " + echo})
	}},
	{name: "token endpoint errmsg", token: func(w http.ResponseWriter, echo string) {
		writeJSON(w, map[string]any{"errcode": 40013, "errmsg": "invalid appid " + echo})
	}},
	{name: "token endpoint errmsg, background refresh WARN", warn: true, token: func(w http.ResponseWriter, echo string) {
		writeJSON(w, map[string]any{"errcode": 40013, "errmsg": "invalid appid " + echo})
	}},
	{name: "502 HTML page", business: func(w http.ResponseWriter, echo string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><h1>502</h1><p>"+echo+"</p></body></html>")
	}},
	{name: "502 HTML page, secret cut by the snippet", business: func(w http.ResponseWriter, echo string) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, strings.Repeat("x", statusSnippet-10)+echo)
	}},
	{name: "undecodable 200 body", business: func(w http.ResponseWriter, echo string) {
		_, _ = io.WriteString(w, "<html>"+echo+"</html>")
	}},
	{name: "undecodable 200 body, secret cut by the snippet", business: func(w http.ResponseWriter, echo string) {
		_, _ = io.WriteString(w, "{"+strings.Repeat(" ", decodeSnippet-10)+echo)
	}},
	{name: "wire.Int decode error", business: func(w http.ResponseWriter, echo string) {
		// The echo as is inside the JSON string (the forms hold no bare
		// quote), so that the body carries exactly that form.
		_, _ = io.WriteString(w, `{"errcode":"`+echo+`","errmsg":"x"}`)
	}},
	{name: "redirect Location", business: func(w http.ResponseWriter, echo string) {
		w.Header().Set("Location", "https://evil.example/?x="+strings.NewReplacer("\r", "", "\n", "").Replace(echo))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}},
	{name: "token endpoint redirect Location", token: func(w http.ResponseWriter, echo string) {
		w.Header().Set("Location", "https://evil.example/"+echo)
		w.WriteHeader(http.StatusPermanentRedirect)
	}},
}

// Issue 12.3: the fake server echoes the app secret and the access token in
// every encoding, in every place an error or a log line is built from; no
// error string and no log line (JSON and text handlers) holds any of them in
// any encoding.
func TestSecretsNeverLeakInAnyEncodingOrPlace(t *testing.T) {
	t.Parallel()
	type echoCase struct{ name, echo string }
	var echoes []echoCase
	for _, v := range []string{leakSecret, leakToken} {
		for form, enc := range leakForms(v) {
			echoes = append(echoes, echoCase{form + " " + v, enc})
		}
	}
	echoes = append(echoes,
		echoCase{"ACCESS_TOKEN=", "ACCESS_TOKEN=" + leakToken},
		echoCase{"accessToken=", "accessToken=" + url.QueryEscape(leakToken)},
		echoCase{"access_token%3D", "access_token%3D" + url.QueryEscape(url.QueryEscape(leakToken))},
		echoCase{"access_token&#61;", "access_token&#61;" + html.EscapeString(leakToken)},
		echoCase{`\"access_token\":\"`, `{\"access_token\":\"` + leakForms(leakToken)["json"] + `\"}`},
		echoCase{"secret in JSON", `{"appid":"wx","secret":"` + leakForms(leakSecret)["json"] + `"}`},
	)
	for _, place := range echoPlaces {
		for _, ec := range echoes {
			t.Run(place.name+"/"+ec.name, func(t *testing.T) {
				t.Parallel()
				var logs syncBuffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				textLogger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				// The SDK knows the token only once a fetch succeeded: a
				// token endpoint that fails from the start can only echo
				// the secret (or a value behind a sensitive key).
				known := []string{leakSecret, leakToken}
				if place.token != nil && !place.warn {
					known = known[:1]
				}
				var fetches atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					if r.URL.Path == "/cgi-bin/stable_token" {
						if place.token == nil || (place.warn && fetches.Add(1) == 1) {
							// A 2 h token; the test moves the cache's clock close to its expiry, so
							// that the next call refreshes it in the background.
							writeJSON(w, map[string]any{"access_token": leakToken, "expires_in": 7200})
							return
						}
						place.token(w, ec.echo)
						return
					}
					place.business(w, ec.echo)
				}))
				defer srv.Close()
				for i, l := range []*slog.Logger{logger, textLogger} {
					c, err := New(testAppID, leakSecret, WithBaseURL(srv.URL), WithLogger(l),
						WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
					require.NoError(t, err)
					var callErr error
					switch {
					case place.warn:
						fetches.Store(0)
						_, err := c.AccessToken(bg)
						require.NoError(t, err)
						c.tokens.now = func() time.Time { return time.Now().Add(7200*time.Second - 200*time.Second) }
						_, _ = c.AccessToken(bg) // starts the background refresh, which fails
						require.Eventually(t, func() bool {
							return strings.Count(logs.String(), "early token refresh failed") > i
						}, 20*time.Second, 5*time.Millisecond)
					case place.business == nil:
						_, callErr = c.AccessToken(bg)
					default:
						_, callErr = c.DecryptCode(bg, "e")
					}
					if !place.warn {
						require.Error(t, callErr)
						requireNoLeak(t, "error", callErr.Error(), known...)
						requireNoLeak(t, "error %+v", fmt.Sprintf("%+v", callErr), known...)
						l.Warn("call failed", "err", callErr, "msg", callErr.Error())
					}
				}
				require.NotEmpty(t, logs.String())
				requireNoLeak(t, "log", logs.String(), known...)
			})
		}
	}
}

// Key redaction alone (a value the SDK never saw): every spelling of a
// sensitive key has its value blanked.
func TestRedactKeyVariants(t *testing.T) {
	t.Parallel()
	for name, in := range keyEchoes {
		out := redact(in)
		require.NotContains(t, out, "unknownTok123", name)
		require.Contains(t, out, "REDACTED", name)
	}
	// Texts that only mention a key keep it.
	for _, s := range []string{"invalid credential, access_token is invalid or not latest", "secret_hint:1", "ticket."} {
		require.Equal(t, s, redact(s))
	}
}

func TestRedactorBoundsAndShortValues(t *testing.T) {
	t.Parallel()
	r := newRedactor()
	r.pin("pinned-secret-1")
	r.add("short") // below minRedactLen: key redaction only
	for i := 0; i < maxRedactValues+10; i++ {
		r.add(fmt.Sprintf("token-number-%06d", i))
	}
	require.Equal(t, "a short word", r.redact("a short word"))
	require.Equal(t, "x REDACTED y", r.redact("x pinned-secret-1 y"), "pinned values are never evicted")
	require.Equal(t, "REDACTED", r.redact(fmt.Sprintf("token-number-%06d", maxRedactValues+9)))
	require.Equal(t, "token-number-000000", r.redact("token-number-000000"), "the oldest unpinned values are evicted")
	require.LessOrEqual(t, len(r.order), maxRedactValues)
	// Re-registering an evicted value brings it back.
	r.add("token-number-000000")
	require.Equal(t, "REDACTED", r.redact("token-number-000000"))
}

// The component side: the bare secret, ticket and refresh token echoed in
// errmsg are blanked in errors and logs.
func TestComponentSecretsBlankedByValue(t *testing.T) {
	t.Parallel()
	const refresh = "refreshtoken@@@Value/+=1"
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ct := newCompTest(t, WithLogger(logger))
	echo := func(v string) string {
		f := leakForms(v)
		return v + " " + f["query-escaped"] + " " + f["html decimal"] + " " + f["json"]
	}
	ct.tokenAnswer = func(int64) string {
		b, _ := json.Marshal(map[string]any{"errcode": 61004, "errmsg": "bad " + echo(compSecret) + " " + echo(compTicket)})
		return string(b)
	}
	_, err := ct.cp.AccessToken(bg)
	require.ErrorIs(t, err, ErrComponentIPNotWhitelisted)
	logger.Warn("failed", "err", err)
	requireNoLeak(t, "component token error", err.Error(), compSecret, compTicket)

	ct.tokenAnswer = func(int64) string { return compFixture(t, "api_component_token.response.json") }
	ct.mux.HandleFunc("/cgi-bin/component/api_authorizer_token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": 61004, "errmsg": "bad " + echo(refresh) + " " + echo(compToken)})
	})
	require.NoError(t, ct.cp.SetRefreshToken(bg, authAppID, refresh))
	c, err := ct.cp.Client(authAppID)
	require.NoError(t, err)
	_, err = c.DecryptCode(bg, "e")
	require.ErrorIs(t, err, ErrComponentIPNotWhitelisted)
	logger.Warn("failed", "err", err)
	requireNoLeak(t, "authorizer token error", err.Error(), refresh, compToken, compSecret)
	requireNoLeak(t, "component logs", logs.String(), refresh, compToken, compSecret, compTicket)
}

// Issue 12.3: formatting a Client, Component, EventHandler or one of the
// configs with any verb, or logging it, shows no credential (PushConfig:
// format_push_test.go).
func TestFormattedStructsHideSecrets(t *testing.T) {
	t.Parallel()
	const pushToken, aesKey, prevKey = "push-token-value", vecKey, "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	c, err := New(testAppID, leakSecret)
	require.NoError(t, err)
	cp, err := NewComponent(compAppID, "component-secret-value")
	require.NoError(t, err)
	evCfg := EventConfig{Token: pushToken, EncodingAESKey: aesKey, PreviousEncodingAESKey: prevKey, AppID: vecAppID,
		OnEvent: func(ctx context.Context, ev *Event) error { return nil }}
	h, err := NewEventHandler(evCfg)
	require.NoError(t, err)
	compCfg := ComponentEventConfig{Token: pushToken, EncodingAESKey: aesKey, PreviousEncodingAESKey: prevKey}
	secrets := []string{leakSecret, "component-secret-value", pushToken, aesKey, prevKey}
	for name, v := range map[string]any{"*Client": c, "*Component": cp, "*EventHandler": h,
		"EventConfig": evCfg, "*EventConfig": &evCfg, "ComponentEventConfig": compCfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				require.NotContains(t, out, s, "%s %s: %s", name, verb, out)
				require.NotContains(t, out, fmt.Sprintf("%x", s), "%s %s", name, verb)
			}
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "v", v)
		for _, s := range secrets {
			require.NotContains(t, logs.String(), s, name)
		}
	}
	require.Contains(t, fmt.Sprintf("%+v", c), testAppID)
	require.Contains(t, fmt.Sprintf("%+v", cp), compAppID)
	require.Contains(t, fmt.Sprintf("%+v", evCfg), "AppID:"+vecAppID)
	require.Contains(t, fmt.Sprintf("%+v", evCfg), "Token:REDACTED")
	require.Contains(t, fmt.Sprintf("%#v", compCfg), `wxinvoice.ComponentEventConfig{Token:"REDACTED"`)
	require.Contains(t, fmt.Sprintf("%v", ComponentEventConfig{}), "{ ", "unset credentials print empty")
}

// FuzzRedact: whatever surrounds them, registered values never survive in
// any of their encodings, and redaction never panics.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "access_token=", "x " + leakSecret + " y", "&#61;\\\"secret\\\":\\\"", "%3d%253D%",
		leakForms(leakToken)["html hex"], "TICKET&#x3A;&quot;v", "a\xffb" + url.QueryEscape(leakSecret)} {
		f.Add(s, s)
	}
	r := newRedactor()
	r.pin(leakSecret)
	r.add(leakToken)
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, v := range []string{leakSecret, leakToken} {
			for form, enc := range leakForms(v) {
				out := r.redact(a + enc + b)
				if strings.Contains(out, enc) {
					t.Fatalf("%s form of %q survives in %q", form, v, out)
				}
			}
		}
		_ = redact(a + b)
	})
}
