package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
)

// Every instance of the service runs this: one Store per process, shared by
// the Client (one access token for all instances) and the EventHandler (one
// callback per push, whichever instance WeChat's retries reach).
func ExampleNew() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"}, // several addresses: Cluster; with MasterName: Sentinel
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.WithKeyPrefix("myservice:wxinvoice:"))

	client, err := wxinvoice.New("wx0123456789abcdef", "app-secret",
		wxinvoice.WithTokenStore(store),
		wxinvoice.WithLogger(slog.Default()), // Redis failures are logged here; calls go on
	)
	if err != nil {
		log.Fatal(err)
	}
	handler, err := wxinvoice.NewEventHandler(wxinvoice.EventConfig{
		Token:   "push-token",
		Deduper: store, // Redis down: 503, and WeChat pushes again
		OnInvoiceStatus: func(ctx context.Context, ev *wxinvoice.InvoiceStatusEvent) error {
			log.Printf("invoice %s is now %s", ev.Code, ev.Status)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wechat/events", handler)
	_ = client // call its methods from any goroutine of any instance

	// Nothing has been sent to Redis yet (New sends nothing); the keys the
	// instances will share:
	fmt.Println(store.TokenKey("access_token:wx0123456789abcdef"))
	fmt.Println(store.LockKey("access_token:wx0123456789abcdef"))
	// Output:
	// myservice:wxinvoice:token:access_token:wx0123456789abcdef
	// myservice:wxinvoice:lock:access_token:wx0123456789abcdef
}
