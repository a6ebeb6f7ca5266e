package fapiao

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fixtureInto decodes a testdata fixture into v, refusing unknown fields:
// the type carries every wire name of the sample.
func fixtureInto(t testing.TB, name string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readTestdata(t, name)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s into %T: %v", name, v, err)
	}
}

// TestFixturesDecodeIntoTypes decodes every sample of the docs into the
// request or answer type of its endpoint, with unknown fields refused.
func TestFixturesDecodeIntoTypes(t *testing.T) {
	for name, v := range map[string]any{
		"card_template_request.json":                     &CreateCardTemplateRequest{},
		"card_template_response.json":                    &CreateCardTemplateResponse{},
		"development_config_patch_request.json":          &UpdateDevelopmentConfigRequest{},
		"development_config_patch_response.json":         &DevelopmentConfig{},
		"development_config_get_response.json":           &DevelopmentConfig{},
		"base_information_response.json":                 &BaseInformation{},
		"tax_codes_response.json":                        &TaxCodes{},
		"title_url_response.json":                        &TitleURL{},
		"user_title_response.json":                       &BuyerInformation{},
		"fapiao_applications_request.json":               &IssueRequest{},
		"query_response.json":                            &Application{},
		"fapiao_files_response.json":                     &DownloadInfo{},
		"reverse_request.json":                           &ReverseRequest{},
		"upload_fapiao_file_meta.json":                   &UploadFileRequest{},
		"upload_fapiao_file_response.json":               &UploadFileResponse{},
		"insert_cards_request.json":                      &InsertCardsRequest{},
		"check_status_response.json":                     &SubMerchantStatus{},
		"issue_general_request.json":                     &DigitalIssueRequest{},
		"real_estate_leasing_request.json":               &DigitalIssueRequest{},
		"getspinviteurl_response.json":                   &PartnerInviteURL{},
		"listspinvitemchinfo_response.json":              &InvitedMerchants{},
		"callback_user_applied_resource.json":            &UserAppliedEvent{},
		"callback_issued_resource.json":                  &FapiaoEvent{},
		"callback_reversed_resource.json":                &FapiaoEvent{},
		"callback_card_inserted_resource.json":           &FapiaoEvent{},
		"callback_card_discarded_resource.json":          &FapiaoEvent{},
		"callback_issued_envelope.json":                  &Notification{},
		"callback_user_applied_envelope.json":            &Notification{},
		"callback_reversed_envelope.json":                &Notification{},
		"callback_card_inserted_envelope.json":           &Notification{},
		"callback_card_discarded_envelope.json":          &Notification{},
		"callback_issued_derived_request.json":           &Notification{},
		"error_sign_error_response.json":                 &errorBody{},
		"error_sign_error_timestamp_response.json":       &errorBody{},
		"error_param_error_missing_serial_response.json": &errorBody{},
		"callback_answer_fail_response.json":             &errorBody{},
	} {
		t.Run(name, func(t *testing.T) { fixtureInto(t, name, v) })
	}
	var ts TaxCodes
	fixtureInto(t, "tax_codes_response.json", &ts)
	if ts.Offset != 0 || ts.Limit != 5 || ts.TotalCount != 20 || len(ts.Data) != 1 || ts.Data[0].TaxRate != 1300 {
		t.Errorf("tax codes = %+v", ts)
	}
	var st SubMerchantStatus
	fixtureInto(t, "check_status_response.json", &st)
	if len(st.DigitalTaxMode.BillingPersonInfo) != 1 || st.DigitalTaxMode.BillingPersonInfo[0].Name != "张伟" {
		t.Errorf("billing persons = %+v", st.DigitalTaxMode.BillingPersonInfo)
	}
	// SKIT's resource sample mixes USER_APPLIED and the other events: each
	// event type takes its own fields from it.
	var ua UserAppliedEvent
	var fe FapiaoEvent
	readJSON(t, "callback_fapiao_resource_skit.json", &ua)
	readJSON(t, "callback_fapiao_resource_skit.json", &fe)
	if ua.ApplyTime != "2020-07-01T12:00:00+08:00" || len(fe.FapiaoInformation) != 1 || fe.FapiaoInformation[0].CardStatus != CardInserted {
		t.Errorf("skit resource: %+v %+v", ua, fe)
	}
	var one BillingPersons
	if err := json.Unmarshal([]byte(`{"id":"1","name":"a"}`), &one); err != nil || len(one) != 1 || one[0].ID != "1" {
		t.Errorf("object form = %+v, %v", one, err)
	}
}

// jsonMap decodes JSON into a generic map for comparisons in tests.
func jsonMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// openPath replaces the ciphertext at a dotted path (with [] for "each
// element") by its plaintext, failing when it is not ciphertext.
func openPath(t testing.TB, m any, path string) {
	t.Helper()
	head, rest, more := strings.Cut(path, ".")
	switch v := m.(type) {
	case map[string]any:
		if strings.HasSuffix(head, "[]") {
			for _, e := range v[strings.TrimSuffix(head, "[]")].([]any) {
				openPath(t, e, rest)
			}
			return
		}
		if !more {
			ct, ok := v[head].(string)
			if !ok {
				t.Fatalf("%s missing", path)
			}
			pt, err := decryptOAEP(testPriv, ct)
			if err != nil {
				t.Fatalf("%s is not ciphertext for the WeChat Pay key: %q", head, ct)
			}
			v[head] = pt
			return
		}
		openPath(t, v[head], rest)
	default:
		t.Fatalf("path %s at %T", path, m)
	}
}

func sealFor(t testing.TB, s string) string {
	t.Helper()
	ct, err := encryptOAEP(testPub, s)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestEndpointsOnTheWire calls every endpoint against the test server and
// checks method, path, query, headers, body and the decoded answer.
func TestEndpointsOnTheWire(t *testing.T) {
	loadTestKeys(t)
	ctx := context.Background()
	userTitle := string(readTestdata(t, "user_title_response.json"))
	userTitle = strings.Replace(userTitle, `"18507550000"`, `"`+sealFor(t, "18507550000")+`"`, 1)
	userTitle = strings.Replace(userTitle, `"123110@qq.com"`, `"`+sealFor(t, "123110@qq.com")+`"`, 1)
	queryAnswer := string(readTestdata(t, "query_response.json"))
	queryAnswer = strings.Replace(queryAnswer, `"pVd1HJ6zyvPedzGaV+X3qtmrq9bb9tPttdY+aQ6zB"`, `"`+sealFor(t, "18507550000")+`"`, 1)
	queryAnswer = strings.Replace(queryAnswer, `"pVd1HJ6zyvPedzGaV+X3qtmrq9bb9tPttdY+aQ6za"`, `"`+sealFor(t, "123110@qq.com")+`"`, 1)

	type tc struct {
		name      string
		call      func(c *Client) (any, error)
		method    string
		path      string
		query     string
		body      string   // fixture the body must equal (after opening sealed), or "" for none
		sealed    []string // paths of sealed fields in the body
		answer    reply
		check     func(t *testing.T, out any)
		noBodyReq bool
		patch     func(want map[string]any) // adjusts the fixture before comparing
	}
	ok202 := reply{status: http.StatusAccepted}
	var issue IssueRequest
	fixtureInto(t, "fapiao_applications_request.json", &issue)
	var rev ReverseRequest
	fixtureInto(t, "reverse_request.json", &rev)
	rev.FapiaoApplyID = "4200000444201910177461284488"
	var ins InsertCardsRequest
	fixtureInto(t, "insert_cards_request.json", &ins)
	ins.FapiaoApplyID = "4200000444201910177461284488"
	var gen DigitalIssueRequest
	fixtureInto(t, "issue_general_request.json", &gen)
	var rel DigitalIssueRequest
	fixtureInto(t, "real_estate_leasing_request.json", &rel)
	// The 数电 samples carry sample ciphertext, too long to encrypt again:
	// send plaintext and expect it back out of the sealed fields.
	for _, r := range []*DigitalIssueRequest{&gen, &rel} {
		r.BuyerInformation.Phone, r.BuyerInformation.Email = "18507550000", "123110@qq.com"
	}
	rel.FapiaoInformation.Items[0].RealEstateLeasingInformation.CertificateNo = "粤房地权证第123456号"
	plainBuyer := func(m map[string]any) {
		b := m["buyer_information"].(map[string]any)
		b["phone"], b["email"] = "18507550000", "123110@qq.com"
	}
	passenger := gen
	passenger.FapiaoInformation.Items = []DigitalItem{gen.FapiaoInformation.Items[0]}
	passenger.FapiaoInformation.Items[0].PassengerInformation = &PassengerInformation{Name: "张三", CertificateType: "RESIDENT_IDENTITY_CARD",
		CertificateNumber: "110101199003078888", DepartureDate: "2025-01-01", DeparturePlace: "深圳", Destination: "广州", TransportationType: "CAR"}
	oil := gen
	oil.FapiaoInformation.Items = []DigitalItem{gen.FapiaoInformation.Items[0]}
	oil.FapiaoInformation.Items[0].Unit = "LETER"
	oil.FapiaoInformation.Items[0].RefinedOilInformation = &RefinedOilInformation{Station: "一号站", TradeTime: "2025-01-01T10:00:00+08:00", GunNumber: "3"}
	var tmpl CreateCardTemplateRequest
	fixtureInto(t, "card_template_request.json", &tmpl)
	var dev UpdateDevelopmentConfigRequest
	fixtureInto(t, "development_config_patch_request.json", &dev)

	cases := []tc{
		{name: "E01 card-template", method: "POST", path: "/v3/new-tax-control-fapiao/card-template", body: "card_template_request.json",
			call:   func(c *Client) (any, error) { return c.CreateCardTemplate(ctx, &tmpl) },
			answer: reply{body: string(readTestdata(t, "card_template_response.json"))},
			check: func(t *testing.T, out any) {
				if out.(*CreateCardTemplateResponse).CardID != "p4gLgvn_cxVCQez17kaBJnZHPcXs" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E02 development-config PATCH", method: "PATCH", path: "/v3/new-tax-control-fapiao/merchant/development-config", body: "development_config_patch_request.json",
			call:   func(c *Client) (any, error) { return c.UpdateDevelopmentConfig(ctx, &dev) },
			answer: reply{body: string(readTestdata(t, "development_config_patch_response.json"))},
			check: func(t *testing.T, out any) {
				if out.(*DevelopmentConfig).CallbackURL != "https://pay.weixin.qq.com/callback" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E03 development-config GET", method: "GET", path: "/v3/new-tax-control-fapiao/merchant/development-config",
			call:   func(c *Client) (any, error) { return c.GetDevelopmentConfig(ctx, nil) },
			answer: reply{body: string(readTestdata(t, "development_config_get_response.json"))},
			check: func(t *testing.T, out any) {
				if out.(*DevelopmentConfig).CallbackURL != "https://pay.weixin.qq.com/callback" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E04 base-information", method: "GET", path: "/v3/new-tax-control-fapiao/merchant/base-information", query: "sub_mchid=1900000109",
			call: func(c *Client) (any, error) {
				return c.GetBaseInformation(ctx, &GetBaseInformationRequest{SubMchID: "1900000109"})
			},
			answer: reply{body: string(readTestdata(t, "base_information_response.json"))},
			check: func(t *testing.T, out any) {
				if b := out.(*BaseInformation); b.SellerInformation.TaxpayerID != "202003261233701778" || b.ExtraInformation.Drawer != "王五" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E05 tax-codes", method: "GET", path: "/v3/new-tax-control-fapiao/merchant/tax-codes", query: "offset=0&limit=5",
			call:   func(c *Client) (any, error) { return c.ListTaxCodes(ctx, &ListTaxCodesRequest{Limit: 5}) },
			answer: reply{body: string(readTestdata(t, "tax_codes_response.json"))},
			check: func(t *testing.T, out any) {
				if o := out.(*TaxCodes); o.TotalCount != 20 || o.Data[0].TaxCode != "3010101020203000000" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E06 title-url", method: "GET", path: "/v3/new-tax-control-fapiao/user-title/title-url",
			query: "fapiao_apply_id=a%7Cb%2A-1&source=WEB&appid=wxb1170446a4c0a5a2&openid=plN5twRbHym_j-QcqCzstl0HmwEs&total_amount=429900&seller_name=%E6%9F%90+%E5%85%AC%E5%8F%B8&show_phone_cell=true",
			call: func(c *Client) (any, error) {
				return c.GetTitleURL(ctx, &GetTitleURLRequest{FapiaoApplyID: "a|b*-1", Source: SourceWeb, AppID: "wxb1170446a4c0a5a2",
					OpenID: "plN5twRbHym_j-QcqCzstl0HmwEs", TotalAmount: 429900, SellerName: "某 公司", ShowPhoneCell: true})
			},
			answer: reply{body: string(readTestdata(t, "title_url_response.json"))},
			check: func(t *testing.T, out any) {
				if o := out.(*TitleURL); o.MiniprogramPath != "pages/xxxPage" || o.TitleURL != "" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E07 user-title", method: "GET", path: "/v3/new-tax-control-fapiao/user-title", query: "scene=WITH_WECHATPAY&fapiao_apply_id=4200000444201910177461284488",
			call: func(c *Client) (any, error) {
				return c.GetUserTitle(ctx, &GetUserTitleRequest{Scene: SceneWithWechatPay, FapiaoApplyID: "4200000444201910177461284488"})
			},
			answer: reply{body: userTitle},
			check: func(t *testing.T, out any) {
				if o := out.(*BuyerInformation); o.Phone != "18507550000" || o.Email != "123110@qq.com" || o.Amount != 1000 {
					t.Errorf("phone/email not decrypted: %q %q", string(o.Phone), string(o.Email))
				}
			}},
		{name: "E08 issue", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications", body: "fapiao_applications_request.json",
			sealed: []string{"buyer_information.phone", "buyer_information.email"},
			call:   func(c *Client) (any, error) { return c.Issue(ctx, &issue) }, answer: ok202,
			check: func(t *testing.T, out any) {
				if o := out.(*AcceptedResponse); o.StatusCode != 202 || o.RequestID != "test-request-id" {
					t.Errorf("out = %+v", o)
				}
			}},
		{name: "E09 query", method: "GET", path: "/v3/new-tax-control-fapiao/fapiao-applications/4200000444201910177461284488", query: "sub_mchid=1900000109&fapiao_id=20200701123456",
			call: func(c *Client) (any, error) {
				return c.Query(ctx, &QueryRequest{FapiaoApplyID: "4200000444201910177461284488", SubMchID: "1900000109", FapiaoID: "20200701123456"})
			},
			answer: reply{body: queryAnswer},
			check: func(t *testing.T, out any) {
				f := out.(*Application).FapiaoInformation[0]
				if f.Status != StatusIssued || f.BuyerInformation.Phone != "18507550000" || f.BuyerInformation.Email != "123110@qq.com" ||
					f.Items[0].UnitPrice != 380442000000 || f.CardInformation.CardOpenID != "plN5twRbHym_j-QcqCzstl0HmwEs" || f.BlueFapiao.FapiaoNumber != "12897794" {
					t.Errorf("out = %+v", f)
				}
			}},
		{name: "E10 fapiao-files", method: "GET", path: "/v3/new-tax-control-fapiao/fapiao-applications/4200000444201910177461284488/fapiao-files", query: "fapiao_id=20200701123456",
			call: func(c *Client) (any, error) {
				return c.GetDownloadInfo(ctx, &GetDownloadInfoRequest{FapiaoApplyID: "4200000444201910177461284488", FapiaoID: "20200701123456"})
			},
			answer: reply{body: string(readTestdata(t, "fapiao_files_response.json"))},
			check: func(t *testing.T, out any) {
				if o := out.(*DownloadInfo); o.FapiaoDownloadInfoList[0].DownloadURL != "https://pay.wechatpay.cn/invoicing/fapiao/fapiao-file" {
					t.Errorf("out = %+v", o)
				}
			}},
		{name: "E12 reverse", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/4200000444201910177461284488/reverse", body: "reverse_request.json",
			call: func(c *Client) (any, error) { return c.Reverse(ctx, &rev) }, answer: ok202},
		{name: "E14 insert-cards", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/4200000444201910177461284488/insert-cards", body: "insert_cards_request.json",
			sealed: []string{"buyer_information.phone", "buyer_information.email"},
			call:   func(c *Client) (any, error) { return c.InsertCards(ctx, &ins) }, answer: ok202},
		{name: "E15 check", method: "POST", path: "/v3/new-tax-control-fapiao/merchant/1900000109/check", noBodyReq: true,
			call: func(c *Client) (any, error) {
				return c.CheckSubMerchant(ctx, &CheckSubMerchantRequest{SubMchID: "1900000109"})
			},
			answer: reply{status: http.StatusNoContent},
			check: func(t *testing.T, out any) {
				if out.(*AcceptedResponse).StatusCode != 204 {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E16 check-status", method: "GET", path: "/v3/new-tax-control-fapiao/merchant/1900000109/check-status",
			call: func(c *Client) (any, error) {
				return c.GetSubMerchantStatus(ctx, &GetSubMerchantStatusRequest{SubMchID: "1900000109"})
			},
			answer: reply{body: string(readTestdata(t, "check_status_response.json"))},
			check: func(t *testing.T, out any) {
				if o := out.(*SubMerchantStatus); o.ThirdMode.Status != "ENABLED" || o.DigitalTaxMode.AbilityInfo[0].Type != "BASE_ABILITY" {
					t.Errorf("out = %+v", o)
				}
			}},
		{name: "E17 issue-general", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/issue-general", body: "issue_general_request.json",
			sealed: []string{"buyer_information.phone", "buyer_information.email"}, patch: plainBuyer,
			call: func(c *Client) (any, error) { return c.IssueGeneral(ctx, &gen) }, answer: ok202},
		{name: "E18 issue-passenger-transport", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/issue-passenger-transport",
			sealed: []string{"buyer_information.phone", "buyer_information.email", "fapiao_information.items[].passenger_information.certificate_number"},
			call:   func(c *Client) (any, error) { return c.IssuePassengerTransport(ctx, &passenger) }, answer: ok202},
		{name: "E19 issue-refined-oil", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/issue-refined-oil",
			sealed: []string{"buyer_information.phone", "buyer_information.email"},
			call:   func(c *Client) (any, error) { return c.IssueRefinedOil(ctx, &oil) }, answer: ok202},
		{name: "E20 real-estate-leasing", method: "POST", path: "/v3/new-tax-control-fapiao/fapiao-applications/real-estate-leasing", body: "real_estate_leasing_request.json",
			sealed: []string{"buyer_information.phone", "buyer_information.email", "fapiao_information.items[].real_estate_leasing_information.certificate_no"},
			patch: func(m map[string]any) {
				plainBuyer(m)
				it := m["fapiao_information"].(map[string]any)["items"].([]any)[0].(map[string]any)
				it["real_estate_leasing_information"].(map[string]any)["certificate_no"] = "粤房地权证第123456号"
			},
			call: func(c *Client) (any, error) { return c.IssueRealEstateLeasing(ctx, &rel) }, answer: ok202},
		{name: "E21 getspinviteurl", method: "GET", path: "/v3/new-tax-control-fapiao/fapiaomerchant/getspinviteurl",
			call: func(c *Client) (any, error) {
				return c.GetPartnerInviteURL(ctx, &GetPartnerInviteURLRequest{OperationType: "AUTH_BINDING", FapiaoMode: "TENCENT_DIGITAL_TAX",
					FapiaoAbilityTypeList: []string{"BASE_ABILITY", "REAL_ESTATE_ABILITY"}, OperateUser: "张三", InviteCode: "code_1"})
			},
			answer: reply{body: string(readTestdata(t, "getspinviteurl_response.json"))},
			check: func(t *testing.T, out any) {
				if out.(*PartnerInviteURL).InviteURL != "https://wxacurl.cn?xxx=" {
					t.Errorf("out = %+v", out)
				}
			}},
		{name: "E22 listspinvitemchinfo", method: "GET", path: "/v3/new-tax-control-fapiao/fapiaomerchant/listspinvitemchinfo",
			query: "query_time_start=2020-07-01T00%3A00%3A00%2B08%3A00&query_time_end=2020-07-02T00%3A00%3A00%2B08%3A00&offset=10&limit=1&mch_invite_status=MCH_INVITE_SUCC",
			call: func(c *Client) (any, error) {
				return c.ListInvitedMerchants(ctx, &ListInvitedMerchantsRequest{QueryTimeStart: "2020-07-01T00:00:00+08:00", QueryTimeEnd: "2020-07-02T00:00:00+08:00",
					Offset: 10, Limit: 1, MchInviteStatus: "MCH_INVITE_SUCC"})
			},
			answer: reply{body: string(readTestdata(t, "listspinvitemchinfo_response.json"))},
			check: func(t *testing.T, out any) {
				if o := out.(*InvitedMerchants); o.TotalCount != 50 || o.MchInviteResultList[0].TaxID != "9144050071126766XG" {
					t.Errorf("out = %+v", o)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newAPIServer(t, func(*wireRequest) reply { return tc.answer })
			c := newTestClient(t, s)
			out, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			r := s.last()
			if len(s.requests()) != 1 {
				t.Errorf("%d requests", len(s.requests()))
			}
			if r.AuthErr != nil {
				t.Errorf("signature: %v", r.AuthErr)
			}
			if r.Method != tc.method || r.Path != tc.path {
				t.Errorf("%s %s, want %s %s", r.Method, r.Path, tc.method, tc.path)
			}
			if tc.query != "" || r.RawQuery != "" {
				if tc.name == "E21 getspinviteurl" {
					checkInviteQuery(t, r.RawQuery)
				} else if r.RawQuery != tc.query {
					t.Errorf("query %q, want %q", r.RawQuery, tc.query)
				}
			}
			if got := r.Header.Get("Wechatpay-Serial"); got != testPubKeyID {
				t.Errorf("Wechatpay-Serial = %q", got)
			}
			if got := r.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q", got)
			}
			switch {
			case tc.method == "GET" || tc.noBodyReq:
				if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
					t.Errorf("unexpected body %q", r.Body)
				}
			default:
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				got := jsonMap(t, r.Body)
				for _, p := range tc.sealed {
					openPath(t, got, p)
				}
				if tc.body != "" {
					want := jsonMap(t, readTestdata(t, tc.body))
					if tc.patch != nil {
						tc.patch(want)
					}
					if !reflect.DeepEqual(got, want) {
						gb, _ := json.Marshal(got)
						wb, _ := json.Marshal(want)
						t.Errorf("body\n%s\nwant\n%s", gb, wb)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func checkInviteQuery(t *testing.T, raw string) {
	t.Helper()
	q := strings.Split(raw, "&")
	want := []string{"operation_type=AUTH_BINDING", "fapiao_mode=TENCENT_DIGITAL_TAX", "fapiao_ability_type_list=BASE_ABILITY%2CREAL_ESTATE_ABILITY"}
	for i, w := range want {
		if i >= len(q) || q[i] != w {
			t.Fatalf("query %q, want prefix %v", raw, want)
		}
	}
	k, v, _ := strings.Cut(q[3], "=")
	if k != "operate_user" {
		t.Fatalf("query %q: operate_user missing", raw)
	}
	m := map[string]any{"u": unescape(t, v)}
	openPath(t, m, "u")
	if m["u"] != "张三" || q[4] != "invite_code=code_1" {
		t.Errorf("operate_user = %v, rest %v", m["u"], q[4:])
	}
}
