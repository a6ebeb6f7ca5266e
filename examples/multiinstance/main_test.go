//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// refusedAddr returns a loopback address where connections are refused: a
// socket bound to it, never listening, keeps the port reserved.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

func TestRunRedisUnreachable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	start := time.Now()
	err := run(context.Background(), refusedAddr(t), &out)
	require.ErrorIs(t, err, errRedisUnreachable)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Empty(t, out.String())
}

// TestRun runs the example against a redis-server of its own (see
// redisstore's tests for the full helper; the same CI rule applies).
func TestRun(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH; CI must install it")
		}
		t.Skip("redis-server is not on PATH")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)

	var out bytes.Buffer
	err = run(context.Background(), addr, &out)
	if errors.Is(err, errRedisUnreachable) { // accepting connections before it answers: retry once
		time.Sleep(200 * time.Millisecond)
		out.Reset()
		err = run(context.Background(), addr, &out)
	}
	require.NoError(t, err)
	require.Contains(t, out.String(), "sharing through Redis at "+addr+": 2 token fetches (one per token), both instances on one token: true")
	require.Contains(t, out.String(), "without a shared store: 4 token fetches")
}
