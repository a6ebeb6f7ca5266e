package wxinvoice

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 12.3: a PushConfig formatted with any verb, or logged, shows neither
// its Token nor its EncodingAESKey.
func TestFormattedPushConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	const pushToken = "push-token-value"
	push := PushConfig{Token: pushToken, EncodingAESKey: vecKey, AppID: vecAppID, Nonce: "n1"}
	for name, v := range map[string]any{"PushConfig": push, "*PushConfig": &push} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range []string{pushToken, vecKey} {
				require.NotContains(t, out, s, "%s %s: %s", name, verb, out)
				require.NotContains(t, out, fmt.Sprintf("%x", s), "%s %s", name, verb)
			}
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "v", v)
		require.NotContains(t, logs.String(), pushToken, name)
		require.NotContains(t, logs.String(), vecKey, name)
	}
	require.Contains(t, fmt.Sprintf("%#v", push), `wxinvoice.PushConfig{Token:"REDACTED"`)
	require.Contains(t, fmt.Sprintf("%+v", push), "AppID:"+vecAppID)
	require.Contains(t, fmt.Sprintf("%v", PushConfig{}), "{ ", "unset credentials print empty")
}
