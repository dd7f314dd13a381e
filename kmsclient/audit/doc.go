// Package audit keeps an append-only, durable audit trail of KMS calls, one
// CloudTrail-shaped event per call, and answers CloudTrail LookupEvents-style
// queries over it.
//
// # On disk
//
// A trail is one file of JSON Lines: each line is one [Record] encoded with
// CloudTrail's field names, in CloudTrail's order, with eventTime in UTC to the
// second ("2006-01-02T15:04:05Z"), followed by '\n'. The file is created 0600 in
// a directory created 0700, opened with O_APPEND and never rewritten. The one
// exception is [Open]: bytes after the last newline can only be a write torn by
// a crash, so Open truncates them away. A corrupt line elsewhere is skipped by
// [Trail.Lookup]; it never hides the records around it.
//
// # Durability and group commit
//
// [Trail.Append] returns only after its line has been written and the file
// synced (os.File.Sync: fsync on Linux, F_FULLFSYNC on macOS). Concurrent
// appenders share syncs: the first appender to find no write in progress
// becomes the leader and writes and syncs every line queued so far in a single
// write; appenders that arrive meanwhile queue their lines and wait, and one of
// them leads the next batch. Lines are built whole before they are queued, so
// lines from different appenders never interleave. If a write or sync fails the
// trail stops accepting records (the state of the file's tail is unknown);
// reopening it repairs the tail.
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
// # One writer
//
// At most one Trail should append to a file at a time. Open repairs a torn
// tail by truncation, which would cut a line another open Trail is still
// writing. Opening a second Trail to read an idle file is fine.
package audit
