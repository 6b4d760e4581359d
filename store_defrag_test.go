package keel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefragmentErrors(t *testing.T) {
	t.Run("ctx done", func(t *testing.T) {
		s := openSingle(t)
		_, err := s.Put(testCtx(t), "k", "v")
		require.NoError(t, err)
		path := filepath.Join(s.cfg.Dir, "kv.db")
		before, err := os.Stat(path)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = s.Defragment(ctx, "")
		require.ErrorIs(t, err, context.Canceled)
		after, err := os.Stat(path)
		require.NoError(t, err)
		require.True(t, os.SameFile(before, after), "kv.db was replaced")
		_, err = os.Stat(path + ".defrag")
		require.ErrorIs(t, err, os.ErrNotExist, "the copy is removed")
	})
	t.Run("stopped", func(t *testing.T) {
		s, err := Open(Config{Dir: t.TempDir(), Logger: testLogger()})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		_, err = s.Defragment(t.Context(), "")
		require.ErrorIs(t, err, ErrStopped)
	})
}

func TestDefragSlotCodec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		granted bool
		err     error
	}{
		{"granted", true, nil},
		{"busy", false, nil},
		{"not leader", false, ErrNotLeader},
		{"other error", false, errors.New("disk on fire")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			granted, err := decodeSlotReply(encodeSlotReply(tc.granted, tc.err))
			require.Equal(t, tc.granted, granted)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err.Error())
			}
		})
	}
	for _, op := range []byte{slotAcquire, slotRenew, slotRelease} {
		req := encodeSlotRequest(op, 1<<40+3)
		require.Equal(t, byte(msgDefragSlot), req[0])
		gotOp, member, err := decodeSlotRequest(req[1:])
		require.NoError(t, err)
		require.Equal(t, op, gotOp)
		require.EqualValues(t, 1<<40+3, member)
	}
	for _, bad := range [][]byte{nil, {slotAcquire}, {0, 1}, {4, 1}, {slotAcquire, 0}, {slotAcquire, 1, 9}} {
		_, _, err := decodeSlotRequest(bad)
		require.ErrorIs(t, err, ErrCorruptCommand, "%x", bad)
	}
}

// FuzzDefragSlotMessages: arbitrary bytes never panic the slot message
// decoders, and what they accept re-encodes to the same bytes.
func FuzzDefragSlotMessages(f *testing.F) {
	f.Add(encodeSlotRequest(slotAcquire, 7)[1:])
	f.Add(encodeSlotReply(true, nil))
	f.Add(encodeSlotReply(false, ErrNotLeader))
	f.Add(encodeSlotReply(false, errors.New("x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if op, member, err := decodeSlotRequest(b); err == nil {
			require.Equal(t, b, encodeSlotRequest(op, member)[1:])
		}
		if granted, err := decodeSlotReply(b); err == nil {
			require.Equal(t, b, encodeSlotReply(granted, nil))
		}
	})
}
