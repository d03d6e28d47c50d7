// Package docs holds the documents the server also serves: the OpenAPI
// description of the server API, embedded so a binary serves the document
// it was built with.
package docs

import _ "embed"

// OpenAPI is docs/openapi.json, the OpenAPI 3.1 document of the server API
// (POST /api/{method}).
//
//go:embed openapi.json
var OpenAPI []byte
