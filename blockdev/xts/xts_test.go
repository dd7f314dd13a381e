package xts

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"

	refxts "golang.org/x/crypto/xts"
)

// crossSizes are the data sizes of the cross-check: the sizes of the brief
// plus ones around the 8- and 16-block batches of the assembly paths.
var crossSizes = []int{16, 32, 48, 112, 128, 144, 240, 256, 272, 496, 512, 4096, 4112, 8192, 65536}

// edgeSectors are the sector numbers every size is tried with.
var edgeSectors = []uint64{0, 1, 2, 0xff, 1<<32 - 1, 1 << 32, 1<<63 + 5, 1<<64 - 1}

// eachImpl runs f as a subtest for every implementation this machine has.
func eachImpl(t *testing.T, f func(t *testing.T, impl implementation)) {
	for _, impl := range implementations() {
		t.Run(impl.String(), func(t *testing.T) { f(t, impl) })
	}
}

// randomKey returns a random 64-byte key (with different halves).
func randomKey(t testing.TB) []byte {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNew(t testing.TB, key []byte, impl implementation) *Cipher {
	t.Helper()
	c, err := newCipher(key, impl)
	if err != nil {
		t.Fatalf("newCipher(%v): %v", impl, err)
	}
	return c
}

func mustRef(t testing.TB, key []byte) *refxts.Cipher {
	t.Helper()
	ref, err := refxts.NewCipher(aes.NewCipher, key)
	if err != nil {
		t.Fatalf("x/crypto/xts: %v", err)
	}
	return ref
}

func TestImplementation(t *testing.T) {
	impls := implementations()
	if impls[len(impls)-1] != implGo {
		t.Errorf("go-batched must always be available, got %v", impls)
	}
	if Implementation() != impls[0].String() {
		t.Errorf("Implementation() = %q, want the fastest of %v", Implementation(), impls)
	}
	c, err := New(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.impl != best {
		t.Errorf("New uses %v, want %v", c.impl, best)
	}
	t.Logf("implementations here: %v; New uses %s", impls, Implementation())
}

func TestIEEEVectors(t *testing.T) {
	key := mustHex(t, ieeeKey)
	plain := ieeePlaintext()
	eachImpl(t, func(t *testing.T, impl implementation) {
		c := mustNew(t, key, impl)
		for _, v := range ieeeVectors {
			want := mustHex(t, v.ciphertext)
			got := make([]byte, len(plain))
			if err := c.Encrypt(got, plain, v.sector); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: Encrypt = %x..., want %x...", v.name, got[:32], want[:32])
			}
			back := make([]byte, len(want))
			if err := c.Decrypt(back, want, v.sector); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, plain) {
				t.Errorf("%s: Decrypt does not give the plaintext back", v.name)
			}
		}
	})
}

// TestIEEEVectorsReference checks the transcription of the vectors against
// x/crypto/xts itself.
func TestIEEEVectorsReference(t *testing.T) {
	ref := mustRef(t, mustHex(t, ieeeKey))
	plain := ieeePlaintext()
	for _, v := range ieeeVectors {
		got := make([]byte, len(plain))
		ref.Encrypt(got, plain, v.sector)
		if want := mustHex(t, v.ciphertext); !bytes.Equal(got, want) {
			t.Errorf("%s: x/crypto/xts disagrees with the vector", v.name)
		}
	}
}

func TestCrossCheck(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		for range 3 {
			key := randomKey(t)
			c, ref := mustNew(t, key, impl), mustRef(t, key)
			sectors := append(slices.Clone(edgeSectors), mrand.Uint64())
			for _, size := range crossSizes {
				for _, sector := range sectors {
					crossCheck(t, c, ref, randomBytes(t, size), sector)
				}
			}
		}
	})
}

// crossCheck compares c with ref on plain, out of place and in place, for
// both directions.
func crossCheck(t *testing.T, c *Cipher, ref *refxts.Cipher, plain []byte, sector uint64) {
	t.Helper()
	want := make([]byte, len(plain))
	ref.Encrypt(want, plain, sector)
	name := fmt.Sprintf("size %d sector %#x", len(plain), sector)

	got := make([]byte, len(plain)+BlockSize) // longer dst: only the prefix is written
	if err := c.Encrypt(got, plain, sector); err != nil {
		t.Fatalf("%s: Encrypt: %v", name, err)
	}
	if !bytes.Equal(got[:len(plain)], want) || !bytes.Equal(got[len(plain):], make([]byte, BlockSize)) {
		t.Fatalf("%s: Encrypt differs from x/crypto/xts", name)
	}
	inPlace := bytes.Clone(plain)
	if err := c.Encrypt(inPlace, inPlace, sector); err != nil || !bytes.Equal(inPlace, want) {
		t.Fatalf("%s: in-place Encrypt differs from x/crypto/xts (err %v)", name, err)
	}

	wantPlain := make([]byte, len(plain))
	ref.Decrypt(wantPlain, want, sector)
	back := make([]byte, len(plain))
	if err := c.Decrypt(back, want, sector); err != nil || !bytes.Equal(back, plain) || !bytes.Equal(back, wantPlain) {
		t.Fatalf("%s: Decrypt differs (err %v)", name, err)
	}
	if err := c.Decrypt(inPlace, inPlace, sector); err != nil || !bytes.Equal(inPlace, plain) {
		t.Fatalf("%s: in-place Decrypt differs (err %v)", name, err)
	}
}

// TestUnaligned runs the paths on buffers that do not start on a 16-byte
// boundary (the assembly uses unaligned loads and stores).
func TestUnaligned(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		key := randomKey(t)
		c, ref := mustNew(t, key, impl), mustRef(t, key)
		for off := 1; off < BlockSize; off += 5 {
			buf := randomBytes(t, SectorSize+2*BlockSize)
			crossCheck(t, c, ref, buf[off:off+SectorSize+BlockSize], 77)
		}
	})
}

func TestKeyErrors(t *testing.T) {
	for _, n := range []int{0, 16, 32, 48, 63, 65, 128} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("New(%d-byte key) = %v, want ErrKeySize", n, err)
		}
	}
	key := randomKey(t)
	copy(key[halfKeySize:], key[:halfKeySize])
	for _, impl := range implementations() {
		if _, err := newCipher(key, impl); !errors.Is(err, ErrEqualHalves) {
			t.Errorf("%v: equal halves: err = %v, want ErrEqualHalves", impl, err)
		}
	}
	if _, err := New(make([]byte, KeySize)); !errors.Is(err, ErrEqualHalves) {
		t.Errorf("all-zero key: err = %v, want ErrEqualHalves", err)
	}
	key[KeySize-1] ^= 1
	if _, err := New(key); err != nil {
		t.Errorf("halves differing in one bit: %v", err)
	}
}

// TestKeyCopied checks that New keeps no reference to the caller's key.
func TestKeyCopied(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		key := randomKey(t)
		c, ref := mustNew(t, key, impl), mustRef(t, bytes.Clone(key))
		clear(key)
		crossCheck(t, c, ref, randomBytes(t, SectorSize), 9)
	})
}

func TestDataErrors(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		c := mustNew(t, randomKey(t), impl)
		buf := make([]byte, 3*SectorSize)
		cases := []struct {
			name     string
			dst, src []byte
			want     error
		}{
			{"empty", buf[:0], buf[:0], ErrDataSize},
			{"nil", nil, nil, ErrDataSize},
			{"15 bytes", buf[:15], buf[:15], ErrDataSize},
			{"17 bytes", buf[:17], buf[:17], ErrDataSize},
			{"4095 bytes", buf[:4095], buf[:4095], ErrDataSize},
			{"short dst", buf[SectorSize : 2*SectorSize-16], buf[:SectorSize], ErrShortDst},
			{"nil dst", nil, buf[:16], ErrShortDst},
			{"dst after src, overlapping", buf[16 : 16+SectorSize], buf[:SectorSize], ErrOverlap},
			{"dst before src, overlapping", buf[:SectorSize], buf[16 : 16+SectorSize], ErrOverlap},
			{"dst ends in src", buf[SectorSize/2 : 3*SectorSize], buf[SectorSize : 2*SectorSize], ErrOverlap},
		}
		for _, tc := range cases {
			for dir, f := range map[string]func([]byte, []byte, uint64) error{"Encrypt": c.Encrypt, "Decrypt": c.Decrypt} {
				if err := f(tc.dst, tc.src, 0); !errors.Is(err, tc.want) {
					t.Errorf("%s %s: err = %v, want %v", dir, tc.name, err, tc.want)
				}
			}
		}
		// Adjacent buffers are fine, and so is a longer dst whose tail (not
		// written) overlaps src.
		if err := c.Encrypt(buf[SectorSize:], buf[:SectorSize], 1); err != nil {
			t.Errorf("adjacent buffers: %v", err)
		}
		if err := c.Encrypt(buf[:2*SectorSize], buf[SectorSize:2*SectorSize], 1); err != nil {
			t.Errorf("dst tail overlapping src: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		c := mustNew(t, randomKey(t), impl)
		sector := make([]byte, SectorSize)
		if err := c.Encrypt(sector, sector, 0); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := c.Encrypt(sector, sector, 0); !errors.Is(err, ErrClosed) {
			t.Errorf("Encrypt after Close: %v, want ErrClosed", err)
		}
		if err := c.Decrypt(sector, sector, 0); !errors.Is(err, ErrClosed) {
			t.Errorf("Decrypt after Close: %v, want ErrClosed", err)
		}
		if c.asm != (asmKeys{}) {
			t.Error("Close left expanded keys in memory")
		}
		if c.k1 != nil || c.k2 != nil {
			t.Error("Close kept the crypto/aes ciphers")
		}
		c.Close() // idempotent
	})
	var nilCipher *Cipher
	if err := nilCipher.Encrypt(make([]byte, 16), make([]byte, 16), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("nil Cipher: %v, want ErrClosed", err)
	}
}

// TestConcurrent uses one Cipher from several goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	eachImpl(t, func(t *testing.T, impl implementation) {
		key := randomKey(t)
		c, ref := mustNew(t, key, impl), mustRef(t, key)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				plain := make([]byte, SectorSize)
				for i := range 50 {
					sector := uint64(g*1000 + i)
					plain[0], plain[1] = byte(g), byte(i)
					want, got := make([]byte, SectorSize), make([]byte, SectorSize)
					ref.Encrypt(want, plain, sector)
					if err := c.Encrypt(got, plain, sector); err != nil || !bytes.Equal(got, want) {
						t.Errorf("goroutine %d sector %d: mismatch (err %v)", g, sector, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestMul2 checks the 64-bit tweak doubling against x/crypto's byte loop.
func TestMul2(t *testing.T) {
	for _, tw := range [][2]uint64{{0, 0}, {1, 0}, {1 << 63, 0}, {0, 1 << 63}, {1<<64 - 1, 1<<64 - 1}, {mrand.Uint64(), mrand.Uint64()}} {
		var b [BlockSize]byte
		fillTweaks(b[:], tw[0], tw[1])
		refMul2(&b)
		var want [BlockSize]byte
		lo, hi := mul2(tw[0], tw[1])
		fillTweaks(want[:], lo, hi)
		if b != want {
			t.Errorf("mul2(%#x, %#x) = %x, x/crypto gives %x", tw[0], tw[1], want, b)
		}
	}
}

// refMul2 is mul2 of golang.org/x/crypto/xts.
func refMul2(tweak *[BlockSize]byte) {
	var carryIn byte
	for j := range tweak {
		carryOut := tweak[j] >> 7
		tweak[j] = (tweak[j] << 1) + carryIn
		carryIn = carryOut
	}
	if carryIn != 0 {
		tweak[0] ^= 1<<7 | 1<<2 | 1<<1 | 1
	}
}
