// Package wire is the primitive codec under Keel's binary formats: the
// root package's replicated commands, apply results and member RPCs, and
// the transport's raft messages. Those formats are specified where they
// are defined; this package reads and writes their fields.
//
// # Primitives
//
//	byte     one byte
//	bool     one byte: 0 (false) or 1 (true)
//	uvarint  an unsigned integer in 7-bit groups, least significant
//	         first, the high bit set on every byte but the last; 1 to 10
//	         bytes (encoding/binary's uvarint)
//	varint   a signed integer zigzag-mapped to an unsigned one (0, -1, 1,
//	         -2, … become 0, 1, 2, 3, …), then written as a uvarint
//	         (encoding/binary's varint)
//	bytes    a byte string: its length as a uvarint, then the bytes
//
// A format may also hold fixed-size fields (Decoder.Next) and element
// counts (a uvarint read with Decoder.Count).
//
// # Guarantees
//
// Encoder writes the minimal encoding of every value, and Decoder accepts
// only that one: it rejects a uvarint or varint that is truncated,
// overflows 64 bits or carries redundant zero groups (0x80 0x00 for 0),
// and a bool other than 0 or 1. Every value therefore has exactly one
// encoding, so whatever decodes re-encodes to the bytes it came from; the
// formats' fuzz tests rely on that.
//
// The first error sticks: the Decoder keeps it, drops the rest of its
// input, and every later read returns a zero value, so a format reads all
// its fields and checks Err or Finish once. Each error wraps the base error
// given to NewDecoder (check with errors.Is) and its text starts with the
// base's, then says what failed, as in "keel: corrupt command: non-minimal
// uvarint": every format reports its own package's sentinel.
//
// Lengths and counts are checked against the remaining input before
// anything is allocated: a byte string may not be longer than the bytes
// left, and Count rejects more elements than the bytes left could hold at
// the smallest element size. A forged length or count can therefore
// neither panic nor make a decoder allocate more than the input's size
// justifies, provided the format allocates no more per counted element
// than a small multiple of its smallest encoding (see Decoder.Count).
// Malformed input never panics.
//
// # Memory
//
// Encoder appends to its Buf and allocates only when Buf's capacity runs
// out; presize it to encode without allocating. Decoder.View and Next
// return slices of the input (capacity clipped, so appending to one cannot
// write into the input) and allocate nothing; Decoder.Bytes returns a
// copy. The Decoder NewDecoder returns stays on the caller's stack unless
// the caller keeps it.
//
// # Concurrency
//
// An Encoder or a Decoder is not safe for concurrent use. A Decoder never
// writes to its input, and slices returned by View and Next are valid for
// as long as the input is left unchanged.
package wire
