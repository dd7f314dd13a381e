//go:build amd64 && !purego

package xts

import (
	"crypto/aes"
	"testing"
)

// TestAsmKeySchedule checks the assembly key expansion and block functions
// against crypto/aes.
func TestAsmKeySchedule(t *testing.T) {
	if !hasAESNI {
		t.Skip("no AES-NI")
	}
	for range 20 {
		key := randomKey(t)
		var k asmKeys
		k.expand(key)
		for half, enc := range []*roundKeys{&k.enc1, &k.enc2} {
			block, err := aes.NewCipher(key[half*halfKeySize : (half+1)*halfKeySize])
			if err != nil {
				t.Fatal(err)
			}
			var in, got, want [BlockSize]byte
			copy(in[:], randomBytes(t, BlockSize))
			encryptBlock(enc, &got, &in)
			block.Encrypt(want[:], in[:])
			if got != want {
				t.Fatalf("half %d: encryptBlock = %x, crypto/aes = %x", half, got, want)
			}
		}
		if k.enc1[0] != [BlockSize]byte(key[:16]) || k.dec1[0] != k.enc1[rounds] || k.dec1[rounds] != k.enc1[0] {
			t.Fatal("round keys not where the assembly expects them")
		}
	}
}

// TestVAESTweakOut checks the tweak the VAES loop hands to the AES-NI loop
// for sizes that are not multiples of 16 blocks.
func TestVAESTweakOut(t *testing.T) {
	if !hasVAES {
		t.Skip("no VAES")
	}
	key := randomKey(t)
	c, ref := mustNew(t, key, implVAES), mustRef(t, key)
	for blocks := 16; blocks <= 80; blocks++ {
		crossCheck(t, c, ref, randomBytes(t, blocks*BlockSize), uint64(blocks)<<40|3)
	}
}
