/*
 * bcryptprimitives.dll shim for Wine 8, which lacks ProcessPrng (Go 1.22+
 * binaries import it for crypto/rand). ProcessPrng fills a buffer with
 * random bytes from the system CSPRNG; here it forwards to
 * SystemFunction036 (RtlGenRandom, advapi32), which Wine implements.
 *
 * Test-only: built from this source by MinGW during `make wine-test`
 * (scripts/windows/wine-prefix.sh) and copied into the throwaway Wine
 * prefix's system32. Never shipped in the MSI: real Windows 10+ has it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
