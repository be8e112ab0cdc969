package s3frontend

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/postpolicy"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// A browser form upload (S3's POST Object) is a multipart/form-data POST to the bucket:
// fields (key, policy, the SigV4 fields, metadata...) then the file, which must come
// last (S3 ignores what follows it). The request itself is not signed: the form carries
// a policy document and its signature, which say who uploads and what may be uploaded.
// The fields are read into memory (at most maxPostFields bytes, as S3's 20 KB); the file
// streams into the object layer like a PutObject body.

// maxPostFields bounds the bytes of the fields before the file, and maxPostParts their
// number.
const (
	maxPostFields = 20 << 10
	maxPostParts  = 1000
)

var (
	errPostNotMultipart = s3err.PreconditionFailed.WithExtra("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")
	errPostMalformed    = &s3err.Error{Code: "MalformedPOSTRequest", Status: http.StatusBadRequest,
		Message: "The body of your POST request is not well-formed multipart/form-data."}
	errPostPreData = &s3err.Error{Code: "MaxPostPreDataLengthExceeded", Status: http.StatusBadRequest,
		Message: "Your POST request fields preceeding the upload file was too large."}
	errPostNoFile = s3err.InvalidArgument.With("POST requires exactly one file upload per request.")
	errPostNoKey  = s3err.InvalidArgument.With("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
)

// postUnsupported are form fields of features a form upload does not serve here.
var postUnsupported = []string{"tagging", "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
	"x-amz-server-side-encryption-aws-kms-key-id", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
	"x-amz-object-lock-legal-hold", "x-amz-checksum-algorithm", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
	"x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-website-redirect-location"}

// postForm is a form's fields (lower-case names) and its file part.
type postForm struct {
	fields   map[string]string
	file     *multipart.Part
	filename string
}

// readPostForm reads the fields up to the file part, which it leaves unread.
func (c *call) readPostForm() (*postForm, error) {
	ct := c.r.Header("content-type")
	mt, params, err := mime.ParseMediaType(string(ct))
	if err != nil || mt != "multipart/form-data" {
		return nil, errPostNotMultipart
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, errPostMalformed
	}
	return parsePostForm(multipart.NewReader(c.r.Body, boundary))
}

// parsePostForm reads the fields of mr until its file part.
func parsePostForm(mr *multipart.Reader) (*postForm, error) {
	f := &postForm{fields: make(map[string]string, 8)}
	size := 0
	for range maxPostParts {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errPostNoFile
		}
		if err != nil {
			return nil, errPostMalformed
		}
		name := strings.ToLower(p.FormName())
		if name == "" {
			return nil, errPostMalformed
		}
		if name == "file" {
			f.file, f.filename = p, path.Base(p.FileName())
			if p.FileName() == "" {
				f.filename = ""
			}
			return f, nil
		}
		if _, dup := f.fields[name]; dup {
			return nil, s3err.InvalidArgument.With("The form field " + name + " is repeated.")
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(maxPostFields-size+1)))
		if err != nil {
			return nil, errPostMalformed
		}
		size += len(name) + len(v)
		if size > maxPostFields {
			return nil, errPostPreData
		}
		f.fields[name] = string(v)
	}
	return nil, errPostPreData
}

// postObject serves PostObject.
func (c *call) postObject() error {
	form, err := c.readPostForm()
	if err != nil {
		return err
	}
	fields := form.fields
	key, ok := fields["key"]
	if !ok {
		return errPostNoKey
	}
	key = strings.ReplaceAll(key, "${filename}", form.filename)
	if key == "" {
		return s3err.InvalidArgument.With("User key must have a length greater than 0.")
	}
	fields["key"] = key
	fields["bucket"] = c.bucket
	c.key = key
	pol, err := c.postAuthenticate(fields)
	if err != nil {
		return err
	}
	if err := c.authorize(); err != nil {
		return err
	}
	for _, name := range postUnsupported {
		if _, ok := fields[name]; ok {
			return s3err.NotImplemented.With("The " + name + " form field is not implemented.")
		}
	}
	md, err := postMetadata(fields)
	if err != nil {
		return err
	}
	var body io.Reader = form.file
	if pol != nil && pol.HasLength {
		body = &lengthRange{r: form.file, min: pol.MinLength, max: pol.MaxLength}
	} else {
		body = &lengthRange{r: form.file, max: maxPutSize}
	}
	info, err := c.h.layer.PutObject(c.context(), c.bucket, key, body, -1, objstore.PutOptions{Metadata: md})
	if err != nil {
		return err
	}
	// What follows the file S3 ignores; a little of it is read so that the connection
	// may serve the next request.
	_, _ = io.Copy(io.Discard, io.LimitReader(c.r.Body, 64<<10))
	return c.postRespond(fields, info)
}

// postAuthenticate finds who the form uploads as: with a policy, the signer of the policy
// (after the policy's conditions have admitted the fields); without, anonymous. It sets
// c.caller and returns the policy (nil: none).
func (c *call) postAuthenticate(fields map[string]string) (*postpolicy.Policy, error) {
	policyField, hasPolicy := fields["policy"]
	if !hasPolicy {
		if _, signed := fields["x-amz-signature"]; signed {
			return nil, s3err.InvalidArgument.With("Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields.")
		}
		caller, err := c.h.authz.Resolve(nil, nil)
		if err != nil {
			return nil, err
		}
		c.caller, c.anonymous = caller, true
		return nil, nil
	}
	for _, name := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if _, ok := fields[name]; !ok {
			return nil, s3err.InvalidArgument.With("Bucket POST must contain a field named '" + name + "'.  If it is specified, please check the order of the fields.")
		}
	}
	if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
		return nil, s3err.InvalidArgument.With("Only the AWS4-HMAC-SHA256 algorithm is supported for POST uploads.")
	}
	access, err := c.h.verifier.VerifyPostPolicy([]byte(fields["x-amz-credential"]), []byte(policyField), []byte(fields["x-amz-signature"]))
	if err != nil {
		c.authErr = err
		return nil, err
	}
	pol, err := postpolicy.Parse([]byte(policyField))
	if err != nil {
		return nil, postPolicyErr(err)
	}
	if err := pol.Check(fields, c.now()); err != nil {
		return nil, postPolicyErr(err)
	}
	caller, err := c.h.authz.Resolve(access, []byte(fields["x-amz-security-token"]))
	if err != nil {
		c.tokenRejected = true
		return nil, s3err.InvalidToken
	}
	c.caller = caller
	return pol, nil
}

// now is the handler's clock.
func (c *call) now() time.Time {
	if c.h.now != nil {
		return c.h.now()
	}
	return time.Now()
}

// postPolicyErr is the S3 error of a policy refusal.
func postPolicyErr(err error) error {
	e, ok := postpolicy.IsError(err)
	if !ok {
		return err
	}
	status := http.StatusBadRequest
	if e.Code == s3err.AccessDenied.Code {
		status = http.StatusForbidden
	}
	return &s3err.Error{Code: e.Code, Status: status, Message: e.Message}
}

// postMetadata collects the metadata a form stores: the standard headers, x-amz-meta-*
// and a canned acl.
func postMetadata(fields map[string]string) (map[string]string, error) {
	md := make(map[string]string, 4)
	userSize := 0
	for name, v := range fields {
		if strings.HasPrefix(name, "x-amz-meta-") {
			md[name] = v
			userSize += len(name) - len("x-amz-meta-") + len(v)
		}
	}
	if userSize > maxUserMetadata {
		return nil, s3err.MetadataTooLarge
	}
	for _, sh := range storedHeaders {
		if v, ok := fields[sh.key]; ok && v != "" {
			md[sh.key] = v
		}
	}
	if acl, ok := fields["acl"]; ok {
		if _, known := cannedACLs[acl]; !known {
			return nil, s3err.InvalidArgument.With("The acl field is not a canned ACL.")
		}
		setRequestACL(md, acl)
	}
	return md, nil
}

// postRespond answers a stored form upload as S3 does: a 303 to success_action_redirect
// (with bucket, key and etag in its query), else success_action_status 200, 201 (with a
// PostResponse document) or 204 (the default).
func (c *call) postRespond(fields map[string]string, info objstore.ObjectInfo) error {
	c.setETag(info.ETag)
	c.setVersionHeader(info.Version.VersionID)
	loc := c.objectURL()
	c.w.Header().Set("Location", loc)
	if redirect := fields["success_action_redirect"]; redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			q := u.Query()
			q.Set("bucket", c.bucket)
			q.Set("key", c.key)
			q.Set("etag", `"`+info.ETag+`"`)
			u.RawQuery = q.Encode()
			c.w.Header().Set("Location", u.String())
			c.w.Header().Set("Content-Length", "0")
			c.w.WriteHeader(http.StatusSeeOther)
			return nil
		}
	}
	switch fields["success_action_status"] {
	case "200":
		c.w.Header().Set("Content-Length", "0")
		c.w.WriteHeader(http.StatusOK)
	case "201":
		x := c.startXML("PostResponse")
		x.String("Location", loc)
		x.String("Bucket", c.bucket)
		x.String("Key", c.key)
		x.String("ETag", `"`+info.ETag+`"`)
		x.Close("PostResponse")
		c.sendXML(http.StatusCreated)
	default:
		c.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// objectURL is the path-style URL of the request's object on this endpoint.
func (c *call) objectURL() string {
	scheme := "http"
	if c.h.secure.Load() {
		scheme = "https"
	}
	return scheme + "://" + string(c.r.Host) + "/" + url.PathEscape(c.bucket) + "/" + (&url.URL{Path: c.key}).EscapedPath()
}

// lengthRange passes a form's file through and fails it when its size leaves the
// policy's content-length-range: EntityTooLarge as soon as it passes max, EntityTooSmall
// at its end under min. The object layer aborts a write whose body fails.
type lengthRange struct {
	r        io.Reader
	n        int64
	min, max int64
}

// Read implements io.Reader.
func (l *lengthRange) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, s3err.EntityTooLarge
	}
	if errors.Is(err, io.EOF) && l.n < l.min {
		return n, s3err.EntityTooSmall
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, errPostMalformed
	}
	return n, err
}
