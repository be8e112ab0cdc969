// Package feedrelay carries a cluster node's change feed to the other nodes, so that a
// mount on node B drops its kernel caches of a key before the S3 call on node A that
// changed the key returns, as a mount does for the changes of its own node.
//
// # Who receives
//
// A node whose mounts want other nodes' changes calls Relay.Receive: it puts the key
// ReceiverPrefix+<host:port> in etcd under a lease of its own (kept alive while it
// receives, gone ReceiverTTL after the node dies). Every node watches that prefix and keeps
// one sender per receiving node. That is all the etcd traffic: one key per mount's life,
// none per write, and the watch's progress request every heartbeat.
//
// The watch of the prefix is package etcdwatch's loop. When it breaks (etcd unreachable,
// a compaction, a member that lost its leader) the relay keeps sending to the receivers
// it knows, and the read before the watch starts again sets them right: the nodes that
// registered meanwhile are added, those whose key went away are dropped (Stats.WatchStarts
// counts the starts). A member that goes silent without closing its connection (a paused
// process, a host cut off without a reset) is taken for a break after three heartbeats
// without a word (Config.Heartbeat, DefaultHeartbeat 2 s): the read and the creation of
// the next watch wait three heartbeats at most each and the next attempt goes to another
// member, so the relay sees the receivers again within seconds (about four heartbeats,
// plus three for each attempt sent to the silent member again), not after the 10 to 15 s
// of gRPC's keep-alive, or never. Meanwhile a node that registered gets nothing from this
// node (the window of Receive's doc, a watch's delay, grows to that recovery): a receiver
// that the read after a break finds new is asked to resync (Batch.Resync) at once, since
// it may have missed this node's changes. A receiver gone meanwhile is still sent to: its
// requests fail, it is marked late and not waited for.
//
// # Sending: a bounded wait, batched
//
// The relay subscribes to its node's feed. For every change the node commits (every event
// but those it received from other nodes, and but bucket-config events, which etcd's watch
// carries to every node already), the writer's call queues the event for every receiving
// node and waits, up to Config.Wait (DefaultWait) in all, until each has run it through its
// own subscribers. Each receiver's sender sends what is queued as one request (up to
// MaxEvents): while one request is in flight, the writers that come meanwhile make the
// next batch.
//
// A receiver that does not answer within the bound is marked late: the writers after it do
// not wait for it (their events are still sent, in the background, in order) until a
// request to it succeeds again. Both transitions are logged and counted (Stats). A request
// that fails loses its events; the receiver's sender then probes it every ProbeEvery, and
// the first request that reaches it asks for a resync (Batch.Resync): the receiving node
// publishes objstore.EventResync, and its mounts drop every cache they hold.
//
// # Wire protocol, version 1
//
//	POST /flashstor/feed/v1/events?from=<host:port>&sum=<hex SHA-256 of the body>
//
// with the node token of package remote (header X-Flashstor-Node: its MAC covers the path
// and the query, so sum binds the body to it). The body is a JSON Batch. Answers: 200 once
// every event ran through the receiving node's subscribers; 401 (empty body) without valid
// credentials or when the body does not match sum; 400 for a malformed request (query,
// body over MaxBody, JSON, an unknown event type, an invalid bucket name or key); 404 for
// another path or method; 503 before the node serves. An event's object info is sent
// without its list of parts. A new incompatible protocol gets a
// new prefix (v2); a node answers 404 to a version it does not speak.
package feedrelay
