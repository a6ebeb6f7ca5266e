package wxinvoice

import (
	"context"
	"time"
)

// Deduper remembers which pushes an EventHandler has already processed, so
// that WeChat's retries of the same event (up to 3 within 5 s) run the
// callback once.
//
// Implementations must be safe for concurrent use by multiple goroutines; the
// in-memory default (NewMemoryDeduper) serves one process and
// redisstore.Store serves many.
type Deduper interface {
	// Claim records key for ttl. It reports true when the caller is the
	// first to claim key (process the event) and false when key is already
	// claimed (a duplicate: skip it). An error means the answer is unknown;
	// the handler then answers 5xx so WeChat retries.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release forgets key, so that a retry of an event whose callback failed
	// is processed again.
	Release(ctx context.Context, key string) error
}
