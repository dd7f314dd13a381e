package audit

import (
	"github.com/ebs-dev/ebs/internal/awstime"

	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Defaults that Append fills into empty fields.
const (
	EventVersion   = "1.08"
	EventSourceKMS = "kms.amazonaws.com"
	EventTypeCall  = "AwsApiCall"
	CategoryMgmt   = "Management"
	ResourceKMSKey = "AWS::KMS::Key"
)

// Identity types seen on KMS events.
const (
	IdentityRoot       = "Root"
	IdentityIAMUser    = "IAMUser"
	IdentityAWSService = "AWSService"
)

// Identity is CloudTrail's userIdentity: who made the call.
type Identity struct {
	Type        string `json:"type"` // IdentityRoot, IdentityIAMUser or IdentityAWSService
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	InvokedBy   string `json:"invokedBy,omitempty"` // e.g. "ec2.amazonaws.com"
}

// Resource is one entry of CloudTrail's resources: a key the call used.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"` // ResourceKMSKey
	ARN       string `json:"ARN"`  // the key ARN, never an alias
}

// Record is one CloudTrail event. The JSON field names and their order are
// CloudTrail's; EventTime encodes in UTC to the second.
//
// A Record must never hold plaintext, ciphertext, data keys or key material:
// RequestParameters and ResponseElements carry only what CloudTrail logs for the
// call (see the package documentation). Numbers in them come back from Lookup
// as float64, as encoding/json decodes them.
type Record struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       Identity       `json:"userIdentity"`
	EventTime          time.Time      `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"` // the KMS operation, e.g. "Decrypt"
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	UserAgent          string         `json:"userAgent"`
	ErrorCode          string         `json:"errorCode,omitempty"` // e.g. "NotFoundException"
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  map[string]any `json:"requestParameters"` // null allowed
	ResponseElements   map[string]any `json:"responseElements"`  // null for crypto calls
	RequestID          string         `json:"requestID"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	Resources          []Resource     `json:"resources,omitempty"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

// MarshalJSON encodes r with EventTime in UTC, truncated to the second, which
// time.Time renders as CloudTrail does: "2006-01-02T15:04:05Z".
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record // no methods, so no recursion
	p := plain(r)
	p.EventTime = cloudTrailTime(r.EventTime)
	return json.Marshal(p)
}

func cloudTrailTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// FillDefaults sets the fields a trail fills when the caller left them
// empty: EventID and RequestID (random UUIDs), EventTime (now), EventVersion,
// EventSource, EventType, EventCategory, resource types and accounts, and
// RecipientAccountID (the first resource's account, else the caller's);
// ManagementEvent is set for Management events. EventTime is truncated to the
// second in UTC. A record filled before it is stored elsewhere (an outbox)
// keeps its EventID when it is appended later.
func (r *Record) FillDefaults(now time.Time) {
	setIfEmpty(&r.EventVersion, EventVersion)
	setIfEmpty(&r.EventSource, EventSourceKMS)
	setIfEmpty(&r.EventType, EventTypeCall)
	setIfEmpty(&r.EventCategory, CategoryMgmt)
	if r.EventCategory == CategoryMgmt {
		r.ManagementEvent = true // every KMS event is a management event
	}
	if r.EventTime.IsZero() {
		r.EventTime = now
	}
	r.EventTime = cloudTrailTime(r.EventTime)
	if r.RequestID == "" {
		r.RequestID = uuid.NewString()
	}
	if r.EventID == "" {
		r.EventID = uuid.NewString()
	}
	for i := range r.Resources {
		res := &r.Resources[i]
		setIfEmpty(&res.Type, ResourceKMSKey)
		setIfEmpty(&res.AccountID, arnAccount(res.ARN))
	}
	if r.RecipientAccountID == "" && len(r.Resources) > 0 {
		r.RecipientAccountID = r.Resources[0].AccountID
	}
	setIfEmpty(&r.RecipientAccountID, r.UserIdentity.AccountID)
}

func setIfEmpty(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// arnAccount returns the account field of an ARN
// ("arn:aws:kms:us-east-1:111122223333:key/..." gives "111122223333").
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// keyIDOf returns the part of a key ARN after "key/", or "" if arn is not a key ARN.
func keyIDOf(arn string) string {
	_, id, ok := strings.Cut(arn, ":key/")
	if !ok {
		return ""
	}
	return id
}

// Username is the name CloudTrail's LookupEvents shows for the caller: the user
// name of an IAM user, "root" for the account root, the service for an AWS
// service, otherwise the identity's user name if any.
func (r *Record) Username() string {
	switch r.UserIdentity.Type {
	case IdentityRoot:
		return "root"
	case IdentityAWSService:
		return r.UserIdentity.InvokedBy
	default:
		return r.UserIdentity.UserName
	}
}

// Event is one entry of CloudTrail's LookupEvents response.
type Event struct {
	EventID         string          `json:"EventId"`
	EventName       string          `json:"EventName"`
	ReadOnly        string          `json:"ReadOnly"` // "true" or "false"
	AccessKeyID     string          `json:"AccessKeyId,omitempty"`
	EventTime       *awstime.Epoch  `json:"EventTime"` // epoch seconds, as CloudTrail's JSON protocol
	EventSource     string          `json:"EventSource"`
	Username        string          `json:"Username"`
	Resources       []EventResource `json:"Resources"`       // never nil, so it encodes as []
	CloudTrailEvent string          `json:"CloudTrailEvent"` // the whole Record as compact JSON
}

// EventResource is one resource of a LookupEvents entry.
type EventResource struct {
	ResourceType string `json:"ResourceType"` // ResourceKMSKey
	ResourceName string `json:"ResourceName"` // the key ARN
}

// Event returns r as LookupEvents shows it.
func (r *Record) Event() Event {
	e := Event{
		EventID:     r.EventID,
		EventName:   r.EventName,
		ReadOnly:    "false",
		AccessKeyID: r.UserIdentity.AccessKeyID,
		EventTime:   awstime.New(cloudTrailTime(r.EventTime)),
		EventSource: r.EventSource,
		Username:    r.Username(),
		Resources:   make([]EventResource, 0, len(r.Resources)),
	}
	if r.ReadOnly {
		e.ReadOnly = "true"
	}
	for _, res := range r.Resources {
		e.Resources = append(e.Resources, EventResource{ResourceType: res.Type, ResourceName: res.ARN})
	}
	if b, err := json.Marshal(r); err == nil { // fails only for a year outside 0..9999
		e.CloudTrailEvent = string(b)
	}
	return e
}
