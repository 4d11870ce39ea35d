/*
 * fuzz_sshkey.c - libFuzzer harness for the OpenSSH public key parser
 * (src/common/sshkey.c).
 *
 * The input is one key line as it would arrive in a VM spec's ssh_keys.
 * Beyond "no crash, no leak, no read past the given length" (ASan/UBSan; the
 * input is copied into a buffer of exactly its size, without a NUL), every
 * accepted line must keep what the seed writers rely on: no NUL, line break,
 * '"' or '\\' (it goes into YAML double quotes and authorized_keys as it
 * is), a type of the accepted list that the line starts with, the RSA size
 * bounds. A refused line always says why. Build and run: tests/fuzz/build.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sshkey.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshkey_info info;
	char err[256] = "", *line = malloc(size ? size : 1);
	const char *name;
	size_t i;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	if (sshkey_parse(line, size, &info, err, sizeof(err)) == 0) {
		CHECK(size <= SSHKEY_LINE_MAX);
		for (i = 0; i < size; i++)
			CHECK(line[i] != '\0' && line[i] != '\n' && line[i] != '\r' &&
			      line[i] != '"' && line[i] != '\\');
		name = sshkey_type_name(info.type);
		CHECK(size > strlen(name) && memcmp(line, name, strlen(name)) == 0 &&
		      line[strlen(name)] == ' ');
		if (info.type == SSHKEY_RSA)
			CHECK(info.bits >= SSHKEY_RSA_MIN_BITS &&
			      info.bits <= SSHKEY_RSA_MAX_BITS);
	} else {
		CHECK(err[0] != '\0');
	}
	free(line);
	return 0;
}
