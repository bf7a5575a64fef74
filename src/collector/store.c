/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE /* sync_file_range */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "checkpoint.h"
#include "durable.h"
#include "segindex.h"
#include "segment.h"
#include "store.h"

#define STREAMS_MAGIC "KSSTRS00"
#define STREAMS_ENTRY (STORE_STREAM_ID_LEN + 8)
/* Index entries buffered before one pwrite. */
#define INDEX_BUF_ENTRIES 32

/* Every early record of a host fits in a segment header. */
_Static_assert(STORE_AHEAD_MAX <= SEGMENT_EARLY_MAX, "ahead sets must fit in a segment header");

/* An early-stored record: its stream seq and the logical position of its entry. */
struct ahead {
	uint64_t seq;
	uint64_t pos;
};

struct stream_state {
	uint8_t id[STORE_STREAM_ID_LEN];
	uint64_t counter; /* highest handshake counter, persisted */
	/* When its counter was last set (the host's stream_tick), for the
	 * least recently used order of the streams file; live sessions
	 * holding it (store_stream_hold): a held stream is never retired. */
	uint64_t used;
	uint32_t refs;
	uint64_t durable; /* every seq below is fsynced */
	uint64_t pending; /* every seq below is in the journal or the buffer */
	/* Highest stream seq + 1 of the stream's records stored in order (not
	 * early): with the buffer, and as of the last commit. An early record
	 * below it has been passed by the in-order records. */
	uint64_t inorder, inorder_durable;
	/* The ahead set: records stored early (SEGMENT_ENTRY_EARLY) whose
	 * place no in-order record has passed yet, by seq. Those below
	 * pending count as stored for the mark; they leave the set when
	 * inorder_durable passes them (only at a commit, so that a rollback
	 * has nothing to restore). */
	struct ahead *ahead;
	size_t nahead, capahead;
};

struct seg_meta {
	uint64_t base;
	uint64_t first_recno;
	uint64_t size; /* of the file; the active one: its durable size */
};

struct store_host {
	struct store *store;
	char name[STORE_NAME_MAX + 1];
	char dir[PATH_MAX];
	int seg_fd;	       /* active segment, O_APPEND */
	int idx_fd;	       /* its index */
	int ckp_fd;	       /* checkpoints */
	struct seg_meta *segs; /* oldest first; the last is the active one */
	size_t nsegs;
	uint64_t idx_size;
	bool idx_broken; /* a write failed: no more index for this segment (rebuilt on open) */
	uint8_t ibuf[INDEX_BUF_ENTRIES * SEGINDEX_ENTRY_LEN];
	size_t ilen;
	struct segindex_block blk; /* the open block (count 0: none) */
	uint64_t ckp_size;
	uint64_t ckp_recno, ckp_usec; /* last checkpoint */
	/* Durable: what the files hold after the last commit. */
	uint64_t recno; /* next record number */
	uint8_t chain[SEGMENT_HASH_LEN];
	/* Pending: including the buffer. */
	uint64_t p_recno;
	uint8_t p_chain[SEGMENT_HASH_LEN];
	struct stream_state *streams;
	size_t nstreams;
	/* Lookup of streams by id: open addressing over indexes into streams
	 * (UINT32_MAX: empty), hcap a power of two >= 2 * nstreams, keyed by
	 * SipHash with the store's random key so that an agent cannot choose
	 * ids that collide. */
	uint32_t *hidx;
	size_t hcap;
	uint64_t stream_tick;
	uint8_t *buf; /* encoded entries awaiting store_commit */
	size_t len, cap;
	bool failed;
	size_t nahead; /* early records of all streams in their ahead sets, <= STORE_AHEAD_MAX */
	uint64_t used; /* store use_tick when its files were last needed */
	bool counted;  /* its open files are counted in the store's nopen */
	uint64_t reject_usec, rejects; /* last handshake-rejected event; refusals since */
	uint64_t contact_usec;	       /* last contact written to the contact file */
	/* The active segment's format: entries appended to it are of it
	 * (an older collector's journal is continued until the next
	 * rotation). Format 1 entries have no flags: no record is stored
	 * early then. */
	unsigned active_version;
};

struct store {
	char hosts_dir[PATH_MAX];
	struct store_host **hosts;
	size_t nhosts;
	bool dirty;
	struct store_limits lim;
	uint64_t last_retention_usec;
	bool sealed; /* a segment was sealed since the last retention run */
	/* Hosts whose journal files (3 descriptors) are open, at most
	 * open_max (0: no limit); the least recently used idle ones are
	 * closed to make room, and reopened when next written. */
	size_t nopen, open_max;
	uint64_t use_tick;
	uint64_t reopens;   /* files reopened after such a close */
	unsigned format;    /* of the segments it creates: SEGMENT_VERSION but in tests */
	size_t streams_max; /* per host (store_set_streams_max) */
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

/* A host's write buffer is freed in a commit it has nothing for when it
 * grew beyond this (it starts at 64 KiB and doubles). */
#define STORE_BUF_KEEP (256 * 1024)

static const uint8_t zero_sid[STORE_STREAM_ID_LEN];

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

bool store_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int store_open(struct store **ret, const char *state_dir)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if ((size_t)snprintf(s->hosts_dir, sizeof(s->hosts_dir), "%s/hosts", state_dir) >=
	    sizeof(s->hosts_dir)) {
		free(s);
		return -ENAMETOOLONG;
	}
	int r = mkdir_p(s->hosts_dir, 0750);
	if (r < 0) {
		free(s);
		return r;
	}
	s->lim.segment_size = STORE_SEGMENT_SIZE_DEFAULT;
	s->format = SEGMENT_VERSION;
	s->streams_max = STORE_STREAMS_MAX;
	randombytes_buf(s->hash_key, sizeof(s->hash_key));
	*ret = s;
	return 0;
}

int store_set_format(struct store *s, unsigned version)
{
	if (version < 1 || version > SEGMENT_VERSION)
		return -EINVAL;
	s->format = version;
	return 0;
}

void store_set_limits(struct store *s, const struct store_limits *l)
{
	s->lim = *l;
	if (s->lim.segment_size == 0)
		s->lim.segment_size = STORE_SEGMENT_SIZE_DEFAULT;
	s->sealed = true; /* new limits: look at once */
}

void store_set_open_max(struct store *s, size_t hosts)
{
	s->open_max = hosts;
}

bool store_reject_due(struct store_host *h, uint64_t now, uint64_t *count)
{
	h->rejects++;
	if (h->reject_usec && now - h->reject_usec < STORE_REJECT_EVENT_USEC)
		return false;
	*count = h->rejects;
	h->rejects = 0;
	h->reject_usec = now;
	return true;
}

int store_host_contact(struct store_host *h, uint64_t now)
{
	if (h->contact_usec && now - h->contact_usec < STORE_CONTACT_USEC)
		return 0;
	h->contact_usec = now;
	char path[PATH_MAX + 16];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", h->dir, STORE_CONTACT_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	uint8_t b[STORE_CONTACT_LEN];
	memcpy(b, STORE_CONTACT_MAGIC, 8);
	put_be64(b + 8, now);
	/* One pwrite of 16 bytes at offset 0 of a 16-byte file: a reader
	 * sees the old or the new time (or a short file, ignored). */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = pwrite(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) ? 0 : -EIO;
	close(fd);
	return r;
}

static int host_path(const struct store_host *h, char *out, size_t cap, uint64_t base, const char *suffix)
{
	char name[SEGMENT_NAME_LEN + 8];
	segment_name(name, sizeof(name), base, suffix);
	if ((size_t)snprintf(out, cap, "%s/%s", h->dir, name) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static void write_checkpoint(struct store_host *h, uint64_t now);

static void index_flush(struct store_host *h);

/* Close the journal files of h (a last checkpoint first); its state stays
 * in memory, host_files_open reopens them. */
static void host_files_close(struct store_host *h)
{
	if (h->seg_fd >= 0 && h->ckp_fd >= 0 && h->recno > h->ckp_recno)
		write_checkpoint(h, now_usec());
	if (h->seg_fd >= 0)
		index_flush(h);
	if (h->counted) {
		h->store->nopen--;
		h->counted = false;
	}
	if (h->seg_fd >= 0)
		close(h->seg_fd);
	if (h->idx_fd >= 0)
		close(h->idx_fd);
	if (h->ckp_fd >= 0)
		close(h->ckp_fd);
	h->seg_fd = h->idx_fd = h->ckp_fd = -1;
}

static int cmp_used(const void *a, const void *b)
{
	const struct store_host *x = *(struct store_host *const *)a, *y = *(struct store_host *const *)b;
	return x->used < y->used ? -1 : x->used > y->used;
}

/*
 * Close the least recently used hosts that hold nothing unwritten until
 * fewer than goal have their files open. Hosts with buffered entries stay
 * open: then the limit is exceeded until the commit, not broken.
 */
static void close_lru(struct store *s, size_t goal)
{
	if (s->nopen < goal)
		return;
	struct store_host **c = malloc(s->nhosts * sizeof(*c));
	if (!c)
		return;
	size_t n = 0;
	for (size_t i = 0; i < s->nhosts; i++)
		if (s->hosts[i]->seg_fd >= 0 && s->hosts[i]->len == 0)
			c[n++] = s->hosts[i];
	qsort(c, n, sizeof(*c), cmp_used);
	for (size_t i = 0; i < n && s->nopen >= goal; i++)
		host_files_close(c[i]);
	free(c);
}

/* Room for one more host's files under open_max: down to 7/8 of it, so
 * that the sort runs once per many opens. */
static void make_room(struct store *s)
{
	if (s->open_max && s->nopen >= s->open_max)
		close_lru(s, s->open_max - s->open_max / 8);
}

/* Segment base of h, opened for appending: the fd, or -errno. */
static int open_segment(const struct store_host *h, uint64_t base)
{
	char path[PATH_MAX + 32];
	int r = host_path(h, path, sizeof(path), base, SEGMENT_SUFFIX);
	if (r < 0)
		return r;
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The journal files of h, open (reopened after make_room closed them). */
static int host_files_open(struct store_host *h)
{
	struct store *s = h->store;
	h->used = ++s->use_tick;
	if (h->seg_fd >= 0)
		return 0;
	make_room(s);
	const struct seg_meta *a = &h->segs[h->nsegs - 1];
	char path[PATH_MAX + 32];
	int r;
	int fd = open_segment(h, a->base);
	if (fd < 0)
		return fd;
	char cpath[PATH_MAX + 32];
	if ((size_t)snprintf(cpath, sizeof(cpath), "%s/%s", h->dir, CHECKPOINT_FILE) >= sizeof(cpath)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	int cfd = open(cpath, O_RDWR | O_CLOEXEC);
	if (cfd < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	h->seg_fd = fd;
	h->ckp_fd = cfd;
	/* The index is derived: one that cannot be reopened is rebuilt on the
	 * next start; until then readers scan. */
	if (!h->idx_broken && (r = host_path(h, path, sizeof(path), a->base, SEGMENT_INDEX_SUFFIX)) == 0 &&
	    (h->idx_fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		h->idx_broken = true;
	s->nopen++;
	h->counted = true;
	s->reopens++;
	return 0;
}

static void host_free(struct store_host *h)
{
	host_files_close(h);
	free(h->segs);
	for (size_t i = 0; i < h->nstreams; i++)
		free(h->streams[i].ahead);
	free(h->streams);
	free(h->hidx);
	free(h->buf);
	free(h);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nhosts; i++)
		host_free(s->hosts[i]);
	free(s->hosts);
	free(s);
}

const char *store_host_name(const struct store_host *h)
{
	return h->name;
}

bool store_host_failed(const struct store_host *h)
{
	return h->failed;
}

bool store_dirty(const struct store *s)
{
	return s->dirty;
}

static size_t stream_hash(const struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	uint8_t out[crypto_shorthash_BYTES];
	crypto_shorthash(out, sid, STORE_STREAM_ID_LEN, h->store->hash_key);
	return (size_t)get_be64(out) & (h->hcap - 1);
}

static struct stream_state *stream_find(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	if (h->hcap == 0)
		return NULL;
	for (size_t i = stream_hash(h, sid);; i = (i + 1) & (h->hcap - 1)) {
		if (h->hidx[i] == UINT32_MAX)
			return NULL;
		struct stream_state *st = &h->streams[h->hidx[i]];
		if (memcmp(st->id, sid, STORE_STREAM_ID_LEN) == 0)
			return st;
	}
}

/* Rebuild the lookup for h->streams, at least cap slots (a power of two). */
static int stream_rehash(struct store_host *h, size_t cap)
{
	uint32_t *n = malloc(cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n, 0xff, cap * sizeof(*n));
	free(h->hidx);
	h->hidx = n;
	h->hcap = cap;
	for (size_t k = 0; k < h->nstreams; k++) {
		size_t i = stream_hash(h, h->streams[k].id);
		while (n[i] != UINT32_MAX)
			i = (i + 1) & (cap - 1);
		n[i] = (uint32_t)k;
	}
	return 0;
}

static struct stream_state *stream_add(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	if (h->nstreams >= UINT32_MAX - 1)
		return NULL;
	size_t cap = h->hcap ? h->hcap : 64;
	while (cap < 2 * (h->nstreams + 1))
		cap *= 2;
	struct stream_state *n = realloc(h->streams, (h->nstreams + 1) * sizeof(*n));
	if (!n)
		return NULL;
	h->streams = n;
	struct stream_state *st = &n[h->nstreams];
	memset(st, 0, sizeof(*st));
	memcpy(st->id, sid, STORE_STREAM_ID_LEN);
	if (cap != h->hcap) {
		h->nstreams++;
		if (stream_rehash(h, cap) < 0) {
			h->nstreams--;
			return NULL;
		}
		return st;
	}
	size_t i = stream_hash(h, sid);
	while (h->hidx[i] != UINT32_MAX)
		i = (i + 1) & (h->hcap - 1);
	h->hidx[i] = (uint32_t)h->nstreams++;
	return st;
}

/* Forget stream k (the last one takes its place). */
static void stream_remove(struct store_host *h, size_t k)
{
	free(h->streams[k].ahead);
	h->streams[k] = h->streams[--h->nstreams];
	/* Same capacity: cannot fail. */
	uint32_t *idx = h->hidx;
	memset(idx, 0xff, h->hcap * sizeof(*idx));
	for (size_t j = 0; j < h->nstreams; j++) {
		size_t i = stream_hash(h, h->streams[j].id);
		while (idx[i] != UINT32_MAX)
			i = (i + 1) & (h->hcap - 1);
		idx[i] = (uint32_t)j;
	}
}

/* ---- the ahead sets ---- */

/* Index of the first early record of st with seq >= seq. */
static size_t ahead_lower(const struct stream_state *st, uint64_t seq)
{
	size_t a = 0, b = st->nahead;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (st->ahead[m].seq < seq)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static bool ahead_has(const struct stream_state *st, uint64_t seq)
{
	size_t i = ahead_lower(st, seq);
	return i < st->nahead && st->ahead[i].seq == seq;
}

/* Room for one more early record of st (so that adding it cannot fail). */
static int ahead_reserve(struct stream_state *st)
{
	if (st->nahead < st->capahead)
		return 0;
	size_t nc = st->capahead ? 2 * st->capahead : 16;
	struct ahead *n = realloc(st->ahead, nc * sizeof(*n));
	if (!n)
		return -ENOMEM;
	st->ahead = n;
	st->capahead = nc;
	return 0;
}

/* Add (seq, pos) to st's set unless seq is there; ahead_reserve first. */
static void ahead_add(struct store_host *h, struct stream_state *st, uint64_t seq, uint64_t pos)
{
	size_t i = ahead_lower(st, seq);
	if (i < st->nahead && st->ahead[i].seq == seq)
		return;
	memmove(&st->ahead[i + 1], &st->ahead[i], (st->nahead - i) * sizeof(*st->ahead));
	st->ahead[i] = (struct ahead){ .seq = seq, .pos = pos };
	st->nahead++;
	h->nahead++;
}

/* Forget the early records of st below seq: in-order records passed them. */
static void ahead_prune(struct store_host *h, struct stream_state *st, uint64_t seq)
{
	size_t k = ahead_lower(st, seq);
	if (k == 0)
		return;
	memmove(st->ahead, st->ahead + k, (st->nahead - k) * sizeof(*st->ahead));
	st->nahead -= k;
	h->nahead -= k;
}

/* The mark goes on over records stored early: they are stored. */
static void ahead_advance(struct stream_state *st)
{
	for (size_t i = ahead_lower(st, st->pending); i < st->nahead && st->ahead[i].seq == st->pending; i++)
		st->pending++;
}

static int streams_path(const struct store_host *h, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/streams", h->dir) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int streams_load(struct store_host *h)
{
	char path[PATH_MAX];
	int r = streams_path(h, path, sizeof(path));
	if (r < 0)
		return r;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (sb.st_size < 8 || (sb.st_size - 8) % STREAMS_ENTRY != 0 || sb.st_size > (1 << 26))
		return -EBADMSG;
	uint8_t *buf = malloc((size_t)sb.st_size);
	if (!buf)
		return -ENOMEM;
	ssize_t n = read_file(path, buf, (size_t)sb.st_size);
	if (n != sb.st_size || memcmp(buf, STREAMS_MAGIC, 8) != 0) {
		free(buf);
		return n < 0 ? (int)n : -EBADMSG;
	}
	for (const uint8_t *p = buf + 8; p < buf + n; p += STREAMS_ENTRY) {
		struct stream_state *st = stream_find(h, p);
		if (!st && !(st = stream_add(h, p))) {
			free(buf);
			return -ENOMEM;
		}
		st->counter = get_be64(p + STORE_STREAM_ID_LEN);
		st->used = ++h->stream_tick; /* the file is in that order */
	}
	free(buf);
	return 0;
}

/* Sort by used, in place: a heap sort (n log n, no recursion, no
 * allocation), where glibc's qsort may allocate, and the first time asks
 * the kernel for the memory size (sysinfo, which the sandbox allows only
 * since it was found doing that). */
static void sift(struct stream_state **v, size_t i, size_t n)
{
	for (;;) {
		size_t m = i, l = 2 * i + 1, r = l + 1;
		if (l < n && v[l]->used > v[m]->used)
			m = l;
		if (r < n && v[r]->used > v[m]->used)
			m = r;
		if (m == i)
			return;
		struct stream_state *t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

static void sort_by_used(struct stream_state **v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t k = n; k-- > 1;) {
		struct stream_state *t = v[0];
		v[0] = v[k];
		v[k] = t;
		sift(v, 0, k);
	}
}

static int streams_save(struct store_host *h)
{
	char path[PATH_MAX];
	int r = streams_path(h, path, sizeof(path));
	if (r < 0)
		return r;
	size_t len = 8 + h->nstreams * STREAMS_ENTRY;
	uint8_t *buf = malloc(len);
	struct stream_state **order = malloc((h->nstreams + 1) * sizeof(*order));
	if (!buf || !order) {
		free(buf);
		free(order);
		return -ENOMEM;
	}
	/* Least recently used first: that order survives a restart. */
	for (size_t i = 0; i < h->nstreams; i++)
		order[i] = &h->streams[i];
	sort_by_used(order, h->nstreams);
	memcpy(buf, STREAMS_MAGIC, 8);
	for (size_t i = 0; i < h->nstreams; i++) {
		uint8_t *p = buf + 8 + i * STREAMS_ENTRY;
		memcpy(p, order[i]->id, STORE_STREAM_ID_LEN);
		put_be64(p + STORE_STREAM_ID_LEN, order[i]->counter);
	}
	free(order);
	r = durable_replace(path, buf, len, 0640);
	free(buf);
	return r;
}

/* ---- index and checkpoints (derived data: written, not fsynced) ---- */

static void index_flush(struct store_host *h)
{
	if (h->ilen == 0)
		return;
	if (!h->idx_broken && pwrite(h->idx_fd, h->ibuf, h->ilen, (off_t)h->idx_size) != (ssize_t)h->ilen)
		h->idx_broken = true; /* readers scan the rest; the next open rebuilds it */
	if (!h->idx_broken)
		h->idx_size += h->ilen;
	h->ilen = 0;
}

static void index_close_block(struct store_host *h)
{
	if (h->blk.count == 0)
		return;
	if (h->ilen == sizeof(h->ibuf))
		index_flush(h);
	segindex_encode(h->ibuf + h->ilen, &h->blk);
	h->ilen += SEGINDEX_ENTRY_LEN;
	h->blk.count = 0;
}

/* One more entry of the active segment (at file offset off), in order. */
static void index_add(struct store_host *h, const uint8_t *p, size_t size, uint64_t off,
		      const struct record *rec)
{
	const uint8_t *sid = segment_entry_sid(p);
	if (h->blk.count && segindex_block_breaks(&h->blk, sid, rec->boot_id))
		index_close_block(h);
	segindex_block_add_entry(&h->blk, segment_entry_recno(p), off, (uint32_t)size, sid, rec,
				 segment_entry_flags(p) & SEGMENT_ENTRY_EARLY);
	if (h->blk.count == SEGINDEX_BLOCK_RECORDS)
		index_close_block(h);
}

static void write_checkpoint(struct store_host *h, uint64_t now)
{
	const struct seg_meta *a = &h->segs[h->nsegs - 1];
	struct checkpoint c = {
		.records = h->recno,
		.end = a->base + a->size,
		.segment = a->base,
		.written_usec = now,
	};
	memcpy(c.chain, h->chain, sizeof(c.chain));
	uint8_t out[CHECKPOINT_LEN];
	checkpoint_encode(out, &c);
	/* A failed write only leaves a longer stretch without a checkpoint. */
	if (pwrite(h->ckp_fd, out, sizeof(out), (off_t)h->ckp_size) == (ssize_t)sizeof(out))
		h->ckp_size += sizeof(out);
	h->ckp_recno = h->recno;
	h->ckp_usec = now;
}

/*
 * The acknowledged mark (checkpoint.h): what this commit made durable,
 * before its acks go out. Not fsynced: written after the fdatasync, it
 * never names more than the segments hold; a power loss may lose the
 * newest one (the kernel writes it back within its writeback interval).
 * A failed write leaves the previous, smaller mark.
 */
static void write_acked(struct store_host *h, uint64_t now)
{
	const struct seg_meta *a = &h->segs[h->nsegs - 1];
	struct acked_stream *as = h->nstreams ? calloc(h->nstreams, sizeof(*as)) : NULL;
	if (h->nstreams && !as)
		return;
	/* With no entry yet, the active segment's records end where the
	 * previous segment ends: at its base. */
	uint64_t end = h->recno == a->first_recno && h->nsegs > 1 ? a->base : a->base + a->size;
	struct acked m = { .records = h->recno, .end = end, .written_usec = now, .streams = as };
	memcpy(m.chain, h->chain, sizeof(m.chain));
	for (size_t j = 0; j < h->nstreams && m.nstreams < ACKED_STREAMS_MAX; j++)
		if (h->streams[j].durable) {
			memcpy(as[m.nstreams].id, h->streams[j].id, 16);
			as[m.nstreams++].hwm = h->streams[j].durable;
		}
	size_t len = acked_size(m.nstreams);
	uint8_t *out = malloc(len);
	char path[PATH_MAX + 16];
	if (out && (size_t)snprintf(path, sizeof(path), "%s/%s", h->dir, ACKED_FILE) < sizeof(path)) {
		acked_encode(out, &m);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		if (fd >= 0) {
			/* Short or failed: the checksum fails, readers see no mark. */
			(void)!pwrite(fd, out, len, 0);
			close(fd);
		}
	}
	free(out);
	free(as);
}

/* ---- segments ---- */

static int cmp_meta(const void *a, const void *b)
{
	uint64_t x = ((const struct seg_meta *)a)->base, y = ((const struct seg_meta *)b)->base;
	return x < y ? -1 : x > y;
}

/* The segments of the host's directory, by base; leftovers of an interrupted rotation removed. */
static int list_segments(struct store_host *h)
{
	DIR *d = opendir(h->dir);
	if (!d)
		return -errno;
	size_t cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 8 && strcmp(de->d_name + n - 8, ".seg.tmp") == 0) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		uint64_t base;
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) < 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
			r = -errno;
			break;
		}
		if (h->nsegs == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct seg_meta *ns = realloc(h->segs, nc * sizeof(*ns));
			if (!ns) {
				r = -ENOMEM;
				break;
			}
			h->segs = ns;
			cap = nc;
		}
		h->segs[h->nsegs++] = (struct seg_meta){ .base = base, .size = (uint64_t)st.st_size };
	}
	closedir(d);
	if (h->nsegs)
		qsort(h->segs, h->nsegs, sizeof(*h->segs), cmp_meta);
	return r;
}

static int add_meta(struct store_host *h, const struct seg_meta *m)
{
	struct seg_meta *ns = realloc(h->segs, (h->nsegs + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	h->segs = ns;
	h->segs[h->nsegs++] = *m;
	return 0;
}

/*
 * Create segment base (first record recno, chain in = chain) with the
 * durable stream marks and the ahead sets (all committed: a segment is
 * created only between commits) in its header: written as BASE.seg.tmp,
 * fsynced, renamed, the directory fsynced; its index file next to it.
 * Readers and recovery never see a partial header.
 */
static int create_segment(struct store_host *h, uint64_t base, uint64_t recno, const uint8_t *chain,
			  uint64_t *ret_len)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	int r = host_path(h, path, sizeof(path), base, SEGMENT_SUFFIX);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct segment_header hd = {
		.version = h->store->format, .base = base, .first_recno = recno, .created_usec = now_usec()
	};
	memcpy(hd.chain_in, chain, SEGMENT_HASH_LEN);
	size_t n = 0;
	for (size_t i = 0; i < h->nstreams; i++)
		n += h->streams[i].durable > 0;
	/* More streams than a header holds: the ones with the highest marks
	 * would be the ones to keep; in practice a host has a handful. */
	if (n > SEGMENT_STREAMS_MAX)
		n = SEGMENT_STREAMS_MAX;
	hd.streams = n ? calloc(n, sizeof(*hd.streams)) : NULL;
	if (n && !hd.streams)
		return -ENOMEM;
	for (size_t i = 0, k = 0; i < h->nstreams && k < n; i++) {
		if (h->streams[i].durable == 0)
			continue;
		memcpy(hd.streams[k].id, h->streams[i].id, 16);
		hd.streams[k++].hwm = h->streams[i].durable;
	}
	hd.nstreams = n;
	/* h->nahead <= STORE_AHEAD_MAX = SEGMENT_EARLY_MAX: they all fit. */
	size_t m = h->nahead < SEGMENT_EARLY_MAX ? h->nahead : SEGMENT_EARLY_MAX;
	if (hd.version < 2)
		m = 0; /* format 1 headers list none (and its hosts store none early) */
	hd.early = m ? calloc(m, sizeof(*hd.early)) : NULL;
	if (m && !hd.early) {
		free(hd.streams);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->nstreams; i++)
		for (size_t k = 0; k < h->streams[i].nahead && hd.nearly < m; k++) {
			struct segment_early *e = &hd.early[hd.nearly++];
			memcpy(e->id, h->streams[i].id, 16);
			e->seq = h->streams[i].ahead[k].seq;
			e->pos = h->streams[i].ahead[k].pos;
		}
	size_t len = segment_header_len(&hd);
	uint8_t *buf = malloc(len);
	if (!buf) {
		free(hd.streams);
		free(hd.early);
		return -ENOMEM;
	}
	segment_header_encode(buf, &hd);
	free(hd.streams);
	free(hd.early);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	r = write_all(fd, buf, len);
	free(buf);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	char ipath[PATH_MAX + 32];
	uint8_t ih[SEGINDEX_HDR_LEN];
	segindex_header(ih, base);
	if ((r = host_path(h, ipath, sizeof(ipath), base, SEGMENT_INDEX_SUFFIX)) == 0) {
		/* The index is derived: a failure here only means a scan later. */
		int ifd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (ifd >= 0) {
			/* A short header reads as none: rebuilt on open. */
			int w = write_all(ifd, ih, sizeof(ih));
			(void)w;
			close(ifd);
		}
	}
	if ((r = fsync_dir(h->dir)) < 0)
		return r;
	*ret_len = len;
	return 0;
}

static int open_index(struct store_host *h, uint64_t base, uint64_t good)
{
	char path[PATH_MAX + 32];
	int r = host_path(h, path, sizeof(path), base, SEGMENT_INDEX_SUFFIX);
	if (r < 0)
		return r;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (good < SEGINDEX_HDR_LEN) {
		uint8_t ih[SEGINDEX_HDR_LEN];
		segindex_header(ih, base);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, ih, sizeof(ih), 0) != (ssize_t)sizeof(ih))
			h->idx_broken = true;
		good = SEGINDEX_HDR_LEN;
	} else if (ftruncate(fd, (off_t)good) < 0) {
		h->idx_broken = true;
	}
	h->idx_fd = fd;
	h->idx_size = good;
	return 0;
}

/* Seal the active segment and start the next one. On failure the active one just grows. */
static int rotate(struct store_host *h)
{
	index_close_block(h);
	index_flush(h);
	if (!h->idx_broken)
		(void)fdatasync(h->idx_fd);
	/* The sealed segment's end, with its chain head, before anything else. */
	write_checkpoint(h, now_usec());
	(void)fdatasync(h->ckp_fd);
	struct seg_meta *a = &h->segs[h->nsegs - 1];
	uint64_t len, base = a->base + a->size;
	int r = create_segment(h, base, h->recno, h->chain, &len);
	if (r < 0)
		return r;
	int fd = open_segment(h, base);
	if (fd < 0)
		return fd;
	struct seg_meta m = { .base = base, .first_recno = h->recno, .size = len };
	if ((r = add_meta(h, &m)) < 0) {
		close(fd);
		return r;
	}
	close(h->seg_fd);
	close(h->idx_fd);
	h->seg_fd = fd;
	h->idx_fd = -1;
	h->idx_broken = false;
	if (open_index(h, base, SEGINDEX_HDR_LEN) < 0)
		h->idx_broken = true; /* idx_fd stays -1: index_flush never writes */
	h->store->sealed = true;
	h->active_version = h->store->format;
	return 0;
}

/* ---- recovery ---- */

/* A record stored early, found on open: into its stream's ahead set. */
static int note_early(struct store_host *h, const uint8_t *sid, uint64_t seq, uint64_t pos)
{
	struct stream_state *st = stream_find(h, sid);
	if (!st && !(st = stream_add(h, sid)))
		return -ENOMEM;
	if (ahead_reserve(st) < 0)
		return -ENOMEM;
	ahead_add(h, st, seq, pos);
	return 0;
}

/* The early entries of an indexed block of the active segment (whose
 * entries were fsynced: damage there is -EUCLEAN). sr reads the segment. */
static int block_early(struct store_host *h, struct segment_reader *sr, uint64_t base,
		       const struct segindex_block *b)
{
	segment_reader_seek(sr, (off_t)b->offset);
	for (uint32_t i = 0; i < b->count; i++) {
		const uint8_t *p;
		size_t size, len;
		uint64_t off = (uint64_t)segment_reader_offset(sr);
		int r = segment_reader_next(sr, true, &p, &size);
		if (r < 0 && r != -EBADMSG)
			return r;
		if (r != 1)
			return -EUCLEAN;
		if (!(segment_entry_flags(p) & SEGMENT_ENTRY_EARLY))
			continue;
		struct record rec;
		const uint8_t *enc = segment_entry_record(p, &len);
		if (record_decode(enc, len, &rec) < 0)
			return -EUCLEAN;
		if ((r = note_early(h, segment_entry_sid(p), rec.stream_seq, base + off)) < 0)
			return r;
	}
	return 0;
}

/*
 * Recover the active (last) segment: its header's stream marks, its
 * index as far as it is usable, then the entries after the index, each
 * checked (length, checksum, record number, chain, record). A bad tail of
 * at most one entry is cut (*ret_cut); more is damage: -EUCLEAN, the
 * files untouched.
 */
static int recover_active(struct store_host *h, uint64_t *ret_cut, uint64_t *ret_cut_at)
{
	struct seg_meta *a = &h->segs[h->nsegs - 1];
	int r;
	int fd = open_segment(h, a->base);
	if (fd < 0)
		return fd;
	struct segment_header hd;
	if ((r = segment_header_read(fd, &hd)) < 0 || hd.base != a->base) {
		if (r == 0)
			segment_header_free(&hd);
		close(fd);
		return r == -ENOMEM ? r : -EUCLEAN;
	}
	a->first_recno = hd.first_recno;
	h->active_version = hd.version;
	for (size_t i = 0; i < hd.nearly; i++) {
		if ((r = note_early(h, hd.early[i].id, hd.early[i].seq, hd.early[i].pos)) < 0) {
			segment_header_free(&hd);
			close(fd);
			return r;
		}
	}
	for (size_t i = 0; i < hd.nstreams; i++) {
		struct stream_state *st = stream_find(h, hd.streams[i].id);
		if (!st && !(st = stream_add(h, hd.streams[i].id))) {
			segment_header_free(&hd);
			close(fd);
			return -ENOMEM;
		}
		if (hd.streams[i].hwm > st->durable)
			st->durable = st->pending = hd.streams[i].hwm;
	}
	uint64_t off = hd.len, recno = hd.first_recno;
	uint8_t chain[SEGMENT_HASH_LEN];
	memcpy(chain, hd.chain_in, sizeof(chain));
	segment_header_free(&hd);

	char ipath[PATH_MAX + 32];
	struct segindex_block *blocks = NULL;
	size_t nblocks = 0;
	uint64_t igood = 0;
	if ((r = host_path(h, ipath, sizeof(ipath), a->base, SEGMENT_INDEX_SUFFIX)) < 0) {
		close(fd);
		return r;
	}
	if ((r = segindex_load(ipath, a->base, off, recno, a->size, &blocks, &nblocks, &igood)) < 0) {
		if (r == -ENOMEM) {
			close(fd);
			return r;
		}
		/* Missing or unusable: rebuilt from the entries below. */
		blocks = NULL;
		nblocks = 0;
		igood = 0;
	}
	for (size_t i = 0; i < nblocks; i++) {
		const struct segindex_block *b = &blocks[i];
		if (b->hwm) {
			struct stream_state *st = stream_find(h, b->stream_id);
			if (!st && !(st = stream_add(h, b->stream_id))) {
				free(blocks);
				close(fd);
				return -ENOMEM;
			}
			if (b->hwm > st->durable)
				st->durable = st->pending = b->hwm;
			if (b->hwm > st->inorder)
				st->inorder = b->hwm;
		}
		off += b->bytes;
		recno += b->count;
	}
	/* Blocks with early entries: read those entries (few: the ahead sets
	 * are bounded). */
	struct segment_reader *br = NULL;
	r = 0;
	for (size_t i = 0; i < nblocks && r >= 0; i++) {
		if (!(blocks[i].flags & SEGINDEX_F_EARLY))
			continue;
		if (!br && (r = segment_reader_new(&br, fd, h->active_version, (off_t)blocks[i].offset)) < 0)
			break;
		r = block_early(h, br, a->base, &blocks[i]);
	}
	segment_reader_free(br);
	free(blocks);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* The chain after the last indexed entry is that entry's own. */
	if (nblocks > 0 && (r = pread_all(fd, chain, sizeof(chain), (off_t)off - SEGMENT_HASH_LEN)) < 0) {
		close(fd);
		return r;
	}
	h->seg_fd = fd;
	if ((r = open_index(h, a->base, igood)) < 0)
		return r;

	struct segment_reader *sr;
	if ((r = segment_reader_new(&sr, fd, h->active_version, (off_t)off)) < 0)
		return r;
	const uint8_t *p;
	size_t size;
	uint64_t good = off; /* after the last entry that passed every check */
	while ((r = segment_reader_next(sr, true, &p, &size)) == 1) {
		uint8_t next[SEGMENT_HASH_LEN];
		struct record rec;
		size_t len;
		const uint8_t *enc = segment_entry_record(p, &len);
		uint8_t digest[SEGMENT_HASH_LEN];
		segment_entry_digest(digest, p, size, h->active_version);
		segment_chain_next(next, chain, digest);
		if (segment_entry_recno(p) != recno ||
		    memcmp(next, segment_entry_chain(p, size), sizeof(next)) != 0 ||
		    record_decode(enc, len, &rec) < 0) {
			r = -EBADMSG;
			break;
		}
		uint64_t eoff = (uint64_t)segment_reader_offset(sr) - size;
		if (segment_entry_flags(p) & SEGMENT_ENTRY_EARLY) {
			if ((r = note_early(h, segment_entry_sid(p), rec.stream_seq, a->base + eoff)) < 0)
				break;
		} else if (rec.source != RECORD_SRC_COLLECTOR) {
			struct stream_state *st = stream_find(h, segment_entry_sid(p));
			if (!st && !(st = stream_add(h, segment_entry_sid(p)))) {
				r = -ENOMEM;
				break;
			}
			if (rec.stream_seq + 1 > st->durable)
				st->durable = st->pending = rec.stream_seq + 1;
			if (rec.stream_seq + 1 > st->inorder)
				st->inorder = rec.stream_seq + 1;
		}
		index_add(h, p, size, eoff, &rec);
		memcpy(chain, next, sizeof(chain));
		recno++;
		good = (uint64_t)segment_reader_offset(sr);
	}
	segment_reader_free(sr);
	index_flush(h);
	if (r < 0 && r != -EBADMSG)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t fsize = (uint64_t)st.st_size;
	/* A torn append leaves at most one partial entry: more after the
	 * last good entry is damage, and cutting it would throw away
	 * stored records. */
	if (fsize - good > SEGMENT_ENTRY_MAX)
		return -EUCLEAN;
	if (fsize > good && (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0))
		return -errno;
	*ret_cut = fsize - good;
	*ret_cut_at = good;
	a->size = good;
	/* The ahead sets as they were: early records not yet passed by the
	 * in-order ones; the marks go on over those at their place. */
	for (size_t i = 0; i < h->nstreams; i++) {
		struct stream_state *x = &h->streams[i];
		ahead_prune(h, x, x->inorder);
		x->inorder_durable = x->inorder;
		ahead_advance(x);
		x->durable = x->pending;
	}
	h->recno = h->p_recno = recno;
	memcpy(h->chain, chain, sizeof(chain));
	memcpy(h->p_chain, chain, sizeof(chain));
	return 0;
}

static int open_checkpoints(struct store_host *h, bool *ret_short, uint64_t *ret_claimed)
{
	char path[PATH_MAX + 32];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", h->dir, CHECKPOINT_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	struct checkpoint *c = NULL;
	size_t n = 0;
	off_t good = 0, size = 0;
	int r = checkpoint_load(path, &c, &n, &good, &size);
	if (r < 0 && r != -ENOENT && r != -EBADMSG)
		return r;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(c);
		return -errno;
	}
	if (r < 0) {
		/* New (or a header that never made it to disk): start it over. */
		uint8_t hd[CHECKPOINT_HDR_LEN];
		checkpoint_header(hd);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, hd, sizeof(hd), 0) != (ssize_t)sizeof(hd)) {
			close(fd);
			return -errno;
		}
		good = CHECKPOINT_HDR_LEN;
	} else if (size > good && ftruncate(fd, good) < 0) {
		r = -errno;
		free(c);
		close(fd);
		return r;
	}
	h->ckp_fd = fd;
	h->ckp_size = (uint64_t)good;
	h->ckp_recno = h->recno;
	h->ckp_usec = now_usec();
	*ret_short = n > 0 && c[n - 1].records > h->recno;
	*ret_claimed = n > 0 ? c[n - 1].records : 0;
	free(c);
	return 0;
}

static int put_store_event(struct store_host *h, uint16_t event, const char *msg,
			   const struct record_fields *fb);

/*
 * At open: records the collector acknowledged (the acked file) that the
 * journal no longer holds were removed behind its back (a torn tail holds
 * only unacknowledged ones). Recorded in the journal, committed with the
 * next commit, before the next mark replaces the file: one gap record
 * (GAP_CAUSE=acked-lost) per stream whose mark went back, and one
 * STORE_EV_ACKED_LOST event for the record count.
 */
static void note_acked_lost(struct store_host *h)
{
	char path[PATH_MAX + 16];
	struct acked m;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", h->dir, ACKED_FILE) >= sizeof(path) ||
	    acked_load(path, &m) < 0)
		return;
	uint8_t fbuf[256];
	char msg[200];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint64_t now = now_usec();
	for (size_t i = 0; i < m.nstreams; i++) {
		const struct stream_state *st = stream_find(h, m.streams[i].id);
		uint64_t have = st ? st->durable : 0, want = m.streams[i].hwm;
		if (have >= want)
			continue;
		fb.len = 0;
		fb.count = 0;
		if (record_fields_addf(&fb, "GAP_CAUSE", "%s", "acked-lost") < 0 ||
		    record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)(want - have)) < 0 ||
		    record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%llu", (unsigned long long)have) < 0 ||
		    record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%llu", (unsigned long long)(want - 1)) <
			    0)
			continue;
		snprintf(msg, sizeof(msg),
			 "journal: acknowledged records of this stream are gone (stream seq %llu-%llu)",
			 (unsigned long long)have, (unsigned long long)(want - 1));
		(void)!store_event(h, m.streams[i].id, RECORD_EV_GAP, LOG_ERR, have, NULL, msg, &fb, now);
	}
	if (m.records > h->recno) {
		fb.len = 0;
		fb.count = 0;
		if (record_fields_addf(&fb, "ACKED_RECORDS", "%llu", (unsigned long long)m.records) == 0 &&
		    record_fields_addf(&fb, "JOURNAL_RECORDS", "%llu", (unsigned long long)h->recno) == 0) {
			snprintf(msg, sizeof(msg),
				 "journal: holds %llu records but %llu were acknowledged: records were "
				 "removed",
				 (unsigned long long)h->recno, (unsigned long long)m.records);
			(void)!store_event(h, zero_sid, STORE_EV_ACKED_LOST, LOG_ERR, 0, NULL, msg, &fb, now);
		}
	}
	acked_free(&m);
}

int store_host(struct store *s, const char *name, struct store_host **ret, long long *ret_cut)
{
	*ret_cut = 0;
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i]->name, name) == 0) {
			*ret = s->hosts[i];
			return 0;
		}
	if (!store_name_valid(name))
		return -EINVAL;
	make_room(s);
	struct store_host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->seg_fd = h->idx_fd = h->ckp_fd = -1;
	h->active_version = s->format;
	h->store = s;
	strcpy(h->name, name);
	int r;
	if ((size_t)snprintf(h->dir, sizeof(h->dir), "%s/%s", s->hosts_dir, name) >= sizeof(h->dir)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(h->dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if ((r = streams_load(h)) < 0 || (r = list_segments(h)) < 0)
		goto fail;
	if (h->nsegs == 0) {
		uint8_t zero[SEGMENT_HASH_LEN] = { 0 };
		struct seg_meta m = { 0 };
		if ((r = create_segment(h, 0, 0, zero, &m.size)) < 0 || (r = add_meta(h, &m)) < 0)
			goto fail;
	}
	uint64_t cut = 0, cut_at = 0, claimed = 0;
	bool is_short = false;
	if ((r = recover_active(h, &cut, &cut_at)) < 0 || (r = open_checkpoints(h, &is_short, &claimed)) < 0)
		goto fail;
	/* Recovery brings back the marks of streams whose records the active
	 * segment holds, retired ones too (their event is in the journal):
	 * those not in the streams file (counter 0, least recently used) go
	 * again while the table is over its bound. */
	for (size_t k = h->nstreams; k-- > 0 && h->nstreams > s->streams_max;)
		if (h->streams[k].counter == 0 && h->streams[k].nahead == 0)
			stream_remove(h, k);
	s->nopen++;
	h->counted = true;
	h->used = ++s->use_tick;
	/* A journal of an older collector: the current format from here on
	 * (format 1 entries have no flags, format 2 ones a BLAKE2b checksum
	 * that readers pay for). If that fails, the old segment is continued
	 * in its own format until a rotation succeeds. */
	if (h->active_version < s->format)
		(void)rotate(h);
	struct store_host **nh = realloc(s->hosts, (s->nhosts + 1) * sizeof(*nh));
	if (!nh) {
		r = -ENOMEM;
		goto fail;
	}
	s->hosts = nh;
	s->hosts[s->nhosts++] = h;
	/* Nothing is dropped silently: what recovery did goes into the journal. */
	uint8_t fbuf[256];
	char msg[200];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint64_t seg = h->segs[h->nsegs - 1].base;
	if (cut > 0) {
		if (record_fields_addf(&fb, "TORN_BYTES", "%llu", (unsigned long long)cut) == 0 &&
		    record_fields_addf(&fb, "SEGMENT", "%016llx", (unsigned long long)seg) == 0 &&
		    record_fields_addf(&fb, "SEGMENT_OFFSET", "%llu", (unsigned long long)cut_at) == 0) {
			snprintf(msg, sizeof(msg),
				 "journal: torn tail of %llu bytes cut from segment %016llx at offset %llu",
				 (unsigned long long)cut, (unsigned long long)seg,
				 (unsigned long long)cut_at);
			(void)put_store_event(h, STORE_EV_TORN_TAIL, msg, &fb);
		}
	}
	if (is_short) {
		fb.len = 0;
		fb.count = 0;
		if (record_fields_addf(&fb, "CHECKPOINT_RECORDS", "%llu", (unsigned long long)claimed) == 0 &&
		    record_fields_addf(&fb, "JOURNAL_RECORDS", "%llu", (unsigned long long)h->recno) == 0) {
			snprintf(msg, sizeof(msg),
				 "journal: holds %llu records but a checkpoint says %llu: records were "
				 "removed",
				 (unsigned long long)h->recno, (unsigned long long)claimed);
			(void)put_store_event(h, STORE_EV_SHORT, msg, &fb);
		}
	}
	note_acked_lost(h);
	*ret_cut = (long long)cut;
	*ret = h;
	return 0;
fail:
	host_free(h);
	return r;
}

/*
 * The table is full: retire the least recently used stream that is
 * finished (no live session holds it, nothing of it uncommitted, no
 * early records), leaving a STORE_EV_STREAM_RETIRED event with what the
 * table knew of it. -EUSERS when every stream is in use.
 */
static int stream_retire(struct store_host *h)
{
	size_t best = SIZE_MAX;
	for (size_t k = 0; k < h->nstreams; k++) {
		const struct stream_state *st = &h->streams[k];
		if (st->refs == 0 && st->nahead == 0 && st->pending == st->durable &&
		    (best == SIZE_MAX || st->used < h->streams[best].used))
			best = k;
	}
	if (best == SIZE_MAX)
		return -EUSERS;
	const struct stream_state *st = &h->streams[best];
	uint8_t fbuf[256];
	char msg[200], hex[2 * STORE_STREAM_ID_LEN + 1];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	sodium_bin2hex(hex, sizeof(hex), st->id, STORE_STREAM_ID_LEN);
	if (record_fields_add(&fb, "RETIRED_STREAM_ID", hex, strlen(hex)) < 0 ||
	    record_fields_addf(&fb, "RETIRED_COUNTER", "%llu", (unsigned long long)st->counter) < 0 ||
	    record_fields_addf(&fb, "RETIRED_STREAM_SEQ", "%llu", (unsigned long long)st->durable) < 0 ||
	    record_fields_addf(&fb, "STREAMS_MAX", "%zu", h->store->streams_max) < 0)
		return -ENOSPC;
	snprintf(msg, sizeof(msg),
		 "stream %.8s... retired from the stream table (full at %zu): handshake counter %llu, "
		 "records below stream seq %llu stored",
		 hex, h->store->streams_max, (unsigned long long)st->counter,
		 (unsigned long long)st->durable);
	int r = store_event(h, st->id, STORE_EV_STREAM_RETIRED, LOG_NOTICE, st->durable, NULL, msg, &fb,
			    now_usec());
	if (r < 0)
		return r;
	stream_remove(h, best);
	return 0;
}

int store_stream_counter(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], uint64_t counter)
{
	struct stream_state *st = stream_find(h, sid);
	if (st && counter <= st->counter)
		return -ESTALE;
	bool added = false;
	if (!st) {
		int r;
		while (h->nstreams >= h->store->streams_max)
			if ((r = stream_retire(h)) < 0)
				return r;
		if (!(st = stream_add(h, sid)))
			return -ENOMEM;
		added = true;
	}
	uint64_t old = st->counter, old_used = st->used;
	st->counter = counter;
	st->used = ++h->stream_tick;
	int r = streams_save(h);
	if (r < 0) {
		/* Not persisted: forget it, so the same counter stays usable. */
		if (added)
			stream_remove(h, (size_t)(st - h->streams));
		else {
			st->counter = old;
			st->used = old_used;
		}
	}
	return r;
}

bool store_stream_known(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	return stream_find(h, sid) != NULL;
}

void store_stream_hold(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], bool hold)
{
	struct stream_state *st = stream_find(h, sid);
	if (st && hold)
		st->refs++;
	else if (st && st->refs > 0)
		st->refs--;
}

size_t store_stream_count(const struct store_host *h)
{
	return h->nstreams;
}

void store_set_streams_max(struct store *s, size_t n)
{
	s->streams_max = n ? n : STORE_STREAMS_MAX;
}

uint64_t store_stream_hwm(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	struct stream_state *st = stream_find(h, sid);
	return st ? st->durable : 0;
}

static int buf_reserve(struct store_host *h, size_t more)
{
	if (h->len + more <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 65536;
	while (cap < h->len + more)
		cap *= 2;
	uint8_t *n = realloc(h->buf, cap);
	if (!n)
		return -ENOMEM;
	h->buf = n;
	h->cap = cap;
	return 0;
}

/* The logical position the next entry put into the buffer gets. */
static uint64_t next_pos(const struct store_host *h)
{
	const struct seg_meta *a = &h->segs[h->nsegs - 1];
	return a->base + a->size + h->len;
}

static int put_entry(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const uint8_t *enc,
		     size_t len, unsigned flags, uint64_t recv_usec)
{
	int r = buf_reserve(h, len + SEGMENT_ENTRY_OVERHEAD);
	if (r < 0)
		return r;
	h->len += segment_entry_encode(h->buf + h->len, h->active_version, h->p_recno, recv_usec, sid, enc,
				       len, flags, h->p_chain);
	h->p_recno++;
	h->store->dirty = true;
	return 0;
}

int store_event(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], uint16_t event, uint8_t level,
		uint64_t stream_seq, const uint8_t boot_id[RECORD_BOOT_ID_LEN], const char *msg,
		const struct record_fields *fb, uint64_t recv_usec)
{
	uint8_t enc[RECORD_HDR_LEN + STORE_EVENT_MAX];
	struct record ev = {
		.source = RECORD_SRC_COLLECTOR,
		.level = level,
		.facility = RECORD_FACILITY_EVENT,
		.event = event,
		.stream_seq = stream_seq,
		.real_usec = recv_usec,
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)strlen(msg),
		.nfields = fb ? fb->count : 0,
		.fields = fb ? fb->buf : NULL,
		.fields_len = fb ? fb->len : 0,
	};
	if (boot_id)
		memcpy(ev.boot_id, boot_id, RECORD_BOOT_ID_LEN);
	int n = record_encode(&ev, enc, sizeof(enc));
	if (n < 0)
		return n;
	return put_entry(h, sid, enc, (size_t)n, 0, recv_usec);
}

/* A stream-jump gap record for seqs first..last, before record next. */
static int put_gap(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const struct record *next,
		   uint64_t first, uint64_t last, uint64_t recv_usec)
{
	uint8_t fbuf[256];
	char msg[128];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint64_t count = last - first + 1;
	if (record_fields_add(&fb, "GAP_CAUSE", "stream-jump", 11) < 0 ||
	    record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)count) < 0 ||
	    record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%llu", (unsigned long long)first) < 0 ||
	    record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%llu", (unsigned long long)last) < 0)
		return -ENOSPC;
	snprintf(msg, sizeof(msg), "stream gap: %llu records missing (stream seq %llu-%llu)",
		 (unsigned long long)count, (unsigned long long)first, (unsigned long long)last);
	return store_event(h, sid, RECORD_EV_GAP, LOG_WARNING, first, next->boot_id, msg, &fb, recv_usec);
}

/* Gap records for the seqs pending .. rec's - 1 that are missing: those
 * stored early are not. */
static int put_gaps(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], struct stream_state *st,
		    const struct record *rec, uint64_t recv_usec)
{
	uint64_t from = st->pending;
	for (size_t i = ahead_lower(st, from); from < rec->stream_seq; i++) {
		uint64_t to = i < st->nahead && st->ahead[i].seq < rec->stream_seq ? st->ahead[i].seq
										   : rec->stream_seq;
		int r = to > from ? put_gap(h, sid, rec, from, to - 1, recv_usec) : 0;
		if (r < 0)
			return r;
		from = to + 1;
	}
	return 0;
}

int store_append(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const struct record *rec,
		 const uint8_t *enc, size_t len, uint64_t recv_usec)
{
	struct stream_state *st = stream_find(h, sid);
	if (!st)
		return -ENOENT; /* every stream arrives through a handshake */
	if (rec->stream_seq < st->pending)
		return 0;
	if (rec->stream_seq == UINT64_MAX)
		return -ERANGE;
	int r;
	if (rec->stream_seq > st->pending && (r = put_gaps(h, sid, st, rec, recv_usec)) < 0)
		return r;
	/* Stored early: this is the copy sent in order, already held. */
	bool dup = ahead_has(st, rec->stream_seq);
	if (!dup) {
		if ((r = put_entry(h, sid, enc, len, 0, recv_usec)) < 0)
			return r;
		st->inorder = rec->stream_seq + 1;
	}
	st->pending = rec->stream_seq + 1;
	ahead_advance(st);
	return dup ? 0 : 1;
}

int store_append_early(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const struct record *rec,
		       const uint8_t *enc, size_t len, uint64_t recv_usec)
{
	struct stream_state *st = stream_find(h, sid);
	if (!st)
		return -ENOENT;
	if (rec->stream_seq < st->pending || ahead_has(st, rec->stream_seq))
		return 0;
	if (rec->stream_seq == UINT64_MAX || rec->source == RECORD_SRC_COLLECTOR)
		return -ERANGE;
	int r;
	if (rec->stream_seq == st->pending) {
		/* Its place: stored in order, like the next record of a batch. */
		if ((r = put_entry(h, sid, enc, len, 0, recv_usec)) < 0)
			return r;
		st->inorder = st->pending = rec->stream_seq + 1;
		ahead_advance(st);
		return 1;
	}
	if (h->nahead >= STORE_AHEAD_MAX || h->active_version < 2)
		return 2;
	uint64_t pos = next_pos(h);
	if ((r = ahead_reserve(st)) < 0 ||
	    (r = put_entry(h, sid, enc, len, SEGMENT_ENTRY_EARLY, recv_usec)) < 0)
		return r;
	ahead_add(h, st, rec->stream_seq, pos);
	return 1;
}

static int put_store_event(struct store_host *h, uint16_t event, const char *msg,
			   const struct record_fields *fb)
{
	return store_event(h, zero_sid, event, LOG_WARNING, 0, NULL, msg, fb, now_usec());
}

static void host_rollback(struct store_host *h)
{
	/* Whatever part of the buffer reached the file goes again; best
	 * effort, a failed truncate leaves entries recovery will accept. */
	if (h->seg_fd >= 0 && ftruncate(h->seg_fd, (off_t)h->segs[h->nsegs - 1].size) == 0)
		(void)fdatasync(h->seg_fd);
	uint64_t end = next_pos(h) - h->len;
	for (size_t i = 0; i < h->nstreams; i++) {
		struct stream_state *st = &h->streams[i];
		st->pending = st->durable;
		st->inorder = st->inorder_durable;
		/* Early records of the buffer are not stored. */
		size_t k = 0;
		for (size_t j = 0; j < st->nahead; j++)
			if (st->ahead[j].pos < end)
				st->ahead[k++] = st->ahead[j];
		h->nahead -= st->nahead - k;
		st->nahead = k;
	}
	h->p_recno = h->recno;
	memcpy(h->p_chain, h->chain, sizeof(h->chain));
	h->len = 0;
	h->failed = true;
}

/* The buffer is on disk at file offset base_off: index it. */
static void index_buffer(struct store_host *h, uint64_t base_off)
{
	for (size_t pos = 0; pos < h->len;) {
		const uint8_t *p = h->buf + pos;
		size_t size = segment_entry_size(p, h->active_version), len;
		const uint8_t *enc = segment_entry_record(p, &len);
		struct record rec;
		if (record_decode(enc, len, &rec) == 0)
			index_add(h, p, size, base_off + pos, &rec);
		pos += size;
	}
	index_flush(h);
}

/*
 * First half of a host's commit: its buffer written to the active
 * segment, and the kernel told to start writing it out, so that the
 * fdatasyncs of the second half (host_commit) find the data of every
 * host of the commit under way and the filesystem's journal commit of
 * the first one covers the others' sizes (one fdatasync after another,
 * each starting its own writeback, took 2.2 ms per host with 100 busy
 * hosts: bench ingest).
 */
static int host_write(struct store_host *h)
{
	struct seg_meta *a = &h->segs[h->nsegs - 1];
	int r = host_files_open(h);
	if (r < 0) {
		/* Nothing written: the buffer's records go again. */
		host_rollback(h);
		return r;
	}
	if ((r = write_all(h->seg_fd, h->buf, h->len)) < 0) {
		host_rollback(h);
		return r;
	}
	/* Only a hint: the fdatasync below is what makes it durable. */
	(void)sync_file_range(h->seg_fd, (off_t)a->size, (off_t)h->len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static int host_commit(struct store_host *h, uint64_t now)
{
	struct seg_meta *a = &h->segs[h->nsegs - 1];
	if (fdatasync(h->seg_fd) < 0) {
		int r = -errno;
		host_rollback(h);
		return r;
	}
	index_buffer(h, a->size);
	a->size += h->len;
	h->len = 0;
	h->recno = h->p_recno;
	memcpy(h->chain, h->p_chain, sizeof(h->chain));
	for (size_t j = 0; j < h->nstreams; j++) {
		struct stream_state *st = &h->streams[j];
		st->durable = st->pending;
		st->inorder_durable = st->inorder;
		ahead_prune(h, st, st->inorder_durable);
	}
	if (a->size >= h->store->lim.segment_size)
		(void)rotate(h); /* failed: the segment grows, tried again next time */
	else if (h->recno - h->ckp_recno >= STORE_CHECKPOINT_RECORDS ||
		 now - h->ckp_usec >= STORE_CHECKPOINT_USEC)
		write_checkpoint(h, now);
	write_acked(h, now);
	return 0;
}

int store_commit(struct store *s)
{
	int first = 0;
	uint64_t now = now_usec();
	for (size_t i = 0; i < s->nhosts; i++) {
		struct store_host *h = s->hosts[i];
		h->failed = false;
		if (h->len == 0) {
			/* Idle in this commit: a burst's buffer is not kept
			 * (10,000 hosts x the largest burst each). */
			if (h->cap > STORE_BUF_KEEP) {
				free(h->buf);
				h->buf = NULL;
				h->cap = 0;
			}
			continue;
		}
		int r = host_write(h);
		if (r < 0 && !first)
			first = r;
	}
	/* Hosts written above (a failed one's buffer is empty again). Files
	 * stay open: a host with records not committed is never closed. */
	for (size_t i = 0; i < s->nhosts; i++) {
		struct store_host *h = s->hosts[i];
		if (h->len == 0)
			continue;
		int r = host_commit(h, now);
		if (r < 0 && !first)
			first = r;
	}
	s->dirty = false;
	/* Hosts written together may have gone past the limit. */
	if (s->open_max && s->nopen > s->open_max)
		close_lru(s, s->open_max + 1);
	return first;
}

/* ---- retention ---- */

/* What removing the oldest segments takes away, per stream and in total. */
struct rstream {
	uint8_t id[STORE_STREAM_ID_LEN];
	bool has_seq;
	uint64_t lo, hi; /* stream seqs of agent records (and earlier retention claims) */
	uint64_t records;
	uint8_t boot[RECORD_BOOT_ID_LEN]; /* of the last agent record */
};

struct removal {
	const char *reason;
	uint64_t records, bytes, segments;
	bool has_recno;
	uint64_t first_recno, last_recno;
	bool has_time;
	uint64_t first_real, last_real;
	struct rstream *st;
	size_t n;
};

static struct rstream *removal_stream(struct removal *rm, const uint8_t *sid)
{
	for (size_t i = 0; i < rm->n; i++)
		if (memcmp(rm->st[i].id, sid, STORE_STREAM_ID_LEN) == 0)
			return &rm->st[i];
	struct rstream *n = realloc(rm->st, (rm->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	rm->st = n;
	struct rstream *x = &n[rm->n++];
	memset(x, 0, sizeof(*x));
	memcpy(x->id, sid, STORE_STREAM_ID_LEN);
	return x;
}

static bool field_u64(const struct record *r, const char *key, uint64_t *ret)
{
	const uint8_t *v;
	size_t len;
	if (record_field_get(r, key, &v, &len) != 1 || len == 0 || len > 20)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*ret = n;
	return true;
}

static void widen(struct rstream *x, uint64_t lo, uint64_t hi)
{
	if (!x->has_seq || lo < x->lo)
		x->lo = lo;
	if (!x->has_seq || hi > x->hi)
		x->hi = hi;
	x->has_seq = true;
}

/* Fold the records of segment base into rm. Damage ends the segment's part (it goes anyway). */
static int scan_removed(struct store_host *h, const struct seg_meta *m, struct removal *rm)
{
	char path[PATH_MAX + 32];
	int r = host_path(h, path, sizeof(path), m->base, SEGMENT_SUFFIX);
	if (r < 0)
		return r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct segment_header hd;
	struct segment_reader *sr = NULL;
	if ((r = segment_header_read(fd, &hd)) < 0 ||
	    (r = segment_reader_new(&sr, fd, hd.version, (off_t)hd.len)) < 0) {
		if (r != -ENOMEM && sr == NULL)
			r = 0;
		close(fd);
		return r;
	}
	segment_header_free(&hd);
	const uint8_t *p;
	size_t size;
	while (segment_reader_next(sr, false, &p, &size) == 1) {
		struct record rec;
		size_t len;
		const uint8_t *enc = segment_entry_record(p, &len);
		if (record_decode(enc, len, &rec) < 0)
			break;
		uint64_t recno = segment_entry_recno(p);
		if (!rm->has_recno)
			rm->first_recno = recno;
		rm->last_recno = recno;
		rm->has_recno = true;
		if (!rm->has_time || rec.real_usec < rm->first_real)
			rm->first_real = rec.real_usec;
		if (!rm->has_time || rec.real_usec > rm->last_real)
			rm->last_real = rec.real_usec;
		rm->has_time = true;
		rm->records++;
		struct rstream *x = removal_stream(rm, segment_entry_sid(p));
		if (!x) {
			r = -ENOMEM;
			break;
		}
		if (rec.source != RECORD_SRC_COLLECTOR) {
			x->records++;
			widen(x, rec.stream_seq, rec.stream_seq);
			memcpy(x->boot, rec.boot_id, RECORD_BOOT_ID_LEN);
			continue;
		}
		/* An earlier removal's claim goes on in this one's, so a
		 * report never loses it when its record is removed in turn. */
		const uint8_t *v;
		size_t vlen;
		uint64_t lo, hi;
		if (rec.event == RECORD_EV_GAP && record_field_get(&rec, "GAP_CAUSE", &v, &vlen) == 1 &&
		    vlen == 9 && memcmp(v, "retention", 9) == 0 &&
		    field_u64(&rec, "GAP_FIRST_STREAM_SEQ", &lo) &&
		    field_u64(&rec, "GAP_LAST_STREAM_SEQ", &hi) && lo <= hi)
			widen(x, lo, hi);
	}
	segment_reader_free(sr);
	close(fd);
	rm->bytes += m->size;
	rm->segments++;
	return r;
}

static int put_removal_events(struct store_host *h, const struct removal *rm, uint64_t now)
{
	uint8_t fbuf[STORE_EVENT_MAX / 2];
	char msg[300];
	for (size_t i = 0; i < (rm->n ? rm->n : 1); i++) {
		const struct rstream *x = rm->n ? &rm->st[i] : NULL;
		struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
		int r = record_fields_add(&fb, "GAP_CAUSE", "retention", 9);
		if (x && x->has_seq) {
			r |= record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)x->records);
			r |= record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%llu",
						(unsigned long long)x->lo);
			r |= record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%llu",
						(unsigned long long)x->hi);
		}
		r |= record_fields_add(&fb, "RETENTION_REASON", rm->reason, strlen(rm->reason));
		r |= record_fields_addf(&fb, "RETENTION_RECORDS", "%llu", (unsigned long long)rm->records);
		if (rm->has_recno) {
			r |= record_fields_addf(&fb, "RETENTION_FIRST_RECNO", "%llu",
						(unsigned long long)rm->first_recno);
			r |= record_fields_addf(&fb, "RETENTION_LAST_RECNO", "%llu",
						(unsigned long long)rm->last_recno);
		}
		if (rm->has_time) {
			r |= record_fields_addf(&fb, "RETENTION_FIRST_REALTIME", "%llu",
						(unsigned long long)rm->first_real);
			r |= record_fields_addf(&fb, "RETENTION_LAST_REALTIME", "%llu",
						(unsigned long long)rm->last_real);
		}
		r |= record_fields_addf(&fb, "RETENTION_SEGMENTS", "%llu", (unsigned long long)rm->segments);
		r |= record_fields_addf(&fb, "RETENTION_BYTES", "%llu", (unsigned long long)rm->bytes);
		if (r)
			return -ENOSPC;
		int n = snprintf(msg, sizeof(msg), "retention (%s): removed %llu segment(s), %llu records",
				 rm->reason, (unsigned long long)rm->segments,
				 (unsigned long long)rm->records);
		if (x && x->has_seq)
			snprintf(msg + n, sizeof(msg) - (size_t)n, "; stream seq %llu-%llu of this stream",
				 (unsigned long long)x->lo, (unsigned long long)x->hi);
		bool boot = x && x->has_seq;
		r = store_event(h, x ? x->id : zero_sid, RECORD_EV_GAP, LOG_NOTICE,
				x && x->has_seq ? x->lo : 0, boot ? x->boot : NULL, msg, &fb, now);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Drop the checkpoints of removed segments (they can no longer be checked). */
static int compact_checkpoints(struct store_host *h, uint64_t first_base)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", h->dir, CHECKPOINT_FILE);
	struct checkpoint *c = NULL;
	size_t n = 0, k = 0;
	off_t good, size;
	int r = checkpoint_load(path, &c, &n, &good, &size);
	if (r < 0)
		return r;
	uint8_t *buf = malloc(CHECKPOINT_HDR_LEN + n * CHECKPOINT_LEN);
	if (!buf) {
		free(c);
		return -ENOMEM;
	}
	checkpoint_header(buf);
	for (size_t i = 0; i < n; i++)
		if (c[i].end >= first_base)
			checkpoint_encode(buf + CHECKPOINT_HDR_LEN + k++ * CHECKPOINT_LEN, &c[i]);
	free(c);
	size_t len = CHECKPOINT_HDR_LEN + k * CHECKPOINT_LEN;
	r = durable_replace(path, buf, len, 0640);
	free(buf);
	if (r < 0)
		return r;
	h->ckp_size = len;
	if (h->ckp_fd < 0) /* files closed (make_room): reopened on the next write */
		return 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(h->ckp_fd);
	h->ckp_fd = fd;
	return 0;
}

/* Remove the k oldest segments of h (never the active one), after recording it durably. */
static int remove_segments(struct store_host *h, size_t k, const char *reason, uint64_t now)
{
	struct removal rm = { .reason = reason };
	int r = 0;
	for (size_t i = 0; i < k && r == 0; i++)
		r = scan_removed(h, &h->segs[i], &rm);
	if (r == 0)
		r = put_removal_events(h, &rm, now);
	free(rm.st);
	if (r < 0)
		return r;
	if ((r = store_commit(h->store)) < 0)
		return r;
	for (size_t i = 0; i < k; i++) {
		char path[PATH_MAX + 32];
		if (host_path(h, path, sizeof(path), h->segs[i].base, SEGMENT_SUFFIX) == 0 &&
		    unlink(path) < 0 && errno != ENOENT)
			return -errno;
		if (host_path(h, path, sizeof(path), h->segs[i].base, SEGMENT_INDEX_SUFFIX) == 0)
			(void)unlink(path);
	}
	uint64_t first = h->segs[k].base;
	memmove(h->segs, h->segs + k, (h->nsegs - k) * sizeof(*h->segs));
	h->nsegs -= k;
	if ((r = fsync_dir(h->dir)) < 0)
		return r;
	return compact_checkpoints(h, first);
}

static int host_retention(struct store_host *h, uint64_t now)
{
	const struct store_limits *l = &h->store->lim;
	uint64_t total = 0;
	for (size_t i = 0; i < h->nsegs; i++)
		total += h->segs[i].size;
	size_t k = 0;
	const char *reason = NULL;
	while (k + 1 < h->nsegs) {
		bool size = l->host_max_size && total > l->host_max_size, age = false;
		if (!size && l->max_age_usec) {
			char path[PATH_MAX + 32];
			struct stat st;
			if (host_path(h, path, sizeof(path), h->segs[k].base, SEGMENT_SUFFIX) == 0 &&
			    stat(path, &st) == 0)
				age = (uint64_t)st.st_mtim.tv_sec * 1000000 +
					      (uint64_t)st.st_mtim.tv_nsec / 1000 + l->max_age_usec <
				      now;
		}
		if (!size && !age)
			break;
		if (!reason)
			reason = size ? "host_max_size" : "max_age";
		total -= h->segs[k].size;
		k++;
	}
	return k ? remove_segments(h, k, reason, now) : 0;
}

/* The host (under hosts_dir) whose oldest segment, not its only one, was written first; and the total. */
static int oldest_segment(struct store *s, char name[STORE_NAME_MAX + 1], uint64_t *ret_total)
{
	DIR *d = opendir(s->hosts_dir);
	if (!d)
		return -errno;
	uint64_t total = 0, best = UINT64_MAX;
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!store_name_valid(de->d_name))
			continue;
		char dir[PATH_MAX + 300];
		snprintf(dir, sizeof(dir), "%s/%s", s->hosts_dir, de->d_name);
		DIR *hd = opendir(dir);
		if (!hd)
			continue;
		uint64_t min_base = UINT64_MAX, min_mtime = 0;
		size_t count = 0;
		struct dirent *se;
		while ((se = readdir(hd))) {
			uint64_t base;
			struct stat st;
			if (segment_name_parse(se->d_name, SEGMENT_SUFFIX, &base) < 0 ||
			    fstatat(dirfd(hd), se->d_name, &st, 0) < 0)
				continue;
			total += (uint64_t)st.st_size;
			count++;
			if (base < min_base) {
				min_base = base;
				min_mtime = (uint64_t)st.st_mtim.tv_sec * 1000000 +
					    (uint64_t)st.st_mtim.tv_nsec / 1000;
			}
		}
		closedir(hd);
		if (count >= 2 && min_mtime < best) {
			best = min_mtime;
			snprintf(name, STORE_NAME_MAX + 1, "%.64s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	*ret_total = total;
	return found ? 1 : 0;
}

int store_retention(struct store *s, uint64_t now)
{
	const struct store_limits *l = &s->lim;
	if (s->dirty || (!l->host_max_size && !l->max_size && !l->max_age_usec))
		return 0;
	if (!s->sealed && now - s->last_retention_usec < STORE_RETENTION_EVERY_USEC)
		return 0;
	s->sealed = false;
	s->last_retention_usec = now;
	int first = 0;
	for (size_t i = 0; i < s->nhosts; i++) {
		int r = host_retention(s->hosts[i], now);
		if (r < 0 && !first)
			first = r;
	}
	/* Bounded: every round removes a segment or stops. */
	for (size_t round = 0; l->max_size && round < 1000000; round++) {
		char name[STORE_NAME_MAX + 1];
		uint64_t total;
		int r = oldest_segment(s, name, &total);
		if (r <= 0 || total <= l->max_size) {
			if (r < 0 && !first)
				first = r;
			break;
		}
		struct store_host *h;
		long long cut;
		if ((r = store_host(s, name, &h, &cut)) < 0 || h->nsegs < 2 ||
		    (r = remove_segments(h, 1, "max_size", now)) < 0) {
			if (!first)
				first = r < 0 ? r : -EUCLEAN;
			break;
		}
	}
	return first;
}

/* ---- commitments (commitment.h) ---- */

void store_host_mark(const struct store_host *h, uint64_t *records, uint64_t *end, uint8_t chain[32])
{
	const struct seg_meta *a = &h->segs[h->nsegs - 1];
	*records = h->recno;
	*end = h->recno == a->first_recno && h->nsegs > 1 ? a->base : a->base + a->size;
	memcpy(chain, h->chain, 32);
}

int store_check_commitment(struct store_host *h, uint64_t records, uint64_t end, const uint8_t chain[32],
			   const char **why)
{
	if (records > h->recno) {
		*why = "the journal holds fewer records";
		return -ESTALE;
	}
	if (records == 0)
		return 0;
	/* The segment whose bytes end at end: its last 32 are the chain value
	 * of the entry ending there (docs/STORE.md, "Segment file"). */
	for (size_t i = h->nsegs; i-- > 0;) {
		const struct seg_meta *m = &h->segs[i];
		if (end > m->base + m->size)
			break;
		if (end <= m->base)
			continue;
		if (end - m->base < SEGMENT_HASH_LEN) {
			*why = "no record ends at that position";
			return -ESTALE;
		}
		char path[PATH_MAX + 32];
		int r = host_path(h, path, sizeof(path), m->base, SEGMENT_SUFFIX);
		if (r < 0)
			return r;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		uint8_t got[SEGMENT_HASH_LEN];
		r = pread_all(fd, got, sizeof(got), (off_t)(end - m->base - SEGMENT_HASH_LEN));
		close(fd);
		if (r < 0)
			return r == -ENODATA ? -ESTALE : r;
		if (memcmp(got, chain, SEGMENT_HASH_LEN) != 0) {
			*why = "another chain value at that position: records were rewritten";
			return -ESTALE;
		}
		return 0;
	}
	if (h->nsegs && end <= h->segs[0].base)
		return -ENOENT; /* removed by retention: nothing to compare */
	*why = "the journal ends before that position";
	return -ESTALE;
}
