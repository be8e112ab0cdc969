package feedrelay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// peer sends this node's changes to one receiving node, in order, batching what queues
// while a request is in flight.
type peer struct {
	r    *Relay
	name string
	url  string
	// queue holds the events not sent yet; done, when set, is closed once the event's
	// request ended (delivered or not).
	queue chan item
	// late: a writer gave up waiting for this receiver; writers do not wait for it until
	// a request succeeds again.
	late atomic.Bool
	// lost: events for this receiver were lost since its last delivery; the next request
	// asks it to resync.
	lost atomic.Bool
	// kick makes the sender send now (an empty batch if nothing is queued): see resync.
	kick chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
}

type item struct {
	ev   Event
	done chan struct{}
}

func newPeer(r *Relay, name string) *peer {
	p := &peer{r: r, name: name, url: r.cfg.Scheme + "://" + name + EventsPath, queue: make(chan item, queueLen),
		kick: make(chan struct{}, 1), quit: make(chan struct{})}
	p.wg.Go(p.run)
	return p
}

// offer queues it without blocking; a full queue loses it (and the receiver resyncs).
func (p *peer) offer(it item) bool {
	select {
	case p.queue <- it:
		return true
	default:
		p.r.lost.Add(1)
		p.lost.Store(true)
		return false
	}
}

// resync asks the receiver to resync now, with the next request or an empty one: it may
// have missed changes before this node knew of it.
func (p *peer) resync() {
	p.lost.Store(true)
	select {
	case p.kick <- struct{}{}:
	default: // a kick is pending already
	}
}

func (p *peer) markLate() {
	if p.late.CompareAndSwap(false, true) {
		p.r.late.Add(1)
		p.r.log.Warn("feed relay: a receiving node did not answer in time; writes no longer wait for it until it answers again (its mounts may serve stale caches meanwhile)",
			"receiver", p.name, "wait", p.r.cfg.Wait)
	}
}

func (p *peer) markBack() {
	if p.late.CompareAndSwap(true, false) {
		p.r.back.Add(1)
		p.r.log.Info("feed relay: a late receiving node answers again; writes wait for it again", "receiver", p.name)
	}
}

// stop ends the sender; the writers waiting for its queued events stop waiting.
func (p *peer) stop() {
	close(p.quit)
	p.wg.Wait()
	for {
		select {
		case it := <-p.queue:
			if it.done != nil {
				close(it.done)
			}
		default:
			return
		}
	}
}

// run sends batches until stop. After a failed request it sends again (an empty batch if
// nothing queued, asking for a resync) every ProbeEvery; a kick sends at once.
func (p *peer) run() {
	var probe <-chan time.Time
	var timer *time.Timer
	for {
		batch := make([]item, 0, 8)
		select {
		case <-p.quit:
			return
		case it := <-p.queue:
			batch = append(batch, it)
		case <-probe:
		case <-p.kick:
		}
	fill:
		for len(batch) < MaxEvents {
			select {
			case it := <-p.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		resync := p.lost.Swap(false)
		if len(batch) == 0 && !resync {
			continue // a kick whose resync went out with an earlier request
		}
		err := p.send(batch, resync)
		// The counters and states first: a writer that returns sees them.
		if err == nil {
			p.r.sent.Add(int64(len(batch)))
			p.r.batches.Add(1)
			p.markBack()
		} else {
			p.r.lost.Add(int64(len(batch)))
			p.lost.Store(true)
			p.markLate()
			p.r.log.Warn("feed relay: sending changes failed", "receiver", p.name, "events", len(batch), "err", err)
		}
		for _, it := range batch {
			if it.done != nil {
				close(it.done)
			}
		}
		if err == nil {
			probe = nil
			continue
		}
		if timer == nil {
			timer = time.NewTimer(ProbeEvery)
		} else {
			timer.Reset(ProbeEvery)
		}
		probe = timer.C
	}
}

// send makes one request.
func (p *peer) send(batch []item, resync bool) error {
	b := Batch{Resync: resync, Events: make([]Event, len(batch))}
	for i, it := range batch {
		b.Events[i] = it.ev
	}
	var body bytes.Buffer
	if err := encode(&body, &b); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	ctx, cancel := context.WithTimeout(context.Background(), p.r.cfg.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	q := url.Values{"from": {p.r.cfg.Self}, "sum": {hex.EncodeToString(sum[:])}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"?"+q.Encode(), &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	remote.SignRequest(req, p.r.cfg.Secret)
	resp, err := p.r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
