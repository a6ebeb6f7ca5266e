// Package redisstore shares a wxinvoice.Client's access token and an
// EventHandler's dedupe records between the instances of a service through
// Redis, so that instances stop refreshing each other's tokens away (the
// "40001 invalid credential" of multi-instance deployments) and a push that
// WeChat retries against another instance runs its callback once.
//
// It works with anything that implements redis.UniversalClient: a single node
// (*redis.Client), Sentinel (redis.NewFailoverClient) or Cluster
// (*redis.ClusterClient). Every Store operation touches one key; an Inbox's
// scripts touch its stream and its dead-letter stream, which share a hash
// tag, so everything works on Cluster.
//
// Store.Inbox returns a durable wxinvoice.Inbox on Redis Streams for
// EventConfig.Inbox and wxinvoice.InboxWorker (see Inbox).
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"127.0.0.1:6379"},
//		ContextTimeoutEnabled: true, // let ctx deadlines interrupt a silent server
//	})
//	store := redisstore.New(rdb)
//	client, err := wxinvoice.New(appID, appSecret, wxinvoice.WithTokenStore(store))
//	handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{Token: token, Deduper: store})
//
// Key layout, with the default prefix "wxinvoice:":
//
//	wxinvoice:token:<key>   hash {value, expires_at}: the shared token; Redis TTL = ExpiresAt + 1 min
//	wxinvoice:lock:<key>    string (random owner id): the refresh lock, SET NX PX 10 s, renewed by its holder
//	wxinvoice:dedupe:<key>  string: the owner id of the lease on a push being processed (PX Lease(),
//	                        renewed while the callback runs), then "done" (PX the handler's DedupeTTL)
//	wxinvoice:inbox:{<name>}       stream: an Inbox's unprocessed pushes (consumer group "wxinvoice")
//	wxinvoice:inbox:{<name>}:dead  stream: its dead letters
//
// When Redis is unreachable every method returns an error (bounded by
// WithTimeout and the caller's ctx); the Client then keeps working with its
// in-process cache and logs a warning, and the EventHandler answers 503 so
// that WeChat pushes again. See docs/multi-instance.md.
package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
)

// Defaults of the Options.
const (
	// DefaultKeyPrefix is the prefix of every key the Store writes.
	DefaultKeyPrefix = "wxinvoice:"
	// DefaultTimeout bounds each Redis operation of the Store (see WithTimeout).
	DefaultTimeout = 2 * time.Second
	// DefaultLockTTL is how long a token lock outlives a holder that stopped
	// renewing it when LockToken is given no positive ttl (the Client always
	// gives one: 10 s).
	DefaultLockTTL = 10 * time.Second
	// TokenGrace is how long a stored token's key outlives the token's
	// ExpiresAt before Redis deletes it.
	TokenGrace = time.Minute
)

// Store is a wxinvoice.TokenStore and a wxinvoice.Deduper kept in Redis.
// Create one with New and share it between the Client and the EventHandler
// of a process; every instance of the service points at the same Redis with
// the same key prefix.
//
// Store is safe for concurrent use by multiple goroutines.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	lockTTL time.Duration // > 0: every lock lasts this long
	lease   time.Duration // a dedupe claim's lease
}

var (
	_ wxinvoice.TokenStore = (*Store)(nil)
	_ wxinvoice.Deduper    = (*Store)(nil)
)

// Option configures a Store in New.
type Option func(*Store)

// WithKeyPrefix sets the prefix of every key the Store writes (default
// "wxinvoice:"). Use one prefix per environment or per tenant when several
// share a Redis; instances that must share tokens need the same prefix.
func WithKeyPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithTimeout bounds each Redis operation of the Store, whatever the caller's
// ctx allows (default 2 s; zero or negative: the caller's ctx only), so that
// a Redis that is down costs the Client little before it falls back to its
// own cache. The deadline always bounds dialling and go-redis's retries; to
// interrupt a read already waiting on a server that stopped answering, create
// the client with ContextTimeoutEnabled: true (otherwise go-redis's
// ReadTimeout, 3 s by default, does).
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithLockTTL makes every token lock outlive its holder by at most d,
// whatever ttl LockToken is given (zero or negative: the caller's ttl,
// DefaultLockTTL if it gives none). The holder renews its lock every d/3
// until it unlocks, so a live holder keeps it however long its fetch takes,
// and the lock of a holder that died is free again within d: the other
// instances wait for the holder's token until then and then fetch
// themselves.
func WithLockTTL(d time.Duration) Option { return func(s *Store) { s.lockTTL = d } }

// WithDedupeLease sets how long a claim on a push lasts without renewal
// (default wxinvoice.DefaultDedupeLease, 4 s; zero or negative: the
// default). The EventHandler renews it every third of d while the callback
// runs; a lease whose owner died, or that a stalled Redis applied after the
// handler gave up, ends d later. Keep d under WeChat's 5 s between retries,
// so that at most one retry meets such a lease and the next one runs the
// callback, and well above the Store's round trip to Redis, so that
// renewals arrive in time.
func WithDedupeLease(d time.Duration) Option { return func(s *Store) { s.lease = d } }

// New returns a Store on rdb. rdb may be a single-node, Sentinel or Cluster
// client; the Store does not close it. New sends nothing to Redis.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultKeyPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	if s.lease <= 0 {
		s.lease = wxinvoice.DefaultDedupeLease
	}
	return s
}

// TokenKey returns the Redis key under which the token named key is stored
// (for inspection, e.g. with redis-cli HGETALL).
func (s *Store) TokenKey(key string) string { return s.prefix + "token:" + key }

// LockKey returns the Redis key of the refresh lock of the token named key.
func (s *Store) LockKey(key string) string { return s.prefix + "lock:" + key }

// DedupeKey returns the Redis key of the dedupe lease or record of the push
// named key.
func (s *Store) DedupeKey(key string) string { return s.prefix + "dedupe:" + key }

// op returns ctx bounded by the Store's timeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}
