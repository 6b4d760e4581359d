package main

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, o options)
	}{
		{
			name: "defaults", args: nil,
			check: func(t *testing.T, o options) {
				require.Equal(t, 3, o.Rounds)
				require.Equal(t, targetNames(), o.Targets)
				require.Equal(t, allWorkloads(), o.Workloads)
				require.Equal(t, counts{W1: 2000, W2: 20000, W3: 50000, W4: 10000, W5: 4000, Keys: 10000}, o.Counts)
				require.NotZero(t, o.Seed)
				require.Empty(t, o.Child)
			},
		},
		{
			name: "subsets are deduplicated and put in run order", args: []string{"-targets", "keel-3,etcd-direct-3,keel-3", "-workloads", "w5,W1,w3s"},
			check: func(t *testing.T, o options) {
				require.Equal(t, []string{"keel-3", "etcd-direct-3"}, o.Targets)
				require.Equal(t, []workloadID{workloadW1, workloadW3s, workloadW5}, o.Workloads)
			},
		},
		{
			name: "explicit seed", args: []string{"-seed", "42"},
			check: func(t *testing.T, o options) { require.Equal(t, uint64(42), o.Seed) },
		},
		{name: "unknown target", args: []string{"-targets", "keel-5"}, wantErr: errUsage},
		{name: "unknown workload", args: []string{"-workloads", "W9"}, wantErr: errUsage},
		{name: "empty targets", args: []string{"-targets", " , "}, wantErr: errUsage},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: errUsage},
		{name: "negative count", args: []string{"-w2", "-1"}, wantErr: errUsage},
		{name: "zero keys", args: []string{"-keys", "0"}, wantErr: errUsage},
		{name: "bad seed", args: []string{"-seed", "x"}, wantErr: errUsage},
		{name: "not a number", args: []string{"-w1", "many"}, wantErr: errUsage},
		{name: "unknown flag", args: []string{"-scale", "2"}, wantErr: errUsage},
		{name: "stray argument", args: []string{"extra"}, wantErr: errUsage},
		{name: "unknown child", args: []string{"-child", "nope"}, wantErr: errUsage},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != nil {
				require.Error(t, err)
				require.True(t, errors.Is(err, tt.wantErr), "got %v", err)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestChildArgsRoundTrip(t *testing.T) {
	o, err := parseFlags([]string{"-targets", "keel-1,raft-boltdb-3", "-workloads", "W1,W4", "-w1", "7", "-keys", "9",
		"-seed", "5", "-dir", "/data", "-cpuprofile", "/p", "-trace", "/t"}, io.Discard)
	require.NoError(t, err)
	c, err := parseFlags(childArgs(o, "raft-boltdb-3", 2), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "raft-boltdb-3", c.Child)
	require.Equal(t, 2, c.Round)
	require.Equal(t, o.Workloads, c.Workloads)
	require.Equal(t, o.Counts, c.Counts)
	require.Equal(t, o.Seed, c.Seed)
	require.Equal(t, o.Dir, c.Dir)
	require.Equal(t, o.Profiles, c.Profiles)
}

func TestRotate(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		k    int
		want []string
	}{
		{name: "none", in: []string{"a", "b", "c"}, k: 0, want: []string{"a", "b", "c"}},
		{name: "one", in: []string{"a", "b", "c"}, k: 1, want: []string{"b", "c", "a"}},
		{name: "wraps", in: []string{"a", "b", "c"}, k: 4, want: []string{"b", "c", "a"}},
		{name: "empty", in: nil, k: 2, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, rotate(tt.in, tt.k)) })
	}
}
