package testhook

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCrash(t *testing.T) {
	var h Hooks
	require.ErrorIs(t, h.Crash(), ErrUnbound, "nothing bound yet")
	crashed := 0
	fail := errors.New("disk gone")
	h.BindCrash(func() error { crashed++; return fail })
	require.ErrorIs(t, h.Crash(), fail, "the bound crash's error is returned")
	require.Equal(t, 1, crashed)
}
