// Package iam keeps the IAM access keys that sign requests to the daemon's
// AWS endpoint (ebs serve --listen).
//
// An access key maps an access key id ("AKIA..." like AWS) to a secret access
// key and to an IAM user of the daemon's account. The keys live in one file,
// <data-dir>/iam/access-keys.json (directory 0700, file 0600), rewritten
// atomically on every change. The rules are AWS's: at most two keys per user,
// user names of 1-64 characters of [\w+=,.@-], Active or Inactive keys, and
// the secret is shown once, when the key is created.
//
// The API layer verifies Signature Version 4 with Lookup; an Inactive key
// signs nothing.
//
// Locks: one RWMutex over the keys; a change holds it exclusively while it
// rewrites the file, so the file and the keys in memory never disagree.
package iam
