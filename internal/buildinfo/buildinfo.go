// Package buildinfo holds Carnet's version and application id: what the
// binary says of itself (FyneApp.toml says the same), and what the
// central-service clients send as the software's name and version.
package buildinfo

// Version is Carnet's version (FyneApp.toml says the same).
const Version = "0.1.0"

// AppID is the application id (FyneApp.toml).
const AppID = "io.github.carnetdesk.carnet"
