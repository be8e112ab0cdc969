package erasureset

import (
	"testing"
	"testing/synctest"
)

// TestClaimsKeepFromRemoval checks which claims keep a collection from removing a data
// directory: those held when it asks, and those taken since it began, not those released
// before it began; a claim of anyDir keeps every directory of its bucket.
func TestClaimsKeepFromRemoval(t *testing.T) {
	tests := []struct {
		name string
		// run claims as the case needs around the collection's start (between before
		// and after) and returns whether the removal of b/d1 may go on.
		run  func(c *claimSet) bool
		want bool
	}{
		{"no claim", func(c *claimSet) bool {
			return c.beginRemoval("b", "d1", c.startCollection())
		}, true},
		{"held since before", func(c *claimSet) bool {
			c.claim("b", []string{"d1"}, false)
			return c.beginRemoval("b", "d1", c.startCollection())
		}, false},
		{"released before the start", func(c *claimSet) bool {
			c.claim("b", []string{"d1"}, false)()
			return c.beginRemoval("b", "d1", c.startCollection())
		}, true},
		{"taken and released during", func(c *claimSet) bool {
			start := c.startCollection()
			c.claim("b", []string{"d1"}, false)()
			return c.beginRemoval("b", "d1", start)
		}, false},
		{"another directory", func(c *claimSet) bool {
			start := c.startCollection()
			c.claim("b", []string{"d2"}, false)()
			return c.beginRemoval("b", "d1", start)
		}, true},
		{"another bucket", func(c *claimSet) bool {
			start := c.startCollection()
			c.claim("b2", []string{"d1"}, false)()
			return c.beginRemoval("b", "d1", start)
		}, true},
		{"every directory of the bucket", func(c *claimSet) bool {
			start := c.startCollection()
			c.claim("b", []string{anyDir}, false)()
			return c.beginRemoval("b", "d1", start)
		}, false},
		{"during an earlier collection still running", func(c *claimSet) bool {
			c.startCollection()
			c.claim("b", []string{"d1"}, false)()
			return c.beginRemoval("b", "d1", c.startCollection())
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c claimSet
			c.init()
			if got := tt.run(&c); got != tt.want {
				t.Fatalf("removal allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClaimWaitsForRemoval checks that a waiting claim (a heal's) returns only once the
// collector's removal of the directory has ended, and a claim that does not wait (a
// rename's) returns at once.
func TestClaimWaitsForRemoval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c claimSet
		c.init()
		start := c.startCollection()
		defer c.endCollection()
		if !c.beginRemoval("b", "d1", start) {
			t.Fatal("removal refused with no claim")
		}
		c.claim("b", []string{"d1"}, false)() // does not wait: it would deadlock the test
		claimed := make(chan struct{})
		go func() {
			release := c.claim("b", []string{"d1"}, true)
			close(claimed)
			release()
		}()
		synctest.Wait()
		select {
		case <-claimed:
			t.Fatal("a waiting claim returned while the removal was in flight")
		default:
		}
		c.endRemoval("b", "d1")
		<-claimed
	})
}
