package objstore

import "context"

// PrefixRenamer is an object layer that renames a "directory" (every key below a prefix)
// as one crash-safe operation: once RenamePrefix has started moving keys, a crash at any
// point is followed, at the next start or heal, by the completion of the rename, so that
// no tree is left half under each name. Readers during the rename see some keys under each
// name. The mount's directory rename uses it when the layer has it.
type PrefixRenamer interface {
	// RenamePrefix moves every key that starts with srcPrefix to dstPrefix followed by the
	// rest of the key; both prefixes end in "/" and neither contains the other. An object
	// at key dstPrefix (a directory's marker) is replaced by the one at srcPrefix, or
	// removed if there is none. The caller checks that nothing else is below dstPrefix.
	// ErrKeyTooLong, before anything moves, if a moved key would be too long. An error
	// once keys move leaves the rename to be completed by the next RecoverJournal.
	RenamePrefix(ctx context.Context, bucket, srcPrefix, dstPrefix string, opts RenamePrefixOptions) error
}

// RenamePrefixOptions are the options of RenamePrefix.
type RenamePrefixOptions struct {
	// KeyLists name metadata entries that hold lists of keys of the bucket (a URL-escaped
	// JSON array of strings, as the mount keeps the names of a file with hard links). Once
	// the keys moved, every such list that names a moved key is rewritten with its new key,
	// in every object the list names whose own list is that list.
	KeyLists []string
}

// NameSyncer is an object layer that makes the several keys of one file (the names of a
// file with hard links, each a copy) crash-safe: the caller commits its intent, then
// writes the keys, then calls done. If a crash (or an error) stops it in between, the next
// start or heal completes it: every name is then a copy of one of them, content and
// metadata, so that no two names differ and every name's list of names is true.
type NameSyncer interface {
	// BeginNameSync commits the intent s durably. The caller then changes the keys (any
	// of them, in any order) and calls end: with whole true once they are as s says, or
	// if it changed none of them, which removes the intent; with false when it stopped part
	// way, which leaves the intent for the layer to complete (at its next recovery). end's
	// error means the intent could not be removed: it may be completed again after a
	// restart, which copies a name onto the others once more.
	BeginNameSync(ctx context.Context, bucket string, s NameSync) (end func(whole bool) error, err error)
}

// NameSync is the intent of a change to the names of a file.
type NameSync struct {
	// Src is the name whose object every other name becomes a copy of when the intent is
	// completed; it is one of Names.
	Src string
	// Names are the file's names once the change is made; Removed the names it removes.
	Names, Removed []string
	// KeyList is the metadata entry that holds the list of Names on every name (as a
	// URL-escaped JSON array); Meta are entries set with it (a group id). When one name is
	// left, both are removed from it.
	KeyList string
	Meta    map[string]string
}
