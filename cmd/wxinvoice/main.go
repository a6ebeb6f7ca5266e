// Command wxinvoice is the WeChat e-invoice (微信电子发票) CLI for invoicing
// platform operators and support staff: every SDK endpoint from the shell, a
// batch PDF uploader that can resume, and `wxinvoice sandbox`, the fake WeChat
// server as a standalone process.
//
//	go install github.com/wxinvoice/wxinvoice/cmd/wxinvoice@latest
//	export WECHAT_APPID=wx... WECHAT_APPSECRET=...
//	wxinvoice status --card-id pXXXX --code 123456789012 --set cancel
//
// Run `wxinvoice --help` for the commands and docs/cli.md for a session.
// Exit codes: 0 success, 1 other failure, 2 usage or validation, 3 WeChat
// errcode, 4 transport, 5 write sent but outcome unknown, 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
