package discovery

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeInstance feeds arbitrary records to the decoder: it must never
// panic, and whatever it accepts must round-trip through the encoder.
func FuzzDecodeInstance(f *testing.F) {
	f.Add("api", "a1", []byte(`{"service":"api","id":"a1","addr":"127.0.0.1:80","metadata":{"zone":"z1"}}`))
	f.Add("api", "a1", []byte(`{"service":"web","id":"a1"}`))
	f.Add("api", "", []byte(`{"service":"api","id":""}`))
	f.Add("api", "x/y", []byte(`{"service":"api","id":"x/y"}`))
	f.Add("api", "a1", []byte(`not json`))
	f.Add("api", "a1", []byte(`{"metadata":{"k":1}}`))
	f.Add("api", "a1", []byte(``))
	f.Add("api", "a1", []byte(`{"service":"api","id":"a1","metadata":{}}`))
	f.Fuzz(func(t *testing.T, service, id string, val []byte) {
		key := servicePrefix(DefaultPrefix, service) + id
		in, err := decodeInstance(DefaultPrefix, service, key, val)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidRecord)
			return
		}
		require.Equal(t, service, in.Service)
		require.Equal(t, id, in.ID)
		enc, err := encodeInstance(in)
		require.NoError(t, err)
		again, err := decodeInstance(DefaultPrefix, service, key, []byte(enc))
		require.NoError(t, err)
		require.Equal(t, in, again)
	})
}

func TestInstanceValidate(t *testing.T) {
	tests := []struct {
		name string
		in   Instance
		err  error
	}{
		{"ok", Instance{Service: "api", ID: "a1"}, nil},
		{"no service", Instance{ID: "a1"}, ErrEmptyService},
		{"no id", Instance{Service: "api"}, ErrEmptyID},
		{"slash in service", Instance{Service: "a/b", ID: "a1"}, ErrInvalidService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.validate()
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
		})
	}
}
