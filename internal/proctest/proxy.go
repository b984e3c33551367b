package proctest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// TurnProxy is a TCP proxy in front of a server that counts round trips:
// the times a client speaks again after the server has answered it. A
// request the client pipelines behind another without waiting (a
// statement close sent with the next query) is not a round trip of its
// own. Tests and benchmarks use it to hold a store to a round-trip budget.
type TurnProxy struct {
	// Addr is the proxy's loopback address ("127.0.0.1:port").
	Addr  string
	turns atomic.Int64
}

// Turns returns the round trips counted so far, on all connections.
func (p *TurnProxy) Turns() int64 { return p.turns.Load() }

// Proxy starts a TurnProxy that forwards to target until the test ends.
func Proxy(t testing.TB, target string) *TurnProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TurnProxy{Addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			open = append(open, client, server)
			mu.Unlock()
			// answered is set when the server has sent something since the
			// client last spoke; the client's next bytes are a new turn.
			var answered atomic.Bool
			answered.Store(true)
			wg.Add(2)
			go func() {
				defer wg.Done()
				pipe(server, client, func() {
					if answered.Swap(false) {
						p.turns.Add(1)
					}
				})
			}()
			go func() {
				defer wg.Done()
				pipe(client, server, func() { answered.Store(true) })
			}()
		}
	}()
	return p
}

// pipe copies from src to dst, calling seen before forwarding each read,
// and closes both when either side ends.
func pipe(dst io.WriteCloser, src io.ReadCloser, seen func()) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
