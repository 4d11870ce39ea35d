/*
 * finding.h - what a detector beyond signatures reports (portscan.c,
 * spoof.c). The sensor turns it into an EVE alert with gid 1 and the sid
 * below, through the same suppression and rate limit as rule alerts.
 */
#ifndef CLOUDLET_IDS_FINDING_H
#define CLOUDLET_IDS_FINDING_H

#include <jansson.h>
#include <stdint.h>

#define SID_TCP_PORTSCAN 9100001
#define SID_UDP_PORTSCAN 9100002
#define SID_ADDR_SWEEP 9100003
#define SID_SYN_FLOOD 9100010
#define SID_ARP_SPOOF 9100020    /* an ARP claims an IP for a MAC it is not assigned to */
#define SID_ARP_UNASSIGNED 9100021 /* an assigned MAC claims an IP not its own */
#define SID_IP_SPOOF 9100022     /* IP source not assigned to the sending MAC */
#define SID_ROGUE_DHCP 9100030

struct finding {
	uint32_t sid;
	const char *msg, *category;
	int severity;
	uint32_t src, dst;
	uint16_t sp, dp;
	uint8_t ipproto; /* 0: not IP (ARP) */
	json_t *extra;   /* new reference or NULL; the sensor takes it */
};

typedef void (*finding_fn)(void *arg, struct finding *f);

#endif
