package fapiao

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// CreateCardTemplateRequest is the request of CreateCardTemplate.
type CreateCardTemplateRequest struct {
	SubMchID                string                  `json:"sub_mchid,omitempty"` // partner mode: the sub-merchant
	CardAppID               string                  `json:"card_appid"`          // Official Account AppID that inserts the cards
	CardTemplateInformation CardTemplateInformation `json:"card_template_information"`
}

// CardTemplateInformation is the look of the invoice card.
type CardTemplateInformation struct {
	PayeeName  string      `json:"payee_name,omitempty"` // default: the merchant's name
	LogoURL    string      `json:"logo_url"`             // from the Official Account's permanent-material upload
	CustomCell *CustomCell `json:"custom_cell,omitempty"`
}

// CustomCell is the optional custom entry of the card.
type CustomCell struct {
	Words               string `json:"words"`
	Description         string `json:"description"`
	JumpURL             string `json:"jump_url,omitempty"`
	MiniprogramUserName string `json:"miniprogram_user_name,omitempty"`
	MiniprogramPath     string `json:"miniprogram_path,omitempty"`
}

// CreateCardTemplateResponse is the answer of CreateCardTemplate.
type CreateCardTemplateResponse struct {
	CardAppID string `json:"card_appid"`
	CardID    string `json:"card_id"` // the template ID
}

func (r *CreateCardTemplateRequest) validate() error {
	if r == nil {
		return newValidation("CreateCardTemplateRequest", "must not be nil")
	}
	if err := checkSubMchID(r.SubMchID); err != nil {
		return err
	}
	if err := checkText("CardAppID", r.CardAppID, 32, true); err != nil {
		return err
	}
	t := &r.CardTemplateInformation
	if err := checkText("CardTemplateInformation.PayeeName", t.PayeeName, 32, false); err != nil {
		return err
	}
	if err := checkText("CardTemplateInformation.LogoURL", t.LogoURL, 1024, true); err != nil {
		return err
	}
	if cc := t.CustomCell; cc != nil {
		if err := checkText("CardTemplateInformation.CustomCell.Words", cc.Words, 0, true); err != nil {
			return err
		}
		if err := checkText("CardTemplateInformation.CustomCell.Description", cc.Description, 0, true); err != nil {
			return err
		}
	}
	return nil
}

// CreateCardTemplate creates (or overwrites) the e-invoice card template. It
// must precede any issuing call.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/card-template (创建电子发票卡券模板)
func (c *Client) CreateCardTemplate(ctx context.Context, req *CreateCardTemplateRequest) (*CreateCardTemplateResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out CreateCardTemplateResponse
	if err := c.doJSON(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + "/card-template",
		path: apiPrefix + "/card-template", payload: req, write: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDevelopmentConfigRequest is the request of UpdateDevelopmentConfig.
// Nil booleans are left unchanged.
type UpdateDevelopmentConfigRequest struct {
	CallbackURL      string `json:"callback_url,omitempty"` // receives every FAPIAO.* callback; HTTPS, no query
	SubMchCode       string `json:"sub_mch_code,omitempty"` // partner mode: the sub-merchant (wire name sub_mch_code)
	ShowFapiaoCell   *bool  `json:"show_fapiao_cell,omitempty"`
	SupportVatFapiao *bool  `json:"support_vat_fapiao,omitempty"`
}

// DevelopmentConfig is the merchant's development configuration.
type DevelopmentConfig struct {
	CallbackURL      string `json:"callback_url"`
	ShowFapiaoCell   bool   `json:"show_fapiao_cell"`
	SupportVatFapiao bool   `json:"support_vat_fapiao"`
}

func (r *UpdateDevelopmentConfigRequest) validate() error {
	if r == nil {
		return newValidation("UpdateDevelopmentConfigRequest", "must not be nil")
	}
	if err := checkID("SubMchCode", r.SubMchCode, false); err != nil {
		return err
	}
	if r.CallbackURL != "" {
		if err := checkText("CallbackURL", r.CallbackURL, 256, true); err != nil {
			return err
		}
		u, err := url.Parse(r.CallbackURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return newValidation("CallbackURL", "must be an absolute http(s) URL (WeChat requires HTTPS) without query or fragment")
		}
	}
	if r.CallbackURL == "" && r.ShowFapiaoCell == nil && r.SupportVatFapiao == nil {
		return newValidation("UpdateDevelopmentConfigRequest", "sets nothing")
	}
	return nil
}

// UpdateDevelopmentConfig sets the callback URL and the invoice-entry
// switches. A callback URL is required to receive any FAPIAO.* callback.
//
// WeChat Pay API: PATCH /v3/new-tax-control-fapiao/merchant/development-config (配置开发选项)
func (c *Client) UpdateDevelopmentConfig(ctx context.Context, req *UpdateDevelopmentConfigRequest) (*DevelopmentConfig, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out DevelopmentConfig
	if err := c.doJSON(ctx, &call{method: http.MethodPatch, op: "PATCH " + apiPrefix + "/merchant/development-config",
		path: apiPrefix + "/merchant/development-config", payload: req, write: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDevelopmentConfigRequest is the request of GetDevelopmentConfig.
type GetDevelopmentConfigRequest struct {
	// SubMchCode, when set, is sent as the query parameter sub_mch_code
	// (partner mode; the parameter is not confirmed by WeChat's pages).
	SubMchCode string `json:"sub_mch_code,omitempty"`
}

// GetDevelopmentConfig returns the development configuration. req may be nil.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/merchant/development-config (查询商户配置的开发选项)
func (c *Client) GetDevelopmentConfig(ctx context.Context, req *GetDevelopmentConfigRequest) (*DevelopmentConfig, error) {
	if req == nil {
		req = &GetDevelopmentConfigRequest{}
	}
	if err := checkID("SubMchCode", req.SubMchCode, false); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mch_code", req.SubMchCode)
	var out DevelopmentConfig
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/merchant/development-config",
		path: apiPrefix + "/merchant/development-config", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetBaseInformationRequest is the request of GetBaseInformation.
type GetBaseInformationRequest struct {
	SubMchID string `json:"sub_mchid,omitempty"` // partner mode: the sub-merchant
}

// BaseInformation is the invoicing information configured on the merchant
// platform.
type BaseInformation struct {
	SellerInformation SellerInformation `json:"seller_information"`
	ExtraInformation  ExtraInformation  `json:"extra_information"`
}

// GetBaseInformation returns the seller and drawer configured for invoicing.
// req may be nil.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/merchant/base-information (获取商户开票基础信息)
func (c *Client) GetBaseInformation(ctx context.Context, req *GetBaseInformationRequest) (*BaseInformation, error) {
	if req == nil {
		req = &GetBaseInformationRequest{}
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	var out BaseInformation
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/merchant/base-information",
		path: apiPrefix + "/merchant/base-information", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTaxCodesRequest is the request of ListTaxCodes.
type ListTaxCodesRequest struct {
	SubMchID string `json:"sub_mchid,omitempty"`
	Offset   int    `json:"offset"`
	Limit    int    `json:"limit"` // page size, at least 1
}

// TaxCodes is one page of the merchant's goods-to-tax-code table.
type TaxCodes struct {
	Offset     Int       `json:"offset"`
	Limit      Int       `json:"limit"`
	TotalCount Int       `json:"total_count"`
	Links      *Links    `json:"links,omitempty"`
	Data       []TaxCode `json:"data"`
}

// TaxCode maps a good to its tax classification.
type TaxCode struct {
	GoodsName     string      `json:"goods_name"`
	GoodsID       json.Number `json:"goods_id,omitempty"`
	GoodsCategory string      `json:"goods_category,omitempty"`
	TaxCode       string      `json:"tax_code"` // 19 digits
	TaxRate       int64       `json:"tax_rate"` // 万分比: 1300 = 13%
	// TaxPreferMark is NO_FAVORABLE, OUTSIDE_VAT, VAT_EXEMPT,
	// NORMAL_ZERO_RATED or EXPORT_ZERO_RATED.
	TaxPreferMark string `json:"tax_prefer_mark"`
}

// ListTaxCodes returns one page of the goods-to-tax-code table (商品和服务税收分类).
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/merchant/tax-codes (获取商品和服务税收分类对照表)
func (c *Client) ListTaxCodes(ctx context.Context, req *ListTaxCodesRequest) (*TaxCodes, error) {
	if req == nil {
		return nil, newValidation("ListTaxCodesRequest", "must not be nil")
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	if req.Offset < 0 {
		return nil, newValidation("Offset", "must not be negative")
	}
	if req.Limit < 1 {
		return nil, newValidation("Limit", "must be at least 1")
	}
	var q query
	q.add("sub_mchid", req.SubMchID)
	q.add("offset", strconv.Itoa(req.Offset))
	q.add("limit", strconv.Itoa(req.Limit))
	var out TaxCodes
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/merchant/tax-codes",
		path: apiPrefix + "/merchant/tax-codes", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
