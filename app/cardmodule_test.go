package app

import "testing"

// TestDefaultCardModule: the CPS PKCS#11 module per operating system.
func TestDefaultCardModule(t *testing.T) {
	for goos, want := range map[string]string{
		"windows": "cps3_pkcs11_w64.dll",
		"darwin":  "/usr/local/lib/libcps3_pkcs11_osx.dylib",
		"linux":   "/usr/lib/x86_64-linux-gnu/libcps3_pkcs11_lux.so",
	} {
		if got := defaultCardModule(goos); got != want {
			t.Errorf("defaultCardModule(%s) = %q, want %q", goos, got, want)
		}
	}
	if DefaultCardModule() == "" {
		t.Fatal("no default module on this system")
	}
}
