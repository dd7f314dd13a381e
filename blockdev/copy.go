package blockdev

import (
	"context"

	"github.com/ebs-dev/ebs/blockdev/store"
)

// copyBatch is how many blocks a copy reads, transforms and writes at once.
const copyBatch = 256

// copyView copies every mapped block of view into lin, decrypting with
// srcC and encrypting with dstC (nil: the blocks are plaintext on that side).
func copyView(ctx context.Context, view *store.View, srcC SectorCipher, lin *store.Lineage, dstC SectorCipher, progress func(done, total uint64)) error {
	var lbas []uint64
	view.Mapped(func(lba uint64) {
		if lba < lin.Blocks() {
			lbas = append(lbas, lba)
		}
	})
	total := uint64(len(lbas))
	buf := make([]byte, copyBatch*BlockSize)
	mapped := make([]bool, copyBatch)
	for i := 0; i < len(lbas); {
		if err := ctx.Err(); err != nil {
			return err
		}
		j := i + 1 // a run of consecutive blocks, at most copyBatch long
		for j < len(lbas) && j-i < copyBatch && lbas[j] == lbas[j-1]+1 {
			j++
		}
		n := j - i
		b := buf[:n*BlockSize]
		if err := view.ReadBlocks(lbas[i], b, mapped[:n]); err != nil {
			return err
		}
		if err := transform(b, lbas[i], srcC, dstC); err != nil {
			return err
		}
		if err := lin.WriteBlocks(lbas[i], b); err != nil {
			return err
		}
		i = j
		if progress != nil {
			progress(uint64(i), total)
		}
	}
	return nil
}

func transform(b []byte, first uint64, srcC, dstC SectorCipher) error {
	for k := 0; k < len(b)/BlockSize; k++ {
		blk := b[k*BlockSize : (k+1)*BlockSize]
		if srcC != nil {
			if err := srcC.Decrypt(blk, blk, first+uint64(k)); err != nil {
				return err
			}
		}
		if dstC != nil {
			if err := dstC.Encrypt(blk, blk, first+uint64(k)); err != nil {
				return err
			}
		}
	}
	return nil
}
