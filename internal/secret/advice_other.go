//go:build !windows

package secret

// privateFileAdvice tells how to make path readable by its owner alone.
func privateFileAdvice(path string) string {
	return "chmod 600 " + path
}
