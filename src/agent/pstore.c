/* SPDX-License-Identifier: ISC */

/*
 * The pstore input (interface and summary in pstore.h, the record layout
 * and the reasons in docs/PSTORE-INPUT.md).
 *
 * Decisions:
 * - A file is identified by name, size and BLAKE2b-256 of the bytes read.
 *   The mtime is stored but not compared: the kernel gives files without
 *   a stored timestamp (console, pmsg, ftrace) the mount time, which
 *   changes at every boot while the content does not. The name alone is
 *   not enough either: ramoops reuses dmesg-ramoops-0 for the next crash.
 * - Text or binary is decided from the bytes, not from the name: any NUL
 *   byte, a ".enc.z" name, or a line longer than PSTORE_LINE_MAX ships the
 *   file in chunks. Every byte reaches the collector either way.
 * - Empty lines are not records (they carry nothing; line numbers in
 *   PSTORE_LINE still count them). An empty file is one record, so that
 *   its existence is shipped too.
 * - The state file is text with a BLAKE2b-256 trailer over everything
 *   before it. Anything that does not parse makes the whole file count as
 *   empty: every pstore file is shipped again (a duplicate the collector
 *   sees as such, PSTORE_STATE=damaged) rather than kept back (a loss).
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "durable.h"
#include "pstore.h"

#define HASH_LEN 32
#define NAME_CAP 256 /* NAME_MAX + 1 */
/* Room for a record's fields: the name three times at most (FILE, TYPE,
 * BACKEND are parts of it) plus short numbers. */
#define FIELDS_CAP 2048
#define CHUNK_MAX (RECORD_MAX - RECORD_HDR_LEN - FIELDS_CAP)
/* Largest state file read: PSTORE_STATE_MAX entries of the longest name,
 * escaped (3 bytes a byte), plus numbers, plus the entries of the files
 * present (no cap), with room to spare. */
#define STATE_FILE_MAX (8u * 1024 * 1024)
#define STATE_MAGIC "kmsg-shipper pstore state 1\n"
#define STATE_TRAILER "end "

/* Level of a line without "<PRI>". */
#define LEVEL_LINE_DEFAULT 6
/* Level of a dmesg header or dmesg file shipped whole: a crash dump,
 * unless the header says it was an orderly shutdown. */
#define LEVEL_CRASH 2
#define LEVEL_ORDERLY 5

struct entry {
	char name[NAME_CAP];
	uint64_t size;
	uint64_t mtime_usec;
	uint8_t hash[HASH_LEN];
	bool seen; /* present in the last scan */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

struct pstore {
	int dirfd;
	char *state_file;
	bool remove;
	struct entries known;	/* committed: the state file's content */
	struct entries pending; /* shipped in the last scan, not committed */
	uint8_t *buf;		/* content of the file being read */
	size_t buf_cap;
	uint8_t fbuf[FIELDS_CAP]; /* fields of the record being built */
	struct pstore_stats st;
};

/* What one file is: its name's parts and what was read. */
struct pfile {
	const char *name;
	char type[NAME_CAP];
	char backend[NAME_CAP];
	char id[32];
	bool parsed; /* TYPE-BACKEND-ID[.enc.z] */
	bool compressed;
	uint64_t size;
	uint64_t mtime_usec;
	uint64_t skipped; /* head bytes not read (file over PSTORE_FILE_MAX) */
	bool grew;	  /* more bytes than fstat said: the tail was not read */
	const uint8_t *data;
	size_t len;
	/* kmsg_dump header "Reason#count Partn" */
	bool have_hdr;
	char reason[33];
	uint64_t count, part;
	uint8_t base[FIELDS_CAP]; /* fields every record of the file carries */
	struct record_fields basef;
	uint8_t level; /* of a header or of a chunk */
	bool first_done;
};

/* ---- entries ---- */

static int entries_push(struct entries *e, const struct entry *x)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct entry *v = realloc(e->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = *x;
	return 0;
}

static void entries_free(struct entries *e)
{
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

static struct entry *entries_find(struct entries *e, const char *name, uint64_t size,
				  const uint8_t hash[HASH_LEN])
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].size == size && strcmp(e->v[i].name, name) == 0 &&
		    memcmp(e->v[i].hash, hash, HASH_LEN) == 0)
			return &e->v[i];
	return NULL;
}

/* ---- state file ---- */

static bool name_byte_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

/* Append to a growing buffer; 0 or -ENOMEM. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static int sbuf_entry(struct sbuf *b, const struct entry *x)
{
	char line[HASH_LEN * 2 + 3 * NAME_CAP + 64];
	size_t n = 0;

	for (size_t i = 0; i < HASH_LEN; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%02x", x->hash[i]);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " %llu %llu ", (unsigned long long)x->size,
			      (unsigned long long)x->mtime_usec);
	for (const unsigned char *c = (const unsigned char *)x->name; *c; c++) {
		if (name_byte_plain(*c))
			line[n++] = (char)*c;
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%%%02X", *c);
	}
	line[n++] = '\n';
	return sbuf_add(b, line, n);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Decimal u64 at *s up to a space; advances *s past the space. */
static int parse_u64_sp(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (p == end || *p < '0' || *p > '9')
		return -EBADMSG;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
		p++;
	}
	if (p == end || *p != ' ')
		return -EBADMSG;
	*s = p + 1;
	*out = v;
	return 0;
}

static int parse_entry(const char *s, const char *end, struct entry *x)
{
	size_t nl = 0;

	memset(x, 0, sizeof(*x));
	if (end - s < HASH_LEN * 2 + 1 || parse_hex(s, HASH_LEN, x->hash) < 0 || s[HASH_LEN * 2] != ' ')
		return -EBADMSG;
	s += HASH_LEN * 2 + 1;
	if (parse_u64_sp(&s, end, &x->size) < 0 || parse_u64_sp(&s, end, &x->mtime_usec) < 0)
		return -EBADMSG;
	if (s == end)
		return -EBADMSG;
	while (s < end) {
		unsigned char c = (unsigned char)*s;
		if (c == '%') {
			int hi, lo;
			if (end - s < 3 || (hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				return -EBADMSG;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0 || c == '/')
				return -EBADMSG;
			s += 3;
		} else if (name_byte_plain(c) && c != '/') {
			s++;
		} else {
			return -EBADMSG;
		}
		if (nl == NAME_CAP - 1)
			return -EBADMSG;
		x->name[nl++] = (char)c;
	}
	x->name[nl] = '\0';
	return 0;
}

/*
 * Parse the whole state file into e; -EBADMSG (e emptied) if anything in
 * it is not exactly as state_save writes it.
 */
static int state_parse(const char *buf, size_t len, struct entries *e)
{
	size_t ml = strlen(STATE_MAGIC), tl = strlen(STATE_TRAILER);
	uint8_t want[HASH_LEN], got[HASH_LEN];
	const char *p, *end, *tr;

	if (len < ml || memcmp(buf, STATE_MAGIC, ml) != 0)
		return -EBADMSG;
	/* Trailer: "end " 64 hex digits "\n", the last line. */
	if (len < ml + tl + HASH_LEN * 2 + 1 || buf[len - 1] != '\n')
		return -EBADMSG;
	tr = buf + len - (tl + HASH_LEN * 2 + 1);
	if (memcmp(tr, STATE_TRAILER, tl) != 0 || parse_hex(tr + tl, HASH_LEN, want) < 0)
		return -EBADMSG;
	crypto_generichash(got, HASH_LEN, (const uint8_t *)buf, (size_t)(tr - buf), NULL, 0);
	if (sodium_memcmp(got, want, HASH_LEN) != 0)
		return -EBADMSG;

	for (p = buf + ml; p < tr; p = end + 1) {
		struct entry x;
		end = memchr(p, '\n', (size_t)(tr - p));
		if (!end || parse_entry(p, end, &x) < 0) {
			entries_free(e);
			return -EBADMSG;
		}
		int r = entries_push(e, &x);
		if (r < 0) {
			entries_free(e);
			return r;
		}
	}
	return 0;
}

static int state_load(struct pstore *p)
{
	char *buf = malloc(STATE_FILE_MAX);
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	n = read_file(p->state_file, buf, STATE_FILE_MAX);
	if (n == -ENOENT) {
		r = 0;
	} else if (n < 0) {
		p->st.state_error = (int)n;
		r = 0;
	} else {
		r = state_parse(buf, (size_t)n, &p->known);
		if (r == -EBADMSG) {
			p->st.state_error = r;
			r = 0;
		}
	}
	free(buf);
	return r;
}

static int state_save(struct pstore *p, const struct entries *e)
{
	struct sbuf b = { 0 };
	uint8_t h[HASH_LEN];
	char hex[HASH_LEN * 2 + 1];
	int r = sbuf_add(&b, STATE_MAGIC, strlen(STATE_MAGIC));

	for (size_t i = 0; r == 0 && i < e->n; i++)
		r = sbuf_entry(&b, &e->v[i]);
	if (r == 0) {
		crypto_generichash(h, HASH_LEN, (const uint8_t *)b.p, b.len, NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), h, HASH_LEN);
		r = sbuf_add(&b, STATE_TRAILER, strlen(STATE_TRAILER));
	}
	if (r == 0)
		r = sbuf_add(&b, hex, HASH_LEN * 2);
	if (r == 0)
		r = sbuf_add(&b, "\n", 1);
	if (r == 0)
		r = durable_replace(p->state_file, b.p, b.len, 0600);
	free(b.p);
	return r;
}

/* ---- open / free ---- */

int pstore_open(struct pstore **ret, const char *dir, const char *state_file, bool remove)
{
	struct pstore *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		r = -errno;
		free(p);
		return r;
	}
	p->remove = remove;
	p->state_file = strdup(state_file);
	if (!p->state_file) {
		pstore_free(p);
		return -ENOMEM;
	}
	if ((r = state_load(p)) < 0) {
		pstore_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void pstore_free(struct pstore *p)
{
	if (!p)
		return;
	if (p->dirfd >= 0)
		close(p->dirfd);
	entries_free(&p->known);
	entries_free(&p->pending);
	free(p->buf);
	free(p->state_file);
	free(p);
}

void pstore_get_stats(const struct pstore *p, struct pstore_stats *st)
{
	*st = p->st;
}

/* ---- one file ---- */

/* Type names of the kernel's enum pstore_type_id (fs/pstore/platform.c),
 * longest first where one is a prefix of another. */
static const char *const pstore_types[] = {
	"dmesg", "mce", "console", "ftrace", "rtas", "powerpc-ofw", "powerpc-common", "pmsg", "powerpc-opal",
};

/*
 * "TYPE-BACKEND-ID" with an optional ".enc.z" (fs/pstore/inode.c
 * pstore_mkfile: "%s-%s-%llu%s"). BACKEND may hold '-' or '_'
 * ("efi_pstore"); ID is the digits after the last '-'.
 */
static void parse_name(struct pfile *f)
{
	const char *n = f->name, *end, *dash;
	size_t len = strlen(n), tl = 0;
	static const char enc[] = ".enc.z";

	if (len > sizeof(enc) - 1 && strcmp(n + len - (sizeof(enc) - 1), enc) == 0) {
		f->compressed = true;
		len -= sizeof(enc) - 1;
	}
	end = n + len;
	for (size_t i = 0; i < sizeof(pstore_types) / sizeof(pstore_types[0]); i++) {
		size_t l = strlen(pstore_types[i]);
		if (len > l + 1 && memcmp(n, pstore_types[i], l) == 0 && n[l] == '-') {
			tl = l;
			break;
		}
	}
	if (tl == 0)
		return;
	dash = memrchr(n + tl + 1, '-', (size_t)(end - (n + tl + 1)));
	if (!dash || dash == n + tl + 1 || dash + 1 == end || (size_t)(end - dash - 1) >= sizeof(f->id))
		return;
	for (const char *c = dash + 1; c < end; c++)
		if (*c < '0' || *c > '9')
			return;
	memcpy(f->type, n, tl);
	f->type[tl] = '\0';
	memcpy(f->backend, n + tl + 1, (size_t)(dash - (n + tl + 1)));
	f->backend[dash - (n + tl + 1)] = '\0';
	memcpy(f->id, dash + 1, (size_t)(end - dash - 1));
	f->id[end - dash - 1] = '\0';
	f->parsed = true;
}

static int grow(struct pstore *p, size_t want)
{
	if (want <= p->buf_cap)
		return 0;
	size_t cap = p->buf_cap ? p->buf_cap : 4096;
	while (cap < want)
		cap = cap > PSTORE_FILE_MAX / 2 ? PSTORE_FILE_MAX : cap * 2;
	uint8_t *b = realloc(p->buf, cap);
	if (!b)
		return -ENOMEM;
	p->buf = b;
	p->buf_cap = cap;
	return 0;
}

/*
 * Read the file's last PSTORE_FILE_MAX bytes (all of it, normally) into
 * p->buf. The size fstat gives decides where to start; reading goes on to
 * EOF, so a file whose size was understated is still read in full up to
 * the cap, and one byte more tells whether anything was left unread.
 */
static int read_content(struct pstore *p, int fd, const struct stat *sb, struct pfile *f)
{
	uint64_t size = sb->st_size > 0 ? (uint64_t)sb->st_size : 0;
	size_t len = 0;
	int r;

	f->skipped = size > PSTORE_FILE_MAX ? size - PSTORE_FILE_MAX : 0;
	if ((r = grow(p, size - f->skipped + 1 < PSTORE_FILE_MAX ? (size_t)(size - f->skipped + 1)
								 : PSTORE_FILE_MAX)) < 0)
		return r;
	for (;;) {
		if (len == p->buf_cap) {
			if (len == PSTORE_FILE_MAX) {
				uint8_t probe;
				ssize_t n = pread(fd, &probe, 1, (off_t)(f->skipped + len));
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					return -errno;
				f->grew = n > 0;
				break;
			}
			if ((r = grow(p, len + 1)) < 0)
				return r;
		}
		ssize_t n = pread(fd, p->buf + len, p->buf_cap - len, (off_t)(f->skipped + len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	f->data = p->buf;
	f->len = len;
	f->size = f->skipped + len > size ? f->skipped + len : size;
	return 0;
}

static uint64_t mtime_usec(const struct stat *sb)
{
	if (sb->st_mtim.tv_sec < 0)
		return 0;
	return (uint64_t)sb->st_mtim.tv_sec * 1000000u + (uint64_t)sb->st_mtim.tv_nsec / 1000u;
}

/* Digits [s, e), at most max_digits (<= 19, so no overflow); -1 if not. */
static int parse_u64(const uint8_t *s, const uint8_t *e, size_t max_digits, uint64_t *out)
{
	uint64_t v = 0;

	if (s == e || (size_t)(e - s) > max_digits)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* "Reason#count Partn", the first line kmsg_dump's pstore writer puts
 * before the log (fs/pstore/platform.c pstore_dump). */
static void parse_header(struct pfile *f, const uint8_t *l, size_t n)
{
	const uint8_t *e = l + n, *hash, *sp;
	size_t rl;

	hash = memchr(l, '#', n);
	if (!hash || hash == l || (size_t)(hash - l) >= sizeof(f->reason))
		return;
	for (const uint8_t *c = l; c < hash; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')))
			return;
	sp = memchr(hash, ' ', (size_t)(e - hash));
	if (!sp || parse_u64(hash + 1, sp, 9, &f->count) < 0)
		return;
	if (e - sp < 6 || memcmp(sp + 1, "Part", 4) != 0 || parse_u64(sp + 5, e, 9, &f->part) < 0)
		return;
	rl = (size_t)(hash - l);
	memcpy(f->reason, l, rl);
	f->reason[rl] = '\0';
	f->have_hdr = true;
}

/* Severity of the dump as a whole: kmsg_dump_reason_str() names. */
static uint8_t reason_level(const struct pfile *f)
{
	static const char *const orderly[] = { "Shutdown", "Restart", "Halt", "Poweroff" };

	if (f->have_hdr)
		for (size_t i = 0; i < sizeof(orderly) / sizeof(orderly[0]); i++)
			if (strcmp(f->reason, orderly[i]) == 0)
				return LEVEL_ORDERLY;
	if (f->have_hdr || (f->parsed && strcmp(f->type, "dmesg") == 0))
		return LEVEL_CRASH;
	return LEVEL_LINE_DEFAULT;
}

static const char *content_kind(const struct pfile *f, bool text)
{
	if (f->len == 0)
		return "empty";
	if (text)
		return "text";
	return f->compressed ? "compressed" : "binary";
}

/* Fields every record of f carries; they fit FIELDS_CAP by construction. */
static int base_fields(struct pstore *p, struct pfile *f, bool text)
{
	struct record_fields *b = &f->basef;
	const char *kind = content_kind(f, text);
	int r = 0;

	*b = (struct record_fields){ .buf = f->base, .cap = sizeof(f->base) };
	r |= record_fields_add(b, "PSTORE_FILE", f->name, strlen(f->name));
	if (f->parsed) {
		r |= record_fields_add(b, "PSTORE_TYPE", f->type, strlen(f->type));
		r |= record_fields_add(b, "PSTORE_BACKEND", f->backend, strlen(f->backend));
		r |= record_fields_add(b, "PSTORE_ID", f->id, strlen(f->id));
	}
	r |= record_fields_add(b, "PSTORE_BOOT", "previous", 8);
	r |= record_fields_addf(b, "PSTORE_MTIME", "%llu", (unsigned long long)f->mtime_usec);
	r |= record_fields_addf(b, "PSTORE_SIZE", "%llu", (unsigned long long)f->size);
	r |= record_fields_add(b, "PSTORE_CONTENT", kind, strlen(kind));
	if (f->have_hdr) {
		r |= record_fields_add(b, "PSTORE_REASON", f->reason, strlen(f->reason));
		r |= record_fields_addf(b, "PSTORE_COUNT", "%llu", (unsigned long long)f->count);
		r |= record_fields_addf(b, "PSTORE_PART", "%llu", (unsigned long long)f->part);
	}
	if (p->st.state_error)
		r |= record_fields_add(b, "PSTORE_STATE", "damaged", 7);
	return r ? -ENOSPC : 0;
}

/*
 * Hand one record of f to the sink: the file's fields, then extra (a
 * pre-built field area). The first record of a file that was cut says so.
 */
static int emit(struct pstore *p, struct pfile *f, struct record *rec, const struct record_fields *extra,
		source_sink_fn sink, void *data)
{
	struct record_fields fb = { .buf = p->fbuf, .cap = sizeof(p->fbuf) };

	memcpy(p->fbuf, f->base, f->basef.len);
	fb.len = f->basef.len;
	fb.count = f->basef.count;
	if (extra && extra->len > 0) {
		if (fb.cap - fb.len < extra->len)
			return -ENOSPC;
		memcpy(p->fbuf + fb.len, extra->buf, extra->len);
		fb.len += extra->len;
		fb.count = (uint16_t)(fb.count + extra->count);
	}
	if (!f->first_done && (f->skipped > 0 || f->grew)) {
		rec->flags |= RECORD_F_TRUNCATED;
		if (f->skipped > 0 && record_fields_addf(&fb, "PSTORE_SKIPPED_BYTES", "%llu",
							 (unsigned long long)f->skipped) < 0)
			return -ENOSPC;
		if (f->grew && record_fields_add(&fb, "PSTORE_UNREAD", "tail", 4) < 0)
			return -ENOSPC;
	}
	f->first_done = true;
	rec->source = RECORD_SRC_PSTORE;
	rec->real_usec = f->mtime_usec;
	rec->fields = p->fbuf;
	rec->fields_len = fb.len;
	rec->nfields = fb.count;
	/* Lines and chunks are sized to fit; this only guards the sizes. */
	if (record_fit(rec))
		p->st.truncated++;
	p->st.records++;
	return sink(rec, data);
}

/* Whole file in chunks of raw bytes. */
static int emit_chunks(struct pstore *p, struct pfile *f, source_sink_fn sink, void *data)
{
	size_t nchunks = f->len == 0 ? 1 : (f->len + CHUNK_MAX - 1) / CHUNK_MAX;
	int count = 0;

	for (size_t i = 0; i < nchunks; i++) {
		uint8_t xb[128];
		struct record_fields x = { .buf = xb, .cap = sizeof(xb) };
		size_t off = i * CHUNK_MAX, n = f->len - off < CHUNK_MAX ? f->len - off : CHUNK_MAX;
		if (record_fields_addf(&x, "PSTORE_CHUNK", "%zu", i + 1) < 0 ||
		    record_fields_addf(&x, "PSTORE_CHUNKS", "%zu", nchunks) < 0 ||
		    record_fields_addf(&x, "PSTORE_OFFSET", "%llu", (unsigned long long)(f->skipped + off)) <
			    0)
			return -ENOSPC;
		struct record rec = {
			.level = f->level,
			.msg = f->data + off,
			.msg_len = (uint32_t)n,
		};
		int r = emit(p, f, &rec, &x, sink, data);
		if (r < 0)
			return r;
		count++;
	}
	return count;
}

/*
 * One line of the kernel's syslog-style dump (printk record_print_text):
 * "<PRI>" when the dump asked for it (kmsg_dump: yes; console: no), then
 * "[secs.usecs]" when printk.time is on, then "[ T123]" or "[ C1]" with
 * CONFIG_PRINTK_CALLER, then one space and the text. Each part is taken
 * only if it is complete; whatever is not a prefix stays in the text.
 */
static int emit_line(struct pstore *p, struct pfile *f, const uint8_t *l, size_t n, size_t lineno,
		     source_sink_fn sink, void *data)
{
	const uint8_t *s = l, *e = l + n, *c;
	uint8_t xb[128];
	struct record_fields x = { .buf = xb, .cap = sizeof(xb) };
	struct record rec = { .level = LEVEL_LINE_DEFAULT };
	uint64_t v, usec;
	bool prefix = false;

	if (s < e && *s == '<' && (c = memchr(s, '>', (size_t)(e - s))) && parse_u64(s + 1, c, 8, &v) == 0 &&
	    (v >> 3) <= UINT16_MAX) {
		rec.level = (uint8_t)(v & 7);
		rec.facility = (uint16_t)(v >> 3);
		s = c + 1;
		prefix = true;
	}
	if (s < e && *s == '[' && (c = memchr(s, ']', (size_t)(e - s)))) {
		const uint8_t *d = s + 1, *dot;
		while (d < c && *d == ' ')
			d++;
		dot = memchr(d, '.', (size_t)(c - d));
		if (dot && parse_u64(d, dot, 13, &v) == 0 && parse_u64(dot + 1, c, 9, &usec) == 0) {
			/* Six digits are microseconds; scale any other count. */
			for (size_t k = (size_t)(c - dot - 1); k < 6; k++)
				usec *= 10;
			for (size_t k = (size_t)(c - dot - 1); k > 6; k--)
				usec /= 10;
			rec.mono_usec = v * 1000000u + usec;
			s = c + 1;
			prefix = true;
			if (s < e && *s == '[' && (c = memchr(s, ']', (size_t)(e - s))) && c - s <= 16) {
				d = s + 1;
				while (d < c && *d == ' ')
					d++;
				if (d < c && (*d == 'T' || *d == 'C') && parse_u64(d + 1, c, 10, &v) == 0) {
					if (record_fields_add(&x, "PSTORE_CALLER", d, (size_t)(c - d)) < 0)
						return -ENOSPC;
					s = c + 1;
				}
			}
		}
	}
	if (prefix && s < e && *s == ' ')
		s++;
	if (record_fields_addf(&x, "PSTORE_LINE", "%zu", lineno) < 0)
		return -ENOSPC;
	rec.msg = s;
	rec.msg_len = (uint32_t)(e - s);
	return emit(p, f, &rec, &x, sink, data);
}

static int emit_lines(struct pstore *p, struct pfile *f, source_sink_fn sink, void *data)
{
	const uint8_t *s = f->data, *end = f->data + f->len;
	size_t lineno = 0;
	int count = 0;

	while (s < end) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		int r = 0;
		lineno++;
		if (lineno == 1 && f->have_hdr) {
			struct record rec = { .level = f->level, .msg = s, .msg_len = (uint32_t)n };
			uint8_t xb[32];
			struct record_fields x = { .buf = xb, .cap = sizeof(xb) };
			if (record_fields_add(&x, "PSTORE_LINE", "1", 1) < 0)
				return -ENOSPC;
			r = emit(p, f, &rec, &x, sink, data);
		} else if (n > 0) {
			r = emit_line(p, f, s, n, lineno, sink, data);
		} else {
			s = nl + 1;
			continue;
		}
		if (r < 0)
			return r;
		count++;
		s = nl ? nl + 1 : end;
	}
	return count;
}

/* Lines only if every line fits and nothing looks binary. */
static bool is_text(const struct pfile *f)
{
	const uint8_t *s = f->data, *end = f->data + f->len;

	if (f->compressed || f->len == 0 || memchr(f->data, 0, f->len))
		return false;
	while (s < end) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (n > PSTORE_LINE_MAX)
			return false;
		s += n + 1;
	}
	return true;
}

static int emit_error(struct pstore *p, const char *name, uint64_t mtime, int err, source_sink_fn sink,
		      void *data)
{
	char msg[NAME_CAP + 128];
	const char *why = strerror(-err);
	struct record_fields fb = { .buf = p->fbuf, .cap = sizeof(p->fbuf) };

	int n = snprintf(msg, sizeof(msg), "pstore file %s: read failed: %s", name, why);
	if (record_fields_add(&fb, "PSTORE_FILE", name, strlen(name)) < 0 ||
	    record_fields_add(&fb, "PSTORE_BOOT", "previous", 8) < 0 ||
	    record_fields_add(&fb, "PSTORE_ERROR", why, strlen(why)) < 0)
		return -ENOSPC;
	struct record rec = {
		.source = RECORD_SRC_PSTORE,
		.level = 3,
		.real_usec = mtime,
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)(n < 0			 ? 0
				      : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1
								 : (size_t)n),
		.nfields = fb.count,
		.fields = p->fbuf,
		.fields_len = fb.len,
	};
	p->st.errors++;
	p->st.records++;
	return sink(&rec, data);
}

/* Returns records handed over (0 when skipped), or -errno from the sink. */
static int scan_file(struct pstore *p, const char *name, source_sink_fn sink, void *data)
{
	struct pfile *f;
	struct stat sb;
	int fd, r;

	if (fstatat(p->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* gone since readdir: erased, nothing to read */
		return emit_error(p, name, 0, -errno, sink, data);
	}
	if (!S_ISREG(sb.st_mode)) {
		p->st.ignored++;
		return 0;
	}
	p->st.files++;
	fd = openat(p->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return emit_error(p, name, mtime_usec(&sb), -errno, sink, data);
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->name = name;
	f->mtime_usec = mtime_usec(&sb);
	r = fstat(fd, &sb) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(sb.st_mode))
		r = -EINVAL; /* replaced since fstatat */
	if (r == 0)
		r = read_content(p, fd, &sb, f);
	close(fd);
	if (r < 0) {
		r = r == -ENOMEM ? r : emit_error(p, name, f->mtime_usec, r, sink, data);
		free(f);
		return r;
	}

	struct entry x = { .size = f->size, .mtime_usec = f->mtime_usec };
	crypto_generichash(x.hash, HASH_LEN, f->data, f->len, NULL, 0);
	snprintf(x.name, sizeof(x.name), "%s", name);
	struct entry *k = entries_find(&p->known, name, f->size, x.hash);
	if (k) {
		k->seen = true;
		p->st.skipped++;
		free(f);
		return 0;
	}

	parse_name(f);
	bool text = is_text(f);
	if (text) {
		const uint8_t *nl = memchr(f->data, '\n', f->len);
		parse_header(f, f->data, nl ? (size_t)(nl - f->data) : f->len);
	}
	f->level = reason_level(f);
	if (f->skipped > 0 || f->grew)
		p->st.truncated++;
	if (!text)
		p->st.binary += f->len > 0;
	r = base_fields(p, f, text);
	if (r == 0)
		r = text ? emit_lines(p, f, sink, data) : emit_chunks(p, f, sink, data);
	if (r >= 0) {
		int e = entries_push(&p->pending, &x);
		if (e < 0)
			r = e;
		else
			p->st.shipped++;
	}
	free(f);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir other than "." and "..", sorted. */
static int list_dir(struct pstore *p, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	fd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			char **nv = realloc(v, c * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = c;
		}
		if (!(v[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0) {
		while (n > 0)
			free(v[--n]);
		free(v);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), name_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

int pstore_scan(struct pstore *p, source_sink_fn sink, void *data)
{
	char **names = NULL;
	size_t n = 0, i;
	int r, total = 0;

	p->pending.n = 0;
	for (i = 0; i < p->known.n; i++)
		p->known.v[i].seen = false;
	if ((r = list_dir(p, &names, &n)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		r = scan_file(p, names[i], sink, data);
		if (r < 0)
			break;
		total = r > INT_MAX - total ? INT_MAX : total + r;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r < 0 ? r : total;
}

/* ---- commit ---- */

static bool in_pending(const struct pstore *p, const char *name)
{
	for (size_t i = 0; i < p->pending.n; i++)
		if (strcmp(p->pending.v[i].name, name) == 0)
			return true;
	return false;
}

static void remove_file(struct pstore *p, const char *name)
{
	if (unlinkat(p->dirfd, name, 0) == 0) {
		p->st.removed++;
	} else if (errno != ENOENT) {
		p->st.remove_failed++;
		p->st.remove_error = -errno;
	}
}

/*
 * New state: the entries of files present now (skipped or just shipped),
 * plus the most recent PSTORE_STATE_MAX - that of those not present (a
 * pstore that is not mounted at one start must not make the next start
 * ship everything again). An entry whose name now holds other content is
 * dropped: that content is gone for good.
 */
int pstore_commit(struct pstore *p)
{
	struct entries next = { 0 };
	size_t present = 0, unseen_keep, unseen = 0, i;
	int r = 0;

	for (i = 0; i < p->known.n; i++)
		present += p->known.v[i].seen;
	present += p->pending.n;
	unseen_keep = present >= PSTORE_STATE_MAX ? 0 : PSTORE_STATE_MAX - present;
	for (i = 0; i < p->known.n; i++)
		if (!p->known.v[i].seen && !in_pending(p, p->known.v[i].name))
			unseen++;

	/* Oldest first, as in the file: skip the oldest unseen beyond the cap. */
	for (i = 0; r == 0 && i < p->known.n; i++) {
		const struct entry *k = &p->known.v[i];
		if (!k->seen) {
			if (in_pending(p, k->name))
				continue;
			if (unseen > unseen_keep) {
				unseen--;
				continue;
			}
		}
		r = entries_push(&next, k);
	}
	for (i = 0; r == 0 && i < p->pending.n; i++) {
		r = entries_push(&next, &p->pending.v[i]);
		if (r == 0)
			next.v[next.n - 1].seen = true;
	}
	if (r == 0)
		r = state_save(p, &next);
	if (r < 0) {
		entries_free(&next);
		return r;
	}
	p->st.committed += p->pending.n;
	entries_free(&p->known);
	p->known = next;
	p->pending.n = 0;
	if (p->remove)
		for (i = 0; i < p->known.n; i++)
			if (p->known.v[i].seen)
				remove_file(p, p->known.v[i].name);
	return 0;
}
