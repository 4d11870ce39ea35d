/*
 * fuzz_userdata.c - libFuzzer harness for the user-data check and the
 * #cloud-config translation (src/common/userdata.c, libyaml).
 *
 * The input is a VM's user-data (with "#cloud-config\n" put in front when
 * the first input byte is odd, so most runs reach the YAML walk). Beyond
 * "no crash, no leak" (ASan/UBSan), an accepted input's form must be what
 * the guest's reader (guest/tools/cloudcfg.h) expects: the header, then
 * only known entries, each "file"/"runcmd" followed by exactly its length
 * of bytes and a newline, absolute paths, no NUL, at most
 * USERDATA_FORM_MAX bytes. A refused input always says why.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "userdata.h"

static void
check_form(const char *f)
{
	const char *p = f, *end = f + strlen(f);

	CHECK(strncmp(p, "cloudlet-config 1\n", 18) == 0);
	CHECK(strlen(f) < USERDATA_FORM_MAX);
	p += 18;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		unsigned long n = 0;
		unsigned mode;
		int pos = 0, append;
		char owner[80], enc[8];
		char line[512];

		CHECK(nl != NULL);
		if (strncmp(p, "hostname ", 9) == 0 || strncmp(p, "fqdn ", 5) == 0 ||
		    strncmp(p, "ssh-key ", 8) == 0 || strncmp(p, "ignored ", 8) == 0) {
			p = nl + 1;
			continue;
		}
		CHECK((size_t)(nl - p) < sizeof(line));
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (strncmp(line, "file ", 5) == 0) {
			CHECK(sscanf(line, "file %o %79s %7s %d %lu %n", &mode, owner, enc, &append,
				     &n, &pos) == 5);
			CHECK(pos > 0 && line[pos] == '/');
			CHECK(strcmp(enc, "b64") == 0 || strcmp(enc, "text") == 0);
			CHECK(mode <= 07777 && (append == 0 || append == 1));
		} else {
			CHECK(sscanf(line, "runcmd %lu", &n) == 1);
		}
		p = nl + 1;
		CHECK(n < (unsigned long)(end - p) && p[n] == '\n');
		p += n + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "#cloud-config\n";
	size_t hl = (size > 0 && (data[0] & 1)) ? sizeof(head) - 1 : 0;
	char err[256] = "", *form = NULL, *ud = malloc(size + hl + 1);
	int r;

	if (ud == NULL)
		return 0;
	memcpy(ud, head, hl);
	if (size > 0)
		memcpy(ud + hl, data + (hl ? 1 : 0), size - (hl ? 1 : 0));
	size = size + hl - (hl ? 1 : 0);
	r = userdata_translate(ud, size, &form, err, sizeof(err));
	if (r == 0) {
		CHECK(size <= USERDATA_MAX && memchr(ud, '\0', size) == NULL);
		if (userdata_kind(ud, size) == USERDATA_CLOUD_CONFIG) {
			CHECK(form != NULL);
			check_form(form);
		} else {
			CHECK(form == NULL);
		}
	} else {
		CHECK(form == NULL);
		CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
		CHECK(err[0] != '\0' || r == -ENOMEM);
	}
	free(form);
	free(ud);
	return 0;
}
