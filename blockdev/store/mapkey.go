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

// Other key spaces of the store:
//
//	"c" | lineage | birth | block -> ""   the change index: which blocks a generation wrote
//	"p" | lineage | gen | holder  -> ""   pins: who needs the view of a lineage at a generation
//	"l" | lineage                 -> JSON lineageRecord
//	"g" | lineage | gen           -> ""   a view whose pin was dropped: Collect frees its blocks (pins.go)
const (
	changePrefix     = 'c'
	pinPrefix        = 'p'
	lineageRecPrefix = 'l'
)

func changeKey(lineage, birth, lba uint64) []byte {
	k := make([]byte, 25)
	k[0] = changePrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	binary.BigEndian.PutUint64(k[9:], birth)
	binary.BigEndian.PutUint64(k[17:], lba)
	return k
}

func changeGenPrefix(lineage, birth uint64) []byte { return changeKey(lineage, birth, 0)[:17] }

func parseChangeKey(k []byte) (birth, lba uint64, ok bool) {
	if len(k) != 25 || k[0] != changePrefix {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[9:]), binary.BigEndian.Uint64(k[17:]), true
}

func pinKey(lineage, gen uint64, holder string) []byte {
	k := make([]byte, 17, 17+len(holder))
	k[0] = pinPrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	binary.BigEndian.PutUint64(k[9:], gen)
	return append(k, holder...)
}

func pinLineagePrefix(lineage uint64) []byte { return pinKey(lineage, 0, "")[:9] }

func parsePinKey(k []byte) (gen uint64, holder string, ok bool) {
	if len(k) < 17 || k[0] != pinPrefix {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(k[9:]), string(k[17:]), true
}

func lineageKey(lineage uint64) []byte {
	k := make([]byte, 9)
	k[0] = lineageRecPrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	return k
}
