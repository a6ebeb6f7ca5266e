package wire

// Reimburser (报销方) side: /card/invoice/reimburse/*.

// InvoiceRef identifies an invoice card for a reimburser: the body of
// getinvoiceinfo and the entries of getinvoicebatch's item_list and
// updatestatusbatch's invoice_list.
type InvoiceRef struct {
	CardID      string `json:"card_id"`
	EncryptCode string `json:"encrypt_code"`
}

// ReimburseInvoice is the invoice a reimburser reads: the answer of
// getinvoiceinfo (with Status) and one entry of getinvoicebatch's item_list.
type ReimburseInvoice struct {
	CardID         string            `json:"card_id"`
	BeginTime      Int               `json:"begin_time,omitempty"`
	EndTime        Int               `json:"end_time,omitempty"`
	UserCardStatus string            `json:"user_card_status,omitempty"`
	OpenID         string            `json:"openid"`
	Type           string            `json:"type"`
	Payee          string            `json:"payee"`
	Detail         string            `json:"detail"`
	UserInfo       ReimburseUserInfo `json:"user_info"`
}

// ReimburseUserInfo is the user_info object of a reimbursed invoice. The
// reference spells the trip PDF field trip_pdf_ur; both spellings decode.
type ReimburseUserInfo struct {
	Fee                   Int             `json:"fee"`
	Title                 string          `json:"title"`
	BillingTime           Int             `json:"billing_time"`
	BillingNo             string          `json:"billing_no"`
	BillingCode           string          `json:"billing_code"`
	Info                  []ReimburseItem `json:"info,omitempty"`
	FeeWithoutTax         Int             `json:"fee_without_tax"`
	Tax                   Int             `json:"tax"`
	Detail                string          `json:"detail,omitempty"`
	PDFURL                string          `json:"pdf_url"`
	TripPDFURL            string          `json:"trip_pdf_url,omitempty"`
	TripPDFUr             string          `json:"trip_pdf_ur,omitempty"`
	ReimburseStatus       string          `json:"reimburse_status"`
	OrderID               string          `json:"order_id,omitempty"`
	CheckCode             string          `json:"check_code,omitempty"`
	BuyerNumber           string          `json:"buyer_number,omitempty"`
	BuyerAddressAndPhone  string          `json:"buyer_address_and_phone,omitempty"`
	BuyerBankAccount      string          `json:"buyer_bank_account,omitempty"`
	SellerNumber          string          `json:"seller_number,omitempty"`
	SellerAddressAndPhone string          `json:"seller_address_and_phone,omitempty"`
	SellerBankAccount     string          `json:"seller_bank_account,omitempty"`
	Remarks               string          `json:"remarks,omitempty"`
	Cashier               string          `json:"cashier,omitempty"`
	Maker                 string          `json:"maker,omitempty"`
}

// ReimburseItem is one entry of user_info.info as a reimburser reads it:
// InvoiceItem's fields, with num and price decoding from numeric strings too
// like every other number of the answer.
type ReimburseItem struct {
	Name  string `json:"name"`
	Num   Int    `json:"num,omitempty"`
	Unit  string `json:"unit,omitempty"`
	Price Int    `json:"price"`
}

// GetInvoiceInfoResponse is the answer of /card/invoice/reimburse/getinvoiceinfo.
type GetInvoiceInfoResponse struct {
	Status
	ReimburseInvoice
}

// GetInvoiceBatchRequest is the body of /card/invoice/reimburse/getinvoicebatch.
type GetInvoiceBatchRequest struct {
	ItemList []InvoiceRef `json:"item_list"`
}

// GetInvoiceBatchResponse is the answer of /card/invoice/reimburse/getinvoicebatch.
type GetInvoiceBatchResponse struct {
	Status
	ItemList []ReimburseInvoice `json:"item_list"`
}

// ReimburseUpdateRequest is the body of /card/invoice/reimburse/updateinvoicestatus.
type ReimburseUpdateRequest struct {
	CardID          string `json:"card_id"`
	EncryptCode     string `json:"encrypt_code"`
	ReimburseStatus string `json:"reimburse_status"`
}

// UpdateStatusBatchRequest is the body of /card/invoice/reimburse/updatestatusbatch.
type UpdateStatusBatchRequest struct {
	OpenID          string       `json:"openid"`
	ReimburseStatus string       `json:"reimburse_status"`
	InvoiceList     []InvoiceRef `json:"invoice_list"`
}
