/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "checkpoint.h"
#include "durable.h"

#define CHECKPOINT_SUM_AT 80

static const uint8_t zero16[16];

void checkpoint_encode(uint8_t out[CHECKPOINT_LEN], const struct checkpoint *c)
{
	memset(out, 0, CHECKPOINT_LEN);
	put_be64(out, c->records);
	put_be64(out + 8, c->end);
	put_be64(out + 16, c->segment);
	put_be64(out + 24, c->written_usec);
	memcpy(out + 32, c->chain, 32);
	crypto_generichash(out + CHECKPOINT_SUM_AT, 16, out, CHECKPOINT_SUM_AT, NULL, 0);
}

int checkpoint_decode(const uint8_t in[CHECKPOINT_LEN], struct checkpoint *ret)
{
	uint8_t sum[16];
	crypto_generichash(sum, sizeof(sum), in, CHECKPOINT_SUM_AT, NULL, 0);
	if (sodium_memcmp(sum, in + CHECKPOINT_SUM_AT, 16) != 0 || memcmp(in + 64, zero16, 16) != 0)
		return -EBADMSG;
	ret->records = get_be64(in);
	ret->end = get_be64(in + 8);
	ret->segment = get_be64(in + 16);
	ret->written_usec = get_be64(in + 24);
	memcpy(ret->chain, in + 32, 32);
	return 0;
}

void checkpoint_header(uint8_t out[CHECKPOINT_HDR_LEN])
{
	memset(out, 0, CHECKPOINT_HDR_LEN);
	memcpy(out, CHECKPOINT_MAGIC, 8);
}

int checkpoint_load(const char *path, struct checkpoint **ret, size_t *ret_n, off_t *ret_good,
		    off_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t hdr[CHECKPOINT_HDR_LEN];
	int r = fstat(fd, &st) < 0 ? -errno : pread_all(fd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA ||
	    (r == 0 && (memcmp(hdr, CHECKPOINT_MAGIC, 8) != 0 || memcmp(hdr + 8, zero16, 8) != 0)))
		r = -EBADMSG;
	if (r < 0) {
		close(fd);
		return r;
	}
	size_t max = (size_t)((st.st_size - CHECKPOINT_HDR_LEN) / CHECKPOINT_LEN);
	uint8_t *raw = max ? malloc(max * CHECKPOINT_LEN) : NULL;
	struct checkpoint *c = max ? malloc(max * sizeof(*c)) : NULL;
	if (max && (!raw || !c)) {
		free(raw);
		free(c);
		close(fd);
		return -ENOMEM;
	}
	if (max && pread_all(fd, raw, max * CHECKPOINT_LEN, CHECKPOINT_HDR_LEN) < 0)
		max = 0;
	close(fd);
	size_t n = 0;
	while (n < max && checkpoint_decode(raw + n * CHECKPOINT_LEN, &c[n]) == 0)
		n++;
	free(raw);
	if (n == 0) {
		free(c);
		c = NULL;
	}
	*ret = c;
	*ret_n = n;
	*ret_good = CHECKPOINT_HDR_LEN + (off_t)(n * CHECKPOINT_LEN);
	*ret_size = st.st_size;
	return 0;
}

void acked_encode(uint8_t *out, const struct acked *a)
{
	memset(out, 0, ACKED_HDR_LEN);
	memcpy(out, ACKED_MAGIC, 8);
	put_be64(out + 8, a->records);
	put_be64(out + 16, a->end);
	put_be64(out + 24, a->written_usec);
	memcpy(out + 32, a->chain, 32);
	put_be32(out + 64, (uint32_t)a->nstreams);
	uint8_t *p = out + ACKED_HDR_LEN;
	for (size_t i = 0; i < a->nstreams; i++, p += ACKED_STREAM_LEN) {
		memcpy(p, a->streams[i].id, 16);
		put_be64(p + 16, a->streams[i].hwm);
	}
	crypto_generichash(p, ACKED_SUM_LEN, out, (size_t)(p - out), NULL, 0);
}

int acked_load(const char *path, struct acked *ret)
{
	memset(ret, 0, sizeof(*ret));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t hdr[ACKED_HDR_LEN];
	int r = fstat(fd, &st) < 0 ? -errno : pread_all(fd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA)
		r = -EBADMSG;
	size_t n = r == 0 ? get_be32(hdr + 64) : 0;
	if (r == 0 && (memcmp(hdr, ACKED_MAGIC, 8) != 0 || get_be32(hdr + 68) != 0 || n > ACKED_STREAMS_MAX ||
		       (uint64_t)st.st_size < acked_size(n)))
		r = -EBADMSG;
	uint8_t *raw = NULL;
	if (r == 0 && !(raw = malloc(acked_size(n))))
		r = -ENOMEM;
	if (r == 0 && (r = pread_all(fd, raw, acked_size(n), 0)) == -ENODATA)
		r = -EBADMSG;
	close(fd);
	uint8_t sum[ACKED_SUM_LEN];
	size_t body = ACKED_HDR_LEN + n * ACKED_STREAM_LEN;
	if (r == 0) {
		crypto_generichash(sum, sizeof(sum), raw, body, NULL, 0);
		if (sodium_memcmp(sum, raw + body, ACKED_SUM_LEN) != 0)
			r = -EBADMSG;
	}
	if (r == 0 && n && !(ret->streams = calloc(n, sizeof(*ret->streams))))
		r = -ENOMEM;
	if (r < 0) {
		free(raw);
		return r;
	}
	ret->records = get_be64(raw + 8);
	ret->end = get_be64(raw + 16);
	ret->written_usec = get_be64(raw + 24);
	memcpy(ret->chain, raw + 32, 32);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = raw + ACKED_HDR_LEN + i * ACKED_STREAM_LEN;
		memcpy(ret->streams[i].id, p, 16);
		ret->streams[i].hwm = get_be64(p + 16);
	}
	ret->nstreams = n;
	free(raw);
	return 0;
}

void acked_free(struct acked *a)
{
	free(a->streams);
	a->streams = NULL;
	a->nstreams = 0;
}

uint64_t acked_stream_hwm(const struct acked *a, const uint8_t id[16])
{
	for (size_t i = 0; i < a->nstreams; i++)
		if (memcmp(a->streams[i].id, id, 16) == 0)
			return a->streams[i].hwm;
	return 0;
}
