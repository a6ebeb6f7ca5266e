package wxcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Vectors copied from public test suites; each was re-computed independently.
const (
	// V2: WxJava WxCryptUtilTest (official WXBizMsgCrypt "pamtest" values),
	// binarywang/WxJava@3e48dc7f8378f919f734bc08ff1abd78720d9861
	// weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/WxCryptUtilTest.java
	v2Key        = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	v2Token      = "pamtest"
	v2Timestamp  = "1409304348"
	v2Nonce      = "xxxxxx"
	v2AppID      = "wxb11529c136998cb6"
	v2Random     = "aaaabbbbccccdddd"
	v2Msg        = "我是中文abcd123"
	v2Encrypted  = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
	v2Msg2       = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
	v2Encrypted2 = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
	// Derived: msg_signature of v2Encrypted.
	v2MsgSignature = "82c962d39941aa48552f90ef55aa323dc620cc10"

	// V3.a: easywechat tests/Kernel/EncryptorTest.php,
	// w7corp/easywechat@7a93b804935c0eb4145552bce9cb56974d561c0a.
	v3aToken        = "pamtest"
	v3aKey          = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	v3aAppID        = "wxb11529c136998cb6"
	v3aEncrypted    = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA=="
	v3aMsgSignature = "4f3ad57b6989f09f4eb392acce4f9e93942ed890"
	v3aNonce        = "260774613"
	v3aTimestamp    = "1458300676"
	v3aRandom       = "d43123b161a4ba84"
	v3aMsg          = "<xml><URL><![CDATA[http://wechat.laravel.so/server]]></URL><ToUserName><![CDATA[asdasdasd]]></ToUserName><FromUserName><![CDATA[asdasdasdsadasd]]></FromUserName><CreateTime>1234567898</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>12345</MsgId></xml>"

	// V3.b: easywechat tests/Kernel/Traits/DecryptXmlMessageTest.php (WeCom
	// official sample; the trailing id is the corpid).
	v3bCorpID       = "wx5823bf96d3bd56c7"
	v3bToken        = "QDG6eK"
	v3bKey          = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	v3bMsgSignature = "477715d11cdb4164915debcba66cb864d751f3e6"
	v3bTimestamp    = "1409659813"
	v3bNonce        = "1372623149"
	v3bEncrypted    = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	v3bMsg          = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)

func TestSignatureVectors(t *testing.T) {
	// V5 silenceper/wechat util/signature_test.go: Signature("a","b","c") == sha1("abc").
	require.Equal(t, "a9993e364706816aba3e25717850c26c9cd0d89d", Signature("a", "b", "c"))
	require.Equal(t, "a9993e364706816aba3e25717850c26c9cd0d89d", Signature("c", "a", "b"))
	// WxJava SHA1Test.
	require.Equal(t, "9f537aeb751ec72605f57f94a2f6dc3e3958e1dd", Signature("123", "345"))
	require.Equal(t, "9f537aeb751ec72605f57f94a2f6dc3e3958e1dd", Signature("345", "123"))
	// V5 wechatpy tests/test_utils.py check_signature.
	require.True(t, VerifySignature("f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", "test", "1410685589", "test"))
	require.False(t, VerifySignature("f21891de399b4e33a1a93c9a7b8a8fffb5a443fe", "test", "1410685589", "test"))
	// msg_signature vectors.
	require.True(t, VerifySignature(v2MsgSignature, v2Token, v2Timestamp, v2Nonce, v2Encrypted))
	require.True(t, VerifySignature(v3aMsgSignature, v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted))
	require.True(t, VerifySignature(v3bMsgSignature, v3bToken, v3bTimestamp, v3bNonce, v3bEncrypted))
	// WxJava wrong-signature test: token "12345" must fail.
	require.False(t, VerifySignature(v2MsgSignature, "12345", v2Timestamp, v2Nonce, v2Encrypted))
	// easywechat: "invalid-signature".
	require.False(t, VerifySignature("invalid-signature", v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted))
	// Uppercase hex, empty and over-long signatures are refused.
	require.False(t, VerifySignature(strings.ToUpper(v3aMsgSignature), v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted))
	require.False(t, VerifySignature("", v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted))
	require.False(t, VerifySignature(v3aMsgSignature+"0", v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted))
}

func TestSignatureDoesNotModifyParts(t *testing.T) {
	parts := []string{"c", "b", "a"}
	Signature(parts...)
	VerifySignature("x", parts...)
	require.Equal(t, []string{"c", "b", "a"}, parts)

	// More than four parts and more than the stack buffer still work.
	long := strings.Repeat("z", 5000)
	require.Equal(t, Signature("a", "b", "c", "d", "e", long), Signature(long, "e", "d", "c", "b", "a"))
}

func TestCryptoVectorsEncrypt(t *testing.T) {
	c, err := NewCipher(v2Key, v2AppID)
	require.NoError(t, err)
	got, err := c.EncryptWithRandom([]byte(v2Random), []byte(v2Msg))
	require.NoError(t, err)
	require.Equal(t, v2Encrypted, got)
	got, err = c.EncryptWithRandom([]byte(v2Random), []byte(v2Msg2))
	require.NoError(t, err)
	require.Equal(t, v2Encrypted2, got)

	// V3.a re-encrypted with its recovered random prefix gives the vector back.
	c3, err := NewCipher(v3aKey, v3aAppID)
	require.NoError(t, err)
	got, err = c3.EncryptWithRandom([]byte(v3aRandom), []byte(v3aMsg))
	require.NoError(t, err)
	require.Equal(t, v3aEncrypted, got)
}

func TestCryptoVectorsDecrypt(t *testing.T) {
	c, err := NewCipher(v2Key, v2AppID)
	require.NoError(t, err)
	msg, err := c.Decrypt(v2Encrypted)
	require.NoError(t, err)
	require.Equal(t, v2Msg, string(msg))
	msg, err = c.Decrypt(v2Encrypted2)
	require.NoError(t, err)
	require.Equal(t, v2Msg2, string(msg))

	c3, err := NewCipher(v3aKey, v3aAppID)
	require.NoError(t, err)
	msg, err = c3.Decrypt(v3aEncrypted)
	require.NoError(t, err)
	require.Equal(t, v3aMsg, string(msg))

	cw, err := NewCipher(v3bKey, v3bCorpID)
	require.NoError(t, err)
	msg, err = cw.Decrypt(v3bEncrypted)
	require.NoError(t, err)
	require.Equal(t, v3bMsg, string(msg))
}

func TestCryptoRejectsWrongAppID(t *testing.T) {
	// easywechat: appid "invalid appid" → Invalid appId.
	c, err := NewCipher(v3aKey, "invalid appid")
	require.NoError(t, err)
	_, err = c.Decrypt(v3aEncrypted)
	require.ErrorIs(t, err, ErrAppID)

	// A prefix or extension of the right appid is not the right appid.
	c, err = NewCipher(v3aKey, v3aAppID[:len(v3aAppID)-1])
	require.NoError(t, err)
	_, err = c.Decrypt(v3aEncrypted)
	require.ErrorIs(t, err, ErrAppID)
}

func TestCryptoRejectsWrongKey(t *testing.T) {
	c, err := NewCipher(v3bKey, v3aAppID)
	require.NoError(t, err)
	_, err = c.Decrypt(v3aEncrypted)
	require.Error(t, err)
}

// rawEncrypt encrypts plain (already laid out and padded by the caller) with
// the key, so that tests can build malformed plaintexts.
func rawEncrypt(t *testing.T, encodingAESKey string, plain []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// layout returns random16 || len || msg || appid without padding.
func layout(msg, appID string) []byte {
	b := make([]byte, 20, 20+len(msg)+len(appID))
	copy(b, "0123456789abcdef")
	binary.BigEndian.PutUint32(b[16:], uint32(len(msg)))
	return append(append(b, msg...), appID...)
}

func pad(b []byte, n int, v byte) []byte {
	for range n {
		b = append(b, v)
	}
	return b
}

func TestCryptoDecryptRefusals(t *testing.T) {
	c, err := NewCipher(v2Key, v2AppID)
	require.NoError(t, err)

	good := layout("hello", v2AppID) // 43 bytes → 21 bytes of padding
	require.Len(t, good, 43)
	goodEnc := rawEncrypt(t, v2Key, pad(append([]byte(nil), good...), 21, 21))
	msg, err := c.Decrypt(goodEnc)
	require.NoError(t, err)
	require.Equal(t, "hello", string(msg))

	// Exactly aligned plaintext gets a full block of 32×0x20.
	aligned := layout(strings.Repeat("x", 64-20-len(v2AppID)), v2AppID)
	require.Len(t, aligned, 64)
	msg, err = c.Decrypt(rawEncrypt(t, v2Key, pad(aligned, 32, 32)))
	require.NoError(t, err)
	require.Len(t, msg, 64-20-len(v2AppID))
	enc, err := c.EncryptWithRandom([]byte("0123456789abcdef"), msg)
	require.NoError(t, err)
	raw, _ := base64.StdEncoding.DecodeString(enc)
	require.Len(t, raw, 96)

	tests := []struct {
		name string
		enc  string
		want error
	}{
		{"empty", "", ErrCiphertext},
		{"not base64", "!!!!", ErrCiphertext},
		{"not a multiple of 32", base64.StdEncoding.EncodeToString(make([]byte, 48)), ErrCiphertext},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), ErrCiphertext},
		{"pad 0", rawEncrypt(t, v2Key, pad(append([]byte(nil), good...), 21, 0)), ErrPadding},
		{"pad 33", rawEncrypt(t, v2Key, pad(layout(strings.Repeat("h", 25), v2AppID), 1, 33)), ErrPadding},
		{"inconsistent pad", rawEncrypt(t, v2Key, append(pad(append([]byte(nil), good...), 20, 7), 21)), ErrPadding},
		{"length past end", rawEncrypt(t, v2Key, func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[16:], 1000)
			return pad(b, 21, 21)
		}()), ErrLength},
		{"length 2^32-1", rawEncrypt(t, v2Key, func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[16:], 0xffffffff)
			return pad(b, 21, 21)
		}()), ErrLength},
		{"too short for header", rawEncrypt(t, v2Key, pad([]byte("0123456789abcdef"), 16, 16)), ErrLength},
		{"appid missing", rawEncrypt(t, v2Key, pad(layout("hello", ""), 7, 7)), ErrAppID},
		{"appid differs", rawEncrypt(t, v2Key, pad(layout("hello", "wxb11529c136998cb7"), 21, 21)), ErrAppID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := c.Decrypt(tc.enc)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, msg)
		})
	}
}

func TestCryptoNewCipherRefusals(t *testing.T) {
	for _, tc := range []struct{ name, key, appID string }{
		{"short key", v2Key[:42], v2AppID},
		{"long key", v2Key + "A", v2AppID},
		{"bad base64", "abcdefghijklmnopqrstuvwxyz0123456789ABCDE!G", v2AppID},
		{"no appid", v2Key, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCipher(tc.key, tc.appID)
			require.Error(t, err)
			require.NotContains(t, err.Error(), tc.key)
		})
	}
}

func TestCryptoRoundTrip(t *testing.T) {
	c, err := NewCipher(v3bKey, v3bCorpID)
	require.NoError(t, err)
	for n := 0; n < 100; n++ {
		msg := []byte(strings.Repeat("é", n))
		enc, err := c.Encrypt(msg)
		require.NoError(t, err)
		got, err := c.Decrypt(enc)
		require.NoError(t, err)
		require.Equal(t, msg, got)
	}
	_, err = c.EncryptWithRandom([]byte("short"), nil)
	require.Error(t, err)

	// Two encryptions of one message differ (random prefix).
	a, _ := c.Encrypt([]byte("x"))
	b, _ := c.Encrypt([]byte("x"))
	require.NotEqual(t, a, b)
}

func TestCryptoConcurrent(t *testing.T) {
	c, err := NewCipher(v3aKey, v3aAppID)
	require.NoError(t, err)
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				msg, err := c.Decrypt(v3aEncrypted)
				if err == nil && string(msg) != v3aMsg {
					err = ErrLength
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}

func BenchmarkCryptoDecrypt(b *testing.B) {
	c, _ := NewCipher(v3aKey, v3aAppID)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Decrypt(v3aEncrypted); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCryptoVerifySignature(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !VerifySignature(v3aMsgSignature, v3aToken, v3aTimestamp, v3aNonce, v3aEncrypted) {
			b.Fatal("bad")
		}
	}
}
