package wxinvoice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/wxinvoicetest"
)

// platform is a third-party platform under test: the fake WeChat, a
// Component over it and its authorization event URL.
type platform struct {
	srv   *wxinvoicetest.Server
	app   wxinvoicetest.ComponentApp
	store wxinvoice.TokenStore
	cp    *wxinvoice.Component
	hc    *http.Client

	mu           sync.Mutex
	authorized   []wxinvoice.AuthorizationEvent
	unauthorized []string
	tickets      int
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	srv := wxinvoicetest.NewServer()
	t.Cleanup(srv.Close)
	// One transport for every client, whose idle connections are closed
	// before the server (else Close waits for connections dialed during
	// the stampede but never used).
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	p := &platform{srv: srv, app: srv.Component(), store: wxinvoice.NewMemoryTokenStore(), hc: hc}
	p.cp = p.instance(t)
	h, err := p.cp.EventHandler(wxinvoice.ComponentEventConfig{Token: p.app.Token, EncodingAESKey: p.app.EncodingAESKey,
		OnTicket: func(context.Context, *wxinvoice.ComponentTicketEvent) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.tickets++
			return nil
		},
		OnAuthorized: p.onAuthorized, OnUpdateAuthorized: p.onAuthorized,
		OnUnauthorized: func(_ context.Context, ev *wxinvoice.UnauthorizedEvent) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.unauthorized = append(p.unauthorized, ev.AuthorizerAppID)
			return nil
		}})
	require.NoError(t, err)
	events := httptest.NewServer(h)
	t.Cleanup(events.Close)
	srv.SetComponentPushURL(events.URL + "/wx/component")
	return p
}

func (p *platform) onAuthorized(_ context.Context, ev *wxinvoice.AuthorizationEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authorized = append(p.authorized, *ev)
	return nil
}

// instance returns another Component sharing the platform's TokenStore, as
// another process of the same service would.
func (p *platform) instance(t *testing.T) *wxinvoice.Component {
	t.Helper()
	cp, err := wxinvoice.NewComponent(p.app.AppID, p.app.AppSecret, wxinvoice.WithBaseURL(p.srv.URL),
		wxinvoice.WithTokenStore(p.store), wxinvoice.WithHTTPClient(p.hc),
		wxinvoice.WithRetryPolicy(wxinvoice.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	require.NoError(t, err)
	return cp
}

// inserted is an invoice insert made it.
type inserted struct{ CardID, Code string }

// insert puts one invoice into a user's card bag as the merchant behind c.
func insert(ctx context.Context, c *wxinvoice.Client, n int) (*inserted, error) {
	card, err := c.CreateCard(ctx, &wxinvoice.CreateCardRequest{Payee: "商户" + c.AppID(), Type: "增值税普通发票",
		BaseInfo: wxinvoice.CardBaseInfo{LogoURL: "http://mmbiz.qpic.cn/logo/0", Title: "商户"}})
	if err != nil {
		return nil, err
	}
	pdf, err := c.UploadPDF(ctx, "inv.pdf", bytes.NewReader([]byte("%PDF-1.4\n%%EOF\n")))
	if err != nil {
		return nil, err
	}
	inv, err := c.InsertInvoice(ctx, &wxinvoice.InsertInvoiceRequest{OrderID: fmt.Sprintf("%s-order-%d", c.AppID(), n),
		CardID: card.CardID, AppID: c.AppID(), Invoice: wxinvoice.InvoiceData{Fee: 100, Title: "某某公司",
			BillingTime: time.Now(), BillingNo: fmt.Sprintf("%s-%d", c.AppID(), n), BillingCode: "044001", PDFMediaID: pdf.SMediaID}})
	if err != nil {
		return nil, err
	}
	return &inserted{CardID: card.CardID, Code: inv.Code}, nil
}

// lastToken returns the access_token of the last call to path.
func lastToken(srv *wxinvoicetest.Server, path string) string {
	reqs := srv.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i].Query.Get("access_token")
		}
	}
	return ""
}

// TestComponentChain runs the whole third-party platform lifecycle against
// the fake: ticket push → component token → authorize → authorizer token →
// insert as the merchant → expiry and refresh → unauthorized → typed error
// → re-authorization.
func TestComponentChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPlatform(t)
	const merchant = "wxmerchant00000001"

	// No ticket yet: a clear error, nothing sent.
	_, err := p.cp.AccessToken(ctx)
	require.ErrorIs(t, err, wxinvoice.ErrComponentTicketMissing)
	require.Zero(t, p.srv.Calls("/cgi-bin/component/api_component_token"))

	// WeChat pushes the ticket; the component token follows from it.
	_, err = p.srv.PushComponentTicket()
	require.NoError(t, err)
	require.Equal(t, 1, p.tickets)
	ctok, err := p.cp.AccessToken(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, ctok)
	require.Equal(t, 1, p.srv.ComponentStats().ComponentTokens)

	// The merchant's admin opens the authorization page and authorizes.
	page, err := p.cp.AuthorizationURL(ctx, &wxinvoice.AuthorizationURLRequest{
		RedirectURI: "https://platform.example/wx/authorized", AuthType: wxinvoice.ComponentAuthOfficialAccount})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(page, "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid="+p.app.AppID+
		"&pre_auth_code=preauthcode%40%40%40"), page)
	code, err := p.srv.AuthorizeComponent(merchant)
	require.NoError(t, err)
	require.Len(t, p.authorized, 1)
	ev := p.authorized[0]
	require.Equal(t, wxinvoice.InfoTypeAuthorized, ev.InfoType)
	require.Equal(t, merchant, ev.AuthorizerAppID)
	require.Equal(t, code, ev.AuthorizationCode)
	require.True(t, ev.Authorization.HasPermission(wxinvoice.PermissionInvoice))
	require.Equal(t, 1, p.srv.ComponentStats().QueryAuths, "the handler exchanged the code")

	// The redirect's auth_code may be exchanged too (the fake allows it).
	a, err := p.cp.QueryAuth(ctx, code)
	require.NoError(t, err)
	require.Equal(t, merchant, a.AuthorizerAppID)

	// Invoices as the merchant, with its authorizer_access_token.
	client, err := p.cp.Client(merchant)
	require.NoError(t, err)
	inv, err := insert(ctx, client, 1)
	require.NoError(t, err)
	require.NotEmpty(t, inv.Code)
	who, ok := p.srv.AuthorizerOf(lastToken(p.srv, "/card/invoice/insert"))
	require.True(t, ok, "the insert used an authorizer token")
	require.Equal(t, merchant, who)
	require.Zero(t, p.srv.ComponentStats().AuthorizerRefreshes[merchant], "the exchanged token was used")

	// Two hours later every token has expired on WeChat's side: one
	// component token fetch and one authorizer refresh, then the call.
	p.srv.Advance(2*time.Hour + time.Minute)
	_, err = insert(ctx, client, 2)
	require.NoError(t, err)
	st := p.srv.ComponentStats()
	require.Equal(t, 1, st.AuthorizerRefreshes[merchant])
	require.Equal(t, 2, st.ComponentTokens)
	who, _ = p.srv.AuthorizerOf(lastToken(p.srv, "/card/invoice/insert"))
	require.Equal(t, merchant, who)

	// A second instance sharing the store receives no push and needs no
	// refresh: the tokens are shared.
	cp2 := p.instance(t)
	client2, err := cp2.Client(merchant)
	require.NoError(t, err)
	_, err = insert(ctx, client2, 3)
	require.NoError(t, err)
	require.Equal(t, st, p.srv.ComponentStats())

	// The merchant revokes the authorization: calls fail with a typed error,
	// without spending the dead refresh token.
	require.NoError(t, p.srv.Unauthorize(merchant))
	require.Equal(t, []string{merchant}, p.unauthorized)
	for _, c := range []*wxinvoice.Client{client, client2} {
		_, err = c.DecryptCode(ctx, p.srv.EncryptCode(inv.CardID, inv.Code))
		require.ErrorIs(t, err, wxinvoice.ErrAuthorizerRevoked)
	}
	require.Equal(t, 1, p.srv.ComponentStats().AuthorizerRefreshes[merchant])

	// Authorizing again makes the same clients work.
	_, err = p.srv.AuthorizeComponent(merchant)
	require.NoError(t, err)
	got, err := client2.DecryptCode(ctx, p.srv.EncryptCode(inv.CardID, inv.Code))
	require.NoError(t, err)
	require.Equal(t, inv.Code, got)
}

// TestComponentTicketExpiry: WeChat refuses a ticket older than 12 hours
// (61005) when no push arrived meanwhile; the next push restores service.
func TestComponentTicketExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPlatform(t)
	_, err := p.srv.PushComponentTicket()
	require.NoError(t, err)
	_, err = p.cp.AccessToken(ctx)
	require.NoError(t, err)
	p.srv.Advance(13 * time.Hour)
	_, err = p.cp.CreatePreAuthCode(ctx)
	require.ErrorIs(t, err, wxinvoice.ErrComponentTicketExpired)
	_, err = p.srv.PushComponentTicket()
	require.NoError(t, err)
	_, err = p.cp.CreatePreAuthCode(ctx)
	require.NoError(t, err)
}

// TestComponentUpdateAuthorized: the merchant changes its permission sets;
// WeChat revokes its tokens and issues a new refresh token, which the
// handler stores; calls keep working.
func TestComponentUpdateAuthorized(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPlatform(t)
	const merchant = "wxmerchant00000002"
	_, err := p.srv.PushComponentTicket()
	require.NoError(t, err)
	_, err = p.srv.AuthorizeComponent(merchant, wxinvoice.PermissionCard)
	require.NoError(t, err)
	require.False(t, p.authorized[0].Authorization.HasPermission(wxinvoice.PermissionInvoice))
	client, err := p.cp.Client(merchant)
	require.NoError(t, err)
	_, err = insert(ctx, client, 1)
	require.NoError(t, err)

	_, err = p.srv.AuthorizeComponent(merchant, wxinvoice.PermissionCard, wxinvoice.PermissionInvoice)
	require.NoError(t, err)
	require.Len(t, p.authorized, 2)
	require.Equal(t, wxinvoice.InfoTypeUpdateAuthorized, p.authorized[1].InfoType)
	require.True(t, p.authorized[1].Authorization.HasPermission(wxinvoice.PermissionInvoice))
	_, err = insert(ctx, client, 2)
	require.NoError(t, err)
	require.Zero(t, p.srv.ComponentStats().AuthorizerRefreshes[merchant], "the handler's exchange gave the new token")
}

// TestComponentRefreshTokenRecoveredFromList: the store lost the refresh
// token (here: a fresh store); the SDK reads it back from
// api_get_authorizer_list, stores it, and carries on.
func TestComponentRefreshTokenRecoveredFromList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPlatform(t)
	const merchant = "wxmerchant00000003"
	_, err := p.srv.PushComponentTicket()
	require.NoError(t, err)
	_, err = p.srv.AuthorizeComponent(merchant)
	require.NoError(t, err)

	lost := wxinvoice.NewMemoryTokenStore() // everything but the ticket is gone
	cp, err := wxinvoice.NewComponent(p.app.AppID, p.app.AppSecret, wxinvoice.WithBaseURL(p.srv.URL), wxinvoice.WithTokenStore(lost))
	require.NoError(t, err)
	h, err := cp.EventHandler(wxinvoice.ComponentEventConfig{Token: p.app.Token, EncodingAESKey: p.app.EncodingAESKey})
	require.NoError(t, err)
	events := httptest.NewServer(h)
	t.Cleanup(events.Close)
	p.srv.SetComponentPushURL(events.URL)
	_, err = p.srv.PushComponentTicket()
	require.NoError(t, err)

	client, err := cp.Client(merchant)
	require.NoError(t, err)
	_, err = insert(ctx, client, 1)
	require.NoError(t, err)
	require.Equal(t, 1, p.srv.Calls("/cgi-bin/component/api_get_authorizer_list"))
	require.Equal(t, 1, p.srv.ComponentStats().AuthorizerRefreshes[merchant])

	// An account that never authorized: a clear error.
	stranger, err := cp.Client("wxstranger00000000")
	require.NoError(t, err)
	_, err = stranger.DecryptCode(ctx, "x")
	require.ErrorIs(t, err, wxinvoice.ErrRefreshTokenMissing)
}

// TestComponentConcurrentAuthorizers: 300 concurrent calls for 3 merchants,
// from two instances sharing the store, right after every token expired on
// WeChat's side: exactly one refresh per merchant and one component token
// fetch in all.
func TestComponentConcurrentAuthorizers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPlatform(t)
	_, err := p.srv.PushComponentTicket()
	require.NoError(t, err)
	merchants := []string{"wxmerchant0000000a", "wxmerchant0000000b", "wxmerchant0000000c"}
	for _, m := range merchants {
		_, err := p.srv.AuthorizeComponent(m)
		require.NoError(t, err)
	}
	instances := []*wxinvoice.Component{p.cp, p.instance(t)}
	var clients []*wxinvoice.Client
	for _, cp := range instances {
		for _, m := range merchants {
			c, err := cp.Client(m)
			require.NoError(t, err)
			_, err = c.AccessToken(ctx) // warm: both instances hold the soon-expired tokens
			require.NoError(t, err)
			clients = append(clients, c)
		}
	}
	before := p.srv.ComponentStats()
	p.srv.Advance(2*time.Hour + time.Minute)
	encrypted := p.srv.EncryptCode("pcard", "123456789012")

	const calls = 300
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(c *wxinvoice.Client) {
			defer wg.Done()
			<-start
			if code, err := c.DecryptCode(ctx, encrypted); err != nil || code != "123456789012" {
				failed.Add(1)
				t.Log(err)
			}
		}(clients[i%len(clients)])
	}
	close(start)
	wg.Wait()
	require.Zero(t, failed.Load())
	st := p.srv.ComponentStats()
	for _, m := range merchants {
		require.Equal(t, 1, st.AuthorizerRefreshes[m], m)
	}
	require.Equal(t, before.ComponentTokens+1, st.ComponentTokens)
}

// TestComponentScheduledTickets: the fake pushes tickets on a schedule.
func TestComponentScheduledTickets(t *testing.T) {
	t.Parallel()
	p := newPlatform(t)
	stop := p.srv.StartComponentTicketPush(20 * time.Millisecond)
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.tickets >= 3
	}, 5*time.Second, 10*time.Millisecond)
	stop()
	_, err := p.cp.AccessToken(context.Background())
	require.NoError(t, err)
	for _, push := range p.srv.ComponentPushes() {
		require.True(t, push.Delivered)
		require.Equal(t, wxinvoice.InfoTypeComponentVerifyTicket, push.InfoType)
	}
	require.False(t, errors.Is(nil, wxinvoice.ErrComponentTicketMissing))
}
