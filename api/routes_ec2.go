package api

func (s *Server) registerEC2() {
	e := s.cfg.EC2
	if e == nil {
		return
	}
	for name, h := range map[string]handler{
		"CreateVolume":                  op(e.CreateVolume),
		"DescribeVolumes":               op(e.DescribeVolumes),
		"DescribeVolumeStatus":          op(e.DescribeVolumeStatus),
		"EnableVolumeIO":                op(e.EnableVolumeIO),
		"DeleteVolume":                  op(e.DeleteVolume),
		"ModifyVolume":                  op(e.ModifyVolume),
		"AttachVolume":                  op(e.AttachVolume),
		"DetachVolume":                  op(e.DetachVolume),
		"GetEbsEncryptionByDefault":     op(e.GetEbsEncryptionByDefault),
		"EnableEbsEncryptionByDefault":  op(e.EnableEbsEncryptionByDefault),
		"DisableEbsEncryptionByDefault": op(e.DisableEbsEncryptionByDefault),
		"GetEbsDefaultKmsKeyId":         op(e.GetEbsDefaultKmsKeyId),
		"ModifyEbsDefaultKmsKeyId":      op(e.ModifyEbsDefaultKmsKeyId),
		"ResetEbsDefaultKmsKeyId":       op(e.ResetEbsDefaultKmsKeyId),
	} {
		s.routes["ec2/"+name] = h
	}
	snaps := e.Snapshots()
	for name, h := range map[string]handler{
		"CreateSnapshot":            op(snaps.CreateSnapshot),
		"DescribeSnapshots":         op(snaps.DescribeSnapshots),
		"DeleteSnapshot":            op(snaps.DeleteSnapshot),
		"CopySnapshot":              op(snaps.CopySnapshot),
		"RewrapSnapshot":            op(snaps.RewrapSnapshot),
		"EncryptVolume":             op(snaps.EncryptVolume),
		"DescribeEncryptVolumeTask": op(snaps.DescribeEncryptVolumeTask),
	} {
		s.routes["ec2/"+name] = h
	}
	s.routes["ebs/ListSnapshotBlocks"] = op(snaps.ListSnapshotBlocks)
	s.routes["ebs/ListChangedBlocks"] = op(snaps.ListChangedBlocks)
}
