package admin

import "errors"

// ErrExists is returned by writable stores when a project or namespace
// with the same id or name is already there.
var ErrExists = errors.New("already exists")
