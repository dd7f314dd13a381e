#!/usr/bin/env bash
# The main job: start `ebs serve` in a temporary data dir and walk through
# keys, aliases, envelope encryption, rotation, key states and the audit
# trail, printing each step as it happens. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
EBS="$PWD/bin/ebs"
work=$(mktemp -d /tmp/ebs-demo.XXXXXX)
export EBS_SOCKET="$work/data/ebs.sock"
daemon=""
cleanup() {
	if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Start the daemon in $work/data (log: $work/daemon.log)"
"$EBS" serve --data-dir "$work/data" --clock-control >"$work/daemon.log" 2>&1 &
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

step "The audit trail: every KMS call, allowed or denied (newest first)"
"$EBS" cloudtrail lookup-events --max-results 50 --query 'Events[].CloudTrailEvent' --output json |
	jq -r '.[] | fromjson | [.eventTime, .eventName, (if (.userIdentity.arn // "") != "" then .userIdentity.arn else .userIdentity.invokedBy end), (.errorCode // "ok")] | @tsv' |
	column -t -s "$(printf '\t')"

step "No plaintext data key or CMK material in the data dir"
key_b64=$("$EBS" kms decrypt --ciphertext-blob "fileb://$work/datakey.enc" --encryption-context aws:ebs:id=vol-0123456789abcdef0 --query Plaintext --output text 2>/dev/null || true)
echo "(the CMK is disabled now, so even root cannot unwrap the data key: $([ -z "$key_b64" ] && echo refused))"
if grep -rqa "the launch code" "$work/data"; then echo "LEAK: plaintext found"; exit 1; else echo "plaintext secret: not found in $work/data"; fi

step "Stop the daemon (SIGTERM)"
kill -TERM "$daemon"; wait "$daemon"; daemon=""
echo "daemon exited cleanly"
