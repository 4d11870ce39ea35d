/*
 * spoof.c - ARP/IP-MAC misuse and rogue DHCP (spoof.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "spoof.h"

void
spoof_free(struct spoof_cfg *c)
{
	free(c->a);
	c->a = NULL;
	c->na = 0;
}

static int
is_router(const struct spoof_cfg *c, const uint8_t mac[6])
{
	for (int i = 0; i < c->nrouters; i++)
		if (memcmp(c->routers[i], mac, 6) == 0)
			return 1;
	return 0;
}

/* Does the table know mac? has_ip: and is ip one of its addresses? */
static int
mac_known(const struct spoof_cfg *c, const uint8_t mac[6], uint32_t ip, int *has_ip)
{
	int known = 0;

	*has_ip = 0;
	for (int i = 0; i < c->na; i++)
		if (memcmp(c->a[i].mac, mac, 6) == 0) {
			known = 1;
			if (c->a[i].ip == ip)
				*has_ip = 1;
		}
	return known;
}

/* Is ip assigned? owner_ok: to mac? */
static int
ip_assigned(const struct spoof_cfg *c, uint32_t ip, const uint8_t mac[6], int *owner_ok,
	    const struct spoof_entry **owner)
{
	int found = 0;

	*owner_ok = 0;
	*owner = NULL;
	for (int i = 0; i < c->na; i++)
		if (c->a[i].ip == ip) {
			found = 1;
			*owner = &c->a[i];
			if (memcmp(c->a[i].mac, mac, 6) == 0)
				*owner_ok = 1;
		}
	return found;
}

const char *
spoof_vm_of(const struct spoof_cfg *c, uint32_t ip)
{
	for (int i = 0; i < c->na; i++)
		if (c->a[i].ip == ip && c->a[i].vm[0])
			return c->a[i].vm;
	return NULL;
}

static json_t *
detail(const uint8_t mac[6], uint32_t ip, const struct spoof_entry *owner)
{
	char m[24], i[16], om[24];
	json_t *o;

	addr_fmt_mac(mac, m, sizeof(m));
	addr_fmt_ip4(ip, i, sizeof(i));
	o = json_pack("{s:s,s:s}", "mac", m, "ip", i);
	if (owner) {
		addr_fmt_mac(owner->mac, om, sizeof(om));
		json_object_set_new(o, "assigned_mac", json_string(om));
		if (owner->vm[0])
			json_object_set_new(o, "assigned_vm", json_string(owner->vm));
	}
	return o;
}

int
spoof_dhcp_parse(const uint8_t *d, size_t len, int *type, uint32_t *server_id)
{
	size_t p = 240;

	*type = 0;
	*server_id = 0;
	if (len < 240 || d[236] != 99 || d[237] != 130 || d[238] != 83 || d[239] != 99)
		return -1;
	while (p < len) {
		uint8_t o = d[p], l;

		if (o == 255)
			break;
		if (o == 0) {
			p++;
			continue;
		}
		if (p + 1 >= len)
			break;
		l = d[p + 1];
		if (p + 2 + l > len)
			break;
		if (o == 53 && l == 1)
			*type = d[p + 2];
		if (o == 54 && l == 4)
			*server_id = (uint32_t)d[p + 2] << 24 | (uint32_t)d[p + 3] << 16 |
				     (uint32_t)d[p + 4] << 8 | d[p + 5];
		p += 2u + l;
	}
	return *type ? 0 : -1;
}

void
spoof_check(const struct spoof_cfg *c, const struct pkt *p, finding_fn fn, void *arg)
{
	int ok, has;
	const struct spoof_entry *owner;

	if (c->spoof_on && c->na > 0 && p->is_arp && p->arp.spa != 0 && !is_router(c, p->arp.sha)) {
		if (ip_assigned(c, p->arp.spa, p->arp.sha, &ok, &owner) && !ok) {
			struct finding f = {SID_ARP_SPOOF,
					    "cloudlet: ARP spoofing: an assigned address claimed by another MAC",
					    "Misc Attack", 1, p->arp.spa, p->arp.tpa, 0, 0, 0,
					    detail(p->arp.sha, p->arp.spa, owner)};

			fn(arg, &f);
		} else if (mac_known(c, p->arp.sha, p->arp.spa, &has) && !has) {
			struct finding f = {SID_ARP_UNASSIGNED,
					    "cloudlet: ARP from a VM for an address not assigned to it",
					    "Misc Attack", 1, p->arp.spa, p->arp.tpa, 0, 0, 0,
					    detail(p->arp.sha, p->arp.spa, NULL)};

			fn(arg, &f);
		}
	}
	if (c->spoof_on && c->na > 0 && p->is_ip4 && p->src != 0 && !is_router(c, p->smac)) {
		int known = mac_known(c, p->smac, p->src, &has);
		int assigned = ip_assigned(c, p->src, p->smac, &ok, &owner);

		if ((known && !has) || (assigned && !ok)) {
			struct finding f = {SID_IP_SPOOF,
					    "cloudlet: IP source address not assigned to the sending MAC",
					    "Misc Attack", 1, p->src, p->dst, p->sp, p->dp, p->proto,
					    detail(p->smac, p->src, assigned && !ok ? owner : NULL)};

			fn(arg, &f);
		}
	}
	if (c->dhcp_on && p->is_ip4 && p->proto == 17 && p->sp == 67 && p->dp == 68 && p->plen > 0 &&
	    p->payload[0] == 2) {
		int type;
		uint32_t sid;

		if (spoof_dhcp_parse(p->payload, p->plen, &type, &sid) == 0 && (type == 2 || type == 5)) {
			int mac_ok = c->dhcp_set && memcmp(p->smac, c->dhcp_mac, 6) == 0;
			int id_ok = c->dhcp_set && (sid ? sid == c->dhcp_ip : p->src == c->dhcp_ip);

			if (!mac_ok || !id_ok) {
				char m[24], s[16];
				struct finding f = {SID_ROGUE_DHCP, "cloudlet: rogue DHCP server",
						    "Potentially Bad Traffic", 1, p->src, p->dst, p->sp,
						    p->dp, 17, NULL};

				addr_fmt_mac(p->smac, m, sizeof(m));
				addr_fmt_ip4(sid, s, sizeof(s));
				f.extra = json_pack("{s:s,s:s,s:s}", "mac", m, "server_id", s,
						    "message", type == 2 ? "DHCPOFFER" : "DHCPACK");
				fn(arg, &f);
			}
		}
	}
}
