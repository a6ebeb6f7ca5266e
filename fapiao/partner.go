package fapiao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CheckSubMerchantRequest is the request of CheckSubMerchant.
type CheckSubMerchantRequest struct {
	SubMchID string `json:"sub_mchid"` // path parameter
}

// CheckSubMerchant (partner) checks that the sub-merchant enabled API
// invoicing and authorised this partner: success is a 204; otherwise an
// *APIError such as 403 NO_AUTH (ErrNoAuth).
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/merchant/{sub_mchid}/check (检查子商户开票功能状态)
func (c *Client) CheckSubMerchant(ctx context.Context, req *CheckSubMerchantRequest) (*AcceptedResponse, error) {
	if req == nil {
		return nil, newValidation("CheckSubMerchantRequest", "must not be nil")
	}
	if err := checkID("SubMchID", req.SubMchID, true); err != nil {
		return nil, err
	}
	return c.doAccepted(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + "/merchant/{sub_mchid}/check",
		path: apiPrefix + "/merchant/" + url.PathEscape(req.SubMchID) + "/check"})
}

// GetSubMerchantStatusRequest is the request of GetSubMerchantStatus.
type GetSubMerchantStatusRequest struct {
	SubMchID string `json:"sub_mchid"` // path parameter
}

// SubMerchantStatus is the invoicing status of a sub-merchant.
type SubMerchantStatus struct {
	SubMchID       string          `json:"sub_mchid"`
	ThirdMode      *ModeStatus     `json:"third_mode,omitempty"` // DISABLED or ENABLED
	DigitalTaxMode *DigitalTaxMode `json:"digital_tax_mode,omitempty"`
}

// ModeStatus is the status of an invoicing mode.
type ModeStatus struct {
	Status string `json:"status"`
}

// DigitalTaxMode is the 数电 (digital tax) invoicing status.
type DigitalTaxMode struct {
	Status            string         `json:"status"` // APPROVAL_PENDING … ENABLED, RESOURCE_EXPIRED
	BillingPersonInfo BillingPersons `json:"billing_person_info,omitempty"`
	AccessTime        string         `json:"access_time,omitempty"`
	ExpiredTime       string         `json:"expired_time,omitempty"`
	AccessFailReason  string         `json:"access_fail_reason,omitempty"`
	AbilityInfo       []Ability      `json:"ability_info,omitempty"`
}

// BillingPerson is a registered 开票人.
type BillingPerson struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// BillingPersons decodes billing_person_info as an object or an array (the
// WeChat Pay's sample and its OpenAPI document disagree).
type BillingPersons []BillingPerson

// UnmarshalJSON accepts one object or an array of objects.
func (b *BillingPersons) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var one BillingPerson
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*b = BillingPersons{one}
		return nil
	}
	var many []BillingPerson
	if err := json.Unmarshal(data, &many); err != nil {
		return err
	}
	*b = many
	return nil
}

// Ability is one 数电 ability and its authorisation.
type Ability struct {
	Type                string `json:"type"`   // BASE_ABILITY, PASSENGER_TRANSPORT_ABILITY, REAL_ESTATE_ABILITY
	Status              string `json:"status"` // AUTHORIZED, AUTHORIZE_PENDING, DEAUTHORIZED, AUTHORIZE_FAILED
	AuthorizeFailReason string `json:"authorize_fail_reason,omitempty"`
}

// GetSubMerchantStatus (partner, 数电) returns a sub-merchant's invoicing
// status. It uses GET, as the OpenAPI description says (one peer SDK uses
// POST).
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/merchant/{sub_mchid}/check-status
func (c *Client) GetSubMerchantStatus(ctx context.Context, req *GetSubMerchantStatusRequest) (*SubMerchantStatus, error) {
	if req == nil {
		return nil, newValidation("GetSubMerchantStatusRequest", "must not be nil")
	}
	if err := checkID("SubMchID", req.SubMchID, true); err != nil {
		return nil, err
	}
	var out SubMerchantStatus
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/merchant/{sub_mchid}/check-status",
		path: apiPrefix + "/merchant/" + url.PathEscape(req.SubMchID) + "/check-status"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DigitalIssueRequest is the request of the partner 数电 issue variants:
// IssueGeneral, IssuePassengerTransport, IssueRefinedOil and
// IssueRealEstateLeasing.
type DigitalIssueRequest struct {
	SubMchID          string            `json:"sub_mchid"`
	FapiaoApplyID     string            `json:"fapiao_apply_id"`
	BuyerInformation  BuyerInformation  `json:"buyer_information"`
	FapiaoInformation DigitalFapiaoInfo `json:"fapiao_information"` // one invoice
}

// DigitalFapiaoInfo is the one invoice of a 数电 issue request.
type DigitalFapiaoInfo struct {
	FapiaoID                 string        `json:"fapiao_id"` // a failed blue invoice is retried with a new id (≤4 retries)
	TotalAmount              int64         `json:"total_amount"`
	NeedList                 *bool         `json:"need_list,omitempty"` // issue-general
	Items                    []DigitalItem `json:"items"`
	ExportBusinessPolicyCode int           `json:"export_business_policy_code,omitempty"` // 1, 2 or 3
	VatRefundLevyCode        int           `json:"vat_refund_levy_code,omitempty"`        // 1 to 12
	BillingPersonID          string        `json:"billing_person_id"`
	BillingPerson            string        `json:"billing_person,omitempty"`
	FapiaoBillType           string        `json:"fapiao_bill_type"` // COMM_FAPIAO or VAT_FAPIAO
	TransactionInformation   []Transaction `json:"transaction_information"`
	Remark                   string        `json:"remark,omitempty"`
}

// DigitalItem is one line of a 数电 invoice; the variant's extra block is set
// on each item.
type DigitalItem struct {
	TaxCode                      string                        `json:"tax_code"`
	GoodsName                    string                        `json:"goods_name"`
	Specification                string                        `json:"specification,omitempty"`
	Unit                         string                        `json:"unit,omitempty"` // refined oil: TON or LETER (sic)
	Quantity                     int64                         `json:"quantity,omitempty"`
	TotalAmount                  int64                         `json:"total_amount"`
	TaxRate                      int64                         `json:"tax_rate"` // 万分比
	Discount                     bool                          `json:"discount"`
	PreferentialPolicyCode       int                           `json:"preferential_policy_code,omitempty"` // 1 to 18
	PassengerInformation         *PassengerInformation         `json:"passenger_information,omitempty"`
	RefinedOilInformation        *RefinedOilInformation        `json:"refined_oil_information,omitempty"`
	RealEstateLeasingInformation *RealEstateLeasingInformation `json:"real_estate_leasing_information,omitempty"`
}

// PassengerInformation is the passenger of a passenger-transport item.
type PassengerInformation struct {
	Name                  string    `json:"name"`
	CertificateType       string    `json:"certificate_type"`
	CertificateNumber     Sensitive `json:"certificate_number"` // encrypted on the wire
	DepartureDate         string    `json:"departure_date"`
	DeparturePlace        string    `json:"departure_place"`
	Destination           string    `json:"destination"`
	TransportationType    string    `json:"transportation_type"` // LONG_DISTANCE_BUS, PUBLIC_TRANSPORTATION, CAR, SHIP, OTHER_TRANSPORTATION
	TransportationClasses string    `json:"transportation_classes,omitempty"`
}

// RefinedOilInformation is the fuelling of a refined-oil item.
type RefinedOilInformation struct {
	Station   string `json:"station"`
	TradeTime string `json:"trade_time"`
	GunNumber string `json:"gun_number"`
}

// RealEstateLeasingInformation is the property of a real-estate-leasing item.
type RealEstateLeasingInformation struct {
	Province         string    `json:"province"`
	City             string    `json:"city,omitempty"`
	Address          string    `json:"address"`
	LeasePeriodStart string    `json:"lease_period_start"` // RFC 3339
	LeasePeriodEnd   string    `json:"lease_period_end"`
	CrossCityFlag    bool      `json:"cross_city_flag"`
	CertificateNo    Sensitive `json:"certificate_no,omitempty"` // encrypted on the wire
	PlateNo          []string  `json:"plate_no,omitempty"`
}

// Transaction is a payment the invoice covers.
type Transaction struct {
	PayChannel    string `json:"pay_channel"` // WECHAT_PAY
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no,omitempty"`
	Amount        int64  `json:"amount"`
}

// digital variants and the item block each requires.
type digitalVariant struct {
	path       string
	passenger  bool
	refinedOil bool
	realEstate bool
}

var (
	variantGeneral    = digitalVariant{path: "/fapiao-applications/issue-general"}
	variantPassenger  = digitalVariant{path: "/fapiao-applications/issue-passenger-transport", passenger: true}
	variantRefinedOil = digitalVariant{path: "/fapiao-applications/issue-refined-oil", refinedOil: true}
	variantRealEstate = digitalVariant{path: "/fapiao-applications/real-estate-leasing", realEstate: true}
)

func (r *DigitalIssueRequest) validate(v digitalVariant) error {
	if r == nil {
		return newValidation("DigitalIssueRequest", "must not be nil")
	}
	if err := checkID("SubMchID", r.SubMchID, true); err != nil {
		return err
	}
	if err := checkID("FapiaoApplyID", r.FapiaoApplyID, true); err != nil {
		return err
	}
	if err := r.BuyerInformation.validate("BuyerInformation"); err != nil {
		return err
	}
	f := &r.FapiaoInformation
	if err := checkText("FapiaoInformation.FapiaoID", f.FapiaoID, 32, true); err != nil {
		return err
	}
	if err := checkAmount("FapiaoInformation.TotalAmount", f.TotalAmount); err != nil {
		return err
	}
	if err := checkText("FapiaoInformation.BillingPersonID", f.BillingPersonID, 64, true); err != nil {
		return err
	}
	if err := checkEnum("FapiaoInformation.FapiaoBillType", f.FapiaoBillType, true, "COMM_FAPIAO", "VAT_FAPIAO"); err != nil {
		return err
	}
	if len(f.TransactionInformation) == 0 {
		return newValidation("FapiaoInformation.TransactionInformation", "is required")
	}
	for i, t := range f.TransactionInformation {
		p := fmt.Sprintf("FapiaoInformation.TransactionInformation[%d]", i)
		if err := checkEnum(p+".PayChannel", t.PayChannel, true, "WECHAT_PAY"); err != nil {
			return err
		}
		if err := checkText(p+".TransactionID", t.TransactionID, 32, true); err != nil {
			return err
		}
		if err := checkAmount(p+".Amount", t.Amount); err != nil {
			return err
		}
	}
	if len(f.Items) == 0 {
		return newValidation("FapiaoInformation.Items", "is required")
	}
	for i := range f.Items {
		it := &f.Items[i]
		p := fmt.Sprintf("FapiaoInformation.Items[%d]", i)
		if err := checkText(p+".TaxCode", it.TaxCode, 19, true); err != nil {
			return err
		}
		if err := checkText(p+".GoodsName", it.GoodsName, 0, true); err != nil {
			return err
		}
		if it.TaxRate < 0 || it.Quantity < 0 {
			return newValidation(p, "TaxRate and Quantity must not be negative")
		}
		if v.passenger && it.PassengerInformation == nil {
			return newValidation(p+".PassengerInformation", "is required for passenger transport")
		}
		if v.refinedOil && it.RefinedOilInformation == nil {
			return newValidation(p+".RefinedOilInformation", "is required for refined oil")
		}
		if v.refinedOil {
			if err := checkEnum(p+".Unit", it.Unit, true, "TON", "LETER"); err != nil {
				return err
			}
		}
		if v.realEstate && it.RealEstateLeasingInformation == nil {
			return newValidation(p+".RealEstateLeasingInformation", "is required for real estate leasing")
		}
	}
	return nil
}

// sealDigital returns a copy of r with every sensitive field encrypted.
func (c *Client) sealDigital(r *DigitalIssueRequest) (*DigitalIssueRequest, error) {
	w := *r
	var err error
	if w.BuyerInformation, err = c.sealBuyer("BuyerInformation", r.BuyerInformation); err != nil {
		return nil, err
	}
	w.FapiaoInformation.Items = make([]DigitalItem, len(r.FapiaoInformation.Items))
	for i, it := range r.FapiaoInformation.Items {
		p := fmt.Sprintf("FapiaoInformation.Items[%d]", i)
		if it.PassengerInformation != nil {
			pi := *it.PassengerInformation
			if pi.CertificateNumber, err = c.seal(p+".PassengerInformation.CertificateNumber", pi.CertificateNumber); err != nil {
				return nil, err
			}
			it.PassengerInformation = &pi
		}
		if it.RealEstateLeasingInformation != nil {
			re := *it.RealEstateLeasingInformation
			if re.CertificateNo, err = c.seal(p+".RealEstateLeasingInformation.CertificateNo", re.CertificateNo); err != nil {
				return nil, err
			}
			it.RealEstateLeasingInformation = &re
		}
		w.FapiaoInformation.Items[i] = it
	}
	return &w, nil
}

// issueDigital is the shared body of the four 数电 issue variants.
func (c *Client) issueDigital(ctx context.Context, v digitalVariant, req *DigitalIssueRequest) (*AcceptedResponse, error) {
	if err := req.validate(v); err != nil {
		return nil, err
	}
	wire, err := c.sealDigital(req)
	if err != nil {
		return nil, err
	}
	return c.doAccepted(ctx, &call{method: http.MethodPost, op: "POST " + apiPrefix + v.path,
		path: apiPrefix + v.path, payload: wire, write: true})
}

// IssueGeneral (partner, 数电) issues a general invoice. WeChat answers 202;
// the result comes as FAPIAO.ISSUED and through Query. Not replayed when
// the outcome is unknown.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/issue-general (开具通用行业电子发票)
func (c *Client) IssueGeneral(ctx context.Context, req *DigitalIssueRequest) (*AcceptedResponse, error) {
	return c.issueDigital(ctx, variantGeneral, req)
}

// IssuePassengerTransport (partner, 数电) issues a passenger-transport
// invoice; every item needs PassengerInformation, whose CertificateNumber
// is encrypted. Not replayed when the outcome is unknown.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/issue-passenger-transport
func (c *Client) IssuePassengerTransport(ctx context.Context, req *DigitalIssueRequest) (*AcceptedResponse, error) {
	return c.issueDigital(ctx, variantPassenger, req)
}

// IssueRefinedOil (partner, 数电) issues a refined-oil invoice; every item
// needs RefinedOilInformation and Unit TON or LETER. Not replayed when the
// outcome is unknown.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/issue-refined-oil
func (c *Client) IssueRefinedOil(ctx context.Context, req *DigitalIssueRequest) (*AcceptedResponse, error) {
	return c.issueDigital(ctx, variantRefinedOil, req)
}

// IssueRealEstateLeasing (partner, 数电) issues a real-estate-leasing
// invoice; every item needs RealEstateLeasingInformation, whose
// CertificateNo is encrypted. Not replayed when the outcome is unknown.
//
// WeChat Pay API: POST /v3/new-tax-control-fapiao/fapiao-applications/real-estate-leasing
func (c *Client) IssueRealEstateLeasing(ctx context.Context, req *DigitalIssueRequest) (*AcceptedResponse, error) {
	return c.issueDigital(ctx, variantRealEstate, req)
}

// GetPartnerInviteURLRequest is the request of GetPartnerInviteURL.
type GetPartnerInviteURLRequest struct {
	OperationType string `json:"operation_type"` // AUTH_BINDING
	FapiaoMode    string `json:"fapiao_mode"`    // THIRD_OR_SELF_FAPIAO or TENCENT_DIGITAL_TAX
	// FapiaoAbilityTypeList is required for TENCENT_DIGITAL_TAX; sent
	// comma-joined.
	FapiaoAbilityTypeList []string  `json:"fapiao_ability_type_list,omitempty"`
	InviteChannel         string    `json:"invite_channel,omitempty"`
	OperateUser           Sensitive `json:"operate_user,omitempty"` // encrypted on the wire
	InviteCode            string    `json:"invite_code"`            // ≤128
	SubMchID              string    `json:"sub_mchid,omitempty"`
}

// PartnerInviteURL is the invitation link for a merchant.
type PartnerInviteURL struct {
	InviteURL        string `json:"invite_url"`
	MiniprogramAppID string `json:"miniprogram_appid"`
	MiniprogramPath  string `json:"miniprogram_path"`
}

// GetPartnerInviteURL (partner) returns a link inviting a merchant to
// authorise this partner for invoicing. OperateUser is encrypted.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/fapiaomerchant/getspinviteurl (获取开通服务商电子发票能力邀请链接)
func (c *Client) GetPartnerInviteURL(ctx context.Context, req *GetPartnerInviteURLRequest) (*PartnerInviteURL, error) {
	if req == nil {
		return nil, newValidation("GetPartnerInviteURLRequest", "must not be nil")
	}
	if err := checkEnum("OperationType", req.OperationType, true, "AUTH_BINDING"); err != nil {
		return nil, err
	}
	if err := checkEnum("FapiaoMode", req.FapiaoMode, true, "THIRD_OR_SELF_FAPIAO", "TENCENT_DIGITAL_TAX"); err != nil {
		return nil, err
	}
	if req.FapiaoMode == "TENCENT_DIGITAL_TAX" && len(req.FapiaoAbilityTypeList) == 0 {
		return nil, newValidation("FapiaoAbilityTypeList", "is required for TENCENT_DIGITAL_TAX")
	}
	for i, a := range req.FapiaoAbilityTypeList {
		if err := checkEnum(fmt.Sprintf("FapiaoAbilityTypeList[%d]", i), a, true, "BASE_ABILITY", "REAL_ESTATE_ABILITY", "REFINED_OIL_ABILITY", "PASSENGER_TRANSPORT_ABILITY"); err != nil {
			return nil, err
		}
	}
	if err := checkText("InviteCode", req.InviteCode, 128, true); err != nil {
		return nil, err
	}
	if err := checkSubMchID(req.SubMchID); err != nil {
		return nil, err
	}
	operateUser, err := c.seal("OperateUser", req.OperateUser)
	if err != nil {
		return nil, err
	}
	var q query
	q.add("operation_type", req.OperationType)
	q.add("fapiao_mode", req.FapiaoMode)
	q.add("fapiao_ability_type_list", strings.Join(req.FapiaoAbilityTypeList, ","))
	q.add("invite_channel", req.InviteChannel)
	q.add("operate_user", string(operateUser))
	q.add("invite_code", req.InviteCode)
	q.add("sub_mchid", req.SubMchID)
	var out PartnerInviteURL
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/fapiaomerchant/getspinviteurl",
		path: apiPrefix + "/fapiaomerchant/getspinviteurl", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInvitedMerchantsRequest is the request of ListInvitedMerchants.
type ListInvitedMerchantsRequest struct {
	QueryTimeStart  string `json:"query_time_start"` // RFC 3339
	QueryTimeEnd    string `json:"query_time_end"`   // at most 7 days after QueryTimeStart
	Offset          int    `json:"offset"`
	Limit           int    `json:"limit"`
	InviteCode      string `json:"invite_code,omitempty"`
	MchInviteStatus string `json:"mch_invite_status"` // MCH_INVITE_SUCC or MCH_INVITE_FAILED
}

// InvitedMerchants is one page of invited merchants.
type InvitedMerchants struct {
	TotalCount          Int               `json:"total_count"`
	Offset              Int               `json:"offset"`
	Limit               Int               `json:"limit"`
	Links               *Links            `json:"links,omitempty"`
	MchInviteResultList []InvitedMerchant `json:"mch_invite_result_list"`
}

// InvitedMerchant is the outcome of one invitation.
type InvitedMerchant struct {
	SubMchID           string `json:"sub_mchid,omitempty"`
	MchInviteStatus    string `json:"mch_invite_status"`
	EpName             string `json:"ep_name"`
	TaxID              string `json:"tax_id"`
	InviteCode         string `json:"invite_code"`
	OperateTime        string `json:"operate_time"` // RFC 3339 (the sample lacks the offset)
	InviteFailedCode   string `json:"invite_failed_code,omitempty"`
	InviteFailedReason string `json:"invite_failed_reason,omitempty"`
}

// ListInvitedMerchants (partner) lists the merchants invited with
// GetPartnerInviteURL and their outcome.
//
// WeChat Pay API: GET /v3/new-tax-control-fapiao/fapiaomerchant/listspinvitemchinfo (获取邀请开通的商户信息)
func (c *Client) ListInvitedMerchants(ctx context.Context, req *ListInvitedMerchantsRequest) (*InvitedMerchants, error) {
	if req == nil {
		return nil, newValidation("ListInvitedMerchantsRequest", "must not be nil")
	}
	if err := checkText("QueryTimeStart", req.QueryTimeStart, 64, true); err != nil {
		return nil, err
	}
	if err := checkText("QueryTimeEnd", req.QueryTimeEnd, 64, true); err != nil {
		return nil, err
	}
	if req.Offset < 0 {
		return nil, newValidation("Offset", "must not be negative")
	}
	if req.Limit < 1 {
		return nil, newValidation("Limit", "must be at least 1")
	}
	if err := checkEnum("MchInviteStatus", req.MchInviteStatus, true, "MCH_INVITE_SUCC", "MCH_INVITE_FAILED"); err != nil {
		return nil, err
	}
	var q query
	q.add("query_time_start", req.QueryTimeStart)
	q.add("query_time_end", req.QueryTimeEnd)
	q.add("offset", strconv.Itoa(req.Offset))
	q.add("limit", strconv.Itoa(req.Limit))
	q.add("invite_code", req.InviteCode)
	q.add("mch_invite_status", req.MchInviteStatus)
	var out InvitedMerchants
	if err := c.doJSON(ctx, &call{method: http.MethodGet, op: "GET " + apiPrefix + "/fapiaomerchant/listspinvitemchinfo",
		path: apiPrefix + "/fapiaomerchant/listspinvitemchinfo", query: string(q)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
