// Package keeltest runs Keel clusters inside a test: n members in the test's
// process, on loopback TCP, each with its own data directory under
// t.TempDir(), cleaned up when the test ends. It is for the tests of
// services that embed Keel, and it is what Keel's own tests use.
//
//	func TestFailover(t *testing.T) {
//		c := keeltest.NewCluster(t, 3)
//		l := c.Leader()
//		if _, err := l.Put(t.Context(), "k", "v"); err != nil {
//			t.Fatal(err)
//		}
//		c.Crash(c.Index(l))
//		// ... the service keeps working against c.Leader() ...
//	}
//
// # Members and faults
//
// Members are addressed by position, 0 to n-1 (member i's ID is "m<i>").
// Members, Member, Leader and Follower return the running *keel.Store
// values; Index maps one back to its position. Faults:
//
//   - Stop closes a member gracefully (a leader hands leadership over).
//   - Crash stops it as a killed process would: no hand-over, and the
//     state it had not committed is lost (see Cluster.Crash).
//   - Restart starts it again on the same Dir and address.
//   - Isolate and Heal cut a member off from the others and reconnect it;
//     Cut, Lose (one-way loss) and Delay act on the link between two
//     members; HealAll lifts every network fault.
//
// WaitLeader and WaitConverged wait for the cluster to serve and for its
// members to agree, returning errors rather than failing the test, so they
// can be called from any goroutine.
//
// # Guarantees
//
//   - A member's address is bound for the cluster's whole life, so a
//     stopped member always restarts on it, and a cluster never takes
//     another's (tests can run in parallel).
//   - Cleanup closes every member and waits for every goroutine the
//     cluster started: a test that checks for leaked goroutines (goleak)
//     passes.
//   - Multi-member clusters use a short raft heartbeat (HeartbeatTimeout),
//     so a failover takes about a second. WithConfig changes any Config
//     field but the ID, address and peers.
//   - Setting KEEL_TEST_LOG in the environment prints every member's log
//     to stderr.
//   - WithBackup starts a new cluster from a backup (keel.RestoreMember on
//     every member's Dir before its first start).
//
// # Caveats
//
//   - Network faults act on the connections members dial to each other
//     (all of their traffic), through Config.Dial; a WithConfig hook's Dial
//     is kept underneath them.
//   - Crash models a killed process, not a power loss: writes the raft log
//     handed to the operating system survive it.
//   - Only tests import this package: it imports testing. A service that
//     embeds Keel and does not import keeltest builds none of it.
package keeltest
