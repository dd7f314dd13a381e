#!/usr/bin/env bash
# The main job: start `ebs serve` in a temporary data dir and walk through
# keys, aliases, envelope encryption, rotation and key states, then the seed's
# story: an unencrypted volume with ext4, files and a SQLite database; the
# refused in-place encryption; snapshot, encrypted copy, restore; the files
# verified; a canary shown absent from the data dir; the audit trail of the
# KMS calls. Each step is printed as it happens. Needs root (losetup, mount).
# Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
EBS="$PWD/bin/ebs"
work=$(mktemp -d /tmp/ebs-demo.XXXXXX)
export EBS_SOCKET="$work/data/ebs.sock"
daemon="" mounted="" loops=""
cleanup() {
	if [ -n "$mounted" ]; then umount "$mounted" 2>/dev/null || umount -l "$mounted" 2>/dev/null || true; fi
	if [ -n "$loops" ]; then losetup -d $loops 2>/dev/null || true; fi
	if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Start the daemon in $work/data (log: $work/daemon.log)"
"$EBS" serve --data-dir "$work/data" --mount-dir "$work/mnt" --clock-control >"$work/daemon.log" 2>&1 &
daemon=$!
run "$EBS" wait-ready --timeout 30s

step "A customer managed key (CMK) with an alias"
key=$("$EBS" kms create-key --description "demo application key" --query KeyMetadata.KeyId --output text)
run "$EBS" kms create-alias --alias-name alias/demo --target-key-id "$key"
run "$EBS" kms describe-key --key-id alias/demo --output table

step "Encrypt and decrypt a small secret, bound to an encryption context"
printf 'the launch code is 0000' >"$work/secret.txt"
run "$EBS" kms encrypt --key-id alias/demo --plaintext "fileb://$work/secret.txt" \
	--encryption-context app=demo --query CiphertextBlob --output text | base64 -d >"$work/secret.enc"
echo "ciphertext blob: $(wc -c <"$work/secret.enc") bytes (49 bytes of header, nonce and tag)"
run "$EBS" kms decrypt --ciphertext-blob "fileb://$work/secret.enc" --encryption-context app=demo \
	--query Plaintext --output text | base64 -d; echo
echo "Without the context the KMS refuses:"
"$EBS" kms decrypt --ciphertext-blob "fileb://$work/secret.enc" || echo "(exit $?)"

step "Envelope encryption: a 512-bit data key as EBS makes one, stored only wrapped"
run "$EBS" kms generate-data-key-without-plaintext --key-id alias/demo --number-of-bytes 64 \
	--encryption-context aws:ebs:id=vol-0123456789abcdef0 --query CiphertextBlob --output text | base64 -d >"$work/datakey.enc"
"$EBS" kms decrypt --ciphertext-blob "fileb://$work/datakey.enc" --encryption-context aws:ebs:id=vol-0123456789abcdef0 \
	--query Plaintext --output text | base64 -d | wc -c | sed 's/^/data key unwrapped on attach: /; s/$/ bytes/'

step "Rotation: new material for new encryptions, old ciphertexts still decrypt"
run "$EBS" kms rotate-key-on-demand --key-id alias/demo
run "$EBS" kms rotate-key-on-demand --key-id alias/demo
run "$EBS" kms list-key-rotations --key-id alias/demo --output table
run "$EBS" kms decrypt --ciphertext-blob "fileb://$work/secret.enc" --encryption-context app=demo \
	--query Plaintext --output text | base64 -d; echo
run "$EBS" kms enable-key-rotation --key-id alias/demo --rotation-period-in-days 90
echo "Moving the daemon's clock 91 days ahead:"
run "$EBS" debug advance-clock --days 91 >/dev/null
run "$EBS" kms list-key-rotations --key-id alias/demo --query 'Rotations[].[RotationType,RotationDate]' --output text

step "The AWS managed key alias/aws/ebs: made on first use, rotated yearly, not for direct use"
run "$EBS" kms describe-key --key-id alias/aws/ebs --query 'KeyMetadata.[KeyId,KeyManager,KeyState]' --output text
"$EBS" kms disable-key --key-id alias/aws/ebs || echo "(exit $?)"

step "Key states: disabled, pending deletion, cancelled"
run "$EBS" kms disable-key --key-id alias/demo
"$EBS" kms decrypt --ciphertext-blob "fileb://$work/secret.enc" --encryption-context app=demo || echo "(exit $?)"
run "$EBS" kms schedule-key-deletion --key-id alias/demo --pending-window-in-days 7
run "$EBS" kms cancel-key-deletion --key-id alias/demo
run "$EBS" kms describe-key --key-id alias/demo --query KeyMetadata.KeyState --output text

step "The seed's story: an unencrypted volume with a file system and files"
run "$EBS" kms enable-key --key-id alias/demo
run "$EBS" kms create-alias --alias-name alias/app --target-key-id "$key"
vol=$("$EBS" ec2 create-volume --size 1 --query VolumeId --output text)
echo "unencrypted volume: $vol"
run "$EBS" ec2 attach-volume --volume-id "$vol" --query Device --output text
loop=$(losetup --find --show --sector-size 4096 --direct-io=on "$work/mnt/$vol"); loops="$loop"
echo "loop device: $loop"
mkfs.ext4 -q "$loop"
mkdir -p "$work/fs" && mount "$loop" "$work/fs"; mounted="$work/fs"
cp -r "$PWD/kmsclient" "$work/fs/src"
sqlite3 "$work/fs/orders.db" "create table orders(id integer primary key, item text); insert into orders(item) values ('disk'),('key'),('snapshot');"
echo "PLAIN-VOLUME-CANARY-$$" >"$work/fs/canary.txt"
(cd "$work/fs" && find . -type f ! -name '*.db' -print0 | sort -z | xargs -0 sha256sum) >"$work/before.sha256"
sync -f "$work/fs"; umount "$work/fs"; mounted=""; losetup -d "$loop"; loops=""
echo "$(wc -l <"$work/before.sha256") files written, plus orders.db (3 rows)"

step "Encrypting it in place is refused, as in AWS; the error shows the way"
"$EBS" ec2 modify-volume --volume-id "$vol" --encrypted || echo "(exit $?)"

step "Snapshot, copy encrypted under alias/app, restore"
snap=$("$EBS" ec2 create-snapshot --volume-id "$vol" --description "before encryption" --query SnapshotId --output text)
echo "snapshot: $snap (O(1): it shares every block with the volume)"
copy=$("$EBS" ec2 copy-snapshot --source-snapshot-id "$snap" --encrypted --kms-key-id alias/app --query SnapshotId --output text)
echo "encrypted copy: $copy (every block encrypted under a new data key)"
run "$EBS" ec2 wait snapshot-completed --snapshot-ids "$copy"
run "$EBS" ec2 describe-snapshots --snapshot-ids "$snap" "$copy" \
	--query 'Snapshots[].[SnapshotId,Encrypted,KmsKeyId,State,FullSnapshotSizeInBytes]' --output text
new=$("$EBS" ec2 create-volume --snapshot-id "$copy" --query VolumeId --output text)
echo "restored encrypted volume: $new"
run "$EBS" ec2 attach-volume --volume-id "$new" --query Device --output text
loop=$(losetup --find --show --sector-size 4096 --direct-io=on "$work/mnt/$new"); loops="$loop"
e2fsck -fn "$loop" >/dev/null && echo "e2fsck: clean"
mount "$loop" "$work/fs"; mounted="$work/fs"
(cd "$work/fs" && sha256sum --quiet -c "$work/before.sha256") && echo "every file identical after snapshot, encrypted copy and restore"
echo "orders.db answers: $(sqlite3 "$work/fs/orders.db" 'select group_concat(item) from orders')"
echo "SECRET-VOLUME-CANARY-$$" >"$work/fs/secret.txt"
sync -f "$work/fs"; umount "$work/fs"; mounted=""; losetup -d "$loop"; loops=""
run "$EBS" ec2 detach-volume --volume-id "$new" --query State --output text
run "$EBS" ec2 detach-volume --volume-id "$vol" --query State --output text

step "What reached the data dir"
if grep -rqa "SECRET-VOLUME-CANARY-$$" "$work/data"; then echo "LEAK: the encrypted volume's canary is in the data dir"; exit 1; fi
echo "canary written through the encrypted volume: 0 files of the data dir contain it"
echo "canary of the unencrypted original (the control): found in $(grep -rla "PLAIN-VOLUME-CANARY-$$" "$work/data" | wc -l) file(s)"

step "The audit trail: every KMS call, allowed or denied (newest first)"
"$EBS" cloudtrail lookup-events --max-results 50 --query 'Events[].CloudTrailEvent' --output json |
	jq -r '.[] | fromjson | [.eventTime, .eventName, (if (.userIdentity.arn // "") != "" then .userIdentity.arn else .userIdentity.invokedBy end), (.errorCode // "ok")] | @tsv' |
	column -t -s "$(printf '\t')"

step "Stop the daemon (SIGTERM)"
kill -TERM "$daemon"; wait "$daemon"; daemon=""
echo "daemon exited cleanly"
