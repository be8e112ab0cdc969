package alignbuf

import "testing"

func TestMake(t *testing.T) {
	for _, size := range []int{1, Align - 1, Align, Align + 1, 1 << 20, 1<<20 + 16} {
		b := Make(size)
		want := (size + Align - 1) / Align * Align
		if len(b) != want || cap(b) != want {
			t.Errorf("Make(%d): len %d cap %d, want %d", size, len(b), cap(b), want)
		}
		if !Aligned(b) {
			t.Errorf("Make(%d) is not aligned", size)
		}
	}
	if Aligned(Make(Align)[1:]) {
		t.Error("a buffer one byte past an aligned one reads as aligned")
	}
}
