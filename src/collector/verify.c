/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "durable.h"
#include "segindex.h"
#include "store.h"
#include "verify.h"

/* Per stream: the highest stream seq + 1 the journal holds (of agent
 * records, or named by a retention gap record: removed on purpose). */
struct vstream {
	uint8_t id[16];
	uint64_t have;
};

struct vstate {
	const char *dir;
	struct verify_result *res;
	uint64_t recno;	      /* expected next */
	uint64_t first_recno; /* of the oldest segment */
	uint8_t chain[SEGMENT_HASH_LEN];
	struct checkpoint *ckp;
	size_t nckp, ci;
	/* The active segment's index describing more than the segment holds:
	 * reported unless the checkpoints show the cut that explains it. */
	bool idx_pending;
	char idx_file[SEGMENT_NAME_LEN + 1];
	uint64_t idx_off, idx_base, idx_entry;
	struct vstream *vs;
	size_t nvs, capvs, lastvs;
	/* The acked file, and the commitments to check. */
	struct acked ack;
	bool has_ack;
	const struct commitment *cs;
	size_t ncs;
	/* The first loss or tamper event the collector recorded, reported
	 * after the pass (damage before it comes first). */
	enum verify_problem ev_problem;
	char ev_file[SEGMENT_NAME_LEN + 1];
	uint64_t ev_off, ev_pos, ev_recno;
	char ev_what[200];
};

const char *verify_problem_name(enum verify_problem p)
{
	static const char *const names[] = {
		[VERIFY_OK] = "ok",
		[VERIFY_SEGMENT] = "segment",
		[VERIFY_LENGTH] = "length",
		[VERIFY_CHECKSUM] = "checksum",
		[VERIFY_RECORD] = "record",
		[VERIFY_ORDER] = "order",
		[VERIFY_MISSING] = "missing records",
		[VERIFY_CHAIN] = "chain",
		[VERIFY_TAIL] = "tail",
		[VERIFY_INDEX] = "index",
		[VERIFY_CHECKPOINT] = "checkpoint",
		[VERIFY_TRUNCATED] = "truncated",
		[VERIFY_ACKED] = "acknowledged records lost",
		[VERIFY_LOSS] = "recorded loss",
		[VERIFY_TAMPER] = "tamper",
		[VERIFY_COMMITMENT] = "commitment",
	};
	return p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

__attribute__((format(printf, 6, 7))) static int problem(struct vstate *v, enum verify_problem p,
							 const char *file, uint64_t offset, uint64_t pos,
							 const char *fmt, ...)
{
	struct verify_result *r = v->res;
	r->problem = p;
	snprintf(r->file, sizeof(r->file), "%s", file);
	r->offset = offset;
	r->position = pos;
	r->has_recno = true;
	r->recno = v->recno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int list_bases(const char *dir, uint64_t **ret, size_t *ret_n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	uint64_t *b = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t base;
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) < 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			uint64_t *nb = realloc(b, nc * sizeof(*nb));
			if (!nb) {
				free(b);
				closedir(d);
				return -ENOMEM;
			}
			b = nb;
			cap = nc;
		}
		b[n++] = base;
	}
	closedir(d);
	if (n)
		qsort(b, n, sizeof(*b), cmp_u64);
	*ret = b;
	*ret_n = n;
	return 0;
}

static bool same_block(const struct segindex_block *a, const struct segindex_block *b)
{
	return a->first_recno == b->first_recno && a->offset == b->offset && a->bytes == b->bytes &&
	       a->count == b->count && a->levels == b->levels && a->min_real == b->min_real &&
	       a->max_real == b->max_real && a->hwm == b->hwm &&
	       memcmp(a->stream_id, b->stream_id, 16) == 0 && memcmp(a->boot_id, b->boot_id, 16) == 0;
}

/* The block blk closed: it must equal the index entry at its place, if the index has one. */
static int check_block(struct vstate *v, const char *iname, const struct segindex_block *idx, size_t nidx,
		       size_t *bi, const struct segindex_block *blk, uint64_t base)
{
	if (*bi >= nidx)
		return 0; /* not indexed (yet): readers scan it */
	const struct segindex_block *x = &idx[*bi];
	(*bi)++;
	if (same_block(x, blk))
		return 0;
	return problem(v, VERIFY_INDEX, iname, SEGINDEX_HDR_LEN + (*bi - 1) * SEGINDEX_ENTRY_LEN,
		       base + blk->offset,
		       "index entry %zu (records %llu-%llu) does not match the records it describes", *bi - 1,
		       (unsigned long long)blk->first_recno,
		       (unsigned long long)(blk->first_recno + blk->count - 1));
}

/*
 * Checkpoints ending at record recno-1, at position end (or alt_end: a
 * segment holding no entry was sealed with the position after it, the
 * next one's base; UINT64_MAX when there is no such choice).
 */
static int check_checkpoints(struct vstate *v, uint64_t end, uint64_t alt_end, const char *sname,
			     uint64_t off)
{
	while (v->ci < v->nckp && v->ckp[v->ci].records == v->recno) {
		const struct checkpoint *c = &v->ckp[v->ci];
		if ((c->end != end && c->end != alt_end) || memcmp(c->chain, v->chain, SEGMENT_HASH_LEN) != 0)
			return problem(
				v, VERIFY_CHECKPOINT, sname, off, end,
				"checkpoint %zu (%llu records, position %llu) does not match the journal "
				"there (%s differs)",
				v->ci, (unsigned long long)c->records, (unsigned long long)c->end,
				c->end != end ? "position" : "chain value");
		v->ci++;
		v->res->checkpoints++;
	}
	return 0;
}

static struct vstream *vstream_get(struct vstate *v, const uint8_t id[16])
{
	if (v->lastvs < v->nvs && memcmp(v->vs[v->lastvs].id, id, 16) == 0)
		return &v->vs[v->lastvs];
	for (size_t i = 0; i < v->nvs; i++)
		if (memcmp(v->vs[i].id, id, 16) == 0)
			return &v->vs[v->lastvs = i];
	if (v->nvs == v->capvs) {
		size_t nc = v->capvs ? 2 * v->capvs : 8;
		struct vstream *n = realloc(v->vs, nc * sizeof(*n));
		if (!n)
			return NULL;
		v->vs = n;
		v->capvs = nc;
	}
	memset(&v->vs[v->nvs], 0, sizeof(v->vs[0]));
	memcpy(v->vs[v->nvs].id, id, 16);
	return &v->vs[v->lastvs = v->nvs++];
}

static uint64_t vstream_have(const struct vstate *v, const uint8_t id[16])
{
	for (size_t i = 0; i < v->nvs; i++)
		if (memcmp(v->vs[i].id, id, 16) == 0)
			return v->vs[i].have;
	return 0;
}

static bool field_u64(const struct record *r, const char *key, uint64_t *ret)
{
	const uint8_t *val;
	size_t len;
	if (record_field_get(r, key, &val, &len) != 1 || len == 0 || len > 20)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9' || n > (UINT64_MAX - (uint64_t)(val[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(val[i] - '0');
	}
	*ret = n;
	return true;
}

static bool field_is(const struct record *r, const char *key, const char *want)
{
	const uint8_t *val;
	size_t len;
	return record_field_get(r, key, &val, &len) == 1 && len == strlen(want) &&
	       memcmp(val, want, len) == 0;
}

static void hex16(char out[33], const uint8_t id[16])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* What a record tells beyond the chain: the streams' seqs it holds, and
 * the losses and tampering the collector recorded. 0, or -ENOMEM. */
static int note_record(struct vstate *v, const uint8_t *sid, const struct record *rec, const char *sname,
		       uint64_t off, uint64_t pos)
{
	uint64_t lo, hi;
	if (rec->source != RECORD_SRC_COLLECTOR) {
		struct vstream *x = vstream_get(v, sid);
		if (!x)
			return -ENOMEM;
		if (rec->stream_seq + 1 > x->have)
			x->have = rec->stream_seq + 1;
		return 0;
	}
	bool gap = rec->event == RECORD_EV_GAP;
	if (gap && field_is(rec, "GAP_CAUSE", "retention") && field_u64(rec, "GAP_LAST_STREAM_SEQ", &hi)) {
		struct vstream *x = vstream_get(v, sid);
		if (!x)
			return -ENOMEM;
		if (hi + 1 > x->have)
			x->have = hi + 1;
		return 0;
	}
	if (v->ev_problem != VERIFY_OK)
		return 0;
	char sh[33];
	hex16(sh, sid);
	if (gap && field_is(rec, "GAP_CAUSE", "acked-lost") && field_u64(rec, "GAP_FIRST_STREAM_SEQ", &lo) &&
	    field_u64(rec, "GAP_LAST_STREAM_SEQ", &hi)) {
		v->ev_problem = VERIFY_LOSS;
		snprintf(v->ev_what, sizeof(v->ev_what),
			 "the collector found acknowledged records gone at its start: stream %s, stream seq "
			 "%llu-%llu",
			 sh, (unsigned long long)lo, (unsigned long long)hi);
	} else if (rec->event == STORE_EV_ACKED_LOST && field_u64(rec, "ACKED_RECORDS", &hi) &&
		   field_u64(rec, "JOURNAL_RECORDS", &lo)) {
		v->ev_problem = VERIFY_LOSS;
		snprintf(v->ev_what, sizeof(v->ev_what),
			 "the collector found acknowledged records gone at its start: records %llu-%llu",
			 (unsigned long long)lo, (unsigned long long)(hi - 1));
	} else if (rec->event == STORE_EV_TAMPER) {
		v->ev_problem = VERIFY_TAMPER;
		snprintf(v->ev_what, sizeof(v->ev_what),
			 "an agent presented a commitment the journal no longer held: stream %s, %.*s", sh,
			 (int)(rec->msg_len > 120 ? 120 : rec->msg_len), (const char *)rec->msg);
	} else {
		return 0;
	}
	snprintf(v->ev_file, sizeof(v->ev_file), "%s", sname);
	v->ev_off = off;
	v->ev_pos = pos;
	v->ev_recno = v->recno;
	return 0;
}

/* Record recno-1 ends at position end with chain value v->chain: the
 * acked mark and the commitments naming it must say the same. */
static int check_marks(struct vstate *v, uint64_t end, const char *sname, uint64_t off)
{
	if (v->has_ack && v->ack.records == v->recno && v->recno > 0) {
		if (v->ack.end != end || memcmp(v->ack.chain, v->chain, SEGMENT_HASH_LEN) != 0)
			return problem(v, VERIFY_ACKED, sname, off, end,
				       "the acked file names record %llu at position %llu with another %s: "
				       "acknowledged records were rewritten",
				       (unsigned long long)(v->recno - 1), (unsigned long long)v->ack.end,
				       v->ack.end != end ? "position" : "chain value");
		v->res->acked = true;
	}
	for (size_t i = 0; i < v->ncs; i++) {
		const struct commitment *c = &v->cs[i];
		if (c->records != v->recno || v->recno == 0)
			continue;
		if (c->end != end || memcmp(c->chain, v->chain, SEGMENT_HASH_LEN) != 0) {
			char sh[33];
			hex16(sh, c->stream_id);
			return problem(v, VERIFY_COMMITMENT, sname, off, end,
				       "commitment %zu (stream %s, %llu records, position %llu, time %llu) "
				       "names another %s: the journal was rewritten",
				       i, sh, (unsigned long long)c->records, (unsigned long long)c->end,
				       (unsigned long long)c->written_usec,
				       c->end != end ? "position" : "chain value");
		}
		v->res->commitments++;
	}
	return 0;
}

/* One segment file. 1 when a problem was recorded, 0 to go on, -errno. */
static int verify_segment(struct vstate *v, uint64_t base, bool last, uint64_t *expect_base)
{
	char sname[SEGMENT_NAME_LEN + 1], iname[SEGMENT_NAME_LEN + 1], path[PATH_MAX + 32];
	segment_name(sname, sizeof(sname), base, SEGMENT_SUFFIX);
	segment_name(iname, sizeof(iname), base, SEGMENT_INDEX_SUFFIX);
	snprintf(path, sizeof(path), "%s/%s", v->dir, sname);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(v->res->what, sizeof(v->res->what), "%s: %s", sname, strerror(errno));
		return -errno;
	}
	struct segment_header hd;
	int r = segment_header_read(fd, &hd);
	if (r == -ENOMEM) {
		close(fd);
		return r;
	}
	if (r < 0 || hd.base != base) {
		if (r == 0)
			segment_header_free(&hd);
		close(fd);
		return problem(v, VERIFY_SEGMENT, sname, 0, base, "%s",
			       r == 0 ? "header names another base than the file name" : "damaged header");
	}
	segment_header_free(&hd);
	if (*expect_base != UINT64_MAX && base != *expect_base) {
		close(fd);
		return problem(v, VERIFY_SEGMENT, sname, 0, base,
			       base > *expect_base ? "a segment is missing before this one (bytes %llu-%llu)"
						   : "segment overlaps the previous one (%llu-%llu)",
			       (unsigned long long)*expect_base, (unsigned long long)base);
	}
	if (*expect_base == UINT64_MAX) {
		/* The oldest segment left: where the checked part starts. */
		v->recno = hd.first_recno;
		v->first_recno = hd.first_recno;
		memcpy(v->chain, hd.chain_in, SEGMENT_HASH_LEN);
		while (v->ci < v->nckp && v->ckp[v->ci].records < v->recno)
			v->ci++; /* of records removed by retention */
	} else if (hd.first_recno != v->recno) {
		close(fd);
		return problem(v, VERIFY_SEGMENT, sname, 0, base,
			       "header says its first record is %llu, the previous segment ends before %llu",
			       (unsigned long long)hd.first_recno, (unsigned long long)v->recno);
	} else if (memcmp(hd.chain_in, v->chain, SEGMENT_HASH_LEN) != 0) {
		close(fd);
		return problem(v, VERIFY_CHAIN, sname, 0, base,
			       "header's chain value does not continue the previous segment");
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	uint64_t empty_end = (uint64_t)st.st_size == hd.len ? base + (uint64_t)st.st_size : UINT64_MAX;
	if ((r = check_checkpoints(v, base, empty_end, sname, 0)) != 0) {
		close(fd);
		return r;
	}
	char ipath[PATH_MAX + 32];
	snprintf(ipath, sizeof(ipath), "%s/%s", v->dir, iname);
	struct segindex_block *idx = NULL, blk = { 0 };
	size_t nidx = 0, bi = 0;
	uint64_t igood;
	struct stat ist;
	r = segindex_load(ipath, base, hd.len, hd.first_recno, (uint64_t)st.st_size, &idx, &nidx, &igood);
	if (r == -ENOMEM) {
		close(fd);
		return r;
	}
	/* Readers trust what the index says and skip by it; what they
	 * cannot use costs them a scan. Both are reported: the collector
	 * writes every entry, so either is damage. A partial last entry of
	 * the active segment's index may be a write in progress.
	 * Reported after the records: damage there comes first, and makes
	 * the index entries after it unusable too. */
	int idx_err = r;
	if (r == 0 && stat(ipath, &ist) < 0)
		idx_err = -errno;
	bool idx_excess = idx_err == 0 && (uint64_t)ist.st_size > igood &&
			  (!last || (uint64_t)ist.st_size - igood >= SEGINDEX_ENTRY_LEN);
	struct segment_reader *sr;
	if ((r = segment_reader_new(&sr, fd, hd.version, (off_t)hd.len)) < 0) {
		free(idx);
		close(fd);
		return r;
	}
	const uint8_t *p;
	size_t size;
	for (;;) {
		uint64_t off = (uint64_t)segment_reader_offset(sr);
		r = segment_reader_next(sr, false, &p, &size);
		if (r == 0) {
			if (blk.count && !last &&
			    (r = check_block(v, iname, idx, nidx, &bi, &blk, base)) != 0)
				break;
			if ((uint64_t)st.st_size > off) {
				if (!last) {
					r = problem(v, VERIFY_TAIL, sname, off, base + off,
						    "%llu bytes after the last entry of a sealed segment",
						    (unsigned long long)((uint64_t)st.st_size - off));
					break;
				}
				v->res->tail_bytes = (uint64_t)st.st_size - off;
			}
			*expect_base = base + off;
			break;
		}
		if (r == -EBADMSG) {
			uint8_t lb[4] = { 0 };
			if (pread_all(fd, lb, sizeof(lb), (off_t)off) < 0)
				memset(lb, 0, sizeof(lb));
			r = problem(v, VERIFY_LENGTH, sname, off, base + off, "entry length %lu out of range",
				    (unsigned long)get_be32(lb));
			break;
		}
		if (r < 0)
			break;
		if (!segment_entry_sum_ok(p, size, hd.version)) {
			r = problem(v, VERIFY_CHECKSUM, sname, off, base + off, "checksum mismatch");
			break;
		}
		uint64_t recno = segment_entry_recno(p);
		if (recno < v->recno) {
			r = problem(v, VERIFY_ORDER, sname, off, base + off,
				    "record number %llu where %llu was due: reordered or inserted",
				    (unsigned long long)recno, (unsigned long long)v->recno);
			break;
		}
		if (recno > v->recno) {
			r = problem(
				v, VERIFY_MISSING, sname, off, base + off,
				"record number %llu where %llu was due: records %llu-%llu are missing (or "
				"reordered)",
				(unsigned long long)recno, (unsigned long long)v->recno,
				(unsigned long long)v->recno, (unsigned long long)(recno - 1));
			break;
		}
		uint8_t next[SEGMENT_HASH_LEN];
		uint8_t digest[SEGMENT_HASH_LEN];
		segment_entry_digest(digest, p, size, hd.version);
		segment_chain_next(next, v->chain, digest);
		if (memcmp(next, segment_entry_chain(p, size), SEGMENT_HASH_LEN) != 0) {
			r = problem(v, VERIFY_CHAIN, sname, off, base + off,
				    "chain value does not follow from the previous record");
			break;
		}
		struct record rec;
		size_t len;
		const uint8_t *enc = segment_entry_record(p, &len);
		if (record_decode(enc, len, &rec) < 0) {
			r = problem(v, VERIFY_RECORD, sname, off, base + off, "record does not decode");
			break;
		}
		const uint8_t *sid = segment_entry_sid(p);
		if (blk.count && segindex_block_breaks(&blk, sid, rec.boot_id)) {
			if ((r = check_block(v, iname, idx, nidx, &bi, &blk, base)) != 0)
				break;
			blk.count = 0;
		}
		segindex_block_add_entry(&blk, recno, off, (uint32_t)size, sid, &rec,
					 segment_entry_flags(p) & SEGMENT_ENTRY_EARLY);
		if (blk.count == SEGINDEX_BLOCK_RECORDS) {
			if ((r = check_block(v, iname, idx, nidx, &bi, &blk, base)) != 0)
				break;
			blk.count = 0;
		}
		if ((r = note_record(v, sid, &rec, sname, off, base + off)) < 0)
			break;
		memcpy(v->chain, next, SEGMENT_HASH_LEN);
		v->recno++;
		v->res->records++;
		if ((r = check_checkpoints(v, base + off + size, UINT64_MAX, sname, off + size)) != 0)
			break;
		if ((r = check_marks(v, base + off + size, sname, off + size)) != 0)
			break;
	}
	if (r == 0 && idx_err < 0)
		r = problem(v, VERIFY_INDEX, iname, 0, base, "%s",
			    idx_err == -ENOENT ? "index missing" : "index header damaged");
	else if (r == 0 && idx_excess && last) {
		v->idx_pending = true;
		snprintf(v->idx_file, sizeof(v->idx_file), "%s", iname);
		v->idx_off = igood;
		v->idx_base = base;
		v->idx_entry = (igood - SEGINDEX_HDR_LEN) / SEGINDEX_ENTRY_LEN;
	} else if (r == 0 && idx_excess)
		r = problem(v, VERIFY_INDEX, iname, igood, base,
			    "index entry %llu is damaged or does not follow the one before it",
			    (unsigned long long)((igood - SEGINDEX_HDR_LEN) / SEGINDEX_ENTRY_LEN));
	segment_reader_free(sr);
	free(idx);
	close(fd);
	return r;
}

int verify_host(const char *dir, struct verify_result *ret)
{
	return verify_host_with(dir, NULL, 0, ret);
}

/* After the pass: what the acked file and the commitments name that the
 * journal does not hold, by stream and seq range; then what the
 * collector recorded. */
static void check_after(struct vstate *v, const char *sname, uint64_t off, uint64_t pos)
{
	struct verify_result *res = v->res;
	char what[sizeof(res->what)];
	size_t w = 0;
	if (v->has_ack) {
		for (size_t i = 0; i < v->ack.nstreams && w < sizeof(what) - 100; i++) {
			uint64_t have = vstream_have(v, v->ack.streams[i].id), want = v->ack.streams[i].hwm;
			if (have >= want)
				continue;
			char sh[33];
			hex16(sh, v->ack.streams[i].id);
			w += (size_t)snprintf(what + w, sizeof(what) - w, "%sstream %s stream seq %llu-%llu",
					      w ? ", " : "", sh, (unsigned long long)have,
					      (unsigned long long)(want - 1));
		}
		if (w || v->ack.records > v->recno) {
			problem(v, VERIFY_ACKED, sname, off, pos,
				"the journal ends after %llu records, the collector acknowledged %llu (up to "
				"position %llu): %s",
				(unsigned long long)v->recno, (unsigned long long)v->ack.records,
				(unsigned long long)v->ack.end, w ? what : "collector records only");
			return;
		}
	}
	for (size_t i = 0; i < v->ncs; i++) {
		const struct commitment *c = &v->cs[i];
		uint64_t have = vstream_have(v, c->stream_id);
		if (c->records <= v->recno && have >= c->hwm)
			continue;
		char sh[33];
		hex16(sh, c->stream_id);
		problem(v, VERIFY_COMMITMENT, sname, off, pos,
			"the journal ends after %llu records; commitment %zu (time %llu) names %llu records "
			"(up to position %llu) and stream %s up to stream seq %llu: missing stream seq "
			"%llu-%llu",
			(unsigned long long)v->recno, i, (unsigned long long)c->written_usec,
			(unsigned long long)c->records, (unsigned long long)c->end, sh,
			(unsigned long long)(c->hwm ? c->hwm - 1 : 0), (unsigned long long)have,
			(unsigned long long)(c->hwm ? c->hwm - 1 : 0));
		return;
	}
	if (v->ev_problem != VERIFY_OK) {
		v->recno = v->ev_recno;
		problem(v, v->ev_problem, v->ev_file, v->ev_off, v->ev_pos, "%s", v->ev_what);
	}
}

int verify_host_with(const char *dir, const struct commitment *cs, size_t ncs, struct verify_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct vstate v = { .dir = dir, .res = ret, .cs = cs, .ncs = ncs };
	uint64_t *bases = NULL;
	size_t n = 0;
	int r = list_bases(dir, &bases, &n);
	if (r < 0) {
		snprintf(ret->what, sizeof(ret->what), "%.200s: %s", dir, strerror(-r));
		return r;
	}
	char cpath[PATH_MAX + 32];
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, CHECKPOINT_FILE);
	off_t good, size;
	r = checkpoint_load(cpath, &v.ckp, &v.nckp, &good, &size);
	if (r == -ENOENT || r == -EBADMSG) {
		v.nckp = 0;
		v.ckp = NULL;
		if (n > 0)
			problem(&v, r == -ENOENT ? VERIFY_TRUNCATED : VERIFY_CHECKPOINT, CHECKPOINT_FILE, 0,
				0, "%s",
				r == -ENOENT ? "the checkpoints file is missing"
					     : "the checkpoints file is damaged");
		ret->has_recno = false;
		r = 0;
	} else if (r < 0) {
		snprintf(ret->what, sizeof(ret->what), "%s: %s", CHECKPOINT_FILE, strerror(-r));
		free(bases);
		return r;
	}
	if (ret->problem == VERIFY_OK && size > good) {
		problem(&v, VERIFY_CHECKPOINT, CHECKPOINT_FILE, (uint64_t)good, 0,
			"checkpoint %zu is damaged (the last %lld bytes of the file)", v.nckp,
			(long long)(size - good));
		ret->has_recno = false;
	}
	for (size_t i = 1; ret->problem == VERIFY_OK && i < v.nckp; i++)
		if (v.ckp[i].records < v.ckp[i - 1].records || v.ckp[i].end < v.ckp[i - 1].end) {
			problem(&v, VERIFY_CHECKPOINT, CHECKPOINT_FILE,
				CHECKPOINT_HDR_LEN + (uint64_t)i * CHECKPOINT_LEN, v.ckp[i].end,
				"checkpoint %zu goes back from the one before it", i);
			ret->has_recno = false;
		}
	char apath[PATH_MAX + 32];
	snprintf(apath, sizeof(apath), "%s/%s", dir, ACKED_FILE);
	r = acked_load(apath, &v.ack);
	if (r == 0)
		v.has_ack = true;
	else if (r == -EBADMSG && ret->problem == VERIFY_OK) {
		problem(&v, VERIFY_ACKED, ACKED_FILE, 0, 0, "the acked file is damaged");
		ret->has_recno = false;
	} else if (r != -ENOENT && r != -EBADMSG) {
		snprintf(ret->what, sizeof(ret->what), "%s: %s", ACKED_FILE, strerror(-r));
		free(bases);
		free(v.ckp);
		return r;
	}
	r = 0;
	uint64_t expect = UINT64_MAX;
	ret->segments = n;
	for (size_t i = 0; ret->problem == VERIFY_OK && i < n; i++) {
		r = verify_segment(&v, bases[i], i + 1 == n, &expect);
		if (r < 0)
			break;
		r = 0;
	}
	if (r == 0 && ret->problem == VERIFY_OK && v.ci < v.nckp) {
		const struct checkpoint *c = &v.ckp[v.ci];
		char sname[SEGMENT_NAME_LEN + 1];
		uint64_t last = n ? bases[n - 1] : 0;
		segment_name(sname, sizeof(sname), last, SEGMENT_SUFFIX);
		problem(&v, VERIFY_TRUNCATED, sname, expect == UINT64_MAX ? 0 : expect - last, expect,
			"the journal ends after %llu records, but checkpoint %zu says %llu records (up to "
			"position %llu in segment %016llx)",
			(unsigned long long)v.recno, v.ci, (unsigned long long)c->records,
			(unsigned long long)c->end, (unsigned long long)c->segment);
	}
	if (r == 0 && ret->problem == VERIFY_OK && v.idx_pending)
		problem(&v, VERIFY_INDEX, v.idx_file, v.idx_off, v.idx_base,
			"index entry %llu is damaged, does not follow the one before it, or describes "
			"records "
			"the segment does not hold",
			(unsigned long long)v.idx_entry);
	if (r == 0 && ret->problem == VERIFY_OK) {
		char sname[SEGMENT_NAME_LEN + 1];
		uint64_t last = n ? bases[n - 1] : 0;
		segment_name(sname, sizeof(sname), last, SEGMENT_SUFFIX);
		/* Commitments of records retention removed cannot be checked. */
		for (size_t i = 0; i < ncs; i++)
			if (cs[i].records < v.first_recno)
				ret->commitments_skipped++;
		check_after(&v, sname, expect == UINT64_MAX ? 0 : expect - last,
			    expect == UINT64_MAX ? 0 : expect);
	}
	free(bases);
	free(v.ckp);
	free(v.vs);
	acked_free(&v.ack);
	return r;
}
