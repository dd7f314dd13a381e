// Package snapshot is the snapshot catalogue: incremental, crash-consistent
// snapshots of volumes (a snapshot is a pinned view of the volume's lineage
// at a generation, taken in O(1)); copies that share blocks under the same
// key or re-encrypt every block under a new data key; re-wrapping a data key
// under another CMK; volumes restored from snapshots; the EBS direct APIs'
// block listings; and encrypt-volume, which runs snapshot, encrypted copy
// and restore as one resumable task.
package snapshot
