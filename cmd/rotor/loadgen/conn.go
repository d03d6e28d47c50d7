package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
)

// httpConn is one raw HTTP/1.1 client connection. The generator speaks
// HTTP by hand rather than through net/http's client: one Transport per
// connection would cost far more memory and CPU than the server side it
// measures, and a shared one cannot pick a source address per connection.
type httpConn struct {
	c  net.Conn
	br *bufio.Reader
	wb []byte
}

// dialHTTP connects to addr from the local address src (nil: any).
func dialHTTP(ctx context.Context, addr string, src net.IP) (*httpConn, error) {
	d := net.Dialer{}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &httpConn{c: c, br: bufio.NewReaderSize(c, 4096)}, nil
}

// get sends GET target and reads the response head; the caller reads and
// closes resp.Body. A non-200 answer is an error carrying the body.
func (h *httpConn) get(host, target, accept string) (*http.Response, error) {
	h.wb = append(h.wb[:0], "GET "...)
	h.wb = append(h.wb, target...)
	h.wb = append(h.wb, " HTTP/1.1\r\nHost: "...)
	h.wb = append(h.wb, host...)
	h.wb = append(h.wb, "\r\nUser-Agent: rotor-bench\r\nAccept: "...)
	h.wb = append(h.wb, accept...)
	h.wb = append(h.wb, "\r\n\r\n"...)
	if _, err := h.c.Write(h.wb); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return resp, nil
}

func (h *httpConn) close() error { return h.c.Close() }
