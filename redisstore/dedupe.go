package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
)

var _ wxinvoice.DedupeTracker = (*Store)(nil)

// Claim records key for ttl (SET DedupeKey(key) 1 NX PX ttl) and reports
// true when this caller set it, that is when the push is new, and false when
// another caller (in any instance) already claimed it. A zero or negative ttl
// means wxinvoice.DefaultDedupeTTL. It implements wxinvoice.Deduper.
//
// An error means the answer is unknown; the EventHandler then answers 503 so
// that WeChat retries. Should Redis have applied a SET whose reply was lost,
// WeChat's retries are taken for duplicates until ttl ends: prefer a Redis
// close to the handlers. (The EventHandler asks for at least twice its
// timestamp window, so that a replayed push is still recognized.)
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		ttl = wxinvoice.DefaultDedupeTTL
	}
	ttl = max(ttl, time.Millisecond)
	ctx, cancel := s.op(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, s.DedupeKey(key), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim: %w", err)
	}
	return ok, nil
}

// Done marks a claimed key as processed (SET DedupeKey(key) done XX
// KEEPTTL), so that duplicates are answered "success" from now on. It
// implements wxinvoice.DedupeTracker.
func (s *Store) Done(ctx context.Context, key string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	err := s.rdb.SetArgs(ctx, s.DedupeKey(key), dedupeDone, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: done: %w", err)
	}
	return nil
}

// Processed reports whether key was marked Done. It implements
// wxinvoice.DedupeTracker.
func (s *Store) Processed(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.DedupeKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redisstore: processed: %w", err)
	}
	return v == dedupeDone, nil
}

// dedupeDone is the value of a processed push's key (a claimed one is "1").
const dedupeDone = "done"

// Release forgets key (DEL DedupeKey(key)), so that a retry of a push whose
// callback failed is processed again, by whichever instance receives it. It
// implements wxinvoice.Deduper.
func (s *Store) Release(ctx context.Context, key string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.rdb.Del(ctx, s.DedupeKey(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}
