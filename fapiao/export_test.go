package fapiao

// NewExampleFake exports the examples' fake WeChat Pay server to package
// fapiao_test (it exists only in tests; users' tests use wxinvoicetest).
var NewExampleFake = newExampleFake
