package main

// `ebs ebs ...`: the EBS direct APIs that read a snapshot's block map, for
// incremental backup.

func ebsPaging() []param {
	return []param{
		integer("MaxResults").doc("the maximum number of blocks to return (100-10000)"),
		str("NextToken").doc("the NextToken of the previous page"),
		integer("StartingBlockIndex").doc("list blocks from this block index on"),
	}
}

func ebsGroup() groupSpec {
	return groupSpec{
		name:  "ebs",
		short: "List the blocks of snapshots and what changed between two (AWS EBS direct APIs)",
		long: `The EBS direct APIs of the ebs daemon: which blocks a completed snapshot holds,
and which differ between two snapshots of the same volume lineage, for
incremental backup. Blocks are 512 KiB; only blocks that were ever written are
listed. Block tokens expire at ExpiryTime.`,
		commands: []commandSpec{
			{operation: "ListSnapshotBlocks", short: "List the written blocks of a snapshot",
				example: `  ebs ebs list-snapshot-blocks --snapshot-id snap-0123456789abcdef0
  ebs ebs list-snapshot-blocks --snapshot-id snap-0123456789abcdef0 --max-results 100 --query 'Blocks[].BlockIndex' --output text`,
				params: append([]param{str("SnapshotId").doc("the snapshot, snap-...").req()}, ebsPaging()...)},
			{operation: "ListChangedBlocks", short: "List the blocks that differ between two snapshots of one lineage",
				long: `List the blocks that differ between two snapshots of the same volume lineage
(the same data key): for each, its token in the first snapshot (absent if it was
not written there) and in the second. Without --first-snapshot-id, every written
block of the second snapshot is listed.`,
				example: `  ebs ebs list-changed-blocks --first-snapshot-id snap-0123456789abcdef0 --second-snapshot-id snap-0fedcba9876543210
  ebs ebs list-changed-blocks --first-snapshot-id snap-0123456789abcdef0 --second-snapshot-id snap-0fedcba9876543210 --query 'ChangedBlocks[].BlockIndex' --output text`,
				params: append([]param{
					str("FirstSnapshotId").doc("the earlier snapshot, snap-..."),
					str("SecondSnapshotId").doc("the later snapshot, snap-...").req(),
				}, ebsPaging()...)},
		},
	}
}
