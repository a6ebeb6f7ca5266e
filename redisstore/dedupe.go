package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/wxinvoice/wxinvoice"
)

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
