package s3frontend

import (
	"bytes"
	"io"
	"mime/multipart"
	"testing"

	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// FuzzPostForm: any body read as a form with boundary "b" yields the fields and a file
// part, or an S3 error; never a panic, never more field bytes than maxPostFields.
func FuzzPostForm(f *testing.F) {
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\ndata\r\n--b--\r\n"))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n"))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n2\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := parsePostForm(multipart.NewReader(bytes.NewReader(body), "b"))
		if err != nil {
			if _, ok := err.(*s3err.Error); !ok {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		size := 0
		for k, v := range form.fields {
			size += len(k) + len(v)
		}
		if size > maxPostFields || form.file == nil {
			t.Fatalf("fields of %d bytes, file %v", size, form.file)
		}
		_, _ = io.Copy(io.Discard, form.file)
	})
}
