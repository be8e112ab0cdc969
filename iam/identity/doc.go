// Package identity keeps the IAM identities of a deployment: users and their access keys,
// groups, managed and inline policies, and roles to assume.
//
// A Manager holds the whole state in memory, as an immutable Snapshot that requests read
// without locks, and writes every change through a Store before it publishes the new
// snapshot and tells its subscribers (the decision cache) that the epoch moved on. The
// Store is the one small interface a deployment implements: on one node the object
// store's system area (ObjectStore), in a cluster the coordination store
// (package etcdstore, over etcd, whose watch calls Reload when another node
// saved); identitytest is the conformance suite every implementation passes.
//
// Secret access keys are sealed before they reach a Store (AES-256-GCM under a key derived
// from the root secret, see Sealer) and never appear in a log line or an error.
package identity
