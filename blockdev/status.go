package blockdev

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
)

// Volume status checks, as EC2's DescribeVolumeStatus reports them. A
// volume whose data a failed sync may have lost is impaired: its I/O is
// disabled (check io-enabled failed, event potential-data-inconsistency,
// action enable-volume-io) until EnableVolumeIO, or a detach and attach,
// opens it again from what is durable.

// DescribeVolumeStatusInput is the DescribeVolumeStatus request.
type DescribeVolumeStatusInput struct {
	VolumeIDs []string `json:"VolumeIds,omitempty"`
}

// DescribeVolumeStatusOutput is the DescribeVolumeStatus response.
type DescribeVolumeStatusOutput struct {
	VolumeStatuses []VolumeStatusItem `json:"VolumeStatuses"`
}

// VolumeStatusItem is one volume's status (EC2's VolumeStatusItem).
type VolumeStatusItem struct {
	VolumeID         string               `json:"VolumeId"`
	AvailabilityZone string               `json:"AvailabilityZone"`
	VolumeStatus     VolumeStatusInfo     `json:"VolumeStatus"`
	Events           []VolumeStatusEvent  `json:"Events"`
	Actions          []VolumeStatusAction `json:"Actions"`
}

// VolumeStatusInfo is the result of the checks.
type VolumeStatusInfo struct {
	Status  string               `json:"Status"` // ok, impaired, insufficient-data
	Details []VolumeStatusDetail `json:"Details"`
}

// VolumeStatusDetail is one check.
type VolumeStatusDetail struct {
	Name   string `json:"Name"`
	Status string `json:"Status"`
}

// VolumeStatusEvent is an event that affects the volume.
type VolumeStatusEvent struct {
	EventType   string         `json:"EventType"`
	EventID     string         `json:"EventId"`
	Description string         `json:"Description"`
	NotBefore   *awstime.Epoch `json:"NotBefore"`
}

// VolumeStatusAction is what the owner may do about an event.
type VolumeStatusAction struct {
	Code        string `json:"Code"`
	EventType   string `json:"EventType"`
	EventID     string `json:"EventId"`
	Description string `json:"Description"`
}

const eventDataInconsistency = "potential-data-inconsistency"

// DescribeVolumeStatus reports the status checks of volumes, all or the ones
// named. Only an attached volume can be impaired; a detached one is ok.
func (m *Manager) DescribeVolumeStatus(ctx context.Context, in *DescribeVolumeStatusInput) (*DescribeVolumeStatusOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &DescribeVolumeStatusOutput{VolumeStatuses: []VolumeStatusItem{}}
	if len(in.VolumeIDs) > 0 {
		for _, id := range in.VolumeIDs {
			if _, err := m.get(id); err != nil {
				return nil, err
			}
			out.VolumeStatuses = append(out.VolumeStatuses, m.status(id))
		}
		return out, nil
	}
	err := m.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixVolume), nil, func(_, raw []byte) error {
			var r volumeRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			out.VolumeStatuses = append(out.VolumeStatuses, m.status(r.ID))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// status is a volume's status item; m.mu is held.
func (m *Manager) status(id string) VolumeStatusItem {
	item := VolumeStatusItem{
		VolumeID: id, AvailabilityZone: m.cfg.Region + "a",
		VolumeStatus: VolumeStatusInfo{Status: "ok", Details: []VolumeStatusDetail{
			{Name: "io-enabled", Status: "passed"}, {Name: "io-performance", Status: "not-applicable"}}},
		Events: []VolumeStatusEvent{}, Actions: []VolumeStatusAction{},
	}
	v := m.attached[id]
	if v == nil {
		return item
	}
	at := v.impairedAt()
	if at.IsZero() {
		return item
	}
	eventID := "evol-" + id[len("vol-"):]
	item.VolumeStatus.Status = "impaired"
	item.VolumeStatus.Details[0].Status = "failed"
	item.Events = append(item.Events, VolumeStatusEvent{
		EventType: eventDataInconsistency, EventID: eventID, NotBefore: awstime.New(at),
		Description: "THE VOLUME HAS POTENTIAL DATA INCONSISTENCY: a data sync failed, so writes since the " +
			"last successful fsync may be lost. I/O IS DISABLED.",
	})
	item.Actions = append(item.Actions, VolumeStatusAction{
		Code: "enable-volume-io", EventType: eventDataInconsistency, EventID: eventID,
		Description: "Enable volume I/O (EnableVolumeIO, or detach and attach the volume), then check the volume's data.",
	})
	return item
}

// EnableVolumeIO enables the I/O of an impaired volume again: what could not
// be made durable is dropped and the volume reads what is durable (the
// owner then checks its file system, as on EC2). A volume that is not
// impaired is left alone.
func (m *Manager) EnableVolumeIO(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return err
	}
	v := m.attached[id]
	if v == nil || v.Impaired() == nil {
		return nil
	}
	unlock := v.locks.lock(0, lockStripes, true) // no request in flight
	defer unlock()
	_ = v.head().Close() // impaired: it drops what could not be made durable
	lin, err := m.cfg.Store.OpenLineage(r.Lineage, r.Gen, r.blocks())
	if err != nil {
		return err // the closed, impaired head stays: I/O stays disabled
	}
	v.lin.Store(lin)
	v.impaired.Store(nil)
	m.cfg.Logger.Warn("volume I/O enabled again: check the data (fsck)", "volume", id)
	return nil
}

// impairedAt is when the volume was found impaired (zero: it is not).
func (v *Volume) impairedAt() time.Time {
	if err := v.Impaired(); err != nil {
		return v.noticeImpaired(err)
	}
	return time.Time{}
}
