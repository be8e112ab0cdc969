package collect

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// HTTPStatser is the epoll HTTP server (*httpserver.Server).
type HTTPStatser interface{ Stats() *httpserver.Stats }

// HTTPServer reports the HTTP server's connections, timeouts (slowloris: header
// timeouts; idle disconnects), malformed requests by reason, and bytes.
func HTTPServer(src HTTPStatser) prometheus.Collector {
	type snap = *httpserver.Stats
	f := func(name, help string, typ prometheus.ValueType, get func(snap) float64) family[snap] {
		return family[snap]{desc("http", name, help), typ, get}
	}
	malformed := desc("security", "malformed_requests_total", "Requests rejected by the HTTP parser, by reason.", "reason")
	return &snapshotCollector[snap]{
		read: src.Stats, // live atomics, read in place
		families: []family[snap]{
			f("connections_accepted_total", "Connections accepted.", counter, func(s snap) float64 { return float64(s.Accepted.Load()) }),
			f("connections_open", "Connections open.", gauge, func(s snap) float64 { return float64(s.Open.Load()) }),
			f("connections_active", "Connections running a request.", gauge, func(s snap) float64 { return float64(s.Active.Load()) }),
			f("connections_idle", "Keep-alive connections waiting for a request.", gauge, func(s snap) float64 { return float64(s.Idle.Load()) }),
			f("connections_refused_total", "Connections refused over the connection limit.", counter, func(s snap) float64 { return float64(s.LimitRejections.Load()) }),
			f("requests_total", "Requests handed to the handler.", counter, func(s snap) float64 { return float64(s.Requests.Load()) }),
			f("header_timeouts_total", "Connections cut for not sending a request head in time (slowloris).", counter, func(s snap) float64 { return float64(s.HeaderTimeouts.Load()) }),
			f("idle_timeouts_total", "Keep-alive connections closed when idle too long.", counter, func(s snap) float64 { return float64(s.IdleTimeouts.Load()) }),
			f("body_timeouts_total", "Request bodies that stalled past the body read timeout.", counter, func(s snap) float64 { return float64(s.BodyTimeouts.Load()) }),
			f("write_timeouts_total", "Responses that stalled past the write timeout.", counter, func(s snap) float64 { return float64(s.WriteTimeouts.Load()) }),
			f("tls_handshake_errors_total", "TLS handshakes that failed (a handshake that ran out of time is a header timeout).", counter, func(s snap) float64 { return float64(s.TLSHandshakeErrors.Load()) }),
			f("handler_panics_total", "Handler panics recovered.", counter, func(s snap) float64 { return float64(s.Panics.Load()) }),
			f("received_bytes_total", "Bytes read from clients, heads included.", counter, func(s snap) float64 { return float64(s.BytesIn.Load()) }),
			f("sent_bytes_total", "Bytes written to clients, heads included.", counter, func(s snap) float64 { return float64(s.BytesOut.Load()) }),
		},
		extraDsc: []*prometheus.Desc{malformed},
		extra: func(st snap, ch chan<- prometheus.Metric) {
			for r := 1; r < httpwire.NumReasons; r++ { // 0 is ReasonNone
				ch <- prometheus.MustNewConstMetric(malformed, counter, float64(st.Malformed[r].Load()), httpwire.Reason(r).String())
			}
		},
	}
}

// ArenaStatser is the arena block pool (*arena.Pool).
type ArenaStatser interface{ Stats() arena.PoolStats }

// Arena reports the request arenas' 64 KiB blocks.
func Arena(src ArenaStatser) prometheus.Collector {
	type snap = arena.PoolStats
	f := func(name, help string, typ prometheus.ValueType, get func(snap) float64) family[snap] {
		return family[snap]{desc("arena", name, help), typ, get}
	}
	return &snapshotCollector[snap]{
		read: src.Stats,
		families: []family[snap]{
			f("blocks_in_use", "64 KiB blocks held by connections and requests.", gauge, func(s snap) float64 { return float64(s.InUse) }),
			f("blocks_pooled", "64 KiB blocks idle in the pool.", gauge, func(s snap) float64 { return float64(s.Pooled) }),
			f("blocks_allocated_total", "64 KiB blocks created because the pool was empty.", counter, func(s snap) float64 { return float64(s.Allocated) }),
			f("oversize_allocations_total", "Arena allocations larger than a block, served from the heap.", counter, func(s snap) float64 { return float64(s.Oversize) }),
			f("leaks_total", "Arena allocations reported as leaked (arenadebug builds).", counter, func(s snap) float64 { return float64(s.Leaks) }),
		},
	}
}

// Drive is a drive with health tracking (*health.Drive).
type Drive interface {
	String() string
	Online() bool
	Stats() health.Stats
}

// LeftOuter is a drive that can be left out of a start (its format record could not be
// used): LeftOut returns the reason, a metric label, or "" while the drive serves.
type LeftOuter interface{ LeftOut() string }

// PlacedDrive is a drive at its position in the deployment: index Index of erasure set
// Set.
type PlacedDrive struct {
	Drive
	Set, Index int
}

// Drives reports each drive's state, calls, faults, timeouts and time spent (the mean
// latency is rate(busy_seconds) / rate(calls)), how many drives are online and offline,
// and, for drives that implement LeftOuter, which are left out and why (a left-out drive
// also counts as offline). list is called at each scrape, so drives may come and go.
//
// A drive's series are labelled by its position (set and index, from 0), which is what
// identifies it across restarts and says which drives share a set. Its file system path
// is added as label path only with withPath: a path tells whoever reads the metrics how
// the machine is laid out, which a scrape open to a monitoring system need not tell.
func Drives(list func() []PlacedDrive, withPath bool) prometheus.Collector {
	labels := []string{"set", "index"}
	if withPath {
		labels = append(labels, "path")
	}
	d := func(name, help string) *prometheus.Desc { return desc("drive", name, help, labels...) }
	return &drivesCollector{
		list:     list,
		withPath: withPath,
		leftOut:  desc("drive", "left_out", "1 for a drive left out of the start, with the reason (read_failed, corrupt_record, unknown_version, disagrees_with_quorum, other_deployment); healing brings it back.", append(labels, "reason")...),
		count:    desc("drives", "count", "Drives by state (online, offline, left_out).", "state"),
		online:   d("online", "1 if the drive is in use, 0 if it is offline."),
		calls:    d("calls_total", "Calls made to the drive."),
		faults:   d("faults_total", "Calls that failed with an I/O error."),
		timeouts: d("timeouts_total", "Calls that timed out."),
		offlines: d("offline_transitions_total", "Times the drive was taken offline."),
		busy:     d("busy_seconds_total", "Time spent in calls to the drive."),
	}
}

type drivesCollector struct {
	list                                                            func() []PlacedDrive
	withPath                                                        bool
	count, online, calls, faults, timeouts, offlines, busy, leftOut *prometheus.Desc
}

func (c *drivesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.count, c.online, c.calls, c.faults, c.timeouts, c.offlines, c.busy, c.leftOut} {
		ch <- d
	}
}

func (c *drivesCollector) Collect(ch chan<- prometheus.Metric) {
	var up, down, out float64
	for _, d := range c.list() {
		labels := []string{strconv.Itoa(d.Set), strconv.Itoa(d.Index)}
		if c.withPath {
			labels = append(labels, d.String())
		}
		st := d.Stats()
		if lo, ok := d.Drive.(LeftOuter); ok {
			if reason := lo.LeftOut(); reason != "" {
				out++
				ch <- prometheus.MustNewConstMetric(c.leftOut, gauge, 1, append(labels, reason)...)
			}
		}
		on := 0.0
		if d.Online() {
			on, up = 1, up+1
		} else {
			down++
		}
		ch <- prometheus.MustNewConstMetric(c.online, gauge, on, labels...)
		ch <- prometheus.MustNewConstMetric(c.calls, counter, float64(st.Calls), labels...)
		ch <- prometheus.MustNewConstMetric(c.faults, counter, float64(st.Faults), labels...)
		ch <- prometheus.MustNewConstMetric(c.timeouts, counter, float64(st.Timeouts), labels...)
		ch <- prometheus.MustNewConstMetric(c.offlines, counter, float64(st.Offlines), labels...)
		ch <- prometheus.MustNewConstMetric(c.busy, counter, time.Duration(st.BusyNanos).Seconds(), labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.count, gauge, up, "online")
	ch <- prometheus.MustNewConstMetric(c.count, gauge, down, "offline")
	ch <- prometheus.MustNewConstMetric(c.count, gauge, out, "left_out")
}

// Set is one erasure set's usable drives beside its quorums (objstore.SetHealth).
type Set struct {
	Index, Drives, Usable, ReadQuorum, WriteQuorum int
}

// Sets reports each erasure set's usable drives, quorums and state: degraded (fewer usable
// drives than it has), and whether it has its read and its write quorum. list is called at
// each scrape.
func Sets(list func() []Set) prometheus.Collector {
	f := func(name, help string) *prometheus.Desc { return desc("erasure_set", name, help, "set") }
	return &setsCollector{
		list:        list,
		drives:      f("drives", "Drives of the set."),
		usable:      f("drives_usable", "Drives of the set that serve (not offline, not left out)."),
		degraded:    f("degraded", "1 if the set has fewer usable drives than drives."),
		readQuorum:  f("read_quorum_ok", "1 if the set has its read quorum (its objects can be read)."),
		writeQuorum: f("write_quorum_ok", "1 if the set has its write quorum (it takes writes)."),
	}
}

type setsCollector struct {
	list                                              func() []Set
	drives, usable, degraded, readQuorum, writeQuorum *prometheus.Desc
}

func (c *setsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.drives, c.usable, c.degraded, c.readQuorum, c.writeQuorum} {
		ch <- d
	}
}

func (c *setsCollector) Collect(ch chan<- prometheus.Metric) {
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, s := range c.list() {
		set := strconv.Itoa(s.Index)
		ch <- prometheus.MustNewConstMetric(c.drives, gauge, float64(s.Drives), set)
		ch <- prometheus.MustNewConstMetric(c.usable, gauge, float64(s.Usable), set)
		ch <- prometheus.MustNewConstMetric(c.degraded, gauge, flag(s.Usable < s.Drives), set)
		ch <- prometheus.MustNewConstMetric(c.readQuorum, gauge, flag(s.Usable >= s.ReadQuorum), set)
		ch <- prometheus.MustNewConstMetric(c.writeQuorum, gauge, flag(s.Usable >= s.WriteQuorum), set)
	}
}

// AuditStatser is the audit log (*audit.Log).
type AuditStatser interface{ Stats() audit.Stats }

// Audit reports the audit log's records: queued, dropped by reason, written, failed.
func Audit(src AuditStatser) prometheus.Collector {
	type snap = audit.Stats
	f := func(name, help string, get func(snap) float64) family[snap] {
		return family[snap]{desc("audit", name, help), counter, get}
	}
	dropped := desc("audit", "records_dropped_total", "Audit records dropped before they were queued, by reason (full: the shard's ring was full; busy: every shared shard was in use; closed: emitted after shutdown).", "reason")
	return &snapshotCollector[snap]{
		read: src.Stats,
		families: []family[snap]{
			f("records_accepted_total", "Audit records queued.", func(s snap) float64 { return float64(s.Accepted) }),
			f("records_written_total", "Audit records delivered to the file or webhook.", func(s snap) float64 { return float64(s.Written) }),
			f("records_failed_total", "Audit records in batches the file or webhook failed to take.", func(s snap) float64 { return float64(s.Failed) }),
			f("sink_errors_total", "Failed batch writes to the file or webhook.", func(s snap) float64 { return float64(s.SinkErrors) }),
		},
		extraDsc: []*prometheus.Desc{dropped},
		extra: func(s snap, ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(dropped, counter, float64(s.DroppedFull), "full")
			ch <- prometheus.MustNewConstMetric(dropped, counter, float64(s.DroppedBusy), "busy")
			ch <- prometheus.MustNewConstMetric(dropped, counter, float64(s.DroppedClosed), "closed")
		},
	}
}

// FeedRelayStats are the counters of a cluster node's change relay (package feedrelay's
// Stats, copied by the caller: this package does not import the core).
type FeedRelayStats struct {
	Sent, Batches, Received, Late, Back, Lost, TimedOut, WatchStarts int64
	// Receivers is the number of other nodes the relay sends to now.
	Receivers int
}

// FeedRelay reports a cluster node's change relay, read at scrape time.
func FeedRelay(read func() FeedRelayStats) prometheus.Collector {
	type snap = FeedRelayStats
	f := func(name, help string, get func(snap) float64) family[snap] {
		return family[snap]{desc("feed_relay", name, help), counter, get}
	}
	return &snapshotCollector[snap]{
		read: read,
		families: []family[snap]{
			f("events_sent_total", "Changes of this node delivered to other nodes' mounts.", func(s snap) float64 { return float64(s.Sent) }),
			f("requests_sent_total", "Requests (batches of changes) delivered to other nodes.", func(s snap) float64 { return float64(s.Batches) }),
			f("events_received_total", "Changes of other nodes run through this node's mounts.", func(s snap) float64 { return float64(s.Received) }),
			f("receivers_late_total", "Times a receiving node did not answer within the bound and writes stopped waiting for it.", func(s snap) float64 { return float64(s.Late) }),
			f("receivers_back_total", "Times a late receiving node answered again.", func(s snap) float64 { return float64(s.Back) }),
			f("events_lost_total", "Changes that did not reach a receiving node (it was told to resync later).", func(s snap) float64 { return float64(s.Lost) }),
			f("writes_timed_out_total", "Writes whose wait for the receiving nodes ended at the bound.", func(s snap) float64 { return float64(s.TimedOut) }),
			f("watch_starts_total", "Starts of the etcd watch of the receiving nodes: one, then one per restart after a break (etcd unreachable, a silent member).", func(s snap) float64 { return float64(s.WatchStarts) }),
			{desc("feed_relay", "receivers", "Other nodes (with a mount) this node sends its changes to."), gauge, func(s snap) float64 { return float64(s.Receivers) }},
		},
	}
}
