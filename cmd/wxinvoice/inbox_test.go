//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/redisstore"
)

// startRedis starts a redis-server with password pw on a free loopback port
// for t and returns its address. Without redis-server the test is skipped,
// except under CI=true.
func startRedis(t *testing.T, pw string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH; CI must install it")
		}
		t.Skip("redis-server is not on PATH")
	}
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--requirepass", pw)
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL); <-exited })
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			select {
			case <-exited:
			default:
				if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
					_ = c.SetDeadline(time.Now().Add(time.Second))
					_, _ = c.Write([]byte("PING\r\n"))
					line, _ := bufio.NewReader(c).ReadString('\n')
					c.Close()
					if strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH") {
						return addr
					}
				}
				continue
			}
			break
		}
	}
	t.Fatal("redis-server did not start")
	return ""
}

func TestInboxCommands(t *testing.T) {
	const pw = "s3cret-redis-pass"
	addr := startRedis(t, pw)
	url := "redis://:" + pw + "@" + addr + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: pw})
	t.Cleanup(func() { _ = rdb.Close() })
	in, err := redisstore.New(rdb).Inbox("")
	require.NoError(t, err)
	ctx := context.Background()
	for _, k := range []string{"k1", "k2"} {
		require.NoError(t, in.Append(ctx, wxinvoice.Envelope{Kind: wxinvoice.EventUpdateInvoiceStatus, Key: k,
			Payload: []byte("<xml>personal data</xml>"), Received: time.Unix(1714500000, 0)}))
	}
	got, err := in.Read(ctx, "w", 1, 0)
	require.NoError(t, err)
	got[0].Attempts = 5
	require.NoError(t, in.DeadLetter(ctx, got[0], "ERP down"))

	env := map[string]string{envRedisURL: url}
	r := cli(t, env, "", "inbox", "stats", "-o", "json")
	requireOK(t, r)
	var st wxinvoice.InboxStats
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Equal(t, wxinvoice.InboxStats{Length: 1, Lag: 1, DeadLetters: 1}, st)

	r = cli(t, env, "", "inbox", "deadletters", "-o", "json")
	requireOK(t, r)
	var rows []deadLetterRow
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	require.Len(t, rows, 1)
	require.Equal(t, "k1", rows[0].Key)
	require.Equal(t, got[0].ID, rows[0].EntryID)
	require.Equal(t, 5, rows[0].Attempts)
	require.Equal(t, "ERP down", rows[0].Reason)
	require.NotContains(t, r.stdout, "personal data")

	table := cli(t, env, "", "inbox", "deadletters")
	requireOK(t, table)
	require.Contains(t, table.stdout, "ERP down")

	r = cli(t, map[string]string{}, "", "inbox", "replay", rows[0].ID, "--redis", url, "-o", "json")
	requireOK(t, r)
	var rr replayResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rr))
	require.Equal(t, rows[0].ID, rr.DeadLetter)
	require.NotEmpty(t, rr.ID)

	r = cli(t, env, "", "inbox", "stats", "-o", "json")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Equal(t, wxinvoice.InboxStats{Length: 2, Lag: 2}, st)

	// Failures: an unknown dead letter (1), no Redis configured (2), a bad URL (2).
	bad := cli(t, env, "", "inbox", "replay", "1-1")
	require.Equal(t, exitFailure, bad.code)
	require.Contains(t, bad.stderr, "no such dead letter")
	none := cli(t, map[string]string{}, "", "inbox", "stats")
	require.Equal(t, exitUsage, none.code)
	require.Contains(t, none.stderr, envRedisURL)
	badURL := cli(t, map[string]string{envRedisURL: "http://x"}, "", "inbox", "stats")
	require.Equal(t, exitUsage, badURL.code)
	wrongPW := cli(t, map[string]string{envRedisURL: "redis://:wrong-password-1@" + addr}, "", "inbox", "stats")
	require.Equal(t, exitFailure, wrongPW.code)
	for _, res := range []result{r, table, bad, none, badURL, wrongPW} {
		require.NotContains(t, res.stdout+res.stderr, pw)
		require.NotContains(t, res.stdout+res.stderr, "wrong-password-1")
	}
}
