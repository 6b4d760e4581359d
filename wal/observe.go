package wal

import "time"

// syncEntries fsyncs segment s after entries were written to it and
// reports the fsync's duration to Config.ObserveSync.
func (w *WAL) syncEntries(s *segment) error {
	start := time.Now()
	err := s.f.Sync()
	w.cfg.ObserveSync(time.Since(start))
	return err
}
