package app

import "runtime"

// DefaultCardModule is the CPS card's PKCS#11 module where the ANS card
// middleware (Cryptolib CPS v5) installs it on this operating system: a
// bare DLL name on Windows (LoadLibrary finds it in System32), a full path
// elsewhere. A card credential with no module configured uses it.
func DefaultCardModule() string { return defaultCardModule(runtime.GOOS) }

func defaultCardModule(goos string) string {
	switch goos {
	case "windows":
		return "cps3_pkcs11_w64.dll"
	case "darwin":
		return "/usr/local/lib/libcps3_pkcs11_osx.dylib"
	default:
		return "/usr/lib/x86_64-linux-gnu/libcps3_pkcs11_lux.so"
	}
}
