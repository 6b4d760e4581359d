package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/internal/chaos"
	"github.com/keeldb/keel/lock"
)

// Extra control endpoints served by child members for the lock check.
// They live in test files because internal/chaos may not import lock
// (layering rule).
const (
	pathLock   = "/lock"
	pathUnlock = "/unlock"
)

type lockRequest struct {
	Holder    string `json:"holder"`
	Prefix    string `json:"prefix"`
	TTL       int    `json:"ttl"`
	TimeoutMS int64  `json:"timeout_ms"`
}

type lockResponse struct {
	Token int64 `json:"token"`
}

type unlockRequest struct {
	Holder string `json:"holder"`
}

// lockHandlers returns the child's lock endpoints: /lock opens a session
// and acquires a mutex, /unlock releases it and closes the session.
func lockHandlers() map[string]chaos.Handler {
	var mu sync.Mutex
	held := map[string]*lock.Session{}
	muts := map[string]*lock.Mutex{}
	return map[string]chaos.Handler{
		pathLock: func(ctx context.Context, s *keel.Store, body []byte) (any, error) {
			var req lockRequest
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
			defer cancel()
			// The request's ctx bounds NewSession's calls but not the
			// session, which outlives the request until /unlock.
			life, end := context.WithCancel(context.Background())
			detach := context.AfterFunc(ctx, end)
			sess, err := lock.NewSession(s, lock.WithTTL(req.TTL), lock.WithContext(life))
			if !detach() || err != nil {
				end()
				if err == nil {
					err = ctx.Err()
				}
				return nil, err
			}
			m := lock.NewMutex(sess, req.Prefix)
			if err := m.Lock(ctx); err != nil {
				_ = sess.Close() // best effort: revokes the lease
				return nil, err
			}
			mu.Lock()
			held[req.Holder], muts[req.Holder] = sess, m
			mu.Unlock()
			return lockResponse{Token: m.Token()}, nil
		},
		pathUnlock: func(ctx context.Context, _ *keel.Store, body []byte) (any, error) {
			var req unlockRequest
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, err
			}
			mu.Lock()
			sess, m := held[req.Holder], muts[req.Holder]
			delete(held, req.Holder)
			delete(muts, req.Holder)
			mu.Unlock()
			if sess == nil {
				return nil, fmt.Errorf("no lock held by %q", req.Holder)
			}
			uerr := m.Unlock(ctx)
			return struct{}{}, errors.Join(uerr, sess.Close())
		},
	}
}

// lockWorker repeatedly acquires the lock through member i, enters the
// fenced resource, holds it, writes with its token, leaves and unlocks,
// until stop is closed.
func lockWorker(ctx context.Context, c *chaos.Cluster, i int, holder, prefix string, res *chaos.FencedResource, stop <-chan struct{}) (grants int, violations []error) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return grants, violations
		default:
		}
		h := fmt.Sprintf("%s-%d", holder, n)
		var lr lockResponse
		lctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		err := c.Call(lctx, i, pathLock, lockRequest{Holder: h, Prefix: prefix, TTL: 2, TimeoutMS: 3000}, &lr)
		cancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond) // member down or lock busy: try again
			continue
		}
		grants++
		if err := res.Enter(h, lr.Token); err != nil {
			violations = append(violations, err)
		}
		// Mostly short holds; every fourth outlasts the session TTL, so a
		// holder whose member is killed or paused meanwhile loses the lock
		// to a newer token while still "inside" (fencing must reject it).
		hold := 50 * time.Millisecond
		if n%4 == 3 {
			hold = 2500 * time.Millisecond
		}
		time.Sleep(hold)
		_ = res.Write(lr.Token) // a stale token is rejected: that is fencing working
		res.Exit(h)
		uctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_ = c.Call(uctx, i, pathUnlock, unlockRequest{Holder: h}, &struct{}{}) // a dead member's lease expires
		cancel()
	}
}
