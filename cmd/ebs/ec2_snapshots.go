package main

// `ebs ec2 ...-snapshot(s)`: snapshots, their copies and their keys.

func ec2SnapshotID() param { return str("SnapshotId").doc("the snapshot id, snap-...").req() }

// describeSnapshotsParams are the flags of describe-snapshots, which the
// snapshot-completed waiter takes too.
func describeSnapshotsParams() []param {
	return []param{
		list("SnapshotIds").doc("snapshot ids"),
		structList("Filters", "Name", "Values").
			doc("filter: Name=volume-id,Values=vol-1,vol-2 (repeat the flag for more filters)"),
		flagOnly("volume-id", kindString).doc("only snapshots of this volume (--filters Name=volume-id,Values=V)"),
	}
}

func ec2SnapshotCommands() []commandSpec {
	return []commandSpec{
		{operation: "CreateSnapshot", short: "Snapshot a volume at this instant (incremental, copy-on-write)",
			long: `Take a point-in-time snapshot of a volume. The snapshot is taken at once and
is pending until its blocks are stored; the volume stays usable meanwhile. Only
blocks changed since the volume's previous snapshot are stored anew. A snapshot
of an encrypted volume is encrypted under the same KMS key and data key.`,
			example: `  ebs ec2 create-snapshot --volume-id vol-0123456789abcdef0 --description "before upgrade"
  ebs ec2 wait snapshot-completed --snapshot-ids "$(ebs ec2 create-snapshot --volume-id vol-0123456789abcdef0 --query SnapshotId --output text)"`,
			params: []param{ec2VolumeID(), str("Description").doc("a description of the snapshot")}},
		{operation: "DescribeSnapshots", short: "Describe snapshots, all or the ones named or filtered",
			long: `Describe snapshots: all of them, the ones named by --snapshot-ids, or the ones
that match every --filters. --volume-id V is a shortcut for
--filters Name=volume-id,Values=V. Snapshots that share a DataEncryptionKeyId
belong to the same volume/snapshot lineage.`,
			example: `  ebs ec2 describe-snapshots --snapshot-ids snap-0123456789abcdef0
  ebs ec2 describe-snapshots --filters Name=volume-id,Values=vol-0123456789abcdef0 --query 'Snapshots[].[SnapshotId,State,Progress]' --output text
  ebs ec2 describe-snapshots --volume-id vol-0123456789abcdef0 --output table`,
			params:  describeSnapshotsParams(),
			prepare: addVolumeFilter},
		{operation: "DeleteSnapshot", short: "Delete a snapshot (blocks later snapshots still use are kept)",
			example: `  ebs ec2 delete-snapshot --snapshot-id snap-0123456789abcdef0`,
			params:  []param{ec2SnapshotID()}},
		{operation: "CopySnapshot", short: "Copy a snapshot, optionally encrypting it or re-encrypting it under another key",
			long: `Copy a snapshot. The copy gets a new id and returns at once, pending; wait for it
with 'ebs ec2 wait snapshot-completed'. --encrypted encrypts a copy of an
unencrypted snapshot (the way to encrypt a volume: create-snapshot ->
copy-snapshot --encrypted -> create-volume --snapshot-id, or encrypt-volume).
A copy of an encrypted snapshot is always encrypted.

A copy under another KMS key (--kms-key-id) decrypts every block and
re-encrypts it under a NEW data key, generated under that key: a full
re-encryption. Use it when the data key or the old KMS key may have been
exposed. rewrap-snapshot, by contrast, keeps the data key and only re-wraps
it (metadata only, instant), which is enough to retire or restrict the old
KMS key but not to recover from a leaked data key.`,
			example: `  ebs ec2 copy-snapshot --source-snapshot-id snap-0123456789abcdef0 --encrypted --kms-key-id alias/app
  ebs ec2 copy-snapshot --source-snapshot-id snap-0123456789abcdef0 --description "nightly copy" --query SnapshotId --output text`,
			params: []param{str("SourceSnapshotId").doc("the snapshot to copy, snap-...").req(),
				boolean("Encrypted").doc("encrypt the copy (cannot be turned off for an encrypted source)"),
				str("KmsKeyId").doc("the KMS key of the copy (needs --encrypted): key id, key ARN, alias/NAME or alias ARN"),
				str("Description").doc("a description of the copy"),
				str("SourceRegion").doc("the region of the source snapshot (the daemon has one)")}},
		{operation: "RewrapSnapshot", short: "Re-wrap a snapshot's data key under another KMS key (metadata only, instant)",
			long: `Re-wrap an encrypted snapshot's data key under another KMS key with KMS
ReEncrypt. The data key, and so every encrypted block, stays the same: only the
wrapped copy of the key in the snapshot's metadata changes (metadata only,
instant).

This answers "retire or restrict the old KMS key": afterwards the snapshot no
longer needs it. It does NOT answer "the data key leaked": the blocks are still
encrypted under that data key. For that, use
'ebs ec2 copy-snapshot --encrypted --kms-key-id K', a full re-encryption under
a new data key, and delete the old snapshot.`,
			example: `  ebs ec2 rewrap-snapshot --snapshot-id snap-0123456789abcdef0 --kms-key-id alias/new-key`,
			params: []param{ec2SnapshotID(),
				str("KmsKeyId").doc("the KMS key to wrap the data key under: key id, key ARN, alias/NAME or alias ARN").req()}},
	}
}

// addVolumeFilter makes every filter's Values a list (Values=v is one
// value) and adds the filter of --volume-id.
func addVolumeFilter(values map[string]any, body *object) error {
	v, given := body.get("Filters")
	filters, _ := v.([]any)
	for i, f := range filters {
		o, _ := f.(object)
		if one, isString := valueOf(o, "Values").(string); isString {
			o.set("Values", []any{one})
			filters[i] = o
		}
	}
	if id, ok := values["volume-id"].(string); ok {
		filters = append(filters, object{{"Name", "volume-id"}, {"Values", []any{id}}})
		given = true
	}
	if given {
		body.set("Filters", filters)
	}
	return nil
}

// valueOf is the value of key in o, nil when absent.
func valueOf(o object, key string) any {
	v, _ := o.get(key)
	return v
}
