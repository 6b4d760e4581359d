package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"
)

// call posts req to member i's control endpoint path and decodes the
// answer into resp. It fails with ErrMemberDown when the member is not
// running, ErrControl when it answered with an error.
func (c *Cluster) call(ctx context.Context, i int, path string, req, resp any) error {
	base, err := c.ctlAddr(i)
	if err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	r, err := c.hc.Do(hr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w: member %d: %w", ErrMemberDown, i, err)
		}
		return fmt.Errorf("%w: member %d %s: %w", ErrControl, i, path, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%w: member %d %s: %w", ErrControl, i, path, err)
	}
	if r.StatusCode != http.StatusOK {
		var e errorResponse
		_ = json.Unmarshal(b, &e) // a garbled error body still fails the call
		return fmt.Errorf("%w: member %d %s: %d %s", ErrControl, i, path, r.StatusCode, e.Err)
	}
	if err := json.Unmarshal(b, resp); err != nil {
		return fmt.Errorf("%w: member %d %s: %w", ErrControl, i, path, err)
	}
	return nil
}

// Executor returns a Executor that runs operations on member i
// through its control API (following restarts). A member that is down
// yields a dropped (not applied) outcome after a short back-off; a
// transport failure after the request was sent yields an unknown outcome
// for writes.
func (c *Cluster) Executor(i int) Executor { return memberExecutor{c: c, i: i} }

type memberExecutor struct {
	c *Cluster
	i int
}

var _ Executor = memberExecutor{}

// Exec runs in on the member; see Cluster.Executor for the outcomes.
func (e memberExecutor) Exec(ctx context.Context, in Input) (Output, error) {
	timeout := time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	// The member gets the op's timeout; the HTTP call gets some slack so
	// that the member's own classification usually comes back.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+time.Second)
	defer cancel()
	var resp ExecResponse
	err := e.c.call(hctx, e.i, pathExec, ExecRequest{Input: in, TimeoutMS: max(timeout.Milliseconds(), 1)}, &resp)
	switch {
	case errors.Is(err, ErrMemberDown):
		time.Sleep(50 * time.Millisecond) // don't spin on a dead member
		return Output{}, &RemoteError{Outcome: Dropped, Msg: err.Error()}
	case err != nil:
		return Output{}, &RemoteError{Outcome: Unknown, Msg: err.Error()}
	case resp.Outcome != Definite:
		return Output{}, &RemoteError{Outcome: resp.Outcome, Msg: resp.Err}
	}
	return resp.Output, nil
}

// Status returns member i's status.
func (c *Cluster) Status(ctx context.Context, i int) (StatusResponse, error) {
	var st StatusResponse
	err := c.call(ctx, i, pathStatus, struct{}{}, &st)
	return st, err
}

// Hash returns member i's state hash at rev (waiting until it applied it).
func (c *Cluster) Hash(ctx context.Context, i int, rev int64) (HashResponse, error) {
	var h HashResponse
	err := c.call(ctx, i, pathHash, HashRequest{Revision: rev}, &h)
	return h, err
}

// WatchStart starts recording a watch named id on member i.
func (c *Cluster) WatchStart(ctx context.Context, i int, id string, req WatchRequest) error {
	return c.call(ctx, i, pathWatchStart, WatchStartRequest{ID: id, Request: req}, &struct{}{})
}

// WatchStop stops watch id on member i once it saw until (or after a few
// seconds) and returns the recorded stream.
func (c *Cluster) WatchStop(ctx context.Context, i int, id string, until int64) (WatchStream, error) {
	var s WatchStream
	err := c.call(ctx, i, pathWatchStop, WatchStopRequest{ID: id, Until: until}, &s)
	return s, err
}

// GroundTruth returns member i's events from revision 1 to until.
func (c *Cluster) GroundTruth(ctx context.Context, i int, until int64) ([]Event, error) {
	var ev []Event
	err := c.call(ctx, i, pathGroundTruth, GroundTruthRequest{Until: until}, &ev)
	return ev, err
}

// Call invokes an extra endpoint (see RunMember) on member i.
func (c *Cluster) Call(ctx context.Context, i int, path string, req, resp any) error {
	return c.call(ctx, i, path, req, resp)
}

// LeaseGrant grants a lease of ttl seconds through member i.
func (c *Cluster) LeaseGrant(ctx context.Context, i int, ttl int64) (LeaseResponse, error) {
	var r LeaseResponse
	err := c.call(ctx, i, pathLeaseGrant, LeaseRequest{TTL: ttl, TimeoutMS: timeoutMS(ctx)}, &r)
	return r, err
}

// LeasePut puts key=value attached to lease id through member i.
func (c *Cluster) LeasePut(ctx context.Context, i int, id int64, key, value string) error {
	return c.call(ctx, i, pathLeasePut, LeaseRequest{ID: id, Key: key, Value: value, TimeoutMS: timeoutMS(ctx)}, &LeaseResponse{})
}

// LeaseKeepAlive renews lease id once through member i.
func (c *Cluster) LeaseKeepAlive(ctx context.Context, i int, id int64) (LeaseResponse, error) {
	var r LeaseResponse
	err := c.call(ctx, i, pathLeaseRenew, LeaseRequest{ID: id, TimeoutMS: timeoutMS(ctx)}, &r)
	return r, err
}

// timeoutMS is the member-side timeout for a call bounded by ctx: a bit
// less than what is left, so the answer usually arrives in time.
func timeoutMS(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 1000
	}
	return max(time.Until(dl).Milliseconds()-200, 1)
}
