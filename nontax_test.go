package wxinvoice

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleBill() *InsertBillRequest {
	return &InsertBillRequest{OrderID: "1511169724", CardID: "pjZ8Yt7xiy3b9UfffRIA4Tm2xTnw", AppID: "wxc0b84a53ed8e8d29",
		Bill: BillData{Fee: 123, Title: "灌哥发票", BillingTime: time.Unix(1511169724, 0), BillingNo: "1511169724", BillingCode: "aabbccdd", PDFMediaID: "s_pdf_media_id"}}
}

func TestInsertBillWire(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mux.HandleFunc("/nontax/insertbill", func(w http.ResponseWriter, r *http.Request) {
		// The official sample, with billing_time as a number; no nonce_str, no tax fields.
		require.JSONEq(t, `{"order_id":"1511169724","card_ext":{"user_card":{"invoice_user_data":{
			"billing_time":1511169724,"billing_code":"aabbccdd","billing_no":"1511169724",
			"s_pdf_media_id":"s_pdf_media_id","fee":123,"title":"灌哥发票"}}},
			"card_id":"pjZ8Yt7xiy3b9UfffRIA4Tm2xTnw","appid":"wxc0b84a53ed8e8d29"}`, string(testRequest(t, r, "POST")))
		_, _ = w.Write([]byte(fixture(t, "Nontax__Bill__NontaxInsertBillResponse.json")))
	})
	resp, err := ts.client(t).InsertBill(bg, sampleBill())
	require.NoError(t, err)
	require.Equal(t, &InsertBillResponse{Code: "682xxxx661927", OpenID: "ojZ8Ytz4lESxxxx_R1TvB2Kds"}, resp)
}
