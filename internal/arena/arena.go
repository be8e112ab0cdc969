package arena

// Arena is a bump allocator over blocks from a Pool. It is not safe for concurrent use: one
// connection (one request at a time) owns it.
//
// INVARIANT: blocks[:used] are the blocks allocated from since the last Reset, cur is
// blocks[used-1] (nil when used == 0) and off is the number of bytes of cur handed out.
type Arena struct {
	pool   *Pool
	blocks [][]byte
	used   int
	cur    []byte
	off    int
	dbg    tracker // arenadebug: live allocations; empty otherwise
}

// New returns an empty Arena drawing blocks from p. It holds no block until the first
// allocation.
func New(p *Pool) *Arena {
	return &Arena{pool: p}
}

// Pool returns the pool the arena draws from.
func (a *Arena) Pool() *Pool { return a.pool }

// Alloc returns n zeroed bytes valid until the next Reset or Release. Requests larger than
// BlockSize are served from the heap (and counted in PoolStats.Oversize).
func (a *Arena) Alloc(n int) []byte {
	b := a.alloc(n)
	clear(b)
	return b
}

// AllocNoZero is Alloc without clearing: the contents are whatever the block held before.
// Use it only for memory that is fully overwritten before it is read.
func (a *Arena) AllocNoZero(n int) []byte {
	return a.alloc(n)
}

// Copy returns a copy of b in the arena.
func (a *Arena) Copy(b []byte) []byte {
	c := a.alloc(len(b))
	copy(c, b)
	return c
}

// CopyString returns the bytes of s copied into the arena.
func (a *Arena) CopyString(s string) []byte {
	c := a.alloc(len(s))
	copy(c, s)
	return c
}

func (a *Arena) alloc(n int) []byte {
	if n < 0 {
		panic("arena: negative allocation size")
	}
	if debugEnabled {
		return a.dbg.alloc(a, n)
	}
	if n > BlockSize {
		a.pool.oversize.Add(1)
		return make([]byte, n)
	}
	if a.cur == nil || BlockSize-a.off < n {
		a.nextBlock()
	}
	b := a.cur[a.off : a.off+n : a.off+n]
	a.off += n
	return b
}

// nextBlock makes the next block current, reusing a block kept from before the last Reset
// when there is one.
func (a *Arena) nextBlock() {
	if a.used == len(a.blocks) {
		a.blocks = append(a.blocks, a.pool.Get())
	}
	a.cur = a.blocks[a.used]
	a.used++
	a.off = 0
}

// Reset forgets every allocation. It keeps the first block for the next request and returns
// the others to the pool, so a request that needed many blocks does not pin them. Its cost
// does not depend on the number of allocations. In arenadebug builds it first reports the
// allocations that are still referenced.
func (a *Arena) Reset() {
	if debugEnabled {
		a.dbg.reset(a)
	}
	for i := 1; i < len(a.blocks); i++ {
		a.pool.Put(a.blocks[i])
		a.blocks[i] = nil
	}
	if len(a.blocks) > 1 {
		a.blocks = a.blocks[:1]
	}
	a.used, a.cur, a.off = 0, nil, 0
}

// Release is Reset followed by returning every block to the pool: an idle connection's arena
// then holds no block memory.
func (a *Arena) Release() {
	a.Reset()
	for i, b := range a.blocks {
		a.pool.Put(b)
		a.blocks[i] = nil
	}
	a.blocks = a.blocks[:0]
}

// Blocks returns the number of blocks the arena currently holds.
func (a *Arena) Blocks() int { return len(a.blocks) }
