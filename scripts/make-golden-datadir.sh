#!/usr/bin/env bash
# make-golden-datadir.sh makes a small data dir with one of everything the
# daemon stores, for the on-disk format tests (e2e/golden_test.go):
#
#   KMS keys (one rotated on demand twice, one with automatic rotation on,
#   one disabled), aliases, tags, a grant, KMS ciphertexts with and without
#   encryption context (saved with their plaintexts), an unencrypted and an
#   encrypted 1 GiB volume written sparsely through the mount with
#   reproducible content, snapshots of both (two of the encrypted one),
#   copies (same key, re-encrypted under another key, an unencrypted one
#   encrypted), a volume restored from a snapshot and left attached,
#   encryption by default, access keys, and the audit trail of all of it.
#
# It writes OUT/datadir (the data dir, after a clean SIGTERM shutdown),
# OUT/ciphertexts/NAME.bin and NAME.plain, and OUT/manifest.json: what a
# reader must find (ids, ARNs, aliases, states, rotation counts, SHA-256 of
# each volume's and snapshot's whole content, access keys, number of audit
# events). Content comes from AES-128-CTR keyed by a seed name, so it is the
# same on every run; ids, keys and ciphertexts are random and differ.
#
# usage: scripts/make-golden-datadir.sh [--rev REV] OUT
#   --rev REV  build ebs from git revision REV (git archive into a temporary
#              dir) instead of the current tree. e2e/testdata/golden-v1 (format
#              1, no FORMAT file) was made with --rev ff213ed, the last commit
#              before the data dir had a format version.
#
# Needs root, /dev/fuse, go, jq, openssl, fallocate. OUT must not exist.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=""
if [ "${1:-}" = "--rev" ]; then rev=$2; shift 2; fi
[ $# -eq 1 ] || { sed -n '/^# usage/,/^# Needs/p' "$0" >&2; exit 2; }
out=$1
[ ! -e "$out" ] || { echo "$out exists: remove it first" >&2; exit 2; }
for tool in go jq openssl fallocate sha256sum; do
	command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

work=$(mktemp -d /tmp/ebs-golden.XXXXXX)
daemon=""
cleanup() {
	if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# Build: bin/ebs from the current tree, or from REV in a scratch copy.
if [ -n "$rev" ]; then
	commit=$(git rev-parse --verify "$rev^{commit}")
	mkdir "$work/src"
	git archive "$commit" | tar -x -C "$work/src"
	(cd "$work/src" && go build -o "$work/ebs" ./cmd/ebs)
	EBS="$work/ebs"
else
	commit="$(git rev-parse HEAD)$(git diff --quiet HEAD -- . || echo '+dirty')"
	go build -o bin/ebs ./cmd/ebs
	EBS="$PWD/bin/ebs"
fi

mkdir -p "$out/ciphertexts"
data="$out/datadir" mnt="$work/mnt"
export EBS_SOCKET="$work/ebs.sock" TZ=UTC
"$EBS" serve --data-dir "$data" --socket "$EBS_SOCKET" --mount-dir "$mnt" >"$work/daemon.log" 2>&1 &
daemon=$!
"$EBS" wait-ready --timeout 30s

ebs() { "$EBS" "$@"; }
q() { local query=$1; shift; "$@" --query "$query" --output text; }

# The manifest is assembled at the end from one JSON object a line per list.
note() { jq -cn "$2" "${@:3}" >>"$work/m-$1.jsonl"; }

# gen SEED N prints N reproducible pseudo-random bytes: AES-128-CTR, key =
# the first 16 bytes of SHA-256(SEED), IV 0, over N zero bytes.
gen() {
	local key
	key=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000
}

# put VOL SEED OFFSET LEN writes gen(SEED, LEN) at byte OFFSET of the
# attached volume and fsyncs it; the writes are recorded in the manifest.
put() {
	gen "$2" "$4" >"$work/chunk"
	dd if="$work/chunk" of="$mnt/$1" bs="$4" count=1 seek="$3" oflag=seek_bytes conv=notrunc,fsync status=none
	note writes '{volume:$v, seed:$s, offset:($o|tonumber), length:($l|tonumber)}' --arg v "$1" --arg s "$2" --arg o "$3" --arg l "$4"
}

# punch VOL OFFSET LEN discards a byte range (FALLOCATE punch hole).
punch() {
	fallocate --punch-hole --keep-size --offset "$2" --length "$3" "$mnt/$1"
	note writes '{volume:$v, punch:true, offset:($o|tonumber), length:($l|tonumber)}' --arg v "$1" --arg o "$2" --arg l "$3"
}

digest() { sha256sum <"$mnt/$1" | cut -d' ' -f1; }

MiB=$((1 << 20)) GiB=$((1 << 30))

# --- KMS keys and aliases --------------------------------------------------
key_a=$(q KeyMetadata.KeyId ebs kms create-key --description "golden key A: rotated on demand twice")
key_b=$(q KeyMetadata.KeyId ebs kms create-key --description "golden key B: automatic rotation every 2560 days")
key_c=$(q KeyMetadata.KeyId ebs kms create-key --description "golden key C: disabled")
ebs kms create-alias --alias-name alias/golden-a --target-key-id "$key_a"
ebs kms create-alias --alias-name alias/golden-a2 --target-key-id "$key_a"
ebs kms create-alias --alias-name alias/golden-b --target-key-id "$key_b"
ebs kms create-alias --alias-name alias/golden-disabled --target-key-id "$key_c"
ebs kms tag-resource --key-id "$key_a" --tags TagKey=project,TagValue=golden TagKey=format,TagValue=1 >/dev/null

# encrypt NAME KEY [CONTEXT] saves a ciphertext and its plaintext.
encrypt() {
	local name=$1 key=$2 ctx=${3:-}
	printf 'golden plaintext %s: the quick brown fox' "$name" >"$out/ciphertexts/$name.plain"
	if [ -n "$ctx" ]; then
		q CiphertextBlob ebs kms encrypt --key-id "$key" --plaintext "fileb://$out/ciphertexts/$name.plain" --encryption-context "$ctx"
	else
		q CiphertextBlob ebs kms encrypt --key-id "$key" --plaintext "fileb://$out/ciphertexts/$name.plain"
	fi | base64 -d >"$out/ciphertexts/$name.bin"
	note ciphertexts '{name:$n, keyId:$k, encryptionContext:($c | if . == "" then {} else (split(",") | map(split("=") | {(.[0]): .[1]}) | add) end)}' \
		--arg n "$1" --arg k "$key" --arg c "$ctx"
}
encrypt a-v1-plain "$key_a"
encrypt a-v1-context "$key_a" "app=golden,purpose=format-test"

# --- volumes: the unencrypted one -------------------------------------------
vol_plain=$(q VolumeId ebs ec2 create-volume --size 1)
ebs ec2 attach-volume --volume-id "$vol_plain" >/dev/null
put "$vol_plain" plain-1 0 $((64 << 10))
put "$vol_plain" plain-2 $((MiB + 1234)) 10000
put "$vol_plain" plain-3 $((300 * MiB)) $((256 << 10))
put "$vol_plain" plain-4 $((GiB - 4096)) 4096
sum_snap_plain=$(digest "$vol_plain")
snap_plain=$(q SnapshotId ebs ec2 create-snapshot --volume-id "$vol_plain" --description "golden: unencrypted volume")
put "$vol_plain" plain-5 $((32 << 10)) $((8 << 10))
put "$vol_plain" plain-6 $((700 * MiB)) 4096
punch "$vol_plain" $((300 * MiB + (64 << 10))) $((8 << 10))
sum_vol_plain=$(digest "$vol_plain")
ebs ec2 detach-volume --volume-id "$vol_plain" >/dev/null

# --- the encrypted one, under key A before its rotations ---------------------
vol_enc=$(q VolumeId ebs ec2 create-volume --size 1 --encrypted --kms-key-id alias/golden-a)
ebs ec2 attach-volume --volume-id "$vol_enc" >/dev/null
put "$vol_enc" enc-1 0 $((128 << 10))
put "$vol_enc" enc-2 $((5 * MiB + 777)) 5000
put "$vol_enc" enc-3 $((512 * MiB)) $((64 << 10))
sum_snap_enc1=$(digest "$vol_enc")
snap_enc1=$(q SnapshotId ebs ec2 create-snapshot --volume-id "$vol_enc" --description "golden: encrypted volume, first")
put "$vol_enc" enc-4 $((64 << 10)) $((4 << 10))
put "$vol_enc" enc-5 $((900 * MiB)) $((32 << 10))
sum_snap_enc2=$(digest "$vol_enc")
snap_enc2=$(q SnapshotId ebs ec2 create-snapshot --volume-id "$vol_enc" --description "golden: encrypted volume, second")
put "$vol_enc" enc-6 $((512 * MiB + 4096)) 4096
punch "$vol_enc" $((5 * MiB)) $((8 << 10))
sum_vol_enc=$(digest "$vol_enc")
ebs ec2 detach-volume --volume-id "$vol_enc" >/dev/null

# --- rotations, then more ciphertexts ----------------------------------------
ebs kms rotate-key-on-demand --key-id alias/golden-a >/dev/null
ebs kms rotate-key-on-demand --key-id alias/golden-a >/dev/null
ebs kms enable-key-rotation --key-id alias/golden-b --rotation-period-in-days 2560
encrypt a-v3-plain "$key_a"
encrypt a-v3-context "$key_a" "app=golden,purpose=after-rotation"
encrypt b-context "$key_b" "team=storage"
encrypt c-disabled "$key_c"
dk=$(ebs kms generate-data-key --key-id alias/golden-b --number-of-bytes 32 --encryption-context purpose=data-key)
jq -r .Plaintext <<<"$dk" | base64 -d >"$out/ciphertexts/b-data-key.plain"
jq -r .CiphertextBlob <<<"$dk" | base64 -d >"$out/ciphertexts/b-data-key.bin"
note ciphertexts '{name:"b-data-key", keyId:$k, encryptionContext:{purpose:"data-key"}}' --arg k "$key_b"
ebs kms disable-key --key-id alias/golden-disabled
grant=$(q GrantId ebs kms create-grant --key-id alias/golden-b --name golden-grant \
	--grantee-principal arn:aws:iam::000000000000:user/alice --operations Decrypt \
	--constraints 'EncryptionContextSubset={team=storage}')

# --- copies and a restore ------------------------------------------------------
copy_same=$(q SnapshotId ebs ec2 copy-snapshot --source-snapshot-id "$snap_enc1" --description "golden: copy, same key")
copy_reenc=$(q SnapshotId ebs ec2 copy-snapshot --source-snapshot-id "$snap_enc2" --encrypted --kms-key-id alias/golden-b --description "golden: copy re-encrypted under key B")
copy_plain_enc=$(q SnapshotId ebs ec2 copy-snapshot --source-snapshot-id "$snap_plain" --encrypted --kms-key-id alias/golden-b --description "golden: unencrypted snapshot, encrypted copy")
ebs ec2 wait snapshot-completed --timeout 5m --snapshot-ids "$copy_same" "$copy_reenc" "$copy_plain_enc"

vol_restored=$(q VolumeId ebs ec2 create-volume --snapshot-id "$snap_enc1")
ebs ec2 attach-volume --volume-id "$vol_restored" >/dev/null
put "$vol_restored" restored-1 $((96 << 10)) $((64 << 10))
put "$vol_restored" restored-2 $((600 * MiB)) 4096
sum_vol_restored=$(digest "$vol_restored")
# vol_restored stays attached: the daemon attaches it again at its next start.

# --- encryption by default, access keys ----------------------------------------
ebs ec2 modify-ebs-default-kms-key-id --kms-key-id alias/golden-a >/dev/null
ebs ec2 enable-ebs-encryption-by-default >/dev/null
accesskey() {
	local k
	k=$(ebs iam create-access-key --user-name "$1")
	jq -c --arg u "$1" --arg s "$2" '{user:$u, accessKeyId:.AccessKey.AccessKeyId, secretAccessKey:.AccessKey.SecretAccessKey, status:$s}' <<<"$k" >>"$work/m-accessKeys.jsonl"
	jq -r .AccessKey.AccessKeyId <<<"$k"
}
accesskey alice Active >/dev/null
old=$(accesskey alice Inactive)
ebs iam update-access-key --user-name alice --access-key-id "$old" --status Inactive
accesskey bob Active >/dev/null

# --- what to expect ---------------------------------------------------------------
for k in "$key_a" "$key_b" "$key_c"; do
	md=$(ebs kms describe-key --key-id "$k")
	rot=$(q 'length(Rotations)' ebs kms list-key-rotations --key-id "$k")
	st=$(ebs kms get-key-rotation-status --key-id "$k")
	note keys '$md.KeyMetadata | {keyId:.KeyId, arn:.Arn, state:.KeyState, description:.Description,
		creationDate:.CreationDate, rotations:($rot|tonumber), rotationEnabled:$st.KeyRotationEnabled,
		rotationPeriodInDays:$st.RotationPeriodInDays}' --argjson md "$md" --arg rot "$rot" --argjson st "$st"
done
ebs kms list-aliases --output json | jq -c '.Aliases[] | {aliasName:.AliasName, aliasArn:.AliasArn, targetKeyId:.TargetKeyId}' >"$work/m-aliases.jsonl"
ebs kms list-grants --key-id "$key_b" --output json | jq -c '.Grants[]' >"$work/m-grants.jsonl"

volume() { # NAME ID SHA256
	note volumes '$v.Volumes[0] | {name:$n, volumeId:.VolumeId, encrypted:.Encrypted, kmsKeyId:(.KmsKeyId // ""),
		snapshotId:(.SnapshotId // ""), size:.Size, state:.State, sha256:$h}' \
		--arg n "$1" --arg h "$3" --argjson v "$(ebs ec2 describe-volumes --volume-ids "$2")"
}
volume plain "$vol_plain" "$sum_vol_plain"
volume encrypted "$vol_enc" "$sum_vol_enc"
volume restored "$vol_restored" "$sum_vol_restored"

snapshot() { # NAME ID SHA256 [SOURCE]
	note snapshots '$s.Snapshots[0] | {name:$n, snapshotId:.SnapshotId, volumeId:.VolumeId, encrypted:.Encrypted,
		kmsKeyId:(.KmsKeyId // ""), description:.Description, state:.State, volumeSize:.VolumeSize, sha256:$h, copyOf:$c}' \
		--arg n "$1" --arg h "$3" --arg c "${4:-}" --argjson s "$(ebs ec2 describe-snapshots --snapshot-ids "$2")"
}
snapshot plain "$snap_plain" "$sum_snap_plain"
snapshot encrypted-1 "$snap_enc1" "$sum_snap_enc1"
snapshot encrypted-2 "$snap_enc2" "$sum_snap_enc2"
snapshot copy-same-key "$copy_same" "$sum_snap_enc1" "$snap_enc1"
snapshot copy-reencrypted "$copy_reenc" "$sum_snap_enc2" "$snap_enc2"
snapshot copy-encrypted "$copy_plain_enc" "$sum_snap_plain" "$snap_plain"

ebs_default=$(ebs ec2 get-ebs-default-kms-key-id --output json)
ebs_on=$(ebs ec2 get-ebs-encryption-by-default --output json)

# --- a clean shutdown, then the counts only the files can tell -------------------
kill -TERM "$daemon"
wait "$daemon"
daemon=""
events=$(wc -l <"$data/cloudtrail/events.jsonl")
format=1 # a data dir without a FORMAT file is format 1
if [ -f "$data/FORMAT" ]; then format=$(head -n1 "$data/FORMAT"); fi

jq -n --arg commit "$commit" --arg events "$events" --arg format "$format" --arg grant "$grant" \
	--argjson ebsDefault "$ebs_default" --argjson ebsOn "$ebs_on" \
	--slurpfile keys "$work/m-keys.jsonl" --slurpfile aliases "$work/m-aliases.jsonl" \
	--slurpfile grants "$work/m-grants.jsonl" --slurpfile ciphertexts "$work/m-ciphertexts.jsonl" \
	--slurpfile volumes "$work/m-volumes.jsonl" --slurpfile snapshots "$work/m-snapshots.jsonl" \
	--slurpfile writes "$work/m-writes.jsonl" --slurpfile accessKeys "$work/m-accessKeys.jsonl" '{
	madeBy: {script: "scripts/make-golden-datadir.sh", commit: $commit}, format: ($format | tonumber),
	region: "local", account: "000000000000",
	keys: $keys, aliases: $aliases, grants: $grants, grantId: $grant, ciphertexts: $ciphertexts,
	volumes: $volumes, snapshots: $snapshots, writes: $writes, accessKeys: $accessKeys,
	ebsEncryptionByDefault: $ebsOn.EbsEncryptionByDefault, ebsDefaultKmsKeyId: $ebsDefault.KmsKeyId,
	auditEvents: ($events | tonumber)
}' >"$out/manifest.json"

echo "made $out from $commit:"
du -sh --apparent-size "$out/datadir"
du -sh "$out/datadir"
(cd "$out/datadir" && find . -type f -printf '%10s %p\n' | sort -k2)
