//go:build race

package engine_test

// raceEnabled: the tests run under the race detector (go test -race).
const raceEnabled = true
