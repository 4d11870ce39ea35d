/*
 * fuzz_idsrule.c - libFuzzer over the IDS rule parser (src/ids/rule.c,
 * ruleset.c): any text as a rules file, then (for inputs whose first byte
 * is odd) the detection build with its Hyperscan databases.
 * Invariants: no crash, leak or hang; every line is either a rule or a
 * skip entry; the counts add up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ruleset.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ids_var vars[] = {
		{"HOME_NET", "[10.0.0.0/24,192.168.0.0/16]", 0},
		{"EXTERNAL_NET", "!$HOME_NET", 0},
		{"LOOP", "[$LOOP]", 0},
		{"HTTP_PORTS", "[80,8080:8089]", 1},
	};
	struct ruleset *rs = ruleset_new(vars, 4);
	char err[256];
	size_t lines = 0;

	if (!rs)
		abort();
	if (ruleset_add_text(rs, (const char *)data, size, "fuzz") < 0)
		abort();
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (rs->nrules + rs->nskip_total > lines + 1)
		abort();
	if (size && (data[0] & 1))
		(void)ruleset_build(rs, err, sizeof(err));
	ruleset_put(rs);
	return 0;
}
