#!/bin/sh
# Regenerates the checked-in CSR vectors with Debian's openssl (keys are thrown away).
# The tests also build a larger corpus on the fly (tests/openssl_corpus.rs); these few files are
# stable inputs for the doctest, tests/vectors.rs and the csr_validate fuzz seeds.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[req]\ndistinguished_name=dn\nutf8=yes\nstring_mask=utf8only\n[dn]\n' > "$tmp/req.cnf"
SAN="subjectAltName=DNS:device-12cd56.local,DNS:device-12cd56.example.com"
ec() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$1" -out "$tmp/$2.pem"; }
rsa() { openssl genpkey -algorithm "$1" -pkeyopt "rsa_keygen_bits:$2" -out "$tmp/$3.pem" 2>/dev/null; }
req() { key=$1; out=$2; shift 2; openssl req -new -config "$tmp/req.cnf" -key "$tmp/$key.pem" "$@" -outform DER -out "$out"; }
ec P-384 p384; ec P-521 p521; ec P-256 p256
rsa RSA 3072 rsa3072; rsa RSA-PSS 3072 rsapss; rsa RSA 2048 rsa2048
req p384 good-p384-sha384.der -subj /CN=device-12cd56 -addext "$SAN" -sha384
req p521 good-p521-sha512.der -subj /CN=device-12cd56 -addext "$SAN" -sha512
req rsa3072 good-rsa3072-sha256.der -subj /CN=device-12cd56 -addext "$SAN" -sha256
req rsapss good-rsapss3072-sha384.der -subj /CN=device-12cd56 -addext "$SAN" -sha384
req p384 good-p384-ips.der -subj /CN=device-12cd56 -addext "$SAN,IP:192.168.1.20,IP:fe80::1,IP:::ffff:10.0.0.1" -sha384
req p256 bad-p256.der -subj /CN=device-12cd56 -addext "$SAN" -sha256
req rsa2048 bad-everything.der -subj /O=Rogue \
  -addext "subjectAltName=DNS:*.example.com,DNS:lantrust.local,DNS:localhost,DNS:xn--zz.local,DNS:dev_ice.local,IP:8.8.8.8,IP:100.64.0.1,email:x@example.com" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "1.2.3.4=critical,DER:05:00" -sha1
openssl req -in good-p384-sha384.der -inform DER -out good-p384-sha384.pem
