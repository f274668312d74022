#!/usr/bin/env bash
# Time to certificate (issue 18): lego's wall time per issuance against lantrust-server
# (`serve --auto-approve`, so every device is pre-approved) and against Pebble with
# PEBBLE_VA_ALWAYS_VALID=1 (no validation at all), side by side in one run, with the same lego.
#
# Each round runs lego once against each server, alternating which goes first, each with a fresh
# --path (a new account key, a new certificate key: ec384 for both), so both servers see exactly
# the same client work: directory, nonce, newAccount, newOrder (one name), authorization,
# challenge, finalize, certificate. lantrust-server really validates http-01 against lego's
# responder on 127.0.0.1; Pebble skips validation. Pebble's random badNonce rejections are
# turned off (PEBBLE_WFE_NONCEREJECT=0) so they do not slow it down.
#
# Usage: bash benches/lego-vs-pebble.sh [ROUNDS]   (default 15)
# Needs: lego, pebble, openssl, python3, and a built server:
#   cargo build --release -p lantrust-server   (or LANTRUST_SERVER=path/to/lantrust-server)
# Everything listens on 127.0.0.1 only, in a temporary directory removed at the end.
set -euo pipefail

ROUNDS=${1:-15}
here=$(cd "$(dirname "$0")/.." && pwd)
tgt=${CARGO_TARGET_DIR:-$here/target}
SERVER=${LANTRUST_SERVER:-$tgt/release/lantrust-server}
for p in lego pebble openssl python3 "$SERVER"; do
    command -v "$p" >/dev/null || { echo "lego-vs-pebble: $p not found" >&2; exit 2; }
done

work=$(mktemp -d /tmp/lego-vs-pebble.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "lego-vs-pebble: nothing listens on $1" >&2; exit 2
}

# --- Pebble, with an HTTPS certificate for 127.0.0.1 from a throwaway CA (two levels, as
# lantrust's root -> server certificate; P-256, as the tests' Pebble in lantrust-test-support)
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout pebble-ca.key -out pebble-ca.pem -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout pebble-key.pem -out pebble.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >pebble.ext
openssl x509 -req -in pebble.csr -CA pebble-ca.pem -CAkey pebble-ca.key -CAcreateserial \
    -days 1 -extfile pebble.ext -out pebble-cert.pem 2>/dev/null
pb_port=$(free_port); pb_mgmt=$(free_port); pb_http=$(free_port); pb_tls=$(free_port)
cat > pebble.json <<JSON
{"pebble":{"listenAddress":"127.0.0.1:$pb_port","managementListenAddress":"127.0.0.1:$pb_mgmt",
"certificate":"pebble-cert.pem","privateKey":"pebble-key.pem","httpPort":$pb_http,"tlsPort":$pb_tls,
"ocspResponderURL":"","externalAccountBindingRequired":false}}
JSON
PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
    pebble -config pebble.json >pebble.log 2>&1 &
pids+=($!)

# --- lantrust-server, every device pre-approved, http-01 sent to lego's responder
lt_port=$(free_port); lt_http=$(free_port)
"$SERVER" init --state "$work/state" --name router --ip 127.0.0.1 >/dev/null
RUST_LOG=warn "$SERVER" serve --state "$work/state" --listen "127.0.0.1:$lt_port" \
    --auto-approve --generic-clients --resolve "*=127.0.0.1:$lt_http" >lantrust.log 2>&1 &
pids+=($!)
wait_port "$pb_port"; wait_port "$lt_port"

# One issuance; prints the wall time in seconds.
issue() { # server-name domain
    local dir="$work/lego-$1-$2" ca dirurl port t0 t1
    if [ "$1" = pebble ]; then
        ca=pebble-ca.pem; dirurl="https://127.0.0.1:$pb_port/dir"; port=$pb_http
    else
        ca=state/root.pem; dirurl="https://127.0.0.1:$lt_port/acme/directory"; port=$lt_http
    fi
    t0=$(date +%s%N)
    if ! LEGO_CA_CERTIFICATES="$work/$ca" lego --path "$dir" --server "$dirurl" \
        --email admin@example.org --accept-tos --key-type ec384 \
        --http --http.port "127.0.0.1:$port" --domains "$2" run >"$dir.log" 2>&1; then
        echo "lego-vs-pebble: lego failed against $1:" >&2; cat "$dir.log" >&2; exit 1
    fi
    t1=$(date +%s%N)
    [ -s "$dir/certificates/$2.crt" ] || { echo "no certificate from $1" >&2; exit 1; }
    echo "$(( (t1 - t0) / 1000 ))"
}

# One warm-up issuance each (not counted): the first run pays for page-cache misses.
issue pebble warm.example.com >/dev/null
issue lantrust warm.local >/dev/null

pb=(); lt=()
for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then
        pb+=("$(issue pebble "pb$i.example.com")"); lt+=("$(issue lantrust "lt$i.local")")
    else
        lt+=("$(issue lantrust "lt$i.local")"); pb+=("$(issue pebble "pb$i.example.com")")
    fi
done

python3 - "${pb[*]}" "${lt[*]}" "$(lego --version)" <<'PY'
import statistics, sys
pb = [int(x) / 1e6 for x in sys.argv[1].split()]
lt = [int(x) / 1e6 for x in sys.argv[2].split()]
def line(name, xs):
    return (f"{name:<34} median {statistics.median(xs):.3f} s  mean {statistics.mean(xs):.3f} s  "
            f"min {min(xs):.3f} s  max {max(xs):.3f} s  (n={len(xs)})")
print(f"lego wall time per issuance ({sys.argv[3]}), same run, alternating:")
print(line("Pebble, PEBBLE_VA_ALWAYS_VALID=1", pb))
print(line("lantrust-server --auto-approve", lt))
r = statistics.median(lt) / statistics.median(pb)
print(f"median ratio lantrust / Pebble: {r:.2f}; mean ratio {statistics.mean(lt) / statistics.mean(pb):.2f}")
d = [a - b for a, b in zip(lt, pb)]
print(f"paired (same round) lantrust - Pebble: median {statistics.median(d) * 1e3:+.1f} ms; "
      f"lantrust faster in {sum(x < 0 for x in d)} of {len(d)} rounds")
PY
