package wxinvoice

import (
	"errors"
	"testing"
)

// TestComponentClientRefusesTokenOptions: the authorizer's token comes from
// the Component, so token options given to Client are refused, not ignored.
func TestComponentClientRefusesTokenOptions(t *testing.T) {
	cp, err := NewComponent("wxcomponent000001", "component-secret")
	if err != nil {
		t.Fatal(err)
	}
	for name, opt := range map[string]Option{
		"WithTokenSource": WithTokenSource(StaticTokenSource("t")),
		"WithTokenStore":  WithTokenStore(NewMemoryTokenStore()),
	} {
		_, err := cp.Client("wxauthorizer00001", opt)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "opts" {
			t.Errorf("%s: err = %v, want a ValidationError for opts", name, err)
		}
	}
	c, err := cp.Client("wxauthorizer00001", WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	if err != nil || c.tokens.kind != "authorizer_access_token" {
		t.Fatalf("Client = %v, %v", c, err)
	}
}
