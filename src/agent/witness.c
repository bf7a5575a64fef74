/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "key.h"
#include "log.h"
#include "witness.h"

struct witness {
	char path[PATH_MAX];
	char disputed[PATH_MAX];
	struct commitment c[WITNESS_MAX];
	size_t n;
	bool dirty;
	uint64_t saved_ms;
};

/* At most WITNESS_MAX lines of COMMITMENT_TEXT_MAX. */
#define WITNESS_FILE_MAX (WITNESS_MAX * (COMMITMENT_TEXT_MAX + 1))

static int load(const char *path, struct commitment *c, size_t *ret_n)
{
	char *buf = malloc(WITNESS_FILE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t len = read_file(path, buf, WITNESS_FILE_MAX);
	if (len < 0) {
		free(buf);
		return (int)len;
	}
	buf[len] = 0;
	size_t n = 0;
	for (char *line = buf, *nl; *line && n < WITNESS_MAX; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		else
			*nl = 0;
		/* A line that does not parse (damage) is dropped: the next
		 * commitment of that collector replaces it. */
		if (commitment_parse(line, &c[n]) == 0 && c[n].has_collector)
			n++;
	}
	free(buf);
	*ret_n = n;
	return 0;
}

int witness_open(struct witness **ret, const char *state_dir)
{
	struct witness *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if ((size_t)snprintf(w->path, sizeof(w->path), "%s/%s", state_dir, WITNESS_FILE) >= sizeof(w->path) ||
	    (size_t)snprintf(w->disputed, sizeof(w->disputed), "%s/%s", state_dir, WITNESS_DISPUTED_FILE) >=
		    sizeof(w->disputed)) {
		free(w);
		return -ENAMETOOLONG;
	}
	int r = load(w->path, w->c, &w->n);
	if (r < 0 && r != -ENOENT) {
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void witness_free(struct witness *w)
{
	free(w);
}

const struct commitment *witness_get(const struct witness *w, const uint8_t collector[32])
{
	for (size_t i = 0; i < w->n; i++)
		if (memcmp(w->c[i].collector, collector, 32) == 0)
			return &w->c[i];
	return NULL;
}

static void dispute(struct witness *w, const struct commitment *old, const struct commitment *c)
{
	char line[COMMITMENT_TEXT_MAX + 1], b64[KEY_B64_LEN + 1];
	key_to_base64(b64, old->collector);
	log_err("collector %s: its journal of %s no longer holds what it committed to: %llu records up to "
		"position %llu and stream seq %llu, now %llu records up to %llu and %llu; kept in %s",
		b64, old->host, (unsigned long long)old->records, (unsigned long long)old->end,
		(unsigned long long)old->hwm, (unsigned long long)c->records, (unsigned long long)c->end,
		(unsigned long long)c->hwm, w->disputed);
	int n = commitment_format(line, sizeof(line) - 1, old);
	if (n < 0)
		return;
	line[n++] = '\n';
	int fd = open(w->disputed, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
		log_err("%s: %s", w->disputed, strerror(errno));
	if (fd >= 0)
		close(fd);
}

void witness_put(struct witness *w, const uint8_t collector[32], const struct commitment *c)
{
	struct commitment *old = (struct commitment *)witness_get(w, collector);
	if (old && strcmp(old->host, c->host) == 0 &&
	    (c->records < old->records || c->end < old->end ||
	     (memcmp(old->stream_id, c->stream_id, 16) == 0 && c->hwm < old->hwm)))
		dispute(w, old, c);
	if (!old) {
		if (w->n == WITNESS_MAX) /* the oldest entry goes */
			memmove(&w->c[0], &w->c[1], (WITNESS_MAX - 1) * sizeof(w->c[0]));
		else
			w->n++;
		old = &w->c[w->n - 1];
	}
	*old = *c;
	old->has_collector = 1;
	memcpy(old->collector, collector, 32);
	w->dirty = true;
}

int witness_save(struct witness *w, uint64_t now_ms)
{
	if (!w->dirty || (now_ms && now_ms - w->saved_ms < 1000))
		return 0;
	char *buf = malloc(WITNESS_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	for (size_t i = 0; i < w->n; i++) {
		int n = commitment_format(buf + len, WITNESS_FILE_MAX - len - 1, &w->c[i]);
		if (n < 0)
			continue;
		len += (size_t)n;
		buf[len++] = '\n';
	}
	int r = durable_replace(w->path, buf, len, 0600);
	free(buf);
	if (r < 0)
		return r;
	w->dirty = false;
	w->saved_ms = now_ms;
	return 0;
}

int witness_print(const char *state_dir, FILE *f)
{
	struct witness *w;
	int r = witness_open(&w, state_dir);
	if (r < 0)
		return r;
	if (access(w->path, F_OK) < 0) {
		witness_free(w);
		return -ENOENT;
	}
	char line[COMMITMENT_TEXT_MAX + 1];
	for (size_t i = 0; i < w->n; i++)
		if (commitment_format(line, sizeof(line), &w->c[i]) >= 0)
			fprintf(f, "%s\n", line);
	r = (int)w->n;
	witness_free(w);
	return r;
}
