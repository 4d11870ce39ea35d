#!/bin/bash
# guest/services-smoke.sh OUTDIR [IMAGE...]: boot each service image built by
# guest/build.sh under bare QEMU (TCG, microvm, the command line of
# guest/smoke.sh) and perform a real protocol exchange with its service from
# the host, through a user-mode-networking hostfwd on 127.0.0.1.  At most two
# VMs run at once (the build host has 2 cores).
#
# "Ready means the service answers": the first protocol exchange starts as
# soon as the readiness line is on the console and must succeed at its first
# attempt (no retry loop: a hostfwd port accepts before the guest listens,
# so each first exchange is a protocol-level one that fails when the guest
# refuses).  Only data a service prepares in the background after it listens
# (the data-warehouse's sample dataset) is waited for, after that first
# exchange.  Two more jobs boot the database image with a service that never
# listens on 6379 and check that the guest prints
# "cloudlet: service-failed: ..." and never the readiness line:
#   database-noport   redis told to listen on 6380 (ready-timeout 5 s)
#   database-crash    redis given a bad configuration: it exits at once
# Prints one line per job:
#
#   services-smoke: PASS <image> boot-to-ready <s> (port wait <ms>) ready-to-checked <s> rootfs <MiB> MiB: <what was checked>
#   services-smoke: FAIL <image> <reason>
#
# and exits non-zero if any failed.  Without arguments all twelve service
# images and the two failure jobs are run.  Needs (guest/deps.txt and scripts/setup.sh):
# qemu-system-x86, e2fsprogs, dosfstools, mtools, socat, curl, rsync,
# mosquitto-clients.  No host network configuration is touched.  Every process
# and file the script starts or makes is removed on exit, also on failure.
# SERVICES_SMOKE_JOBS=N changes the number of VMs run at once.
set -u

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [IMAGE...]" >&2; exit 2; }
OUT=$(cd "$1" && pwd) || exit 2
shift
ALL="file-hosting app-hosting database data-warehouse knowledge-base media-production streaming web-hosting ecommerce hpc messaging neuro database-noport database-crash"
[ $# -gt 0 ] && IMAGES="$*" || IMAGES=$ALL
JOBS=${SERVICES_SMOKE_JOBS:-2}

for t in qemu-system-x86_64 mke2fs mkfs.vfat mcopy socat curl rsync mosquitto_pub mosquitto_sub dumpe2fs; do
    command -v "$t" >/dev/null || { echo "services-smoke: missing host tool $t" >&2; exit 2; }
done
# job_image JOB: the image a job boots (database-noport -> database)
job_image() { case $1 in *-noport|*-crash) echo "${1%-*}" ;; *) echo "$1" ;; esac; }
for i in $IMAGES; do
    [ -f "$OUT/images/$(job_image "$i")/image.json" ] || { echo "services-smoke: no image $(job_image "$i") in $OUT/images" >&2; exit 2; }
done

TOP=$(mktemp -d /tmp/cloudlet-svc-smoke.XXXXXX)
KHZ=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
BASEPORT=$(( 20000 + ($$ % 2000) * 10 ))
MAC=52:54:00:12:34:56
JOBPIDS=

# ---------------------------------------------------------------- cleanup
# Each job records its QEMU pid in $TOP/<image>/qemu.pid; the main script
# kills the job subshells and, as a fallback, any QEMU still recorded.
cleanup_all() {
    for p in $JOBPIDS; do kill "$p" 2>/dev/null; done
    for p in $JOBPIDS; do wait "$p" 2>/dev/null; done
    for f in "$TOP"/*/qemu.pid; do
        [ -f "$f" ] || continue
        q=$(cat "$f")
        [ -n "$q" ] && kill "$q" 2>/dev/null
    done
    rm -rf "$TOP"
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- checks
# Each check_<image> PORT runs with cwd = the job's temp dir; it prints a short
# description of what it verified on success, or returns non-zero after
# printing the reason.  $HOST is the VM's hostname.

# first_http PORT: one GET / right after the readiness line; any HTTP status
# line counts (some services have no page at /), a refused or reset
# connection (curl prints code 000) does not.  No retry.
first_http() {
    local c
    c=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:$1/")
    case $c in [1-5][0-9][0-9]) return 0 ;; esac
    echo "first HTTP request after the readiness line got no answer (code '$c')"; return 1
}
# first CMD...: the first protocol exchange, once (a hostfwd port accepts
# connections even before the guest listens: CMD must speak the protocol)
first() {
    "$@" >/dev/null 2>&1 && return 0
    echo "first exchange after the readiness line failed: $*"; return 1
}
redis_ping() { printf 'PING\r\n' | socat -t 2 -T 3 - "TCP:127.0.0.1:$1" 2>/dev/null | grep -q PONG; }
has() { case $1 in *"$2"*) return 0 ;; esac; echo "expected '$2' in: $(printf '%s' "$1" | head -c 400)"; return 1; }

check_web-hosting() {
    first_http "$1" || return 1
    local page
    page=$(curl -sf --max-time 10 "http://127.0.0.1:$1/") || { echo "GET / failed"; return 1; }
    has "$page" "cloudlet web-hosting" && has "$page" "$HOST" || return 1
    echo "HTTP GET / (page names the host)"
}

check_app-hosting() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/guestbook tok=note-$RANDOM$RANDOM r
    r=$(curl -s --max-time 20 -w ' %{http_code}' --data-urlencode "name=smoke" --data-urlencode "message=hello $tok" "$u")
    has "$r" "entry 1 saved" && has "$r" " 201" || return 1
    curl -s --max-time 20 "$u?format=text" >/dev/null
    r=$(curl -sf --max-time 20 "$u?format=text") || { echo "GET guestbook failed"; return 1; }
    has "$r" "visits: 2" && has "$r" "1. smoke" && has "$r" "hello $tok" || return 1
    r=$(curl -sf --max-time 20 "$u")
    has "$r" "<li><b>smoke</b>" || return 1
    echo "HTTP POST guestbook entry, GET x2 (visit counter 2, entry listed, HTML page)"
}

resp() { # resp PORT: send stdin to redis, print the reply
    socat -t 3 -T 10 - "TCP:127.0.0.1:$1" 2>/dev/null | tr -d '\r'
}
check_database() {
    first redis_ping "$1" || return 1
    local v=value-$RANDOM$RANDOM r
    r=$(printf '*3\r\n$3\r\nSET\r\n$9\r\nsmoke:key\r\n$%d\r\n%s\r\n*2\r\n$3\r\nGET\r\n$9\r\nsmoke:key\r\n*2\r\n$4\r\nINCR\r\n$9\r\nsmoke:ctr\r\n*2\r\n$4\r\nINCR\r\n$9\r\nsmoke:ctr\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n*1\r\n$4\r\nQUIT\r\n' \
        ${#v} "$v" | resp "$1")
    has "$r" "+OK" && has "$r" "$v" && has "$r" ":2" && has "$r" "redis_version:7." || return 1
    echo "RESP SET/GET/INCR/INFO ($(printf '%s\n' "$r" | sed -n 's/^redis_version:/redis /p'))"
}

check_messaging() {
    first mosquitto_pub -h 127.0.0.1 -p "$1" -q 1 -t smoke/hello -m hello || return 1
    local m=retained-$RANDOM$RANDOM l=live-$RANDOM r spid
    mosquitto_pub -h 127.0.0.1 -p "$1" -q 1 -r -t smoke/retained -m "$m" || { echo "mosquitto_pub failed"; return 1; }
    r=$(mosquitto_sub -h 127.0.0.1 -p "$1" -C 1 -W 15 -t smoke/retained) || { echo "no retained message"; return 1; }
    [ "$r" = "$m" ] || { echo "retained message '$r', want '$m'"; return 1; }
    mosquitto_sub -h 127.0.0.1 -p "$1" -C 1 -W 20 -q 1 -t smoke/live >live.out 2>&1 &
    spid=$!
    echo "$spid" >sub.pid
    sleep 2
    mosquitto_pub -h 127.0.0.1 -p "$1" -q 1 -t smoke/live -m "$l"
    wait "$spid"
    rm -f sub.pid
    r=$(cat live.out)
    [ "$r" = "$l" ] || { echo "live message '$r', want '$l'"; return 1; }
    echo "MQTT publish/subscribe QoS 1 (retained + live message)"
}

check_file-hosting() {
    local u=rsync://127.0.0.1:$1 r n=upload-$RANDOM.bin a
    first rsync --contimeout=5 "$u/" || return 1
    r=$(rsync --contimeout=10 "$u/" 2>&1)
    has "$r" "files" && has "$r" "archive" || return 1
    head -c 200000 /dev/urandom >"$n"
    rsync -q --timeout=30 "$n" "$u/files/" || { echo "rsync upload failed"; return 1; }
    r=$(rsync --timeout=30 "$u/files/" 2>&1)
    has "$r" "$n" && has "$r" README.txt || return 1
    mkdir -p back
    rsync -q --timeout=30 "$u/files/$n" back/ || { echo "rsync download failed"; return 1; }
    cmp -s "$n" "back/$n" || { echo "downloaded file differs"; return 1; }
    a=$(rsync --timeout=30 "$u/archive/" 2>&1 | awk '/files-.*\.tar\.gz$/ { print $NF }' | tail -n1)
    [ -n "$a" ] || { echo "no snapshot in archive module"; return 1; }
    rsync -q --timeout=30 "$u/archive/$a" back/ || { echo "archive download failed"; return 1; }
    tar -tzf "back/$a" | grep -q "$n" || { echo "snapshot $a lacks $n"; return 1; }
    echo "rsync module list, upload 200 kB, list, download + compare, tar.gz snapshot in archive"
}

check_data-warehouse() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/sql r i
    for i in $(seq 60); do   # the dataset is generated at first boot
        r=$(curl -s --max-time 30 -G --data-urlencode "q=SELECT count(*) AS n FROM sales" "$u?format=csv")
        case $r in *20000*) break ;; esac
        sleep 1
    done
    has "$r" "20000" || return 1
    r=$(curl -s --max-time 30 -G --data-urlencode "q=SELECT region, count(*) AS n FROM sales JOIN stores USING (store_id) GROUP BY region ORDER BY region" "$u")
    has "$r" '"region":"north"' || return 1
    r=$(curl -s --max-time 30 -G --data-urlencode "q=DELETE FROM sales" "$u")
    has "$r" "error" || return 1
    echo "HTTP SQL queries (count = 20000, GROUP BY JOIN as JSON, DELETE refused)"
}

check_knowledge-base() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/wiki w=zebra$RANDOM r
    r=$(curl -s --max-time 20 -w ' %{http_code}' --data-urlencode page=SmokeTest --data-urlencode "text=First version about $w" "$u")
    has "$r" "revision 1" || return 1
    r=$(curl -s --max-time 20 --data-urlencode page=SmokeTest --data-urlencode "text== Smoke
Second version about $w, see [[HomePage]]" "$u")
    has "$r" "revision 2" || return 1
    r=$(curl -sf --max-time 20 "$u?page=SmokeTest")
    has "$r" "<h2>Smoke</h2>" && has "$r" "Second version about $w" && has "$r" 'href="/cgi-bin/wiki?page=HomePage"' || return 1
    r=$(curl -sf --max-time 20 "$u?page=SmokeTest&rev=1&raw=1")
    has "$r" "First version about $w" || return 1
    r=$(curl -sf --max-time 20 "$u?search=$w")
    has "$r" SmokeTest || return 1
    echo "HTTP wiki: save 2 revisions, render markup, old revision, search"
}

# make_wav FILE FRAMES: 16-bit stereo 44.1 kHz WAV of pseudo-random noise
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 24 & 255)))"; }
make_wav() {
    local bytes=$(($2 * 4))
    { printf RIFF; le32 $((36 + bytes)); printf 'WAVEfmt '; le32 16
      printf '\001\000\002\000'; le32 44100; le32 176400; printf '\004\000\020\000'
      printf data; le32 $bytes; head -c "$bytes" /dev/urandom; } >"$1"
}
check_media-production() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/convert m
    make_wav in.wav 44100
    curl -sf --max-time 60 --data-binary @in.wav -H 'Content-Type: audio/wav' "$u?to=flac" -o out.flac || { echo "WAV->FLAC failed"; return 1; }
    [ "$(head -c 4 out.flac)" = fLaC ] || { echo "FLAC output lacks fLaC magic"; return 1; }
    curl -sf --max-time 60 --data-binary @out.flac -H 'Content-Type: audio/flac' "$u?to=wav" -o back.wav || { echo "FLAC->WAV failed"; return 1; }
    cmp -s <(tail -c +45 in.wav) <(tail -c +45 back.wav) || { echo "FLAC round trip changed the samples"; return 1; }
    curl -sf --max-time 60 --data-binary @in.wav "$u?to=mp3" -o out.mp3 || { echo "WAV->MP3 failed"; return 1; }
    m=$(od -An -N3 -tx1 out.mp3 | tr -d ' ')
    case $m in 494433|fffb*|fff3*) ;; *) echo "MP3 output starts with $m"; return 1 ;; esac
    echo "HTTP POST 1 s WAV -> FLAC ($(stat -c %s out.flac) B) -> WAV bit-exact; WAV -> MP3 ($(stat -c %s out.mp3) B)"
}

check_streaming() {
    first_http "$1" || return 1
    local b=http://127.0.0.1:$1 r c tok
    r=$(curl -sf --max-time 20 "$b/hls/preview/index.m3u8") || { echo "preview playlist failed"; return 1; }
    has "$r" "#EXTM3U" && has "$r" "seg0.mp3" || return 1
    # busybox httpd 1.35 labels 206 answers text/html (its bug); check the bytes
    curl -sf --max-time 20 -o full.mp3 "$b/hls/preview/seg0.mp3" || { echo "segment download failed"; return 1; }
    c=$(curl -s --max-time 20 -r 100-1099 -o part.bin -w '%{http_code}' "$b/hls/preview/seg0.mp3")
    [ "$c" = 206 ] && cmp -s part.bin <(tail -c +101 full.mp3 | head -c 1000) || { echo "range request gave '$c' $(stat -c %s part.bin) bytes"; return 1; }
    c=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$b/t/not-a-token/index.m3u8")
    [ "$c" = 404 ] || { echo "premium without token gave $c"; return 1; }
    c=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' --data 'key=wrong-key' "$b/cgi-bin/token")
    [ "$c" = 403 ] || { echo "token with a wrong key gave $c"; return 1; }
    r=$(curl -sf --max-time 20 --data "key=$STREAM_KEY&ttl=600" "$b/cgi-bin/token") || { echo "token request failed"; return 1; }
    tok=$(printf '%s' "$r" | sed -n 's/.*"token": *"\([0-9a-f]*\)".*/\1/p')
    [ -n "$tok" ] || { echo "no token in $r"; return 1; }
    r=$(curl -sf --max-time 20 "$b/t/$tok/index.m3u8") || { echo "premium playlist with token failed"; return 1; }
    has "$r" "#EXT-X-ENDLIST" && has "$r" "seg2.mp3" || return 1
    c=$(curl -s --max-time 20 -o seg.mp3 -w '%{http_code}' "$b/t/$tok/seg2.mp3")
    [ "$c" = 200 ] || { echo "premium segment gave $c"; return 1; }
    curl -sf --max-time 20 --data "key=$STREAM_KEY&op=revoke&token=$tok" "$b/cgi-bin/token" >/dev/null || { echo "revoke failed"; return 1; }
    c=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$b/t/$tok/index.m3u8")
    [ "$c" = 404 ] || { echo "revoked token still gives $c"; return 1; }
    echo "HTTP HLS playlist, range request 206, token issue/use/revoke (403/404 without)"
}

check_ecommerce() {
    first_http "$1" || return 1
    local s=http://127.0.0.1:$1/cgi-bin/shop r cart c i
    # the store is created before httpd starts: there at the first request
    r=$(curl -s --max-time 20 "$s/products")
    has "$r" '"sku":"BOOK-001"' || return 1
    r=$(curl -s --max-time 20 -X POST "$s/cart")
    cart=$(printf '%s' "$r" | sed -n 's/.*"cart":"\([0-9a-f]*\)".*/\1/p')
    [ -n "$cart" ] || { echo "no cart id in $r"; return 1; }
    r=$(curl -s --max-time 20 --data 'sku=BOOK-001&qty=2' "$s/cart/$cart/items")
    r=$(curl -s --max-time 20 --data 'sku=MUG-002&qty=1' "$s/cart/$cart/items")
    r=$(curl -s --max-time 20 "$s/cart/$cart")
    has "$r" '"total_cents":4298' || return 1
    r=$(curl -s --max-time 20 -X POST "$s/cart/$cart/checkout")
    has "$r" '"order":' && has "$r" '"total_cents":4298' || return 1
    r=$(curl -s --max-time 20 "$s/products")
    has "$r" '"sku":"BOOK-001","name":"The C Programming Language","price_cents":1899,"stock":48' || return 1
    r=$(curl -s --max-time 20 -X POST "$s/cart")
    cart=$(printf '%s' "$r" | sed -n 's/.*"cart":"\([0-9a-f]*\)".*/\1/p')
    curl -s --max-time 20 --data 'sku=GPU-009&qty=5' "$s/cart/$cart/items" >/dev/null
    c=$(curl -s --max-time 20 -o co.out -w '%{http_code}' -X POST "$s/cart/$cart/checkout")
    [ "$c" = 409 ] || { echo "overdrawn checkout gave $c: $(cat co.out)"; return 1; }
    r=$(curl -s --max-time 20 "$s/products")
    has "$r" '"sku":"GPU-009","name":"Graphics card","price_cents":49900,"stock":3' || return 1
    echo "HTTP shop: catalog, cart, add items, total, checkout (stock 50->48), oversold checkout 409 rolled back"
}

check_hpc() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/jobs r id i
    r=$(curl -s --max-time 20 --data 'kind=pi&n=200000' "$u")
    id=$(printf '%s' "$r" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
    [ -n "$id" ] || { echo "no job id in $r"; return 1; }
    for i in $(seq 120); do
        r=$(curl -s --max-time 20 "$u?id=$id")
        case $r in *'"status":"done"'*|*'"status":"failed"'*) break ;; esac
        sleep 0.5
    done
    has "$r" '"status":"done"' && has "$r" '"result":3.14159' && has "$r" '"workers":2' || return 1
    r=$(curl -s --max-time 20 --data 'kind=primes&n=20000' "$u")
    id=$(printf '%s' "$r" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
    for i in $(seq 120); do
        r=$(curl -s --max-time 20 "$u?id=$id")
        case $r in *'"status":"done"'*|*'"status":"failed"'*) break ;; esac
        sleep 0.5
    done
    has "$r" '"result":2262' || return 1
    echo "HTTP jobs: pi (n=200000) = 3.14159..., primes up to 20000 = 2262, 2 parallel workers ($(printf '%s' "$r" | sed -n 's/.*"elapsed_s":\([0-9.]*\).*/\1/p') s)"
}

check_neuro() {
    first_http "$1" || return 1
    local u=http://127.0.0.1:$1/cgi-bin/nn r x want got
    r=$(curl -s --max-time 120 --data 'op=train&hidden=4&epochs=800&rate=1.0&seed=7' "$u")
    has "$r" '"trained":true' || return 1
    for x in 0,0:0 0,1:1 1,0:1 1,1:0; do
        want=${x#*:}
        r=$(curl -s --max-time 20 "$u?op=predict&x=${x%:*}")
        got=$(printf '%s' "$r" | sed -n 's/.*"class": *\([0-9]*\).*/\1/p')
        [ "$got" = "$want" ] || { echo "XOR(${x%:*}) predicted '$r', want $want"; return 1; }
    done
    r=$(curl -s --max-time 20 "$u?op=info")
    echo "HTTP train 2-4-1 MLP on XOR (800 epochs, loss $(printf '%s' "$r" | sed -n 's/.*"loss":\([0-9.e-]*\).*/\1/p')), predict all 4 inputs correctly"
}

# ---------------------------------------------------------------- one VM
# run_one JOB INDEX: boot, check, stop; writes $TOP/JOB.result.  JOB is an
# image name, or database-noport / database-crash (a service that never
# listens: the guest must say service-failed and never print ready).
run_one() {
    local job=$1 idx=$2 d=$TOP/$1 gport hport start ready served res desc qpid img variant=
    img=$(job_image "$job")
    [ "$img" = "$job" ] || variant=${job##*-}
    mkdir -p "$d" && cd "$d" || return 1
    HOST=svc-$idx-$$
    local iid=svc-$img-$$
    STREAM_KEY=smoke-key-$$-$RANDOM
    res=FAIL desc="did not finish"
    qpid=
    finish() {
        if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; fi
        [ ! -f "$d/sub.pid" ] || kill "$(cat "$d/sub.pid")" 2>/dev/null
        echo "$res $desc" >"$TOP/$job.result"
    }
    trap finish EXIT
    trap 'exit 1' INT TERM
    gport=$(sed -n 's/.*"ports": *\["\([0-9]*\)\/tcp".*/\1/p' "$OUT/images/$img/image.json")
    [ -n "$gport" ] || { desc="no tcp port in image.json"; exit 1; }
    hport=$((BASEPORT + idx))
    # Another program on this machine may hold the port: take the next free one.
    while ss -Htln "sport = :$hport" 2>/dev/null | grep -q .; do hport=$((hport + 1)); done
    printf 'instance-id: %s\nlocal-hostname: %s\n' "$iid" "$HOST" >meta-data
    cat >network-config <<EOF
version: 2
ethernets:
  eth0:
    match:
      macaddress: "$MAC"
    set-name: eth0
    addresses: [10.0.2.15/24]
    gateway4: 10.0.2.2
EOF
    printf '#!/bin/sh\nmkdir -p /var/lib/streaming\necho %s >/var/lib/streaming/admin.key\n' "$STREAM_KEY" >user-data
    case $variant in
    noport) printf 'echo 5 >/etc/cloudlet/ready-timeout\necho "port 6380" >/etc/redis/local.conf\n' >>user-data ;;
    crash) printf 'echo "no-such-directive yes" >/etc/redis/local.conf\n' >>user-data ;;
    esac
    mkfs.vfat -C seed.img 1024 -n CIDATA >/dev/null && mcopy -i seed.img meta-data user-data network-config :: ||
        { desc="seed creation failed"; exit 1; }
    mke2fs -q -F -t ext4 -L cloudlet-root -d "$OUT/images/$img/rootfs" root.raw 1G >/dev/null 2>&1 ||
        { desc="mke2fs failed"; exit 1; }
    start=$(now)
    qemu-system-x86_64 \
        -M microvm,x-option-roms=off,isa-serial=on,rtc=on \
        -accel tcg -cpu qemu64,+arat -smp 2 -m 256 \
        -nodefaults -no-user-config -nographic -serial stdio \
        -kernel "$OUT/vmlinux" -initrd "$OUT/initrd.cpio.gz" \
        -append "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=$KHZ root=LABEL=cloudlet-root" \
        -drive file=root.raw,format=raw,if=none,id=root -device virtio-blk-device,drive=root \
        -drive file=seed.img,format=raw,if=none,id=seed,readonly=on -device virtio-blk-device,drive=seed \
        -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$hport-:$gport -device virtio-net-device,netdev=n0,mac=$MAC \
        -qmp unix:"$d/qmp.sock",server=on,wait=off \
        </dev/null >console.log 2>&1 &
    qpid=$!
    echo "$qpid" >qemu.pid
    ready=
    for _ in $(seq 1800); do
        if grep -q "^cloudlet: ready $iid" console.log 2>/dev/null; then ready=$(now); break; fi
        if [ -n "$variant" ] && grep -q "^cloudlet: service-failed: " console.log 2>/dev/null; then ready=$(now); break; fi
        kill -0 "$qpid" 2>/dev/null || { desc="QEMU exited before the ready line: $(tail -n 2 console.log | tr '\n' ' ')"; exit 1; }
        sleep 0.05
    done
    [ -n "$ready" ] || { desc="no ready (or service-failed) line within 90 s"; cp console.log "$TOP/$job.console" 2>/dev/null; exit 1; }
    if [ -n "$variant" ]; then
        # The failure line, and no readiness line, not even later.
        local want line
        case $variant in
        noport) want="cloudlet: service-failed: port 6379/tcp not listening after 5 s" ;;
        crash) want="cloudlet: service-failed: the service exited with status 1 before port 6379/tcp listened" ;;
        esac
        sleep 2
        line=$(grep "^cloudlet: service-failed: " console.log | tr -d '\r')
        cp console.log "$TOP/$job.console" 2>/dev/null
        [ "$line" = "$want" ] || { desc="failure line '$line', want '$want'"; exit 1; }
        ! grep -q "^cloudlet: ready" console.log || { desc="readiness line printed although the service never listened"; exit 1; }
        res=PASS
        desc="boot-to-failure-line $(elapsed "$start" "$ready") s: '$want', no readiness line"
        exit 0
    fi
    if ! out=$("check_$img" "$hport" 2>&1); then
        desc="$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
        cp console.log "$TOP/$job.console" 2>/dev/null
        exit 1
    fi
    served=$(now)
    # graceful stop through QMP, then the root fs must be clean
    printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"system_powerdown"}' |
        socat -t 2 - UNIX-CONNECT:"$d/qmp.sock" >/dev/null 2>&1
    for _ in $(seq 600); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$qpid" 2>/dev/null; then desc="QEMU still running 30 s after system_powerdown"; exit 1; fi
    wait "$qpid" 2>/dev/null
    qpid=
    state=$(dumpe2fs -h root.raw 2>/dev/null | sed -n 's/^Filesystem state: *//p')
    [ "$state" = clean ] || { desc="root fs '$state' after stop"; exit 1; }
    res=PASS
    local waited
    waited=$(sed -n 's/^cloudlet: service-up: .* after \([0-9]*\) ms.*/\1/p' console.log | head -n1)
    desc="boot-to-ready $(elapsed "$start" "$ready") s (port wait ${waited:-?} ms), ready-to-checked $(elapsed "$ready" "$served") s, rootfs $(du -sm "$OUT/images/$img/rootfs" | cut -f1) MiB: $(printf '%s' "$out" | tail -n1)"
    exit 0
}

# ---------------------------------------------------------------- main
report() { # report IMAGE: print the job's line (and console tail on failure)
    local r
    r=$(cat "$TOP/$1.result" 2>/dev/null) || r="FAIL job vanished"
    echo "services-smoke: ${r%% *} $1 ${r#* }"
    case $r in
        FAIL*) [ ! -f "$TOP/$1.console" ] || { echo "---- $1 console (last 15 lines) ----"; tail -n 15 "$TOP/$1.console"; } ;;
    esac
}
RUNNING=   # "pid:image" words
pass=0 fail=0 idx=0
nrunning() { set -- $RUNNING; echo $#; }
reap() { # wait for one job to end, report it
    local e p img keep=
    wait -n 2>/dev/null
    for e in $RUNNING; do
        p=${e%%:*} img=${e#*:}
        if kill -0 "$p" 2>/dev/null; then keep="$keep $e"; continue; fi
        wait "$p" 2>/dev/null
        report "$img"
        case $(cat "$TOP/$img.result" 2>/dev/null) in PASS*) pass=$((pass + 1)) ;; *) fail=$((fail + 1)) ;; esac
    done
    RUNNING=$keep
    JOBPIDS=$(for e in $RUNNING; do echo "${e%%:*}"; done)
}
for img in $IMAGES; do
    while [ "$(nrunning)" -ge "$JOBS" ]; do reap; done
    ( run_one "$img" "$idx" ) &
    RUNNING="$RUNNING $!:$img"
    JOBPIDS="$JOBPIDS $!"
    idx=$((idx + 1))
done
while [ "$(nrunning)" -gt 0 ]; do reap; done
echo "services-smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
