package wire

import "errors"

// ErrMalformed is the base error of a Decoder made with a nil base: errors
// from such a Decoder wrap it.
var ErrMalformed = errors.New("wire: malformed input")
