package wxinvoicetest

import (
	"slices"
	"testing"
)

// TestControlSecretsCoverBearerLinks: the WeChat Pay download and title
// tokens (bearer links to a user's files and forms), the merchants' APIv3
// keys and the push config's Token and EncodingAESKey are among the values
// the control API blanks in recorded requests.
func TestControlSecretsCoverBearerLinks(t *testing.T) {
	srv := NewServer(WithControlAPI(), WithEventPush("http://127.0.0.1:1/", PushConfig{Token: "push-token-value",
		EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", AppID: "wx1"}))
	defer srv.Close()
	srv.Fapiao()
	srv.mu.Lock()
	srv.fapiaoSt.downloads["download-token-0123456789"] = &fapiaoDownload{}
	srv.fapiaoSt.titleLinks["title-token-0123456789"] = &fapiaoTitleLink{}
	srv.fapiaoSt.merchants["1900000001"] = &fapiaoMerchant{FapiaoMerchant: FapiaoMerchant{APIv3Key: "apiv3-key-0123456789abcdef012345"}}
	srv.mu.Unlock()
	got := srv.secrets()
	for _, want := range []string{"download-token-0123456789", "title-token-0123456789", "apiv3-key-0123456789abcdef012345",
		"push-token-value", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"} {
		if !slices.Contains(got, want) {
			t.Errorf("secrets() lacks %q", want)
		}
	}
	if r := redact("GET /invoicing/fapiao/fapiao-file?token=download-token-0123456789", got); r == "GET /invoicing/fapiao/fapiao-file?token=download-token-0123456789" {
		t.Errorf("the download token is not blanked: %s", r)
	}
}
