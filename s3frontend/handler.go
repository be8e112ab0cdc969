package s3frontend

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/iam/authz"
	"github.com/flashstor/flashstor/iam/iamapi"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/sts"
	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/internal/reqid"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// Config configures a Handler.
type Config struct {
	// Layer is the object layer to serve. Required.
	Layer objstore.ObjectLayer
	// Credentials maps access keys to secret keys. Required, at least one entry. It must not
	// be modified once the Handler is in use.
	Credentials map[string]string
	// Region is the region requests are signed for and buckets report; "us-east-1" when
	// empty.
	Region string
	// Domain, if set, enables virtual-host style requests: Host "<bucket>.<Domain>".
	Domain string
	// Log receives internal errors (each InternalError answered is logged with its cause);
	// slog.Default() when nil.
	Log *slog.Logger
	// Now is the clock for signature times; time.Now when nil (tests inject one).
	Now func() time.Time
	// LifecycleDay is the length of a lifecycle day in the x-amz-expiration of GET and
	// HEAD: 24h when 0. Set it to the LifecycleScanner's Day.
	LifecycleDay time.Duration
	// DeploymentID, if set, is the deployment's stable id: with the root access key it
	// makes the canonical id of the owner of every bucket and object, stable across
	// restarts and distinct between deployments.
	DeploymentID string
	// HostID names this node in x-amz-id-2; the host name when empty.
	HostID string
	// MaxXMLBody bounds the request documents read into memory (DeleteObjects,
	// CompleteMultipartUpload, CreateBucket); 8 MiB when 0.
	MaxXMLBody int64
	// Metrics, if set, records every request and the security events, and is served at
	// GET /metrics (see MetricsToken).
	Metrics *metrics.Metrics
	// MetricsToken, if set, is the bearer token GET /metrics requires; empty: open.
	MetricsToken string
	// Audit, if set, receives one record per request.
	Audit *audit.Log
	// Identities, if set, are the IAM users, groups, policies and roles whose keys sign
	// requests besides the root keys of Credentials.
	Identities *identity.Manager
	// Issuer, if set, checks STS session tokens (X-Amz-Security-Token); without it every
	// session token is InvalidToken.
	Issuer *sts.Issuer
	// QueryAPI, if set, serves the IAM and STS query APIs at this endpoint: POSTs to "/"
	// signed for the "iam" or "sts" service.
	QueryAPI *iamapi.API
}

// Handler serves the S3 API. It implements httpserver.Handler and is safe for concurrent
// use.
type Handler struct {
	layer objstore.ObjectLayer
	// configs keeps the buckets' configuration documents: the layer itself when it has
	// the capability, else nil (those operations are NotImplemented).
	configs objstore.BucketConfigStore
	// versions serves the versions of objects: the layer itself when it has the
	// capability, else nil (only null versions exist then).
	versions objstore.VersionedLayer
	verifier *sigv4.Verifier
	router   *router.Router
	region   string
	log      *slog.Logger
	maxXML   int64
	// hostID is the x-amz-id-2 value of every response.
	hostID string
	// ids makes the request ids.
	ids *reqid.Generator
	// metrics and audit observe each request (either may be nil); opMetrics holds the
	// recorder of each operation, resolved once.
	metrics                      *metrics.Metrics
	metricsToken                 string
	audit                        *audit.Log
	opMetrics                    [router.NumOps]*metrics.Op
	healthMetrics, scrapeMetrics *metrics.Op
	// authz decides every request (iam/authz); query serves IAM and STS (nil: not here).
	authz *authz.Authorizer
	query *iamapi.API
	// secure tells that the handler is served over TLS (aws:SecureTransport); set by
	// NewServer.
	secure atomic.Bool
	// ownerID and ownerName describe the (single) owner of every bucket and object.
	ownerID, ownerName string
	// calls recycles per-request state.
	calls sync.Pool
	// lifecycle caches the buckets' expiring lifecycle rules; lifecycleDay is the length
	// of a lifecycle day.
	lifecycle    lifecycleCache
	lifecycleDay time.Duration
	// now is Config.Now (nil: time.Now): the clock of form upload policies.
	now func() time.Time
	// ops is the handler of each operation, indexed by router.Op.
	ops [router.NumOps]func(*call) error
}

var _ httpserver.Handler = (*Handler)(nil)

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Layer == nil {
		return nil, errors.New("s3frontend: Config.Layer is required")
	}
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("s3frontend: Config.Credentials is empty")
	}
	if cfg.Region == "" {
		cfg.Region = sigv4.DefaultRegion
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxXMLBody <= 0 {
		cfg.MaxXMLBody = 8 << 20
	}
	if cfg.HostID == "" {
		cfg.HostID, _ = os.Hostname()
	}
	creds := make(sigv4.StaticCredentials, len(cfg.Credentials))
	var firstKey string
	for k, v := range cfg.Credentials {
		creds[k] = v
		if firstKey == "" || k < firstKey {
			firstKey = k
		}
	}
	h := &Handler{}
	h.configs, _ = cfg.Layer.(objstore.BucketConfigStore)
	h.authz = authz.New(authz.Config{Root: creds, Identities: cfg.Identities, Issuer: cfg.Issuer, Buckets: h, Now: cfg.Now})
	// A bucket made or removed through the other face (the mount) must not find the
	// cached policy of an earlier bucket of its name; a document changed here or, in a
	// cluster, on another node (the layer's watch of the shared store) must reach the
	// caches of bucket settings at once.
	cfg.Layer.Subscribe("", func(e objstore.Event) {
		switch e.Type {
		case objstore.EventBucketCreated, objstore.EventBucketDeleted:
			h.authz.Invalidate()
			h.lifecycle.forget("")
		case objstore.EventBucketConfig:
			h.authz.Invalidate()
			h.lifecycle.forget(e.Bucket)
		}
	})
	var services []string
	if cfg.QueryAPI != nil {
		services = []string{"iam", "sts"}
	}
	v, err := sigv4.New(sigv4.Config{Region: cfg.Region, Credentials: h.authz, Now: cfg.Now, Services: services})
	if err != nil {
		return nil, err
	}
	ids, err := reqid.New()
	if err != nil {
		return nil, fmt.Errorf("s3frontend: %w", err)
	}
	h.layer, h.verifier, h.router, h.region, h.log = cfg.Layer, v, router.New(cfg.Domain), cfg.Region, cfg.Log
	h.maxXML, h.ids, h.metrics, h.metricsToken, h.audit = cfg.MaxXMLBody, ids, cfg.Metrics, cfg.MetricsToken, cfg.Audit
	h.query = cfg.QueryAPI
	h.lifecycleDay, h.now = cfg.LifecycleDay, cfg.Now
	if h.lifecycleDay <= 0 {
		h.lifecycleDay = 24 * time.Hour
	}
	if m := cfg.Metrics; m != nil {
		for op := range router.NumOps {
			h.opMetrics[op] = m.Op(op.String())
		}
		h.healthMetrics, h.scrapeMetrics = m.Op("HealthCheck"), m.Op("Metrics")
	}
	sum := sha256.Sum256([]byte("flashstor host " + cfg.HostID))
	h.hostID = base64.StdEncoding.EncodeToString(sum[:])
	owner := sha256.Sum256([]byte("flashstor owner " + firstKey))
	if cfg.DeploymentID != "" {
		owner = sha256.Sum256([]byte("flashstor owner " + cfg.DeploymentID + "\x00" + firstKey))
	}
	h.ownerID, h.ownerName = hex.EncodeToString(owner[:]), firstKey
	h.calls.New = func() any {
		c := &call{h: h}
		c.pctx.c = c
		return c
	}
	h.versions, _ = cfg.Layer.(objstore.VersionedLayer)
	h.ops = [router.NumOps]func(*call) error{
		router.OpListBuckets:             (*call).listBuckets,
		router.OpCreateBucket:            (*call).createBucket,
		router.OpHeadBucket:              (*call).headBucket,
		router.OpDeleteBucket:            (*call).deleteBucket,
		router.OpGetBucketLocation:       (*call).getBucketLocation,
		router.OpListObjects:             (*call).listObjectsV1,
		router.OpListObjectsV2:           (*call).listObjectsV2,
		router.OpListMultipartUploads:    (*call).listMultipartUploads,
		router.OpDeleteObjects:           (*call).deleteObjects,
		router.OpPutObject:               (*call).putObject,
		router.OpCopyObject:              (*call).copyObject,
		router.OpGetObject:               (*call).getObject,
		router.OpHeadObject:              (*call).headObject,
		router.OpDeleteObject:            (*call).deleteObject,
		router.OpCreateMultipartUpload:   (*call).createMultipartUpload,
		router.OpUploadPart:              (*call).uploadPart,
		router.OpUploadPartCopy:          (*call).uploadPartCopy,
		router.OpCompleteMultipartUpload: (*call).completeMultipartUpload,
		router.OpAbortMultipartUpload:    (*call).abortMultipartUpload,
		router.OpListParts:               (*call).listParts,
		router.OpGetBucketVersioning:     (*call).getBucketVersioning,
		router.OpPutBucketVersioning:     (*call).putBucketVersioning,
		router.OpListObjectVersions:      (*call).listObjectVersions,
		router.OpGetBucketTagging:        (*call).getBucketTagging,
		router.OpPutBucketTagging:        (*call).putBucketTagging,
		router.OpDeleteBucketTagging:     (*call).deleteBucketTagging,
		router.OpGetObjectTagging:        (*call).getObjectTagging,
		router.OpPutObjectTagging:        (*call).putObjectTagging,
		router.OpDeleteObjectTagging:     (*call).deleteObjectTagging,
		router.OpGetBucketACL:            (*call).getBucketACL,
		router.OpPutBucketACL:            (*call).putBucketACL,
		router.OpGetObjectACL:            (*call).getObjectACL,
		router.OpPutObjectACL:            (*call).putObjectACL,
		router.OpGetBucketCORS:           (*call).getBucketCORS,
		router.OpPutBucketCORS:           (*call).putBucketCORS,
		router.OpDeleteBucketCORS:        (*call).deleteBucketCORS,
		router.OpPreflightCORS:           (*call).preflightCORS,
		router.OpGetBucketLifecycle:      (*call).getBucketLifecycle,
		router.OpPutBucketLifecycle:      (*call).putBucketLifecycle,
		router.OpDeleteBucketLifecycle:   (*call).deleteBucketLifecycle,
		router.OpGetObjectAttributes:     (*call).getObjectAttributes,
		router.OpGetBucketPolicy:         (*call).getBucketPolicy,
		router.OpPutBucketPolicy:         (*call).putBucketPolicy,
		router.OpDeleteBucketPolicy:      (*call).deleteBucketPolicy,
		router.OpGetBucketPolicyStatus:   (*call).getBucketPolicyStatus,
		router.OpGetObjectLockConfig:     (*call).getObjectLockConfig,
		router.OpPutObjectLockConfig:     (*call).putObjectLockConfig,
		router.OpGetObjectRetention:      (*call).getObjectRetention,
		router.OpPutObjectRetention:      (*call).putObjectRetention,
		router.OpGetObjectLegalHold:      (*call).getObjectLegalHold,
		router.OpPutObjectLegalHold:      (*call).putObjectLegalHold,
		router.OpPostObject:              (*call).postObject,
	}
	for op := router.OpNone + 1; op < router.NumOps; op++ {
		if h.ops[op] == nil {
			return nil, errors.New("s3frontend: no handler for " + op.String())
		}
	}
	return h, nil
}

// Region returns the region the Handler serves.
func (h *Handler) Region() string { return h.region }

// ServeHTTP1 implements httpserver.Handler.
func (h *Handler) ServeHTTP1(w httpserver.ResponseWriter, r *httpserver.Request) {
	c := h.calls.Get().(*call)
	c.clock = clock{start: time.Now()}
	c.begin(w, r)
	// A handler that must abandon a response already under way panics with
	// httpserver.ErrAbortHandler; the state is still recycled on the way out.
	defer func() {
		c.observe()
		c.end()
		h.calls.Put(c)
	}()
	c.serve()
}
