/* SPDX-License-Identifier: ISC */
#include <endian.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp.h"

#if defined(__x86_64__)
#define KS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define KS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef KS_AUDIT_ARCH
/* The low 32 bits of argument 0 (socket's family is an int). */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#endif

/* Longest program accepted by the kernel (BPF_MAXINSNS). */
#define PROG_MAX 4096

struct prog {
	struct sock_filter *insn;
	size_t len;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->len < PROG_MAX)
		p->insn[p->len] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
	p->len++;
}

/* "if A == k return action": two instructions, so that no jump offset
 * ever grows with the length of the list (they are 8 bits). */
static void emit_ret_if(struct prog *p, uint32_t k, uint32_t action)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, k);
	emit(p, BPF_RET | BPF_K, 0, 0, action);
}
#endif

int seccomp_supported(void)
{
#ifdef KS_AUDIT_ARCH
	return 1;
#else
	return 0;
#endif
}

int seccomp_install(const struct seccomp_policy *pol)
{
#ifndef KS_AUDIT_ARCH
	(void)pol;
	return -EOPNOTSUPP;
#else
	struct prog p = { .insn = calloc(PROG_MAX, sizeof(struct sock_filter)) };
	if (!p.insn)
		return -ENOMEM;
	/* Another ABI's numbers mean other calls: default action. */
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, KS_AUDIT_ARCH);
	emit(&p, BPF_RET | BPF_K, 0, 0, pol->default_action);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	/* x32 calls share AUDIT_ARCH_X86_64 and set bit 30. */
	emit(&p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000u);
	emit(&p, BPF_RET | BPF_K, 0, 0, pol->default_action);
#endif
	for (size_t i = 0; i < pol->nallow; i++)
		emit_ret_if(&p, (uint32_t)pol->allow[i], SECCOMP_RET_ALLOW);
	if (pol->threads) {
		/* A still holds nr; only the clone branch loads argument 0, and
		 * every path through it returns. */
		emit_ret_if(&p, SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS);
		emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, SYS_clone);
		emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG0_LO);
		emit(&p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, CLONE_THREAD);
		emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
		emit(&p, BPF_RET | BPF_K, 0, 0, pol->default_action);
	}
	for (size_t i = 0; i < pol->nfail; i++)
		emit_ret_if(&p, (uint32_t)pol->fail[i].nr,
			    SECCOMP_RET_ERRNO | ((uint32_t)pol->fail[i].err & SECCOMP_RET_DATA));
	if (pol->nfamilies > 0) {
		/* socket: jump over the default return into the family check. */
		emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SYS_socket);
		emit(&p, BPF_RET | BPF_K, 0, 0, pol->default_action);
		emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG0_LO);
		for (size_t i = 0; i < pol->nfamilies; i++)
			emit_ret_if(&p, (uint32_t)pol->families[i], SECCOMP_RET_ALLOW);
		emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	} else {
		emit(&p, BPF_RET | BPF_K, 0, 0, pol->default_action);
	}
	int r = 0;
	if (p.len > PROG_MAX) {
		r = -E2BIG;
	} else {
		struct sock_fprog fp = { .len = (unsigned short)p.len, .filter = p.insn };
		long rc;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			r = -errno;
		else if ((rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
				       &fp)) != 0)
			r = rc < 0 ? -errno : -EBUSY; /* > 0: a thread that could not follow */
	}
	free(p.insn);
	return r;
#endif
}
