package discovery

import "errors"

// Errors returned by the discovery package. Check them with errors.Is; a
// returned error may also wrap an error of the keel package.
var (
	// ErrEmptyService is returned when an Instance or a call names no
	// service.
	ErrEmptyService = errors.New("discovery: service is not provided")
	// ErrEmptyID is returned when an Instance has no ID.
	ErrEmptyID = errors.New("discovery: instance ID is not provided")
	// ErrInvalidService is returned for a service name containing "/".
	ErrInvalidService = errors.New("discovery: service name must not contain '/'")
	// ErrInvalidRecord is returned when a stored registration cannot be
	// decoded.
	ErrInvalidRecord = errors.New("discovery: invalid registration record")
)
