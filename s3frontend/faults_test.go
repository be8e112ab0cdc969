package s3frontend_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// TestDriveFaults takes drives away under the server: readiness turns to 503, and an
// operation without its quorum is S3's 503 SlowDown, never a 500.
func TestDriveFaults(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			var mu sync.Mutex // guards drives, filled as the deployment opens its drives
			var drives []*faulty.Drive
			e := start(t, tr, func(o *envOptions) {
				o.wrapDrive = func(d storage.Drive) storage.Drive {
					f := faulty.Wrap(d)
					mu.Lock()
					drives = append(drives, f)
					mu.Unlock()
					return f
				}
			})
			c := e.sdk()
			mkbucket(t, c, "faults")
			putString(t, c, "faults", "k", "data")
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/ready", nil), false); r.status != 200 {
				t.Fatalf("ready with every drive: %d", r.status)
			}
			mu.Lock()
			if len(drives) != 4 {
				t.Fatalf("%d fault-injecting drives", len(drives))
			}
			gone := errors.New("drive unplugged")
			for _, d := range drives[:3] {
				d.Fail("*", gone)
			}
			mu.Unlock()
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/ready", nil), false); r.status != 503 {
				t.Errorf("ready with 1 drive of 4: %d", r.status)
			}
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), false); r.status != 200 {
				t.Errorf("live with 1 drive of 4: %d", r.status)
			}
			_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("faults"), Key: aws.String("k")})
			wantCode(t, "GetObject without read quorum", err, "SlowDown")
			_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("faults"), Key: aws.String("k2"), Body: stringsReader("x")})
			wantCode(t, "PutObject without write quorum", err, "SlowDown")
		})
	}
}
