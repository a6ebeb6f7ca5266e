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
	t    *testing.T
	bin  string
	dir  string
	Addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a redis-server for t. Without redis-server on PATH the
// test is skipped, except under CI=true, where it fails.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH; CI must install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not on PATH; install it (apt-get install -y redis-server) to run the redisstore tests")
	}
	r := &redisServer{t: t, bin: bin, dir: t.TempDir()}
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

func freePort(t *testing.T) int {
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
	cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir)
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
