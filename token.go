package wxinvoice

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
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
// on every call.
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
type TokenStore interface {
	// GetToken returns the token stored under key; ok is false when there is none.
	GetToken(ctx context.Context, key string) (tok Token, ok bool, err error)
	// SetToken stores tok under key, replacing any previous token atomically.
	SetToken(ctx context.Context, key string, tok Token) error
	// InvalidateToken deletes the token under key only if its value is still
	// rejected (compare-and-delete, atomic), so that a stale rejection never
	// discards a fresh token another process stored.
	InvalidateToken(ctx context.Context, key, rejected string) error
	// LockToken tries to take a short lock on key for ttl so that one process
	// fetches while the others wait and read. It reports acquired=false at
	// once when another holder has it. unlock releases the lock only if it is
	// still owned by this caller.
	LockToken(ctx context.Context, key string, ttl time.Duration) (unlock func(), acquired bool, err error)
}

// TokenSwapper is an optional interface of a TokenStore that replaces the
// token under key only while its value is still old (compare-and-swap; a
// missing token counts as ""). The SDK uses it, when available, to store the
// renewed authorizer_refresh_token of a third-party platform without ever
// overwriting a newer one that a re-authorization stored meanwhile.
// NewMemoryTokenStore and redisstore.Store implement it.
type TokenSwapper interface {
	SwapToken(ctx context.Context, key, old string, tok Token) (swapped bool, err error)
}

// NewMemoryTokenStore returns a TokenStore kept in process memory. It lets
// several Clients in one process share tokens; use redisstore across
// processes.
func NewMemoryTokenStore() TokenStore {
	return &memoryStore{tokens: map[string]Token{}, locks: map[string]*memLock{}}
}

type memLock struct {
	until time.Time
	owner *int
}

type memoryStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	locks  map[string]*memLock
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

func (m *memoryStore) LockToken(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[key]; ok && time.Now().Before(l.until) {
		return nil, false, nil
	}
	l := &memLock{until: time.Now().Add(ttl), owner: new(int)}
	m.locks[key] = l
	return func() {
		m.mu.Lock()
		if m.locks[key] == l {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}, true, nil
}

// Token cache tuning. WeChat's stable_token rotates 5 minutes before expiry and
// keeps the old token valid meanwhile, so the cache refreshes in that window
// in the background and stops using a token expirySafety before it expires.
const (
	refreshAhead      = 5 * time.Minute
	expirySafety      = 30 * time.Second
	earlyRefreshEvery = 30 * time.Second
	fetchTimeout      = 30 * time.Second
	storeLockTTL      = fetchTimeout + 5*time.Second // outlives any fetch, so no two processes fetch (or spend a refresh token) at once
	storePollEvery    = 50 * time.Millisecond
)

// tokenCache is the Client's access-token cache: one fetch in flight however
// many callers wait, compare-and-invalidate on rejection, optional sharing
// through a TokenStore. Safe for concurrent use.
type tokenCache struct {
	src    TokenSource
	store  TokenStore // nil: process-local only
	key    string
	logger *slog.Logger
	now    func() time.Time

	cur       atomic.Pointer[Token] // the entry in use; compared by identity
	rejected  atomic.Pointer[string]
	lastEarly atomic.Int64 // unix nanos of the last background refresh
	sf        singleflight.Group
}

func (tc *tokenCache) usable(t *Token, now time.Time) bool {
	return t != nil && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt.Add(-expirySafety)))
}

// get returns the cached entry, fetching when there is none or it expired.
// The returned pointer identifies the entry for invalidate.
func (tc *tokenCache) get(ctx context.Context) (*Token, error) {
	t := tc.cur.Load()
	now := tc.now()
	if tc.usable(t, now) {
		if !t.ExpiresAt.IsZero() && t.ExpiresAt.Sub(now) < refreshAhead {
			tc.refreshEarly(now)
		}
		return t, nil
	}
	return tc.fetchShared(ctx)
}

// refreshEarly starts one background refresh at most every earlyRefreshEvery.
func (tc *tokenCache) refreshEarly(now time.Time) {
	last := tc.lastEarly.Load()
	if now.UnixNano()-last < int64(earlyRefreshEvery) || !tc.lastEarly.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ch := tc.sf.DoChan("token", func() (any, error) { return tc.fetchAndStore(context.Background(), true) })
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

func (tc *tokenCache) fetchAndStore(ctx context.Context, early bool) (*Token, error) {
	now := tc.now()
	if t := tc.cur.Load(); tc.usable(t, now) && (!early || t.ExpiresAt.Sub(now) >= refreshAhead) {
		return t, nil // another flight refreshed it meanwhile
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	tok, err := tc.fetch(ctx)
	if err != nil {
		if early {
			tc.logger.Warn("wxinvoice: early token refresh failed; keeping the current token", "err", err)
		}
		return nil, err
	}
	t := &tok
	tc.cur.Store(t)
	return t, nil
}

// fetch obtains a token from the store (when another process already fetched
// one) or the source, under the store's lock.
func (tc *tokenCache) fetch(ctx context.Context) (Token, error) {
	var rejected string
	if r := tc.rejected.Load(); r != nil {
		rejected = *r
	}
	if tc.store == nil {
		return tc.fromSource(ctx, rejected)
	}
	if t, ok := tc.fromStore(ctx, rejected); ok {
		return t, nil
	}
	unlock, acquired, err := tc.store.LockToken(ctx, tc.key, storeLockTTL)
	if err != nil {
		tc.logger.Warn("wxinvoice: token store unavailable; fetching the token in this process", "err", err)
		return tc.fromSource(ctx, rejected) // no SetToken: the store just failed
	}
	if !acquired {
		// Another process is fetching: read its token as soon as it is
		// stored, or take the lock over once the holder gave up.
		deadline := time.NewTimer(storeLockTTL)
		defer deadline.Stop()
		tick := time.NewTicker(storePollEvery)
		defer tick.Stop()
		for !acquired {
			select {
			case <-ctx.Done():
				return Token{}, ctx.Err()
			case <-deadline.C:
				return tc.fromSourceAndStore(ctx, rejected)
			case <-tick.C:
			}
			t, ok, err := tc.store.GetToken(ctx, tc.key)
			if err != nil {
				tc.logger.Warn("wxinvoice: token store unavailable; fetching the token in this process", "err", err)
				return tc.fromSource(ctx, rejected)
			}
			if ok && tc.fresh(t, rejected) {
				return t, nil
			}
			if unlock, acquired, err = tc.store.LockToken(ctx, tc.key, storeLockTTL); err != nil {
				tc.logger.Warn("wxinvoice: token store unavailable; fetching the token in this process", "err", err)
				return tc.fromSource(ctx, rejected)
			}
		}
	}
	defer unlock()
	if t, ok := tc.fromStore(ctx, rejected); ok {
		return t, nil
	}
	return tc.fromSourceAndStore(ctx, rejected)
}

func (tc *tokenCache) fromStore(ctx context.Context, rejected string) (Token, bool) {
	t, ok, err := tc.store.GetToken(ctx, tc.key)
	if err != nil {
		tc.logger.Warn("wxinvoice: token store read failed", "err", err)
		return Token{}, false
	}
	if !ok || !tc.fresh(t, rejected) {
		return Token{}, false
	}
	return t, true
}

// fresh reports whether a stored token may be adopted: not the rejected one,
// and not so close to expiry that it should be refreshed.
func (tc *tokenCache) fresh(t Token, rejected string) bool {
	now := tc.now()
	return t.Value != "" && t.Value != rejected && tc.usable(&t, now) &&
		(t.ExpiresAt.IsZero() || t.ExpiresAt.Sub(now) >= refreshAhead)
}

func (tc *tokenCache) fromSourceAndStore(ctx context.Context, rejected string) (Token, error) {
	t, err := tc.fromSource(ctx, rejected)
	if err != nil {
		return t, err
	}
	if err := tc.store.SetToken(ctx, tc.key, t); err != nil {
		tc.logger.Warn("wxinvoice: token store write failed; the token is cached in this process only", "err", err)
	}
	return t, nil
}

func (tc *tokenCache) fromSource(ctx context.Context, rejected string) (Token, error) {
	if r, ok := tc.src.(TokenRefresher); ok && rejected != "" {
		return r.RefreshToken(ctx, rejected)
	}
	return tc.src.Token(ctx)
}

// invalidate drops t if it is still the entry in use (compare-and-invalidate
// by identity), so that however many calls report the same rejected entry at
// most one refetch follows. It reports whether a replay may help.
func (tc *tokenCache) invalidate(ctx context.Context, t *Token) {
	if !tc.cur.CompareAndSwap(t, nil) {
		return // already replaced by a newer entry
	}
	v := t.Value
	tc.rejected.Store(&v)
	if tc.store != nil {
		if err := tc.store.InvalidateToken(ctx, tc.key, v); err != nil {
			tc.logger.Warn("wxinvoice: token store invalidate failed", "err", err)
		}
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
