/*
 * portscan.h - scans and SYN floods, per tenant network.
 *
 * Thresholds (defaults; per network in its config, docs/ids.md):
 *  - TCP port scan: one source sends SYNs to >= scan_ports (20) distinct
 *    ports of one host within scan_window_s (60 s). nmap's default SYN scan
 *    sends 1,000; a browser opens a handful of connections to one or two.
 *  - UDP port scan: the same with UDP datagrams to distinct ports.
 *  - Address sweep: one source reaches >= sweep_hosts (20) distinct hosts
 *    (TCP SYN, UDP, ICMP echo) within the window.
 *  - SYN flood: >= synflood_per_s (500) SYNs in one second to one
 *    destination address and port that did not complete a handshake in
 *    that second (half-open). A port scan touches each port once and is
 *    reported as a scan, not a flood.
 * Each is reported once per source (and target) and window; the gate's
 * rate limit applies on top. Trackers live in fixed tables (PS_TABLE
 * entries): when full, the oldest in a probe run is reused, so memory
 * never grows with the traffic.
 */
#ifndef CLOUDLET_IDS_PORTSCAN_H
#define CLOUDLET_IDS_PORTSCAN_H

#include <stdint.h>

#include "finding.h"

#define PS_TABLE 4096
#define PS_MAX_TRACK 64 /* distinct ports/hosts remembered per tracker */

struct ps_config {
	uint32_t scan_ports, sweep_hosts, window_s, synflood_per_s;
	uint8_t portscan, synflood;
};

struct ps_state;

struct ps_state *ps_new(const struct ps_config *c);
void ps_free(struct ps_state *s);
void ps_config_default(struct ps_config *c);

/* A TCP packet with flags, a UDP datagram, or an ICMP message. */
void ps_packet(struct ps_state *s, uint8_t ipproto, uint8_t tcp_flags, uint8_t icmp_type,
	       uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint64_t now_us,
	       finding_fn fn, void *arg);
/* A handshake to dst:dp completed (the client's ACK after a SYN-ACK). */
void ps_established(struct ps_state *s, uint32_t dst, uint16_t dp, uint64_t now_us);

#endif
