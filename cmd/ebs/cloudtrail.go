package main

// `ebs cloudtrail lookup-events`: the audit trail of KMS use, read like
// CloudTrail's LookupEvents.

// lookupShortcuts are our flags for the common lookup attributes, by the
// AttributeKey each adds.
var lookupShortcuts = []struct{ flag, key string }{
	{"event-name", "EventName"},
	{"resource-name", "ResourceName"},
	{"username", "Username"},
}

func cloudtrailGroup() groupSpec {
	params := []param{
		structList("LookupAttributes", "AttributeKey", "AttributeValue").
			doc("filter: AttributeKey=EventName|ResourceName|Username,AttributeValue=V"),
		flagOnly("event-name", kindString).doc("only events of this operation, e.g. Decrypt"),
		flagOnly("resource-name", kindString).doc("only events about this key (key ID or ARN)"),
		flagOnly("username", kindString).doc("only events by this user"),
		timestamp("StartTime").doc("only events at or after this time"),
		timestamp("EndTime").doc("only events at or before this time"),
		integer("MaxResults").doc("the maximum number of events to return"),
		str("NextToken").doc("the NextToken of the previous page"),
	}
	return groupSpec{
		name:  "cloudtrail",
		short: "Read the audit trail of KMS use (AWS CloudTrail)",
		long: `The audit trail of the ebs daemon: one event per KMS call (who, what, which
key, when, whether it was allowed), newest first, as CloudTrail records it.`,
		commands: []commandSpec{{
			operation: "LookupEvents",
			short:     "List audit events, newest first",
			long: `List audit events, newest first. Each event carries the whole record as a
JSON string in CloudTrailEvent.

--event-name, --resource-name and --username are shortcuts for
--lookup-attributes AttributeKey=EventName|ResourceName|Username,AttributeValue=V.`,
			example: `  ebs cloudtrail lookup-events --event-name Decrypt --max-results 5
  ebs cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=1234abcd-12ab-34cd-56ef-1234567890ab
  ebs cloudtrail lookup-events --username admin --start-time 2026-11-28 --end-time 2026-11-29T12:00:00Z --output table
  ebs cloudtrail lookup-events --event-name GenerateDataKeyWithoutPlaintext --query 'Events[0].CloudTrailEvent' --output text | jq .`,
			params:  params,
			prepare: addLookupShortcuts,
		}},
	}
}

// addLookupShortcuts appends the attributes given by the shortcut flags to
// LookupAttributes.
func addLookupShortcuts(values map[string]any, body *object) error {
	v, _ := body.get("LookupAttributes")
	attrs, _ := v.([]any)
	added := false
	for _, s := range lookupShortcuts {
		if val, ok := values[s.flag].(string); ok {
			attrs = append(attrs, object{{"AttributeKey", s.key}, {"AttributeValue", val}})
			added = true
		}
	}
	if added {
		body.set("LookupAttributes", attrs)
	}
	return nil
}
