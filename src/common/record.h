/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A record: one kernel message, journal entry, pstore dump, agent or collector event,
 * with everything its source gave. The same binary encoding is used in
 * batches on the wire, in the agent's spool and in the collector's store.
 *
 * Encoding (big-endian), RECORD_HDR_LEN = 64 bytes of header:
 *   off len
 *     0   1  version            = RECORD_VERSION
 *     1   1  source             enum record_source
 *     2   1  level              0 (emerg) .. 7 (debug)
 *     3   1  flags              enum record_flag bits
 *     4   2  facility           PRI >> 3, as the kernel gave it; RECORD_FACILITY_EVENT
 *                               for agent and collector events
 *     6   2  event              enum record_event (0 unless source = AGENT or COLLECTOR)
 *     8   8  stream seq         dense per stream, assigned by the agent
 *    16   8  kmsg seq           kernel sequence number (0 if none)
 *    24   8  monotonic usec     as the kernel gave it (CLOCK_MONOTONIC)
 *    32   8  realtime usec      wall clock, microseconds since the epoch
 *    40  16  boot id            /proc/sys/kernel/random/boot_id, raw bytes
 *    56   4  message length M
 *    60   2  field count F
 *    62   2  reserved           = 0
 *    64   M  message bytes      (unescaped; may hold any byte)
 *   then F times: u16 length L, then L bytes "KEY=value" (value may be binary)
 * Total length <= RECORD_MAX.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define RECORD_VERSION 1
#define RECORD_HDR_LEN 64
#define RECORD_BOOT_ID_LEN 16
/* Fits a batch of one in a single transport message. */
#define RECORD_MAX 65000

enum record_source {
	RECORD_SRC_KMSG = 1,
	RECORD_SRC_JOURNAL = 2,
	RECORD_SRC_PSTORE = 3,
	RECORD_SRC_AGENT = 4,
	RECORD_SRC_COLLECTOR = 5,
};

/* Facility of agent and collector events: LOG_SYSLOG >> 3, "messages
 * generated internally by syslogd", the nearest standard meaning. */
#define RECORD_FACILITY_EVENT 5

enum record_flag {
	RECORD_F_CONT = 1 << 0,	     /* merged from continuation fragments */
	RECORD_F_TRUNCATED = 1 << 1, /* message or fields cut to fit */
	RECORD_F_MALFORMED = 1 << 2, /* source bytes did not parse; message = raw bytes */
	RECORD_F_FRAGMENT = 1 << 3,  /* kmsg flag 'c' or '+': a fragment not yet merged */
};

enum record_event {
	RECORD_EV_NONE = 0,
	/* Records that are missing. Fields: GAP_CAUSE, GAP_COUNT, and the
	 * range: GAP_FIRST/GAP_LAST in kernel (kmsg) sequence numbers, or
	 * GAP_FIRST_STREAM_SEQ/GAP_LAST_STREAM_SEQ in stream seqs. */
	RECORD_EV_GAP = 1,
	RECORD_EV_START = 2,	 /* agent started: AGENT_VERSION */
	RECORD_EV_STOP = 3,	 /* agent stopping */
	RECORD_EV_BOOT = 4,	 /* agent's first start in a boot: KERNEL_RELEASE, MACHINE_ID, HOSTNAME */
	RECORD_EV_HEARTBEAT = 5, /* reserved */
	RECORD_EV_MALFORMED = 6, /* a source line that did not parse; message = raw bytes */
	/* Collector events (source COLLECTOR), stored in the host's journal: */
	RECORD_EV_SESSION_START = 7, /* PEER, CLAIMED_HOSTNAME, CLAIMED_MACHINE_ID, RESUME_STREAM_SEQ */
	RECORD_EV_SESSION_END = 8,   /* PEER, END_REASON */
	/* Handshakes with this host's key refused after the key was known
	 * (replayed counter, no key confirmation): PEER and REJECT_REASON of
	 * the latest, REJECTED_COUNT since the previous such event (at most
	 * one per host per STORE_REJECT_EVENT_USEC; the rest are counted). */
	RECORD_EV_HANDSHAKE_REJECTED = 9,
};

/*
 * In-memory view of a record. msg and fields point into a buffer owned by
 * the caller (the decode input or the parser's scratch); nothing is copied.
 * fields is the encoded field area: F times (u16 BE length, bytes).
 */
struct record {
	uint8_t source;
	uint8_t level;
	uint8_t flags;
	uint16_t facility;
	uint16_t event;
	uint64_t stream_seq;
	uint64_t kmsg_seq;
	uint64_t mono_usec;
	uint64_t real_usec;
	uint8_t boot_id[RECORD_BOOT_ID_LEN];
	const uint8_t *msg;
	uint32_t msg_len;
	uint16_t nfields;
	const uint8_t *fields;
	size_t fields_len;
};

/* Encoded size of rec. */
size_t record_encoded_len(const struct record *rec);

/*
 * Encode rec into out. Returns the length written, -ENOSPC if cap is too
 * small, -EMSGSIZE if the record exceeds RECORD_MAX.
 */
__attribute__((warn_unused_result)) int record_encode(const struct record *rec, uint8_t *out, size_t cap);

/*
 * Decode exactly len bytes. Every length is checked against len; trailing
 * bytes, a bad version, a field count that does not match the field area,
 * or an out-of-range level/source are -EBADMSG. On success rec points into
 * buf. ret_rec is untouched on failure.
 */
__attribute__((warn_unused_result)) int record_decode(const uint8_t *buf, size_t len, struct record *ret_rec);

/* Iterate the fields: *off starts at 0. Returns 1 and sets *f and *flen, or 0 at the end. */
int record_field_next(const struct record *rec, size_t *off, const uint8_t **f, size_t *flen);

/*
 * Find field KEY (without '='). Returns 1 and the value, or 0.
 */
int record_field_get(const struct record *rec, const char *key, const uint8_t **val, size_t *vlen);

/*
 * Field builder: appends "KEY=value" entries to a caller buffer.
 * Returns 0 or -ENOSPC (nothing appended).
 */
struct record_fields {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint16_t count;
};
int record_fields_add(struct record_fields *fb, const char *key, const void *val, size_t vlen);

/*
 * Make rec fit RECORD_MAX: cut the message first, then drop fields from
 * the end, and set RECORD_F_TRUNCATED if anything was cut. Returns 1 if
 * it cut, 0 if it already fitted.
 */
int record_fit(struct record *rec);
int record_fields_addf(struct record_fields *fb, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
