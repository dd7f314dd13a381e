package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/internal/awserr"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	// maxClockSkew is how far a request's X-Amz-Date may be from now, as AWS.
	maxClockSkew = 15 * time.Minute
	// unsignedPayload is the X-Amz-Content-Sha256 of a request whose body is
	// not signed (EBS PutSnapshotBlock).
	unsignedPayload = "UNSIGNED-PAYLOAD"

	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken = "The security token included in the request is invalid."
)

// keyLookup finds the credential of an active access key.
type keyLookup interface {
	Lookup(id string) (iam.Credential, bool)
}

// sigV4 verifies AWS Signature Version 4 Authorization headers by signing
// the request again with the stored secret (aws-sdk-go-v2's signer) and
// comparing the signatures.
type sigV4 struct {
	keys   keyLookup
	region string
	now    func() time.Time // the real clock: clients sign with theirs
	signer *v4.Signer
}

func newSigV4(keys keyLookup, region string) *sigV4 {
	return &sigV4{keys: keys, region: region, now: time.Now, signer: v4.NewSigner()}
}

// authHeader is a parsed Authorization header.
type authHeader struct {
	raw           string
	accessKeyID   string
	scopeDate     string
	scopeRegion   string
	scopeService  string
	signedHeaders []string
	signature     string
}

// verify checks the signature of r for service ("kms", "ebs", ...).
// payloadHash is the hex SHA-256 of the body, or UNSIGNED-PAYLOAD. It returns
// the credential of the signing key.
func (v *sigV4) verify(r *http.Request, service, payloadHash string) (iam.Credential, error) {
	a, err := parseAuthorization(r)
	if err != nil {
		return iam.Credential{}, err
	}
	if err := checkSignedHeaders(r, a); err != nil {
		return iam.Credential{}, err
	}
	signed, err := v.checkScope(r, a, service)
	if err != nil {
		return iam.Credential{}, err
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return iam.Credential{}, awserr.New(ErrUnrecognizedClient, msgInvalidToken) // no session tokens are issued
	}
	cred, ok := v.keys.Lookup(a.accessKeyID)
	if !ok {
		return iam.Credential{}, awserr.New(ErrUnrecognizedClient, msgInvalidToken)
	}
	want, err := v.sign(r, a, cred, service, payloadHash, signed)
	if err != nil {
		return iam.Credential{}, err
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return iam.Credential{}, awserr.New(ErrInvalidSignature, msgSignatureMismatch)
	}
	return cred, nil
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(r *http.Request) (authHeader, error) {
	raw := r.Header.Get("Authorization")
	if raw == "" {
		return authHeader{}, awserr.New(ErrMissingAuthToken, "Missing Authentication Token")
	}
	a := authHeader{raw: raw}
	params := map[string]string{}
	if rest, ok := strings.CutPrefix(raw, sigV4Algorithm+" "); ok {
		for _, p := range strings.Split(rest, ",") {
			p = strings.TrimSpace(p)
			k, val, ok := strings.Cut(p, "=")
			if !ok {
				return a, awserr.New(ErrIncompleteSignature, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", p, raw)
			}
			params[k] = val
		}
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if r.Header.Get("X-Amz-Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return a, awserr.New(ErrIncompleteSignature, "%s Authorization=%s", strings.Join(missing, " "), raw)
	}
	scope := strings.Split(params["Credential"], "/")
	if len(scope) != 5 {
		return a, awserr.New(ErrIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", params["Credential"])
	}
	if scope[4] != "aws4_request" {
		return a, awserr.New(ErrInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", scope[4])
	}
	a.accessKeyID, a.scopeDate, a.scopeRegion, a.scopeService = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(params["SignedHeaders"], ";")
	a.signature = params["Signature"]
	return a, nil
}

// checkSignedHeaders checks that the signature covers what AWS requires
// it to: Host, Content-Type when it is sent, and every x-amz-* header sent
// (X-Amz-Target, the JSON 1.1 operation; X-Amz-Date; the EBS direct APIs'
// checksum, length and progress headers). A header left out of
// SignedHeaders could otherwise be changed, or added, without changing the
// signature.
func checkSignedHeaders(r *http.Request, a authHeader) error {
	signed := make(map[string]bool, len(a.signedHeaders))
	for _, h := range a.signedHeaders {
		signed[strings.ToLower(h)] = true
	}
	if !signed["host"] {
		return awserr.New(ErrInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if _, ok := r.Header["Content-Type"]; ok && !signed["content-type"] {
		return awserr.New(ErrInvalidSignature, "'Content-Type' must be a 'SignedHeader' in the AWS Authorization.")
	}
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, strings.ToLower(name))
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, "x-amz-") && !signed[name] {
			return awserr.New(ErrInvalidSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", name)
		}
	}
	return nil
}

// checkScope checks the date, region and service of the credential scope and
// the clock skew; it returns the signing time.
func (v *sigV4) checkScope(r *http.Request, a authHeader, service string) (time.Time, error) {
	amzDate := r.Header.Get("X-Amz-Date")
	signed, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return time.Time{}, awserr.New(ErrIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
	}
	if day := signed.Format(scopeDateFormat); a.scopeDate != day {
		return time.Time{}, awserr.New(ErrInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.scopeDate, day, amzDate)
	}
	now := v.now().UTC()
	switch {
	case signed.Before(now.Add(-maxClockSkew)):
		return time.Time{}, awserr.New(ErrInvalidSignature, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	case signed.After(now.Add(maxClockSkew)):
		return time.Time{}, awserr.New(ErrInvalidSignature, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if a.scopeRegion != v.region {
		return time.Time{}, awserr.New(ErrInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", a.scopeRegion)
	}
	if a.scopeService != service {
		return time.Time{}, awserr.New(ErrInvalidSignature, "Credential should be scoped to correct service: '%s'.", service)
	}
	return signed, nil
}

// sign signs a copy of r that holds only the headers the client signed, at
// the client's signing time, and returns the signature.
func (v *sigV4) sign(r *http.Request, a authHeader, cred iam.Credential, service, payloadHash string, at time.Time) (string, error) {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range a.signedHeaders {
		switch h = strings.ToLower(h); h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vals := r.Header.Values(h); len(vals) > 0 {
				req.Header[textproto.CanonicalMIMEHeaderKey(h)] = vals
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
	if err := v.signer.SignHTTP(context.Background(), creds, req, payloadHash, service, a.scopeRegion, at); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	_, sig, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	return sig, nil
}

// payloadSHA256 is the hex SHA-256 of body.
func payloadSHA256(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
