/* SPDX-License-Identifier: ISC */
/*
 * Test helper: a JetStream stream for the fleet tests, through libnats.
 *
 *   nats-stream URL create STREAM SUBJECT REPLICAS
 *       create the stream (file storage, duplicate window 1 h); retried
 *       for up to 30 s while the cluster elects its leaders
 *   nats-stream URL dump STREAM
 *       every message, one line each: Nats-Msg-Id, TAB, subject, TAB,
 *       Kmsg-Origin, TAB, the message (kmsgctl's JSON)
 *   nats-stream URL lag STREAM SAMPLES
 *       for bench/run: "msgs N checkpoints C span_s S lag_ms P50 P99 MAX":
 *       the stream's messages, those of them on kmsg.$checkpoint.>, the
 *       time between its first and last one's arrival, and
 *       of SAMPLES records spread evenly over it, the time from the
 *       collector receiving each (KMSG_RECEIVED_TIMESTAMP) to JetStream
 *       storing it
 *
 * Exit 0, or 1 with a message on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

static int fail(const char *what, natsStatus s, jsErrCode e)
{
	fprintf(stderr, "nats-stream: %s: %s (JetStream error %d)\n", what, natsStatus_GetText(s), (int)e);
	return 1;
}

static int create(jsCtx *js, const char *stream, const char *subject, int replicas)
{
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	const char *subjects[] = { subject };
	sc.Name = stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = replicas;
	sc.Duplicates = 3600LL * 1000000000LL;
	natsStatus s = NATS_ERR;
	jsErrCode e = 0;
	for (int i = 0; i < 150; i++) {
		jsStreamInfo *si = NULL;
		e = 0;
		s = js_AddStream(&si, js, &sc, NULL, &e);
		jsStreamInfo_Destroy(si);
		if (s == NATS_OK || e == JSStreamNameExistErr)
			return 0;
		usleep(200000);
	}
	return fail("create", s, e);
}

static int dump(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &e);
	if (s != NATS_OK)
		return fail("stream info", s, e);
	uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	for (uint64_t q = first; q && q <= last; q++) {
		natsMsg *m = NULL;
		/* A busy cluster may let a request time out: try again. */
		for (int t = 0; t < 3; t++)
			if ((s = js_GetMsg(&m, js, stream, q, NULL, &e)) != NATS_TIMEOUT)
				break;
		if (s == NATS_NOT_FOUND)
			continue;
		if (s != NATS_OK)
			return fail("get", s, e);
		const char *id = "-", *origin = "-";
		natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
		natsMsgHeader_Get(m, "Kmsg-Origin", &origin);
		printf("%s\t%s\t%s\t%.*s\n", id, natsMsg_GetSubject(m), origin, natsMsg_GetDataLength(m),
		       natsMsg_GetData(m));
		natsMsg_Destroy(m);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int lag(jsCtx *js, const char *stream, long samples)
{
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = "kmsg.$checkpoint.>";
	natsStatus s = js_GetStreamInfo(&si, js, stream, &o, &e);
	if (s != NATS_OK)
		return fail("stream info", s, e);
	uint64_t first = si->State.FirstSeq, last = si->State.LastSeq, msgs = si->State.Msgs, cps = 0;
	int64_t t_first = si->State.FirstTime, t_last = si->State.LastTime;
	for (int i = 0; si->State.Subjects && i < si->State.Subjects->Count; i++)
		cps += si->State.Subjects->List[i].Msgs;
	jsStreamInfo_Destroy(si);
	if (msgs == 0 || samples < 1) {
		printf("msgs 0 checkpoints 0 span_s 0 lag_ms 0 0 0\n");
		return 0;
	}
	int64_t *v = calloc((size_t)samples, sizeof(*v));
	size_t n = 0;
	for (long i = 0; i < samples; i++) {
		uint64_t q = first + (last - first) * (uint64_t)i / (uint64_t)(samples > 1 ? samples - 1 : 1);
		natsMsg *m = NULL;
		if (js_GetMsg(&m, js, stream, q, NULL, &e) != NATS_OK)
			continue;
		int64_t t = natsMsg_GetTime(m);
		const char *d = natsMsg_GetData(m), *k = strstr(d, "\"KMSG_RECEIVED_TIMESTAMP\" : \"");
		if (k)
			v[n++] = t / 1000 - strtoll(k + 29, NULL, 10);
		natsMsg_Destroy(m);
	}
	if (n == 0) {
		free(v);
		return fail("lag: no record among the samples", NATS_NOT_FOUND, 0);
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("msgs %" PRIu64 " checkpoints %" PRIu64 " span_s %.3f lag_ms %.1f %.1f %.1f\n", msgs, cps,
	       (double)(t_last - t_first) / 1e9, (double)v[n / 2] / 1e3, (double)v[(n * 99) / 100] / 1e3,
	       (double)v[n - 1] / 1e3);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: nats-stream URL create STREAM SUBJECT REPLICAS | URL dump STREAM\n");
		return 1;
	}
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsStatus s = NATS_ERR;
	for (int i = 0; i < 100 && s != NATS_OK; i++) {
		s = natsConnection_ConnectTo(&nc, argv[1]);
		if (s != NATS_OK)
			usleep(100000);
	}
	if (s != NATS_OK)
		return fail("connect", s, 0);
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
		return fail("jetstream", s, 0);
	int r;
	if (strcmp(argv[2], "create") == 0 && argc == 6)
		r = create(js, argv[3], argv[4], atoi(argv[5]));
	else if (strcmp(argv[2], "dump") == 0 && argc == 4)
		r = dump(js, argv[3]);
	else if (strcmp(argv[2], "lag") == 0 && argc == 5)
		r = lag(js, argv[3], atol(argv[4]));
	else
		r = fail("usage", NATS_INVALID_ARG, 0);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	return r;
}
