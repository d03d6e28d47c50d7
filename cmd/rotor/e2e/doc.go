// Package e2e runs the real rotor binary end to end: HTTP/2 over
// TLS and h2c, a real nginx in front, SIGTERM drains with the memory and
// Redis engines, /metrics, /healthz and /readyz, and the backend recipes of
// docs/backends.md run as programs against it. It has tests only; the
// binary is built once per `go test` run from this module.
//
// docs/config-reference.yaml is generated from config.Generate:
//
//go:generate go test -run TestConfigReference -update .
package e2e
