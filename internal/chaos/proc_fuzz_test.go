package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

// FuzzExecRequest feeds arbitrary bytes to a member's exec endpoint on a
// single-node store: a body is either rejected with ErrInvalidArgument or
// answered with a well-formed, consistently classified response; never a
// panic.
func FuzzExecRequest(f *testing.F) {
	seeds := []string{
		`{"input":{"kind":"put","key":"a","value":"c0-1"},"timeout_ms":1000}`,
		`{"input":{"kind":"get","key":"a"}}`,
		`{"input":{"kind":"delete","key":"a"},"timeout_ms":-5}`,
		`{"input":{"kind":"cas","key":"a","value":"x","expect_absent":true}}`,
		`{"input":{"kind":"cas","key":"a","value":"x","expected":"c0-1"}}`,
		`{"input":{"kind":"put","key":"","value":"v"}}`,
		`{"input":{"kind":"nope","key":"a"}}`,
		`{"input":`, `null`, `[]`, ``, "\x00\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	s, err := keel.Open(keel.Config{Dir: f.TempDir()})
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, s.Close()) })
	m := &memberServer{s: s, kv: s, ctx: context.Background(), watches: map[string]*memberWatch{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := m.exec(context.Background(), body)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalidArgument), "unexpected error %v", err)
			return
		}
		resp, ok := v.(ExecResponse)
		require.True(t, ok)
		require.Contains(t, []Outcome{Definite, Unknown, Dropped}, resp.Outcome)
		require.Equal(t, resp.Outcome == Definite, resp.Err == "", "definite exactly when no error: %+v", resp)
		_, err = json.Marshal(resp)
		require.NoError(t, err)
	})
}

// FuzzLoadMemberConfig decodes arbitrary member configs from the
// environment: accepted only when complete, otherwise rejected with a
// sentinel.
func FuzzLoadMemberConfig(f *testing.F) {
	f.Add(`{"id":"m0","dir":"d","log_path":"l","ctl_addr_file":"c"}`)
	f.Add(`{"id":"m0"}`)
	f.Add(`{`)
	f.Add(`{"heartbeat_timeout":"x"}`)
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" || strings.ContainsRune(v, 0) {
			return // unset means "not a child"; an environment value cannot hold NUL
		}
		t.Setenv(EnvMember, v)
		cfg, ok, err := LoadMemberConfig()
		require.True(t, ok)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidArgument)
			return
		}
		require.NotEmpty(t, cfg.ID)
		require.NotEmpty(t, cfg.Dir)
		require.NotEmpty(t, cfg.CtlAddrFile)
		require.NotEmpty(t, cfg.LogPath)
	})
}
