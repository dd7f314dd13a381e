package store

import "encoding/binary"

// Map keys: "m" | lineage (8) | block (8) | ^birth (8), big endian, so that
// a lineage's entries sort by block and, within a block, newest first.
// Value: the slot, 8 bytes big endian (0: zeros).
const mapPrefix = 'm'

func mapKey(lineage, lba, birth uint64) []byte {
	k := make([]byte, 25)
	k[0] = mapPrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	binary.BigEndian.PutUint64(k[9:], lba)
	binary.BigEndian.PutUint64(k[17:], ^birth)
	return k
}

func lineagePrefix(lineage uint64) []byte {
	k := make([]byte, 9)
	k[0] = mapPrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	return k
}

func parseMapKey(k []byte) (lineage, lba, birth uint64, ok bool) {
	if len(k) != 25 || k[0] != mapPrefix {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), binary.BigEndian.Uint64(k[9:]), ^binary.BigEndian.Uint64(k[17:]), true
}

func slotValue(slot uint64) []byte { return binary.BigEndian.AppendUint64(nil, slot) }

func parseSlot(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
