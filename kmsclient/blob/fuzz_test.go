package blob

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the decoder: it must never panic, and
// nothing but a blob sealed under the material may open.
func FuzzOpen(f *testing.F) {
	good, _ := Seal(testMaterial, testHeader, []byte("payload"), map[string]string{"k": "v"}, zeroReader{})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{Version1})
	f.Add(bytes.Repeat([]byte{0}, Overhead))
	f.Add(append([]byte{2}, good[1:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := ParseHeader(b); err == nil && h.Material == 0 {
			t.Fatal("material 0 accepted")
		}
		plain, err := Open(testMaterial, b, map[string]string{"k": "v"})
		if err == nil && !bytes.Equal(b, good) {
			t.Fatalf("forged blob opened to %q", plain)
		}
	})
}
