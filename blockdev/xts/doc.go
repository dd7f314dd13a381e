// Package xts is the sector cipher of the volumes: AES-256-XTS (IEEE 1619)
// over whole sectors, bit for bit identical to golang.org/x/crypto/xts used
// with crypto/aes and a 64-byte key.
//
// # What XTS gives, and what it does not
//
// XTS gives confidentiality of data at rest, sector by sector: each 16-byte
// block of a sector is encrypted under a tweak derived from the sector number
// and the block's position, so equal plaintext at different places gives
// unrelated ciphertext and sectors cannot be moved around undetected as
// plaintext. XTS gives no integrity: it is length preserving, has no MAC and no
// nonce. Whoever can write the ciphertext can
//
//   - change a 16-byte block, which turns that block of plaintext into random
//     garbage (the other blocks of the sector are unaffected);
//   - put back an older ciphertext of the same sector (replay), which decrypts
//     to the older plaintext without any error;
//   - see which sectors changed between two copies of the disk, and whether a
//     16-byte block went back to an earlier value.
//
// Decrypt therefore never fails on tampered data; detecting tampering needs a
// MAC kept elsewhere (e.g. per block in the block map).
//
// # Tweak
//
// The tweak is the sector number (for the volumes: the logical block number),
// encoded as x/crypto/xts does: a little-endian uint64 in the first 8 bytes of
// a 16-byte block whose last 8 bytes are zero, encrypted with the second key
// half. The tweak of block j of the sector is that value times x^j in
// GF(2^128) (polynomial x^128 + x^7 + x^2 + x + 1). Ciphertext stealing is not
// implemented: data sizes must be non-zero multiples of 16 bytes.
//
// # Key
//
// The 64-byte key is two AES-256 keys: key[:32] encrypts the data, key[32:]
// encrypts the tweak. IEEE 1619 requires the two halves to differ; New rejects
// equal halves with ErrEqualHalves (x/crypto/xts does not check). Never reuse
// the same key for two volumes that share sector numbers unless they are meant
// to be readable by each other.
//
// # Implementations
//
// New picks the fastest implementation the machine supports; Implementation
// names it:
//
//   - "vaes-avx2-asm": Go assembly with VAES on 256-bit registers (16 blocks
//     in flight, tweaks advanced with VPCLMULQDQ), amd64 with AVX2, VAES and
//     VPCLMULQDQ (e.g. AMD Zen 3+, Intel Ice Lake+);
//   - "aesni-asm": Go assembly with AES-NI, 8 blocks interleaved, tweak
//     doubling in registers, any amd64 with AES-NI;
//   - "go-batched": pure Go (no assembly, no cgo): all tweaks of a chunk are
//     computed first with 64-bit shifts, the data is whitened with
//     crypto/subtle.XORBytes and encrypted one block at a time with
//     crypto/aes. Used on other architectures, without AES-NI, or when built
//     with the purego build tag.
//
// Every implementation is cross-checked in the tests against x/crypto/xts and
// the IEEE 1619-2007 AES-256 vectors. No implementation uses cgo.
package xts
