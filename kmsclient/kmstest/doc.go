// Package kmstest is the test suite every KMS implementation must pass, in
// the style of restic's backend tests: an implementation's own _test.go file
// calls Run with a function that builds a fresh Env, and Run checks AWS KMS
// behaviour through the kmsclient.Service interface only: key identifiers,
// aliases, encryption and its context, data keys, ReEncrypt, key states,
// deletion, rotation, the AWS managed aws/ebs key, key policies, grants,
// tags, persistence across a reopen and concurrent use.
//
// Errors are checked by kind with errors.Is against the kmsclient sentinels
// (and policy.ErrMalformed), never by message.
//
// The suite speaks for three principals of the Env's account: the root, and
// IAM users made with kmsclient.UserCaller. It follows the policy semantics
// of kmsclient/policy: with no IAM policies, a key policy statement naming
// the account's root admits every principal of the account.
package kmstest
