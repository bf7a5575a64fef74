/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Logging for the daemons and tools. src/common never logs above debug:
 * errors are returned and logged once by whoever decides what to do.
 * Output goes to stderr ("ident: message") or syslog(3).
 */

#include <stdbool.h>
#include <syslog.h>

void log_open(const char *ident, bool to_stderr);
void log_set_level(int max_level); /* LOG_ERR .. LOG_DEBUG; default LOG_INFO */
int log_get_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Names accepted for a "log_level" setting (NULL-terminated, for cfg_enum),
 * and the syslog level for an index into it. */
extern const char *const log_level_names[];
int log_level_from_index(int i);
