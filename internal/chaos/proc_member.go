package chaos

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keeldb/keel"
)

// EnvMember is the environment variable that carries a child member's
// MemberConfig as JSON.
const EnvMember = "KEEL_CHAOS_MEMBER"

// MemberConfig configures one child member process.
type MemberConfig struct {
	ID    string      `json:"id"`
	Dir   string      `json:"dir"`
	Addr  string      `json:"addr"`
	Peers []keel.Peer `json:"peers"`
	// Routes maps each peer's listen address to the proxy this member must
	// dial instead.
	Routes map[string]string `json:"routes"`
	// HeartbeatTimeout is keel's HeartbeatTimeout.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
	// LogPath receives the member's keel log (JSON lines, appended).
	LogPath string `json:"log_path"`
	// CtlAddrFile is where the member writes its control address once it
	// serves.
	CtlAddrFile string `json:"ctl_addr_file"`
	// StaleReads deliberately breaks the member: its exec Gets are
	// serializable (local, possibly stale). Only for proving that the
	// suite detects violations.
	StaleReads bool `json:"stale_reads,omitempty"`
}

// Handler is an extra control endpoint, given the member's store (used by
// tests for calls that need packages this one may not import, like lock).
type Handler func(ctx context.Context, s *keel.Store, body []byte) (any, error)

// RunMember opens the member described by cfg, serves the control API on
// 127.0.0.1 until ctx ends, then closes the store. extra adds endpoints by
// path.
func RunMember(ctx context.Context, cfg MemberConfig, extra map[string]Handler) error {
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	logf, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: member log: %w", ErrSetup, err)
	}
	defer logf.Close()
	logger := slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	routes := cfg.Routes
	var d net.Dialer
	s, err := keel.Open(keel.Config{
		ID: cfg.ID, Dir: cfg.Dir, Addr: cfg.Addr, Peers: cfg.Peers,
		HeartbeatTimeout: cfg.HeartbeatTimeout, Logger: logger,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			if p, ok := routes[addr]; ok {
				addr = p
			}
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	if err != nil {
		return fmt.Errorf("%w: open: %w", ErrSetup, err)
	}
	defer s.Close()
	m := &memberServer{s: s, kv: s, watches: map[string]*memberWatch{}, ctx: ctx}
	if cfg.StaleReads {
		m.kv = staleKV{s}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("%w: control listen: %w", ErrSetup, err)
	}
	mux := http.NewServeMux()
	m.handle(mux, pathExec, m.exec)
	m.handle(mux, pathStatus, m.status)
	m.handle(mux, pathHash, m.hash)
	m.handle(mux, pathWatchStart, m.watchStart)
	m.handle(mux, pathWatchStop, m.watchStop)
	m.handle(mux, pathGroundTruth, m.groundTruth)
	m.handle(mux, pathLeaseGrant, m.leaseGrant)
	m.handle(mux, pathLeasePut, m.leasePut)
	m.handle(mux, pathLeaseRenew, m.leaseRenew)
	for p, h := range extra {
		m.handle(mux, p, func(ctx context.Context, body []byte) (any, error) { return h(ctx, s, body) })
	}
	srv := &http.Server{Handler: mux, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	tmp := cfg.CtlAddrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	if err := os.Rename(tmp, cfg.CtlAddrFile); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	logger.Info("chaos member serving", "control", ln.Addr().String(), "pid", os.Getpid())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("%w: control server: %w", ErrSetup, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx) // best effort: the process is exiting
	m.stopWatches()
	return nil
}

// LoadMemberConfig decodes the MemberConfig in EnvMember; ok is false when
// the variable is unset (not a child).
func LoadMemberConfig() (cfg MemberConfig, ok bool, err error) {
	v := os.Getenv(EnvMember)
	if v == "" {
		return cfg, false, nil
	}
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		return cfg, true, fmt.Errorf("%w: %s: %w", ErrInvalidArgument, EnvMember, err)
	}
	if cfg.Dir == "" || cfg.ID == "" || cfg.CtlAddrFile == "" || cfg.LogPath == "" {
		return cfg, true, fmt.Errorf("%w: %s lacks id, dir, log or control file", ErrInvalidArgument, EnvMember)
	}
	return cfg, true, nil
}

type memberServer struct {
	s   *keel.Store
	kv  keel.KV // what exec runs against
	ctx context.Context

	mu      sync.Mutex
	watches map[string]*memberWatch
}

type memberWatch struct {
	cancel context.CancelFunc
	wr     *WatchRecorder
}

func (m *memberServer) handle(mux *http.ServeMux, path string, h func(context.Context, []byte) (any, error)) {
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorResponse{Err: err.Error()})
			return
		}
		v, err := h(r.Context(), body)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorResponse{Err: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the harness sees a torn body as an error
}

func decode[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return v, nil
}

func (m *memberServer) exec(ctx context.Context, body []byte) (any, error) {
	req, err := decode[ExecRequest](body)
	if err != nil {
		return nil, err
	}
	if req.TimeoutMS <= 0 {
		req.TimeoutMS = 1000
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
	defer cancel()
	out, err := Exec(ctx, m.kv, req.Input)
	resp := ExecResponse{Output: out, Outcome: Classify(req.Input.Kind, err)}
	if err != nil {
		resp.Err = err.Error()
	}
	return resp, nil
}

func (m *memberServer) status(ctx context.Context, _ []byte) (any, error) {
	st, err := m.s.Status(ctx, "")
	if err != nil {
		return nil, err
	}
	return StatusResponse{ID: m.s.ID(), Leader: st.LeaderName, IsLeader: st.IsLeader, Revision: st.Header.Revision,
		Applied: st.RaftAppliedIndex, RaftIndex: st.RaftLastIndex, Term: st.Header.RaftTerm, Pid: os.Getpid()}, nil
}

func (m *memberServer) hash(ctx context.Context, body []byte) (any, error) {
	req, err := decode[HashRequest](body)
	if err != nil {
		return nil, err
	}
	for {
		st, err := m.s.Status(ctx, "")
		if err != nil {
			return nil, err
		}
		if st.Header.Revision >= req.Revision {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("member at revision %d, waiting for %d: %w", st.Header.Revision, req.Revision, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	r, err := m.s.Get(ctx, "", keel.WithPrefix(), keel.WithRev(req.Revision), keel.WithSerializable())
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, kv := range r.Kvs {
		put(kv.Key)
		put(kv.Value)
		for _, x := range []int64{kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease} {
			binary.BigEndian.PutUint64(n[:], uint64(x))
			h.Write(n[:])
		}
	}
	st, err := m.s.Status(ctx, "")
	if err != nil {
		return nil, err
	}
	return HashResponse{Hash: h.Sum64(), Keys: len(r.Kvs), Revision: req.Revision, Current: st.Header.Revision}, nil
}

func (m *memberServer) watchStart(_ context.Context, body []byte) (any, error) {
	req, err := decode[WatchStartRequest](body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.watches[req.ID]; dup {
		return nil, fmt.Errorf("%w: watch %q exists", ErrInvalidArgument, req.ID)
	}
	wctx, cancel := context.WithCancel(m.ctx)
	m.watches[req.ID] = &memberWatch{cancel: cancel, wr: RecordWatch(wctx, m.s, nil, m.s.ID(), req.Request, 0)}
	return struct{}{}, nil
}

func (m *memberServer) watchStop(ctx context.Context, body []byte) (any, error) {
	req, err := decode[WatchStopRequest](body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	w, ok := m.watches[req.ID]
	delete(m.watches, req.ID)
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: no watch %q", ErrInvalidArgument, req.ID)
	}
	deadline := time.Now().Add(5 * time.Second)
wait:
	for w.wr.Stream().LastRevision() < req.Until && time.Now().Before(deadline) && ctx.Err() == nil {
		_ = m.s.RequestProgress(ctx) // a caught-up watch then reports the revision; errors end with the store
		select {
		case <-w.wr.Done():
			break wait
		case <-time.After(50 * time.Millisecond):
		}
	}
	w.cancel()
	<-w.wr.Done()
	return w.wr.Stream(), nil
}

func (m *memberServer) stopWatches() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, w := range m.watches {
		w.cancel()
		<-w.wr.Done()
		delete(m.watches, id)
	}
}

func (m *memberServer) groundTruth(ctx context.Context, body []byte) (any, error) {
	req, err := decode[GroundTruthRequest](body)
	if err != nil {
		return nil, err
	}
	ev, err := GroundTruth(ctx, m.s, req.Until)
	if err != nil {
		return nil, err
	}
	if ev == nil {
		ev = []Event{}
	}
	return ev, nil
}

// staleKV serves every Get serializably (see MemberConfig.StaleReads).
type staleKV struct{ keel.KV }

// Get reads key serializably, whatever opts say.
func (k staleKV) Get(ctx context.Context, key string, opts ...keel.OpOption) (*keel.GetResponse, error) {
	return k.KV.Get(ctx, key, append(opts, keel.WithSerializable())...)
}
