package embedded

import "github.com/ebs-dev/ebs/internal/kv"

// MaterialsForTest returns the unwrapped key materials of a key, oldest
// first, so that tests can check they never reach the disk in the clear.
func (s *KMS) MaterialsForTest(keyID string) ([][]byte, error) {
	var out [][]byte
	err := s.db.View(func(tx *kv.Txn) error {
		k, err := getJSON[keyRecord](tx, prefixKey+keyID)
		if err != nil {
			return err
		}
		for _, m := range k.Materials {
			secret, err := s.root.unwrap(k.ID, m.Version, m.Wrapped)
			if err != nil {
				return err
			}
			out = append(out, secret)
		}
		return nil
	})
	return out, err
}

// SetOutboxRemoveForTest replaces the deletion of delivered outbox entries,
// so that a test can leave one behind as a crash would.
func (s *KMS) SetOutboxRemoveForTest(remove func(key string) error) {
	s.outbox.remove = remove
}

// SetBeforeEvaluateForTest installs a function called before each
// evaluation of a key's policy and grants; set it before any call.
func (s *KMS) SetBeforeEvaluateForTest(hook func(principal, keyArn, action string)) {
	s.beforeEvaluate = hook
}
