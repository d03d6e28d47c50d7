package structure

import "errors"

// ErrExists is returned by writable stores when a project or namespace
// with the same id or name is already there.
var ErrExists = errors.New("already exists")

// OwnedElsewhereError refuses a structure write on a node that reads the
// structure from the engine: it is edited on its owner, the node with the
// SQLite file. It matches ErrReadOnly.
type OwnedElsewhereError struct {
	// Owner names the owner node, as it signed the snapshot.
	Owner string
}

func (e *OwnedElsewhereError) Error() string {
	return "the structure is read-only on this node: it is owned by " + e.Owner + " (structure.store: sqlite); make changes there"
}

// Is makes errors.Is(err, ErrReadOnly) true.
func (e *OwnedElsewhereError) Is(target error) bool { return target == ErrReadOnly }
