package wxinvoice_test

// Fake-server tests that close the gaps of docs/coverage.md: endpoints whose
// other tests run only against per-test httptest servers.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// TestFakeLegacyTokenEndpoint: GET /cgi-bin/token (WithLegacyTokenEndpoint).
func TestFakeLegacyTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	c, err := wxinvoice.New(srv.AppID, srv.AppSecret, wxinvoice.WithBaseURL(srv.URL), wxinvoice.WithLegacyTokenEndpoint())
	require.NoError(t, err)
	su, err := c.SetURL(bg)
	require.NoError(t, err)
	require.Equal(t, srv.SPAppID(), su.SPAppID)
	st := srv.TokenStats()
	require.Equal(t, 1, st.Token)
	require.Zero(t, st.Stable)
}

// TestFakeComponentStartPushTicket: POST /cgi-bin/component/api_start_push_ticket.
func TestFakeComponentStartPushTicket(t *testing.T) {
	t.Parallel()
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	app := srv.Component()
	cp, err := wxinvoice.NewComponent(app.AppID, app.AppSecret, wxinvoice.WithBaseURL(srv.URL))
	require.NoError(t, err)
	require.NoError(t, cp.StartPushTicket(bg))
	require.Equal(t, 1, srv.Calls("/cgi-bin/component/api_start_push_ticket"))

	bad, err := wxinvoice.NewComponent(app.AppID, "wrong-secret", wxinvoice.WithBaseURL(srv.URL))
	require.NoError(t, err)
	var apiErr *wxinvoice.APIError
	require.ErrorAs(t, bad.StartPushTicket(bg), &apiErr)
}
