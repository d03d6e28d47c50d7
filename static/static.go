// Package static embeds the files browsers load as they are: the admin
// UI's stylesheet and script, and the JS client (rotor.js) when it is built.
package static

import (
	"embed"
	"io/fs"
)

//go:embed all:assets
var embedded embed.FS

// Assets is the embedded assets directory: admin.css, admin.js, and
// whatever else is under static/assets.
var Assets fs.FS = mustSub(embedded, "assets")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant that go:embed guarantees exists
	}
	return sub
}
