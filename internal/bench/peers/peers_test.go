// Package peers measures one InsertInvoice-shaped call (typed body, POST,
// typed answer, errcode check, access token cached) through wxinvoice, the
// hand-written net/http + encoding/json floor, and peer Go clients, side by
// side. It is a module of its own so that the peers never enter wxinvoice's
// go.mod; run.sh drives it (interleaved rounds, server in another process
// for the client-only figures).
package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/wire"
)

const (
	appID = "wxc0b84a53ed8e8d29"
	token = "ACCESS_TOKEN_bench_0123456789abcdef"
	// insertAnswer is WeChat's answer to /card/invoice/insert.
	insertAnswer = `{"errcode":0,"errmsg":"ok","code":"682xxxx661927","openid":"ojZ8Ytz4lESxxxx_R1TvB2Kds"}`
)

// TestMain serves the fake endpoint instead of running tests when
// WXBENCH_SERVE=1: it prints the listening address on one line and serves
// until its standard input closes, so that run.sh measures the clients with
// the server in another process.
func TestMain(m *testing.M) {
	if os.Getenv("WXBENCH_SERVE") != "1" {
		os.Exit(m.Run())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("http://" + ln.Addr().String())
	go func() { _ = http.Serve(ln, handler()) }()
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	os.Exit(0)
}

// handler answers every request as WeChat answers an insert, after reading
// the body.
func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, insertAnswer)
	})
}

// baseURL is WXBENCH_ADDR (a server in another process) or an in-process
// httptest server.
func baseURL(b *testing.B) string {
	if a := os.Getenv("WXBENCH_ADDR"); a != "" {
		return a
	}
	srv := httptest.NewServer(handler())
	b.Cleanup(srv.Close)
	return srv.URL
}

// transport is what the floor and the peers send through: a clone of
// http.DefaultTransport with 64 idle connections per host, which is also
// what wxinvoice's default client has.
func transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// request is the insert every client sends: three items, the optional
// seller fields filled.
func request() *wxinvoice.InsertInvoiceRequest {
	return &wxinvoice.InsertInvoiceRequest{
		OrderID: "111163", CardID: "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", AppID: appID, NonceStr: "j!Re1WxaHv",
		Invoice: wxinvoice.InvoiceData{
			Fee: 123, Title: "灌哥发票", BillingTime: time.Unix(1468306058, 0), BillingNo: "4545145712", BillingCode: "4541212454512",
			Items: []wxinvoice.InvoiceItem{{Name: "牙膏", Num: 3, Unit: "个", Price: 10000},
				{Name: "牙刷", Num: 2, Unit: "支", Price: 500}, {Name: "毛巾", Num: 1, Unit: "条", Price: 1500}},
			FeeWithoutTax: 2345, Tax: 123, PDFMediaID: "s_pdf_media_id_abc123", BuyerNumber: "123456789012345678",
			SellerNumber: "91440300MA5XXXXXX", SellerAddressAndPhone: "深圳市南山区 0755-12345678",
			Remarks: "备注", Cashier: "张三", Maker: "李四",
		},
	}
}

// wireOf is the body the floor and the peers send: what InsertInvoice puts
// on the wire for r, built once before the loop (a hand-written client
// holds its wire struct already).
func wireOf(r *wxinvoice.InsertInvoiceRequest) *wire.InsertRequest {
	inv := r.Invoice
	items := make([]wire.InvoiceItem, len(inv.Items))
	for i, it := range inv.Items {
		items[i] = wire.InvoiceItem{Name: it.Name, Num: it.Num, Unit: it.Unit, Price: it.Price}
	}
	return &wire.InsertRequest{OrderID: r.OrderID, CardID: r.CardID, AppID: r.AppID, CardExt: wire.CardExt{NonceStr: r.NonceStr,
		UserCard: wire.UserCard{InvoiceUserData: wire.InvoiceUserData{Fee: inv.Fee, Title: inv.Title,
			BillingTime: wire.Int(inv.BillingTime.Unix()), BillingNo: inv.BillingNo, BillingCode: inv.BillingCode,
			Info: items, FeeWithoutTax: &inv.FeeWithoutTax, Tax: &inv.Tax, SPDFMediaID: inv.PDFMediaID,
			BuyerNumber: inv.BuyerNumber, SellerNumber: inv.SellerNumber, SellerAddressAndPhone: inv.SellerAddressAndPhone,
			Remarks: inv.Remarks, Cashier: inv.Cashier, Maker: inv.Maker}}}}
}

func BenchmarkInsert(b *testing.B) {
	base := baseURL(b)
	req := request()
	ctx := context.Background()
	check := func(b *testing.B, code string, err error) {
		if err != nil || code != "682xxxx661927" {
			b.Fatalf("code %q, error %v", code, err)
		}
	}

	// The floor: marshal, POST, decode, check errcode.
	b.Run("client=nethttp", func(b *testing.B) {
		hc := &http.Client{Transport: transport()}
		w := wireOf(req)
		b.ReportAllocs()
		for b.Loop() {
			body, err := json.Marshal(w)
			if err != nil {
				b.Fatal(err)
			}
			hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/card/invoice/insert?access_token="+url.QueryEscape(token), bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			hreq.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(hreq)
			if err != nil {
				b.Fatal(err)
			}
			var out wire.InsertResponse
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err == nil && out.ErrCode != 0 {
				err = fmt.Errorf("errcode %d", out.ErrCode)
			}
			check(b, out.Code, err)
		}
	})

	// wxinvoice with its default HTTP client (the one that bounds a hung
	// server), converting the public request to its wire shape on every call.
	b.Run("client=wxinvoice", func(b *testing.B) {
		c, err := wxinvoice.New(appID, "", wxinvoice.WithBaseURL(base), wxinvoice.WithTokenSource(wxinvoice.StaticTokenSource(token)))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.InsertInvoice(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			check(b, res.Code, nil)
		}
	})

	// silenceper/wechat v2: its generic PostJSONContext and DecodeWithError,
	// as its typed methods use them, through its package-level client.
	b.Run("client=silenceper", func(b *testing.B) {
		util.DefaultHTTPClient = &http.Client{Transport: transport()}
		w := wireOf(req)
		type insertResult struct {
			util.CommonError
			Code   string `json:"code"`
			OpenID string `json:"openid"`
		}
		b.ReportAllocs()
		for b.Loop() {
			raw, err := util.PostJSONContext(ctx, base+"/card/invoice/insert?access_token="+token, w)
			if err != nil {
				b.Fatal(err)
			}
			var out insertResult
			err = util.DecodeWithError(raw, &out, "InsertInvoice")
			check(b, out.Code, err)
		}
	})

	// resty v2 used the obvious way: SetBody(struct), SetResult.
	b.Run("client=resty", func(b *testing.B) {
		rc := resty.NewWithClient(&http.Client{Transport: transport()})
		w := wireOf(req)
		b.ReportAllocs()
		for b.Loop() {
			var out wire.InsertResponse
			resp, err := rc.R().SetContext(ctx).SetQueryParam("access_token", token).
				SetBody(w).SetResult(&out).Post(base + "/card/invoice/insert")
			if err == nil && (resp.StatusCode() != http.StatusOK || out.ErrCode != 0) {
				err = fmt.Errorf("HTTP %d, errcode %d", resp.StatusCode(), out.ErrCode)
			}
			check(b, out.Code, err)
		}
	})
}
