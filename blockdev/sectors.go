package blockdev

import "fmt"

// EncryptBlocks encrypts the whole 4 KiB blocks of buf in place; block i
// has tweak first+i. A nil cipher (unencrypted) does nothing.
func EncryptBlocks(c SectorCipher, first uint64, buf []byte) error {
	if c == nil {
		return nil
	}
	for i := 0; i < len(buf)/BlockSize; i++ {
		b := buf[i*BlockSize : (i+1)*BlockSize]
		if err := c.Encrypt(b, b, first+uint64(i)); err != nil {
			return fmt.Errorf("encrypt block %d: %w", first+uint64(i), err)
		}
	}
	return nil
}

// DecryptBlocks decrypts in place the blocks of buf that mapped marks as
// holding data (the others read as zeros and stay so).
func DecryptBlocks(c SectorCipher, first uint64, buf []byte, mapped []bool) error {
	if c == nil {
		return nil
	}
	for i, m := range mapped {
		if !m {
			continue
		}
		b := buf[i*BlockSize : (i+1)*BlockSize]
		if err := c.Decrypt(b, b, first+uint64(i)); err != nil {
			return fmt.Errorf("decrypt block %d: %w", first+uint64(i), err)
		}
	}
	return nil
}
