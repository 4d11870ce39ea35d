/*
 * handoff.c - ids-handoff: the test stand-in for the agent's side of
 * cloudlet-ids serve (docs/ids.md): optionally sends a network's
 * configuration, then opens an AF_PACKET socket on an interface inside a
 * network namespace, binds it, and hands it over with SCM_RIGHTS.
 * Privileged (CAP_NET_RAW, setns); the sensor it talks to is not.
 *
 *   ids-handoff --control SOCK [--config FILE.json]
 *               [--netns NAME --iface IF --network-id ID]
 *               [--op JSON]          any other request (a JSON object)
 *
 * Prints each reply on a line; exits 1 when one says "ok": false.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"

static int
exchange(int s, struct msg_reader *r, const json_t *req, int fd)
{
	json_t *reply;
	char *text;
	int ok;

	if (msg_write_fd(s, req, fd) < 0) {
		perror("ids-handoff: send");
		return -1;
	}
	if (msg_read(r, &reply, 60000) < 0) {
		fprintf(stderr, "ids-handoff: no reply\n");
		return -1;
	}
	text = json_dumps(reply, JSON_COMPACT);
	printf("%s\n", text ? text : "?");
	fflush(stdout);
	free(text);
	ok = json_is_true(json_object_get(reply, "ok"));
	json_decref(reply);
	return ok ? 0 : -1;
}

static int
packet_socket(const char *netns, const char *iface)
{
	char path[256];
	int nsfd, self, s;
	struct sockaddr_ll sll;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "ids-handoff: cannot enter %s: %s\n", path, strerror(errno));
		return -1;
	}
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(iface);
	if (s < 0 || sll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "ids-handoff: AF_PACKET on %s in %s: %s\n", iface, netns,
			strerror(errno));
		return -1;
	}
	/* back home: the socket stays bound to the interface in the namespace */
	if (setns(self, CLONE_NEWNET) < 0)
		return -1;
	close(self);
	close(nsfd);
	return s;
}

int
main(int argc, char **argv)
{
	const char *control = NULL, *config = NULL, *netns = NULL, *iface = NULL, *nid = NULL;
	const char *ops[16];
	int nops = 0, s, rc = 0;
	struct msg_reader r;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--control") == 0)
			control = argv[i + 1];
		else if (strcmp(argv[i], "--config") == 0)
			config = argv[i + 1];
		else if (strcmp(argv[i], "--netns") == 0)
			netns = argv[i + 1];
		else if (strcmp(argv[i], "--iface") == 0)
			iface = argv[i + 1];
		else if (strcmp(argv[i], "--network-id") == 0)
			nid = argv[i + 1];
		else if (strcmp(argv[i], "--op") == 0 && nops < 16)
			ops[nops++] = argv[i + 1];
		else {
			fprintf(stderr, "ids-handoff: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!control || (netns && (!iface || !nid))) {
		fprintf(stderr, "usage: ids-handoff --control SOCK [--config FILE.json] "
				"[--netns NS --iface IF --network-id ID] [--op JSON]...\n");
		return 2;
	}
	s = msg_connect_unix(control);
	if (s < 0 || msg_reader_init(&r, s, MSG_MAX_RESPONSE) < 0) {
		fprintf(stderr, "ids-handoff: cannot connect to %s\n", control);
		return 1;
	}
	if (config) {
		json_error_t e;
		json_t *cfg = json_load_file(config, 0, &e), *req;

		if (!cfg) {
			fprintf(stderr, "ids-handoff: %s: %s\n", config, e.text);
			return 1;
		}
		req = json_pack("{s:s,s:o}", "op", "network.set", "args", cfg);
		if (!req || exchange(s, &r, req, -1) < 0)
			rc = 1;
		json_decref(req);
	}
	if (rc == 0 && netns) {
		int fd = packet_socket(netns, iface);
		json_t *req = json_pack("{s:s,s:{s:s,s:s}}", "op", "capture.add", "args", "network_id",
					nid, "iface", iface);

		if (fd < 0 || !req || exchange(s, &r, req, fd) < 0)
			rc = 1;
		if (fd >= 0)
			close(fd);
		json_decref(req);
	}
	for (int i = 0; rc == 0 && i < nops; i++) {
		json_error_t e;
		json_t *req = json_loads(ops[i], 0, &e);

		if (!req) {
			fprintf(stderr, "ids-handoff: --op %s: %s\n", ops[i], e.text);
			rc = 1;
		} else if (exchange(s, &r, req, -1) < 0) {
			rc = 1;
		}
		json_decref(req);
	}
	msg_reader_free(&r);
	close(s);
	return rc;
}
