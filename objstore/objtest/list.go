package objtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// listAll pages through a listing with the given page size and returns every key and
// common prefix, checking that pages never overlap.
func listAll(t *testing.T, l objstore.ObjectLayer, b string, opts objstore.ListOptions) (keys, prefixes []string) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("listing does not end")
		}
		res, err := l.ListObjects(ctx(t), b, opts)
		must(t, "ListObjects", err)
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
			if o.ETag == "" || o.ModTime.IsZero() {
				t.Fatalf("listed object %q lacks its metadata: %+v", o.Key, o)
			}
		}
		prefixes = append(prefixes, res.Prefixes...)
		if opts.MaxKeys > 0 && len(res.Objects)+len(res.Prefixes) > opts.MaxKeys {
			t.Fatalf("page of %d entries, max %d", len(res.Objects)+len(res.Prefixes), opts.MaxKeys)
		}
		if !res.IsTruncated {
			return keys, prefixes
		}
		if res.NextMarker == "" || res.NextMarker <= opts.Marker {
			t.Fatalf("truncated page with NextMarker %q after marker %q", res.NextMarker, opts.Marker)
		}
		opts.Marker = res.NextMarker
	}
}

// reference computes what a listing must return from the set of keys.
func reference(all []string, prefix, delimiter string) (keys, prefixes []string) {
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				p := k[:len(prefix)+i+len(delimiter)]
				if len(prefixes) == 0 || prefixes[len(prefixes)-1] != p {
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		keys = append(keys, k)
	}
	return keys, prefixes
}

var listKeys = []string{
	"a", "a-b", "a/b", "a/b/c", "a/b/d", "a/c", "a0", "b/x/y/z", "b/x2", "c", "c/", "c/d/",
	"photos/2024/jan.jpg", "photos/2024/feb.jpg", "photos/2025/mar.jpg", "photos/index.html",
	"z-z-z", "z-z", "~tilde", "dir//double", "ünï",
}

func testListPaging(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	var all []string
	all = append(all, listKeys...)
	for i := 0; i < 150; i++ {
		all = append(all, fmt.Sprintf("many/%04d", i))
	}
	for _, k := range all {
		put(t, l, b, k, []byte(k))
	}
	for _, max := range []int{1, 2, 7, 1000} {
		for _, prefix := range []string{"", "a", "a/", "photos/", "many/00", "nothing"} {
			for _, delim := range []string{"", "/"} {
				wantKeys, wantPrefixes := reference(all, prefix, delim)
				keys, prefixes := listAll(t, l, b, objstore.ListOptions{Prefix: prefix, Delimiter: delim, MaxKeys: max})
				if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
					t.Fatalf("prefix %q delimiter %q max %d:\n got keys %q prefixes %q\nwant keys %q prefixes %q",
						prefix, delim, max, keys, prefixes, wantKeys, wantPrefixes)
				}
			}
		}
	}
	// A marker in the middle (S3's start-after).
	res, err := l.ListObjects(ctx(t), b, objstore.ListOptions{Marker: "photos/2024/jan.jpg", MaxKeys: 2})
	must(t, "ListObjects with a marker", err)
	if len(res.Objects) != 2 || res.Objects[0].Key != "photos/2025/mar.jpg" || res.Objects[1].Key != "photos/index.html" {
		t.Fatalf("ListObjects after marker = %+v", res.Objects)
	}
	_, err = l.ListObjects(ctx(t), "no-such-bucket", objstore.ListOptions{})
	mustIs(t, "ListObjects of a missing bucket", err, objstore.ErrBucketNotFound)
}

func testListDelimiters(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for _, k := range listKeys {
		put(t, l, b, k, nil)
	}
	for _, delim := range []string{"-", "b", "/x", "z"} {
		for _, max := range []int{1, 3, 1000} {
			wantKeys, wantPrefixes := reference(listKeys, "", delim)
			keys, prefixes := listAll(t, l, b, objstore.ListOptions{Delimiter: delim, MaxKeys: max})
			if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
				t.Fatalf("delimiter %q max %d:\n got %q %q\nwant %q %q", delim, max, keys, prefixes, wantKeys, wantPrefixes)
			}
		}
	}
}
