package blockdev

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
)

// BlockSize is the volumes' block size.
const BlockSize = store.BlockSize

// ErrOutOfRange is returned for I/O beyond the end of a volume.
var ErrOutOfRange = errors.New("beyond the end of the volume")

// SectorCipher encrypts 4 KiB blocks with the block number as the tweak
// (blockdev/xts.Cipher).
type SectorCipher interface {
	Encrypt(dst, src []byte, sector uint64) error
	Decrypt(dst, src []byte, sector uint64) error
	Close()
}

// Volume is an attached volume's data path: it splits byte ranges into
// blocks, encrypts and decrypts them (when the volume is encrypted), and
// reads and writes them through its lineage in the store. It is safe for
// concurrent use.
type Volume struct {
	id     string
	size   int64
	lin    atomic.Pointer[store.Lineage] // replaced by EnableVolumeIO
	cipher SectorCipher                  // nil for an unencrypted volume
	locks  stripes
	log    *slog.Logger

	impaired atomic.Pointer[time.Time] // when it was first seen impaired
}

// head is the volume's lineage head.
func (v *Volume) head() *store.Lineage { return v.lin.Load() }

// ID is the volume id.
func (v *Volume) ID() string { return v.id }

// Size is the volume's size in bytes.
func (v *Volume) Size() int64 { return v.size }

// Encrypted reports whether the volume's blocks are encrypted.
func (v *Volume) Encrypted() bool { return v.cipher != nil }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, (1<<20)+2*BlockSize); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		b := make([]byte, n)
		return &b
	}
	*bp = (*bp)[:n]
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) <= (1<<20)+2*BlockSize {
		bufPool.Put(bp)
	}
}

// span is the blocks that cover [off, off+n).
func span(off int64, n int) (first, count uint64) {
	first = uint64(off) / BlockSize
	last := uint64(off+int64(n)-1) / BlockSize
	return first, last - first + 1
}

// ReadAt reads the volume. Reads past the end are short (io.EOF).
func (v *Volume) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at %d: %w", off, ErrOutOfRange)
	}
	if off >= v.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > v.size-off {
		n = int(v.size - off)
	}
	if n == 0 {
		return 0, nil
	}
	first, count := span(off, n)
	unlock := v.locks.lock(first, count, false)
	defer unlock()
	bp := getBuf(int(count) * BlockSize)
	defer putBuf(bp)
	if err := v.readBlocks(first, *bp); err != nil {
		return 0, err
	}
	copy(p[:n], (*bp)[off-int64(first)*BlockSize:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readBlocks reads and decrypts whole blocks into buf.
func (v *Volume) readBlocks(first uint64, buf []byte) error {
	mapped := make([]bool, len(buf)/BlockSize)
	if err := v.head().ReadBlocks(first, buf, mapped); err != nil {
		return v.failed("read", first, err)
	}
	return v.decrypt(first, buf, mapped)
}

// decrypt decrypts in place the blocks of buf that hold data (unmapped
// blocks are zeros, not ciphertext).
func (v *Volume) decrypt(first uint64, buf []byte, mapped []bool) error {
	if err := DecryptBlocks(v.cipher, first, buf, mapped); err != nil {
		return fmt.Errorf("volume %s: %w", v.id, err)
	}
	return nil
}

// WriteAt writes the volume; a write past the end fails whole.
func (v *Volume) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > v.size || int64(len(p)) > v.size-off {
		return 0, fmt.Errorf("write of %d bytes at %d on a %d-byte volume: %w", len(p), off, v.size, ErrOutOfRange)
	}
	if len(p) == 0 {
		return 0, nil
	}
	first, count := span(off, len(p))
	unlock := v.locks.lock(first, count, true)
	defer unlock()
	bp := getBuf(int(count) * BlockSize)
	defer putBuf(bp)
	buf := *bp
	head := int(off - int64(first)*BlockSize)
	if err := v.fillEdges(first, count, buf, head, len(p)); err != nil {
		return 0, err
	}
	copy(buf[head:], p)
	if err := v.writeBlocks(first, buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fillEdges reads the first and last blocks of a write that covers them
// only in part (read-modify-write).
func (v *Volume) fillEdges(first, count uint64, buf []byte, head, n int) error {
	if head != 0 {
		if err := v.readBlocks(first, buf[:BlockSize]); err != nil {
			return err
		}
	}
	tail := (head + n) % BlockSize
	last := int(count-1) * BlockSize
	if tail != 0 && (count > 1 || head == 0) {
		if err := v.readBlocks(first+count-1, buf[last:]); err != nil {
			return err
		}
	}
	return nil
}

// writeBlocks encrypts whole blocks in buf in place and writes them.
func (v *Volume) writeBlocks(first uint64, buf []byte) error {
	if err := EncryptBlocks(v.cipher, first, buf); err != nil {
		return fmt.Errorf("volume %s: %w", v.id, err)
	}
	if err := v.head().WriteBlocks(first, buf); err != nil {
		return v.failed("write", first, err)
	}
	return nil
}

// failed logs a failed operation on the volume's blocks and wraps its
// error. An impaired volume is logged once, not at every refused request.
func (v *Volume) failed(op string, block uint64, err error) error {
	switch {
	case errors.Is(err, store.ErrImpaired):
		v.noticeImpaired(err)
	case errors.Is(err, store.ErrNoSpace):
	default:
		v.log.Error(op+" failed", "volume", v.id, "block", block, "err", err)
	}
	return fmt.Errorf("%s volume %s block %d: %w", op, v.id, block, err)
}

// noticeImpaired records when the volume was first seen impaired, and logs it.
func (v *Volume) noticeImpaired(err error) time.Time {
	now := time.Now().UTC()
	if v.impaired.CompareAndSwap(nil, &now) {
		v.log.Error("volume impaired: a data sync failed, so writes since the last fsync may be lost; "+
			"I/O is disabled until EnableVolumeIO or a detach and attach", "volume", v.id, "err", err)
	}
	return *v.impaired.Load()
}

// Discard makes [off, off+length) read as zeros: whole blocks are unmapped
// (their slots freed), partial blocks have exactly those bytes zeroed.
func (v *Volume) Discard(off, length int64) error {
	if off < 0 || length < 0 || off > v.size {
		return fmt.Errorf("discard %d bytes at %d: %w", length, off, ErrOutOfRange)
	}
	length = min(length, v.size-off)
	if length == 0 {
		return nil
	}
	first, count := span(off, int(length))
	unlock := v.locks.lock(first, count, true)
	defer unlock()
	start, end := uint64(off), uint64(off+length)
	for b := first; b < first+count; b++ {
		lo, hi := max(start, b*BlockSize), min(end, (b+1)*BlockSize)
		if hi-lo < BlockSize {
			if err := v.zeroPartial(lo, hi); err != nil {
				return err
			}
			continue
		}
		run := b + 1 // whole blocks run from b up to the last whole one
		for run < first+count && (run+1)*BlockSize <= end {
			run++
		}
		if err := v.head().Discard(b, int(run-b)); err != nil {
			return err
		}
		b = run - 1
	}
	return nil
}

// ZeroRange is Discard: in a thin volume, zeroed blocks need no storage.
func (v *Volume) ZeroRange(off, length int64) error { return v.Discard(off, length) }

// zeroPartial zeroes [start, end) within one block (the caller holds its lock).
func (v *Volume) zeroPartial(start, end uint64) error {
	if start >= end {
		return nil
	}
	lba := start / BlockSize
	bp := getBuf(BlockSize)
	defer putBuf(bp)
	buf := *bp
	mapped := []bool{false}
	if err := v.head().ReadBlocks(lba, buf, mapped); err != nil {
		return err
	}
	if !mapped[0] {
		return nil // already zeros
	}
	if err := v.decrypt(lba, buf, mapped); err != nil {
		return err
	}
	clear(buf[start-lba*BlockSize : end-lba*BlockSize])
	return v.writeBlocks(lba, buf)
}

// Sync makes everything written to the volume before the call durable (it
// shares a group-committed flush with every other volume). Once a sync has
// failed, every later one fails too: the volume is impaired.
func (v *Volume) Sync() error {
	if err := v.head().Flush(); err != nil {
		return v.failed("sync", 0, err)
	}
	return nil
}

// Impaired is the error that disabled the volume's I/O, or nil (EC2's
// volume status check io-enabled).
func (v *Volume) Impaired() error { return v.head().Impaired() }

// AllocatedBytes is the storage the volume's head holds.
func (v *Volume) AllocatedBytes() int64 { return int64(v.head().MappedBlocks()) * BlockSize }

// close flushes, closes the lineage and wipes the data key.
func (v *Volume) close() error {
	err := v.head().Close()
	if v.cipher != nil {
		v.cipher.Close()
	}
	return err
}
