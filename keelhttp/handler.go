package keelhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keeldb/keel"
)

// DefaultTimeout bounds each /health and /status call when
// Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Member is what the handler asks: *keel.Store implements it. The
// handler asks Status with endpoint "": the member about itself.
type Member interface {
	Status(ctx context.Context, endpoint string) (*keel.StatusResponse, error)
	Health(ctx context.Context) (*keel.HealthResponse, error)
}

// HealthFunc reports whether the member is healthy: nil if it is, else
// an error whose text is the reason /health reports.
type HealthFunc func(ctx context.Context) error

// Options configures NewHandler. The zero value serves /health from the
// member's Health (can it serve a linearizable read now?), /status, and
// no /metrics.
type Options struct {
	// Health decides /health. nil means the member's Health; StatusHealth
	// is a cheaper check that makes no round trip.
	Health HealthFunc
	// Metrics serves /metrics (for example promhttp.HandlerFor with the
	// registry keelprom registered on); nil answers 404.
	Metrics http.Handler
	// Timeout bounds each /health and /status call; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// StatusHealth returns a HealthFunc that calls m.Status: healthy when it
// succeeds and names a leader.
func StatusHealth(m Member) HealthFunc {
	return func(ctx context.Context) error {
		st, err := m.Status(ctx, "")
		if err != nil {
			return err
		}
		if st.Leader == 0 {
			return ErrNoLeader
		}
		return nil
	}
}

// NewHandler returns a handler serving /health, /status and /metrics for
// m (see the package documentation).
func NewHandler(m Member, opts Options) http.Handler {
	if opts.Health == nil {
		opts.Health = func(ctx context.Context) error {
			_, err := m.Health(ctx)
			return err
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	h := &handler{m: m, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", h.health)
	mux.HandleFunc("GET /status", h.status)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	return mux
}

type handler struct {
	m    Member
	opts Options
}

// healthBody is /health's JSON, in etcd's shape.
type healthBody struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	if err := h.opts.Health(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Health: "false", Reason: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Health: "true"})
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	st, err := h.m.Status(ctx, "")
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, struct {
			Error string `json:"error"`
		}{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// writeJSON writes v as the JSON body of a response with code. A body
// that cannot be encoded is a programming error: it answers 500.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "keelhttp: encoding the response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
