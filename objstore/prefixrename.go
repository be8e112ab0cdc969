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
