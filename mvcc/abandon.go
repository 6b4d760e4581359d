package mvcc

// Abandon closes the store the way a crash would: pending changes that the
// background committer has not yet written to bbolt are dropped, so the
// file keeps only what was committed (with the consistent index that covers
// it). It exists for crash tests of code built on mvcc; after a real crash
// the raft log replays what was dropped. Like Close it stops every
// goroutine and is idempotent (together with Close: whichever runs first
// decides).
func (s *Store) Abandon() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown(false) })
	return s.closeErr
}
