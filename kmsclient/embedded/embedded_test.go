package embedded_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
	"github.com/ebs-dev/ebs/kmsclient/kmstest"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

func TestSuite(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) *kmstest.Env {
		h := newHarness(t, t.TempDir())
		return &kmstest.Env{
			KMS:     h.kms,
			Account: h.kms.Account(),
			Region:  h.kms.Region(),
			Advance: h.advance,
			Reopen: func(t testing.TB) kmsclient.Service {
				h.reopen(t)
				return h.kms
			},
		}
	})
}

// harness is an embedded KMS in a directory, with a clock the test moves
// and an audit trail it reads.
type harness struct {
	dir       string
	trailPath string
	clock     *clock.Offset
	trail     *audit.Trail
	kms       *embedded.KMS
}

// newHarness opens a KMS in dir with its trail in dir/audit; both are
// closed when the test ends.
func newHarness(t testing.TB, dir string) *harness {
	t.Helper()
	return newHarnessWith(t, dir, audit.Options{})
}

// newHarnessWith is newHarness with the trail opened with o.
func newHarnessWith(t testing.TB, dir string, o audit.Options) *harness {
	t.Helper()
	h := &harness{dir: dir, trailPath: filepath.Join(dir, "audit", "kms.jsonl"), clock: clock.NewOffset(0)}
	trail, err := audit.OpenWith(h.trailPath, o)
	if err != nil {
		t.Fatal(err)
	}
	h.trail = trail
	t.Cleanup(func() {
		if err := trail.Close(); err != nil && !errors.Is(err, audit.ErrClosed) {
			t.Error(err)
		}
	})
	h.open(t)
	t.Cleanup(func() { h.close(t) })
	return h
}

func (h *harness) open(t testing.TB) {
	t.Helper()
	k, err := embedded.Open(h.options())
	if err != nil {
		t.Fatal(err)
	}
	h.kms = k
}

func (h *harness) options() embedded.Options {
	return embedded.Options{Dir: h.dir, Trail: h.trail, Clock: h.clock, SweepInterval: -1, ErrorCode: errorCode}
}

func (h *harness) close(t testing.TB) {
	t.Helper()
	if h.kms == nil {
		return
	}
	if err := h.kms.Close(); err != nil {
		t.Error(err)
	}
	h.kms = nil
}

func (h *harness) reopen(t testing.TB) {
	t.Helper()
	h.close(t)
	h.open(t)
}

// advance moves the clock and applies what became due.
func (h *harness) advance(t testing.TB, d time.Duration) {
	t.Helper()
	h.clock.Advance(d)
	if err := h.kms.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// errorCode is the test's stand-in for the API layer's table of AWS error
// codes.
func errorCode(err error) string {
	codes := []struct {
		kind error
		code string
	}{
		{kmsclient.ErrNotFound, "NotFoundException"},
		{kmsclient.ErrDisabled, "DisabledException"},
		{kmsclient.ErrInvalidState, "KMSInvalidStateException"},
		{kmsclient.ErrInvalidCiphertext, "InvalidCiphertextException"},
		{kmsclient.ErrIncorrectKey, "IncorrectKeyException"},
		{kmsclient.ErrAccessDenied, "AccessDeniedException"},
		{kmsclient.ErrValidation, "ValidationException"},
		{kmsclient.ErrAlreadyExists, "AlreadyExistsException"},
		{kmsclient.ErrLimitExceeded, "LimitExceededException"},
		{kmsclient.ErrInvalidAliasName, "InvalidAliasNameException"},
		{kmsclient.ErrUnsupportedOperation, "UnsupportedOperationException"},
		{kmsclient.ErrInvalidGrantToken, "InvalidGrantTokenException"},
		{kmsclient.ErrInvalidGrantID, "InvalidGrantIdException"},
		{kmsclient.ErrInternal, "KMSInternalException"},
		{policy.ErrMalformed, "MalformedPolicyDocumentException"},
	}
	for _, c := range codes {
		if errors.Is(err, c.kind) {
			return c.code
		}
	}
	return "KMSInternalException"
}
