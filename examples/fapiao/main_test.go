package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestFapiaoExample runs the example against the built-in fake: every step
// and every callback of the lifecycle shows in its output.
func TestFapiaoExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"built-in fake",
		"callback_url http://",
		"card_id p",
		"callback FAPIAO.USER_APPLIED",
		"phone [redacted] (decrypted: 11 digits",
		"issue: HTTP 202",
		"callback FAPIAO.ISSUED: FP0001 ISSUED, card INSERTED",
		"query: FP0001 ISSUED",
		"download: FP0001.pdf",
		"verified",
		"reverse: HTTP 202",
		"callback FAPIAO.REVERSED: FP0001 REVERSED, card DISCARDED",
		"Done",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
