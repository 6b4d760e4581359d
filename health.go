package keel

// HealthResponse is the result of Health.
type HealthResponse struct {
	Header *ResponseHeader
	// Health reports whether this member could serve a linearizable read
	// when Health was called.
	Health bool
	// Reason says why it could not ("" when healthy): the text of the
	// error Health returns.
	Reason string
}
