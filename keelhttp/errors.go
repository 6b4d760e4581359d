package keelhttp

import "errors"

// ErrNoLeader is the reason StatusHealth gives while the member knows no
// leader.
var ErrNoLeader = errors.New("keelhttp: no leader")
