/*
 * remote.h - the agent's TCP listener, for a control plane on another host
 * (docs/hosts.md): mutual TLS 1.3 (GnuTLS), the same newline-JSON protocol
 * as the unix socket (control.h, docs/agent-protocol.md) inside.
 *
 * Both ends are pinned, not trusted through a certificate authority: the
 * agent presents <tls-dir>/cert.pem (tlsid.h; made by `cloudlet-agent
 * cert`) and accepts a client only if its certificate's SHA-256 is the one
 * in <tls-dir>/peer.fpr (the control plane's, written at join time). A
 * client without it gets a failed handshake and a closed connection:
 * nothing of the request is read. Every request is then re-validated as on
 * the unix socket.
 */
#ifndef CLOUDLET_REMOTE_H
#define CLOUDLET_REMOTE_H

#include <stddef.h>

/*
 * Listen on addr ("IPv4:port") with the identity and the pinned peer in
 * tls_dir and serve in a thread of its own. 0, or -errno with err (no
 * pinned peer, no identity, the port taken, ...).
 */
int remote_start(const char *addr, const char *tls_dir, char *err, size_t errlen);

#endif
