package wxinvoice

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzComponentEventHandler feeds arbitrary decrypted messages to a
// component's authorization-event URL (encrypted and signed as WeChat
// would): the answer is one of the documented statuses, never a panic.
func FuzzComponentEventHandler(f *testing.F) {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for _, s := range []string{
		"<xml><AppId><![CDATA[" + compAppID + "]]></AppId><CreateTime>" + now + "</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@x]]></ComponentVerifyTicket></xml>",
		"<xml><AppId>" + compAppID + "</AppId><CreateTime>" + now + "</CreateTime><InfoType>authorized</InfoType><AuthorizerAppid>wxa</AuthorizerAppid><AuthorizationCode>c</AuthorizationCode><AuthorizationCodeExpiredTime>1</AuthorizationCodeExpiredTime></xml>",
		"<xml><AppId>" + compAppID + "</AppId><CreateTime>" + now + "</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wxa</AuthorizerAppid></xml>",
		"<xml><InfoType>notify_third_fasteregister</InfoType></xml>", "<xml/>", "", "<!DOCTYPE x><xml/>",
	} {
		f.Add(s)
	}
	// Nothing listens on the base URL: a code exchange fails at once.
	cp, err := NewComponent(compAppID, compSecret, WithBaseURL("http://127.0.0.1:1"),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		f.Fatal(err)
	}
	pc := PushConfig{Token: "ctoken", EncodingAESKey: vecKey, AppID: compAppID}
	h, err := cp.EventHandler(ComponentEventConfig{Token: pc.Token, EncodingAESKey: pc.EncodingAESKey})
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[int]bool{http.StatusOK: true, http.StatusBadRequest: true, http.StatusForbidden: true,
		http.StatusInternalServerError: true, http.StatusServiceUnavailable: true}
	f.Fuzz(func(t *testing.T, msg string) {
		req, err := NewPushRequest(context.Background(), "http://platform.example/wx/component", pc, []byte(msg))
		if err != nil {
			return
		}
		if rec := serve(h, req); !allowed[rec.Code] {
			t.Fatalf("status %d for %q", rec.Code, msg)
		}
	})
}
