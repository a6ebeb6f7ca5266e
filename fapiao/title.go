package fapiao

import (
	"context"
	"net/http"
	"strconv"
)

// Title-URL sources.
const (
	SourceWeb         = "WEB"         // WeChat H5 page; AppID is an Official Account's
	SourceMiniprogram = "MINIPROGRAM" // mini program; AppID is the mini program's
)

// GetTitleURLRequest is the request of GetTitleURL.
type GetTitleURLRequest struct {
	SubMchID      string `json:"sub_mchid,omitempty"`
	FapiaoApplyID string `json:"fapiao_apply_id"` // ≤32 of [A-Za-z0-9-_|*], unique per merchant
	Source        string `json:"source"`          // SourceWeb or SourceMiniprogram
	AppID         string `json:"appid"`
	OpenID        string `json:"openid"`       // the user's OpenID under AppID
	TotalAmount   int64  `json:"total_amount"` // 分; later invoices of this application may not exceed it
	SellerName    string `json:"seller_name,omitempty"`
	// The cells below are sent only when true.
	ShowPhoneCell  bool `json:"show_phone_cell,omitempty"`
	MustInputPhone bool `json:"must_input_phone,omitempty"`
	ShowEmailCell  bool `json:"show_email_cell,omitempty"`
	MustInputEmail bool `json:"must_input_email,omitempty"`
}

// TitleURL is where the user fills the invoice title; valid 30 minutes
// (fetch again with the same FapiaoApplyID). Every field is optional.
type TitleURL struct {
	TitleURL            string `json:"title_url,omitempty"`
	MiniprogramAppID    string `json:"miniprogram_appid,omitempty"`
	MiniprogramPath     string `json:"miniprogram_path,omitempty"`
	MiniprogramUserName string `json:"miniprogram_user_name,omitempty"`
}

func (r *GetTitleURLRequest) validate() error {
	if r == nil {
		return newValidation("GetTitleURLRequest", "must not be nil")
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return err
	}
	if err := checkID("FapiaoApplyID", r.FapiaoApplyID, true); err != nil {
		return err
	}
	if err := checkEnum("Source", r.Source, true, SourceWeb, SourceMiniprogram); err != nil {
		return err
	}
	if err := checkText("AppID", r.AppID, 32, true); err != nil {
		return err
	}
	if err := checkText("OpenID", r.OpenID, 128, true); err != nil {
		return err
	}
	if err := checkAmount("TotalAmount", r.TotalAmount); err != nil {
		return err
	}
	if r.MustInputPhone && !r.ShowPhoneCell {
		return newValidation("MustInputPhone", "requires ShowPhoneCell")
	}
	if r.MustInputEmail && !r.ShowEmailCell {
		return newValidation("MustInputEmail", "requires ShowEmailCell")
	}
	return nil
}

// GetTitleURL returns the link where the user fills the invoice title, for
// invoices not tied to a WeChat Pay order; WeChat then sends
// FAPIAO.USER_APPLIED with FapiaoApplyID.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/user-title/title-url (获取抬头填写链接)
func (c *Client) GetTitleURL(ctx context.Context, req *GetTitleURLRequest) (*TitleURL, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	q.add("fapiao_apply_id", req.FapiaoApplyID)
	q.add("source", req.Source)
	q.add("appid", req.AppID)
	q.add("openid", req.OpenID)
	q.add("total_amount", strconv.FormatInt(req.TotalAmount, 10))
	q.add("seller_name", req.SellerName)
	q.add("show_phone_cell", flag(req.ShowPhoneCell))
	q.add("must_input_phone", flag(req.MustInputPhone))
	q.add("show_email_cell", flag(req.ShowEmailCell))
	q.add("must_input_email", flag(req.MustInputEmail))
	var out TitleURL
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/user-title/title-url",
		path: apiPrefix + "/user-title/title-url", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// flag is "true" for true and "" (left out) for false.
func flag(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// GetUserTitleRequest is the request of GetUserTitle.
type GetUserTitleRequest struct {
	SubMchID      string `json:"sub_mchid,omitempty"`
	Scene         string `json:"scene"`           // SceneWithWechatPay or SceneWithoutWechatPay
	FapiaoApplyID string `json:"fapiao_apply_id"` // the WeChat Pay order number, or the id given to GetTitleURL
}

// GetUserTitle returns the title the user filled, with Phone and Email
// decrypted with the merchant key. The result can be passed as the buyer of
// Issue.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/user-title (获取用户填写的抬头)
func (c *Client) GetUserTitle(ctx context.Context, req *GetUserTitleRequest) (*BuyerInformation, error) {
	if req == nil {
		return nil, newValidation("GetUserTitleRequest", "must not be nil")
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	if err := checkEnum("Scene", req.Scene, true, SceneWithWechatPay, SceneWithoutWechatPay); err != nil {
		return nil, err
	}
	if err := checkID("FapiaoApplyID", req.FapiaoApplyID, true); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	q.add("scene", req.Scene)
	q.add("fapiao_apply_id", req.FapiaoApplyID)
	cl := &call{method: http.MethodGet, op: "GET " + apiPrefix + "/user-title", path: apiPrefix + "/user-title", query: string(q)}
	var out BuyerInformation
	if err := c.doJSON(ctx, cl, &out); err != nil {
		return nil, err
	}
	if err := c.openBuyer(&out); err != nil {
		return nil, c.wrap(cl, err)
	}
	return &out, nil
}
