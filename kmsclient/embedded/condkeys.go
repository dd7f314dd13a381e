package embedded

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/blob"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// The condition keys of an authorisation, filled in as AWS defines them: a
// key is present only for the operations AWS defines it for and only when
// the request has what it describes, so that a condition on an absent key
// does not match (an Allow fails, a Deny does not apply) unless its operator
// ends in IfExists, and Null tests presence. Keys with several values
// (kms:EncryptionContextKeys, kms:GrantOperations, kms:ResourceAliases,
// aws:CalledVia, aws:TagKeys) are multi-valued, for ForAnyValue and
// ForAllValues. A request parameter left out is keyed by its default, as
// AWS does (kms:EncryptionAlgorithm SYMMETRIC_DEFAULT,
// kms:RotationPeriodInDays 365, kms:ScheduleKeyDeletionPendingWindowInDays
// 30); kms:BypassPolicyLockoutSafetyCheck is present only when the request
// sets it (AWS's own example tests its absence with Null, and a request
// that sends false is not told apart here).

// conditionKeys returns the request context of an authorisation of action
// on key k: the caller's and the request's global keys, the key's
// properties and the keys the action defines. doc is the policy that will
// read them: keys that cost a scan are computed only when it tests them.
func (s *KMS) conditionKeys(c *call, k *keyRecord, action string, encCtx map[string]string, doc *policy.Document) (map[string][]string, error) {
	ctx := map[string][]string{}
	set := func(key string, values ...string) { ctx[key] = values }
	s.globalKeys(c.caller, set)
	set("aws:ResourceAccount", k.Account)
	for _, t := range k.Tags {
		set("aws:ResourceTag/"+t.TagKey, t.TagValue)
	}
	setNonEmpty(set, "kms:CallerAccount", c.caller.AccountID)
	setNonEmpty(set, "kms:ViaService", c.caller.ViaService)
	set("kms:KeySpec", keySpec)
	set("kms:CustomerMasterKeySpec", keySpec)
	set("kms:KeyUsage", keyUsage)
	set("kms:CustomerMasterKeyUsage", keyUsage)
	set("kms:KeyOrigin", keyOrigin)
	set("kms:MultiRegion", "false")
	if doc.UsesConditionKey("kms:ResourceAliases") {
		aliases, err := s.keyAliases(c, k.ID)
		if err != nil {
			return nil, err
		}
		if len(aliases) > 0 {
			set("kms:ResourceAliases", aliases...)
		}
	}
	s.actionKeys(c, k, action, encCtx, set)
	return ctx, nil
}

// The properties of every key this KMS makes.
const (
	keySpec   = "SYMMETRIC_DEFAULT"
	keyUsage  = "ENCRYPT_DECRYPT"
	keyOrigin = "AWS_KMS"
)

// globalKeys sets the aws: keys of the caller and of the request.
func (s *KMS) globalKeys(c kmsclient.Caller, set func(string, ...string)) {
	now := s.now()
	set("aws:CurrentTime", now.Format("2006-01-02T15:04:05Z"))
	set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	set("aws:RequestedRegion", s.region)
	setNonEmpty(set, "aws:PrincipalArn", principalARN(c.ARN))
	setNonEmpty(set, "aws:PrincipalAccount", c.AccountID)
	setNonEmpty(set, "aws:PrincipalType", principalType(c.Type))
	set("aws:PrincipalIsAWSService", strconv.FormatBool(c.Type == "AWSService"))
	setNonEmpty(set, "aws:userid", c.PrincipalID)
	if c.Type == "IAMUser" {
		setNonEmpty(set, "aws:username", c.UserName)
	}
	setNonEmpty(set, "aws:UserAgent", c.UserAgent)
	via := c.ViaService != ""
	set("aws:ViaAWSService", strconv.FormatBool(via))
	// A service calling for the principal (EC2 for volumes) calls over TLS
	// from its own address, which this KMS has none of: no aws:SourceIp.
	set("aws:SecureTransport", strconv.FormatBool(c.SecureTransport || via))
	if a, err := netip.ParseAddr(c.SourceIP); err == nil && !via {
		set("aws:SourceIp", a.Unmap().String())
	}
	if svc := calledVia(c.ViaService); svc != "" {
		set("aws:CalledVia", svc)
		set("aws:CalledViaFirst", svc)
		set("aws:CalledViaLast", svc)
	}
}

// principalARN is aws:PrincipalArn: a role session is keyed by its role.
func principalARN(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::")
	if !ok {
		return arn
	}
	account, session, ok := strings.Cut(rest, ":assumed-role/")
	role, _, hasName := strings.Cut(session, "/")
	if !ok || !hasName {
		return arn
	}
	return "arn:aws:iam::" + account + ":role/" + role
}

// principalType is aws:PrincipalType for a caller type (CloudTrail's
// userIdentity.type).
func principalType(t string) string {
	switch t {
	case "Root":
		return "Account"
	case "IAMUser":
		return "User"
	case "AssumedRole", "FederatedUser":
		return t
	}
	return ""
}

// calledViaServices are the services AWS lists as setting aws:CalledVia when
// they call with the principal's credentials; EC2 is not among them.
var calledViaServices = []string{
	"athena", "cloud9", "cloudformation", "databrew", "dataexchange", "dynamodb",
	"kms", "servicecatalog-appregistry", "sqlworkbench",
}

// calledVia is the service principal of a kms:ViaService value, when the
// service is one that sets aws:CalledVia.
func calledVia(viaService string) string {
	name, _, _ := strings.Cut(viaService, ".")
	if name == "" || !slices.Contains(calledViaServices, name) {
		return ""
	}
	return name + ".amazonaws.com"
}

// actionKeys sets the keys the action defines, from the request.
func (s *KMS) actionKeys(c *call, k *keyRecord, action string, encCtx map[string]string, set func(string, ...string)) {
	switch action {
	case "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo":
		contextKeys(encCtx, set)
		set("kms:EncryptionAlgorithm", requestAlgorithm(c.in, action))
		if alias := s.requestAlias(c.in, action); alias != "" {
			set("kms:RequestAlias", alias)
		}
		if in, ok := c.in.(*kmsclient.ReEncryptInput); ok {
			set("kms:ReEncryptOnSameKey", strconv.FormatBool(s.reEncryptOnSameKey(c, k, in, action)))
		}
	case "DescribeKey":
		if alias := s.requestAlias(c.in, action); alias != "" {
			set("kms:RequestAlias", alias)
		}
	case "CreateGrant":
		set("kms:GrantIsForAWSResource", strconv.FormatBool(c.caller.ViaService != ""))
		if in, ok := c.in.(*kmsclient.CreateGrantInput); ok {
			grantKeys(in, set)
		}
	case "ListGrants", "RevokeGrant":
		set("kms:GrantIsForAWSResource", strconv.FormatBool(c.caller.ViaService != ""))
	case "PutKeyPolicy":
		if in, ok := c.in.(*kmsclient.PutKeyPolicyInput); ok && in.BypassPolicyLockoutSafetyCheck {
			set("kms:BypassPolicyLockoutSafetyCheck", "true")
		}
	case "EnableKeyRotation":
		if in, ok := c.in.(*kmsclient.EnableKeyRotationInput); ok {
			set("kms:RotationPeriodInDays", strconv.Itoa(cmpOr(in.RotationPeriodInDays, defaultRotationDays)))
		}
	case "ScheduleKeyDeletion":
		if in, ok := c.in.(*kmsclient.ScheduleKeyDeletionInput); ok {
			set("kms:ScheduleKeyDeletionPendingWindowInDays", strconv.Itoa(cmpOr(in.PendingWindowInDays, defaultPendingWindowDays)))
		}
	case "TagResource":
		if in, ok := c.in.(*kmsclient.TagResourceInput); ok {
			tagKeys := make([]string, 0, len(in.Tags))
			for _, t := range in.Tags {
				set("aws:RequestTag/"+t.TagKey, t.TagValue)
				tagKeys = append(tagKeys, t.TagKey)
			}
			setList(set, "aws:TagKeys", tagKeys)
		}
	case "UntagResource":
		if in, ok := c.in.(*kmsclient.UntagResourceInput); ok {
			setList(set, "aws:TagKeys", in.TagKeys)
		}
	}
}

const (
	defaultRotationDays      = 365
	defaultPendingWindowDays = 30
)

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// setNonEmpty sets a key that describes the caller only when the caller
// has it (a caller's empty field is not a value).
func setNonEmpty(set func(string, ...string), key, value string) {
	if value != "" {
		set(key, value)
	}
}

func setList(set func(string, ...string), key string, values []string) {
	if len(values) > 0 {
		set(key, values...)
	}
}

// contextKeys sets kms:EncryptionContext:<key> and kms:EncryptionContextKeys.
func contextKeys(encCtx map[string]string, set func(string, ...string)) {
	keys := make([]string, 0, len(encCtx))
	for key, v := range encCtx {
		set("kms:EncryptionContext:"+key, v)
		keys = append(keys, key)
	}
	slices.Sort(keys)
	setList(set, "kms:EncryptionContextKeys", keys)
}

// grantKeys sets the keys of a CreateGrant request; the encryption context
// keys describe its constraint.
func grantKeys(in *kmsclient.CreateGrantInput, set func(string, ...string)) {
	setList(set, "kms:GrantOperations", in.Operations)
	set("kms:GranteePrincipal", in.GranteePrincipal)
	if in.RetiringPrincipal != "" {
		set("kms:RetiringPrincipal", in.RetiringPrincipal)
	}
	if cs := in.Constraints; cs != nil {
		switch {
		case len(cs.EncryptionContextEquals) > 0:
			set("kms:GrantConstraintType", "EncryptionContextEquals")
			contextKeys(cs.EncryptionContextEquals, set)
		case len(cs.EncryptionContextSubset) > 0:
			set("kms:GrantConstraintType", "EncryptionContextSubset")
			contextKeys(cs.EncryptionContextSubset, set)
		}
	}
}

// requestAlgorithm is kms:EncryptionAlgorithm: the request's algorithm for
// the key being authorised, SYMMETRIC_DEFAULT when it names none (data keys
// are always encrypted with it).
func requestAlgorithm(in any, action string) string {
	var a string
	switch in := in.(type) {
	case *kmsclient.EncryptInput:
		a = in.EncryptionAlgorithm
	case *kmsclient.DecryptInput:
		a = in.EncryptionAlgorithm
	case *kmsclient.ReEncryptInput:
		a = in.DestinationEncryptionAlgorithm
		if action == "ReEncryptFrom" {
			a = in.SourceEncryptionAlgorithm
		}
	}
	if a == "" {
		return algorithm
	}
	return a
}

// requestAlias is kms:RequestAlias: the alias name by which the request
// names the key being authorised, if it names it by an alias (name or ARN).
func (s *KMS) requestAlias(in any, action string) string {
	var keyID string
	switch in := in.(type) {
	case *kmsclient.EncryptInput:
		keyID = in.KeyID
	case *kmsclient.DecryptInput:
		keyID = in.KeyID
	case *kmsclient.GenerateDataKeyInput:
		keyID = in.KeyID
	case *kmsclient.KeyIDInput:
		keyID = in.KeyID
	case *kmsclient.ReEncryptInput:
		keyID = in.DestinationKeyID
		if action == "ReEncryptFrom" {
			keyID = in.SourceKeyID
		}
	}
	if keyID == "" {
		return ""
	}
	ref, err := s.parseKeyRef(keyID)
	if err != nil {
		return ""
	}
	return ref.alias
}

// reEncryptOnSameKey reports whether a ReEncrypt's destination key is the
// key of its ciphertext; k is the key being authorised (the source for
// ReEncryptFrom, the destination for ReEncryptTo).
func (s *KMS) reEncryptOnSameKey(c *call, k *keyRecord, in *kmsclient.ReEncryptInput, action string) bool {
	h, err := blob.ParseHeader(in.CiphertextBlob)
	if err != nil {
		return false
	}
	if action == "ReEncryptTo" {
		return h.KeyID.String() == k.ID
	}
	ref, err := s.parseKeyRef(in.DestinationKeyID)
	if err != nil {
		return false
	}
	dst, err := s.loadKey(c.tx, ref)
	return err == nil && dst.ID == k.ID
}

// keyAliases lists the alias names of a key.
func (s *KMS) keyAliases(c *call, keyID string) ([]string, error) {
	var out []string
	err := scanJSON(c.tx, prefixAlias, func(a *aliasRecord) error {
		if a.KeyID == keyID {
			out = append(out, a.Name)
		}
		return nil
	})
	return out, err
}
