package fapiao

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
)

// benchServer answers every POST with a signed 202, as WeChat Pay answers
// fapiao-applications. The answer's signature is computed once per second
// (both clients verify it), so the server's own RSA work does not swamp
// what is measured.
func benchServer(b *testing.B) *httptest.Server {
	var mu sync.Mutex
	var sec int64
	var hdr map[string]string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().Unix()
		mu.Lock()
		if now != sec {
			sec, hdr = now, signAnswer(b, testPubKeyID, now, "bench-nonce-"+strconv.FormatInt(now, 10), nil)
		}
		h := hdr
		mu.Unlock()
		r.Body.Close()
		for k, v := range h {
			w.Header().Set(k, v)
		}
		w.Header().Set("Request-Id", "bench")
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(s.Close)
	return s
}

// benchIssue is an Issue without sensitive fields, so both clients do the
// same work: marshal, sign, send, verify the 202.
func benchIssue() *IssueRequest {
	r := validIssue()
	r.BuyerInformation.Phone, r.BuyerInformation.Email = "", ""
	return r
}

func newTransport() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// BenchmarkIssueRoundTrip compares one signed Issue (E08) round trip of this
// package with wechatpay-go's own core.Client posting the same body to the
// same in-process server.
func BenchmarkIssueRoundTrip(b *testing.B) {
	loadTestKeys(b)
	s := benchServer(b)
	ctx := context.Background()
	req := benchIssue()

	b.Run("fapiao", func(b *testing.B) {
		c, err := New("1900000001", WithMerchantKey(testSerial, testPriv), WithWechatPayPublicKey(testPubKeyID, testPub),
			WithBaseURL(s.URL), WithHTTPClient(newTransport()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := 0; i < b.N; i++ {
			if _, err := c.Issue(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("wechatpay-go", func(b *testing.B) {
		c, err := core.NewClient(ctx,
			option.WithWechatPayPublicKeyAuthCipher("1900000001", testSerial, testPriv, testPubKeyID, testPub),
			option.WithHTTPClient(newTransport()))
		if err != nil {
			b.Fatal(err)
		}
		u := s.URL + "/v3/new-tax-control-fapiao/fapiao-applications"
		if res, err := c.Post(ctx, u, req); err != nil || res.Response.StatusCode != http.StatusAccepted {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := 0; i < b.N; i++ {
			res, err := c.Post(ctx, u, req)
			if err != nil {
				b.Fatal(err)
			}
			res.Response.Body.Close()
		}
		reportCPU(b, cpu)
	})
}

// BenchmarkSign measures the RSA-2048 signature of one Issue request alone,
// the dominant cost of a round trip.
func BenchmarkSign(b *testing.B) {
	loadTestKeys(b)
	body, err := jsonBody(benchIssue())
	if err != nil {
		b.Fatal(err)
	}
	s := &signer{mchID: "1900000001", serial: testSerial, key: testPriv}
	b.ReportAllocs()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := s.authorization("POST", "/v3/new-tax-control-fapiao/fapiao-applications", 1554208460, dNonce, body); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkVerify measures the verification of one signed answer (RSA
// public-key operation).
func BenchmarkVerify(b *testing.B) {
	kr := testKeyring(b, true, false)
	h := header(signAnswer(b, testPubKeyID, 1554208460, "n", nil))
	now := time.Unix(1554208460, 0)
	b.ReportAllocs()
	cpu := processCPU()
	defer reportCPU(b, cpu)
	for i := 0; i < b.N; i++ {
		sh, err := kr.checkHeaders(h, now, DefaultTimestampWindow)
		if err != nil {
			b.Fatal(err)
		}
		if err := sh.verifyBody(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process CPU time per operation since start (client,
// in-process server and runtime together), as cpu-ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
