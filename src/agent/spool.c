/* SPDX-License-Identifier: ISC */

/*
 * The agent's durable spool (interface in spool.h, format and policy in
 * docs/SPOOL.md).
 *
 * Data:
 * - segs[]: the segment files in seq order, each with an index of its
 *   entries built on open and kept up to date; records are read back from
 *   the file (pread) or, for the tail of the newest segment, from the
 *   cache. The index costs 4 bytes per entry (length, seq step, level, a
 *   gap and a dead flag) plus 16 bytes per chunk of up to IDX_CHUNK
 *   entries that lie back to back in the file, whose first seq and offset
 *   it holds: an entry's seq and offset are summed up from its chunk's.
 *   A chunk ends early where the file has bytes between two entries, or
 *   where seqs step by more than 255. An entry found damaged after open
 *   is marked dead, not removed, so that the offsets still add up.
 * - The cache mirrors the newest segment's bytes [cache.off, its end). It
 *   always covers everything not yet fdatasynced, so the bytes of a failed
 *   write or sync are still in memory and are written again on retry.
 * - The cache is also the write buffer: appended entries reach the file
 *   only from [written_len, end) in one write, at spool_flush (the
 *   caller's end of a read burst), before any fdatasync, before a segment
 *   header is written or a segment rewritten, or once SPOOL_WBUF_BYTES
 *   wait. So synced_len <= written_len <= the newest segment's length,
 *   and cache.off <= synced_len.
 * - The memory queue (degraded) is one FIFO per rank, so that dropping the
 *   oldest record of the least important rank is O(1); reading and writing
 *   out in seq order merge the nine heads.
 * - The urgent index: the seqs of the held records of level <=
 *   SPOOL_URGENT_LEVEL, ascending, in a ring of SPOOL_URGENT_MAX. Seqs are
 *   given in increasing order, so appends go at its end and acks take
 *   from its front; a seq whose record overflow or damage took later
 *   stays until an ack passes it (spool_read then finds another seq).
 *
 * Decisions:
 * - Rank orders what overflow drops first: rank 8 (debug) .. rank 1
 *   (emergency), rank 0 the agent's own gap records. A drop step removes
 *   every record of the least important rank present from the oldest
 *   segment holding one (a whole-file rewrite, or an unlink if nothing is
 *   left), so that a full spool pays one rewrite per many records.
 * - Room is checked before a seq is given: an ordinary record needs its
 *   entry, a segment header (a roll) and SPOOL_GAP_RESERVE, so that the
 *   gap record of a drop episode always fits right before it.
 * - Gap records and the records of the memory queue are written strictly
 *   in seq order: while the memory queue is not empty every new record
 *   joins it, and pending gap records wait.
 * - Every write failure degrades, whatever the errno: the alternative to
 *   keeping the record in memory is losing it.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bytes.h"
#include "durable.h"
#include "spool.h"

#define HDR SPOOL_SEG_HDR_LEN
#define OVH SPOOL_ENTRY_OVERHEAD
#define SUM_LEN SPOOL_ENTRY_SUM_BYTES
/* Header offsets (spool.h). */
#define H_STREAM 8
#define H_FIRST 24
#define H_CSEQ 32
#define H_CKMSG 40
#define H_CBOOT 48
#define H_FLAGS 64
#define H_NEXT 68
#define H_RES 76
#define H_SUM 80
/* Record header offsets used without a full decode (record.h). */
#define R_SOURCE 1
#define R_LEVEL 2
#define R_SEQ 8
#define R_RESERVED 62

#define NRANK 9
#define RANK_GAP 0
/* Seqs at or above this are not valid in a file, and no seq at or above
 * SEQ_MAX - 1 is given: no arithmetic on seqs can wrap, and a next seq
 * written to a header is always valid. */
#define SEQ_MAX (UINT64_C(1) << 62)
/* Largest segment_bytes; a file above SEG_READ_MAX is not read past it. */
#define SEG_BYTES_MAX (UINT64_C(256) << 20)
#define SEG_READ_MAX (UINT64_C(512) << 20)
#define NAME_LEN 20 /* 16 hex digits + ".seg" */
#define ASIDE_SUFFIX ".damaged"
#define TMP_INFIX ".tmp." /* durable_replace's temporary files */
#define MEM_MIN (UINT64_C(128) << 10)

/* write_entry results beyond 0 */
#define W_INDOUBT 1 /* in the cache, the disk failed: kept in memory */
#define W_NOTKEPT 2 /* the disk failed before: the caller keeps it */

/*
 * The newest kernel record of the newest boot (valid), or, before the
 * boot's first kernel record, the boot event record that announced it
 * (boot_event: kmsg_seq means nothing and is 0). Either says the boot was
 * announced; only a kernel record says where to resume reading.
 */
struct cursor {
	bool valid;
	bool boot_event;
	uint64_t stream_seq, kmsg_seq;
	uint8_t boot_id[16];
};

/* An entry as a scan finds it. */
struct sent {
	uint64_t seq;
	uint32_t off;
	uint16_t len; /* record length L, <= RECORD_MAX */
	uint8_t level;
	uint8_t rank;
};

/* Entries per chunk of the index, at most. */
#define IDX_CHUNK 64
#define E_LEVEL 7u
#define E_GAP 8u   /* rank RANK_GAP */
#define E_DEAD 16u /* found damaged after open: not held, skipped */

/* An entry of the index: seq and offset follow from its chunk's. */
struct ent {
	uint16_t len; /* record length L, <= RECORD_MAX */
	uint8_t dseq; /* seq minus the previous entry's; 0 for a chunk's first */
	uint8_t flags;
};

/* Entries ents[first ..] up to the next chunk's first, back to back. */
struct chunk {
	uint64_t seq; /* of the first entry */
	uint32_t off; /* of the first entry */
	uint32_t first;
};

struct seg {
	uint64_t first; /* name */
	uint64_t bytes; /* file length */
	struct ent *ents;
	size_t n, cap; /* entries, dead ones included */
	struct chunk *ch;
	size_t nch, chcap;
	uint64_t last_seq, ent_end; /* of the last entry: its seq, the offset after it */
	uint32_t held[NRANK];	    /* live entries by rank ... */
	uint32_t hlev[8];	    /* ... and by level */
	uint8_t hdr[HDR];
};

/* A position in a segment's index: entry i of chunk c, its seq and offset. */
struct it {
	size_t i, c;
	uint64_t seq, off;
};

struct ment {
	uint64_t seq;
	uint32_t len;
	uint8_t level, rank;
	uint8_t data[];
};

struct mring {
	struct ment **v;
	size_t cap, head, n; /* cap: 0 or a power of two */
};

/* Records dropped in one episode: seq range (not contiguous) and counts. */
struct episode {
	uint64_t count, first, last;
	uint64_t level[8];
};

/* What a scan finds in one segment file. */
enum { SEG_OK, SEG_BADHDR, SEG_FOREIGN };

struct region {
	uint64_t off, len, first, last, count;
};

struct segscan {
	char name[40];
	uint64_t seq; /* from the name */
	uint64_t size;
	int kind;
	uint8_t hdr[HDR];
	uint8_t stream_id[16];
	uint64_t hdr_next;
	struct cursor hcur, rcur;
	struct sent *ents;
	size_t n, cap;
	struct region *dmg;
	size_t ndmg, dmgcap;
	uint64_t valid_end;
	bool torn;
	struct region tornr;
	bool any;
	uint64_t max_seq; /* of valid entries (or salvaged ones for BADHDR) */
	int read_err;	  /* -errno reading the file, 0 */
};

struct scan {
	struct segscan *v;
	size_t n, cap;
	char **tmps, **aside, **other;
	size_t ntmp, naside, nother;
	bool have_winner;
	uint8_t stream_id[16];
	uint64_t next_seq;
	struct cursor cur;
	struct spool_loss *loss;
	size_t nloss;
};

struct spool {
	struct spool_conf conf;
	char *dir;
	int dirfd;
	uint8_t stream_id[16];
	uint8_t boot_id[16];
	uint64_t next_seq;

	struct seg *segs;
	size_t nseg, segcap;
	uint64_t bytes;
	uint64_t held_rank[NRANK];
	uint64_t held_level[8];

	int fd;	    /* newest segment, -1 if none is open */
	bool fd_rw; /* opened for writing */
	uint64_t synced_len;
	uint64_t written_len; /* bytes of the newest segment in the file; the rest only in the cache */
	uint64_t first_unsynced_seq;
	uint64_t unsynced_since; /* ms, CLOCK_MONOTONIC */
	uint32_t unsynced;

	struct {
		uint8_t *buf;
		size_t len, cap;
		uint64_t off;
	} cache;

	int rfd; /* read fd of an older segment, -1 */
	uint64_t rfd_first;

	/* Where spool_read found its last record (segment named first), so
	 * that reading on from there costs one step; dropped when that
	 * segment's index changes. */
	struct {
		bool valid;
		uint64_t first;
		struct it at;
	} hint;

	uint8_t *ebuf; /* one entry being written */
	uint8_t *rbuf; /* one entry read back */

	struct mring mq[NRANK];
	size_t mq_n;
	uint64_t mq_bytes;

	int degraded;
	uint64_t retry_at;

	struct cursor disk_cursor; /* newest KMSG record on disk: header snapshots */
	struct cursor acc_cursor;  /* newest KMSG record accepted: spool_cursor() */

	struct episode full_ep, mem_ep;
	struct spool_loss *pend; /* losses waiting for their gap record */
	size_t npend, pendcap;

	struct spool_loss *loss; /* found on open */
	size_t nloss;

	struct {
		uint64_t *v; /* SPOOL_URGENT_MAX */
		size_t head, n;
	} urg;

	struct spool_stats st;
};

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int rank_of(uint8_t source, uint16_t event, uint8_t level)
{
	return source == RECORD_SRC_AGENT && event == RECORD_EV_GAP ? RANK_GAP : level + 1;
}

static void seg_name(char *out, uint64_t seq)
{
	snprintf(out, NAME_LEN + 1, "%016" PRIx64 SPOOL_SEG_SUFFIX, seq);
}

/* 1 if the first NAME_LEN bytes of name are a segment name; *seq its seq. */
static int seg_name_parse(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		char c = name[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return 0;
	}
	if (strncmp(name + 16, SPOOL_SEG_SUFFIX, 4) != 0 || v >= SEQ_MAX)
		return 0;
	*seq = v;
	return 1;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void entry_sum(uint8_t out[SUM_LEN], const uint8_t *p, size_t n, const uint8_t key[16])
{
	crypto_generichash(out, SUM_LEN, p, n, key, 16);
}

/* Fill e (RECORD_MAX + OVH bytes) around a record already at e + 4. */
static size_t entry_seal(uint8_t *e, size_t len, const uint8_t key[16])
{
	put_be32(e, (uint32_t)len);
	entry_sum(e + 4 + len, e, 4 + len, key);
	return len + OVH;
}

static void hdr_build(uint8_t *h, const uint8_t sid[16], uint64_t first, const struct cursor *c,
		      uint64_t next)
{
	memset(h, 0, HDR);
	memcpy(h, SPOOL_MAGIC, 8);
	memcpy(h + H_STREAM, sid, 16);
	put_be64(h + H_FIRST, first);
	if (c->valid) {
		put_be64(h + H_CSEQ, c->stream_seq);
		put_be64(h + H_CKMSG, c->kmsg_seq);
		memcpy(h + H_CBOOT, c->boot_id, 16);
		put_be32(h + H_FLAGS, SPOOL_HDR_F_CURSOR | (c->boot_event ? SPOOL_HDR_F_BOOT_EVENT : 0));
	}
	put_be64(h + H_NEXT, next);
	crypto_generichash(h + H_SUM, 16, h, H_SUM, NULL, 0);
}

/* 0 if h (HDR bytes) is a valid header of the segment named first. */
static int hdr_parse(const uint8_t *h, uint64_t first, uint8_t sid[16], uint64_t *next, struct cursor *c)
{
	uint8_t sum[16];
	uint32_t flags = get_be32(h + H_FLAGS);

	if (memcmp(h, SPOOL_MAGIC, 8) != 0)
		return -EBADMSG;
	crypto_generichash(sum, 16, h, H_SUM, NULL, 0);
	if (memcmp(sum, h + H_SUM, 16) != 0)
		return -EBADMSG;
	if ((flags & ~(SPOOL_HDR_F_CURSOR | SPOOL_HDR_F_BOOT_EVENT)) != 0 || get_be32(h + H_RES) != 0)
		return -EBADMSG;
	if ((flags & SPOOL_HDR_F_BOOT_EVENT) && (!(flags & SPOOL_HDR_F_CURSOR) || get_be64(h + H_CKMSG) != 0))
		return -EBADMSG;
	if (get_be64(h + H_FIRST) != first || get_be64(h + H_NEXT) < first || get_be64(h + H_NEXT) >= SEQ_MAX)
		return -EBADMSG;
	memset(c, 0, sizeof(*c));
	if (flags & SPOOL_HDR_F_CURSOR) {
		c->valid = true;
		c->boot_event = (flags & SPOOL_HDR_F_BOOT_EVENT) != 0;
		c->stream_seq = get_be64(h + H_CSEQ);
		c->kmsg_seq = get_be64(h + H_CKMSG);
		memcpy(c->boot_id, h + H_CBOOT, 16);
		if (c->stream_seq >= get_be64(h + H_NEXT))
			return -EBADMSG;
	} else if (!sodium_is_zero(h + H_CSEQ, H_FLAGS - H_CSEQ)) {
		return -EBADMSG;
	}
	memcpy(sid, h + H_STREAM, 16);
	*next = get_be64(h + H_NEXT);
	return 0;
}

/*
 * The newer of two cursors: the larger stream seq, except that within one
 * boot a kernel record beats its boot event (which says less), whatever
 * their order, so that the result does not depend on the order of calls.
 */
static void cursor_max(struct cursor *c, const struct cursor *o)
{
	if (!o->valid)
		return;
	if (c->valid && memcmp(c->boot_id, o->boot_id, 16) == 0 && c->boot_event != o->boot_event) {
		if (c->boot_event)
			*c = *o;
		return;
	}
	if (!c->valid || o->stream_seq > c->stream_seq)
		*c = *o;
}

/* The cursor after record r (held, written or dropped at once). */
static void cursor_set(struct cursor *c, const struct record *r)
{
	if (r->source == RECORD_SRC_AGENT && r->event == RECORD_EV_BOOT) {
		/* Announces a boot; a kernel record of that boot says more. */
		if (c->valid && !c->boot_event && memcmp(c->boot_id, r->boot_id, 16) == 0)
			return;
		c->valid = true;
		c->boot_event = true;
		c->stream_seq = r->stream_seq;
		c->kmsg_seq = 0;
		memcpy(c->boot_id, r->boot_id, 16);
		return;
	}
	if (r->source != RECORD_SRC_KMSG)
		return;
	c->valid = true;
	c->boot_event = false;
	c->stream_seq = r->stream_seq;
	c->kmsg_seq = r->kmsg_seq;
	memcpy(c->boot_id, r->boot_id, 16);
}

static void ep_add(struct episode *e, uint64_t seq, int level)
{
	if (e->count == 0 || seq < e->first)
		e->first = seq;
	if (e->count == 0 || seq > e->last)
		e->last = seq;
	e->count++;
	e->level[level]++;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* ---- scanning (shared by spool_open and spool_check) ---- */

/*
 * Length of the valid entry at p (seq in [lo, hi), checksum keyed with key,
 * record decodes), or 0. Cheap tests come first: this also runs at every
 * byte of a damaged region.
 */
static size_t entry_at(const uint8_t *b, size_t n, size_t p, const uint8_t key[16], uint64_t lo, uint64_t hi,
		       struct record *rec)
{
	uint8_t sum[SUM_LEN];
	const uint8_t *r = b + p + 4;
	uint32_t len;
	uint64_t seq;

	if (p > n || n - p < OVH + RECORD_HDR_LEN)
		return 0;
	len = get_be32(b + p);
	if (len < RECORD_HDR_LEN || len > RECORD_MAX || len > n - p - OVH)
		return 0;
	if (r[0] != RECORD_VERSION || r[R_SOURCE] < RECORD_SRC_KMSG || r[R_SOURCE] > RECORD_SRC_COLLECTOR ||
	    r[R_LEVEL] > 7 || get_be16(r + R_RESERVED) != 0)
		return 0;
	seq = get_be64(r + R_SEQ);
	if (seq < lo || seq >= hi)
		return 0;
	entry_sum(sum, b + p, 4 + (size_t)len, key);
	if (memcmp(sum, r + len, SUM_LEN) != 0)
		return 0;
	if (record_decode(r, len, rec) < 0)
		return 0;
	return (size_t)len + OVH;
}

/*
 * Scan the entries of a segment file (b, n bytes, header first) with key.
 * Records valid entries in ss->ents (unless salvage: then only max_seq),
 * damaged regions, and a torn tail. hi: the next segment's first seq.
 */
static int scan_body(struct segscan *ss, const uint8_t *b, size_t n, const uint8_t key[16], uint64_t hi,
		     bool salvage)
{
	uint64_t lo = ss->seq;
	size_t p = HDR, k;
	struct record rec;

	ss->valid_end = n < HDR ? n : HDR;
	while (p < n) {
		k = entry_at(b, n, p, key, lo, hi, &rec);
		if (k > 0) {
			if (!salvage) {
				if (grow((void **)&ss->ents, &ss->cap, ss->n + 1, sizeof(*ss->ents)) < 0)
					return -ENOMEM;
				ss->ents[ss->n++] =
					(struct sent){ .seq = rec.stream_seq,
						       .off = (uint32_t)p,
						       .len = (uint16_t)(k - OVH),
						       .level = rec.level,
						       .rank = (uint8_t)rank_of(rec.source, rec.event,
										rec.level) };
				cursor_set(&ss->rcur, &rec);
			}
			ss->any = true;
			ss->max_seq = rec.stream_seq;
			lo = rec.stream_seq + 1;
			p += k;
			ss->valid_end = p;
			continue;
		}
		/* Not an entry: find the next one. */
		size_t q;
		for (q = p + 1; q < n; q++)
			if (entry_at(b, n, q, key, lo, hi, &rec) > 0)
				break;
		if (q < n) {
			if (!salvage) {
				if (grow((void **)&ss->dmg, &ss->dmgcap, ss->ndmg + 1, sizeof(*ss->dmg)) < 0)
					return -ENOMEM;
				struct region *d = &ss->dmg[ss->ndmg++];
				uint64_t s2 = get_be64(b + q + 4 + R_SEQ);
				d->off = p;
				d->len = q - p;
				d->count = s2 - lo;
				d->first = d->count ? lo : 0;
				d->last = d->count ? s2 - 1 : 0;
			}
			p = q;
			continue;
		}
		/* Nothing valid after p: a torn tail. Follow the chain of
		 * plausible entry headers to learn which seqs it held. */
		ss->torn = true;
		ss->tornr.off = p;
		ss->tornr.len = n - p;
		if (hi < SEQ_MAX) {
			ss->tornr.count = hi > lo ? hi - lo : 0;
			ss->tornr.first = ss->tornr.count ? lo : 0;
			ss->tornr.last = ss->tornr.count ? hi - 1 : 0;
		} else {
			uint64_t base = lo > ss->hdr_next ? lo : ss->hdr_next;
			uint64_t bound = base + (n - HDR) / (RECORD_HDR_LEN + OVH) + 1;
			uint64_t tlo = lo, last = 0;
			bool found = false;
			size_t t = p;
			while (n - t >= 4 + R_SEQ + 8) {
				const uint8_t *r = b + t + 4;
				uint32_t len = get_be32(b + t);
				uint64_t seq = get_be64(r + R_SEQ);
				if (r[0] != RECORD_VERSION || seq < tlo || seq >= bound)
					break;
				found = true;
				last = seq;
				tlo = seq + 1;
				if (len < RECORD_HDR_LEN || len > RECORD_MAX ||
				    n - t - 4 < (size_t)len + SUM_LEN)
					break;
				t += (size_t)len + OVH;
			}
			if (found) {
				ss->tornr.first = lo;
				ss->tornr.last = last;
				ss->tornr.count = last - lo + 1;
			}
		}
		break;
	}
	return 0;
}

static void segscan_free(struct segscan *ss)
{
	free(ss->ents);
	free(ss->dmg);
	ss->ents = NULL;
	ss->dmg = NULL;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		segscan_free(&sc->v[i]);
	free(sc->v);
	names_free(sc->tmps, sc->ntmp);
	names_free(sc->aside, sc->naside);
	names_free(sc->other, sc->nother);
	free(sc->loss);
	memset(sc, 0, sizeof(*sc));
}

static int name_push(char ***v, size_t *n, const char *name)
{
	char **q = realloc(*v, (*n + 1) * sizeof(**v));

	if (!q)
		return -ENOMEM;
	*v = q;
	if (!(q[*n] = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int segscan_cmp(const void *a, const void *b)
{
	const struct segscan *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int list_dir(int dirfd, struct scan *sc, bool others)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0) {
		uint64_t seq;
		errno = 0;
		if (!(de = readdir(d))) {
			r = errno ? -errno : 0;
			break;
		}
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
			continue;
		if (len >= NAME_LEN && seg_name_parse(nm, &seq)) {
			if (len == NAME_LEN) {
				r = grow((void **)&sc->v, &sc->cap, sc->n + 1, sizeof(*sc->v));
				if (r < 0)
					break;
				struct segscan *ss = &sc->v[sc->n++];
				memset(ss, 0, sizeof(*ss));
				memcpy(ss->name, nm, NAME_LEN + 1);
				ss->seq = seq;
				continue;
			}
			if (strncmp(nm + NAME_LEN, TMP_INFIX, strlen(TMP_INFIX)) == 0) {
				r = name_push(&sc->tmps, &sc->ntmp, nm);
				continue;
			}
			if (others && strcmp(nm + NAME_LEN, ASIDE_SUFFIX) == 0) {
				r = name_push(&sc->aside, &sc->naside, nm);
				continue;
			}
		}
		if (others)
			r = name_push(&sc->other, &sc->nother, nm);
	}
	closedir(d);
	if (sc->n > 1)
		qsort(sc->v, sc->n, sizeof(*sc->v), segscan_cmp);
	return r;
}

/* Read the whole file (at most SEG_READ_MAX bytes). */
static int read_seg(int dirfd, struct segscan *ss, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd, r;

	*buf = NULL;
	*len = 0;
	fd = openat(dirfd, ss->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	ss->size = (uint64_t)st.st_size;
	*len = (size_t)(ss->size < SEG_READ_MAX ? ss->size : SEG_READ_MAX);
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	r = pread_all(fd, *buf, *len, 0);
	close(fd);
	if (r < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return r;
}

static int loss_push(struct scan *sc, const char *cause, const char *seg, uint64_t off, uint64_t bytes,
		     uint64_t first, uint64_t last, uint64_t count)
{
	struct spool_loss *l;
	size_t cap = sc->nloss;

	if (grow((void **)&sc->loss, &cap, sc->nloss + 1, sizeof(*l)) < 0)
		return -ENOMEM;
	l = &sc->loss[sc->nloss++];
	memset(l, 0, sizeof(*l));
	l->cause = cause;
	snprintf(l->segment, sizeof(l->segment), "%s", seg);
	l->offset = off;
	l->bytes = bytes;
	l->first_seq = count ? first : 0;
	l->last_seq = count ? last : 0;
	l->count = count;
	return 0;
}

/*
 * Read and judge every segment of the spool in dirfd: which header wins
 * (the newest valid one), which segments are damaged or foreign, which
 * entries are valid, the losses, the next seq and the cursor. Changes
 * nothing. stream_id: used when no segment has a valid header (NULL: none).
 */
static int analyze(int dirfd, const uint8_t *stream_id, struct scan *sc, bool others)
{
	uint8_t *buf;
	size_t len;
	int r;

	memset(sc, 0, sizeof(*sc));
	r = list_dir(dirfd, sc, others);
	if (r < 0)
		return r;

	/* Headers first: the newest valid one names the stream. */
	for (size_t i = 0; i < sc->n; i++) {
		struct segscan *ss = &sc->v[i];
		int fd = openat(dirfd, ss->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		ss->kind = SEG_BADHDR;
		if (fd < 0) {
			ss->read_err = -errno;
			continue;
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			ss->size = (uint64_t)st.st_size;
			if (ss->size >= HDR && pread_all(fd, ss->hdr, HDR, 0) == 0 &&
			    hdr_parse(ss->hdr, ss->seq, ss->stream_id, &ss->hdr_next, &ss->hcur) == 0) {
				ss->kind = SEG_OK;
				sc->have_winner = true;
				memcpy(sc->stream_id, ss->stream_id, 16);
			}
		}
		close(fd);
	}
	if (!sc->have_winner && stream_id)
		memcpy(sc->stream_id, stream_id, 16);

	for (size_t i = 0; i < sc->n; i++) {
		struct segscan *ss = &sc->v[i];
		uint64_t hi = i + 1 < sc->n ? sc->v[i + 1].seq : SEQ_MAX;

		buf = NULL;
		len = 0;
		if (ss->kind == SEG_OK && memcmp(ss->stream_id, sc->stream_id, 16) != 0) {
			ss->kind = SEG_FOREIGN;
			r = loss_push(sc, "spool-foreign", ss->name, 0, 0, 0, 0, 0);
			if (r < 0)
				return r;
			continue;
		}
		if (sc->next_seq < ss->seq)
			sc->next_seq = ss->seq;
		if (ss->read_err == 0) {
			r = read_seg(dirfd, ss, &buf, &len);
			if (r == -ENOMEM)
				return r;
			ss->read_err = r;
			r = 0;
		}
		if (ss->kind == SEG_OK && ss->read_err == 0) {
			r = scan_body(ss, buf, len, sc->stream_id, hi, false);
			if (r == 0 && len < ss->size) { /* past SEG_READ_MAX */
				if (!ss->torn) {
					ss->torn = true;
					ss->tornr = (struct region){ .off = len };
				}
				ss->tornr.len = ss->size - ss->tornr.off;
			}
		} else if (ss->read_err == 0) {
			/* Salvage only the seqs, under the stream id and the
			 * one the damaged header names. */
			r = scan_body(ss, buf, len, sc->stream_id, hi, true);
			if (r == 0 && !ss->any && len >= HDR &&
			    memcmp(buf + H_STREAM, sc->stream_id, 16) != 0)
				r = scan_body(ss, buf, len, buf + H_STREAM, hi, true);
		}
		free(buf);
		buf = NULL;
		if (r < 0)
			return r;

		if (ss->kind == SEG_OK && ss->read_err != 0) {
			/* The header was read but the body cannot be: nothing to
			 * keep from it. */
			ss->kind = SEG_BADHDR;
		}
		if (ss->kind == SEG_BADHDR) {
			uint64_t last = hi < SEQ_MAX ? hi - 1 : ss->max_seq;
			bool known = hi < SEQ_MAX || ss->any;
			r = loss_push(sc, "spool-damaged", ss->name, 0, 0, ss->seq, last,
				      known && last >= ss->seq ? last - ss->seq + 1 : 0);
			if (r < 0)
				return r;
			if (ss->any && sc->next_seq <= ss->max_seq)
				sc->next_seq = ss->max_seq + 1;
			continue;
		}
		/* SEG_OK */
		for (size_t j = 0; j < ss->ndmg; j++) {
			struct region *d = &ss->dmg[j];
			r = loss_push(sc, "spool-damaged", ss->name, d->off, d->len, d->first, d->last,
				      d->count);
			if (r < 0)
				return r;
		}
		if (ss->torn) {
			struct region *t = &ss->tornr;
			r = loss_push(sc, "spool-torn", ss->name, t->off, t->len, t->first, t->last,
				      t->count);
			if (r < 0)
				return r;
			if (t->count && sc->next_seq <= t->last)
				sc->next_seq = t->last + 1;
		}
		if (sc->next_seq < ss->hdr_next)
			sc->next_seq = ss->hdr_next;
		if (ss->any && sc->next_seq <= ss->max_seq)
			sc->next_seq = ss->max_seq + 1;
		cursor_max(&sc->cur, &ss->hcur);
		cursor_max(&sc->cur, &ss->rcur);
	}
	if (sc->next_seq > SEQ_MAX - 1)
		sc->next_seq = SEQ_MAX - 1;
	return 0;
}

/* ---- segments, cache, sync ---- */

static struct seg *newest(struct spool *s)
{
	return s->nseg ? &s->segs[s->nseg - 1] : NULL;
}

static void degrade(struct spool *s, int err)
{
	s->degraded = err < 0 ? err : -EIO;
	s->retry_at = now_ms() + s->conf.retry_ms;
}

static int ent_level(const struct ent *e)
{
	return (int)(e->flags & E_LEVEL);
}

static int ent_rank(const struct ent *e)
{
	return e->flags & E_GAP ? RANK_GAP : ent_level(e) + 1;
}

static void held_add(struct spool *s, struct seg *g, int rank, int level)
{
	g->held[rank]++;
	g->hlev[level]++;
	s->held_rank[rank]++;
	s->held_level[level]++;
}

static void held_sub(struct spool *s, struct seg *g, int rank, int level)
{
	g->held[rank]--;
	g->hlev[level]--;
	s->held_rank[rank]--;
	s->held_level[level]--;
}

/* ---- the index of a segment ---- */

/* Add an entry after the last one (seq above it); a new chunk starts when
 * the current one is full, the seq steps by more than 255, or the entry
 * does not start where the last one ended. */
static int idx_reserve(struct seg *g)
{
	if (grow((void **)&g->ents, &g->cap, g->n + 1, sizeof(*g->ents)) < 0 ||
	    grow((void **)&g->ch, &g->chcap, g->nch + 1, sizeof(*g->ch)) < 0)
		return -ENOMEM;
	return 0;
}

/* Fails only without room reserved (idx_reserve). */
static int idx_push(struct seg *g, uint64_t seq, uint64_t off, size_t len, int level, int rank)
{
	bool fresh = g->nch == 0 || g->n - g->ch[g->nch - 1].first >= IDX_CHUNK || seq - g->last_seq > 255 ||
		     off != g->ent_end;

	if (idx_reserve(g) < 0)
		return -ENOMEM;
	if (fresh)
		g->ch[g->nch++] = (struct chunk){ .seq = seq, .off = (uint32_t)off, .first = (uint32_t)g->n };
	g->ents[g->n++] =
		(struct ent){ .len = (uint16_t)len,
			      .dseq = (uint8_t)(fresh ? 0 : seq - g->last_seq),
			      .flags = (uint8_t)((unsigned)level | (rank == RANK_GAP ? E_GAP : 0)) };
	g->last_seq = seq;
	g->ent_end = off + len + OVH;
	return 0;
}

static void idx_free(struct seg *g)
{
	free(g->ents);
	free(g->ch);
	g->ents = NULL;
	g->ch = NULL;
	g->n = g->cap = g->nch = g->chcap = 0;
}

/* t at the first entry of chunk c. */
static void it_chunk(const struct seg *g, size_t c, struct it *t)
{
	t->c = c;
	t->i = g->ch[c].first;
	t->seq = g->ch[c].seq;
	t->off = g->ch[c].off;
}

/* t to the next entry; false past the last. */
static bool it_next(const struct seg *g, struct it *t)
{
	t->off += (uint64_t)g->ents[t->i].len + OVH;
	if (++t->i >= g->n)
		return false;
	if (t->c + 1 < g->nch && g->ch[t->c + 1].first == t->i)
		it_chunk(g, t->c + 1, t);
	else
		t->seq += g->ents[t->i].dseq;
	return true;
}

/* t at the first live entry with seq >= from, starting the search at
 * *start (an entry below from) or, if NULL, at the chunk from lies in.
 * false if there is none. */
static bool idx_find(const struct seg *g, uint64_t from, const struct it *start, struct it *t)
{
	if (g->n == 0)
		return false;
	if (start) {
		*t = *start;
	} else {
		size_t lo = 0, hi = g->nch;
		while (lo < hi) { /* the last chunk whose first seq is <= from */
			size_t mid = lo + (hi - lo) / 2;
			if (g->ch[mid].seq <= from)
				lo = mid + 1;
			else
				hi = mid;
		}
		it_chunk(g, lo ? lo - 1 : 0, t);
	}
	for (;;) {
		if (t->seq >= from && !(g->ents[t->i].flags & E_DEAD))
			return true;
		if (!it_next(g, t))
			return false;
	}
}

static void close_rfd(struct spool *s)
{
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
}

/* Forget segment si (its file is gone). */
static void seg_forget(struct spool *s, size_t si)
{
	struct seg *g = &s->segs[si];

	for (int r = 0; r < NRANK; r++)
		s->held_rank[r] -= g->held[r];
	for (int l = 0; l < 8; l++)
		s->held_level[l] -= g->hlev[l];
	if (s->rfd >= 0 && s->rfd_first == g->first)
		close_rfd(s);
	if (s->hint.first == g->first)
		s->hint.valid = false;
	s->bytes -= g->bytes;
	idx_free(g);
	memmove(g, g + 1, (s->nseg - si - 1) * sizeof(*g));
	s->nseg--;
}

static void cache_reset(struct spool *s, uint64_t off)
{
	s->cache.len = 0;
	s->cache.off = off;
}

/* Append an entry to the cache; evicts only synced bytes. */
static int cache_append(struct spool *s, const uint8_t *e, size_t elen)
{
	size_t cb = (size_t)s->conf.cache_bytes;

	if (s->cache.len + elen > cb && s->cache.len > 0) {
		uint64_t can = s->synced_len > s->cache.off ? s->synced_len - s->cache.off : 0;
		size_t want = s->cache.len + elen - cb / 2;
		size_t drop = can < want ? (size_t)can : want;
		if (drop > s->cache.len)
			drop = s->cache.len;
		memmove(s->cache.buf, s->cache.buf + drop, s->cache.len - drop);
		s->cache.off += drop;
		s->cache.len -= drop;
	}
	if (grow((void **)&s->cache.buf, &s->cache.cap, s->cache.len + elen, 1) < 0)
		return -ENOMEM;
	memcpy(s->cache.buf + s->cache.len, e, elen);
	s->cache.len += elen;
	return 0;
}

/* Fill the cache with the tail of a segment image b (len bytes). */
static void cache_load(struct spool *s, const uint8_t *b, size_t len)
{
	size_t keep = len - HDR;

	if (keep > s->conf.cache_bytes)
		keep = (size_t)s->conf.cache_bytes;
	cache_reset(s, len);
	if (grow((void **)&s->cache.buf, &s->cache.cap, keep, 1) < 0)
		return;
	memcpy(s->cache.buf, b + len - keep, keep);
	s->cache.off = len - keep;
	s->cache.len = keep;
}

/* Write the buffered tail of the newest segment, [written_len, end), in
 * one write. On failure the spool degrades; the bytes stay in the cache
 * and disk_retry writes them again from synced_len. What part of them a
 * short write left in the file is cut at once (best effort): no record
 * the spool holds only in memory is also in its file. */
static int flush_tail(struct spool *s)
{
	struct seg *n = newest(s);
	int r;

	if (!n || s->written_len >= n->bytes)
		return 0;
	if (s->fd < 0 || !s->fd_rw)
		r = -EBADF;
	else
		r = pwrite_all(s->fd, s->cache.buf + (s->written_len - s->cache.off),
			       (size_t)(n->bytes - s->written_len), s->written_len);
	if (r < 0) {
		s->st.write_errors++;
		if (s->fd >= 0 && s->fd_rw && ftruncate(s->fd, (off_t)s->written_len) < 0)
			s->st.write_errors++;
		degrade(s, r);
		return r;
	}
	s->st.writes++;
	s->written_len = n->bytes;
	return 0;
}

static int do_sync(struct spool *s)
{
	struct seg *n = newest(s);
	int r;

	if (!n || s->synced_len >= n->bytes)
		return 0;
	if ((r = flush_tail(s)) < 0)
		return r;
	if (s->fd < 0 || fdatasync(s->fd) < 0) {
		r = s->fd < 0 ? -EBADF : -errno;
		s->st.sync_errors++;
		degrade(s, r);
		return r;
	}
	s->st.fsyncs++;
	s->synced_len = n->bytes;
	s->unsynced = 0;
	return 0;
}

static int create_segment(struct spool *s, uint64_t seq)
{
	char name[NAME_LEN + 1];
	struct seg *g;
	int fd, r = 0;

	if (grow((void **)&s->segs, &s->segcap, s->nseg + 1, sizeof(*s->segs)) < 0)
		return -ENOMEM;
	seg_name(name, seq);
	fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		s->st.write_errors++;
		degrade(s, r);
		return r;
	}
	g = &s->segs[s->nseg];
	memset(g, 0, sizeof(*g));
	g->first = seq;
	g->bytes = HDR;
	hdr_build(g->hdr, s->stream_id, seq, &s->disk_cursor, seq);
	r = pwrite_all(fd, g->hdr, HDR, 0);
	if (r < 0) {
		s->st.write_errors++;
	} else if (fdatasync(fd) < 0 || (s->st.fsyncs++, fsync(s->dirfd) < 0)) {
		r = -errno;
		s->st.sync_errors++;
	} else {
		s->st.fsyncs++;
	}
	if (r < 0) {
		close(fd);
		(void)unlinkat(s->dirfd, name, 0);
		degrade(s, r);
		return r;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	s->fd_rw = true;
	s->nseg++;
	s->bytes += HDR;
	s->synced_len = s->written_len = HDR;
	s->unsynced = 0;
	cache_reset(s, HDR);
	return 0;
}

static int pend_loss(struct spool *s, const char *cause, const char *seg, uint64_t off, uint64_t bytes,
		     uint64_t first, uint64_t last, uint64_t count)
{
	struct spool_loss *l;

	if (s->npend > 0) {
		l = &s->pend[s->npend - 1];
		if (l->cause == cause && strcmp(l->segment, seg) == 0 && l->count && count &&
		    l->last_seq + 1 == first && l->offset + l->bytes == off) {
			l->last_seq = last;
			l->count += count;
			l->bytes += bytes;
			return 0;
		}
	}
	if (grow((void **)&s->pend, &s->pendcap, s->npend + 1, sizeof(*s->pend)) < 0)
		return -ENOMEM;
	l = &s->pend[s->npend++];
	memset(l, 0, sizeof(*l));
	l->cause = cause;
	snprintf(l->segment, sizeof(l->segment), "%s", seg);
	l->offset = off;
	l->bytes = bytes;
	l->first_seq = first;
	l->last_seq = last;
	l->count = count;
	return 0;
}

/* An entry found damaged after open: out of the index, into a gap record. */
static void entry_damaged(struct spool *s, size_t si, const struct it *t)
{
	struct seg *g = &s->segs[si];
	struct ent *e = &g->ents[t->i];
	char name[NAME_LEN + 1];

	seg_name(name, g->first);
	(void)pend_loss(s, "spool-damaged", name, t->off, (uint64_t)e->len + OVH, t->seq, t->seq, 1);
	s->st.damaged++;
	held_sub(s, g, ent_rank(e), ent_level(e));
	e->flags |= E_DEAD;
}

static bool entry_ok(const uint8_t *p, size_t len, uint64_t seq, const uint8_t key[16])
{
	uint8_t sum[SUM_LEN];

	if (get_be32(p) != len || p[4] != RECORD_VERSION || get_be64(p + 4 + R_SEQ) != seq)
		return false;
	entry_sum(sum, p, 4 + len, key);
	return memcmp(sum, p + 4 + len, SUM_LEN) == 0;
}

static void drop_count(struct spool *s, struct episode *ep, uint64_t seq, int level)
{
	ep_add(ep, seq, level);
	s->st.dropped[level]++;
	s->st.dropped_total++;
}

/*
 * Rewrite segment si without its entries of rank drop_rank (-1: none, a
 * repair that only leaves damaged entries out), or unlink it if nothing is
 * left and it is not the newest. Entries found damaged on the way are
 * reported, not copied. Nothing changes in memory unless the file did.
 */
static int rewrite_seg(struct spool *s, size_t si, int drop_rank)
{
	struct seg *g = &s->segs[si], ng;
	bool is_newest = si + 1 == s->nseg;
	char name[NAME_LEN + 1], *path = NULL;
	uint8_t *src = NULL, *dst = NULL, *fate = NULL;
	size_t kept = 0, len = HDR;
	struct it t;
	int fd, r = 0;

	memset(&ng, 0, sizeof(ng));
	seg_name(name, g->first);
	/* The file must hold every byte the index names. */
	if (is_newest && (r = flush_tail(s)) < 0)
		return r;
	for (size_t i = 0; i < g->n; i++)
		kept += !(g->ents[i].flags & E_DEAD) && ent_rank(&g->ents[i]) != drop_rank;
	if (kept == 0 && !is_newest) {
		if (unlinkat(s->dirfd, name, 0) < 0) {
			r = -errno;
			s->st.write_errors++;
			degrade(s, r);
			return r;
		}
		if (fsync(s->dirfd) < 0)
			s->st.sync_errors++;
		else
			s->st.fsyncs++;
		for (bool more = g->n > 0 && (it_chunk(g, 0, &t), true); more; more = it_next(g, &t))
			if (!(g->ents[t.i].flags & E_DEAD))
				drop_count(s, &s->full_ep, t.seq, ent_level(&g->ents[t.i]));
		s->st.rewrites++;
		seg_forget(s, si);
		return 0;
	}

	src = malloc(g->bytes);
	dst = malloc(g->bytes);
	fate = calloc(g->n ? g->n : 1, 1);
	path = malloc(strlen(s->dir) + NAME_LEN + 2);
	if (!src || !dst || !fate || !path) {
		r = -ENOMEM;
		goto out;
	}
	sprintf(path, "%s/%s", s->dir, name);
	fd = is_newest && s->fd >= 0 ? s->fd : openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	r = fd < 0 ? -errno : pread_all(fd, src, g->bytes, 0);
	if (fd >= 0 && fd != s->fd)
		close(fd);
	if (r < 0)
		goto fail;
	if (is_newest)
		hdr_build(dst, s->stream_id, g->first, &s->disk_cursor, s->next_seq);
	else
		memcpy(dst, g->hdr, HDR);
	/* fate: 0 kept, 1 dropped, 2 found damaged, 3 dead before (reported). */
	ng.ent_end = HDR;
	for (bool more = g->n > 0 && (it_chunk(g, 0, &t), true); more; more = it_next(g, &t)) {
		const struct ent *e = &g->ents[t.i];
		size_t elen = (size_t)e->len + OVH;
		if (e->flags & E_DEAD) {
			fate[t.i] = 3;
			continue;
		}
		if (ent_rank(e) == drop_rank) {
			fate[t.i] = 1;
			continue;
		}
		if (t.off + elen > g->bytes || !entry_ok(src + t.off, e->len, t.seq, s->stream_id)) {
			fate[t.i] = 2;
			continue;
		}
		if (idx_push(&ng, t.seq, len, e->len, ent_level(e), ent_rank(e)) < 0) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(dst + len, src + t.off, elen);
		len += elen;
	}
	r = durable_replace(path, dst, len, 0600);
	if (r < 0)
		goto fail;
	s->st.fsyncs += 2;
	s->st.rewrites++;

	/* Committed: account for what left. */
	for (bool more = g->n > 0 && (it_chunk(g, 0, &t), true); more; more = it_next(g, &t)) {
		const struct ent *e = &g->ents[t.i];
		if (fate[t.i] == 0 || fate[t.i] == 3)
			continue;
		if (fate[t.i] == 1) {
			drop_count(s, &s->full_ep, t.seq, ent_level(e));
		} else {
			(void)pend_loss(s, "spool-damaged", name, t.off, (uint64_t)e->len + OVH, t.seq, t.seq,
					1);
			s->st.damaged++;
		}
		held_sub(s, g, ent_rank(e), ent_level(e));
	}
	idx_free(g);
	g->ents = ng.ents;
	g->n = ng.n;
	g->cap = ng.cap;
	g->ch = ng.ch;
	g->nch = ng.nch;
	g->chcap = ng.chcap;
	g->last_seq = ng.last_seq;
	g->ent_end = ng.ent_end;
	ng.ents = NULL;
	ng.ch = NULL;
	if (s->hint.first == g->first)
		s->hint.valid = false;
	s->bytes = s->bytes - g->bytes + len;
	g->bytes = len;
	memcpy(g->hdr, dst, HDR);
	if (s->rfd >= 0 && s->rfd_first == g->first)
		close_rfd(s);
	if (is_newest) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		s->fd_rw = s->fd >= 0;
		s->synced_len = s->written_len = len;
		s->unsynced = 0;
		cache_load(s, dst, len);
		if (s->fd < 0) {
			r = -errno;
			degrade(s, r);
		}
	}
	goto out;
fail:
	s->st.write_errors++;
	degrade(s, r);
out:
	idx_free(&ng);
	free(src);
	free(dst);
	free(fate);
	free(path);
	return r;
}

/* One overflow drop step. 1: dropped from disk, 0: the incoming record
 * (rank) is the one to drop, <0: the disk failed. */
static int drop_step(struct spool *s, int rank)
{
	int worst = -1;

	for (int r = NRANK - 1; r >= 0; r--)
		if (s->held_rank[r] > 0) {
			worst = r;
			break;
		}
	if (worst < 0 || worst < rank)
		return 0;
	for (size_t si = 0; si < s->nseg; si++)
		if (s->segs[si].held[worst] > 0) {
			int r = rewrite_seg(s, si, worst);
			return r < 0 ? r : 1;
		}
	return 0;
}

/* 1: need bytes fit (after drops), 0: they do not (may_drop false, or the
 * incoming record of rank is the one to drop), <0: the disk failed. */
static int room_for(struct spool *s, uint64_t need, int rank, bool may_drop)
{
	while (s->bytes + need > s->conf.max_bytes) {
		if (!may_drop)
			return 0;
		int r = drop_step(s, rank);
		if (r <= 0)
			return r;
	}
	return 1;
}

/*
 * Append the entry e (elen bytes) of record rec to the newest segment's
 * write buffer (the cache), starting a new segment if it would pass
 * segment_bytes, and apply the sync policy (which writes the buffer
 * first) or write the buffer once it holds SPOOL_WBUF_BYTES. Returns 0,
 * W_INDOUBT, W_NOTKEPT or -ENOMEM.
 */
static int write_entry(struct spool *s, const struct record *rec, const uint8_t *e, size_t elen)
{
	struct seg *n = newest(s);
	int rank = rank_of(rec->source, rec->event, rec->level);
	int r;

	if (!n || (n->n > 0 && n->bytes + elen > s->conf.segment_bytes)) {
		if (n && (r = do_sync(s)) < 0)
			return W_NOTKEPT;
		r = create_segment(s, rec->stream_seq);
		if (r < 0)
			return r == -ENOMEM ? r : W_NOTKEPT;
		n = newest(s);
	}
	if (s->fd < 0 || !s->fd_rw) {
		degrade(s, -EBADF);
		return W_NOTKEPT;
	}
	if (idx_reserve(n) < 0 || cache_append(s, e, elen) < 0)
		return -ENOMEM;
	(void)idx_push(n, rec->stream_seq, n->bytes, elen - OVH, rec->level, rank);
	held_add(s, n, rank, rec->level);
	if (s->synced_len == n->bytes) {
		s->first_unsynced_seq = rec->stream_seq;
		s->unsynced_since = now_ms();
	}
	n->bytes += elen;
	s->bytes += elen;
	s->unsynced++;
	cursor_set(&s->disk_cursor, rec);
	if ((int)rec->level <= s->conf.sync_level || rank == RANK_GAP || s->unsynced >= s->conf.sync_records)
		r = do_sync(s);
	else if (n->bytes - s->written_len >= SPOOL_WBUF_BYTES)
		r = flush_tail(s);
	else
		r = 0;
	return r < 0 ? W_INDOUBT : 0;
}

/* ---- the memory queue ---- */

static struct ment *mq_front(const struct mring *q)
{
	return q->v[q->head];
}

static struct ment *mq_at(const struct mring *q, size_t i)
{
	return q->v[(q->head + i) & (q->cap - 1)];
}

static int mq_reserve(struct mring *q)
{
	size_t ncap = q->cap ? q->cap * 2 : 64;
	struct ment **v;

	if (q->n < q->cap)
		return 0;
	v = malloc(ncap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < q->n; i++)
		v[i] = mq_at(q, i);
	free(q->v);
	q->v = v;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

static struct ment *mq_pop(struct spool *s, int rank)
{
	struct mring *q = &s->mq[rank];
	struct ment *m = mq_front(q);

	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
	s->mq_n--;
	s->mq_bytes -= m->len;
	return m;
}

/* Rank whose oldest record has the smallest seq, -1 if empty. */
static int mq_min_rank(const struct spool *s)
{
	int best = -1;

	for (int r = 0; r < NRANK; r++)
		if (s->mq[r].n && (best < 0 || mq_front(&s->mq[r])->seq < mq_front(&s->mq[best])->seq))
			best = r;
	return best;
}

static void mem_drop(struct spool *s, struct ment *m)
{
	drop_count(s, &s->mem_ep, m->seq, m->level);
	free(m);
}

/* Keep m (its ring has room: mq_reserve), dropping by rank past mem_max. */
static void mq_add(struct spool *s, struct ment *m)
{
	struct mring *q;

	while (s->mq_bytes + m->len > s->conf.mem_max && s->mq_n > 0) {
		int worst = NRANK - 1;
		while (s->mq[worst].n == 0)
			worst--;
		if (worst < m->rank) {
			mem_drop(s, m);
			return;
		}
		mem_drop(s, mq_pop(s, worst));
	}
	q = &s->mq[m->rank];
	q->v[(q->head + q->n) & (q->cap - 1)] = m;
	q->n++;
	s->mq_n++;
	s->mq_bytes += m->len;
}

/* ---- gap records ---- */

static const char *const level_key[8] = {
	"GAP_COUNT_EMERG",   "GAP_COUNT_ALERT",	 "GAP_COUNT_CRIT", "GAP_COUNT_ERR",
	"GAP_COUNT_WARNING", "GAP_COUNT_NOTICE", "GAP_COUNT_INFO", "GAP_COUNT_DEBUG",
};

/* Build and write one gap record (room already checked). 0 or -errno. */
static int gap_emit(struct spool *s, const char *cause, const char *msg, uint64_t count, uint64_t first,
		    uint64_t last, const uint64_t *levels, const struct spool_loss *l)
{
	uint8_t fbuf[768];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	struct record gap;
	uint64_t seq;
	int r = 0, n, w;

	r |= record_fields_add(&fb, "GAP_CAUSE", cause, strlen(cause));
	r |= record_fields_addf(&fb, "GAP_COUNT", "%" PRIu64, count);
	r |= record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%" PRIu64, first);
	r |= record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%" PRIu64, last);
	for (int i = 0; levels && i < 8; i++)
		if (levels[i])
			r |= record_fields_addf(&fb, level_key[i], "%" PRIu64, levels[i]);
	if (l) {
		r |= record_fields_add(&fb, "SPOOL_SEGMENT", l->segment, strlen(l->segment));
		r |= record_fields_addf(&fb, "SPOOL_OFFSET", "%" PRIu64, l->offset);
		r |= record_fields_addf(&fb, "SPOOL_BYTES", "%" PRIu64, l->bytes);
	}
	if (r < 0)
		return -ENOSPC;
	memset(&gap, 0, sizeof(gap));
	gap.source = RECORD_SRC_AGENT;
	gap.level = 4;
	gap.facility = RECORD_FACILITY_EVENT;
	gap.event = RECORD_EV_GAP;
	gap.mono_usec = clock_usec(CLOCK_MONOTONIC);
	gap.real_usec = clock_usec(CLOCK_REALTIME);
	memcpy(gap.boot_id, s->boot_id, 16);
	gap.msg = (const uint8_t *)msg;
	gap.msg_len = (uint32_t)strlen(msg);
	gap.nfields = fb.count;
	gap.fields = fbuf;
	gap.fields_len = fb.len;

	if (s->next_seq >= SEQ_MAX - 1)
		return -EOVERFLOW;
	seq = s->next_seq++;
	gap.stream_seq = seq;
	n = record_encode(&gap, s->ebuf + 4, RECORD_MAX);
	if (n < 0) {
		s->next_seq = seq;
		return n;
	}
	w = write_entry(s, &gap, s->ebuf, entry_seal(s->ebuf, (size_t)n, s->stream_id));
	if (w == 0 || w == W_INDOUBT) {
		s->st.gap_records++;
		return 0;
	}
	s->next_seq = seq;
	return w < 0 ? w : (s->degraded ? s->degraded : -EIO);
}

static int emit_episode(struct spool *s, struct episode *ep, const char *cause, const char *msg)
{
	int r = gap_emit(s, cause, msg, ep->count, ep->first, ep->last, ep->level, NULL);

	if (r == 0)
		memset(ep, 0, sizeof(*ep));
	return r;
}

/*
 * Write the gap records that wait: losses, the memory queue's drops, and
 * the spool-full episode (which may drop more records for its room only
 * when force). Only in seq order: not while the memory queue holds any.
 */
static int write_pending(struct spool *s, bool force)
{
	int r;

	if (s->degraded || s->mq_n)
		return 0;
	while (s->npend > 0) {
		struct spool_loss l = s->pend[0];
		r = room_for(s, SPOOL_GAP_RESERVE, RANK_GAP, true);
		if (r < 0)
			return r;
		r = gap_emit(s, l.cause,
			     strcmp(l.cause, "spool-torn") == 0 ? "records lost: torn write in the spool"
								: "records lost: spool damaged",
			     l.count, l.first_seq, l.last_seq, NULL, &l);
		if (r < 0)
			return r;
		memmove(s->pend, s->pend + 1, (s->npend - 1) * sizeof(*s->pend));
		s->npend--;
	}
	if (s->mem_ep.count) {
		r = room_for(s, SPOOL_GAP_RESERVE, RANK_GAP, true);
		if (r < 0)
			return r;
		r = emit_episode(s, &s->mem_ep, "spool-unwritable",
				 "records dropped: spool unwritable, memory queue full");
		if (r < 0)
			return r;
	}
	if (s->full_ep.count) {
		r = room_for(s, SPOOL_GAP_RESERVE, RANK_GAP, force);
		if (r < 0)
			return r;
		if (r == 0 && !force)
			return 0;
		r = emit_episode(s, &s->full_ep, "spool-full", "records dropped: spool full");
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- degraded: retry the disk ---- */

static int disk_retry(struct spool *s)
{
	struct seg *n = newest(s);
	char name[NAME_LEN + 1];
	int r;

	s->retry_at = now_ms() + s->conf.retry_ms;
	if (s->degraded && n) {
		/* Back to the synced length, then the bytes in doubt again. */
		if (s->fd < 0 || !s->fd_rw) {
			int fd;
			seg_name(name, n->first);
			fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0) {
				r = -errno;
				degrade(s, r);
				return r;
			}
			if (s->fd >= 0)
				close(s->fd);
			s->fd = fd;
			s->fd_rw = true;
		}
		if (ftruncate(s->fd, (off_t)s->synced_len) < 0) {
			r = -errno;
			s->st.write_errors++;
			degrade(s, r);
			return r;
		}
		/* The cached tail again from synced_len, then synced. */
		s->written_len = s->synced_len;
		if ((r = do_sync(s)) < 0)
			return r;
	}
	s->degraded = 0;
	if (!n && s->mq_n == 0 && (r = create_segment(s, s->next_seq)) < 0)
		return r;

	/* The memory queue, in seq order. */
	while (s->mq_n > 0) {
		int rk = mq_min_rank(s);
		struct ment *m = mq_front(&s->mq[rk]);
		struct record rec;
		size_t elen = (size_t)m->len + OVH;

		if (record_decode(m->data, m->len, &rec) < 0) { /* cannot happen: we encoded it */
			mem_drop(s, mq_pop(s, rk));
			continue;
		}
		r = room_for(s, elen + HDR + (rk == RANK_GAP ? 0 : SPOOL_GAP_RESERVE), rk, true);
		if (r < 0)
			return r;
		if (r == 0) {
			m = mq_pop(s, rk);
			drop_count(s, &s->full_ep, m->seq, m->level);
			free(m);
			continue;
		}
		memcpy(s->ebuf + 4, m->data, m->len);
		r = write_entry(s, &rec, s->ebuf, entry_seal(s->ebuf, m->len, s->stream_id));
		if (r < 0)
			return r;
		if (r == W_NOTKEPT)
			return s->degraded;
		free(mq_pop(s, rk));
		if (r == W_INDOUBT)
			return s->degraded;
	}
	return 0;
}

/* ---- the interface ---- */

void spool_conf_init(struct spool_conf *c)
{
	c->max_bytes = UINT64_C(64) << 20;
	c->segment_bytes = UINT64_C(4) << 20;
	c->mem_max = UINT64_C(8) << 20;
	c->cache_bytes = UINT64_C(1) << 20;
	c->sync_level = 3;
	c->sync_records = 256;
	c->sync_interval_ms = 1000;
	c->retry_ms = 1000;
}

static int conf_check(const struct spool_conf *c)
{
	if (c->max_bytes < SPOOL_MIN_BYTES || c->segment_bytes < HDR + OVH + RECORD_HDR_LEN ||
	    c->segment_bytes > SEG_BYTES_MAX || c->segment_bytes > c->max_bytes || c->mem_max < MEM_MIN ||
	    c->cache_bytes > SEG_BYTES_MAX || c->sync_level < -1 || c->sync_level > 7 || c->sync_records == 0)
		return -EINVAL;
	return 0;
}

static void spool_free(struct spool *s)
{
	for (size_t i = 0; i < s->nseg; i++)
		idx_free(&s->segs[i]);
	free(s->segs);
	for (int r = 0; r < NRANK; r++) {
		for (size_t i = 0; i < s->mq[r].n; i++)
			free(mq_at(&s->mq[r], i));
		free(s->mq[r].v);
	}
	if (s->fd >= 0)
		close(s->fd);
	close_rfd(s);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->cache.buf);
	free(s->ebuf);
	free(s->rbuf);
	free(s->pend);
	free(s->loss);
	free(s->urg.v);
	free(s->dir);
	free(s);
}

/* ---- the urgent index ---- */

/* A record just kept (seqs come in increasing order). */
static void urg_push(struct spool *s, uint64_t seq, int level)
{
	if (level > SPOOL_URGENT_LEVEL)
		return;
	if (s->urg.n == SPOOL_URGENT_MAX) {
		s->st.urgent_unindexed++;
		return;
	}
	s->urg.v[(s->urg.head + s->urg.n++) % SPOOL_URGENT_MAX] = seq;
}

static uint64_t urg_at(const struct spool *s, size_t i)
{
	return s->urg.v[(s->urg.head + i) % SPOOL_URGENT_MAX];
}

size_t spool_urgent(const struct spool *s, uint64_t from, uint64_t to, uint64_t *seqs, size_t max)
{
	size_t a = 0, b = s->urg.n, n = 0;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (urg_at(s, m) < from)
			a = m + 1;
		else
			b = m;
	}
	for (; a < s->urg.n && n < max && urg_at(s, a) < to; a++)
		seqs[n++] = urg_at(s, a);
	return n;
}

/* Act on what analyze found: set aside, truncate, index, report, repair. */
static int recover(struct spool *s, struct scan *sc)
{
	char aside[64];
	bool dirty = false;
	struct seg *n;
	int err = 0;

	memcpy(s->stream_id, sc->stream_id, 16);
	s->next_seq = sc->next_seq;
	s->disk_cursor = s->acc_cursor = sc->cur;
	s->loss = sc->loss;
	s->nloss = sc->nloss;
	sc->loss = NULL;
	sc->nloss = 0;
	for (size_t i = 0; i < s->nloss; i++) {
		struct spool_loss *l = &s->loss[i];
		s->st.damaged += l->count;
		if (l->count && pend_loss(s, l->cause, l->segment, l->offset, l->bytes, l->first_seq,
					  l->last_seq, l->count) < 0)
			return -ENOMEM;
	}

	for (size_t i = 0; i < sc->ntmp; i++)
		if (unlinkat(s->dirfd, sc->tmps[i], 0) == 0)
			dirty = true;
	for (size_t i = 0; i < sc->n; i++) {
		struct segscan *ss = &sc->v[i];
		if (ss->kind == SEG_OK)
			continue;
		snprintf(aside, sizeof(aside), "%s%s", ss->name, ASIDE_SUFFIX);
		if (renameat(s->dirfd, ss->name, s->dirfd, aside) < 0) {
			if (!err)
				err = -errno;
		} else {
			dirty = true;
		}
	}
	for (size_t i = 0; i < sc->n; i++) {
		struct segscan *ss = &sc->v[i];
		struct seg *g;
		if (ss->kind != SEG_OK)
			continue;
		if (ss->torn) {
			int fd = openat(s->dirfd, ss->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0 || ftruncate(fd, (off_t)ss->valid_end) < 0 || fdatasync(fd) < 0) {
				if (!err)
					err = -errno;
			} else {
				s->st.fsyncs++;
			}
			if (fd >= 0)
				close(fd);
		}
		if (grow((void **)&s->segs, &s->segcap, s->nseg + 1, sizeof(*s->segs)) < 0)
			return -ENOMEM;
		g = &s->segs[s->nseg++];
		memset(g, 0, sizeof(*g));
		g->first = ss->seq;
		g->bytes = ss->valid_end;
		memcpy(g->hdr, ss->hdr, HDR);
		for (size_t j = 0; j < ss->n; j++) {
			const struct sent *e = &ss->ents[j];
			if (idx_push(g, e->seq, e->off, e->len, e->level, e->rank) < 0)
				return -ENOMEM;
			held_add(s, g, e->rank, e->level);
			urg_push(s, e->seq, e->level);
		}
		segscan_free(ss);
		s->bytes += g->bytes;
	}
	if (dirty) {
		if (fsync(s->dirfd) < 0) {
			if (!err)
				err = -errno;
		} else {
			s->st.fsyncs++;
		}
	}

	n = newest(s);
	if (n) {
		char name[NAME_LEN + 1];
		seg_name(name, n->first);
		s->fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		s->fd_rw = s->fd >= 0;
		if (s->fd < 0) {
			if (!err)
				err = -errno;
			s->fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		} else if (fdatasync(s->fd) < 0) {
			if (!err)
				err = -errno;
		} else {
			s->st.fsyncs++;
		}
		s->synced_len = s->written_len = n->bytes;
		cache_reset(s, n->bytes);
	}
	if (err)
		degrade(s, err);
	else if (!n)
		(void)create_segment(s, s->next_seq);

	/* Losses become gap records first, then damaged regions are cut out:
	 * a crash in between reports them twice rather than never. */
	(void)write_pending(s, false);
	for (size_t i = 0, si = 0; i < sc->n && !s->degraded; i++) {
		struct segscan *ss = &sc->v[i];
		if (ss->kind != SEG_OK)
			continue;
		while (si < s->nseg && s->segs[si].first < ss->seq)
			si++;
		if (ss->ndmg > 0 && si < s->nseg && s->segs[si].first == ss->seq)
			(void)rewrite_seg(s, si, -1);
	}
	return 0;
}

int spool_open(struct spool **ret, const char *dir, const struct spool_conf *conf,
	       const uint8_t stream_id[16], const uint8_t boot_id[16])
{
	struct spool_conf def;
	struct scan sc;
	struct spool *s;
	int r;

	if (!conf) {
		spool_conf_init(&def);
		conf = &def;
	}
	if (conf_check(conf) < 0)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = s->rfd = s->dirfd = -1;
	s->conf = *conf;
	memcpy(s->boot_id, boot_id, 16);
	s->dir = strdup(dir);
	s->ebuf = malloc(RECORD_MAX + OVH);
	s->rbuf = malloc(RECORD_MAX + OVH);
	s->urg.v = malloc(SPOOL_URGENT_MAX * sizeof(*s->urg.v));
	if (!s->dir || !s->ebuf || !s->rbuf || !s->urg.v) {
		r = -ENOMEM;
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	r = analyze(s->dirfd, stream_id, &sc, false);
	if (r == 0)
		r = recover(s, &sc);
	scan_free(&sc);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	spool_free(s);
	return r;
}

int spool_close(struct spool *s)
{
	int ret = 0, r;

	if (!s)
		return 0;
	if (s->degraded || s->mq_n) {
		r = disk_retry(s);
		if (r < 0)
			ret = r;
	}
	if (!s->degraded) {
		r = write_pending(s, true);
		if (r < 0 && !ret)
			ret = r;
		r = do_sync(s);
		if (r < 0 && !ret)
			ret = r;
	}
	if (!ret && s->degraded)
		ret = s->degraded;
	spool_free(s);
	return ret;
}

const uint8_t *spool_stream_id(const struct spool *s)
{
	return s->stream_id;
}

int spool_cursor(const struct spool *s, uint8_t boot_id[16], uint64_t *kmsg_seq)
{
	if (!s->acc_cursor.valid || s->acc_cursor.boot_event)
		return 0;
	memcpy(boot_id, s->acc_cursor.boot_id, 16);
	*kmsg_seq = s->acc_cursor.kmsg_seq;
	return 1;
}

bool spool_boot_announced(const struct spool *s, const uint8_t boot_id[16])
{
	return s->acc_cursor.valid && memcmp(s->acc_cursor.boot_id, boot_id, 16) == 0;
}

uint64_t spool_next_seq(const struct spool *s)
{
	return s->next_seq;
}

uint64_t spool_synced_seq(const struct spool *s)
{
	const struct seg *n = s->nseg ? &s->segs[s->nseg - 1] : NULL;
	int rk;

	if (n && s->synced_len < n->bytes)
		return s->first_unsynced_seq;
	if ((rk = mq_min_rank(s)) >= 0)
		return mq_front(&s->mq[rk])->seq;
	return s->next_seq;
}

/* Keep rec (seq not yet given) in the memory queue. 1 or -ENOMEM. */
static int append_mem(struct spool *s, struct record *rec, size_t len, int rank, bool have_seq)
{
	struct ment *m = malloc(sizeof(*m) + len);

	if (!m || mq_reserve(&s->mq[rank]) < 0) {
		free(m);
		return -ENOMEM;
	}
	if (!have_seq)
		rec->stream_seq = s->next_seq++;
	if (record_encode(rec, m->data, len) < 0) { /* cannot happen: len is its length */
		free(m);
		if (!have_seq)
			s->next_seq--;
		return -EMSGSIZE;
	}
	m->seq = rec->stream_seq;
	m->len = (uint32_t)len;
	m->level = rec->level;
	m->rank = (uint8_t)rank;
	mq_add(s, m);
	return 1;
}

int spool_append(struct spool *s, struct record *rec)
{
	size_t len;
	uint64_t seq;
	int rank, r, n;

	if (rec->level > 7 || rec->source < RECORD_SRC_KMSG || rec->source > RECORD_SRC_COLLECTOR)
		return -EINVAL;
	len = record_encoded_len(rec);
	if (len > RECORD_MAX)
		return -EMSGSIZE;
	if (s->next_seq >= SEQ_MAX - 1)
		return -EOVERFLOW;
	rank = rank_of(rec->source, rec->event, rec->level);

	if (!s->degraded && s->mq_n == 0)
		(void)write_pending(s, false);
	if (!s->degraded && s->mq_n == 0) {
		r = room_for(s, len + OVH + HDR + (rank == RANK_GAP ? 0 : SPOOL_GAP_RESERVE), rank, true);
		if (r == 0) {
			/* Less important than everything held: dropped at once. */
			rec->stream_seq = s->next_seq++;
			drop_count(s, &s->full_ep, rec->stream_seq, rec->level);
			s->st.appended++;
			cursor_set(&s->acc_cursor, rec);
			return 0;
		}
		if (r > 0 && s->full_ep.count)
			(void)emit_episode(s, &s->full_ep, "spool-full", "records dropped: spool full");
		if (r > 0 && !s->degraded) {
			seq = s->next_seq++;
			rec->stream_seq = seq;
			n = record_encode(rec, s->ebuf + 4, RECORD_MAX);
			if (n < 0) {
				s->next_seq = seq;
				return n;
			}
			r = write_entry(s, rec, s->ebuf, entry_seal(s->ebuf, (size_t)n, s->stream_id));
			if (r == -ENOMEM) {
				s->next_seq = seq;
				return r;
			}
			if (r == 0 || r == W_INDOUBT) {
				s->st.appended++;
				cursor_set(&s->acc_cursor, rec);
				urg_push(s, seq, rec->level);
				return r == 0 ? 0 : 1;
			}
			/* W_NOTKEPT: into memory with the seq it has. */
			r = append_mem(s, rec, len, rank, true);
			if (r < 0) {
				s->next_seq = seq;
				return r;
			}
			s->st.appended++;
			cursor_set(&s->acc_cursor, rec);
			urg_push(s, seq, rec->level);
			return 1;
		}
	}
	r = append_mem(s, rec, len, rank, false);
	if (r < 0)
		return r;
	s->st.appended++;
	cursor_set(&s->acc_cursor, rec);
	urg_push(s, rec->stream_seq, rec->level);
	return 1;
}

static int read_fd(struct spool *s, size_t si)
{
	char name[NAME_LEN + 1];
	const struct seg *g = &s->segs[si];

	if (si + 1 == s->nseg && s->fd >= 0)
		return s->fd;
	if (s->rfd >= 0 && s->rfd_first == g->first)
		return s->rfd;
	close_rfd(s);
	seg_name(name, g->first);
	s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->rfd < 0)
		return -errno;
	s->rfd_first = g->first;
	return s->rfd;
}

int spool_read(struct spool *s, uint64_t from_seq, const uint8_t **buf, size_t *len, uint64_t *seq)
{
	for (;;) {
		size_t lo = 0, hi = s->nseg, si;
		const struct ment *best = NULL;
		struct it t;

		/* The last segment whose first seq is <= from_seq. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (s->segs[mid].first <= from_seq)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (si = lo ? lo - 1 : 0; si < s->nseg; si++) {
			const struct seg *g = &s->segs[si];
			bool on = s->hint.valid && s->hint.first == g->first && s->hint.at.seq < from_seq;
			if (idx_find(g, from_seq, on ? &s->hint.at : NULL, &t))
				break;
		}
		if (si < s->nseg) {
			struct seg *g = &s->segs[si];
			const struct ent *e = &g->ents[t.i];
			size_t elen = (size_t)e->len + OVH;
			const uint8_t *p;
			int fd, r;

			if (si + 1 == s->nseg && t.off >= s->cache.off &&
			    t.off + elen <= s->cache.off + s->cache.len) {
				p = s->cache.buf + (t.off - s->cache.off);
			} else {
				fd = read_fd(s, si);
				if (fd < 0 && fd != -ENOENT)
					return fd;
				r = fd < 0 ? fd : pread_all(fd, s->rbuf, elen, t.off);
				if (r < 0 || !entry_ok(s->rbuf, e->len, t.seq, s->stream_id)) {
					entry_damaged(s, si, &t);
					continue;
				}
				p = s->rbuf;
			}
			s->hint.valid = true;
			s->hint.first = g->first;
			s->hint.at = t;
			*buf = p + 4;
			*len = e->len;
			*seq = t.seq;
			return 0;
		}
		for (int r = 0; r < NRANK; r++) {
			const struct mring *q = &s->mq[r];
			size_t a = 0, b = q->n;
			while (a < b) {
				size_t mid = a + (b - a) / 2;
				if (mq_at(q, mid)->seq < from_seq)
					a = mid + 1;
				else
					b = mid;
			}
			if (a < q->n && (!best || mq_at(q, a)->seq < best->seq))
				best = mq_at(q, a);
		}
		if (!best)
			return -ENOENT;
		*buf = best->data;
		*len = best->len;
		*seq = best->seq;
		return 0;
	}
}

int spool_ack(struct spool *s, uint64_t hwm)
{
	char name[NAME_LEN + 1];
	size_t k = 0;
	int r = 0;

	while (k + 1 < s->nseg && s->segs[k + 1].first <= hwm) {
		seg_name(name, s->segs[k].first);
		if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		k++;
	}
	for (size_t i = 0; i < k; i++)
		seg_forget(s, 0);
	if (k > 0) {
		if (fsync(s->dirfd) < 0) {
			if (!r)
				r = -errno;
			s->st.sync_errors++;
		} else {
			s->st.fsyncs++;
		}
	}
	for (int rk = 0; rk < NRANK; rk++)
		while (s->mq[rk].n && mq_front(&s->mq[rk])->seq < hwm)
			free(mq_pop(s, rk));
	while (s->urg.n && urg_at(s, 0) < hwm) {
		s->urg.head = (s->urg.head + 1) % SPOOL_URGENT_MAX;
		s->urg.n--;
	}
	return r;
}

int spool_flush(struct spool *s)
{
	if (s->degraded)
		return 0; /* the bytes wait in memory for disk_retry */
	return flush_tail(s);
}

int spool_sync(struct spool *s)
{
	int r, ret = 0;

	if (s->degraded || s->mq_n) {
		if (s->degraded && now_ms() < s->retry_at)
			return 0;
		r = disk_retry(s);
		if (r < 0)
			return r;
	}
	r = write_pending(s, false);
	if (r < 0)
		ret = r;
	r = do_sync(s);
	if (r < 0 && !ret)
		ret = r;
	return ret;
}

int spool_sync_due_ms(const struct spool *s)
{
	const struct seg *n = s->nseg ? &s->segs[s->nseg - 1] : NULL;
	uint64_t now = now_ms(), at;

	if (s->degraded)
		at = s->retry_at;
	else if (s->mq_n || s->npend || s->mem_ep.count ||
		 (s->full_ep.count && s->bytes + SPOOL_GAP_RESERVE <= s->conf.max_bytes))
		return 0;
	else if (n && s->synced_len < n->bytes)
		at = s->unsynced_since + s->conf.sync_interval_ms;
	else
		return -1;
	if (at <= now)
		return 0;
	return at - now > INT32_MAX ? INT32_MAX : (int)(at - now);
}

int spool_degraded(const struct spool *s)
{
	return s->degraded;
}

const struct spool_loss *spool_recovery(const struct spool *s, size_t *n)
{
	*n = s->nloss;
	return s->loss;
}

void spool_get_stats(const struct spool *s, struct spool_stats *st)
{
	*st = s->st;
	st->bytes = s->bytes;
	st->segments = s->nseg;
	memcpy(st->held, s->held_level, sizeof(st->held));
	st->mem_records = s->mq_n;
	st->urgent_indexed = s->urg.n;
	st->mem_bytes = s->mq_bytes;
	st->degraded = s->degraded;
}

/* ---- spool_check ---- */

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static void put_lost(FILE *out, uint64_t first, uint64_t last, uint64_t count)
{
	if (count)
		fprintf(out, "seqs %" PRIu64 "..%" PRIu64 " lost (%" PRIu64 ")", first, last, count);
	else
		fprintf(out, "no seq known lost");
}

int spool_check(const char *dir, FILE *out)
{
	uint64_t records = 0, lost = 0, gaps = 0;
	size_t nok = 0;
	struct scan sc;
	int dirfd, r;

	if (sodium_init() < 0)
		return -EIO;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	r = analyze(dirfd, NULL, &sc, true);
	close(dirfd);
	if (r < 0) {
		scan_free(&sc);
		return r;
	}

	fprintf(out, "spool %s\n", dir);
	if (sc.have_winner) {
		fprintf(out, "stream id: ");
		put_hex(out, sc.stream_id, 16);
		fputc('\n', out);
	} else {
		fprintf(out, "stream id: none (no segment with a valid header)\n");
	}
	for (size_t i = 0; i < sc.n; i++) {
		struct segscan *ss = &sc.v[i];
		char aside[64];

		snprintf(aside, sizeof(aside), "%s%s", ss->name, ASIDE_SUFFIX);
		fprintf(out, "segment %s: %" PRIu64 " bytes, ", ss->name, ss->size);
		if (ss->kind == SEG_FOREIGN) {
			fprintf(out, "other stream id ");
			put_hex(out, ss->stream_id, 16);
			fprintf(out, "; recovery renames it to %s\n", aside);
			continue;
		}
		if (ss->kind == SEG_BADHDR) {
			fprintf(out, "header damaged");
			if (ss->read_err)
				fprintf(out, " (read: %s)", strerror(-ss->read_err));
			fprintf(out, "; recovery renames it to %s; ", aside);
			for (size_t j = 0; j < sc.nloss; j++)
				if (strcmp(sc.loss[j].segment, ss->name) == 0)
					put_lost(out, sc.loss[j].first_seq, sc.loss[j].last_seq,
						 sc.loss[j].count);
			fputc('\n', out);
			continue;
		}
		nok++;
		records += ss->n;
		if (ss->n)
			fprintf(out, "%zu records, seqs %" PRIu64 "..%" PRIu64, ss->n, ss->ents[0].seq,
				ss->ents[ss->n - 1].seq);
		else
			fprintf(out, "no records");
		fprintf(out, ", next seq in header %" PRIu64 "\n", ss->hdr_next);
		for (size_t j = 0; j < ss->ndmg; j++) {
			struct region *d = &ss->dmg[j];
			fprintf(out, "  damaged: bytes %" PRIu64 "+%" PRIu64 ", ", d->off, d->len);
			put_lost(out, d->first, d->last, d->count);
			fprintf(out, "; recovery skips them and rewrites the segment\n");
		}
		if (ss->torn) {
			struct region *t = &ss->tornr;
			fprintf(out, "  torn tail: bytes %" PRIu64 "+%" PRIu64 ", ", t->off, t->len);
			put_lost(out, t->first, t->last, t->count);
			fprintf(out, "; recovery truncates the file to %" PRIu64 " bytes\n", ss->valid_end);
		}
	}
	for (size_t i = 0; i < sc.ntmp; i++)
		fprintf(out, "leftover temporary file %s: recovery removes it\n", sc.tmps[i]);
	for (size_t i = 0; i < sc.naside; i++)
		fprintf(out, "set aside earlier: %s\n", sc.aside[i]);
	for (size_t i = 0; i < sc.nother; i++)
		fprintf(out, "not a spool file: %s\n", sc.other[i]);
	fprintf(out, "next seq: %" PRIu64 "\n", sc.next_seq);
	if (sc.cur.valid) {
		fprintf(out, "cursor: boot id ");
		put_hex(out, sc.cur.boot_id, 16);
		if (sc.cur.boot_event)
			fprintf(out, ", boot event only (stream seq %" PRIu64 ")\n", sc.cur.stream_seq);
		else
			fprintf(out, ", kmsg seq %" PRIu64 " (stream seq %" PRIu64 ")\n", sc.cur.kmsg_seq,
				sc.cur.stream_seq);
	} else {
		fprintf(out, "cursor: none\n");
	}
	for (size_t i = 0; i < sc.nloss; i++) {
		lost += sc.loss[i].count;
		gaps += sc.loss[i].count > 0;
	}
	fprintf(out, "records: %" PRIu64 " in %zu segments; losses: %zu (%" PRIu64 " stream seqs)", records,
		nok, sc.nloss, lost);
	if (gaps)
		fprintf(out, "; recovery appends %" PRIu64 " gap records", gaps);
	fprintf(out, "\nresult: %s\n", sc.nloss ? "damaged" : "clean");
	r = sc.nloss ? 1 : 0;
	scan_free(&sc);
	return r;
}
