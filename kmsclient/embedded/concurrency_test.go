package embedded_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/kmsclient"
)

// stallLimit is how long a call may take before a test calls it stalled:
// far above any call's duration, it only catches a call that waits for
// another one to finish.
const stallLimit = 20 * time.Second

var alice = kmsclient.UserCaller("000000000000", "alice", "AIDAALICE")

// gate holds up the first evaluation of a key's policy and grants for
// alice, until released.
type gate struct {
	arn      string
	entered  chan struct{}
	released chan struct{}
	once     sync.Once
	opened   sync.Once
}

// holdAlice installs the gate; it opens when the test ends at the latest.
func holdAlice(t *testing.T, h *harness, arn string) *gate {
	g := &gate{arn: arn, entered: make(chan struct{}), released: make(chan struct{})}
	t.Cleanup(g.release)
	h.kms.SetBeforeEvaluateForTest(func(principal, keyArn, action string) {
		if principal == alice.ARN && keyArn == g.arn {
			g.once.Do(func() {
				close(g.entered)
				<-g.released
			})
		}
	})
	return g
}

func (g *gate) release() { g.opened.Do(func() { close(g.released) }) }

// start runs f in a goroutine and returns a channel with its error.
func start(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

func await(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(stallLimit):
		t.Fatalf("%s stalled", what)
		return nil
	}
}

func awaitEntered(t *testing.T, g *gate) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(stallLimit):
		t.Fatal("alice's call never evaluated a policy")
	}
}

// TestSlowEvaluationStallsNoOne checks item 9 of issue 10: while the
// evaluation of alice's policy and grants on key A is held up (a 28 KB
// policy took 268 ms under the KMS-wide lock), other callers' crypto calls
// and management calls on key B go through, and so does a management call
// on A itself; alice's call then completes.
func TestSlowEvaluationStallsNoOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alice func(ctx context.Context, h *harness, a *kmsclient.KeyMetadata, blob []byte) error
	}{
		{"Decrypt", func(ctx context.Context, h *harness, a *kmsclient.KeyMetadata, blob []byte) error {
			_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
			return err
		}},
		{"CreateGrant", func(ctx context.Context, h *harness, a *kmsclient.KeyMetadata, _ []byte) error {
			_, err := h.kms.CreateGrant(ctx, &kmsclient.CreateGrantInput{KeyID: a.KeyID, GranteePrincipal: alice.ARN, Operations: []string{"Decrypt"}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, t.TempDir())
			root := rootCtx(t, h)
			a := must(h.kms.CreateKey(root, &kmsclient.CreateKeyInput{Description: "A"}))(t).KeyMetadata
			b := must(h.kms.CreateKey(root, &kmsclient.CreateKeyInput{Description: "B"}))(t).KeyMetadata
			blobA := must(h.kms.Encrypt(root, &kmsclient.EncryptInput{KeyID: a.KeyID, Plaintext: []byte("a")}))(t).CiphertextBlob
			blobB := must(h.kms.Encrypt(root, &kmsclient.EncryptInput{KeyID: b.KeyID, Plaintext: []byte("b")}))(t).CiphertextBlob
			g := holdAlice(t, h, a.Arn)

			aliceDone := start(func() error { return tc.alice(kmsclient.WithCaller(t.Context(), alice), h, a, blobA) })
			awaitEntered(t, g)
			others := []struct {
				what string
				call func() error
			}{
				{"root's Decrypt under B", func() error {
					_, err := h.kms.Decrypt(root, &kmsclient.DecryptInput{CiphertextBlob: blobB})
					return err
				}},
				{"root's GenerateDataKey under B", func() error {
					_, err := h.kms.GenerateDataKey(root, &kmsclient.GenerateDataKeyInput{KeyID: b.KeyID, NumberOfBytes: 32})
					return err
				}},
				{"root's TagResource on B", func() error {
					_, err := h.kms.TagResource(root, &kmsclient.TagResourceInput{KeyID: b.KeyID, Tags: []kmsclient.Tag{{TagKey: "t", TagValue: "v"}}})
					return err
				}},
				{"root's CreateKey", func() error {
					_, err := h.kms.CreateKey(root, &kmsclient.CreateKeyInput{})
					return err
				}},
				{"root's UpdateKeyDescription on A", func() error {
					_, err := h.kms.UpdateKeyDescription(root, &kmsclient.UpdateKeyDescriptionInput{KeyID: a.KeyID, Description: "A2"})
					return err
				}},
			}
			for _, o := range others {
				if err := await(t, o.what+" while alice's evaluation is held up", start(o.call)); err != nil {
					t.Errorf("%s: %v", o.what, err)
				}
			}
			g.release()
			if err := await(t, "alice's call", aliceDone); err != nil {
				t.Errorf("alice's %s: %v", tc.name, err)
			}
		})
	}
}

// TestChangeDuringEvaluationHonoured checks that a change committed between
// the evaluation of alice's call and its execution is honoured: the call is
// evaluated again against the change, so alice gets no plaintext and makes
// no grant once the change has returned.
func TestChangeDuringEvaluationHonoured(t *testing.T) {
	denyAlice := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"kms:*","Resource":"*"}]}`
	rootOnly := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*",` +
		`"Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:root"}}}]}`
	decrypt := func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, blob []byte) error {
		_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
		return err
	}
	createGrant := func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, _ []byte) error {
		_, err := h.kms.CreateGrant(ctx, &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: alice.ARN, Operations: []string{"Decrypt"}})
		return err
	}
	for _, tc := range []struct {
		name   string
		policy string // the key's policy before the change; "" for the default
		grant  bool   // alice holds a grant for Decrypt and CreateGrant before the change
		alice  func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, blob []byte) error
		change func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, grantID string) error
		want   error
	}{
		{"PutKeyPolicy then Decrypt", "", false, decrypt, func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, _ string) error {
			_, err := h.kms.PutKeyPolicy(ctx, &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: denyAlice})
			return err
		}, kmsclient.ErrAccessDenied},
		{"PutKeyPolicy then CreateGrant", "", false, createGrant, func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, _ string) error {
			_, err := h.kms.PutKeyPolicy(ctx, &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: denyAlice})
			return err
		}, kmsclient.ErrAccessDenied},
		{"RevokeGrant then Decrypt", rootOnly, true, decrypt, func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, grantID string) error {
			_, err := h.kms.RevokeGrant(ctx, &kmsclient.RevokeGrantInput{KeyID: k.KeyID, GrantID: grantID})
			return err
		}, kmsclient.ErrAccessDenied},
		{"RevokeGrant then CreateGrant", rootOnly, true, createGrant, func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, grantID string) error {
			_, err := h.kms.RevokeGrant(ctx, &kmsclient.RevokeGrantInput{KeyID: k.KeyID, GrantID: grantID})
			return err
		}, kmsclient.ErrAccessDenied},
		{"DisableKey then Decrypt", "", false, decrypt, func(ctx context.Context, h *harness, k *kmsclient.KeyMetadata, _ string) error {
			_, err := h.kms.DisableKey(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID})
			return err
		}, kmsclient.ErrDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, t.TempDir())
			root := rootCtx(t, h)
			k := must(h.kms.CreateKey(root, &kmsclient.CreateKeyInput{Policy: tc.policy}))(t).KeyMetadata
			blob := must(h.kms.Encrypt(root, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("secret")}))(t).CiphertextBlob
			grantID := ""
			if tc.grant {
				grantID = must(h.kms.CreateGrant(root, &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: alice.ARN, Operations: []string{"Decrypt", "CreateGrant"}}))(t).GrantID
			}
			aliceCtx := kmsclient.WithCaller(t.Context(), alice)
			if err := tc.alice(aliceCtx, h, k, blob); err != nil {
				t.Fatalf("before the change alice's call fails: %v", err)
			}
			g := holdAlice(t, h, k.Arn)
			aliceDone := start(func() error { return tc.alice(aliceCtx, h, k, blob) })
			awaitEntered(t, g) // alice's call has read the key and is about to evaluate
			if err := await(t, "the change", start(func() error { return tc.change(root, h, k, grantID) })); err != nil {
				t.Fatalf("the change: %v", err)
			}
			g.release()
			if err := await(t, "alice's call", aliceDone); !errors.Is(err, tc.want) {
				t.Errorf("alice's call after the change returned = %v, want %v", err, tc.want)
			}
		})
	}
}
