package wxinvoice

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// maxChooseInvoiceInput bounds the invoiceInfo ParseChooseInvoiceResult
// accepts: a user chooses a handful of invoices, each about 200 bytes.
const maxChooseInvoiceInput = 1 << 20

// ParseChooseInvoiceResult turns the invoiceInfo a Mini Program's
// wx.chooseInvoice returns (or the choose_invoice_info of the Official
// Account and WeCom JS-SDK chooseInvoice) into the references the
// reimburser calls take (GetInvoiceInfo, GetInvoiceBatch, the WeComClient's).
//
// invoiceInfo is a JSON string: an array of objects with card_id,
// encrypt_code and app_id (the invoicing party's appid, which no reimburser
// call needs and which is therefore not returned); a single such object is
// accepted too. Each card_id and encrypt_code must be a non-empty string;
// other keys are ignored. Malformed input returns a *ValidationError whose
// Field names the item and key, e.g. "invoiceInfo[1].encrypt_code". The
// values are returned as given (not trimmed).
func ParseChooseInvoiceResult(invoiceInfo string) ([]InvoiceRef, error) {
	if len(invoiceInfo) > maxChooseInvoiceInput {
		return nil, newValidation("invoiceInfo", "longer than %d bytes", maxChooseInvoiceInput)
	}
	data := bytes.TrimSpace([]byte(invoiceInfo))
	if len(data) == 0 {
		return nil, newValidation("invoiceInfo", "must not be empty")
	}
	var items []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, newValidation("invoiceInfo", "not a JSON array of objects: %v", err)
		}
	case '{':
		items = []json.RawMessage{data}
	default:
		return nil, newValidation("invoiceInfo", "not a JSON array or object")
	}
	if len(items) == 0 {
		return nil, newValidation("invoiceInfo", "no invoice chosen (empty array)")
	}
	refs := make([]InvoiceRef, len(items))
	for i, raw := range items {
		field := "invoiceInfo"
		if data[0] == '[' {
			field += "[" + strconv.Itoa(i) + "]"
		}
		var item map[string]json.RawMessage
		if err := json.Unmarshal(raw, &item); err != nil || item == nil {
			return nil, newValidation(field, "not a JSON object")
		}
		cardID, err := chosenString(item, field, "card_id")
		if err != nil {
			return nil, err
		}
		code, err := chosenString(item, field, "encrypt_code")
		if err != nil {
			return nil, err
		}
		refs[i] = InvoiceRef{CardID: cardID, EncryptCode: code}
	}
	return refs, nil
}

// chosenString reads the non-empty string key of one chosen invoice.
func chosenString(item map[string]json.RawMessage, field, key string) (string, error) {
	raw, ok := item[key]
	if !ok {
		return "", newValidation(field+"."+key, "missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", newValidation(field+"."+key, "must be a JSON string")
	}
	if s == "" {
		return "", newValidation(field+"."+key, "must not be empty")
	}
	return s, nil
}
