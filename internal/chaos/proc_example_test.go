package chaos_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/keeldb/keel/internal/chaos"
)

// A Proxy sits on one directed link between members; blackholing it
// silently drops bytes, as a partition does.
func ExampleProxy() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	p, _ := chaos.NewProxy(ln.Addr().String())
	defer p.Close()

	c, _ := net.Dial("tcp", p.Addr())
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprintln(c, "ping")
	line, _ := r.ReadString('\n')
	fmt.Print("echo: ", line)

	p.SetDrop(true, false) // drop the initiator's bytes
	fmt.Fprintln(c, "lost")
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := r.ReadString('\n')
	fmt.Println("partitioned:", err != nil, "dropped chunks:", p.Dropped() > 0)
	// Output:
	// echo: ping
	// partitioned: true dropped chunks: true
}
