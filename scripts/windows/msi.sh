#!/usr/bin/env bash
# msi.sh BUILD_DIR VERSION — Carnet-VERSION.msi from BUILD_DIR/carnet.exe
# with wixl (msitools): icon converted from assets/icon.png (ImageMagick),
# then, when CARNET_SIGN_CERT and CARNET_SIGN_KEY name a certificate and
# key (PEM), signed with osslsigncode; without them a throwaway self-signed
# test certificate signs it (a real one comes from the clinic's CA).
set -euo pipefail
dir=$1 version=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ -f "$dir/carnet.exe" ] || { echo "msi: $dir/carnet.exe missing (make windows)" >&2; exit 1; }
convert assets/icon.png -define icon:auto-resize=256,64,48,32,16 "$dir/carnet.ico"
out="$dir/Carnet-$version.msi"
# wixl takes no absolute source paths: it runs in the build directory.
(cd "$dir" && wixl -a x64 -D Version="$version" -D BuildDir=. -o "$(basename "$out").unsigned" "$root/scripts/windows/carnet.wxs")
cert=${CARNET_SIGN_CERT:-} key=${CARNET_SIGN_KEY:-}
if [ -z "$cert" ]; then
	cert="$dir/test-sign.crt" key="$dir/test-sign.key"
	if [ ! -f "$cert" ]; then
		openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj "/CN=Carnet TEST code signing (not trusted)" \
			-addext "extendedKeyUsage=codeSigning" -keyout "$key" -out "$cert" 2>/dev/null
	fi
	echo "msi: signing with a TEST certificate ($cert)"
fi
rm -f "$out"
osslsigncode sign -certs "$cert" -key "$key" -n "Carnet" -h sha256 -in "$out.unsigned" -out "$out" >/dev/null
rm -f "$out.unsigned"
osslsigncode verify -CAfile "$cert" -in "$out" >/dev/null 2>&1 || echo "msi: note: signature made; verification against the test CA is informative only"
msiinfo streams "$out" >/dev/null
echo "msi: $out ($(du -h "$out" | cut -f1))"
