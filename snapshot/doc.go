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
package snapshot
