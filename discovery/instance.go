package discovery

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Instance is one registered instance of a service. It is stored as JSON
// under <prefix>/<Service>/<ID>.
type Instance struct {
	// Service names the service; required, without "/".
	Service string `json:"service"`
	// ID identifies the instance within its service; required.
	ID string `json:"id"`
	// Addr is where the instance can be reached, typically "host:port".
	Addr string `json:"addr,omitempty"`
	// Metadata holds free-form attributes (version, zone, weight, ...).
	Metadata map[string]string `json:"metadata,omitempty"`
}

func validService(service string) error {
	switch {
	case service == "":
		return ErrEmptyService
	case strings.Contains(service, "/"):
		return fmt.Errorf("%w: %q", ErrInvalidService, service)
	}
	return nil
}

func (in Instance) validate() error {
	if err := validService(in.Service); err != nil {
		return err
	}
	if in.ID == "" {
		return ErrEmptyID
	}
	return nil
}

// encodeInstance returns the stored form of in.
func encodeInstance(in Instance) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("discovery: encode instance: %w", err)
	}
	return string(b), nil
}

// decodeInstance parses the record stored under key for service. The
// record must be a JSON object naming the same service and ID as its key.
func decodeInstance(prefix, service, key string, val []byte) (Instance, error) {
	var in Instance
	if err := json.Unmarshal(val, &in); err != nil {
		return Instance{}, fmt.Errorf("%w: %q: %w", ErrInvalidRecord, key, err)
	}
	id := strings.TrimPrefix(key, servicePrefix(prefix, service))
	if in.Service != service || in.ID != id || in.ID == "" {
		return Instance{}, fmt.Errorf("%w: %q holds service %q, id %q", ErrInvalidRecord, key, in.Service, in.ID)
	}
	if len(in.Metadata) == 0 {
		in.Metadata = nil // one form for "no metadata"
	}
	return in, nil
}

func servicePrefix(prefix, service string) string { return prefix + "/" + service + "/" }

func instanceKey(prefix string, in Instance) string {
	return servicePrefix(prefix, in.Service) + in.ID
}
