/*
 * fuzz_nbd.c - libFuzzer over the NBD parser (src/storage/nbd.c): any bytes
 * from a client, fed in pieces whose sizes come from the input itself.
 * Invariants: no crash or leak; replies stay under NBD_OUT_MAX; a request
 * event is always inside the export and within NBD_MAX_REQUEST; nothing is
 * consumed after a close.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nbd.h"

static int
lookup(void *arg, const char *name, struct nbd_export *e)
{
	(void)arg;
	if (strcmp(name, "vol") != 0 && strcmp(name, "snap") != 0)
		return -2;
	e->size = 1 << 24;
	e->readonly = name[0] == 's';
	return 0;
}

static void
list(void *arg, void (*add)(void *, const char *), void *ctx)
{
	(void)arg;
	add(ctx, "vol");
	add(ctx, "snap");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_exports ex = {lookup, list, NULL};
	struct nbd_parser p;
	struct nbd_event ev;
	size_t off = 0, used;
	unsigned k = 0;

	nbd_init(&p, &ex);
	while (off < size) {
		/* Piece sizes vary with the data so that splits are explored. */
		size_t piece = 1 + (data[off] * 7 + k++) % 64;

		if (piece > size - off)
			piece = size - off;
		nbd_feed(&p, data + off, piece, &used, &ev);
		if (used > piece)
			abort();
		off += used;
		if (p.outlen > NBD_OUT_MAX)
			abort();
		p.outlen = 0;
		if (ev.type == NBD_EV_REQUEST) {
			if (ev.req.type != NBD_CMD_FLUSH &&
			    (ev.req.offset > p.export.size ||
			     ev.req.length > p.export.size - ev.req.offset))
				abort();
			if ((ev.req.type == NBD_CMD_READ || ev.req.type == NBD_CMD_WRITE) &&
			    ev.req.length > NBD_MAX_REQUEST)
				abort();
			if (ev.req.type == NBD_CMD_WRITE && p.export.readonly)
				abort();
		}
		if (ev.type == NBD_EV_CLOSE)
			break;
	}
	nbd_free(&p);
	return 0;
}
