package wire_test

import (
	"errors"
	"fmt"

	"github.com/keeldb/keel/internal/wire"
)

func Example() {
	errCorrupt := errors.New("demo: corrupt record") // a format's sentinel

	e := wire.Encoder{Buf: make([]byte, 0, 32)}
	e.Uvarint(300)
	e.Varint(-2)
	e.Bytes([]byte("key"))
	e.Bool(true)
	fmt.Printf("% x\n", e.Buf)

	d := wire.NewDecoder(e.Buf, errCorrupt)
	n, i, key, ok := d.Uvarint(), d.Varint(), d.View(), d.Bool()
	fmt.Println(n, i, string(key), ok, d.Finish())

	d = wire.NewDecoder([]byte{0x80, 0x00}, errCorrupt) // 0 in two bytes
	d.Uvarint()
	err := d.Finish()
	fmt.Println(err, errors.Is(err, errCorrupt))
	// Output:
	// ac 02 03 03 6b 65 79 01
	// 300 -2 key true <nil>
	// demo: corrupt record: non-minimal uvarint true
}
