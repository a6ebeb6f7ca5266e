package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
)

// dedupeDone is the value of a processed push's key; a leased one holds its
// owner id (the EventHandler's are 32 hex digits).
const dedupeDone = "done"

// claimScript takes the lease KEYS[1] for owner ARGV[1] for ARGV[2] ms
// unless the key exists. It returns 0 when taken, 1 when another lease holds
// the key, 2 when the key is marked done.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 2 end
if v then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
`)

// Lease is how long a claim lasts without renewal: WithDedupeLease, or
// wxinvoice.DefaultDedupeLease (4 s). It implements wxinvoice.Deduper.
func (s *Store) Lease() time.Duration { return s.lease }

// checkOwner refuses owner ids that could be mistaken for a done record.
func checkOwner(op, owner string) error {
	if owner == "" || owner == dedupeDone {
		return fmt.Errorf("redisstore: %s: invalid owner id %q", op, owner)
	}
	return nil
}

// Claim takes the lease DedupeKey(key) for owner for Lease() (a one-key Lua
// script: GET, then SET PX if the key does not exist) and reports
// wxinvoice.ClaimAcquired, or wxinvoice.ClaimHeld while another owner's lease
// is live, or wxinvoice.ClaimDone once the push is processed. It implements
// wxinvoice.Deduper.
//
// An error means the answer is unknown; the EventHandler then answers 503
// so that WeChat retries. If Redis applies the claim after the caller gave
// up (a stalled or slow server), nobody renews that lease: it ends within
// Lease() of being applied, so at most one of WeChat's retries (5 s apart)
// meets it.
func (s *Store) Claim(ctx context.Context, key, owner string) (wxinvoice.ClaimStatus, error) {
	if err := checkOwner("claim", owner); err != nil {
		return 0, err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := claimScript.Run(ctx, s.rdb, []string{s.DedupeKey(key)}, owner, millis(s.lease)).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: claim: %w", err)
	}
	switch n {
	case 0:
		return wxinvoice.ClaimAcquired, nil
	case 2:
		return wxinvoice.ClaimDone, nil
	}
	return wxinvoice.ClaimHeld, nil
}

// Renew extends owner's lease DedupeKey(key) to Lease() from now (a one-key
// Lua script: PEXPIRE if the value is owner) and reports false when the key
// is not leased to owner. It implements wxinvoice.Deduper.
func (s *Store) Renew(ctx context.Context, key, owner string) (bool, error) {
	if err := checkOwner("renew", owner); err != nil {
		return false, err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := renewScript.Run(ctx, s.rdb, []string{s.DedupeKey(key)}, owner, millis(s.lease)).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: renew: %w", err)
	}
	return n == 1, nil
}

// Done records key as processed for ttl (SET DedupeKey(key) done PX ttl;
// zero or negative ttl: wxinvoice.DefaultDedupeTTL), replacing any lease,
// so that retries and replays are answered "success". It implements
// wxinvoice.Deduper.
func (s *Store) Done(ctx context.Context, key string, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = wxinvoice.DefaultDedupeTTL
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.rdb.Set(ctx, s.DedupeKey(key), dedupeDone, max(ttl, time.Millisecond)).Err(); err != nil {
		return fmt.Errorf("redisstore: done: %w", err)
	}
	return nil
}

// Release deletes owner's lease DedupeKey(key) (a one-key Lua
// compare-and-delete), so that a retry of a push whose callback failed is
// processed again, by whichever instance receives it. A key leased to
// another owner or marked done is left alone. It implements
// wxinvoice.Deduper.
func (s *Store) Release(ctx context.Context, key, owner string) error {
	if err := checkOwner("release", owner); err != nil {
		return err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := unlockScript.Run(ctx, s.rdb, []string{s.DedupeKey(key)}, owner).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}

// millis is d in whole milliseconds, at least 1 (Redis refuses PX 0).
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
