/*
 * cloudlet-net FILE - apply a NoCloud network-config (the subset in
 * docs/guest.md; netcfg.h does the work). The boot script runs it on a
 * cold boot; a restored clone's cloudlet-identity applies its network with
 * the same code. Warnings go to stdout (the console) as
 * "cloudlet: warning: network: ..."; exit status 1 if there was any.
 */
#include "netcfg.h"

int
main(int argc, char **argv)
{
	static char text[1 << 16];
	struct netcfg c;
	size_t n;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: cloudlet-net NETWORK-CONFIG\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (f == NULL) {
		printf("cloudlet: warning: network: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	netcfg_parse(text, &c);
	return netcfg_apply(&c) ? 1 : 0;
}
