/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A stored record seen as a journal entry: the journal-style fields that
 * -o json, json-pretty and export write and that FIELD=VALUE matches test.
 *
 * In this order:
 *   __CURSOR (cursor.h), __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP,
 *   _BOOT_ID (32 hex digits), _HOSTNAME (the collector's name for the
 *   host, never the agent's claim), PRIORITY, SYSLOG_FACILITY,
 *   SYSLOG_IDENTIFIER (kernel, kmsg-shipper or kmsg-collector; journal
 *   records bring their own; a kmsg line of another facility than kern
 *   its "ident[pid]:" prefix's, with SYSLOG_PID, view_kmsg_ident),
 *   _TRANSPORT=kernel and _SOURCE_MONOTONIC_TIMESTAMP (kernel records),
 *   KMSG_SOURCE (kmsg, journal, pstore, agent, collector), KMSG_EVENT
 *   (gap, start, stop, boot, heartbeat, malformed, session-start,
 *   session-end, or the number; events only), KMSG_RECORD_FLAGS (cont,
 *   truncated, malformed, fragment; when any), KMSG_SEQ (kernel records),
 *   KMSG_STREAM_SEQ, KMSG_STREAM_ID, KMSG_RECEIVED_TIMESTAMP,
 *   KMSG_STORED_EARLY=1 (a record the collector stored ahead of its place,
 *   docs/STORE.md; only those), then the record's own fields, then
 *   MESSAGE. KMSG_MACHINE_ID_CLAIMED is reserved too (the export's,
 *   output.c).
 *
 * The record's own fields are named so that a journal accepts them:
 *   - SUBSYSTEM and DEVICE of kernel records become _KERNEL_SUBSYSTEM and
 *     _KERNEL_DEVICE, as journald names them;
 *   - other keys: a-z upper-cased, anything but A-Z 0-9 _ replaced by _,
 *     cut to 64 bytes, KMSG_ put before a key that would start with a
 *     digit, and KMSG_FIELD before one that starts with _ (except in
 *     journal records, whose trusted fields come from journald);
 *   - a field without '=' or with an empty key: KMSG_RAW_FIELD, the whole
 *     field as its value;
 *   - a field whose name is one of the above and whose value differs
 *     from it: KMSG_RECORD_ and the name without leading underscores
 *     (a journal record's own _HOSTNAME becomes KMSG_RECORD_HOSTNAME);
 *     with the same value it is left out.
 * Every field keeps the record's name too (raw_key), so that a match on
 * SUBSYSTEM=usb finds _KERNEL_SUBSYSTEM=usb, except where the record's
 * name is one of the names above (a "__" name, _BOOT_ID, _HOSTNAME,
 * PRIORITY, MESSAGE, KMSG_STREAM_ID, ...): a match on those sees only
 * the value given here, never an agent's field of that name.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "journal.h"

struct view_field {
	const char *name;
	const uint8_t *val;
	size_t len;
	const uint8_t *raw_key; /* the record's own key, NULL for fields made here */
	size_t raw_key_len;
};

struct view;

__attribute__((warn_unused_result)) int view_new(struct view **ret);
void view_free(struct view *v);

/*
 * Build the fields of entry e of host (with __CURSOR when with_cursor).
 * Valid until the next call and while e is. Returns 0 or -ENOMEM.
 */
__attribute__((warn_unused_result)) int view_build(struct view *v, const char *host,
						   const struct journal_entry *e, bool with_cursor);
const struct view_field *view_fields(const struct view *v, size_t *ret_n);
/* True when some name is given more than once (json writes such a field as an array). */
bool view_has_duplicates(const struct view *v);
#define VIEW_NONE SIZE_MAX
/* The next field after field i with its name, or VIEW_NONE. */
size_t view_next_same(const struct view *v, size_t i);
/* Whether a field before field i has its name. */
bool view_repeat(const struct view *v, size_t i);
struct json;
/*
 * The built fields as the members of one JSON object (kmsgctl -o json;
 * forward.c): a name given more than once becomes one member with an
 * array of its values. wanted (when not NULL) leaves out names for
 * which it returns false. The caller begins and ends the object.
 */
void view_json_members(const struct view *v, struct json *j, bool (*wanted)(const char *name, void *arg),
		       void *arg);

/*
 * What journalctl's short format shows before the colon: the identifier
 * (never NULL) and the pid (NULL when none), pointing into r or static.
 * For a journal record, as journalctl 252 picks them: SYSLOG_IDENTIFIER,
 * else _COMM, else "unknown"; _PID, else SYSLOG_PID, else none; a value
 * counts only when view_printable.
 */
void view_identifier(const struct record *r, const uint8_t **id, size_t *idlen, const uint8_t **pid,
		     size_t *pidlen);

/* Whether id is view_identifier's "unknown" (no identifier at all). */
bool view_identifier_unknown(const uint8_t *id);

/*
 * Whether an agent's value may stand in a short line as it is: shorter
 * than VIEW_PRINT_MAX bytes (journalctl's limit) and printable UTF-8
 * without newline (text_printable). journalctl 252 allows a newline here,
 * which lets an identifier forge a whole line; kmsgctl does not.
 */
#define VIEW_PRINT_MAX 300
bool view_printable(const uint8_t *p, size_t len);

/*
 * A kmsg line of another facility than kern, as journald reads it
 * (journald-kmsg.c, syslog_parse_identifier): its "IDENT[PID]: " prefix
 * gives SYSLOG_IDENTIFIER and SYSLOG_PID, and MESSAGE is the rest. True
 * and the parts (pid NULL when none) when r is such a line with such a
 * prefix.
 */
bool view_kmsg_ident(const struct record *r, const uint8_t **id, size_t *idlen, const uint8_t **pid,
		     size_t *pidlen, const uint8_t **msg, size_t *msglen);
/* The message as MESSAGE shows it: without that prefix (view_kmsg_ident). */
void view_message(const struct record *r, const uint8_t **msg, size_t *len);

const char *view_source_name(uint8_t source);
/* NULL for an event number without a name. */
const char *view_event_name(uint16_t event);
