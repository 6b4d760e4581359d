package keel

// ReleaseVersion is the version of Keel, reported as Status.Version.
// (Version is the compare target of a key's version, as in clientv3.)
const ReleaseVersion = "0.1.0"
