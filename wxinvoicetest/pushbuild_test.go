package wxinvoicetest

import (
	"fmt"
	"strings"
	"testing"
)

// TestPushConfigFormatHidesSecrets: a PushConfig printed with any verb shows
// neither its Token nor its EncodingAESKey.
func TestPushConfigFormatHidesSecrets(t *testing.T) {
	cfg := PushConfig{Token: "push-token-secret", EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", AppID: "wx1"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(verb, cfg) + fmt.Sprintf(verb, &cfg)
		if strings.Contains(out, cfg.Token) || strings.Contains(out, cfg.EncodingAESKey) {
			t.Errorf("%s prints a secret: %s", verb, out)
		}
	}
}
