package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// The repro of issue 9: a 4-drive deployment (2+2) with 36 objects; stopped; drive 2 wiped
// and 16 bytes flipped in the middle of every file over 64 bytes on drive 3, its format
// record included. The server must start, serve every object byte for byte, and heal both
// drives, online and with "flashstor heal".

const reproBucket = "repro"

// reproObjects writes 36 objects of every storage shape (empty, inline, one stripe,
// several stripes) through S3 and returns their contents.
func reproObjects(t *testing.T, client *s3.Client) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(reproBucket)}); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 64, 65, 1000, 4 << 10, 100 << 10, 1 << 20, 2<<20 + 333}
	r := rand.New(rand.NewPCG(36, 9))
	objects := make(map[string][]byte)
	for i := range 36 {
		body := make([]byte, sizes[i%len(sizes)])
		for j := range body {
			body[j] = byte(r.Uint32())
		}
		key := fmt.Sprintf("dir%d/object-%02d", i%3, i)
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(reproBucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		objects[key] = body
	}
	return objects
}

// checkObjects reads every object through S3 and compares it byte for byte.
func checkObjects(t *testing.T, client *s3.Client, objects map[string][]byte, when string) {
	t.Helper()
	ctx := context.Background()
	for key, want := range objects {
		if got := getObject(t, client, reproBucket, key); !bytes.Equal(got, want) {
			t.Fatalf("%s: GET %s: %d bytes that differ from the %d written", when, key, len(got), len(want))
		}
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(reproBucket)})
	if err != nil || len(list.Contents) != len(objects) {
		t.Fatalf("%s: listing: %v, %d objects", when, err, len(list.Contents))
	}
}

// getObject returns an object's content, read through S3.
func getObject(t *testing.T, client *s3.Client, bucket, key string) []byte {
	t.Helper()
	return getObjectCtx(t, context.Background(), client, bucket, key)
}

// getObjectCtx is getObject within ctx (a deadline, for a GET that must not wait).
func getObjectCtx(t *testing.T, ctx context.Context, client *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GET %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GET %s/%s: reading the body: %v", bucket, key, err)
	}
	return b
}

// damageLikeIssue9 wipes drive 2 (the directory stays, empty, as a new disk would) and flips
// 16 bytes in the middle of every file over 64 bytes on drive 3.
func damageLikeIssue9(t *testing.T, dir string) {
	t.Helper()
	d2 := filepath.Join(dir, "d2")
	if err := os.RemoveAll(d2); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d2, 0o755); err != nil {
		t.Fatal(err)
	}
	flipped := 0
	err := filepath.WalkDir(filepath.Join(dir, "d3"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) <= 64 {
			return err
		}
		for i := len(b)/2 - 8; i < len(b)/2+8; i++ {
			b[i] ^= 0xa5
		}
		flipped++
		return os.WriteFile(p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if flipped < 36 {
		t.Fatalf("flipped bytes in only %d files of drive 3", flipped)
	}
}

// healCommand runs "flashstor heal" on the deployment and returns its report.
func healCommand(t *testing.T, dir string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"heal", filepath.Join(dir, "d{1...4}")}, &out, &errOut); err != nil {
		t.Fatalf("heal: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	return out.String()
}

// checkComplete proves drives 2 and 3 complete: a deep "flashstor heal" (every shard's
// checksums verified) finds nothing to do, and with drives 1 and 4 wiped a server on the
// two alone serves every object byte for byte.
func checkComplete(t *testing.T, dir string, objects map[string][]byte) {
	t.Helper()
	if report := healCommand(t, dir); !strings.Contains(report, "heal done: 0 objects healed") {
		t.Fatalf("a deep heal after healing still found work:\n%s", report)
	}
	for _, d := range []string{"d1", "d4"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServerLogged(t, dir)
	endpoint, stop := srv.endpoint, srv.stop
	checkObjects(t, s3Client(endpoint), objects, "from drives 2 and 3 alone")
	stop()
}

func TestIssue9RestartWithDamagedDrives(t *testing.T) {
	for _, how := range []string{"online", "command"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			srv := startServerLogged(t, dir)
			endpoint, stop := srv.endpoint, srv.stop
			objects := reproObjects(t, s3Client(endpoint))
			stop()
			damageLikeIssue9(t, dir)
			if how == "command" {
				report := healCommand(t, dir)
				if !strings.Contains(report, "formatted replacement drive "+filepath.Join(dir, "d2")) ||
					!regexp.MustCompile(`brought back left-out drive \S+/d3 \(set 0, position 2\): damaged format record moved to \.flashstor\.sys/quarantine/\S+/format\.json`).MatchString(report) {
					t.Fatalf("heal report:\n%s", report)
				}
				checkComplete(t, dir, objects)
				return
			}
			srv = startServerLogged(t, dir)
			endpoint, stop = srv.endpoint, srv.stop
			logs := srv.stderr
			if !regexp.MustCompile(`drive left out of this start.* drive=\S+/d3 set=0 position=2 reason=corrupt_record`).MatchString(logs.String()) {
				t.Fatalf("no log line naming drive 3 and why it was left out:\n%s", logs)
			}
			checkObjects(t, s3Client(endpoint), objects, "after the restart")
			// Two full heals of set 0: drive 2 (formatted as a replacement) and drive 3
			// (brought back, deeply).
			for i := 0; strings.Count(logs.String(), `msg="set healed" set=0`) < 2; i++ {
				if i == 6000 { // 2 minutes: catches a heal that never ends (a deep heal under -race is slow)
					t.Fatalf("the online heals of drives 2 and 3 did not finish:\n%s", logs)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), "left-out drive brought back") {
				t.Fatalf("drive 3 was not brought back:\n%s", logs)
			}
			checkObjects(t, s3Client(endpoint), objects, "after the online heal")
			stop()
			checkComplete(t, dir, objects)
		})
	}
}

// TestServerLeftOutHealth: with a drive directory missing the server starts degraded (the
// ready endpoint says so, metrics name the drive and reason) and takes writes; with three
// of four missing it still starts, and the set answers 503 SlowDown.
func TestServerLeftOutHealth(t *testing.T) {
	dir := t.TempDir()
	srv := startServerLogged(t, dir)
	endpoint, stop := srv.endpoint, srv.stop
	objects := reproObjects(t, s3Client(endpoint))
	stop()
	away := func(d string) {
		if err := os.Rename(filepath.Join(dir, d), filepath.Join(dir, d+".unmounted")); err != nil {
			t.Fatal(err)
		}
	}
	away("d2")
	srv = startServerLogged(t, dir)
	endpoint, stop = srv.endpoint, srv.stop
	st, hdr := healthReady(t, endpoint)
	if st != 200 || hdr.Get("X-Flashstor-Sets") != "1" || hdr.Get("X-Flashstor-Sets-Degraded") != "1" || hdr.Get("X-Flashstor-Sets-Unavailable") != "0" {
		t.Fatalf("ready with one drive missing: %d %v", st, hdr)
	}
	fams := scrapeOpen(t, endpoint)
	if v, ok := fams.Value("flashstor_drive_left_out", "set", "0", "index", "1", "reason", "read_failed"); !ok || v != 1 {
		t.Fatalf("flashstor_drive_left_out for d2: %v %v", v, ok)
	}
	for name, want := range map[string]float64{"flashstor_erasure_set_degraded": 1, "flashstor_erasure_set_read_quorum_ok": 1, "flashstor_erasure_set_write_quorum_ok": 1, "flashstor_erasure_set_drives_usable": 3} {
		if v, ok := fams.Value(name, "set", "0"); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	client := s3Client(endpoint)
	checkObjects(t, client, objects, "with a drive missing")
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(reproBucket), Key: aws.String("degraded-write"), Body: strings.NewReader("ok")}); err != nil {
		t.Fatalf("PUT with 3 of 4 drives: %v", err)
	}
	stop()

	away("d1")
	away("d4")
	srv = startServerLogged(t, dir)
	endpoint, stop = srv.endpoint, srv.stop
	defer stop()
	st, hdr = healthReady(t, endpoint)
	if st != 503 || hdr.Get("X-Flashstor-Sets-Unavailable") != "1" {
		t.Fatalf("ready with three drives missing: %d %v", st, hdr)
	}
	noRetry := s3Client(endpoint, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	_, err := noRetry.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(reproBucket), Key: aws.String("dir1/object-01")})
	checkUnavailable(t, "GET", err)
	_, err = noRetry.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(reproBucket), Key: aws.String("x"), Body: strings.NewReader("x")})
	checkUnavailable(t, "PUT", err)
}

// checkUnavailable checks that err is S3's answer for a set below quorum: 503 SlowDown.
func checkUnavailable(t *testing.T, op string, err error) {
	t.Helper()
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || api.ErrorCode() != "SlowDown" || !errors.As(err, &resp) || resp.HTTPStatusCode() != 503 {
		t.Fatalf("%s below read quorum: %v, want 503 SlowDown", op, err)
	}
}

func healthReady(t *testing.T, endpoint string) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(endpoint + "/flashstor/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
