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
// Durability, by construction:
//   - Each extent file counts the writes that have completed (write
//     generations); a write is counted after its data is in the page cache,
//     never before. A flush round takes the pending map changes first, then
//     fdatasyncs every extent whose count moved since its last sync, then
//     commits the map changes, then syncs badger. So a round that begins
//     after a write returned covers it, whatever other rounds ran while it was
//     in flight, and a map entry is committed only after the data it points
//     at was synced. Rounds are shared by concurrent callers
//     (internal/groupcommit): each caller waits for a round that began after
//     its call and gets that round's result.
//   - A failed fdatasync is never retried over the same writes (after EIO the
//     kernel may have marked the pages clean). The lineages that had writes
//     counted since that sync began, or in flight when it failed, are
//     impaired: their map changes are never committed, and their reads,
//     writes and flushes fail with ErrImpaired until the lineage is opened
//     again from what is durable. A failed write impairs its lineage too. A
//     failed map commit fails the whole store (nothing more is acknowledged
//     until a restart).
//   - A crash can orphan slots (written but never mapped); Open finds every
//     mapped slot and treats the rest as free. A freed slot is reused only
//     after the map change that freed it is durable, so a crash never lets a
//     map entry point at another block's data.
//   - Lineage ids come from one counter under one lock, persisted before an id
//     is handed out.
//
// Lock order (a lock may be taken while holding those before it):
//
//	Store.gcMu (one unpin at a time)
//	  -> Lineage.io (shared by writes and discards, exclusive in Freeze and refreshPins)
//	    -> the flush round (Store.flush group; one flushOnce at a time)
//	      -> Store.mu, Lineage.mu, Store.idMu, extents.mu, extentFile.mu, allocator.mu:
//	         leaves, never held together
//
// Freeze holds Lineage.io across a flush; Unpin flushes before it takes gcMu.
package store
