package wxcrypto

import (
	"bytes"
	"testing"
)

// FuzzDecrypt feeds arbitrary Encrypt values to Decrypt (which must never
// panic and must return either a message or an error, not both), and checks
// that whatever decrypts re-encrypts to something that decrypts to the same
// message.
func FuzzDecrypt(f *testing.F) {
	f.Add(v2Encrypted)
	f.Add(v2Encrypted2)
	f.Add(v3aEncrypted)
	f.Add(v3bEncrypted)
	f.Add("")
	f.Add("AAAA")
	f.Add("jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOf")
	f.Add("jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmk\r\ngczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==")

	c, err := NewCipher(v2Key, v2AppID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, enc string) {
		msg, err := c.Decrypt(enc)
		if err != nil {
			if msg != nil {
				t.Fatalf("Decrypt returned a message and an error %v", err)
			}
			return
		}
		again, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(again)
		if err != nil {
			t.Fatalf("round trip failed: %v", err)
		}
		if !bytes.Equal(back, msg) {
			t.Fatalf("round trip changed the message: %q != %q", back, msg)
		}
	})
}

// FuzzEncryptRoundTrip checks Decrypt(EncryptWithRandom(r, m)) == m for any
// message and prefix.
func FuzzEncryptRoundTrip(f *testing.F) {
	f.Add([]byte(v2Random), []byte(v2Msg))
	f.Add([]byte(v2Random), []byte(""))
	f.Add([]byte(v3aRandom), []byte(v3aMsg))
	c, err := NewCipher(v3bKey, v3bCorpID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, random, msg []byte) {
		var r [16]byte
		copy(r[:], random)
		enc, err := c.EncryptWithRandom(r[:], msg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, msg) {
			t.Fatalf("round trip changed the message")
		}
	})
}
