// Package ec2 is the EC2 control plane of the daemon: the volume operations
// of the EC2 API joined to the FUSE mount (attach makes the volume's file
// appear; detach refuses while the file is open), and encryption by
// default. It calls blockdev for volumes and fs for the mount, and knows
// nothing of HTTP.
package ec2
