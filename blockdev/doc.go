// Package blockdev is the volume layer: volume records, the EBS encryption
// flow with the KMS (a 512-bit data key per volume, generated under a CMK and
// kept only wrapped; unwrapped at attach and wiped at detach), encryption by
// default, and the data path of an attached volume (Volume: byte ranges to
// 4 KiB blocks, AES-256-XTS with the block number as tweak, read-modify-write
// of partial blocks, discard in the block map).
//
// Blocks are stored by blockdev/store, which knows nothing of keys; the
// sector cipher is blockdev/xts.
//
// A volume's record and its pins (its head; while it is being restored
// under a new data key, the snapshot's view) change in one metadata
// transaction: a crash never leaves a record over freed blocks, nor a pin
// no record will drop. The blocks a dropped pin alone held are freed after
// the commit (store.Collect). A restore is two steps: StartRestore saves the
// record and holds the snapshot's view (the caller may let the snapshot go
// from then on), FinishRestore copies the blocks without the manager's lock.
//
// # Lock order
//
// A lock may be taken while holding those above it:
//
//	(snapshot.Service.mu, above all of these)
//	Manager.mu          every change of a volume record; attach, detach
//	  Volume.locks      the block stripes, lowest first (EnableVolumeIO takes them all)
//	    store locks     Lineage.io (writes, Freeze), Store.gcMu (Collect): see blockdev/store
//
// The manager calls the KMS with Manager.mu held (create, attach,
// StartRestore); the KMS's key-deletion guard reads volume records without
// it (VolumesUsingKey). CopyInto and FinishRestore's copy run without
// Manager.mu. Collect runs under Manager.mu, which every Freeze of a
// volume's head holds (Snapshot): its walk must not race a Freeze.
package blockdev
