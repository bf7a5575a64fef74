/* SPDX-License-Identifier: ISC */
/*
 * bench-crypto: the cost floor of the cryptography alone. A Noise IK
 * handshake between two in-process parties (src/common/noise.h), then
 * COUNT records of RECLEN encoded bytes each encrypted by one side and
 * decrypted by the other:
 *
 *   batched:    records packed into BATCH plaintexts as the agent sends
 *               them (3 + n * (4 + RECLEN) <= 65519 bytes), one AEAD each
 *               way per batch;
 *   per record: one transport message per record.
 *
 * Prints "crypto batched NS per-record NS records-per-batch N": nanoseconds
 * of CPU (this thread) per record for encrypt + decrypt.
 *
 *   bench-crypto [COUNT [RECLEN]]    (defaults 1000000, 184)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key.h"
#include "noise.h"
#include "proto.h"

static uint8_t plain[PROTO_PLAIN_MAX], ct[PROTO_FRAME_MAX], back[PROTO_PLAIN_MAX];

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static int pair(struct noise_cipher *tx, struct noise_cipher *rx)
{
	uint8_t si[KEY_LEN], sr[KEY_LEN], pr[KEY_LEN], m1[512], m2[512], pl[128];
	struct noise_handshake hi, hr;
	struct noise_cipher itx, irx, rtx, rrx;
	key_generate(si);
	key_generate(sr);
	if (key_public(pr, sr) < 0 ||
	    noise_handshake_init(&hi, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, si, pr) <
		    0 ||
	    noise_handshake_init(&hr, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, sr, NULL) <
		    0)
		return -1;
	int n1 = noise_write_msg1(&hi, (const uint8_t *)"x", 1, m1, sizeof(m1));
	if (n1 < 0 || noise_read_msg1(&hr, m1, (size_t)n1, pl, sizeof(pl)) < 0)
		return -1;
	int n2 = noise_write_msg2(&hr, (const uint8_t *)"y", 1, m2, sizeof(m2));
	if (n2 < 0 || noise_read_msg2(&hi, m2, (size_t)n2, pl, sizeof(pl)) < 0)
		return -1;
	if (noise_split(&hi, &itx, &irx) < 0 || noise_split(&hr, &rtx, &rrx) < 0)
		return -1;
	*tx = itx;
	*rx = rrx;
	return 0;
}

/* COUNT records in messages of per_msg records each; returns ns per record. */
static double run(size_t count, size_t reclen, size_t per_msg)
{
	struct noise_cipher tx, rx;
	if (pair(&tx, &rx) < 0) {
		fprintf(stderr, "bench-crypto: handshake failed\n");
		exit(1);
	}
	size_t plen = per_msg == 1 ? reclen : PROTO_BATCH_HDR + per_msg * (PROTO_BATCH_REC_HDR + reclen);
	for (size_t i = 0; i < plen; i++)
		plain[i] = (uint8_t)(i * 31);
	uint64_t t0 = cpu_ns();
	for (size_t done = 0; done < count; done += per_msg) {
		int n = noise_encrypt(&tx, plain, plen, ct, sizeof(ct));
		if (n < 0 || noise_decrypt(&rx, ct, (size_t)n, back, sizeof(back)) != (int)plen) {
			fprintf(stderr, "bench-crypto: transport failed\n");
			exit(1);
		}
	}
	return (double)(cpu_ns() - t0) / (double)count;
}

int main(int argc, char **argv)
{
	size_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	size_t reclen = argc > 2 ? strtoull(argv[2], NULL, 10) : 184;
	if (count == 0 || reclen < 1 || reclen > PROTO_PLAIN_MAX - PROTO_BATCH_HDR - PROTO_BATCH_REC_HDR) {
		fprintf(stderr, "usage: bench-crypto [COUNT [RECLEN]]\n");
		return 2;
	}
	size_t per_batch = (PROTO_PLAIN_MAX - PROTO_BATCH_HDR) / (PROTO_BATCH_REC_HDR + reclen);
	double batched = run(count, reclen, per_batch);
	double single = run(count, reclen, 1);
	printf("crypto batched %.1f per-record %.1f records-per-batch %zu\n", batched, single, per_batch);
	return 0;
}
