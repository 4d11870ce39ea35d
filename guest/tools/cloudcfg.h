/*
 * cloudcfg.h - the busybox images' subset of #cloud-config, applied from
 * the seed's "cloudlet-config" file: the agent parsed the user-data's YAML
 * (src/common/userdata.c, libyaml) and wrote this simple form, specified
 * in docs/guest.md ("User-data on the busybox images"):
 *
 *   cloudlet-config 1
 *   hostname NAME | fqdn NAME              every boot
 *   ssh-key LINE                           every boot (root's keys)
 *   file MODE OWNER ENC APPEND LEN PATH    once per instance; LEN bytes
 *   <content>                              follow, then a newline
 *   runcmd LEN                             once per instance: a sh script
 *   <script>
 *   ignored WHAT                           said on the console
 *
 * The file comes from the agent, but it is still read defensively: a
 * malformed entry ends the reading with a warning, never a crash.
 * Header-only, included by finish.h.
 */
#ifndef CLOUDLET_CLOUDCFG_H
#define CLOUDLET_CLOUDCFG_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLOUDCFG_FILE "/run/cloudlet/seed/cloudlet-config"
#define CLOUDCFG_KEYS "/run/cloudlet/userdata-keys" /* read by /etc/cloudlet/ssh */
#define CLOUDCFG_RUNCMD "/run/cloudlet/runcmd"
#define CLOUDCFG_MAX (64 * 1024)

/* The whole file, NUL-terminated (NULL: none or empty). */
static char *
cloudcfg_read(size_t *len)
{
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd = open(CLOUDCFG_FILE, O_RDONLY);

	if (fd < 0)
		return NULL;
	if ((buf = malloc(CLOUDCFG_MAX + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (got < CLOUDCFG_MAX && (n = read(fd, buf + got, CLOUDCFG_MAX - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got == 0) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

static int
cloudcfg_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode base64 in place (padding optional); the decoded length or -1. */
static long
cloudcfg_b64(char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0, v;
	size_t i, o = 0;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((v = cloudcfg_b64val((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return (long)o;
}

/* A name of /etc/passwd (field 3: uid, 4: gid) or /etc/group (3: gid). */
static int
cloudcfg_lookup(const char *file, const char *name, long *id, long *gid)
{
	char line[512];
	FILE *f = fopen(file, "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL, *n = strtok_r(line, ":", &save), *pw, *u, *g;

		if (n == NULL || strcmp(n, name) != 0)
			continue;
		pw = strtok_r(NULL, ":", &save);
		u = pw ? strtok_r(NULL, ":", &save) : NULL;
		g = u ? strtok_r(NULL, ":", &save) : NULL;
		if (u == NULL)
			continue;
		*id = strtol(u, NULL, 10);
		if (gid != NULL)
			*gid = g ? strtol(g, NULL, 10) : -1;
		found = 1;
	}
	fclose(f);
	return found;
}

/* "user[:group]" to ids; an unknown name leaves root's with a warning. */
static void
cloudcfg_owner(const char *owner, const char *path, uid_t *uid, gid_t *gid)
{
	char user[80], *grp;
	long u = 0, g = 0, pg = 0;

	*uid = 0;
	*gid = 0;
	if (strcmp(owner, "-") == 0)
		return;
	snprintf(user, sizeof(user), "%s", owner);
	grp = strchr(user, ':');
	if (grp != NULL)
		*grp++ = '\0';
	if (!cloudcfg_lookup("/etc/passwd", user, &u, &pg)) {
		printf("cloudlet: warning: user-data: %s: no user %s, owner left root\n", path,
		       user);
		return;
	}
	g = pg;
	if (grp != NULL && !cloudcfg_lookup("/etc/group", grp, &g, NULL)) {
		printf("cloudlet: warning: user-data: %s: no group %s, group left %ld\n", path,
		       grp, pg);
		g = pg;
	}
	*uid = (uid_t)u;
	*gid = (gid_t)g;
}

static void
cloudcfg_mkdirs(const char *path)
{
	char dir[300];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
}

/* One write_files entry: content (len bytes, decoded in place if b64). */
static void
cloudcfg_file(const char *path, unsigned mode, const char *owner, int b64, int append,
	      char *content, size_t len)
{
	uid_t uid;
	gid_t gid;
	long n = (long)len;
	int fd;

	if (b64 && (n = cloudcfg_b64(content, len)) < 0) {
		printf("cloudlet: warning: user-data: %s: bad base64, not written\n", path);
		return;
	}
	cloudcfg_owner(owner, path, &uid, &gid);
	cloudcfg_mkdirs(path);
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC), 0600);
	if (fd < 0 || (n > 0 && write(fd, content, (size_t)n) != n) || fchown(fd, uid, gid) < 0 ||
	    fchmod(fd, mode) < 0) {
		printf("cloudlet: warning: user-data: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	printf("cloudlet: user-data: wrote %s\n", path);
}

static void
cloudcfg_hostname(const char *host)
{
	char hosts[400];
	FILE *f;

	if (sethostname(host, strlen(host)) < 0)
		printf("cloudlet: warning: user-data: hostname: %s\n", strerror(errno));
	if ((f = fopen("/etc/hostname", "w")) != NULL) {
		fprintf(f, "%s\n", host);
		fclose(f);
	}
	snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost\n",
		 host);
	if ((f = fopen("/etc/hosts", "w")) != NULL) {
		fputs(hosts, f);
		fclose(f);
	}
}

/*
 * Apply the form: hostname and keys at every boot (/etc/hostname lives in
 * /run; the ssh script reads the keys at every boot), files and runcmd
 * only when first is set (the instance's first boot). Returns a set of
 * bits: 1 a runcmd script was written to CLOUDCFG_RUNCMD (the caller runs
 * it), 2 files were written.
 */
static int
cloudcfg_apply(int first)
{
	size_t len = 0;
	char *buf = cloudcfg_read(&len), *p, *end, host[80] = "", fqdn[80] = "";
	FILE *keys = NULL;
	int runcmd = 0;

	unlink(CLOUDCFG_KEYS);
	unlink(CLOUDCFG_RUNCMD);
	if (buf == NULL)
		return 0;
	end = buf + len;
	p = buf;
	if (strncmp(p, "cloudlet-config 1\n", 18) != 0) {
		printf("cloudlet: warning: user-data: unknown cloudlet-config version\n");
		free(buf);
		return 0;
	}
	p += 18;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *line = p;

		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
		if (strncmp(line, "hostname ", 9) == 0) {
			snprintf(host, sizeof(host), "%s", line + 9);
		} else if (strncmp(line, "fqdn ", 5) == 0) {
			snprintf(fqdn, sizeof(fqdn), "%s", line + 5);
		} else if (strncmp(line, "ssh-key ", 8) == 0) {
			if (keys == NULL) {
				umask(077);
				keys = fopen(CLOUDCFG_KEYS, "w");
				umask(022);
			}
			if (keys != NULL)
				fprintf(keys, "%s\n", line + 8);
		} else if (strncmp(line, "ignored ", 8) == 0) {
			printf("cloudlet: user-data: %s ignored (not supported by this image; "
			       "see docs/guest.md)\n",
			       line + 8);
		} else if (strncmp(line, "file ", 5) == 0 || strncmp(line, "runcmd ", 7) == 0) {
			unsigned mode = 0;
			int append = 0, pos = 0;
			char owner[80], enc[8];
			unsigned long n = 0;
			int isfile = line[0] == 'f';

			if (isfile ? sscanf(line, "file %o %79s %7s %d %lu %n", &mode, owner, enc,
					    &append, &n, &pos) != 5 ||
					     pos == 0 || line[pos] != '/'
				   : sscanf(line, "runcmd %lu", &n) != 1) {
				printf("cloudlet: warning: user-data: malformed cloudlet-config\n");
				break;
			}
			if (n > (unsigned long)(end - p) || p[n] != '\n') {
				printf("cloudlet: warning: user-data: truncated cloudlet-config\n");
				break;
			}
			if (first && isfile) {
				runcmd |= 2;
				cloudcfg_file(line + pos, mode & 07777, owner,
					      strcmp(enc, "b64") == 0, append, p, n);
			} else if (first) {
				int fd = open(CLOUDCFG_RUNCMD, O_WRONLY | O_CREAT | O_TRUNC, 0700);

				if (fd >= 0 && write(fd, "#!/bin/sh\n", 10) == 10 &&
				    write(fd, p, n) == (ssize_t)n)
					runcmd |= 1;
				if (fd >= 0)
					close(fd);
			}
			p += n + 1;
		}
	}
	if (keys != NULL)
		fclose(keys);
	if (host[0] != '\0' || fqdn[0] != '\0')
		cloudcfg_hostname(host[0] != '\0' ? host : fqdn);
	fflush(stdout);
	free(buf);
	return runcmd;
}

#endif
