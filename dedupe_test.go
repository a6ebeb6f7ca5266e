package wxinvoice

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clockDeduper returns a memory deduper on a settable clock.
func clockDeduper(max int) (*memoryDeduper, func(time.Duration)) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	d := newMemoryDeduper(max)
	d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return d, func(dt time.Duration) { mu.Lock(); now = now.Add(dt); mu.Unlock() }
}

func TestDedupeMemoryClaimRelease(t *testing.T) {
	ctx := context.Background()
	d, advance := clockDeduper(0)

	ok, err := d.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, _ = d.Claim(ctx, "a", time.Minute)
	require.False(t, ok, "a second claim within the ttl is a duplicate")
	ok, _ = d.Claim(ctx, "b", time.Minute)
	require.True(t, ok)

	require.NoError(t, d.Release(ctx, "a"))
	ok, _ = d.Claim(ctx, "a", time.Minute)
	require.True(t, ok, "a released key can be claimed again")
	require.NoError(t, d.Release(ctx, "never-claimed"))

	advance(59 * time.Second)
	ok, _ = d.Claim(ctx, "b", time.Minute)
	require.False(t, ok)
	advance(time.Second)
	ok, _ = d.Claim(ctx, "b", time.Minute)
	require.True(t, ok, "the claim expires after its ttl")
}

func TestDedupeMemoryExpiryFreesMemory(t *testing.T) {
	ctx := context.Background()
	d, advance := clockDeduper(0)
	for i := range 1000 {
		ok, _ := d.Claim(ctx, strconv.Itoa(i), time.Second)
		require.True(t, ok)
	}
	require.Len(t, d.items, 1000)
	advance(2 * time.Second)
	ok, _ := d.Claim(ctx, "x", time.Second)
	require.True(t, ok)
	require.Len(t, d.items, 1)
	require.LessOrEqual(t, len(d.queue)-d.head, 1)
}

func TestDedupeMemoryBounded(t *testing.T) {
	ctx := context.Background()
	d, _ := clockDeduper(3)
	for _, k := range []string{"a", "b", "c", "d"} {
		ok, _ := d.Claim(ctx, k, time.Hour)
		require.True(t, ok)
	}
	require.Len(t, d.items, 3)
	ok, _ := d.Claim(ctx, "a", time.Hour)
	require.True(t, ok, "the oldest claim was evicted to make room")
	ok, _ = d.Claim(ctx, "d", time.Hour)
	require.False(t, ok, "recent claims are kept")

	// Claim/release cycles do not grow the queue without bound.
	d2, _ := clockDeduper(10)
	for i := range 100_000 {
		k := strconv.Itoa(i % 7)
		ok, _ := d2.Claim(ctx, k, time.Hour)
		require.True(t, ok)
		require.NoError(t, d2.Release(ctx, k))
	}
	require.Empty(t, d2.items)
	require.Less(t, len(d2.queue), 1000)
}

func TestDedupeMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	d := NewMemoryDeduper(0)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if ok, err := d.Claim(ctx, "k"+strconv.Itoa(i), time.Minute); err == nil && ok {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 200, wins.Load(), "each key is won exactly once")
}

func TestMemoryDeduperTracksDone(t *testing.T) {
	t.Parallel()
	d, advance := clockDeduper(0)
	ctx := context.Background()
	ok, _ := d.Claim(ctx, "k", time.Minute)
	require.True(t, ok)
	p, _ := d.Processed(ctx, "k")
	require.False(t, p, "claimed, not yet done")
	require.NoError(t, d.Done(ctx, "k"))
	p, _ = d.Processed(ctx, "k")
	require.True(t, p)
	require.NoError(t, d.Done(ctx, "unclaimed"))
	p, _ = d.Processed(ctx, "unclaimed")
	require.False(t, p, "Done on an unclaimed key records nothing")
	advance(2 * time.Minute)
	p, _ = d.Processed(ctx, "k")
	require.False(t, p, "expired")
}
