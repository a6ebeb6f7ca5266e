package wxinvoice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// Token is an access token and the instant it stops being valid.
// A zero ExpiresAt means the token does not expire (as far as the SDK knows).
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// TokenSource supplies access tokens.
//
// Token must be safe for concurrent use by multiple goroutines. The Client
// caches what it returns until shortly before ExpiresAt, so a source may fetch
// on every call. The Client keeps a token at least 10 s and at most 24 h,
// whatever its ExpiresAt says, and shortens its refresh margins for tokens
// that live less than 20 minutes. A call that panics or outlives the Client's
// 30 s fetch timeout is reported to the waiting callers as an error.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// TokenRefresher is an optional interface of a TokenSource that can be told
// which token WeChat rejected (errcode 40001/40014/42001), so that it can
// avoid handing the same one back. The default stable_token source uses it to
// decide on force_refresh. RefreshToken must be safe for concurrent use.
type TokenRefresher interface {
	RefreshToken(ctx context.Context, rejected string) (Token, error)
}

// StaticTokenSource returns a TokenSource that always returns token, which
// never expires as far as the SDK knows. A rejected static token is reported
// to the caller as the *APIError WeChat returned.
func StaticTokenSource(token string) TokenSource { return staticSource(token) }

type staticSource string

func (s staticSource) Token(context.Context) (Token, error) { return Token{Value: string(s)}, nil }

// TokenStore shares tokens between Clients, typically between processes (see
// package redisstore), so that every instance of a service uses one access
// token instead of refreshing each other's away.
//
// Keys are chosen by the SDK (e.g. "access_token:<appid>"); implementations
// store the Token as is. All methods must be safe for concurrent use.
//
// A Client's token cache bounds each call it makes with a deadline of its
// own (5 s) and recovers a panic in it: a call that fails, panics or does
// not return in time counts as the store being unavailable, and the Client
// then fetches its token itself (logging a warning) instead of failing. (A
// Component's reads and writes of refresh tokens and tickets run under the
// caller's ctx.)
type TokenStore interface {
	// GetToken returns the token stored under key; ok is false when there is none.
	GetToken(ctx context.Context, key string) (tok Token, ok bool, err error)
	// SetToken stores tok under key, replacing any previous token atomically.
	SetToken(ctx context.Context, key string, tok Token) error
	// SwapToken replaces the token under key with tok only while its value
	// is still old (compare-and-swap, atomic; a missing token counts as "").
	// It reports whether it replaced it. The SDK uses it to store the renewed
	// authorizer_refresh_token of a third-party platform without ever
	// overwriting a newer one that a re-authorization stored meanwhile.
	SwapToken(ctx context.Context, key, old string, tok Token) (swapped bool, err error)
	// InvalidateToken deletes the token under key only if its value is still
	// rejected (compare-and-delete, atomic), so that a stale rejection never
	// discards a fresh token another process stored.
	InvalidateToken(ctx context.Context, key, rejected string) error
	// LockToken tries to take the refresh lock of key, so that one process
	// fetches while the others wait and read. It reports acquired=false at
	// once when another holder has it. The lock is held until unlock is
	// called; a store shared between processes keeps it alive meanwhile by
	// renewing it for ttl at a time, so that the lock of a holder that died
	// (whose renewals stopped) ends within ttl. unlock releases the lock only
	// if it is still owned by this caller; it may be called more than once.
	LockToken(ctx context.Context, key string, ttl time.Duration) (unlock func(), acquired bool, err error)
}

// NewMemoryTokenStore returns a TokenStore kept in process memory. It lets
// several Clients in one process share tokens; use redisstore across
// processes. Its locks are held until unlocked (a holder cannot die without
// the process that holds the store).
func NewMemoryTokenStore() TokenStore {
	return &memoryStore{tokens: map[string]Token{}, locks: map[string]*int{}}
}

type memoryStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	locks  map[string]*int // key → owner
}

func (m *memoryStore) GetToken(_ context.Context, key string) (Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	return t, ok, nil
}

func (m *memoryStore) SetToken(_ context.Context, key string, tok Token) error {
	m.mu.Lock()
	m.tokens[key] = tok
	m.mu.Unlock()
	return nil
}

func (m *memoryStore) SwapToken(_ context.Context, key, old string, tok Token) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[key].Value != old {
		return false, nil
	}
	m.tokens[key] = tok
	return true, nil
}

func (m *memoryStore) InvalidateToken(_ context.Context, key, rejected string) error {
	m.mu.Lock()
	if t, ok := m.tokens[key]; ok && t.Value == rejected {
		delete(m.tokens, key)
	}
	m.mu.Unlock()
	return nil
}

func (m *memoryStore) LockToken(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[key] != nil {
		return nil, false, nil
	}
	owner := new(int)
	m.locks[key] = owner
	return func() {
		m.mu.Lock()
		if m.locks[key] == owner {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}, true, nil
}

// Token cache tuning. WeChat's stable_token rotates 5 minutes before expiry and
// keeps the old token valid meanwhile, so the cache refreshes in that window
// in the background and stops using a token expirySafety before it expires.
// A token that lives less than 20 minutes gets margins scaled to its lifetime
// (see marginsFor).
const (
	refreshAhead      = 5 * time.Minute
	expirySafety      = 30 * time.Second
	earlyRefreshEvery = 30 * time.Second
	fetchTimeout      = 30 * time.Second
	// storeLockTTL is how long the store's refresh lock outlives a holder
	// that stopped renewing it (a crashed process): a live holder keeps it
	// for the whole fetch, so no two processes fetch (or spend one refresh
	// token) at once, and a dead holder's lock ends within 10 s.
	storeLockTTL   = 10 * time.Second
	storeOpTimeout = 5 * time.Second // each TokenStore call, whatever the caller's ctx allows
	storePollEvery = 50 * time.Millisecond
	// minTokenLifetime and maxTokenLifetime clamp the lifetime a source
	// claims (an expires_in that overflowed, a token already expired, a
	// date centuries away): a token shorter-lived than claimed is rejected
	// by WeChat and refetched once; a longer-lived one is refetched early.
	minTokenLifetime = 10 * time.Second
	maxTokenLifetime = 24 * time.Hour
)

// margins are how early the cache stops using a token (safety), starts
// refreshing it in the background (ahead), and how often it retries that
// refresh (every).
type margins struct{ safety, ahead, every time.Duration }

var defaultMargins = margins{safety: expirySafety, ahead: refreshAhead, every: earlyRefreshEvery}

// marginsFor scales the margins to a token that lives life: at most a tenth
// of it is the safety margin and a quarter the early-refresh window, so that
// a 20 s token is served for 15 s before it is refreshed. A 2 h token gets
// the defaults.
func marginsFor(life time.Duration) margins {
	m := margins{safety: min(expirySafety, life/10), ahead: min(refreshAhead, life/4)}
	m.every = min(earlyRefreshEvery, m.ahead/2)
	return m
}

// clampLifetime bounds tok's lifetime, counted from start, to
// [minTokenLifetime, maxTokenLifetime]; a zero ExpiresAt stays zero.
func clampLifetime(tok Token, start time.Time) Token {
	if tok.ExpiresAt.IsZero() {
		return tok
	}
	switch life := tok.ExpiresAt.Sub(start); {
	case life < minTokenLifetime:
		tok.ExpiresAt = start.Add(minTokenLifetime)
	case life > maxTokenLifetime:
		tok.ExpiresAt = start.Add(maxTokenLifetime)
	}
	return tok
}

// defaultTokenLifetime is the documented lifetime of WeChat's access tokens,
// tickets and authorizer tokens (expires_in 7200).
const defaultTokenLifetime = 7200 * time.Second

// tokenLifetime converts an expires_in in seconds to a lifetime. Zero or
// negative (absent) and absurd values (beyond maxTokenLifetime, where
// 18446744074 s would overflow a time.Duration to 0.29 s) mean the documented
// 7200 s; any other value is taken as is (tokenCache clamps and scales its
// margins for short ones).
func tokenLifetime(expiresIn int64) time.Duration {
	if expiresIn <= 0 || expiresIn > int64(maxTokenLifetime/time.Second) {
		return defaultTokenLifetime
	}
	return time.Duration(expiresIn) * time.Second
}

// tokenExpiry returns when a credential (access token, ticket, component or
// corp token) fetched at start with WeChat's expires_in stops being valid:
// start plus tokenLifetime(expiresIn). Every token source uses it.
func tokenExpiry(start time.Time, expiresIn wire.Int) time.Time {
	return start.Add(tokenLifetime(int64(expiresIn)))
}

// tokenCache is the Client's access-token cache: one fetch in flight however
// many callers wait, compare-and-invalidate on rejection, optional sharing
// through a TokenStore. Safe for concurrent use.
type tokenCache struct {
	src    TokenSource
	store  TokenStore // nil: process-local only
	key    string
	logger *slog.Logger
	now    func() time.Time
	// storeTimeout bounds each store call (0: storeOpTimeout).
	storeTimeout time.Duration
	kind         string   // what the cache holds, for the Observer: access_token, wx_card_ticket...
	obs          observer // reports each fetch

	cur       atomic.Pointer[Token] // the entry in use; compared by identity
	meta      atomic.Pointer[cacheMeta]
	rejected  atomic.Pointer[string]
	lastEarly atomic.Int64 // unix nanos of the last background refresh
	sf        singleflight.Group
}

// cacheMeta holds the margins of the token tok points to. A token put in
// cur without one (adopted from the store, or by the Component) gets the
// default margins.
type cacheMeta struct {
	tok *Token
	m   margins
}

func (tc *tokenCache) marginsOf(t *Token) margins {
	if m := tc.meta.Load(); m != nil && m.tok == t {
		return m.m
	}
	return defaultMargins
}

func usable(t *Token, now time.Time, m margins) bool {
	return t != nil && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt.Add(-m.safety)))
}

// get returns the cached entry, fetching when there is none or it expired.
// The returned pointer identifies the entry for invalidate.
func (tc *tokenCache) get(ctx context.Context) (*Token, error) {
	t := tc.cur.Load()
	now := tc.now()
	m := tc.marginsOf(t)
	if usable(t, now, m) {
		if !t.ExpiresAt.IsZero() && t.ExpiresAt.Sub(now) < m.ahead {
			tc.refreshEarly(ctx, now, m.every)
		}
		return t, nil
	}
	return tc.fetchShared(ctx)
}

// refreshEarly starts one background refresh at most every interval. It
// runs under ctx without its cancellation, so that it keeps the triggering
// call's values (trace context) but outlives the call.
func (tc *tokenCache) refreshEarly(ctx context.Context, now time.Time, every time.Duration) {
	last := tc.lastEarly.Load()
	if now.UnixNano()-last < int64(every) || !tc.lastEarly.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	bctx := context.WithoutCancel(ctx)
	ch := tc.sf.DoChan("token", func() (any, error) { return tc.fetchAndStore(bctx, true) })
	go func() { <-ch }()
}

// fetchShared joins (or starts) the one fetch in flight. The fetch is detached
// from ctx so a cancelled waiter does not fail the others; each waiter returns
// as soon as its own ctx is done.
func (tc *tokenCache) fetchShared(ctx context.Context) (*Token, error) {
	ch := tc.sf.DoChan("token", func() (any, error) { return tc.fetchAndStore(context.WithoutCancel(ctx), false) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetchAndStore runs inside singleflight, where a panic would kill the
// process: everything it calls of the user's (source, store) runs guarded.
func (tc *tokenCache) fetchAndStore(ctx context.Context, early bool) (*Token, error) {
	now := tc.now()
	if t := tc.cur.Load(); t != nil {
		if m := tc.marginsOf(t); usable(t, now, m) && (!early || t.ExpiresAt.Sub(now) >= m.ahead) {
			return t, nil // another flight refreshed it meanwhile
		}
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	began := time.Now()
	f, err := tc.fetch(ctx)
	if tc.obs.enabled() {
		from := "source"
		if f.stored {
			from = "store"
		}
		tc.obs.tokenFetch(ctx, TokenFetchInfo{Kind: tc.kind, From: from, Early: early, Err: err, Duration: time.Since(began)})
	}
	if err != nil {
		if early {
			tc.logger.Warn("wxinvoice: early token refresh failed; keeping the current token", "err", err)
		}
		return nil, err
	}
	t := &f.tok
	m := defaultMargins
	if f.life > 0 {
		m = marginsFor(f.life)
	}
	tc.meta.Store(&cacheMeta{tok: t, m: m})
	tc.cur.Store(t)
	return t, nil
}

// fetched is a token obtained by fetch and, when it came from the source,
// the lifetime it had then (0: adopted from the store).
type fetched struct {
	tok    Token
	life   time.Duration
	stored bool // adopted from the store
}

// fetch obtains a token from the store (when another process already fetched
// one) or the source, under the store's lock. A store that fails, panics or
// hangs makes it fetch from the source without the store.
func (tc *tokenCache) fetch(ctx context.Context) (fetched, error) {
	var rejected string
	if r := tc.rejected.Load(); r != nil {
		rejected = *r
	}
	if tc.store == nil {
		return tc.fromSource(ctx, rejected)
	}
	unavailable := func(err error) (fetched, error) {
		tc.logger.Warn("wxinvoice: token store unavailable; fetching the token in this process", "err", err)
		return tc.fromSource(ctx, rejected) // no SetToken: the store just failed
	}
	if t, ok, err := tc.fromStore(ctx, rejected); err != nil {
		if tc.timedOut(ctx, err) {
			return unavailable(err) // a store that hangs costs one timeout, not one per call
		}
		tc.logger.Warn("wxinvoice: token store read failed", "err", err)
	} else if ok {
		return fetched{tok: t, stored: true}, nil
	}
	unlock, acquired, err := tc.lock(ctx)
	if err != nil {
		return unavailable(err)
	}
	if !acquired {
		// Another process is fetching: read its token as soon as it is
		// stored, or take the lock over once the holder gave up (or died:
		// its lock then ends within storeLockTTL). A live holder's fetch
		// ends within fetchTimeout, as does this wait.
		tick := time.NewTicker(storePollEvery)
		defer tick.Stop()
		for !acquired {
			select {
			case <-ctx.Done():
				return fetched{}, ctx.Err()
			case <-tick.C:
			}
			t, ok, err := tc.fromStore(ctx, rejected)
			if err != nil {
				return unavailable(err)
			}
			if ok {
				return fetched{tok: t, stored: true}, nil
			}
			if unlock, acquired, err = tc.lock(ctx); err != nil {
				return unavailable(err)
			}
		}
	}
	defer tc.unlock(unlock)
	if t, ok, err := tc.fromStore(ctx, rejected); err == nil && ok {
		return fetched{tok: t, stored: true}, nil
	}
	return tc.fromSourceAndStore(ctx, rejected)
}

// timedOut reports whether err is a store call that ran out of time (its
// deadline, or a network timeout) while the fetch itself still had some.
func (tc *tokenCache) timedOut(ctx context.Context, err error) bool {
	var ne interface{ Timeout() bool }
	return ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
}

// fromStore reads the shared token and reports whether it may be adopted.
func (tc *tokenCache) fromStore(ctx context.Context, rejected string) (Token, bool, error) {
	t, ok, err := tc.storeGet(ctx, tc.key)
	if err != nil || !ok || !tc.fresh(t, rejected) {
		return Token{}, false, err
	}
	return clampLifetime(t, tc.now()), true, nil
}

// fresh reports whether a stored token may be adopted: not the rejected one,
// and not so close to expiry that it should be refreshed.
func (tc *tokenCache) fresh(t Token, rejected string) bool {
	now := tc.now()
	return t.Value != "" && t.Value != rejected && usable(&t, now, defaultMargins) &&
		(t.ExpiresAt.IsZero() || t.ExpiresAt.Sub(now) >= refreshAhead)
}

func (tc *tokenCache) fromSourceAndStore(ctx context.Context, rejected string) (fetched, error) {
	f, err := tc.fromSource(ctx, rejected)
	if err != nil {
		return f, err
	}
	if err := tc.storeSet(ctx, tc.key, f.tok); err != nil {
		tc.logger.Warn("wxinvoice: token store write failed; the token is cached in this process only", "err", err)
	}
	return f, nil
}

// fromSource asks the source (guarded: a panic or a source that ignores
// ctx becomes an error) and clamps the lifetime it claims.
func (tc *tokenCache) fromSource(ctx context.Context, rejected string) (fetched, error) {
	start := tc.now()
	tok, err := guard(ctx, tc.logger, "TokenSource", nil, func(ctx context.Context) (Token, error) {
		if r, ok := tc.src.(TokenRefresher); ok && rejected != "" {
			return r.RefreshToken(ctx, rejected)
		}
		return tc.src.Token(ctx)
	})
	if err != nil {
		return fetched{}, err
	}
	tok = clampLifetime(tok, start)
	var life time.Duration
	if !tok.ExpiresAt.IsZero() {
		life = tok.ExpiresAt.Sub(start)
	}
	return fetched{tok: tok, life: life}, nil
}

// invalidate drops t if it is still the entry in use (compare-and-invalidate
// by identity), so that however many calls report the same rejected entry at
// most one refetch follows.
func (tc *tokenCache) invalidate(ctx context.Context, t *Token) {
	if !tc.cur.CompareAndSwap(t, nil) {
		return // already replaced by a newer entry
	}
	v := t.Value
	tc.rejected.Store(&v)
	if tc.store != nil {
		if err := tc.storeInvalidate(ctx, tc.key, v); err != nil {
			tc.logger.Warn("wxinvoice: token store invalidate failed", "err", err)
		}
	}
}

// ---- guarded store calls ----

// storeCtx bounds one store call.
func (tc *tokenCache) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := tc.storeTimeout
	if d <= 0 {
		d = storeOpTimeout
	}
	return context.WithTimeout(ctx, d)
}

type stored struct {
	tok Token
	ok  bool
}

func (tc *tokenCache) storeGet(ctx context.Context, key string) (Token, bool, error) {
	ctx, cancel := tc.storeCtx(ctx)
	defer cancel()
	r, err := guard(ctx, tc.logger, "TokenStore.GetToken", nil, func(ctx context.Context) (stored, error) {
		t, ok, err := tc.store.GetToken(ctx, key)
		return stored{t, ok}, err
	})
	return r.tok, r.ok, err
}

func (tc *tokenCache) storeSet(ctx context.Context, key string, tok Token) error {
	ctx, cancel := tc.storeCtx(ctx)
	defer cancel()
	_, err := guard(ctx, tc.logger, "TokenStore.SetToken", nil, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, tc.store.SetToken(ctx, key, tok)
	})
	return err
}

func (tc *tokenCache) storeInvalidate(ctx context.Context, key, rejected string) error {
	ctx, cancel := tc.storeCtx(ctx)
	defer cancel()
	_, err := guard(ctx, tc.logger, "TokenStore.InvalidateToken", nil, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, tc.store.InvalidateToken(ctx, key, rejected)
	})
	return err
}

type lockResult struct {
	unlock   func()
	acquired bool
}

// lock takes the store's refresh lock of tc.key. A lock acquired after the
// call was given up on is released at once.
func (tc *tokenCache) lock(ctx context.Context) (func(), bool, error) {
	ctx, cancel := tc.storeCtx(ctx)
	defer cancel()
	late := func(r lockResult) {
		if r.acquired {
			tc.unlock(r.unlock)
		}
	}
	r, err := guard(ctx, tc.logger, "TokenStore.LockToken", late, func(ctx context.Context) (lockResult, error) {
		u, ok, err := tc.store.LockToken(ctx, tc.key, storeLockTTL)
		return lockResult{u, ok}, err
	})
	if err == nil && r.acquired && r.unlock == nil {
		r.unlock = func() {}
	}
	return r.unlock, r.acquired, err
}

// unlock runs a store's unlock func, guarded and bounded like a store call.
func (tc *tokenCache) unlock(unlock func()) {
	ctx, cancel := tc.storeCtx(context.Background())
	defer cancel()
	_, _ = guard(ctx, tc.logger, "TokenStore unlock", nil, func(context.Context) (struct{}, error) {
		unlock()
		return struct{}{}, nil
	})
}

// guard runs fn, user code (a TokenSource or TokenStore method), in a
// goroutine of its own and returns its result, or ctx's error once ctx is
// done first; fn is then abandoned and, if late is not nil, its result is
// handed to late when it arrives. A panic in fn is logged (with its stack)
// and returned as an error; the process lives.
func guard[T any](ctx context.Context, logger *slog.Logger, what string, late func(T), fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				msg := redact(fmt.Sprint(p))
				logger.Error("wxinvoice: "+what+" panicked", "panic", msg, "stack", string(debug.Stack()))
				r = result{err: fmt.Errorf("wxinvoice: %s panicked: %s", what, msg)}
			}
			ch <- r
		}()
		r.v, r.err = fn(ctx)
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		if late != nil {
			go func() {
				if r := <-ch; r.err == nil {
					late(r.v)
				}
			}()
		}
		var zero T
		return zero, fmt.Errorf("wxinvoice: %s: %w", what, ctx.Err())
	}
}

// appTokenSource is the default source: POST /cgi-bin/stable_token in normal
// mode (or GET /cgi-bin/token when configured), with force_refresh used only
// when a normal fetch hands back the very token WeChat rejected, at most 20
// times a day and 30 s apart as WeChat allows.
type appTokenSource struct {
	c      *Client
	appID  string
	secret string
	legacy bool

	mu     sync.Mutex
	forced []time.Time // force_refresh calls in the last 24 h
}

func (s *appTokenSource) Token(ctx context.Context) (Token, error) { return s.fetch(ctx, false) }

func (s *appTokenSource) RefreshToken(ctx context.Context, rejected string) (Token, error) {
	t, err := s.fetch(ctx, false)
	if err != nil || t.Value != rejected || s.legacy || !s.allowForce(ctx) {
		return t, err
	}
	forced, err := s.fetch(ctx, true)
	if err != nil {
		// Keep the normal token: the replay reports WeChat's verdict on it.
		s.c.logger.Warn("wxinvoice: force_refresh failed", "err", err)
		return t, nil
	}
	return forced, nil
}

// allowForce applies WeChat's force_refresh limits (20 a day, 30 s apart,
// per appid). With a TokenStore the record of force refreshes is shared under
// "force_refresh:<appid>", so that several processes together stay within
// them; the caller holds the store's token lock, which serializes the
// read-modify-write. Without a store (or when it fails) the record is this
// process's own.
func (s *appTokenSource) allowForce(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	store, key := s.c.tokens.store, "force_refresh:"+s.appID
	times := s.forced
	if store != nil {
		if t, ok, err := store.GetToken(ctx, key); err == nil && ok {
			times = parseUnixList(t.Value)
		}
	}
	kept := times[:0:0]
	for _, f := range times {
		if now.Sub(f) < 24*time.Hour {
			kept = append(kept, f)
		}
	}
	s.forced = kept
	if len(kept) >= 20 || (len(kept) > 0 && now.Sub(kept[len(kept)-1]) < 30*time.Second) {
		s.c.logger.Warn("wxinvoice: token rejected but force_refresh is rate-limited by WeChat (20/day, 30 s apart)")
		return false
	}
	s.forced = append(kept, now)
	if store != nil {
		rec := Token{Value: formatUnixList(s.forced), ExpiresAt: now.Add(24 * time.Hour)}
		if err := store.SetToken(ctx, key, rec); err != nil {
			s.c.logger.Warn("wxinvoice: token store write failed; force_refresh counted in this process only", "err", err)
		}
	}
	return true
}

func parseUnixList(v string) []time.Time {
	var out []time.Time
	for _, f := range strings.Fields(v) {
		if n, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, time.Unix(0, n))
		}
	}
	return out
}

func formatUnixList(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(t.UnixNano(), 10))
	}
	return b.String()
}

func (s *appTokenSource) fetch(ctx context.Context, force bool) (Token, error) {
	var resp wire.TokenResponse
	var err error
	op := opStableToken
	start := time.Now()
	if s.legacy {
		op = opLegacyToken
		q := "?grant_type=client_credential&appid=" + url.QueryEscape(s.appID) + "&secret=" + url.QueryEscape(s.secret)
		err = s.c.roundTrip(ctx, op, s.c.baseURL+op.path+q, nil, &resp)
	} else {
		body, berr := marshalJSON(&wire.StableTokenRequest{GrantType: "client_credential", AppID: s.appID, Secret: s.secret, ForceRefresh: force})
		if berr != nil {
			return Token{}, berr
		}
		err = s.c.roundTrip(ctx, op, s.c.baseURL+op.path, body, &resp)
	}
	if err != nil {
		return Token{}, err
	}
	if apiErr := s.c.apiError(op.path, &resp.Status); apiErr != nil {
		return Token{}, apiErr
	}
	if resp.AccessToken == "" {
		return Token{}, &OpError{Op: op.path, Err: errors.New("empty access_token in response")}
	}
	return Token{Value: resp.AccessToken, ExpiresAt: tokenExpiry(start, resp.ExpiresIn)}, nil
}
