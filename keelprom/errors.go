package keelprom

// Error is the type of this package's sentinel errors. They are constants,
// so that the package has no variables: check them with errors.Is.
type Error string

// Error implements error.
func (e Error) Error() string { return string(e) }

const (
	// ErrNilRegisterer is returned by Register when the Registerer is
	// nil. keelprom never falls back to prometheus.DefaultRegisterer.
	ErrNilRegisterer Error = "keelprom: nil Registerer"
	// ErrNilStore is returned when the Store is nil.
	ErrNilStore Error = "keelprom: nil Store"
)
