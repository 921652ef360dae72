package dmptest

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestLatencyProxy: bytes cross the proxy intact, in order, both ways; a
// round trip through it takes at least the configured latency (a lower
// bound only: a loaded machine may add to it), and two exchanges on two
// connections overlap instead of adding up.
func TestLatencyProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }() // echo
		}
	}()
	const rtt = 400 * time.Millisecond
	p, err := StartLatencyProxy(ln.Addr().String(), rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	echo := func(msg []byte) time.Duration {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Error(err)
			return 0
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Error(err)
			return 0
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Error(err)
			return 0
		}
		if string(got) != string(msg) {
			t.Error("bytes changed through the proxy")
		}
		return time.Since(start)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if d := echo(big); d < rtt {
		t.Fatalf("a round trip took %s through a %s proxy", d, rtt)
	}
	start := time.Now()
	done := make(chan time.Duration, 8)
	for i := 0; i < 8; i++ {
		go func() { done <- echo([]byte("ping")) }()
	}
	for i := 0; i < 8; i++ {
		if d := <-done; d < rtt {
			t.Fatalf("a round trip took %s", d)
		}
	}
	t.Logf("8 parallel exchanges (connect + 1 round trip each) in %s", time.Since(start))
}
