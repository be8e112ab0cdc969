// Package iamapi serves the IAM and STS query APIs (form-encoded POSTs, XML answers, the
// errors IAM and STS send) over an identity.Manager and an sts.Issuer: the subset the aws
// CLI, boto3 and the AWS SDKs call with --endpoint-url. The S3 face hands it the requests
// whose signature is scoped to the "iam" or "sts" service, with the caller it resolved.
package iamapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/iam/authz"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/iam/sts"
)

// The XML namespaces of the two APIs.
const (
	iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// API serves IAM and STS. It is safe for concurrent use.
type API struct {
	ids    *identity.Manager
	issuer *sts.Issuer
	now    func() time.Time
}

// New returns the API over ids and issuer; now is the clock of session expiry (time.Now
// when nil).
func New(ids *identity.Manager, issuer *sts.Issuer, now func() time.Time) *API {
	if now == nil {
		now = time.Now
	}
	return &API{ids: ids, issuer: issuer, now: now}
}

// Request is one query API call.
type Request struct {
	// Service is "iam" or "sts", the service the signature is scoped to.
	Service string
	Caller  *authz.Caller
	Form    url.Values
	// RequestID goes into the answer's metadata.
	RequestID string
	// Context holds the request's condition keys (aws:SourceIp...) for the caller's policies.
	Context policy.Context
}

// Response is the answer to send: status and XML document.
type Response struct {
	Status int
	Body   []byte
}

// apiError is an error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &apiError{Status: status, Code: code, Message: msg}
}

var (
	errAccessDenied = func(action string) *apiError {
		return errf(403, "AccessDenied", "User is not authorized to perform: %s", action)
	}
	errInvalidAction = func(action string) *apiError {
		return errf(400, "InvalidAction", "Could not find operation %s for version 2010-05-08", action)
	}
)

// Serve answers one call.
func (a *API) Serve(ctx context.Context, r *Request) Response {
	action := r.Form.Get("Action")
	ns := iamNS
	var result any
	var err error
	if r.Service == "sts" {
		ns = stsNS
		result, err = a.serveSTS(ctx, r, action)
	} else {
		result, err = a.serveIAM(ctx, r, action)
	}
	if err != nil {
		return errorResponse(ns, r.RequestID, err)
	}
	return resultResponse(ns, action, r.RequestID, result)
}

func errorResponse(ns, requestID string, err error) Response {
	var ae *apiError
	var ie *identity.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ie):
		ae = &apiError{Status: ie.Status, Code: ie.Code, Message: ie.Message}
	default:
		ae = &apiError{Status: 500, Code: "ServiceFailure", Message: "The request processing has failed because of an unknown error."}
	}
	typ := "Sender"
	if ae.Status >= 500 {
		typ = "Receiver"
	}
	doc := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		NS        string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{NS: ns, Type: typ, Code: ae.Code, Message: ae.Message, RequestID: requestID}
	return Response{Status: ae.Status, Body: marshal(doc)}
}

// resultResponse wraps result as <ActionResponse><ActionResult>...</ActionResult>
// <ResponseMetadata>...</ResponseMetadata></ActionResponse>; a nil result leaves the
// Result element out (IAM's answers to changes without output).
func resultResponse(ns, action, requestID string, result any) Response {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + action + "Response xmlns=\"" + ns + "\">")
	if result != nil {
		var inner bytes.Buffer
		if err := xml.NewEncoder(&inner).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return errorResponse(ns, requestID, err)
		}
		b.Write(inner.Bytes())
	}
	b.WriteString("<ResponseMetadata><RequestId>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestId></ResponseMetadata></" + action + "Response>")
	return Response{Status: 200, Body: b.Bytes()}
}

func marshal(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		return []byte(xml.Header)
	}
	return append([]byte(xml.Header), b...)
}

// isoTime formats times as IAM does.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// urlEncodeDoc encodes a policy document as IAM returns it (RFC 3986 percent-encoding).
func urlEncodeDoc(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func intParam(form url.Values, name string, def, min, max int) (int, error) {
	v := form.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, errf(400, "ValidationError", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have value between %d and %d", v, lowerFirst(name), min, max)
	}
	return n, nil
}

func required(form url.Values, names ...string) error {
	for _, n := range names {
		if form.Get(n) == "" {
			return errf(400, "ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(n))
		}
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
