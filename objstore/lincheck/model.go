// Package lincheck checks that an object store's histories are linearizable: concurrent
// clients record every put, conditional put, get and delete they make on a few hot keys,
// and porcupine (github.com/anishathalye/porcupine) searches for a single order of those
// operations that respects real time and the sequential semantics of an S3 object. A store
// that loses a write, shows a stale or torn value after a newer write returned, or lets two
// If-None-Match creations both win has no such order, and the check fails with a picture of
// the history.
//
// The model knows nothing of how the store is reached: a Store adapter drives the object
// layer directly (LayerStore), the S3 face through an SDK (in the faces' tests), or a
// cluster of nodes; the same model, recorder and workload serve all of them.
package lincheck

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

// The operations on a key.
const (
	// Put stores a value: unconditionally, or under Cond.
	Put Kind = iota + 1
	// Get reads the key's value.
	Get
	// Delete removes the key's value; it succeeds whether or not there is one.
	Delete
)

// Cond is the precondition of a Put, as S3 has them on writes.
type Cond uint8

const (
	// Always writes whatever the key holds.
	Always Cond = iota
	// IfAbsent is If-None-Match: *: the write succeeds only if the key holds nothing, else
	// it fails with 412 Precondition Failed.
	IfAbsent
	// IfMatch is If-Match: ETag: the write succeeds only if the key holds the value whose
	// ETag was sent (Input.Match), fails with 412 if it holds another, and with 404 if it
	// holds nothing (S3's answer to a conditional write on a missing key).
	IfMatch
)

// A Value identifies one written body; 0 is "no value" (the key is absent). Every write
// of a history writes a value of its own, so a read names the write it saw.
type Value uint64

// Input is an operation as its client called it.
type Input struct {
	Key  string
	Kind Kind
	// Cond is a Put's precondition.
	Cond Cond
	// Value is the value a Put writes.
	Value Value
	// Match is, for a Put under IfMatch, the value whose ETag the client sent.
	Match Value
}

// Status is how an operation ended.
type Status uint8

const (
	// Unknown: the client does not know whether the operation took effect (it timed out,
	// its connection broke). Such an operation may have taken effect at any time after its
	// call, or never; Recorder gives it no return time.
	Unknown Status = iota
	// OK: the operation took effect (a Get: it read Output.Value).
	OK
	// NotFound: a Get found no value; a Put under IfMatch found no value to match; a
	// Delete found nothing to delete (the object layer says so, S3 does not).
	NotFound
	// PreconditionFailed: a conditional Put did not take effect because its condition was
	// false.
	PreconditionFailed
)

// Output is how an operation ended.
type Output struct {
	Status Status
	// Value is what a Get read.
	Value Value
}

// Model is the sequential specification of one S3 object per key, partitioned by key: a
// history is linearizable if and only if each key's operations are, which keeps the
// search small. A key's state is the Value it holds (0: absent).
var Model = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return Value(0) },
	Step: func(state, input, output any) (bool, any) {
		return step(state.(Value), input.(Input), output.(Output))
	},
	DescribeOperation: func(input, output any) string {
		return describe(input.(Input), output.(Output))
	},
	DescribeState: func(state any) string {
		if state.(Value) == 0 {
			return "absent"
		}
		return fmt.Sprintf("%x", uint64(state.(Value)))
	},
}

// step applies one operation to a key holding cur: whether the operation could have
// returned out there, and what the key holds after it. An Unknown outcome is any outcome
// the operation could have had: a write that may have failed is linearized either where
// its effect shows or (having no return time) after everything, where it shows nowhere.
func step(cur Value, in Input, out Output) (bool, Value) {
	unknown := out.Status == Unknown
	switch in.Kind {
	case Get:
		if unknown {
			return true, cur // a read that told nothing
		}
		if cur == 0 {
			return out.Status == NotFound, cur
		}
		return out.Status == OK && out.Value == cur, cur
	case Delete:
		return unknown || out.Status == OK || out.Status == NotFound && cur == 0, 0
	case Put:
		var want Status
		switch {
		case in.Cond == IfAbsent && cur != 0:
			want = PreconditionFailed
		case in.Cond == IfMatch && cur == 0:
			want = NotFound
		case in.Cond == IfMatch && cur != in.Match:
			want = PreconditionFailed
		default:
			want = OK
		}
		if !unknown && out.Status != want {
			return false, cur
		}
		if want == OK {
			return true, in.Value
		}
		return true, cur
	}
	return false, cur
}

// partitionByKey splits a history into one history per key.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := op.Input.(Input).Key
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// describe renders an operation for the visualization: "put(k, 1a) if-match 0f -> 412".
func describe(in Input, out Output) string {
	var op string
	switch in.Kind {
	case Get:
		op = fmt.Sprintf("get(%s)", in.Key)
	case Delete:
		op = fmt.Sprintf("delete(%s)", in.Key)
	case Put:
		op = fmt.Sprintf("put(%s, %x)", in.Key, uint64(in.Value))
		switch in.Cond {
		case IfAbsent:
			op += " if-none-match *"
		case IfMatch:
			op += fmt.Sprintf(" if-match %x", uint64(in.Match))
		}
	}
	var res string
	switch out.Status {
	case Unknown:
		res = "?"
	case OK:
		res = "ok"
		if in.Kind == Get {
			res = fmt.Sprintf("%x", uint64(out.Value))
		}
	case NotFound:
		res = "404"
	case PreconditionFailed:
		res = "412"
	}
	return op + " -> " + res
}
