/*
 * cloudlet-finish INSTANCE-ID - the last steps of a cold boot (finish.h):
 * user-data, the image's service, the wait until it accepts connections on
 * the image's ports, the readiness line (or "cloudlet: service-failed: ...",
 * exit status 1). A restored clone's cloudlet-identity does the same in its
 * own process.
 */
#include "finish.h"

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: cloudlet-finish INSTANCE-ID\n");
		return 2;
	}
	return finish_boot(argv[1]) < 0 ? 1 : 0;
}
