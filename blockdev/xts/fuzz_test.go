package xts

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip checks, for any key, data and sector, that every
// implementation encrypts as x/crypto/xts does and that Decrypt undoes
// Encrypt. Keys that New rejects must be rejected by every implementation;
// data that is not a multiple of 16 bytes must give an error, not a panic.
func FuzzRoundTrip(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), []byte("0123456789abcdef"), uint64(0))
	f.Add(mustHex(f, ieeeKey), ieeePlaintext(), uint64(0xff))
	f.Add(make([]byte, KeySize), make([]byte, 32), uint64(1)) // equal halves
	f.Add(bytes.Repeat([]byte{7, 9}, 40), make([]byte, 17), uint64(1<<32))
	f.Add(bytes.Repeat([]byte{3, 5}, 32), bytes.Repeat([]byte{0xa5}, SectorSize), uint64(1<<64-1))
	f.Add(bytes.Repeat([]byte{3, 5, 8}, 22), bytes.Repeat([]byte{0x5a}, 16*17+16*7), uint64(12345))
	f.Fuzz(func(t *testing.T, keySeed, data []byte, sector uint64) {
		key := fuzzKey(keySeed)
		if len(data) > 1<<14 { // 16 KiB: several VAES batches; keeps the fuzzer fast
			data = data[:1<<14]
		}
		for _, impl := range implementations() {
			fuzzOne(t, impl, key, data, sector)
		}
	})
}

// fuzzKey stretches or cuts the seed to a 64-byte key, so most inputs are
// usable keys; a seed of exactly 64 bytes is used as is (equal halves too).
func fuzzKey(seed []byte) []byte {
	key := make([]byte, KeySize)
	for i := range key {
		if len(seed) > 0 {
			key[i] = seed[i%len(seed)] + byte(i/len(seed))
		}
	}
	if len(seed) == KeySize {
		copy(key, seed)
	}
	return key
}

func fuzzOne(t *testing.T, impl implementation, key, data []byte, sector uint64) {
	c, err := newCipher(key, impl)
	if bytes.Equal(key[:halfKeySize], key[halfKeySize:]) {
		if err != ErrEqualHalves {
			t.Fatalf("%v: equal halves accepted (err %v)", impl, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v: %v", impl, err)
	}
	got := make([]byte, len(data))
	err = c.Encrypt(got, data, sector)
	if len(data) == 0 || len(data)%BlockSize != 0 {
		if err != ErrDataSize {
			t.Fatalf("%v: %d bytes: err = %v, want ErrDataSize", impl, len(data), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v: Encrypt: %v", impl, err)
	}
	want := make([]byte, len(data))
	mustRef(t, key).Encrypt(want, data, sector)
	if !bytes.Equal(got, want) {
		t.Fatalf("%v: Encrypt differs from x/crypto/xts (%d bytes, sector %#x)", impl, len(data), sector)
	}
	if err := c.Decrypt(got, got, sector); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%v: Decrypt(Encrypt(x)) != x (err %v)", impl, err)
	}
}
