// Package audit keeps an append-only, durable audit trail of KMS calls, one
// CloudTrail-shaped event per call, and answers CloudTrail LookupEvents-style
// queries over it.
//
// # On disk
//
// A trail is one file of JSON Lines: each line is one [Record] encoded with
// CloudTrail's field names, in CloudTrail's order, with eventTime in UTC to the
// second ("2006-01-02T15:04:05Z"), followed by '\n'. The file is created 0600 in
// a directory created 0700, opened with O_APPEND and never rewritten. Two
// exceptions cut the file back to its last synced line: [Open] (bytes after
// the last newline can only be a write torn by a crash) and the recovery
// from a failed write or sync (below). A corrupt line elsewhere is skipped by
// [Trail.Lookup]; it never hides the records around it.
//
// # Durability and group commit
//
// [Trail.Append] returns nil only after its lines have been written and the
// file synced (os.File.Sync: fsync on Linux, F_FULLFSYNC on macOS); the lines
// of one Append are written together, in order. Concurrent appenders share
// syncs through internal/groupcommit: each Append queues its lines in the
// batch the next round writes, and a round writes the whole batch in one
// write and syncs once. An Append reports the result of the round that wrote
// its batch: nil only if that write and sync succeeded. Lines are built whole
// before they are queued, so lines from different appenders never interleave.
//
// # Failures
//
// A failed write or sync fails the Appends of that round, and only them. The
// file's tail is then unknown (after a failed fsync the kernel may have
// dropped the pages, and the old descriptor may keep reporting the error), so
// the next round first reopens the file, truncates it back to its last synced
// line, syncs that, and only then writes its batch: the records of failed
// Appends never stay in the file, and the trail works again as soon as the
// disk does. Close does the same if the last round failed. A crash right
// after a failed sync can still leave such records on disk: they say a call
// happened that was answered with an error, never the reverse.
//
// # Lookups
//
// [Trail.Lookup] reads the file backwards in chunks, newest record first, so a
// query costs the bytes it scans, not the size of the trail. It sees only
// records whose Append has returned. Its next token is the byte offset to
// continue from; tokens stay valid as the trail grows.
//
// # What callers must keep out of records
//
// A trail is an audit log, readable by whoever may read the log: it must never
// hold plaintext, ciphertext blobs, data keys or key material. This package
// writes whatever it is given; the caller builds requestParameters and
// responseElements the way CloudTrail does for KMS: Decrypt logs keyId,
// encryptionAlgorithm and encryptionContext but no CiphertextBlob or Plaintext,
// and the crypto calls log null responseElements.
//
// # Replaying records stored elsewhere
//
// [Trail.DurableSize] and [Trail.Contains] let a caller that keeps records in
// its own transactional store (the KMS's outbox) append them exactly once:
// remember DurableSize when storing them; after a crash, append those whose
// EventID Contains does not find after that offset.
//
// # Locks
//
// reading (shared by Lookup and Contains, exclusive to swap or close the
// file) is taken before mu (the queue, the synced size, closed). A round of
// the group commit holds neither while it writes and syncs; rounds run one
// at a time, so the recovery state is theirs alone.
//
// # One writer
//
// At most one Trail should append to a file at a time. Open repairs a torn
// tail by truncation, which would cut a line another open Trail is still
// writing. Opening a second Trail to read an idle file is fine.
package audit
