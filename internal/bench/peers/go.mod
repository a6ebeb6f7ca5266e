module github.com/wxinvoice/wxinvoice/internal/bench/peers

go 1.26.0

require (
	github.com/go-resty/resty/v2 v2.17.2
	github.com/silenceper/wechat/v2 v2.1.14
	github.com/wxinvoice/wxinvoice v0.0.0
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)

replace github.com/wxinvoice/wxinvoice => ../../..
