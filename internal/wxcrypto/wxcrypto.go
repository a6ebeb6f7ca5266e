// Package wxcrypto implements WeChat's message-push cryptography: the SHA-1
// signatures of server verification and pushes, and the AES-256-CBC "safe
// mode" (安全模式) envelope of WXBizMsgCrypt.
//
// It is shared by the SDK's event handler (package wxinvoice) and by the fake
// WeChat server (package wxinvoicetest), so that both ends of a push use one
// implementation.
//
// The scheme, as WeChat documents it and every reference SDK implements it:
//
//	AESKey    = base64decode(EncodingAESKey + "=")          // 32 bytes
//	IV        = AESKey[:16]
//	plaintext = random(16) || uint32_be(len(msg)) || msg || appid
//	padded    = PKCS#7(plaintext) to a multiple of 32 bytes // padding 1..32, not AES's 16
//	Encrypt   = base64(AES-256-CBC(AESKey, IV, padded))
//	signature = hex(sha1(concat(sort(parts))))
package wxcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
)

// BlockSize is the PKCS#7 block size of the scheme: 32 bytes (the AES key
// size), not AES's 16-byte block. Padding is therefore 1..32 bytes.
const BlockSize = 32

// EncodingAESKeyLen is the length of a valid EncodingAESKey.
const EncodingAESKeyLen = 43

// Errors returned by Decrypt. They never contain key material or the message.
var (
	// ErrCiphertext reports an Encrypt value that is not valid base64 or
	// whose length is not a positive multiple of 32 bytes.
	ErrCiphertext = errors.New("wxcrypto: malformed ciphertext")
	// ErrPadding reports PKCS#7 padding outside 1..32 or inconsistent pad
	// bytes (typically: the wrong EncodingAESKey).
	ErrPadding = errors.New("wxcrypto: invalid padding")
	// ErrLength reports a plaintext too short for its header or a length
	// prefix that runs past the end of the plaintext.
	ErrLength = errors.New("wxcrypto: invalid message length")
	// ErrAppID reports that the appid trailing the message is not the
	// expected one.
	ErrAppID = errors.New("wxcrypto: appid mismatch")
)

// Signature returns the lowercase hex SHA-1 of parts sorted lexicographically
// (by bytes) and concatenated without separator. It does not modify parts.
//
// Server verification signs (token, timestamp, nonce); safe-mode pushes sign
// (token, timestamp, nonce, Encrypt) as msg_signature.
func Signature(parts ...string) string {
	var sum [sha1.Size * 2]byte
	signature(&sum, parts)
	return string(sum[:])
}

// VerifySignature reports whether sig is the Signature of parts. The
// comparison runs in constant time (crypto/subtle); only the length of sig
// (40 hex digits) is checked in variable time.
func VerifySignature(sig string, parts ...string) bool {
	var want, got [sha1.Size * 2]byte
	if len(sig) != len(got) {
		return false
	}
	copy(got[:], sig)
	signature(&want, parts)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// signature writes the hex digest into dst without heap allocation for the
// usual sizes (four parts, a few KiB in total).
func signature(dst *[sha1.Size * 2]byte, parts []string) {
	var arr [4]string
	sorted := append(arr[:0], parts...)
	slices.Sort(sorted)
	n := 0
	for _, p := range sorted {
		n += len(p)
	}
	var stack [2048]byte
	buf := stack[:0]
	if n > len(stack) {
		buf = make([]byte, 0, n)
	}
	for _, p := range sorted {
		buf = append(buf, p...)
	}
	sum := sha1.Sum(buf)
	hex.Encode(dst[:], sum[:])
}

// Cipher encrypts and decrypts safe-mode messages for one EncodingAESKey and
// one appid. It is immutable and safe for concurrent use.
type Cipher struct {
	block cipher.Block
	iv    [aes.BlockSize]byte
	appID string
}

// NewCipher returns a Cipher for encodingAESKey (43 characters, the base64 of
// a 32-byte AES key without its trailing "=") and appID, the id WeChat appends
// to every message (the AppID of the official account or mini program, the
// component AppID of a third-party platform, or the corpid in WeCom).
//
// appID must not be empty: Decrypt always checks it. Errors never contain the
// key.
func NewCipher(encodingAESKey, appID string) (*Cipher, error) {
	if len(encodingAESKey) != EncodingAESKeyLen {
		return nil, errors.New("wxcrypto: EncodingAESKey must be 43 characters")
	}
	if appID == "" {
		return nil, errors.New("wxcrypto: appID is required")
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, errors.New("wxcrypto: EncodingAESKey is not valid base64")
	}
	if len(key) != 32 {
		return nil, errors.New("wxcrypto: EncodingAESKey must decode to 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("wxcrypto: invalid AES key")
	}
	c := &Cipher{block: block, appID: appID}
	copy(c.iv[:], key[:aes.BlockSize])
	return c, nil
}

// AppID returns the appid the Cipher appends and checks.
func (c *Cipher) AppID() string { return c.appID }

// Encrypt returns the base64 Encrypt value for msg, with 16 random bytes
// from crypto/rand as the prefix.
func (c *Cipher) Encrypt(msg []byte) (string, error) {
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", errors.New("wxcrypto: reading random bytes: " + err.Error())
	}
	return c.EncryptWithRandom(random[:], msg)
}

// EncryptWithRandom is Encrypt with the caller's 16-byte random prefix; it is
// deterministic, for test vectors. Never reuse a prefix in production.
func (c *Cipher) EncryptWithRandom(random16, msg []byte) (string, error) {
	if len(random16) != 16 {
		return "", errors.New("wxcrypto: random prefix must be 16 bytes")
	}
	if uint64(len(msg)) > 1<<32-1 {
		return "", errors.New("wxcrypto: message too long")
	}
	n := 16 + 4 + len(msg) + len(c.appID)
	pad := BlockSize - n%BlockSize // 1..32
	buf := make([]byte, n+pad)
	copy(buf, random16)
	binary.BigEndian.PutUint32(buf[16:20], uint32(len(msg)))
	copy(buf[20:], msg)
	copy(buf[20+len(msg):], c.appID)
	for i := n; i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv[:]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt returns the message inside the base64 Encrypt value. It checks that
// the ciphertext is a positive multiple of 32 bytes, that the PKCS#7 padding
// is 1..32 identical bytes, that the length prefix fits, and that the
// trailing appid is the Cipher's; any failure returns one of the Err*
// values above and no message.
//
// Callers must verify msg_signature before decrypting: the scheme has no
// MAC of its own.
func (c *Cipher) Decrypt(encrypted string) ([]byte, error) {
	enc := base64.StdEncoding
	buf := make([]byte, enc.DecodedLen(len(encrypted)))
	n, err := enc.Decode(buf, []byte(encrypted))
	if err != nil || n == 0 || n%BlockSize != 0 {
		return nil, ErrCiphertext
	}
	buf = buf[:n]
	cipher.NewCBCDecrypter(c.block, c.iv[:]).CryptBlocks(buf, buf)

	pad := int(buf[n-1])
	if pad < 1 || pad > BlockSize {
		return nil, ErrPadding
	}
	bad := 0
	for _, b := range buf[n-pad:] {
		bad |= int(b) ^ pad
	}
	if bad != 0 {
		return nil, ErrPadding
	}
	buf = buf[:n-pad]
	if len(buf) < 20 {
		return nil, ErrLength
	}
	msgLen := uint64(binary.BigEndian.Uint32(buf[16:20]))
	if msgLen > uint64(len(buf)-20) {
		return nil, ErrLength
	}
	end := 20 + int(msgLen)
	if string(buf[end:]) != c.appID {
		return nil, ErrAppID
	}
	return buf[20:end:end], nil
}
