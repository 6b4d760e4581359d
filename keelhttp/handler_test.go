package keelhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keelhttp"
)

// fakeMember answers Status with st and err, and Health with health.
type fakeMember struct {
	st     *keel.StatusResponse
	err    error
	health error
}

func (f fakeMember) Status(context.Context, string) (*keel.StatusResponse, error) { return f.st, f.err }

func (f fakeMember) Health(context.Context) (*keel.HealthResponse, error) {
	return &keel.HealthResponse{Health: f.health == nil}, f.health
}

// get serves a request for path on h and returns the response.
func get(tb testing.TB, h http.Handler, method, path string) *http.Response {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(tb.Context(), method, path, nil))
	return rec.Result()
}

// decode decodes resp's JSON body into v.
func decode(tb testing.TB, resp *http.Response, v any) {
	tb.Helper()
	defer resp.Body.Close()
	require.Equal(tb, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(v))
}

type healthBody struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

func TestHealth(t *testing.T) {
	leader := &keel.StatusResponse{Header: &keel.ResponseHeader{MemberId: 7}, Leader: 7, LeaderName: "a", IsLeader: true}
	tests := []struct {
		name       string
		member     fakeMember
		health     keelhttp.HealthFunc
		wantCode   int
		wantReason string
	}{
		{name: "healthy", member: fakeMember{st: leader}, wantCode: http.StatusOK},
		{name: "unhealthy", member: fakeMember{st: leader, health: keel.ErrCorrupt}, wantCode: http.StatusServiceUnavailable,
			wantReason: keel.ErrCorrupt.Error()},
		{name: "status health: leader known", member: fakeMember{st: leader, health: keel.ErrCorrupt},
			health: keelhttp.StatusHealth(fakeMember{st: leader}), wantCode: http.StatusOK},
		{name: "status health: no leader", member: fakeMember{st: &keel.StatusResponse{}},
			health: keelhttp.StatusHealth(fakeMember{st: &keel.StatusResponse{}}), wantCode: http.StatusServiceUnavailable,
			wantReason: keelhttp.ErrNoLeader.Error()},
		{name: "status health: status fails", member: fakeMember{err: keel.ErrStopped},
			health: keelhttp.StatusHealth(fakeMember{err: keel.ErrStopped}), wantCode: http.StatusServiceUnavailable,
			wantReason: keel.ErrStopped.Error()},
		{name: "custom health overrides status", member: fakeMember{st: leader},
			health: func(context.Context) error { return errors.New("quota exceeded") }, wantCode: http.StatusServiceUnavailable,
			wantReason: "quota exceeded"},
		{name: "custom health passes", member: fakeMember{err: keel.ErrStopped},
			health: func(context.Context) error { return nil }, wantCode: http.StatusOK},
		{name: "timeout bounds the check", member: fakeMember{st: leader},
			health: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, wantCode: http.StatusServiceUnavailable,
			wantReason: context.DeadlineExceeded.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := keelhttp.NewHandler(tc.member, keelhttp.Options{Health: tc.health, Timeout: 50 * time.Millisecond})
			resp := get(t, h, http.MethodGet, "/health")
			require.Equal(t, tc.wantCode, resp.StatusCode)
			var body healthBody
			decode(t, resp, &body)
			wantHealth := "true"
			if tc.wantCode != http.StatusOK {
				wantHealth = "false"
			}
			require.Equal(t, healthBody{Health: wantHealth, Reason: tc.wantReason}, body)
		})
	}
}

func TestStatus(t *testing.T) {
	st := &keel.StatusResponse{Header: &keel.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4},
		Leader: 7, LeaderName: "a", IsLeader: true, RaftIndex: 9, RaftAppliedIndex: 8, CompactRevision: 1}
	resp := get(t, keelhttp.NewHandler(fakeMember{st: st}, keelhttp.Options{}), http.MethodGet, "/status")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got keel.StatusResponse
	decode(t, resp, &got)
	require.Equal(t, *st, got)

	resp = get(t, keelhttp.NewHandler(fakeMember{err: keel.ErrStopped}, keelhttp.Options{}), http.MethodGet, "/status")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var e struct{ Error string }
	decode(t, resp, &e)
	require.Equal(t, keel.ErrStopped.Error(), e.Error)
}

func TestRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("keel_up 1\n")) })
	m := fakeMember{st: &keel.StatusResponse{Leader: 7, LeaderName: "a"}}
	tests := []struct {
		name    string
		opts    keelhttp.Options
		method  string
		path    string
		want    int
		wantRaw string
	}{
		{name: "metrics when given", opts: keelhttp.Options{Metrics: metrics}, method: http.MethodGet, path: "/metrics",
			want: http.StatusOK, wantRaw: "keel_up 1\n"},
		{name: "no metrics handler", method: http.MethodGet, path: "/metrics", want: http.StatusNotFound},
		{name: "head health", method: http.MethodHead, path: "/health", want: http.StatusOK},
		{name: "post health", method: http.MethodPost, path: "/health", want: http.StatusMethodNotAllowed},
		{name: "post status", method: http.MethodPost, path: "/status", want: http.StatusMethodNotAllowed},
		{name: "unknown path", method: http.MethodGet, path: "/nope", want: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, keelhttp.NewHandler(m, tc.opts), tc.method, tc.path)
			defer resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode)
			if tc.wantRaw != "" {
				var b [64]byte
				n, _ := resp.Body.Read(b[:])
				require.Equal(t, tc.wantRaw, string(b[:n]))
			}
		})
	}
}

// TestStore serves a real single-member Store over HTTP.
func TestStore(t *testing.T) {
	s, err := keel.Open(keel.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	srv := httptest.NewServer(keelhttp.NewHandler(s, keelhttp.Options{}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/health")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var hb healthBody
	decode(t, resp, &hb)
	require.Equal(t, "true", hb.Health)

	resp, err = srv.Client().Get(srv.URL + "/status")
	require.NoError(t, err)
	var st keel.StatusResponse
	decode(t, resp, &st)
	require.True(t, st.IsLeader)
	require.Equal(t, s.ID(), st.LeaderName)
	require.Equal(t, s.MemberID(), st.Leader)

	require.NoError(t, s.Close())
	resp, err = srv.Client().Get(srv.URL + "/health")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	decode(t, resp, &hb)
	require.Equal(t, healthBody{Health: "false", Reason: keel.ErrStopped.Error()}, hb)
	srv.CloseClientConnections()
}
