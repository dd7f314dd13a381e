// Package blockdev is the volume layer: volume records, the EBS encryption
// flow with the KMS (a 512-bit data key per volume, generated under a CMK and
// kept only wrapped; unwrapped at attach and wiped at detach), encryption by
// default, and the data path of an attached volume (Volume: byte ranges to
// 4 KiB blocks, AES-256-XTS with the block number as tweak, read-modify-write
// of partial blocks, discard in the block map).
//
// Blocks are stored by blockdev/store, which knows nothing of keys; the
// sector cipher is blockdev/xts.
package blockdev
