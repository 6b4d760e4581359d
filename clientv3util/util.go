package clientv3util

import "github.com/keeldb/keel"

// KeyExists returns a compare that holds when key exists: its version is
// greater than 0.
func KeyExists(key string) keel.Cmp {
	return keel.Compare(keel.Version(key), ">", 0)
}

// KeyMissing returns a compare that holds when key does not exist: its
// version is 0.
func KeyMissing(key string) keel.Cmp {
	return keel.Compare(keel.Version(key), "=", 0)
}
