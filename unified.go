package wxinvoice

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice/internal/wire"
)

// This file is unified issuing (统一开票): WeChat relays a merchant's blue and
// red invoices to an invoicing platform (makeoutinvoice, clearoutinvoice)
// and answers queries about them (queryinvoceinfo).

var (
	opMakeOutInvoice  = &operation{path: "/card/invoice/makeoutinvoice", write: true}
	opClearOutInvoice = &operation{path: "/card/invoice/clearoutinvoice", write: true}
	opQueryInvoice    = &operation{path: "/card/invoice/queryinvoceinfo"}
)

// MakeOutInvoiceRequest is a blue invoice (蓝票) to issue through WeChat's
// unified invoicing relay. Field names follow WeChat's pinyin abbreviations;
// amounts are yuan (元) decimal strings such as "159.00" (FormatYuan converts
// from fen).
type MakeOutInvoiceRequest struct {
	WxOpenID  string // wxopenid: the user (required)
	Ddh       string // ddh: 订单号 (required)
	Fpqqlsh   string // fpqqlsh: 发票请求流水号, unique per invoice; reuse it to retry (required)
	Nsrsbh    string // nsrsbh: 纳税人识别号 (required)
	Nsrmc     string // nsrmc: 纳税人名称 (required)
	Nsrdz     string // nsrdz: 纳税人地址 (required)
	Nsrdh     string // nsrdh: 纳税人电话 (required)
	NsrBank   string // nsrbank: 纳税人开户行
	NsrBankID string // nsrbankid: 纳税人银行账号
	Ghfnsrsbh string // ghfnsrsbh: 购货方识别号
	Ghfmc     string // ghfmc: 购货方名称 (required)
	Ghfdz     string // ghfdz: 购货方地址
	Ghfdh     string // ghfdh: 购货方电话
	GhfBank   string // ghfbank: 购货方开户行
	GhfBankID string // ghfbankid: 购货方银行账号
	Kpr       string // kpr: 开票人 (required)
	Skr       string // skr: 收款人
	Fhr       string // fhr: 复核人
	Jshj      string // jshj: 价税合计, yuan (required, ≥ 0)
	Hjje      string // hjje: 合计金额, yuan (required, ≥ 0)
	Hjse      string // hjse: 合计税额, yuan (required, ≥ 0)
	Bz        string // bz: 备注
	Hylx      string // hylx: 行业类型, "0" 商业 or "1" 其它 (required)
	Details   []MakeOutInvoiceDetail
}

// MakeOutInvoiceDetail is one line of a unified invoice (invoicedetail_list).
// Amounts are yuan strings; a discount line (Fphxz "1") carries negative ones.
type MakeOutInvoiceDetail struct {
	Fphxz string // fphxz: 发票行性质, "0" 正常, "1" 折扣, "2" 被折扣
	Spbm  string // spbm: 19 位税收分类编码
	Xmmc  string // xmmc: 项目名称
	Dw    string // dw: 单位
	Ggxh  string // ggxh: 规格型号
	Xmsl  string // xmsl: 数量
	Xmdj  string // xmdj: 单价
	Xmje  string // xmje: 金额 (不含税), yuan
	Sl    string // sl: 税率, e.g. "0.13"
	Se    string // se: 税额, yuan
}

// FormatYuan formats an amount in fen (分) as the yuan decimal string the
// unified invoicing API expects: FormatYuan(15900) == "159.00".
func FormatYuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	cents := u % 100
	s := sign + strconv.FormatUint(u/100, 10) + "."
	if cents < 10 {
		s += "0"
	}
	return s + strconv.FormatUint(cents, 10)
}

// MakeOutInvoice asks WeChat's unified invoicing relay to issue a blue invoice
// (开具蓝票). The call only starts the issuing: the result arrives as the
// cloud_invoice_invoiceresult_event push (CloudInvoiceResultEvent, see
// EventConfig.OnCloudInvoiceResult) and can be read with QueryInvoiceInfo.
//
// WeChat API: POST /card/invoice/makeoutinvoice (统一开票接口-开具蓝票)
//
// The call is a write and is never replayed when its outcome is unknown
// (ErrOutcomeUnknown). ErrMakeOutTimeout (73105), ErrFpqqlshProcessing
// (73107) and ErrInvoicePlatform (73100) mean the invoice may still have been
// issued: query it with QueryInvoiceInfo, or retry with the SAME Fpqqlsh
// (and Ddh) — a new fpqqlsh could issue it twice. ErrFpqqlshReused (73106)
// and ErrDdhReused (73108) report a fpqqlsh/ddh pair that does not match an
// earlier request.
func (c *Client) MakeOutInvoice(ctx context.Context, req *MakeOutInvoiceRequest) error {
	return act(ctx, c, opMakeOutInvoice, req)
}

func (r *MakeOutInvoiceRequest) toWire() any {
	w := &wire.MakeOutInvoiceRequest{InvoiceInfo: wire.MakeOutInvoiceInfo{
		WxOpenID: r.WxOpenID, Ddh: r.Ddh, Fpqqlsh: r.Fpqqlsh,
		Nsrsbh: r.Nsrsbh, Nsrmc: r.Nsrmc, Nsrdz: r.Nsrdz, Nsrdh: r.Nsrdh, Nsrbank: r.NsrBank, Nsrbankid: r.NsrBankID,
		Ghfnsrsbh: r.Ghfnsrsbh, Ghfmc: r.Ghfmc, Ghfdz: r.Ghfdz, Ghfdh: r.Ghfdh, Ghfbank: r.GhfBank, Ghfbankid: r.GhfBankID,
		Kpr: r.Kpr, Skr: r.Skr, Fhr: r.Fhr, Jshj: r.Jshj, Hjje: r.Hjje, Hjse: r.Hjse, Bz: r.Bz, Hylx: r.Hylx,
	}}
	if len(r.Details) > 0 {
		w.InvoiceInfo.InvoiceDetailList = make([]wire.MakeOutInvoiceDetail, len(r.Details))
		for i, d := range r.Details {
			w.InvoiceInfo.InvoiceDetailList[i] = wire.MakeOutInvoiceDetail{Fphxz: d.Fphxz, Spbm: d.Spbm, Xmmc: d.Xmmc,
				Dw: d.Dw, Ggxh: d.Ggxh, Xmsl: d.Xmsl, Xmdj: d.Xmdj, Xmje: d.Xmje, Sl: d.Sl, Se: d.Se}
		}
	}
	return w
}

// validate refuses what WeChat's 73002–73016 codes name as missing, amounts
// that are not decimal numbers, negative totals and unknown enums.
func (req *MakeOutInvoiceRequest) validate() error {
	if req == nil {
		return errNilRequest()
	}
	err := firstInvalid(nonEmpty("WxOpenID", req.WxOpenID), nonEmpty("Ddh", req.Ddh), nonEmpty("Fpqqlsh", req.Fpqqlsh),
		nonEmpty("Nsrsbh", req.Nsrsbh), nonEmpty("Nsrmc", req.Nsrmc), nonEmpty("Nsrdz", req.Nsrdz), nonEmpty("Nsrdh", req.Nsrdh),
		nonEmpty("Ghfmc", req.Ghfmc), nonEmpty("Kpr", req.Kpr), nonEmpty("Jshj", req.Jshj), nonEmpty("Hjje", req.Hjje),
		nonEmpty("Hjse", req.Hjse), nonEmpty("Hylx", req.Hylx))
	if err != nil {
		return err
	}
	for _, f := range [...]struct{ name, v string }{{"Jshj", req.Jshj}, {"Hjje", req.Hjje}, {"Hjse", req.Hjse}} {
		v, ok := parseYuan(f.v)
		if !ok {
			return newValidation(f.name, "not a yuan amount: %q", f.v)
		}
		if v < 0 {
			return newValidation(f.name, "must not be negative, got %s", f.v)
		}
	}
	if req.Hylx != "0" && req.Hylx != "1" {
		return newValidation("Hylx", "unknown 行业类型 %q (\"0\" or \"1\")", req.Hylx)
	}
	for i, d := range req.Details {
		field := func(name string) string { return "Details[" + strconv.Itoa(i) + "]." + name }
		if d.Fphxz != "" && d.Fphxz != "0" && d.Fphxz != "1" && d.Fphxz != "2" {
			return newValidation(field("Fphxz"), "unknown 发票行性质 %q (\"0\", \"1\" or \"2\")", d.Fphxz)
		}
		for _, a := range [...]struct{ name, v string }{{"Xmdj", d.Xmdj}, {"Xmje", d.Xmje}, {"Se", d.Se}} {
			if _, ok := parseYuan(a.v); a.v != "" && !ok {
				return newValidation(field(a.name), "not a yuan amount: %q", a.v)
			}
		}
	}
	return nil
}

// parseYuan parses a plain decimal amount such as "159.0" or "-23.10"
// (no exponent, hex, infinity or spaces).
func parseYuan(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "eEpPxXiInN_ \t") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// ClearOutInvoiceRequest voids (冲红) an invoice issued with MakeOutInvoice by
// issuing its red counterpart.
type ClearOutInvoiceRequest struct {
	WxOpenID string // wxopenid (required)
	Fpqqlsh  string // fpqqlsh: a NEW 发票请求流水号 for the red invoice (required)
	Nsrsbh   string // nsrsbh: 纳税人识别号 (required)
	Nsrmc    string // nsrmc: 纳税人名称 (required)
	Yfpdm    string // yfpdm: 原发票代码 (empty for a 数电发票, which has none)
	Yfphm    string // yfphm: 原发票号码 (required)
}

// ClearOutInvoice voids (冲红) an invoice issued through unified invoicing.
//
// WeChat API: POST /card/invoice/clearoutinvoice (统一开票接口-冲红)
//
// Like MakeOutInvoice it is a write that is never replayed when its outcome
// is unknown, and 73105/73107/73100 mean it may still have succeeded: query
// the red invoice's Fpqqlsh with QueryInvoiceInfo or retry with the same one.
func (c *Client) ClearOutInvoice(ctx context.Context, req *ClearOutInvoiceRequest) error {
	return act(ctx, c, opClearOutInvoice, req)
}

func (r *ClearOutInvoiceRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("WxOpenID", r.WxOpenID), nonEmpty("Fpqqlsh", r.Fpqqlsh), nonEmpty("Nsrsbh", r.Nsrsbh),
		nonEmpty("Nsrmc", r.Nsrmc), nonEmpty("Yfphm", r.Yfphm))
}

// toWire leaves yfpdm out when Yfpdm is empty (a 数电发票 has no code).
func (r *ClearOutInvoiceRequest) toWire() any {
	return &wire.ClearOutInvoiceRequest{InvoiceInfo: wire.ClearOutInvoiceInfo{
		WxOpenID: r.WxOpenID, Fpqqlsh: r.Fpqqlsh, Nsrsbh: r.Nsrsbh, Nsrmc: r.Nsrmc, Yfpdm: r.Yfpdm, Yfphm: r.Yfphm,
	}}
}

// QueryInvoiceInfoRequest names a unified invoice.
type QueryInvoiceInfoRequest struct {
	Fpqqlsh string // the 发票请求流水号 given to MakeOutInvoice or ClearOutInvoice (required)
	Nsrsbh  string // 纳税人识别号 (required)
}

// QueryInvoiceInfoResponse is an issued unified invoice (invoicedetail).
type QueryInvoiceInfoResponse struct {
	Fpqqlsh string // 发票请求流水号
	Fpdm    string // 发票代码
	Fphm    string // 发票号码
	Jym     string // 校验码
	Kprq    string // 开票日期 as sent, e.g. "20171204172159"
	// IssuedAt is Kprq read as yyyyMMddHHmmss in China time (UTC+8); zero
	// when Kprq is not in that form.
	IssuedAt time.Time
	PDFURL   string // pdfurl
}

// QueryInvoiceInfo returns a unified invoice issued with MakeOutInvoice (or
// the red invoice of ClearOutInvoice). ErrFpqqlshNotFound (73109) means the
// platform has no such request; ErrFpqqlshProcessing (73107) that it is
// still being issued.
//
// WeChat API: POST /card/invoice/queryinvoceinfo (统一开票接口-查询已开发票)
//
// The path is spelled "queryinvoceinfo", as WeChat serves it.
func (c *Client) QueryInvoiceInfo(ctx context.Context, req *QueryInvoiceInfoRequest) (*QueryInvoiceInfoResponse, error) {
	return call(ctx, c, opQueryInvoice, req, queryInvoiceFromWire)
}

func (r *QueryInvoiceInfoRequest) validate() error {
	if r == nil {
		return errNilRequest()
	}
	return firstInvalid(nonEmpty("Fpqqlsh", r.Fpqqlsh), nonEmpty("Nsrsbh", r.Nsrsbh))
}

func (r *QueryInvoiceInfoRequest) toWire() any {
	return &wire.QueryInvoiceInfoRequest{Fpqqlsh: r.Fpqqlsh, Nsrsbh: r.Nsrsbh}
}

func queryInvoiceFromWire(resp *wire.QueryInvoiceInfoResponse) *QueryInvoiceInfoResponse {
	d := &resp.InvoiceDetail
	out := &QueryInvoiceInfoResponse{Fpqqlsh: d.Fpqqlsh, Fpdm: d.Fpdm, Fphm: d.Fphm, Jym: d.Jym, Kprq: d.Kprq, PDFURL: d.PDFURL}
	if t, err := time.ParseInLocation("20060102150405", d.Kprq, chinaZone); err == nil {
		out.IssuedAt = t
	}
	return out
}
