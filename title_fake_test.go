package wxinvoice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxinvoice/wxinvoice"
)

func TestFakeTitles(t *testing.T) {
	t.Parallel()
	e := newFamEnv(t)

	u, err := e.c.GetUserTitleURL(bg, &wxinvoice.GetUserTitleURLRequest{Title: "用户抬头", TaxNo: "91440101MA59XXXX1X", Phone: "020-1234"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "https://mp.weixin.qq.com/intp/invoice/usertitle?action=list_auth"), u)
	_, err = e.c.GetUserTitleURL(bg, &wxinvoice.GetUserTitleURLRequest{UserFill: true})
	require.NoError(t, err)

	sel, err := e.c.GetSelectTitleURL(bg, &wxinvoice.GetSelectTitleURLRequest{Attach: "desk-3", BizName: "某店"})
	require.NoError(t, err)
	require.Contains(t, sel, "action=select_title")
	require.NoError(t, e.srv.UserSubmitTitle(sel, "ouser", wxinvoice.UserTitle{Type: wxinvoice.TitleTypePerson, Title: "张三", Phone: "138"}))

	title := wxinvoice.UserTitle{Type: wxinvoice.TitleTypeBusiness, Title: "单位抬头测试", TaxNo: "aaaaaaaaaa123456", Addr: "addr",
		Phone: "12345", BankType: "bank_type", BankNo: "1235456465341234"}
	got, err := e.c.ScanTitle(bg, e.srv.AddUserTitle(title))
	require.NoError(t, err)
	require.Equal(t, &title, got)
	_, err = e.c.ScanTitle(bg, "https://mp.weixin.qq.com/intp/invoice/usertitlewxa?action=list_auth&invoice_key=old")
	require.ErrorIs(t, err, wxinvoice.ErrScanTextExpired)

	_, _, titles, _ := e.events()
	require.Len(t, titles, 1)
	require.Equal(t, wxinvoice.SubmitInvoiceTitleEvent{ToUserName: e.srv.Username(), FromUserName: "ouser", CreateTime: titles[0].CreateTime,
		Title: "张三", Phone: "138", Attach: "desk-3", TitleType: "InvoiceUserTitlePersonType"}, titles[0])
}
