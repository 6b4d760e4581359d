package transport_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keeldb/keel/transport"
)

// Two members: one serves an upper-casing Handler, the other calls it.
func Example() {
	leader, err := transport.Listen(transport.Config{
		Handler: func(_ context.Context, req []byte) ([]byte, error) {
			if len(req) == 0 {
				return nil, errors.New("empty request")
			}
			return []byte(strings.ToUpper(string(req))), nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer leader.Close()
	follower, err := transport.Listen(transport.Config{})
	if err != nil {
		panic(err)
	}
	defer follower.Close()

	ctx := context.Background()
	resp, err := follower.Call(ctx, leader.Addr(), []byte("put k v"))
	fmt.Println(string(resp), err)

	_, err = follower.Call(ctx, leader.Addr(), nil)
	var remote *transport.RemoteError
	fmt.Println(errors.Is(err, transport.ErrRemote), errors.As(err, &remote) && remote.Message == "empty request")
	// Output:
	// PUT K V <nil>
	// true true
}

// Telling "not sent" from "outcome unknown" after a failed forwarded write.
func ExampleTransport_Call() {
	tr, err := transport.Listen(transport.Config{})
	if err != nil {
		panic(err)
	}
	defer tr.Close()

	_, err = tr.Call(context.Background(), "127.0.0.1:1", []byte("put k v"))
	switch {
	case errors.Is(err, transport.ErrUnreachable):
		fmt.Println("not sent: safe to retry elsewhere")
	case errors.Is(err, transport.ErrConnLost):
		fmt.Println("outcome unknown")
	}
	// Output:
	// not sent: safe to retry elsewhere
}
