# cloudlet CGI helpers for busybox sh; CGI programs source this file.
# busybox httpd passes the request as CGI/1.1 environment variables
# (QUERY_STRING, REQUEST_METHOD, CONTENT_LENGTH, HTTP_*) and the body on stdin.
# It does not interpret a "Status:" header, so responses start with their own
# HTTP status line (cgi_start).

CGI_BODY=

# cgi_read_form: keep an application/x-www-form-urlencoded body in CGI_BODY
cgi_read_form() {
    case ${CONTENT_TYPE:-} in
        application/x-www-form-urlencoded*)
            [ "${CONTENT_LENGTH:-0}" -gt 0 ] 2>/dev/null &&
                CGI_BODY=$(head -c "$CONTENT_LENGTH")
            ;;
    esac
}

# cgi_param NAME: the decoded value of NAME (query string first, then body)
cgi_param() {
    printf '%s&%s' "${QUERY_STRING:-}" "$CGI_BODY" | awk -v k="$1" '
        BEGIN { RS = "&"; for (i = 1; i < 256; i++) hx[sprintf("%02X", i)] = sprintf("%c", i) }
        {
            i = index($0, "="); n = i ? substr($0, 1, i - 1) : $0
            if (n != k) next
            v = i ? substr($0, i + 1) : ""; gsub(/\+/, " ", v); out = ""
            while (match(v, /%[0-9A-Fa-f][0-9A-Fa-f]/)) {
                out = out substr(v, 1, RSTART - 1) hx[toupper(substr(v, RSTART + 1, 2))]
                v = substr(v, RSTART + 3)
            }
            printf "%s", out v; exit
        }'
}

# cgi_start CODE REASON [TYPE]: status line and headers
cgi_start() {
    printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n\r\n' \
        "$1" "$2" "${3:-text/plain; charset=utf-8}"
}

# cgi_fail CODE REASON MESSAGE: plain-text error response, then exit
cgi_fail() {
    cgi_start "$1" "$2"
    echo "error: $3"
    exit 0
}

# html_escape: stdin to stdout with & < > " escaped
html_escape() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g'; }

# json_escape STRING: the JSON string literal (with quotes) for STRING
json_escape() {
    printf '%s' "$1" | awk 'BEGIN { ORS = "" } {
        gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r")
        printf "%s%s", (NR > 1 ? "\\n" : ""), $0 } END { }' |
        { IFS= read -r s; printf '"%s"' "$s"; }
}

# cgi_lock DIR / cgi_unlock DIR: mutual exclusion between concurrent CGI
# processes (mkdir is atomic; a lock older than 30 s is taken over)
cgi_lock() {
    _n=0
    until mkdir "$1" 2>/dev/null; do
        _n=$((_n + 1))
        [ $_n -lt 3000 ] || { rmdir "$1" 2>/dev/null; _n=0; }
        usleep 10000
    done
}
cgi_unlock() { rmdir "$1" 2>/dev/null; }
