// Package wal is Keel's raft log store: a segmented write-ahead log that
// implements raft.LogStore, raft.MonotonicLogStore and raft.StableStore
// (hashicorp/raft v1.8.0) with one fsync per StoreLogs batch.
//
//	w, err := wal.Open(dir, wal.Config{})
//	...
//	r, err := raft.NewRaft(conf, fsm, w, w, snaps, trans)
//
// This comment is the format and crash-safety specification.
//
// # Files
//
// A WAL directory holds:
//
//   - wal.meta: the meta file, replaced atomically (write wal.meta.tmp,
//     fsync, rename over wal.meta, fsync the directory). It holds the list
//     of live segments (ID, base index, and for sealed segments the index
//     of the last live entry), the head boundary (the first index after a
//     head truncation), the next segment ID, and every stable-store key.
//     It is the commit point of every structural change.
//   - <16 hex digit ID>.seg: segment files. IDs only increase and are never
//     reused. A segment is created at Config.SegmentSize (64 MiB by
//     default) filled with real zeros and fsynced, and its directory entry
//     is fsynced, before the meta lists it. A batch larger than a segment
//     gets a segment of its own, sized to fit.
//   - next.seg.tmp: the next segment, preallocated in the background (zeros,
//     fsynced) once the tail segment is half full, or when there is no open
//     tail segment (an empty log, a sealed tail). Rotation renames it to
//     the new segment's name, writes the header and fsyncs the header and
//     the directory, so the SegmentSize bytes of zeros are not written on
//     the write path; without a ready spare it creates the segment itself.
//
// Files not listed in the meta (segments being created or deleted when the
// process stopped, a leftover wal.meta.tmp or next.seg.tmp) are removed by
// Open.
//
// # Segment format
//
// All integers are little endian. A segment starts with a 32-byte header:
// magic "KEELSEG\x00", version u32 (2), CRC32C u32 of the other header
// bytes, segment ID u64, base index u64 (the index of its first entry).
// Frames follow, each at an 8-byte aligned offset:
//
//	crc u32 | type u8 | 3 zero bytes | length u32 | 4 zero bytes | payload | zero pad to 8
//
// The CRC is CRC32C (Castagnoli) over the segment ID and the frame's own
// file offset (16 bytes, as a seed), header bytes 4..16 and the payload, so a
// frame is only valid in the file and at the place it was written. Type 1 is
// an entry, type 2 a commit; type 0 (zero bytes) is unwritten space. The
// reserved bytes and the padding must be zero (they are not covered by the
// CRC, so this is checked separately).
//
// An entry payload is: index u64, term u64, type u8, flags u8, AppendedAt as
// unix seconds i64 and nanoseconds u32, data length u32, data, extensions
// length u32, extensions. Flags record whether AppendedAt is set and whether
// Data and Extensions are nil, so every raft.Log field round-trips (AppendedAt
// as an instant: time.Unix of the stored value, without monotonic reading or
// location; the zero time stays zero). An entry's encoding is limited to
// MaxEntrySize.
//
// A commit payload is: first index u64, entry count u64, offset of the
// batch's first frame u64, durable offset u64 and a fixed 8-byte trailer.
// The durable offset is the offset up to which the segment was known to
// be on stable storage when the batch was written: the end of the last
// batch of the segment whose sync had completed (without
// Config.DeferSync, the previous batch; with it, the batches the
// background sync had covered), or the end of the header for a segment's
// first batch (segments are created synced). It never decreases within a
// segment and is at most the batch's own offset. It costs no I/O: it is
// known when the batch is encoded. StoreLogs writes a
// batch's entry frames and its commit frame with one write, then calls
// Sync once: one fsync per batch (group commit). A batch never spans
// segments: if it does not fit, the tail segment is sealed (in the meta)
// and a new one is created first.
//
// Segments of version 1, written before commit frames recorded a durable
// offset, have a 32-byte commit payload without it. They are still read
// (see Recovery); new segments are always version 2. A segment version
// this package does not know is ErrCorrupt.
//
// # Deferred sync
//
// With Config.DeferSync, StoreLogs writes the batch and returns; a
// background goroutine fsyncs the tail segment, one fsync covering every
// batch written before it started (group commit across calls). Durable
// reports the last index on stable storage and WaitDurable waits for one.
// Rotation, DeleteRange and Close first make every written batch durable,
// so only the tail segment ever holds unsynced batches; a tail truncation
// lowers Durable to the new last index. A failed background sync
// fail-stops the WAL like a failed synchronous one. Open syncs the
// recovered tail once before reporting it durable (a crashed process may
// have left unsynced bytes in the page cache). A crash loses a suffix of
// the batches that were not durable, and the durable offset in commit
// frames records only what a completed sync covered.
// Config.DeferWhen lets the owner choose per call: when it returns false,
// StoreLogs waits for the background sync before returning (Keel defers
// only while its member leads).
//
// # Index
//
// Open scans every live segment and keeps, per segment, a slice of frame
// offsets, so GetLog is one slice lookup and one ReadAt (the frame's CRC is
// checked again on every read). The newest segment also keeps its newest
// entries, up to Config.ReadCacheBytes (1 MiB) of encoded size, in memory,
// and GetLog returns an entry held there without reading the file: in a
// raft member nearly every read is of an entry just stored (replication on
// a leader, apply on a follower). The cache holds the raft.Log values
// StoreLogs was given, so their Data and Extensions are the caller's:
// StoreLogs' caller must not modify them afterwards (raft never does), and
// GetLog's caller must treat them as read-only. Indexes are contiguous
// across the whole log; StoreLogs rejects a batch that does not start at
// LastIndex()+1 with ErrOutOfOrder, except when the log is empty (after
// Open of a new directory or a DeleteRange of everything), when any start
// index is accepted. Opening reads each segment once through a reused 1 MiB
// buffer (sealed segments only up to their last entry; runs of zeros are
// skipped quickly); memory for the index is 16 bytes per entry.
//
// # Recovery
//
// Open reads the meta (a damaged meta is ErrCorrupt) and scans each listed
// segment (a missing one is ErrCorrupt):
//
//   - A sealed segment must hold complete, committed entries from its base
//     through its recorded last index; damage anywhere before that is
//     ErrCorrupt. Frames after it are leftovers of a tail truncation and
//     are ignored.
//   - The tail segment is read until the first invalid frame, at offset X
//     (the break). Everything from the last valid commit frame before X on
//     is dropped: the entries of a torn batch, and any valid frames after
//     X. Every batch whose StoreLogs returned without Config.DeferSync, or
//     that Durable covered, is kept: its bytes were synced, so a crash does
//     not tear them. A complete batch that was not yet durable may be kept
//     too.
//   - X is instead reported as ErrCorrupt (a *CorruptError naming the
//     segment and offset) when it cannot be a torn write. Let D be the
//     highest durable offset recorded by any valid commit frame of the
//     segment, before or after X (a valid frame after X is the segment's
//     own, written later: its CRC is seeded with the segment ID and its
//     offset). If X < D, bytes that were synced before a later batch was
//     written are damaged: ErrCorrupt. If X >= D, the frame at X must have
//     the shape of a torn write: one of its parts in a 512-byte sector
//     reads as all zeros (a sector that never reached the disk), or it
//     runs past the end of the file, or every byte from its last one to
//     the end of the file is zero (a write cut short). A frame at X
//     without that shape (a flipped bit, garbage), or whose length runs
//     into the next valid frame, is ErrCorrupt: it may be an acknowledged
//     batch that no later commit frame vouches for (see Caveats). A valid
//     frame whose index does not follow its predecessor (an index gap),
//     whose commit does not match its batch, or that records an impossible
//     durable offset (beyond its batch, or lower than an earlier one) is
//     ErrCorrupt too.
//   - A version 1 tail segment is read with the rules of version 1, which
//     assume a crash loses a suffix of the unsynced bytes: X is ErrCorrupt
//     if a valid frame exists at a later offset of the segment, or if the
//     bytes at X are one bit flip away from the commit frame that would
//     close the pending batch. Open then seals it at its last complete
//     batch (or drops it if it has none), so new batches go to a version 2
//     segment.
//   - If any non-zero byte follows the last kept commit of the tail
//     segment, the segment is sealed in the meta (or dropped if it holds
//     no batch) so new batches go to a fresh file and never mix with torn
//     bytes. Open syncs the tail before it writes that meta, so a sealed
//     segment's entries are durable.
//
// Recovery never silently drops data before the durable offset recorded
// by a valid commit frame, never returns entries that failed a check, and
// never panics: every length is checked against the bytes actually
// present and against MaxEntrySize before it is used.
//
// # Truncation
//
// DeleteRange removes a prefix (log compaction after a snapshot), a suffix
// (raft conflict truncation) or everything (after a snapshot restore, which
// raft does because IsMonotonic returns true). Each writes the meta first and
// then unlinks the segment files that became dead, so a crash reopens to
// either the old or the new log, never a mix. A prefix deletion drops whole
// segments and records the new first index, which hides the remaining
// deleted entries of the first segment; live data is never rewritten. A
// suffix deletion seals the segment holding the new last entry at that
// index; new batches go to a new segment. A range that would leave a hole in
// the middle returns ErrUnsupportedRange.
//
// # Stable store
//
// Set, Get, SetUint64 and GetUint64 keep all keys in memory and in the meta
// file, rewritten atomically on every Set (raft sets keys only on term
// changes and votes). A missing key returns (nil, nil) from Get and (0, nil)
// from GetUint64, which raft treats as "not set". As in raft.InmemStore,
// uint64 keys and byte keys are separate namespaces.
//
// # Failures
//
// If any write, sync, rename or file creation on the write path fails, the
// WAL is fail-stopped: that call and every later mutating call (StoreLogs,
// DeleteRange, Set, SetUint64) return an error wrapping both ErrFailed and
// the cause, and Err reports it. Reads (GetLog, FirstIndex, LastIndex, Get,
// GetUint64) keep serving what was acknowledged before the failure, each
// entry re-verified by its CRC: raft panics when it cannot read its own
// log, and the owner needs time to shut the member down. fsync is never
// retried (after a failed fsync the page cache state is unknown); close the
// WAL and reopen it, which recovers every acknowledged batch. After Close
// every method returns ErrClosed.
//
// # Concurrency
//
// A *WAL is safe for concurrent use. Writers are serialised; GetLog,
// FirstIndex, LastIndex, Get and GetUint64 never wait for an fsync in
// progress. GetLog concurrent with a head truncation may return ErrNotFound
// for an index that was just deleted, as raft expects.
//
// # Caveats
//
//   - Only one process may open a directory at a time; the WAL does not
//     lock it.
//   - Config.NoSync makes every write unsafe against OS crashes.
//   - The spare segment takes SegmentSize bytes of disk beyond the live
//     segments while the tail is more than half full, and writing it
//     competes for the disk with the log's own syncs (once per segment). A rotation that finds no spare ready (two
//     rotations in quick succession) creates the segment on the write path.
//   - The crash model is that of a POSIX file system with fsync and an
//     fsync of the directory after create, rename and unlink. A crash
//     (power loss, or one in the middle of an fsync) may persist any subset
//     of the unsynced 512-byte sectors or 4 KiB pages of a segment, in any
//     order, or lose everything written after some byte; a page that did
//     not reach the disk reads as its previous content, which in the
//     unwritten part of a segment is the synced, preallocated zeros. Such
//     a torn tail is recovered: the log reopens to the durable batches and
//     possibly some complete batches after them. Other damage is
//     ErrCorrupt, except as follows.
//   - The newest acknowledged batches are those after the highest durable
//     offset any commit frame records: without DeferSync the last batch,
//     with it those covered by the last completed background syncs (until
//     a later batch is written). No commit frame vouches for them, so
//     damage to them is told from a torn write only by its shape: a
//     flipped bit or garbage is ErrCorrupt, but damage shaped exactly like
//     a torn write (a 512-byte sector of the batch zeroed, say by a write
//     the disk acknowledged and then lost, or a flip in a frame that has a
//     zeroed sector of its own data) is recovered as one, and those
//     batches are dropped. A sync cannot vouch for itself without a second
//     sync per batch.
//   - A version 1 tail segment is recovered with version 1's rules, which
//     refuse a reordered torn tail (a later page persisted, an earlier one
//     not) as ErrCorrupt; once Open has sealed it, this no longer matters.
//     Code that reads only version 1 refuses a version 2 segment as
//     ErrCorrupt ("bad segment header"): there is no downgrade.
package wal
