// Package embedded is the KMS that runs inside the daemon, with AWS KMS
// semantics: symmetric keys whose materials are wrapped under a root key,
// aliases, key policies, grants, rotation and scheduled deletion, persisted
// in a badger store (records.go has the layout) and recorded call by call in
// a CloudTrail-shaped audit trail.
//
// # Calls and the write lock
//
// A call that changes nothing (Decrypt, Encrypt, GenerateDataKey, Describe,
// Get and List calls) runs on a snapshot of the store and takes no lock
// (passes.go): evaluating a long key policy or many grants holds up no other
// call. Its result stands only if no change to a key it used has been
// published since its snapshot (revisions.go); otherwise it runs again. A
// writer publishes its change after the commit and before it returns. So
// each call takes effect at one instant, entirely before or entirely after a
// concurrent PutKeyPolicy, CreateGrant, RevokeGrant or DisableKey; a call
// that starts after such a change has returned sees it, and so does a call
// that was still evaluating when it returned. A call that turns out to need
// a change (a rotation or deletion the clock made due, the AWS managed key's
// first use) takes the write path.
//
// A call that changes the store runs twice: first on a snapshot without any
// lock, in a transaction that is thrown away, to evaluate its policies and
// grants; then under the write lock mu, for real, in one transaction that
// reuses each decision of the first pass whose key no change has touched
// since (decisions.go). Writers publish the keys they changed before they
// release mu. CreateKey, which only writes a record under a fresh random id,
// needs no lock.
//
// # Audit records
//
// A call returns only once its audit record is durable. A call that changes
// the store writes its records (and those of the rotations or deletions it
// applied) into an outbox in the same transaction as the change, then
// appends them to the trail and deletes the entry (outbox.go): no change
// commits without its record, and the records reach the trail exactly once,
// even across a crash (Open delivers what is left before the KMS serves) or
// a failing trail (later calls deliver it once the trail works again). A
// call that changes nothing appends its record to the trail and fails with
// KMSInternalException if it cannot.
//
// # Locks
//
// mu is taken first. Under it a writer may take revisions.mu, the policy
// cache's lock and the trail's (DurableSize). The outbox's lock is never
// taken with mu held: delivery runs after the write lock is released; under
// it the trail's locks are taken. No lock is held while a call evaluates a
// policy on its first pass or on a read.
package embedded
