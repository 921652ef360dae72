package app

import (
	"os"
	"os/user"
	"strings"
	"sync"
)

// LocalOperator names, in the audit log, the person at the computer when
// no practitioner is signed in (no card session): "local:" and the
// operating system session's user name, so that an inbox decision taken
// without the card still says who took it. "local" alone when the system
// names nobody.
func LocalOperator() string { return localOperator() }

var localOperator = sync.OnceValue(func() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	for _, env := range []string{"USER", "USERNAME", "LOGNAME"} {
		if name != "" {
			break
		}
		name = os.Getenv(env)
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" {
		return "local"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return "local:" + name
})
