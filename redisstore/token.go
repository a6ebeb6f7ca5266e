package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
)

// Hash fields of a stored token.
const (
	fieldValue     = "value"
	fieldExpiresAt = "expires_at" // RFC 3339 UTC with nanoseconds; "" for a token without expiry
)

// setTokenScript replaces the token hash at KEYS[1] in one step.
// ARGV: value, expires_at, ttl in ms (-1: no TTL; 0: already dead, delete).
var setTokenScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[3])
if ttl == 0 then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// invalidateTokenScript deletes KEYS[1] only if its value is ARGV[1].
var invalidateTokenScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// swapTokenScript replaces the token hash at KEYS[1] only while its value is
// ARGV[4] (a missing token counts as ""). ARGV 1-3 as setTokenScript.
var swapTokenScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'value')
if cur == false then cur = '' end
if cur ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[3])
if ttl == 0 then return 1 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// renewScript sets KEYS[1] (a token lock or a dedupe lease) to expire in
// ARGV[2] ms only if owner ARGV[1] still holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockScript deletes KEYS[1] (a token lock or a dedupe lease) only if
// owner ARGV[1] still holds it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// GetToken returns the token stored under key (in the hash TokenKey(key));
// ok is false when there is none. It implements wxinvoice.TokenStore.
func (s *Store) GetToken(ctx context.Context, key string) (wxinvoice.Token, bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	vals, err := s.rdb.HMGet(ctx, s.TokenKey(key), fieldValue, fieldExpiresAt).Result()
	if err != nil {
		return wxinvoice.Token{}, false, fmt.Errorf("redisstore: get token: %w", err)
	}
	value, _ := vals[0].(string)
	if value == "" {
		return wxinvoice.Token{}, false, nil
	}
	tok := wxinvoice.Token{Value: value}
	if exp, _ := vals[1].(string); exp != "" {
		t, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			return wxinvoice.Token{}, false, fmt.Errorf("redisstore: get token: malformed %s in %s", fieldExpiresAt, s.TokenKey(key))
		}
		tok.ExpiresAt = t
	}
	return tok, true, nil
}

// SetToken stores tok under key, replacing the previous token in one atomic
// step. The key expires TokenGrace after tok.ExpiresAt (a token already
// past that is not kept); a zero ExpiresAt keeps it without TTL. It
// implements wxinvoice.TokenStore.
func (s *Store) SetToken(ctx context.Context, key string, tok wxinvoice.Token) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	exp, ttl := tokenExpiry(tok)
	if err := setTokenScript.Run(ctx, s.rdb, []string{s.TokenKey(key)}, tok.Value, exp, strconv.FormatInt(ttl, 10)).Err(); err != nil {
		return fmt.Errorf("redisstore: set token: %w", err)
	}
	return nil
}

// SwapToken replaces the token under key with tok only while its value is
// still old (a missing token counts as ""), atomically (a Lua script). It
// implements wxinvoice.TokenStore.
func (s *Store) SwapToken(ctx context.Context, key, old string, tok wxinvoice.Token) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	exp, ttl := tokenExpiry(tok)
	n, err := swapTokenScript.Run(ctx, s.rdb, []string{s.TokenKey(key)}, tok.Value, exp, strconv.FormatInt(ttl, 10), old).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: swap token: %w", err)
	}
	return n == 1, nil
}

// tokenExpiry returns the expires_at field and the key's TTL in ms (-1: none).
func tokenExpiry(tok wxinvoice.Token) (string, int64) {
	if tok.ExpiresAt.IsZero() {
		return "", -1
	}
	return tok.ExpiresAt.UTC().Format(time.RFC3339Nano), max(0, time.Until(tok.ExpiresAt.Add(TokenGrace)).Milliseconds())
}

// InvalidateToken deletes the token under key only if its value is still
// rejected, atomically (a Lua compare-and-delete), so that a stale rejection
// from one instance never discards a fresh token another instance stored. It
// implements wxinvoice.TokenStore.
func (s *Store) InvalidateToken(ctx context.Context, key, rejected string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := invalidateTokenScript.Run(ctx, s.rdb, []string{s.TokenKey(key)}, rejected).Err(); err != nil {
		return fmt.Errorf("redisstore: invalidate token: %w", err)
	}
	return nil
}

// LockToken tries to take the refresh lock of key (SET LockKey(key) <random>
// NX PX ttl). It reports acquired=false at once when another holder has it.
// Once acquired, the lock is renewed for ttl every ttl/3 (a Lua
// compare-and-PEXPIRE) until unlock is called, so that it lasts as long as
// its holder needs it and ends within ttl of the holder's death. unlock,
// which may be called more than once, stops the renewal and deletes the lock
// only if this caller still owns it (a Lua compare-and-delete), so that a
// holder whose lock expired never releases its successor's. It implements
// wxinvoice.TokenStore.
func (s *Store) LockToken(ctx context.Context, key string, ttl time.Duration) (unlock func(), acquired bool, err error) {
	if s.lockTTL > 0 {
		ttl = s.lockTTL
	} else if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	ttl = max(ttl, 3*time.Millisecond)
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, false, fmt.Errorf("redisstore: lock token: %w", err)
	}
	owner := hex.EncodeToString(b[:])
	lockKey := s.LockKey(key)

	octx, cancel := s.op(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(octx, lockKey, owner, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: lock token: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go s.renewLock(lockKey, owner, ttl, stop, stopped)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped // no renewal after the delete
			// unlock has no ctx: bound it by the Store's timeout (or the
			// lock's own life, after which releasing is moot).
			d := s.timeout
			if d <= 0 || d > ttl {
				d = ttl
			}
			uctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			_ = unlockScript.Run(uctx, s.rdb, []string{lockKey}, owner).Err() // failure: the lock expires by itself
		})
	}, true, nil
}

// renewLock extends the lock lockKey of owner to ttl every ttl/3 until stop
// is closed or the lock is found lost (expired, taken by another holder).
// A failed renewal is retried at the next tick: the lock ends ttl after the
// last one that succeeded.
func (s *Store) renewLock(lockKey, owner string, ttl time.Duration, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		d := s.timeout
		if d <= 0 || d > ttl/3 {
			d = ttl / 3
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		n, err := renewScript.Run(ctx, s.rdb, []string{lockKey}, owner, ms).Int()
		cancel()
		if err == nil && n == 0 {
			return // lost: never renew another holder's lock
		}
	}
}
