package s3frontend_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/s3frontend"
)

// startClusterNode runs a server whose bucket documents live in srv's etcd, over drives
// in dir that another node may share, its caches fed by the etcd watch.
func startClusterNode(t *testing.T, srv *etcdtest.Server, dir string) *env {
	t.Helper()
	docs := etcdconfig.NewBuckets(srv.Client(t))
	e := start(t, s3frontend.TransportEpoll, func(o *envOptions) {
		o.dir = dir
		o.deploy = func(c *deploy.Config) { c.BucketDocs = docs }
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		docs.Watch(ctx, e.layer.BucketConfigChanged, etcdconfig.WatchConfig{
			OnError: func(err error) { t.Logf("watch: %v", err) },
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// TestClusterBucketConfig: two nodes sharing their bucket documents through etcd.
// Versioning enabled through A gives B's next PUT a version id, a bucket policy set (then
// deleted) through A is enforced by B, and B sends the expiration of a lifecycle rule put
// through A, though B had cached each of these settings before.
func TestClusterBucketConfig(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	dir := t.TempDir()
	a, b := startClusterNode(t, srv, dir), startClusterNode(t, srv, dir)
	ca, cb := a.sdk(), b.sdk()
	mkbucket(t, ca, "shared")

	putVersion := func(c *s3.Client) string {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("public/k"), Body: stringsReader("v")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	if v := putVersion(cb); v != "" && v != "null" {
		t.Fatalf("B's PUT into an unversioned bucket has version id %q", v)
	}
	status := func() int { s, _ := anonymous(t, http.MethodGet, b.url+"/shared/public/k"); return s }
	if s := status(); s != http.StatusForbidden {
		t.Fatalf("anonymous GET on B before any policy: %d", s) // B's decision cache now holds "no policy"
	}

	_, err := ca.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("shared"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "B's PUT gets a version id", func() bool { v := putVersion(cb); return v != "" && v != "null" })

	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}`
	if _, err := ca.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "the policy put on A opens B", func() bool { return status() == http.StatusOK })
	if _, err := ca.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "the policy deleted on A closes B", func() bool { return status() == http.StatusForbidden })
	// B's lifecycle cache holds "no rules" once a HEAD has asked.
	expiration := func() string {
		out, err := cb.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String("public/k")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Expiration)
	}
	if x := expiration(); x != "" {
		t.Fatalf("x-amz-expiration before any rule: %q", x)
	}
	_, err = ca.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("shared"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("public30"),
			Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("public/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "the lifecycle rule put on A is sent by B", func() bool { return strings.Contains(expiration(), `rule-id="public30"`) })
	got, err := cb.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("shared")})
	if err != nil || got.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning on B: %v, %v", got, err)
	}
}
