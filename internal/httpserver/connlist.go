package httpserver

// connList is an intrusive doubly-linked list of connections ordered by deadline. Every
// connection in one list got the same timeout when it was pushed, so pushing at the tail
// keeps the list sorted and the earliest deadline is always at the head: expiry is O(1) per
// expired connection and no timer exists per connection.
//
// A connList belongs to one loop and is guarded by that loop's mu.
type connList struct {
	head, tail *conn
	len        int
}

// push appends c with the given deadline. c must not be in any list.
func (l *connList) push(c *conn, deadline int64) {
	c.deadline, c.list = deadline, l
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

// remove unlinks c from the list it is in, if any.
func (c *conn) unlink() {
	l := c.list
	if l == nil {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.list = nil, nil, nil
	l.len--
}
