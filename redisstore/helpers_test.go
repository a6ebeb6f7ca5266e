//go:build unix

package redisstore_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisServer is a redis-server process of the test's own, on a loopback
// port, with no persistence, stopped in Cleanup.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	args func(port int) []string // extra arguments
	conf string                  // config file, first argument, if any
	Addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a redis-server for t. Without redis-server on PATH the
// test is skipped, except under CI=true, where it fails.
func startRedis(t testing.TB) *redisServer { t.Helper(); return startRedisArgs(t, nil) }

// lookPath finds a Redis binary: skip without it, fail under CI=true.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not on PATH; CI must install it (apt-get install -y redis-server)", name)
		}
		t.Skipf("%s is not on PATH; install it (apt-get install -y redis-server) to run the redisstore tests", name)
	}
	return bin
}

// startRedisArgs is startRedis with extra redis-server arguments.
func startRedisArgs(t testing.TB, args func(port int) []string) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: lookPath(t, "redis-server"), dir: t.TempDir(), args: args}
	t.Cleanup(r.Stop)
	var lastErr error
	for range 5 { // another test may take the free port before redis binds it
		port := freePort(t)
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = r.start(); lastErr == nil {
			return r
		}
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// refusedAddr returns a loopback address where connections are refused, as
// with a Redis that is down: a socket bound to it, never listening, keeps
// the port from being handed to anyone else until the test ends.
func refusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// start runs redis-server on r.Addr and waits for PING.
func (r *redisServer) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	logPath := filepath.Join(r.dir, "redis-"+port+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(args, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if r.args != nil {
		p, _ := strconv.Atoi(port)
		args = append(args, r.args(p)...)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			return &startError{string(out)}
		default:
		}
		if ping(r.Addr) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Stop()
	return &startError{"no PONG within 10 s"}
}

type startError struct{ log string }

func (e *startError) Error() string { return "redis-server exited: " + strings.TrimSpace(e.log) }

// ping sends an inline PING and expects +PONG.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Stop kills the server (as a crash would) and waits for it to exit. It is
// a no-op when the server is not running.
func (r *redisServer) Stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts the server again on the same port, empty (no persistence).
func (r *redisServer) Restart() {
	r.t.Helper()
	var err error
	for range 50 { // the port is ours, but give the kernel a moment if needed
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("redis-server did not restart on %s: %v", r.Addr, err)
}

// Pause freezes the server (SIGSTOP): connections are accepted by the kernel
// but never answered, as with a hung or partitioned Redis. Resume undoes it.
func (r *redisServer) Pause()  { r.signal(syscall.SIGSTOP) }
func (r *redisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *redisServer) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}

// startCluster starts a Redis Cluster of three masters and returns their
// addresses (a redis.UniversalClient given several addresses is a
// *redis.ClusterClient).
func startCluster(t *testing.T) []string {
	t.Helper()
	cli := lookPath(t, "redis-cli")
	var addrs []string
	for range 3 {
		r := startRedisArgs(t, func(int) []string {
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(freePort(t)), "--cluster-node-timeout", "5000"}
		})
		addrs = append(addrs, r.Addr)
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-yes")...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, a := range addrs {
		require.Eventually(t, func() bool {
			rdb := redis.NewClient(&redis.Options{Addr: a})
			defer rdb.Close()
			info, err := rdb.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}, 20*time.Second, 50*time.Millisecond, "cluster did not converge")
	}
	return addrs
}

// startSentinel starts a master and one Sentinel monitoring it as
// "mymaster", and returns the Sentinel's address.
func startSentinel(t *testing.T) string {
	t.Helper()
	master := startRedis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	conf := filepath.Join(t.TempDir(), "sentinel.conf") // Sentinel rewrites it
	require.NoError(t, os.WriteFile(conf, []byte("sentinel monitor mymaster "+host+" "+port+" 1\n"), 0o600))
	r := &redisServer{t: t, bin: master.bin, dir: t.TempDir(), conf: conf,
		args: func(int) []string { return []string{"--sentinel"} }}
	t.Cleanup(r.Stop)
	var err error
	for range 5 {
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if err = r.start(); err == nil {
			return r.Addr
		}
	}
	t.Fatalf("redis-server --sentinel did not start: %v", err)
	return ""
}

// Client returns a new go-redis client for the server (a separate connection
// pool, as a separate instance of a service would have), closed in Cleanup.
func (r *redisServer) Client() redis.UniversalClient {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{r.Addr}, ContextTimeoutEnabled: true})
	r.t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// waitHealthy waits until rdb answers again (after Restart go-redis may
// fast-fail for up to a second while it re-dials in the background).
func waitHealthy(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return rdb.Ping(ctx).Err() == nil
	}, 15*time.Second, 50*time.Millisecond, "redis client did not reconnect")
}

// logBuffer collects slog output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
