/*
 * cloudlet-finish INSTANCE-ID - the last steps of a cold boot (finish.h):
 * user-data, the image's service, the readiness line. A restored clone's
 * cloudlet-identity does the same in its own process.
 */
#include "finish.h"

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: cloudlet-finish INSTANCE-ID\n");
		return 2;
	}
	finish_boot(argv[1]);
	return 0;
}
