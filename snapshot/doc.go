// Package snapshot is the snapshot catalogue: incremental, crash-consistent
// snapshots of volumes (a snapshot is a pinned view of the volume's lineage
// at a generation, taken in O(1)); copies that share blocks under the same
// key or re-encrypt every block under a new data key; re-wrapping a data key
// under another CMK; volumes restored from snapshots; the EBS direct APIs
// (reading a snapshot block by block, and writing one); and encrypt-volume,
// which runs snapshot, encrypted copy and restore as one resumable task.
//
// # Writing a snapshot with the EBS direct APIs
//
// StartSnapshot makes a record in state pending with an upload spec (at
// most 100 pending uploads, AWS's quota; one more is refused with
// ConcurrentLimitExceededException), and a new lineage: empty, or a child of ParentSnapshotId's view (as a restore
// is), so that the blocks an incremental upload does not write are shared
// with the parent. The lineage's head is pinned for the upload
// ("upload:<id>"), in the transaction that saves the record. Keys follow
// AWS's lineage rule: an encrypted parent's data key is kept (re-wrapped
// with ReEncrypt for the new snapshot; another KMS key is refused), else an
// encrypted upload gets a new data key from the KMS under KmsKeyArn or the
// default EBS key (encryption by default included). Every KMS call is the
// caller's, through EC2.
//
// PutSnapshotBlock checks the 512 KiB and its SHA-256, encrypts each 4 KiB
// block with the data key (tweak: the block number, as on a volume), writes
// the 128 blocks to the lineage head (generation 1: a block put again is
// overwritten in place), flushes the store (data, then map), and then keeps
// the block's digest and put time under "u/<id>/<index>" and syncs the
// metadata (group-committed): a digest never names data a crash lost, and a
// restart resumes the upload where it was. CompleteSnapshot counts those
// digests (ChangedBlocksCount) and hashes them in block order (the LINEAR
// aggregate), then freezes the lineage and, in the freeze's transaction,
// pins generation 1 for the snapshot and marks it completed, as
// CreateSnapshot does; the upload's own pin and digests are then dropped.
// From there it is an ordinary snapshot (VolumeId vol-ffffffff, as AWS
// shows snapshots not made from a volume).
//
// An upload times out Timeout minutes (default 60) after its start or its
// last put, by the daemon's clock: any call on it, DescribeSnapshots and a
// sweep every 30 s end it in the error state and free its blocks (dropping
// the upload pin frees every block only it held). DeleteSnapshot of a
// pending upload frees it at once. Unwrapped data keys are cached per
// snapshot and caller for 5 minutes, so that a caller's reads and writes are
// checked against the key policy (and audited) at least that often without
// a KMS call per block.
//
// Locks of the uploads, in the order they are taken: Service.mu (the
// catalogue; StartSnapshot, CompleteSnapshot, DeleteSnapshot and the
// timeout hold it, PutSnapshotBlock does not), then upload.mu (shared by the
// puts, exclusive to whatever ends or closes the upload), then uploads.mu
// (the table of open uploads, held briefly and never while waiting for an
// upload: Close empties the table, lets go of it, then closes each upload
// under its own lock), then upload.stateMu and the data-key cache's lock,
// leaves. The store's locks come after all of them.
//
// # Records and pins
//
// A snapshot's record and the pins it holds change in one metadata
// transaction (store.PinInTx, store.UnpinInTx): created with its pin,
// deleted with its pin, a copy started with a pin on its source's view,
// completed or failed with the copy's pins dropped. The blocks a dropped pin
// alone held are freed after the commit by store.Collect; a crash in between
// leaves a collect key that the next Collect (Start runs one) finishes. So a
// crash never leaves a record without its pin, nor a pin without its record.
//
// A copy pins its source's view ("copy-source:<id>") and keeps the source's
// view and key in its record, so the source can be deleted while it runs,
// as on AWS (DeleteSnapshot refuses only an AMI's or AWS Backup's
// snapshots): the copy completes from the view it pinned. CreateVolume
// holds the catalogue lock only until the new volume holds the snapshot's
// view (blockdev.Manager.StartRestore); the blocks are copied without it.
//
// DescribeSnapshots answers from the records: FullSnapshotSizeInBytes is
// kept in the record (a copy records it when it completes; otherwise it is
// counted from the block map once and saved, for records made before too).
// UniqueSizeInBytes, which changes as the volume overwrites blocks and other
// snapshots go, is counted from the change index of the generations only
// the snapshot covers (store.UniqueBytes), not from the block map.
//
// # Lock order
//
// A lock may be taken while holding those above it:
//
//	Service.tasksMu   encrypt-volume calls and clean-ups, one at a time
//	  Service.mu      the catalogue: every change of a record
//	    Service.blocksMu          exclusive while a record and its pins go; shared by block reads
//	    blockdev.Manager.mu       CreateSnapshot, CreateVolume (StartRestore)
//	    upload.mu, uploads.mu...  the EBS direct uploads, in the order given above
//	    store.Store.gcMu          Collect, run with Service.mu held (see below)
//	    runner.mu, keyCache.mu, viewCache.mu: leaves
//
// Service.mu is not held while a copy runs, nor while DeleteSnapshot waits
// for a cancelled copy to stop (the copy takes Service.mu to record its
// outcome); Service.tasksMu is held while cleanup waits for a task to stop
// (tasks never take it). fullSize takes Service.blocksMu shared, then,
// having let it go, Service.mu. The KMS's key-deletion guard (KeyUsers)
// takes no lock of the service or the manager: they call the KMS while
// holding theirs.
//
// store.Collect must not run beside a Freeze of a lineage it frees (its walk
// reads the pins first). Every Freeze runs under Service.mu (CreateSnapshot,
// CompleteSnapshot), so the service collects with it held; the volume
// manager collects under Manager.mu, which every Freeze of a volume's head
// also holds (an upload's lineage, frozen by CompleteSnapshot, has had no
// pin dropped yet, so no collect key names it).
package snapshot
