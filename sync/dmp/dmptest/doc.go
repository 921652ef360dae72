// Package dmptest is the sandbox central record service: the same wire
// protocol as the DMP's FHIR interface, its access rules, and synthetic
// patients, deterministic by seed. Tests, demo mode and `carnet sandbox` use
// it. It never imports the client (sync/dmp), so the two cannot agree on a
// mistake by sharing code.
//
// For now it holds the synthetic population; the service itself arrives with
// the central-service issue.
package dmptest
