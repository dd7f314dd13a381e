package xts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"unsafe"
)

const (
	// KeySize is the key length of AES-256-XTS: two 256-bit AES keys.
	KeySize = 64
	// SectorSize is the block size of the volumes. Any non-zero multiple of
	// BlockSize works as well.
	SectorSize = 4096
	// BlockSize is the AES block size: data lengths must be multiples of it.
	BlockSize = 16

	halfKeySize = KeySize / 2
)

var (
	// ErrKeySize reports a key that is not KeySize bytes long.
	ErrKeySize = errors.New("xts: key must be 64 bytes (AES-256-XTS)")
	// ErrEqualHalves reports a key whose two 32-byte halves are equal, which
	// IEEE 1619 forbids.
	ErrEqualHalves = errors.New("xts: the two halves of the key must differ (IEEE 1619)")
	// ErrDataSize reports data whose length is not a non-zero multiple of
	// BlockSize (there is no ciphertext stealing).
	ErrDataSize = errors.New("xts: data length must be a non-zero multiple of 16 bytes")
	// ErrShortDst reports a destination shorter than the source.
	ErrShortDst = errors.New("xts: destination is shorter than source")
	// ErrOverlap reports a source and destination that overlap without being
	// the same memory (dst == src is allowed).
	ErrOverlap = errors.New("xts: source and destination overlap inexactly")
	// ErrClosed reports use of a Cipher after Close.
	ErrClosed = errors.New("xts: cipher is closed")
)

// implementation names one code path of the cipher.
type implementation uint8

const (
	implGo    implementation = iota // pure Go, tweak-batched
	implAESNI                       // amd64 assembly, AES-NI, 8 blocks interleaved
	implVAES                        // amd64 assembly, VAES on YMM, 16 blocks interleaved
)

func (i implementation) String() string {
	switch i {
	case implAESNI:
		return "aesni-asm"
	case implVAES:
		return "vaes-avx2-asm"
	default:
		return "go-batched"
	}
}

// best is the fastest implementation this machine supports, chosen at init.
var best = bestImplementation()

// Implementation names the code path New uses on this machine:
// "vaes-avx2-asm", "aesni-asm" or "go-batched".
func Implementation() string { return best.String() }

// Cipher encrypts and decrypts sectors with AES-256-XTS. The tweak is the
// sector number, encoded as golang.org/x/crypto/xts does.
//
// A Cipher is safe for concurrent use by several goroutines, except Close,
// which must not run concurrently with Encrypt or Decrypt.
type Cipher struct {
	impl   implementation
	closed bool
	asm    asmKeys      // expanded keys of the assembly paths (amd64 only)
	k1, k2 cipher.Block // data and tweak ciphers of the go-batched path
}

// New returns a Cipher for the 64-byte key: key[:32] encrypts the data,
// key[32:] the tweak. The key is copied (expanded); the caller may wipe it.
// It fails with ErrKeySize or ErrEqualHalves.
func New(key []byte) (*Cipher, error) {
	return newCipher(key, best)
}

// newCipher returns a Cipher that uses impl, which must be supported here.
func newCipher(key []byte, impl implementation) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	if subtle.ConstantTimeCompare(key[:halfKeySize], key[halfKeySize:]) == 1 {
		return nil, ErrEqualHalves
	}
	c := &Cipher{impl: impl}
	if impl != implGo {
		c.asm.expand(key)
		return c, nil
	}
	var err error
	if c.k1, err = aes.NewCipher(key[:halfKeySize]); err != nil {
		return nil, err
	}
	if c.k2, err = aes.NewCipher(key[halfKeySize:]); err != nil {
		return nil, err
	}
	return c, nil
}

// Encrypt encrypts the sector src into dst with the given sector number.
// len(src) must be a non-zero multiple of 16; dst must be at least as long
// and either be src (in place) or not overlap it. Only dst[:len(src)] is
// written. Errors are returned, never panics.
func (c *Cipher) Encrypt(dst, src []byte, sector uint64) error {
	if err := c.check(dst, src); err != nil {
		return err
	}
	c.crypt(dst[:len(src)], src, sector, false)
	return nil
}

// Decrypt decrypts the sector src into dst; see Encrypt for the rules.
// XTS has no integrity: tampered ciphertext decrypts to garbage, not to an
// error.
func (c *Cipher) Decrypt(dst, src []byte, sector uint64) error {
	if err := c.check(dst, src); err != nil {
		return err
	}
	c.crypt(dst[:len(src)], src, sector, true)
	return nil
}

// Close wipes the expanded keys held by the Cipher; later calls to Encrypt
// and Decrypt return ErrClosed. The go-batched path keeps its keys inside
// crypto/aes values, which cannot be wiped: Close drops them for the garbage
// collector. Close is idempotent.
func (c *Cipher) Close() {
	c.closed = true
	c.asm.wipe()
	c.k1, c.k2 = nil, nil
}

// check validates the arguments of Encrypt and Decrypt.
func (c *Cipher) check(dst, src []byte) error {
	switch {
	case c == nil || c.closed:
		return ErrClosed
	case len(src) == 0 || len(src)%BlockSize != 0:
		return ErrDataSize
	case len(dst) < len(src):
		return ErrShortDst
	case inexactOverlap(dst[:len(src)], src):
		return ErrOverlap
	}
	return nil
}

// inexactOverlap reports whether x and y share memory without starting at
// the same address (as crypto/internal/alias.InexactOverlap).
func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 || &x[0] == &y[0] {
		return false
	}
	x0, x1 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&x[len(x)-1]))
	y0, y1 := uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&y[len(y)-1]))
	return x0 <= y1 && y0 <= x1
}
