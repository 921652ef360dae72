package dmptest

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// LatencyProxy is a loopback TCP proxy that adds a fixed one-way delay in
// each direction: every byte reaches the other side OneWay after it was
// sent, whatever else is in flight (a long, fat link, not a slow server:
// requests sent together arrive together). TLS runs end to end through it,
// so the handshakes pay the latency as they would on a real link.
type LatencyProxy struct {
	// Addr is the proxy's address (127.0.0.1:port).
	Addr   string
	OneWay time.Duration
	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	closed bool
}

// StartLatencyProxy listens on a free loopback port and forwards every
// connection to target (host:port), adding rtt/2 each way.
func StartLatencyProxy(target string, rtt time.Duration) (*LatencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LatencyProxy{Addr: ln.Addr().String(), OneWay: rtt / 2, target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *LatencyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c)
		}()
	}
}

// track adds (or, with add false, removes) a connection closed by Close.
func (p *LatencyProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *LatencyProxy) forward(client net.Conn) {
	defer client.Close()
	if !p.track(client, true) {
		return
	}
	defer p.track(client, false)
	// The TCP handshake with the far side pays one round trip too.
	time.Sleep(2 * p.OneWay)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(server, true) {
		return
	}
	defer p.track(server, false)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client) }()
	go func() { defer wg.Done(); p.pipe(client, server) }()
	wg.Wait()
}

// chunk is bytes read at a time, delivered OneWay later.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk delivered OneWay after it was read;
// src's end half-closes dst once everything before it is delivered.
func (p *LatencyProxy) pipe(dst, src net.Conn) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(p.OneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			src.Close()
			for range q { // let the reader end
			}
			return
		}
	}
	if hc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// Close stops the proxy and cuts every connection through it.
func (p *LatencyProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

var _ io.Closer = (*LatencyProxy)(nil)
