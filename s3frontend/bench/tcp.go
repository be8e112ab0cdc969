package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// tcpTarget names the loopback TCP limit in the report.
const tcpTarget = "loopback-tcp"

// runTCPLimit measures the wire's limit on this machine: the same sizes and concurrencies
// moved over loopback TCP between two goroutines of this process, with no HTTP, no
// signature, no object layer (a PUT sends size bytes and waits for a 1-byte answer; a GET
// sends a 1-byte request and reads size bytes).
func runTCPLimit(ctx context.Context, cfg Config, payload []byte) ([]Cell, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	var served sync.WaitGroup
	defer served.Wait()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
				serveTCPLimit(conn, payload)
			}()
		}
	}()
	var cells []Cell
	for _, size := range cfg.Sizes {
		for _, conc := range cfg.Concurrency {
			conns := make([]net.Conn, conc)
			for i := range conns {
				if conns[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
					return cells, err
				}
			}
			buf := make([][]byte, conc)
			for i := range buf {
				buf[i] = make([]byte, 64<<10)
			}
			put := func(ctx context.Context, w int, size int64) error {
				return tcpExchange(conns[w], 'P', size, payload[:size], buf[w])
			}
			get := func(ctx context.Context, w int, size int64) error {
				return tcpExchange(conns[w], 'G', size, nil, buf[w])
			}
			cells = append(cells, runCell(ctx, cfg, tcpTarget, "PUT", size, conc, put, nil))
			cells = append(cells, runCell(ctx, cfg, tcpTarget, "GET", size, conc, get, nil))
			for _, c := range conns {
				c.Close()
			}
			if ctx.Err() != nil {
				return cells, ctx.Err()
			}
		}
	}
	return cells, nil
}

// tcpExchange runs one PUT ('P': send body, read one byte) or GET ('G': send the size,
// read size bytes) of the loopback limit.
func tcpExchange(conn net.Conn, op byte, size int64, body, buf []byte) error {
	var hdr [9]byte
	hdr[0] = op
	for i := 0; i < 8; i++ {
		hdr[1+i] = byte(size >> (8 * i))
	}
	if _, err := conn.Write(hdr[:]); err != nil {
		return err
	}
	if op == 'P' {
		if _, err := conn.Write(body); err != nil {
			return err
		}
		_, err := io.ReadFull(conn, buf[:1])
		return err
	}
	_, err := io.CopyBuffer(onlyWriter{io.Discard}, io.LimitReader(conn, size), buf)
	return err
}

// onlyWriter hides io.Discard's ReadFrom so that io.CopyBuffer uses the given buffer.
type onlyWriter struct{ io.Writer }

// serveTCPLimit is the server side of tcpExchange.
func serveTCPLimit(conn net.Conn, payload []byte) {
	defer conn.Close()
	buf := make([]byte, 64<<10)
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		var size int64
		for i := 0; i < 8; i++ {
			size |= int64(hdr[1+i]) << (8 * i)
		}
		var err error
		switch hdr[0] {
		case 'P':
			if _, err = io.CopyBuffer(onlyWriter{io.Discard}, io.LimitReader(conn, size), buf); err == nil {
				_, err = conn.Write([]byte{1})
			}
		case 'G':
			_, err = conn.Write(payload[:size])
		default:
			err = errors.New("bad request")
		}
		if err != nil {
			return
		}
	}
}
