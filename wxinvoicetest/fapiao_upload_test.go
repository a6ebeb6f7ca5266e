package wxinvoicetest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const uploadURI = fpBase + "/fapiao-applications/upload-fapiao-file"

// uploadBody builds the multipart body of an upload: meta first, then file.
func uploadBody(t testing.TB, meta []byte, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="meta"`)
	h.Set("Content-Type", "application/json")
	p, err := w.CreatePart(h)
	require.NoError(t, err)
	_, _ = p.Write(meta)
	if file != nil {
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="fapiao.pdf"`)
		h.Set("Content-Type", "application/pdf")
		p, err = w.CreatePart(h)
		require.NoError(t, err)
		_, _ = p.Write(file)
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), w.FormDataContentType()
}

// upload sends file with meta signed and returns the status and body.
func (c *fpClient) upload(meta, file []byte) (int, []byte) {
	c.t.Helper()
	body, ct := uploadBody(c.t, meta, file)
	resp, b := c.raw(http.MethodPost, uploadURI, body, meta, http.Header{"Content-Type": {ct}})
	require.NoError(c.t, c.verify(resp.Header, b))
	return resp.StatusCode, b
}

func pdfMeta(file []byte) []byte {
	return []byte(`{"file_type":"PDF","digest_alogrithm":"SM3","digest":"` + sm3Hex(file) + `"}`)
}

func TestFapiaoUploadAndInsertCards(t *testing.T) {
	srv, f, c := fapiaoSetup(t)
	rcv := newFpReceiver(t, c)
	setupMerchant(t, c, rcv.srv.URL)

	// The derived vector's exact multipart body (meta signed, SM3 lower-case).
	d3 := derivedVectors(t)["D3"]
	resp, b := c.raw(http.MethodPost, uploadURI, []byte(d3.MultipartBody), []byte(d3.Meta),
		http.Header{"Content-Type": {d3.ContentType}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NoError(t, c.verify(resp.Header, b))
	var up map[string]string
	require.NoError(t, json.Unmarshal(b, &up))
	got, ok := f.Media(up["fapiao_media_id"])
	require.True(t, ok)
	assert.Equal(t, d3.FileBytes, string(got))

	file := []byte("%PDF-1.4\n% self-issued invoice\n%%EOF\n")
	upper := []byte(`{"file_type":"OFD","digest_alogrithm":"SM3","digest":"` + strings.ToUpper(sm3Hex(file)) + `"}`)
	st, b := c.upload(upper, file)
	assert.Equal(t, http.StatusOK, st, "an upper-case digest and OFD are accepted: %s", b)

	// Refusals, each naming the field; nothing stored.
	big := bytes.Repeat([]byte("x"), 2<<20+1)
	for name, tc := range map[string]struct {
		meta, file []byte
		field      string
	}{
		"wrong digest":   {pdfMeta([]byte("other")), file, "meta.digest"},
		"short digest":   {[]byte(`{"file_type":"PDF","digest_alogrithm":"SM3","digest":"abc"}`), file, "meta.digest"},
		"algorithm":      {[]byte(`{"file_type":"PDF","digest_algorithm":"SM3","digest":"` + sm3Hex(file) + `"}`), file, "meta.digest_alogrithm"},
		"file type":      {[]byte(`{"file_type":"DOC","digest_alogrithm":"SM3","digest":"` + sm3Hex(file) + `"}`), file, "meta.file_type"},
		"no file":        {pdfMeta(file), nil, "file"},
		"over 2 MB":      {pdfMeta(big), big, "file"},
		"meta not JSON ": {[]byte(`{`), file, "meta"},
	} {
		st, b := c.upload(tc.meta, tc.file)
		assert.Equal(t, http.StatusBadRequest, st, name)
		var e struct {
			Code   string            `json:"code"`
			Detail fapiaoFieldDetail `json:"detail"`
		}
		require.NoError(t, json.Unmarshal(b, &e), name)
		assert.Equal(t, "PARAM_ERROR", e.Code, name)
		assert.Equal(t, tc.field, e.Detail.Field, name)
	}
	exactly2MB := bytes.Repeat([]byte("y"), 2<<20)
	st, b = c.upload(pdfMeta(exactly2MB), exactly2MB)
	assert.Equal(t, http.StatusOK, st, "2 MB is allowed: %s", b)

	// A JSON body, and a meta signed other than sent, are refused.
	resp, b = c.raw(http.MethodPost, uploadURI, []byte(`{}`), []byte(`{}`), nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	body, ct := uploadBody(t, pdfMeta(file), file)
	resp, _ = c.raw(http.MethodPost, uploadURI, body, append(pdfMeta(file), ' '), http.Header{"Content-Type": {ct}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the signature covers the meta bytes exactly")

	// Insert the self-issued invoice (E14) → 202 → FAPIAO.CARD_INSERTED.
	st, b = c.upload(pdfMeta(file), file)
	require.Equal(t, http.StatusOK, st, string(b))
	require.NoError(t, json.Unmarshal(b, &up))
	mediaID := up["fapiao_media_id"]
	txn, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 382895, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "张三"}})
	require.NoError(t, err)
	rcv.next(t)
	ins := insertRequest(t, c, mediaID)
	uri := fpBase + "/fapiao-applications/" + txn + "/insert-cards"
	st, b = c.call(http.MethodPost, uri, ins)
	require.Equal(t, http.StatusAccepted, st, string(b))
	cb := rcv.next(t)
	assert.Equal(t, FapiaoEventCardInserted, cb.EventType)
	assert.Equal(t, []any{map[string]any{"fapiao_id": "12897794", "fapiao_status": "ISSUED", "card_status": "INSERTED"}},
		cb.Resource["fapiao_information"])
	app, ok := f.Application(fpMchID, "", txn)
	require.True(t, ok)
	require.Len(t, app.Invoices, 1)
	assert.True(t, app.Invoices[0].SelfIssued)
	assert.Equal(t, file, app.Invoices[0].File)
	assert.Equal(t, fpPhone, app.Buyer.Phone)

	// Repeating it (re-encrypted phone) does nothing; another insertion is refused.
	st, _ = c.call(http.MethodPost, uri, insertRequest(t, c, mediaID))
	assert.Equal(t, http.StatusAccepted, st)
	f.WaitCallbacks()
	assert.Len(t, f.Callbacks(), 2, "no second CARD_INSERTED")
	other := insertRequest(t, c, mediaID)
	other["buyer_information"].(map[string]any)["name"] = "别人"
	st, b = c.call(http.MethodPost, uri, other)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)

	// Self-issued invoices have no WeChat Pay file and cannot be reversed there.
	st, b = c.call(http.MethodGet, fpBase+"/fapiao-applications/"+txn+"/fapiao-files?fapiao_id=12897794", nil)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/"+txn+"/reverse", map[string]any{"reverse_reason": "退款",
		"fapiao_information": []any{map[string]any{"fapiao_id": "12897794", "fapiao_number": "12897794"}}})
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)

	// A media id expires after 3 days.
	txn2, err := f.UserApply(FapiaoUserApply{MchID: fpMchID, Amount: 382895, Title: FapiaoTitle{Type: "INDIVIDUAL", Name: "李四"}})
	require.NoError(t, err)
	st, b = c.upload(pdfMeta(file), file)
	require.Equal(t, http.StatusOK, st)
	require.NoError(t, json.Unmarshal(b, &up))
	srv.Advance(72 * time.Hour)
	_, ok = f.Media(up["fapiao_media_id"])
	assert.False(t, ok)
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/"+txn2+"/insert-cards", insertRequest(t, c, up["fapiao_media_id"]))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "INVALID_REQUEST", fpErr(t, b).Code)
	assert.Contains(t, fpErr(t, b).Message, "fapiao_media_id")

	// At most five cards.
	six := insertRequest(t, c, mediaID)
	cards := six["fapiao_card_information"].([]any)
	for len(cards) < 6 {
		cards = append(cards, cards[0])
	}
	six["fapiao_card_information"] = cards
	st, b = c.call(http.MethodPost, fpBase+"/fapiao-applications/"+txn2+"/insert-cards", six)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "PARAM_ERROR", fpErr(t, b).Code)
}

// insertRequest is the documentation's insert-cards sample with mediaID and
// phone/email encrypted for the fake.
func insertRequest(t testing.TB, c *fpClient, mediaID string) map[string]any {
	m := sampleJSON(t, "insert_cards_request.json")
	buyer := m["buyer_information"].(map[string]any)
	buyer["phone"], buyer["email"] = c.encrypt(fpPhone), c.encrypt(fpEmail)
	m["fapiao_card_information"].([]any)[0].(map[string]any)["fapiao_media_id"] = mediaID
	return m
}
