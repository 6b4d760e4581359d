package logstore

import "errors"

// ErrUnknownStore is returned by [Lookup] for a name no factory has.
var ErrUnknownStore = errors.New("logstore: unknown store")

// ErrEmptyDir is returned by a factory's Open when dir is empty.
var ErrEmptyDir = errors.New("logstore: empty directory")
