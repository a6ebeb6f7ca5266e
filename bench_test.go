package wxinvoice

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// The benchmarks compare the SDK with the practical floor: a hand-written
// net/http + encoding/json call doing the same request against the same
// in-process server, in the same run. Compare the two sides in interleaved
// rounds (internal/bench/interleave.sh), or with benchstat:
//
//	go test -run '^$' -bench 'Insert|Upload' -benchmem -count 6 . > bench.txt
//	benchstat -col /client bench.txt
//
// internal/bench/peers measures InsertInvoice against the floor and peer
// SDKs with the server in another process, for client-only allocations.

const benchInsertResponse = `{"errcode":0,"errmsg":"ok","code":"682xxxx661927","openid":"ojZ8Ytz4lESxxxx_R1TvB2Kds"}`

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/card/invoice/platform/setpdf" {
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","s_media_id":"3015806758683707"}`)
			return
		}
		_, _ = io.WriteString(w, benchInsertResponse)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchTransport is what both clients use: the same pool settings.
func benchTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// baselineInsert is the floor: marshal, POST, decode, check errcode.
func baselineInsert(hc *http.Client, base, token string, req *wire.InsertRequest) (*wire.InsertResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Post(base+"/card/invoice/insert?access_token="+url.QueryEscape(token), "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out wire.InsertResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if out.ErrCode != 0 {
		return nil, &APIError{Code: int(out.ErrCode), Msg: out.ErrMsg}
	}
	return &out, nil
}

func benchInsertRequest() *InsertInvoiceRequest {
	r := sampleInsert()
	r.Invoice.Items = append(r.Invoice.Items, InvoiceItem{Name: "牙刷", Num: 2, Unit: "支", Price: 500}, InvoiceItem{Name: "毛巾", Num: 1, Unit: "条", Price: 1500})
	r.Invoice.SellerNumber, r.Invoice.SellerAddressAndPhone = "91440300MA5XXXXXX", "深圳市南山区 0755-12345678"
	r.Invoice.Remarks, r.Invoice.Cashier, r.Invoice.Maker = "备注", "张三", "李四"
	return r
}

// wireOf mirrors what InsertInvoice sends, for the baseline.
func wireOf(r *InsertInvoiceRequest) *wire.InsertRequest {
	inv := r.Invoice
	return &wire.InsertRequest{OrderID: r.OrderID, CardID: r.CardID, AppID: r.AppID, CardExt: wire.CardExt{NonceStr: r.NonceStr,
		UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{Fee: inv.Fee, Title: inv.Title,
			BillingTime: wire.Int(inv.BillingTime.Unix()), BillingNo: inv.BillingNo, BillingCode: inv.BillingCode,
			Info: wireItems(inv.Items), FeeWithoutTax: &inv.FeeWithoutTax, Tax: &inv.Tax, SPDFMediaID: inv.PDFMediaID,
			BuyerNumber: inv.BuyerNumber, SellerNumber: inv.SellerNumber, SellerAddressAndPhone: inv.SellerAddressAndPhone,
			Remarks: inv.Remarks, Cashier: inv.Cashier, Maker: inv.Maker}}}}
}

func BenchmarkInsert(b *testing.B) {
	srv := benchServer(b)
	req := benchInsertRequest()
	b.Run("client=nethttp", func(b *testing.B) {
		hc := &http.Client{Transport: benchTransport()}
		w := wireOf(req)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := baselineInsert(hc, srv.URL, testToken, w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client=sdk", func(b *testing.B) {
		c, err := New(testAppID, "", WithBaseURL(srv.URL), WithTokenSource(StaticTokenSource(testToken)),
			WithHTTPClient(&http.Client{Transport: benchTransport()}))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.InsertInvoice(bg, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkInsertParallel shows the cached-token path adds no contention.
func BenchmarkInsertParallel(b *testing.B) {
	srv := benchServer(b)
	req := benchInsertRequest()
	c, err := New(testAppID, "", WithBaseURL(srv.URL), WithTokenSource(StaticTokenSource(testToken)),
		WithHTTPClient(&http.Client{Transport: benchTransport()}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.InsertInvoice(bg, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAccessTokenCached is the cost of the cache hit alone.
func BenchmarkAccessTokenCached(b *testing.B) {
	c, _ := New(testAppID, "", WithTokenSource(StaticTokenSource(testToken)))
	_, _ = c.AccessToken(bg)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.tokens.get(bg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpload(b *testing.B) {
	srv := benchServer(b)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0123456789abcdef"), 64<<10)...) // 1 MiB
	b.Run("client=nethttp", func(b *testing.B) {
		hc := &http.Client{Transport: benchTransport()}
		b.SetBytes(int64(len(pdf)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var body bytes.Buffer // the common hand-written way: build the multipart body in memory
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("pdf", "a.pdf")
			_, _ = fw.Write(pdf)
			_ = mw.Close()
			resp, err := hc.Post(srv.URL+"/card/invoice/platform/setpdf?access_token="+testToken, mw.FormDataContentType(), &body)
			if err != nil {
				b.Fatal(err)
			}
			var out wire.SetPDFResponse
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
	})
	b.Run("client=sdk", func(b *testing.B) {
		c, _ := New(testAppID, "", WithBaseURL(srv.URL), WithTokenSource(StaticTokenSource(testToken)),
			WithHTTPClient(&http.Client{Transport: benchTransport()}))
		b.SetBytes(int64(len(pdf)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.UploadPDF(bg, "a.pdf", bytes.NewReader(pdf)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
