/*
 * join.h - `cloudlet-agent join`: this host joins a control plane with a
 * one-time token (docs/hosts.md, jointoken.h). It makes the host's TLS
 * identity if it has none, sends its certificate's fingerprint, its
 * listen address and its protocol range with the token's secret to the
 * token's POST /v1/hosts/join (libcurl), and once registered pins the
 * control plane's fingerprint from the token. The agent then serves with
 * `cloudlet-agent serve --listen ADDR --tls-dir DIR`.
 */
#ifndef CLOUDLET_JOIN_H
#define CLOUDLET_JOIN_H

/* argv[0] is "join". Exit status: 0 joined, 1 refused or failed, 2 usage. */
int join_main(int argc, char **argv);

#endif
