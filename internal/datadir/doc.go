// Package datadir records and upgrades the on-disk format of a data dir.
//
// <data-dir>/FORMAT holds the format version as one line of decimal text
// ("2"). A data dir without it is format 1 (ebs up to commit ff213ed wrote
// none), unless it holds no data at all: then it is new and gets the current
// version. The file is replaced atomically (temporary file, fsync, rename,
// fsync of the dir) and never deleted.
//
// `ebs serve` calls Check before it takes the data dir's lock (a data dir of
// a newer format is refused with nothing touched, not even LOCK), then
// Prepare under the lock, before it opens any store. Prepare upgrades an
// older data dir one version at a time: before the step from n to n+1 runs,
// FORMAT says "n+1 upgrading from n"; after it, "n+1". So:
//
//   - a crash during a step leaves "n+1 upgrading from n": the next start
//     runs the step again, from the top. Every step must therefore be safe
//     to run again over its own partial or complete result (idempotent);
//   - an ebs that knows only format n or older sees format n+1 and refuses
//     the half-upgraded dir instead of reading bytes it would misread.
//
// Adding a format: write the step (a func in steps.go, from the previous
// version to the new one), append it to steps, bump Current, add its line
// to the history in steps.go and in DESIGN.md ("Data dir format"), give the
// step a unit test, and commit a golden data dir of the old format made by
// scripts/make-golden-datadir.sh --rev <last commit of the old format> for
// an e2e test like e2e/golden_test.go. A new badger key, file or directory
// that older code never wrote and does not need is not a format change;
// anything that reinterprets bytes older code wrote is.
//
// There are no locks here: the caller holds the data dir's flock.
package datadir
