/* SPDX-License-Identifier: ISC */
/*
 * kmsg-keygen: X25519 key pairs in the style of `wg genkey` / `wg pubkey`.
 *
 *   umask 077; kmsg-keygen genkey > private.key
 *   kmsg-keygen pubkey < private.key > public.key
 *
 * Keys go through read(2)/write(2) on fixed buffers that are wiped, never
 * through stdio buffers we cannot wipe.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "key.h"

#define PROG "kmsg-keygen"
/* Largest accepted pubkey input: one key plus generous whitespace. */
#define INPUT_MAX 512

static void usage(FILE *f)
{
	fputs("Usage: " PROG " COMMAND\n"
	      "\n"
	      "Commands:\n"
	      "  genkey     print a new private key (base64) on stdout\n"
	      "  pubkey     read a private key on stdin, print its public key\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "      --version  show the version\n"
	      "\n"
	      "Example:\n"
	      "  umask 077; " PROG " genkey > private.key\n"
	      "  " PROG " pubkey < private.key > public.key\n",
	      f);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Key text and a newline to stdout. */
static int print_key(const char *cmd, const uint8_t key[KEY_LEN])
{
	char line[KEY_B64_LEN + 1];
	int r;

	key_to_base64(line, key);
	line[KEY_B64_LEN] = '\n';
	r = write_all(STDOUT_FILENO, line, sizeof line);
	sodium_memzero(line, sizeof line);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: write: %s\n", cmd, strerror(-r));
		return 1;
	}
	return 0;
}

static int cmd_genkey(void)
{
	uint8_t priv[KEY_LEN];
	struct stat st;
	int r;

	/* Like `wg genkey`: still write, but say so when the file is readable by others. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)))
		fprintf(stderr,
			PROG ": warning: writing private key to a file readable by others (mode %04o); "
			     "use umask 077\n",
			(unsigned)(st.st_mode & 07777));
	key_generate(priv);
	r = print_key("genkey", priv);
	sodium_memzero(priv, sizeof priv);
	return r;
}

static int cmd_pubkey(void)
{
	char buf[INPUT_MAX + 1];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	size_t len = 0;
	int r = 1;

	/* One byte more than allowed, to tell "full" from "too long". */
	while (len < sizeof buf) {
		ssize_t n = read(STDIN_FILENO, buf + len, sizeof buf - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": pubkey: read: %s\n", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > INPUT_MAX) {
		fprintf(stderr, PROG ": pubkey: invalid key: input longer than %d bytes\n", INPUT_MAX);
		goto out;
	}
	if (key_parse_text(priv, buf, len) < 0) {
		fputs(PROG ": pubkey: invalid key: expected 44 base64 characters\n", stderr);
		goto out;
	}
	if (key_public(pub, priv) < 0) {
		fputs(PROG ": pubkey: invalid key: not a usable X25519 private key\n", stderr);
		goto out;
	}
	r = print_key("pubkey", pub);
out:
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(priv, sizeof priv);
	sodium_memzero(pub, sizeof pub);
	return r;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (sodium_init() < 0) {
		fputs(PROG ": cannot initialise libsodium\n", stderr);
		return 1;
	}
	if (argc < 2) {
		fputs(PROG ": missing command (try '" PROG " --help')\n", stderr);
		return 1;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts(PROG " " KS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "genkey") != 0 && strcmp(cmd, "pubkey") != 0) {
		fprintf(stderr, PROG ": unknown command '%s' (try '" PROG " --help')\n", cmd);
		return 1;
	}
	if (argc > 2) {
		fprintf(stderr, PROG ": %s: unexpected argument '%s'\n", cmd, argv[2]);
		return 1;
	}
	return !strcmp(cmd, "genkey") ? cmd_genkey() : cmd_pubkey();
}
