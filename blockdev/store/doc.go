// Package store keeps the blocks of every volume and snapshot: opaque 4 KiB
// blocks addressed by (lineage, logical block number). It knows nothing of
// keys or encryption.
//
// Block data lives in preallocated extent files (slots of 4 KiB); badger
// holds only the block map, one entry per (lineage, block, birth
// generation) -> slot. A block that no snapshot shares is overwritten in
// place with no metadata write; the first write to a block after a snapshot
// (or to an unmapped block) takes a new slot and adds a map entry. The map
// entries of a lineage's head are also kept in memory, in a two-level table,
// for reads and writes without badger lookups.
//
// Durability: Flush fdatasyncs the extent files written since the last
// flush, then commits the map entries made since then, then syncs badger.
// A crash can orphan slots (written but never mapped); Open finds every
// mapped slot and treats the rest as free. A freed slot is reused only after
// the map change that freed it is durable, so a crash never lets a map entry
// point at another block's data.
package store
