/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timestamp.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MIN (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)

uint64_t timestamp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

void timestamp_format(char *buf, size_t cap, uint64_t usec, enum timestamp_style style, bool utc)
{
	time_t secs = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;
	if (!(utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm))) {
		snprintf(buf, cap, "%" PRIu64, usec);
		return;
	}
	char b[64];
	size_t n = 0;
	switch (style) {
	case TS_SHORT:
		n = strftime(b, sizeof(b), "%b %d %H:%M:%S", &tm);
		break;
	case TS_PRECISE:
		n = strftime(b, sizeof(b), "%b %d %H:%M:%S", &tm);
		if (n)
			n += (size_t)snprintf(b + n, sizeof(b) - n, ".%06u", (unsigned)(usec % USEC_PER_SEC));
		break;
	case TS_ISO:
		n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S%z", &tm);
		break;
	case TS_FULL:
		/* gmtime's zone is "GMT"; journalctl says UTC. */
		n = strftime(b, sizeof(b), utc ? "%a %Y-%m-%d %H:%M:%S UTC" : "%a %Y-%m-%d %H:%M:%S %Z", &tm);
		break;
	}
	if (n == 0 || n >= sizeof(b))
		snprintf(buf, cap, "%" PRIu64, usec);
	else
		snprintf(buf, cap, "%s", b);
}

void timespan_format(char *buf, size_t cap, int64_t usec)
{
	static const struct {
		const char *unit;
		uint64_t usec;
	} units[] = { { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MIN } };
	size_t n = 0;
	if (cap == 0)
		return;
	buf[0] = '\0';
	uint64_t t = usec < 0 ? (uint64_t)0 - (uint64_t)usec : (uint64_t)usec;
	t = (t + 500) / 1000 * 1000; /* millisecond accuracy */
	if (usec < 0 && t > 0)
		n += (size_t)snprintf(buf + n, cap - n, "-");
	if (t == 0) {
		snprintf(buf + n, cap - n, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && n < cap; i++) {
		if (t < units[i].usec)
			continue;
		n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64 "%s", n && buf[n - 1] != '-' ? " " : "",
				      t / units[i].usec, units[i].unit);
		t %= units[i].usec;
	}
	if (t == 0 || n >= cap)
		return;
	const char *sep = n && buf[n - 1] != '-' ? " " : "";
	if (t < USEC_PER_SEC) {
		snprintf(buf + n, cap - n, "%s%" PRIu64 "ms", sep, t / 1000);
		return;
	}
	unsigned ms = (unsigned)(t % USEC_PER_SEC / 1000);
	/* The milliseconds without trailing zeros: 500 ".5", 50 ".05", 123 ".123".
	 * Dropped from the number, not cut from the string: nothing is indexed. */
	char frac[8] = "";
	if (ms) {
		int width = 3;
		while (ms % 10 == 0) {
			ms /= 10;
			width--;
		}
		snprintf(frac, sizeof(frac), ".%0*u", width, ms);
	}
	snprintf(buf + n, cap - n, "%s%" PRIu64 "%ss", sep, t / USEC_PER_SEC, frac);
}

/* ---- parsing ---- */

static const struct {
	const char *name;
	uint64_t usec;
} span_units[] = {
	{ "usec", 1 },
	{ "us", 1 },
	{ "\xc2\xb5s", 1 }, /* µs, MICRO SIGN */
	{ "\xce\xbcs", 1 }, /* μs, GREEK SMALL LETTER MU */
	{ "msec", 1000 },
	{ "ms", 1000 },
	{ "seconds", USEC_PER_SEC },
	{ "second", USEC_PER_SEC },
	{ "sec", USEC_PER_SEC },
	{ "s", USEC_PER_SEC },
	{ "minutes", USEC_PER_MIN },
	{ "minute", USEC_PER_MIN },
	{ "min", USEC_PER_MIN },
	{ "m", USEC_PER_MIN },
	{ "hours", USEC_PER_HOUR },
	{ "hour", USEC_PER_HOUR },
	{ "hr", USEC_PER_HOUR },
	{ "h", USEC_PER_HOUR },
	{ "days", USEC_PER_DAY },
	{ "day", USEC_PER_DAY },
	{ "d", USEC_PER_DAY },
	{ "weeks", 7 * USEC_PER_DAY },
	{ "week", 7 * USEC_PER_DAY },
	{ "w", 7 * USEC_PER_DAY },
	{ "months", 2629800 * USEC_PER_SEC }, /* 30.44 days, as systemd */
	{ "month", 2629800 * USEC_PER_SEC },
	{ "M", 2629800 * USEC_PER_SEC },
	{ "years", 31557600 * USEC_PER_SEC }, /* 365.25 days */
	{ "year", 31557600 * USEC_PER_SEC },
	{ "y", 31557600 * USEC_PER_SEC },
};

/* "1h 30min", "1.5h", "90" (seconds): the whole string. */
static int parse_span(const char *s, uint64_t *ret)
{
	double total = 0;
	bool any = false;
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -EINVAL;
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || errno || v < 0)
			return -EINVAL;
		s = end;
		while (*s == ' ')
			s++;
		const char *u = s;
		while (*s && !isdigit((unsigned char)*s) && *s != ' ' && *s != '.')
			s++;
		size_t ulen = (size_t)(s - u);
		uint64_t mult = USEC_PER_SEC;
		if (ulen) {
			size_t i;
			for (i = 0; i < sizeof(span_units) / sizeof(span_units[0]); i++)
				if (strlen(span_units[i].name) == ulen &&
				    memcmp(span_units[i].name, u, ulen) == 0)
					break;
			if (i == sizeof(span_units) / sizeof(span_units[0]))
				return -EINVAL;
			mult = span_units[i].usec;
		}
		total += v * (double)mult;
		any = true;
	}
	if (!any || total > 1e18)
		return -EINVAL;
	*ret = (uint64_t)total;
	return 0;
}

/* Digits, exactly n of them (n > 0) or 1..n when !exact. */
static int digits(const char **s, int n, bool exact, int *ret)
{
	int v = 0, k = 0;
	while (k < n && isdigit((unsigned char)(*s)[k])) {
		v = v * 10 + ((*s)[k] - '0');
		k++;
	}
	if (k == 0 || (exact && k != n))
		return -EINVAL;
	*s += k;
	*ret = v;
	return 0;
}

static const char *skip_weekday(const char *s)
{
	static const char *const days[] = { "Monday", "Tuesday",  "Wednesday", "Thursday",
					    "Friday", "Saturday", "Sunday" };
	for (size_t i = 0; i < 7; i++) {
		size_t full = strlen(days[i]);
		if (strncmp(s, days[i], full) == 0 && s[full] == ' ')
			return s + full + 1;
		if (strncmp(s, days[i], 3) == 0 && s[3] == ' ')
			return s + 4;
	}
	return s;
}

/* "HH:MM[:SS[.frac]]" */
static int parse_clock(const char **s, struct tm *tm, uint64_t *usec)
{
	int v;
	if (digits(s, 2, false, &v) < 0 || v > 23)
		return -EINVAL;
	tm->tm_hour = v;
	if (**s != ':')
		return -EINVAL;
	(*s)++;
	if (digits(s, 2, true, &v) < 0 || v > 59)
		return -EINVAL;
	tm->tm_min = v;
	tm->tm_sec = 0;
	*usec = 0;
	if (**s != ':')
		return 0;
	(*s)++;
	if (digits(s, 2, true, &v) < 0 || v > 60)
		return -EINVAL;
	tm->tm_sec = v;
	if (**s != '.')
		return 0;
	(*s)++;
	uint64_t frac = 0, scale = USEC_PER_SEC;
	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	while (isdigit((unsigned char)**s)) {
		if (scale > 1) {
			scale /= 10;
			frac += (uint64_t)(**s - '0') * scale;
		}
		(*s)++;
	}
	*usec = frac;
	return 0;
}

static int make_time(struct tm *tm, bool utc, uint64_t usec, uint64_t *ret)
{
	struct tm want = *tm;
	tm->tm_isdst = -1;
	time_t t = utc ? timegm(tm) : mktime(tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	/* mktime normalises 2024-02-30 to March 1st: that is a bad date. */
	if (tm->tm_year != want.tm_year || tm->tm_mon != want.tm_mon || tm->tm_mday != want.tm_mday)
		return -EINVAL;
	*ret = (uint64_t)t * USEC_PER_SEC + usec;
	return 0;
}

static int parse_absolute(const char *s, uint64_t now, uint64_t *ret)
{
	struct tm tm;
	uint64_t usec = 0;
	bool utc = false;
	size_t len = strlen(s);
	char buf[128];
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	if (len > 4 && strcmp(buf + len - 4, " UTC") == 0) {
		buf[len - 4] = '\0';
		utc = true;
	} else if (len > 1 && buf[len - 1] == 'Z') {
		buf[len - 1] = '\0';
		utc = true;
	}
	const char *p = skip_weekday(buf);
	time_t t = (time_t)(now / USEC_PER_SEC);
	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
		return -EINVAL;
	int v;
	const char *q = p;
	if (digits(&q, 4, true, &v) == 0 && *q == '-') {
		tm.tm_year = v - 1900;
		q++;
		if (digits(&q, 2, true, &v) < 0 || v < 1 || v > 12 || *q != '-')
			return -EINVAL;
		tm.tm_mon = v - 1;
		q++;
		if (digits(&q, 2, true, &v) < 0 || v < 1 || v > 31)
			return -EINVAL;
		tm.tm_mday = v;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		if (*q == ' ' || *q == 'T') {
			q++;
			if (parse_clock(&q, &tm, &usec) < 0)
				return -EINVAL;
		}
	} else {
		q = p;
		if (parse_clock(&q, &tm, &usec) < 0)
			return -EINVAL;
	}
	if (*q != '\0')
		return -EINVAL;
	return make_time(&tm, utc, usec, ret);
}

/* Local midnight of today + days. */
static int midnight(uint64_t now, int days, uint64_t *ret)
{
	time_t t = (time_t)(now / USEC_PER_SEC);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return -EINVAL;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday += days;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*ret = (uint64_t)t * USEC_PER_SEC;
	return 0;
}

int timestamp_parse(const char *s, uint64_t now, uint64_t *ret)
{
	uint64_t v, span;
	int r;
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	char buf[128];
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (strcmp(buf, "now") == 0) {
		*ret = now;
		return 0;
	}
	if (strcmp(buf, "today") == 0)
		r = midnight(now, 0, &v);
	else if (strcmp(buf, "yesterday") == 0)
		r = midnight(now, -1, &v);
	else if (strcmp(buf, "tomorrow") == 0)
		r = midnight(now, 1, &v);
	else if (buf[0] == '@') {
		char *end;
		errno = 0;
		double secs = strtod(buf + 1, &end);
		if (end == buf + 1 || *end || errno || secs < 0 || secs > 1e12 ||
		    !isdigit((unsigned char)buf[1]))
			return -EINVAL;
		v = (uint64_t)(secs * 1e6 + 0.5);
		r = 0;
	} else if (buf[0] == '-' || buf[0] == '+') {
		if ((r = parse_span(buf + 1, &span)) < 0)
			return r;
		if (buf[0] == '-' && span > now)
			return -EINVAL;
		v = buf[0] == '-' ? now - span : now + span;
	} else if (len > 4 && strcmp(buf + len - 4, " ago") == 0) {
		buf[len - 4] = '\0';
		if ((r = parse_span(buf, &span)) < 0)
			return r;
		if (span > now)
			return -EINVAL;
		v = now - span;
	} else {
		r = parse_absolute(buf, now, &v);
	}
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}
