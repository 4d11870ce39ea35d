/*
 * config.h - where the CLI finds cloudletd and its token.
 *
 * Precedence, highest first: the --url/--token flags, the CLOUDLET_URL,
 * CLOUDLET_TOKEN and CLOUDLET_PIN environment variables, the config file
 * ($CLOUDLET_CONFIG, else ~/.config/cloudlet/config), the default URL. The
 * file has lines `url=...`, `token=...` and `pin=...` (the public-key pin
 * of an API that serves HTTPS with its own certificate, `cloudletd pin`:
 * "sha256//<base64>"; without it an https URL is checked against the
 * system's certificate authorities); blank lines and lines starting with '#' are
 * ignored, blanks around keys and values are trimmed.
 */
#ifndef CLOUDLET_CLI_CONFIG_H
#define CLOUDLET_CLI_CONFIG_H

#include <stddef.h>

#define CONFIG_DEFAULT_URL "http://127.0.0.1:8470"
#define CONFIG_FILE_MAX (64 * 1024)
#define CONFIG_VALUE_MAX 1024

struct config {
	char url[CONFIG_VALUE_MAX];   /* "" when not set */
	char token[CONFIG_VALUE_MAX]; /* "" when not set */
	char pin[CONFIG_VALUE_MAX];   /* "" when not set */
};

/*
 * Parse a config file's text into c, overwriting only the keys present.
 * Returns 0, or -EINVAL with the line and reason in err.
 */
int config_parse(const char *text, struct config *c, char *err, size_t errlen);

/*
 * Read and parse the file at path. A missing file is fine (0, c untouched)
 * unless must_exist. Returns 0 or -errno with the reason in err.
 */
int config_load(const char *path, int must_exist, struct config *c, char *err,
		size_t errlen);

/*
 * Set c->key from value (key is "url", "token" or "pin"): 0, or -EINVAL when the
 * value is too long or unusable (control characters; a URL that is not
 * http:// or https://), with the reason in err.
 */
int config_set(struct config *c, const char *key, const char *value, char *err,
	       size_t errlen);

#endif
