package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

func TestQuickstartEmbeddedFake(t *testing.T) {
	t.Setenv("WECHAT_APPID", "")
	t.Setenv("WECHAT_APPSECRET", "")
	t.Setenv("WXINVOICE_BASE_URL", "")
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"built-in fake", "reimburser locks", "INVOICE_REIMBURSE_LOCK", "INVOICE_REIMBURSE_CANCEL", "Done"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestQuickstartBaseURL runs the quickstart against a server given by
// WXINVOICE_BASE_URL, as a user following the sandbox's banner does: every
// call must reach that server, none the real WeChat.
func TestQuickstartBaseURL(t *testing.T) {
	srv := wxinvoicetest.NewServer()
	defer srv.Close()
	t.Setenv("WECHAT_APPID", srv.AppID)
	t.Setenv("WECHAT_APPSECRET", srv.AppSecret)
	t.Setenv("WXINVOICE_BASE_URL", srv.URL)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), srv.URL) || !strings.Contains(out.String(), "Done") {
		t.Fatalf("output:\n%s", out.String())
	}
	if n := len(srv.Requests()); n < 8 {
		t.Fatalf("the server at WXINVOICE_BASE_URL saw %d requests, want every call", n)
	}
}

func TestQuickstartBaseURLNeedsCredentials(t *testing.T) {
	t.Setenv("WECHAT_APPID", "")
	t.Setenv("WECHAT_APPSECRET", "")
	t.Setenv("WXINVOICE_BASE_URL", "http://127.0.0.1:1")
	err := run(context.Background(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "WECHAT_APPID") {
		t.Fatalf("err = %v, want one naming WECHAT_APPID", err)
	}
}
