package wxinvoice

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestComponentEventKeysHoldNoSecrets: the dedupe key of a component push is
// logged when its handling fails and is stored as is by a shared Deduper
// (a Redis key name), so it must not carry the component_verify_ticket or
// the authorization code.
func TestComponentEventKeysHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &prefixFailStore{TokenStore: NewMemoryTokenStore()}
	ct := newCompTest(t, WithTokenStore(store), WithLogger(logger))
	store.prefix = "component_verify_ticket:"
	var refreshes atomic.Int64
	ct.authorizerEndpoints(t, &refreshes)
	d := &recordingDeduper{Deduper: NewMemoryDeduper(0)}
	h, err := ct.cp.EventHandler(ComponentEventConfig{Token: "ctoken", EncodingAESKey: vecKey, Deduper: d, Logger: logger,
		OnAuthorized: func(context.Context, *AuthorizationEvent) error { return errors.New("db down") }})
	require.NoError(t, err)
	pc := PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}
	now := itoa64(time.Now().Unix())
	const ticket, code = "ticket@@@SECRET-TICKET-VALUE", "auth_code_value"

	// The store refuses the ticket, and the authorized callback fails: both
	// answer 5xx and log the failure with the key.
	rec := serve(h, compPush(t, pc, "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>"+now+
		"</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA["+ticket+
		"]]></ComponentVerifyTicket></xml>"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	rec = serve(h, compPush(t, pc, "<xml><AppId><![CDATA[appid_value]]></AppId><CreateTime>"+now+
		"</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[wxf8b4f85f3a794e77]]></AuthorizerAppid>"+
		"<AuthorizationCode><![CDATA["+code+"]]></AuthorizationCode><AuthorizationCodeExpiredTime>600</AuthorizationCodeExpiredTime></xml>"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	require.Len(t, d.keys, 2)
	require.Contains(t, logs.String(), "event callback failed")
	for _, s := range append(d.keys, logs.String()) {
		require.NotContains(t, s, "SECRET-TICKET-VALUE")
		require.NotContains(t, s, code)
	}
}
