package fapiao_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxinvoice/wxinvoice/fapiao"
	"github.com/wxinvoice/wxinvoice/redisstore"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// startRedis starts a redis-server of the test's own; without one on PATH
// the test is skipped, except in CI.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH; CI must install it")
		}
		t.Skip("redis-server is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rdb
}

// TestE2ERedisDedupeAcrossInstances: two NotifyHandler instances behind a
// load balancer share a redisstore Deduper. The first delivery runs on
// instance A but its answer is lost (the balancer answers 502); WeChat
// Pay's retry reaches instance B, which acknowledges it without running the
// callback again.
func TestE2ERedisDedupeAcrossInstances(t *testing.T) {
	rdb := startRedis(t)
	e := newE2E(t)
	ctx := context.Background()
	keyID, pub := e.fp.PublicKey()

	var ran [2]atomic.Int32
	instance := func(i int) http.Handler {
		h, err := fapiao.NewNotifyHandler(fapiao.NotifyConfig{APIv3Key: e2eAPIv3Key, WechatPayPublicKeyID: keyID,
			WechatPayPublicKey: pub, Deduper: redisstore.New(rdb),
			OnUserApplied: func(context.Context, *fapiao.UserAppliedEvent) error { ran[i].Add(1); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := instance(0), instance(1)
	var n atomic.Int32
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			a.ServeHTTP(httptest.NewRecorder(), r) // A handles it; its answer is lost
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		b.ServeHTTP(w, r)
	}))
	defer lb.Close()

	must(e.mch.UpdateDevelopmentConfig(ctx, &fapiao.UpdateDevelopmentConfigRequest{CallbackURL: lb.URL})).ok(t)
	e.fp.SetRetrySchedule(15 * time.Second)
	must(e.fp.UserApply(wxinvoicetest.FapiaoUserApply{MchID: e2eMchID, Amount: 100,
		Title: wxinvoicetest.FapiaoTitle{Type: "INDIVIDUAL", Name: "赵六"}})).ok(t)
	e.fp.WaitCallbacks()
	e.srv.Advance(15 * time.Second)
	e.fp.WaitCallbacks()

	cbs := e.fp.Callbacks()
	cb := cbs[len(cbs)-1]
	if !cb.Delivered || len(cb.Attempts) != 2 || cb.Attempts[0].StatusCode != http.StatusBadGateway || cb.Attempts[1].StatusCode != http.StatusNoContent {
		t.Fatalf("attempts %+v", cb.Attempts)
	}
	if ran[0].Load() != 1 || ran[1].Load() != 0 {
		t.Fatalf("callback ran %d times on A and %d on B; want once, on A", ran[0].Load(), ran[1].Load())
	}
}
