// Package e2e holds the end-to-end tests: they build the real ebs binary,
// start `ebs serve` in a temporary data dir, and drive it with the CLI as a
// user would (as root and, where a test needs one, as a second unix user).
package e2e
