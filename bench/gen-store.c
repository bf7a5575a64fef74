/* SPDX-License-Identifier: ISC */
/*
 * gen-store: write a host's journal through the store API (store.h), as
 * the collector would, for benchmarks and tests of kmsgctl and --verify.
 *
 *   gen-store [-s SEGMENT_SIZE] [-b BATCH] STATE_DIR HOST COUNT
 *
 * COUNT kernel records of one stream (seq 0..COUNT-1), committed every
 * BATCH records (default 1000; one fsync each). Levels as a busy kernel
 * log has them: per 1000 records 1 err, 10 warning, 50 notice, the rest
 * info (every 7th of those debug). Realtime grows by 1 ms per record from
 * 2026-01-01; a new boot every 1,000,000 records. Messages are 40 to 120
 * bytes, some with SUBSYSTEM/DEVICE fields. Prints what it wrote and the
 * rate to stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint8_t level_of(uint64_t i)
{
	uint64_t k = (i * 7919) % 1000;
	if (k == 0)
		return 3;
	if (k <= 10)
		return 4;
	if (k <= 60)
		return 5;
	return i % 7 == 0 ? 7 : 6;
}

int main(int argc, char **argv)
{
	unsigned long long seg = STORE_SEGMENT_SIZE_DEFAULT, batch = 1000;
	int c;
	while ((c = getopt(argc, argv, "s:b:")) != -1) {
		if (c == 's')
			seg = strtoull(optarg, NULL, 0);
		else if (c == 'b')
			batch = strtoull(optarg, NULL, 0);
		else
			goto usage;
	}
	if (argc - optind != 3 || batch == 0)
		goto usage;
	const char *dir = argv[optind], *host = argv[optind + 1];
	unsigned long long count = strtoull(argv[optind + 2], NULL, 0);
	struct store *s;
	struct store_host *h;
	long long cut;
	int r = store_open(&s, dir);
	if (r < 0) {
		fprintf(stderr, "gen-store: %s: %s\n", dir, strerror(-r));
		return 1;
	}
	struct store_limits lim = { .segment_size = seg };
	store_set_limits(s, &lim);
	if ((r = store_host(s, host, &h, &cut)) < 0) {
		fprintf(stderr, "gen-store: host %s: %s\n", host, strerror(-r));
		return 1;
	}
	uint8_t sid[STORE_STREAM_ID_LEN];
	for (int i = 0; i < STORE_STREAM_ID_LEN; i++)
		sid[i] = (uint8_t)(0xb0 + i);
	uint64_t first = store_stream_hwm(h, sid);
	if ((r = store_stream_counter(h, sid, (uint64_t)time(NULL) * 1000 + first % 1000 + 1)) < 0) {
		fprintf(stderr, "gen-store: stream counter: %s\n", strerror(-r));
		return 1;
	}
	uint64_t t0 = mono_ns();
	uint8_t enc[RECORD_HDR_LEN + 512], fbuf[128];
	char msg[160];
	for (uint64_t i = first; i < first + count; i++) {
		struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
		struct record rec = {
			.source = RECORD_SRC_KMSG,
			.level = level_of(i),
			.facility = 0,
			.stream_seq = i,
			.kmsg_seq = i % 1000000,
			.mono_usec = (i % 1000000) * 1000,
			.real_usec = UINT64_C(1767225600000000) + i * 1000,
		};
		uint64_t boot = i / 1000000;
		for (int k = 0; k < RECORD_BOOT_ID_LEN; k++)
			rec.boot_id[k] = (uint8_t)(0x40 + k + boot * 3);
		int n = snprintf(
			msg, sizeof(msg), "gen-store record %llu: %.*s", (unsigned long long)i,
			(int)(20 + (i * 13) % 80),
			"usb 1-1: new high-speed USB device number 2 using xhci_hcd and more text here");
		rec.msg = (const uint8_t *)msg;
		rec.msg_len = (uint32_t)n;
		if (i % 5 == 0 && record_fields_add(&fb, "SUBSYSTEM", "usb", 3) == 0 &&
		    record_fields_add(&fb, "DEVICE", "c189:1", 6) == 0) {
			rec.nfields = fb.count;
			rec.fields = fb.buf;
			rec.fields_len = fb.len;
		}
		int len = record_encode(&rec, enc, sizeof(enc));
		if (len < 0 || (r = store_append(h, sid, &rec, enc, (size_t)len, rec.real_usec + 5000)) < 0) {
			fprintf(stderr, "gen-store: append %llu: %s\n", (unsigned long long)i,
				strerror(len < 0 ? -len : -r));
			return 1;
		}
		if ((i + 1 - first) % batch == 0 && (r = store_commit(s)) < 0) {
			fprintf(stderr, "gen-store: commit: %s\n", strerror(-r));
			return 1;
		}
	}
	if ((r = store_commit(s)) < 0) {
		fprintf(stderr, "gen-store: commit: %s\n", strerror(-r));
		return 1;
	}
	store_free(s);
	double sec = (double)(mono_ns() - t0) / 1e9;
	printf("gen-store: %llu records of host %s (stream seq %llu-%llu) in %.2f s, %.0f records/s\n", count,
	       host, (unsigned long long)first, (unsigned long long)(first + count - 1), sec,
	       sec > 0 ? (double)count / sec : 0.0);
	return 0;
usage:
	fprintf(stderr, "usage: gen-store [-s SEGMENT_SIZE] [-b BATCH] STATE_DIR HOST COUNT\n");
	return 2;
}
