package fapiao

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// MaxFapiaoPerApplication is the most invoices one application (Issue) or
// one insertion (InsertCards) may carry.
const MaxFapiaoPerApplication = 5

// Invoice statuses (Fapiao.Status, FapiaoStatus.FapiaoStatus).
const (
	StatusIssueAccepted   = "ISSUE_ACCEPTED"   // 开票申请已受理
	StatusIssued          = "ISSUED"           // 已开具
	StatusReverseAccepted = "REVERSE_ACCEPTED" // 冲红申请已受理
	StatusReversed        = "REVERSED"         // 已冲红
	StatusIssueFailed     = "ISSUE_FAILED"     // 数电 only
	StatusReverseFailed   = "REVERSE_FAILED"   // 数电 only
)

// Card statuses (CardInformation.CardStatus, FapiaoStatus.CardStatus).
const (
	CardInsertAccepted  = "INSERT_ACCEPTED"
	CardInserted        = "INSERTED"
	CardDiscardAccepted = "DISCARD_ACCEPTED"
	CardDiscarded       = "DISCARDED"
)

// IssueRequest is the request of Issue.
type IssueRequest struct {
	SubMchID          string              `json:"sub_mchid,omitempty"`
	Scene             string              `json:"scene"`           // SceneWithWechatPay or SceneWithoutWechatPay
	FapiaoApplyID     string              `json:"fapiao_apply_id"` // the WeChat Pay order number, or the id given to GetTitleURL
	BuyerInformation  BuyerInformation    `json:"buyer_information"`
	FapiaoInformation []IssueFapiaoDetail `json:"fapiao_information"` // 1 to 5 invoices
}

// IssueFapiaoDetail is one invoice to issue.
type IssueFapiaoDetail struct {
	FapiaoID    string      `json:"fapiao_id"`    // the merchant's invoice number
	TotalAmount int64       `json:"total_amount"` // 价税合计, 分
	NeedList    bool        `json:"need_list"`    // issue as a list (清单)
	Remark      string      `json:"remark,omitempty"`
	Items       []IssueItem `json:"items"`
}

// IssueItem is one line of an invoice to issue.
type IssueItem struct {
	TaxCode       string      `json:"tax_code"`
	GoodsCategory string      `json:"goods_category,omitempty"`
	GoodsName     string      `json:"goods_name,omitempty"`
	GoodsID       json.Number `json:"goods_id,omitempty"`
	Specification string      `json:"specification,omitempty"`
	Unit          string      `json:"unit,omitempty"`
	Quantity      int64       `json:"quantity"`           // 10⁻⁸ units: 100000000 is one
	TotalAmount   int64       `json:"total_amount"`       // 分
	TaxRate       *int64      `json:"tax_rate,omitempty"` // 万分比 (1300 = 13%); nil: the tax code's rate
	TaxPreferMark string      `json:"tax_prefer_mark,omitempty"`
	Discount      bool        `json:"discount"` // a discount line
}

func (r *IssueRequest) validate() error {
	if r == nil {
		return newValidation("IssueRequest", "must not be nil")
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return err
	}
	if err := checkEnum("Scene", r.Scene, true, SceneWithWechatPay, SceneWithoutWechatPay); err != nil {
		return err
	}
	if err := checkID("FapiaoApplyID", r.FapiaoApplyID, true); err != nil {
		return err
	}
	if err := r.BuyerInformation.validate("BuyerInformation"); err != nil {
		return err
	}
	if n := len(r.FapiaoInformation); n < 1 || n > MaxFapiaoPerApplication {
		return newValidation("FapiaoInformation", "has %d invoices; 1 to %d", n, MaxFapiaoPerApplication)
	}
	for i := range r.FapiaoInformation {
		f := &r.FapiaoInformation[i]
		p := fmt.Sprintf("FapiaoInformation[%d]", i)
		if err := checkText(p+".FapiaoID", f.FapiaoID, 32, true); err != nil {
			return err
		}
		if err := checkAmount(p+".TotalAmount", f.TotalAmount); err != nil {
			return err
		}
		if len(f.Items) == 0 {
			return newValidation(p+".Items", "is required")
		}
		for j := range f.Items {
			it := &f.Items[j]
			q := fmt.Sprintf("%s.Items[%d]", p, j)
			if err := checkText(q+".TaxCode", it.TaxCode, 19, true); err != nil {
				return err
			}
			if it.Quantity < 0 {
				return newValidation(q+".Quantity", "must not be negative")
			}
			if it.TaxRate != nil && *it.TaxRate < 0 {
				return newValidation(q+".TaxRate", "must not be negative")
			}
		}
	}
	return nil
}

// Issue applies for invoices (at most five) on an application. WeChat
// answers 202 and issues asynchronously: the result comes as FAPIAO.ISSUED
// and through Query. The buyer's Phone and Email are encrypted for WeChat
// Pay. An Issue whose outcome is unknown (wxinvoice.ErrOutcomeUnknown) is
// not replayed: Query the application before issuing again.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications (开具电子发票)
func (c *Client) Issue(ctx context.Context, req *IssueRequest) (*AcceptedResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	wire := *req
	var err error
	if wire.BuyerInformation, err = c.sealBuyer("BuyerInformation", req.BuyerInformation); err != nil {
		return nil, err
	}
	return c.doAccepted(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + "/fapiao-applications",
		path: apiPrefix + "/fapiao-applications", payload: &wire, write: true})
}

// QueryRequest is the request of Query.
type QueryRequest struct {
	FapiaoApplyID string `json:"fapiao_apply_id"` // path parameter
	SubMchID      string `json:"sub_mchid,omitempty"`
	FapiaoID      string `json:"fapiao_id,omitempty"` // only this invoice
}

// Application is the state of an invoice application.
type Application struct {
	TotalCount        Int      `json:"total_count"`
	FapiaoInformation []Fapiao `json:"fapiao_information"`
}

// Fapiao is one invoice of an application.
type Fapiao struct {
	FapiaoID           string            `json:"fapiao_id"`
	Status             string            `json:"status"` // StatusIssueAccepted … StatusReverseFailed
	BlueFapiao         *FapiaoNumbers    `json:"blue_fapiao,omitempty"`
	RedFapiao          *FapiaoNumbers    `json:"red_fapiao,omitempty"`
	CardInformation    *CardInformation  `json:"card_information,omitempty"`
	TotalAmount        int64             `json:"total_amount"`
	TaxAmount          int64             `json:"tax_amount"`
	Amount             int64             `json:"amount"`
	SellerInformation  SellerInformation `json:"seller_information"`
	BuyerInformation   BuyerInformation  `json:"buyer_information"` // Phone and Email decrypted
	ExtraInformation   ExtraInformation  `json:"extra_information"`
	Items              []FapiaoItem      `json:"items"`
	Remark             string            `json:"remark,omitempty"`
	FapiaoErrorCode    string            `json:"fapiao_error_code,omitempty"` // 数电 failure, e.g. BIZ_ERROR
	FapiaoErrorMessage string            `json:"fapiao_error_message,omitempty"`
}

// FapiaoNumbers identify an issued (blue) or reversing (red) invoice.
type FapiaoNumbers struct {
	FapiaoCode   string `json:"fapiao_code"`
	FapiaoNumber string `json:"fapiao_number"`
	CheckCode    string `json:"check_code"`
	Password     string `json:"password"`    // the invoice's 密码区
	FapiaoTime   string `json:"fapiao_time"` // RFC 3339
}

// CardInformation is the invoice card in the user's card pack.
type CardInformation struct {
	CardAppID  string `json:"card_appid"`
	CardOpenID string `json:"card_openid"` // the user's OpenID under CardAppID; DownloadRequest.OpenID
	CardID     string `json:"card_id,omitempty"`
	CardCode   string `json:"card_code,omitempty"`
	CardStatus string `json:"card_status"` // CardInsertAccepted … CardDiscarded
}

// FapiaoItem is one line of an issued invoice (Query, InsertCards).
type FapiaoItem struct {
	TaxCode       string `json:"tax_code"`
	GoodsName     string `json:"goods_name"`
	Specification string `json:"specification,omitempty"`
	Unit          string `json:"unit,omitempty"`
	Quantity      int64  `json:"quantity"`   // 10⁻⁸ units
	UnitPrice     int64  `json:"unit_price"` // 10⁻⁶ 分
	Amount        int64  `json:"amount"`
	TaxAmount     int64  `json:"tax_amount"`
	TotalAmount   int64  `json:"total_amount"`
	TaxRate       int64  `json:"tax_rate"` // 万分比
	TaxPreferMark string `json:"tax_prefer_mark"`
	Discount      bool   `json:"discount"`
}

// Query returns the invoices of an application, with the buyers' Phone and
// Email decrypted.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id} (查询电子发票)
func (c *Client) Query(ctx context.Context, req *QueryRequest) (*Application, error) {
	if req == nil {
		return nil, newValidation("QueryRequest", "must not be nil")
	}
	if err := checkID("FapiaoApplyID", req.FapiaoApplyID, true); err != nil {
		return nil, err
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	if err := checkID("FapiaoID", req.FapiaoID, false); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	q.add("fapiao_id", req.FapiaoID)
	cl := &call{method: http.MethodGet, op: "GET " + apiPrefix + "/fapiao-applications/{fapiao_apply_id}",
		path: apiPrefix + "/fapiao-applications/" + url.PathEscape(req.FapiaoApplyID), query: string(q)}
	var out Application
	if err := c.doJSON(ctx, cl, &out); err != nil {
		return nil, err
	}
	for i := range out.FapiaoInformation {
		if err := c.openBuyer(&out.FapiaoInformation[i].BuyerInformation); err != nil {
			return nil, c.wrap(cl, err)
		}
	}
	return &out, nil
}

// GetDownloadInfoRequest is the request of GetDownloadInfo.
type GetDownloadInfoRequest struct {
	FapiaoApplyID string `json:"fapiao_apply_id"` // path parameter
	SubMchID      string `json:"sub_mchid,omitempty"`
	FapiaoID      string `json:"fapiao_id,omitempty"`
}

// DownloadInfo lists the download URLs of an application's invoices.
type DownloadInfo struct {
	FapiaoDownloadInfoList []FapiaoDownloadInfo `json:"fapiao_download_info_list"`
}

// FapiaoDownloadInfo is the download URL of one invoice, valid 30 seconds;
// pass it to Download.
type FapiaoDownloadInfo struct {
	FapiaoID    string `json:"fapiao_id"`
	DownloadURL string `json:"download_url"`
	Status      string `json:"status"`
}

// GetDownloadInfo returns the download URLs of invoices issued on the WeChat
// Pay side (ISSUED, or REVERSED within a year).
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/fapiao-files (获取发票下载信息)
func (c *Client) GetDownloadInfo(ctx context.Context, req *GetDownloadInfoRequest) (*DownloadInfo, error) {
	if req == nil {
		return nil, newValidation("GetDownloadInfoRequest", "must not be nil")
	}
	if err := checkID("FapiaoApplyID", req.FapiaoApplyID, true); err != nil {
		return nil, err
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	if err := checkID("FapiaoID", req.FapiaoID, false); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	q.add("fapiao_id", req.FapiaoID)
	var out DownloadInfo
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/fapiao-applications/{fapiao_apply_id}/fapiao-files",
		path: apiPrefix + "/fapiao-applications/" + url.PathEscape(req.FapiaoApplyID) + "/fapiao-files", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReverseRequest is the request of Reverse. FapiaoApplyID goes into the
// path, not the body.
type ReverseRequest struct {
	FapiaoApplyID string `json:"fapiao_apply_id,omitempty"` // path parameter
	SubMchID      string `json:"sub_mchid,omitempty"`
	// ReverseReason is free text (≤200 bytes), or in 数电 mode one of
	// ISSUE_ERROR, SALES_RETURN, SERVICE_SUSPENTION (sic), SALES_DISCOUNT.
	ReverseReason     string          `json:"reverse_reason"`
	FapiaoInformation []ReverseFapiao `json:"fapiao_information,omitempty"`
}

// ReverseFapiao names one invoice to reverse.
type ReverseFapiao struct {
	FapiaoID     string `json:"fapiao_id"` // as used at issue
	FapiaoCode   string `json:"fapiao_code,omitempty"`
	FapiaoNumber string `json:"fapiao_number"`
}

// MarshalJSON encodes the request body: everything but FapiaoApplyID.
func (r ReverseRequest) MarshalJSON() ([]byte, error) {
	type body ReverseRequest
	b := body(r)
	b.FapiaoApplyID = ""
	return json.Marshal(b)
}

func (r *ReverseRequest) validate() error {
	if r == nil {
		return newValidation("ReverseRequest", "must not be nil")
	}
	if err := checkID("FapiaoApplyID", r.FapiaoApplyID, true); err != nil {
		return err
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return err
	}
	if err := checkText("ReverseReason", r.ReverseReason, 200, true); err != nil {
		return err
	}
	if len(r.FapiaoInformation) > MaxFapiaoPerApplication {
		return newValidation("FapiaoInformation", "has %d invoices; at most %d", len(r.FapiaoInformation), MaxFapiaoPerApplication)
	}
	for i, f := range r.FapiaoInformation {
		p := fmt.Sprintf("FapiaoInformation[%d]", i)
		if err := checkText(p+".FapiaoID", f.FapiaoID, 32, true); err != nil {
			return err
		}
		if err := checkText(p+".FapiaoNumber", f.FapiaoNumber, 20, true); err != nil {
			return err
		}
	}
	return nil
}

// Reverse applies for red-letter reversal (冲红) of invoices issued on the
// WeChat Pay side; the cards leave the users' card packs. WeChat answers 202;
// the result comes as FAPIAO.REVERSED and through Query. A Reverse whose
// outcome is unknown is not replayed. A failed red invoice is retried with
// the same FapiaoID after 5 minutes.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/reverse (冲红电子发票)
func (c *Client) Reverse(ctx context.Context, req *ReverseRequest) (*AcceptedResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	return c.doAccepted(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + "/fapiao-applications/{fapiao_apply_id}/reverse",
		path: apiPrefix + "/fapiao-applications/" + url.PathEscape(req.FapiaoApplyID) + "/reverse", payload: req, write: true})
}

// InsertCardsRequest is the request of InsertCards. FapiaoApplyID goes into
// the path, not the body.
type InsertCardsRequest struct {
	FapiaoApplyID         string           `json:"fapiao_apply_id,omitempty"` // path parameter
	SubMchID              string           `json:"sub_mchid,omitempty"`
	Scene                 string           `json:"scene"`
	BuyerInformation      BuyerInformation `json:"buyer_information"`
	FapiaoCardInformation []FapiaoCard     `json:"fapiao_card_information"` // 1 to 5
}

// FapiaoCard is one self-issued invoice to insert into the user's card pack.
type FapiaoCard struct {
	FapiaoMediaID     string            `json:"fapiao_media_id"` // from UploadFile
	FapiaoNumber      string            `json:"fapiao_number"`
	FapiaoCode        string            `json:"fapiao_code"`
	FapiaoTime        string            `json:"fapiao_time"` // RFC 3339
	CheckCode         string            `json:"check_code"`
	Password          string            `json:"password"`
	TotalAmount       int64             `json:"total_amount"`
	TaxAmount         int64             `json:"tax_amount"`
	Amount            int64             `json:"amount"`
	SellerInformation SellerInformation `json:"seller_information"`
	ExtraInformation  ExtraInformation  `json:"extra_information"`
	Items             []FapiaoItem      `json:"items"`
	Remark            string            `json:"remark,omitempty"`
}

// MarshalJSON encodes the request body: everything but FapiaoApplyID.
func (r InsertCardsRequest) MarshalJSON() ([]byte, error) {
	type body InsertCardsRequest
	b := body(r)
	b.FapiaoApplyID = ""
	return json.Marshal(b)
}

func (r *InsertCardsRequest) validate() error {
	if r == nil {
		return newValidation("InsertCardsRequest", "must not be nil")
	}
	if err := checkID("FapiaoApplyID", r.FapiaoApplyID, true); err != nil {
		return err
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return err
	}
	if err := checkEnum("Scene", r.Scene, true, SceneWithWechatPay, SceneWithoutWechatPay); err != nil {
		return err
	}
	if err := r.BuyerInformation.validate("BuyerInformation"); err != nil {
		return err
	}
	if n := len(r.FapiaoCardInformation); n < 1 || n > MaxFapiaoPerApplication {
		return newValidation("FapiaoCardInformation", "has %d invoices; 1 to %d", n, MaxFapiaoPerApplication)
	}
	for i := range r.FapiaoCardInformation {
		f := &r.FapiaoCardInformation[i]
		p := fmt.Sprintf("FapiaoCardInformation[%d]", i)
		for _, ck := range []struct {
			name, v string
			max     int
		}{{"FapiaoMediaID", f.FapiaoMediaID, 128}, {"FapiaoNumber", f.FapiaoNumber, 20}, {"FapiaoCode", f.FapiaoCode, 12},
			{"FapiaoTime", f.FapiaoTime, 64}, {"CheckCode", f.CheckCode, 64}, {"Password", f.Password, 512}} {
			if err := checkText(p+"."+ck.name, ck.v, ck.max, true); err != nil {
				return err
			}
		}
		for _, a := range []struct {
			name string
			v    int64
		}{{"TotalAmount", f.TotalAmount}, {"TaxAmount", f.TaxAmount}, {"Amount", f.Amount}} {
			if err := checkAmount(p+"."+a.name, a.v); err != nil {
				return err
			}
		}
		if len(f.Items) == 0 {
			return newValidation(p+".Items", "is required")
		}
	}
	return nil
}

// InsertCards inserts invoices the merchant issued itself (files uploaded
// with UploadFile) into the user's card pack: one insertion per WeChat Pay
// order, at most five invoices. WeChat answers 202; the result comes as
// FAPIAO.CARD_INSERTED. An InsertCards whose outcome is unknown is not
// replayed.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/{fapiao_apply_id}/insert-cards (将电子发票插入微信用户卡包)
func (c *Client) InsertCards(ctx context.Context, req *InsertCardsRequest) (*AcceptedResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	wire := *req
	var err error
	if wire.BuyerInformation, err = c.sealBuyer("BuyerInformation", req.BuyerInformation); err != nil {
		return nil, err
	}
	return c.doAccepted(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + "/fapiao-applications/{fapiao_apply_id}/insert-cards",
		path: apiPrefix + "/fapiao-applications/" + url.PathEscape(req.FapiaoApplyID) + "/insert-cards", payload: &wire, write: true})
}
