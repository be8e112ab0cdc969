package httpserver

import (
	"io"
	"net/http"
	"testing"
)

func TestRoute(t *testing.T) {
	named := func(name string) Handler {
		return HandlerFunc(func(w ResponseWriter, r *Request) { io.WriteString(w, name) })
	}
	addr, _ := transports[0].start(t, Route("/flashstor/drive/", named("node"), named("s3")))
	c := newClient(t)
	for path, want := range map[string]string{
		"/flashstor/drive/v1/d1/diskinfo": "node",
		"/flashstor/drive/":               "node",
		"/flashstor/drive":                "s3",
		"/flashstor/health/live":          "s3",
		"/%66lashstor/drive/v1/d1/x":      "s3", // bucket "flashstor" for S3, never the node API
		"/bucket/flashstor/drive/v1/x":    "s3",
		"/":                               "s3",
	} {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("%s went to %q (%d), want %s", path, body, resp.StatusCode, want)
		}
	}
}
