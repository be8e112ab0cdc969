package s3frontend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"strconv"

	"github.com/flashstor/flashstor/iam/iamapi"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// maxQueryBody bounds an IAM or STS form: three URL-encoded policy documents fit.
const maxQueryBody = 256 << 10

// isQueryAPI tells an IAM or STS call: a POST to "/" signed for one of those services.
// Its form is read and hashed before the signature is verified (the clients send no
// x-amz-content-sha256 for them).
func (c *call) isQueryAPI() bool {
	if c.h.query == nil || c.r.Method != httpwire.MethodPost || string(c.r.Path) != "/" {
		return false
	}
	a := c.r.Header("authorization")
	return bytes.Contains(a, []byte("/iam/aws4_request")) || bytes.Contains(a, []byte("/sts/aws4_request"))
}

// readQueryBody reads the form and sets its hash for the verifier.
func (c *call) readQueryBody() error {
	if c.r.ContentLength > maxQueryBody {
		return s3err.MaxMessageLengthExceeded
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxQueryBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxQueryBody {
		return s3err.MaxMessageLengthExceeded
	}
	sum := sha256.Sum256(body)
	c.queryBody = body
	b := c.r.Arena.AllocNoZero(2 * sha256.Size)
	hex.Encode(b, sum[:])
	c.sig.payloadSum = b
	return nil
}

// serveQuery answers an IAM or STS call through the query API.
func (c *call) serveQuery() {
	if c.queryBody == nil {
		c.fail(s3err.InvalidRequest.With("IAM and STS calls are form POSTs to /."))
		return
	}
	form, err := url.ParseQuery(string(c.queryBody))
	if err != nil {
		c.fail(s3err.InvalidRequest.With("The form is not URL-encoded."))
		return
	}
	resp := c.h.query.Serve(c.context(), &iamapi.Request{Service: c.auth.Service, Caller: c.caller, Form: form,
		RequestID: string(c.reqID), Context: &c.pctx})
	hdr := c.w.Header()
	hdr.Set("Content-Type", "text/xml")
	hdr.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	if resp.Status >= 400 {
		c.errCode = "IAM"
	}
	c.w.WriteHeader(resp.Status)
	c.w.Write(resp.Body)
}
