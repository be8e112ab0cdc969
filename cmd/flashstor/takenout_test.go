package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestServerDriveTakenOutWhileRunning: a drive whose directory goes away while the server
// runs (a disk unmounted) is taken out of service at the next format check
// (--format-check-interval): an ERROR log line names the drive and the reason, the
// left-out metric shows it with its reason, and the health endpoints count its set as
// degraded; reads and writes go on with the other three. Put back, it serves again, is
// healed online, and a deep heal then finds nothing to do.
func TestServerDriveTakenOutWhileRunning(t *testing.T) {
	dir := t.TempDir()
	srv := startServerLogged(t, dir, "--format-check-interval", "100ms")
	client := s3Client(srv.endpoint)
	objects := reproObjects(t, client)
	d2 := filepath.Join(dir, "d2")
	if err := os.Rename(d2, d2+".unmounted"); err != nil {
		t.Fatal(err)
	}
	leftOut := func() (float64, bool) {
		return scrapeOpen(t, srv.endpoint).Value("flashstor_drive_left_out", "set", "0", "index", "1", "reason", "read_failed")
	}
	waitFor(t, "the metric to show d2 left out", func() bool { v, ok := leftOut(); return ok && v == 1 })
	logLine := regexp.MustCompile(`(?m)^.*level=ERROR.*drive taken out of service while running.*$`)
	line := logLine.FindString(srv.stderr.String())
	if line == "" || !strings.Contains(line, "drive="+d2+" ") || !strings.Contains(line, "reason=read_failed") {
		t.Fatalf("no ERROR line naming %s and the reason:\n%s", d2, srv.stderr.String())
	}
	st, hdr := healthReady(t, srv.endpoint)
	if st != 200 || hdr.Get("X-Flashstor-Sets-Degraded") != "1" || hdr.Get("X-Flashstor-Sets-Read-Only") != "0" {
		t.Fatalf("ready with d2 taken out: %d %v", st, hdr)
	}
	checkObjects(t, client, objects, "with d2 taken out")
	body := []byte("written while d2 was out")
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(reproBucket), Key: aws.String("while-out"), Body: strings.NewReader(string(body))}); err != nil {
		t.Fatalf("PUT with d2 out: %v", err)
	}
	objects["while-out"] = body
	if _, err := os.Stat(d2); err == nil {
		t.Fatalf("%s was created again while its disk was away", d2)
	}

	if err := os.Rename(d2+".unmounted", d2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "d2 to serve again", func() bool { v, ok := leftOut(); return !ok || v == 0 })
	waitFor(t, "the online heal of the set", func() bool {
		out := srv.stderr.String()
		back := strings.LastIndex(out, "left-out drive brought back")
		return back >= 0 && strings.Contains(out[back:], `msg="set healed"`)
	})
	if st, hdr := healthReady(t, srv.endpoint); st != 200 || hdr.Get("X-Flashstor-Sets-Degraded") != "0" {
		t.Fatalf("ready with d2 back: %d %v", st, hdr)
	}
	checkObjects(t, client, objects, "with d2 back")
	srv.stop()
	checkComplete(t, dir, objects)
}
