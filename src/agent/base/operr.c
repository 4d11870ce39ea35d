/* operr.c - see operr.h */
#include "operr.h"

#include <stdarg.h>
#include <stdio.h>

int
op_fail(struct op_error *e, const char *code, int r, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r;
}
