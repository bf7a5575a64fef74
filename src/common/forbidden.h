/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Test builds only (meson -Dtest_hooks=true): after the sandbox is in
 * place a daemon may be told, by $KS_TEST_FORBIDDEN, to attempt one call
 * it must not be able to make, so that a test can see the sandbox hold:
 *
 *   open_etc_shadow   open("/etc/shadow")       fails: not root (and Landlock)
 *   open_etc_passwd   open("/etc/passwd")       fails with Landlock only (collector)
 *   open_usr_bin_env  open("/usr/bin/env")      fails with Landlock only
 *   socket_packet     socket(AF_PACKET)         EAFNOSUPPORT from seccomp
 *   socket_netlink    socket(AF_NETLINK)        EAFNOSUPPORT from seccomp
 *   execve            execve("/bin/true")       killed by seccomp (SIGSYS)
 *   setuid            setuid(0)                 killed by seccomp (SIGSYS)
 *   ptrace            ptrace(PTRACE_TRACEME)    killed by seccomp (SIGSYS)
 *
 * The outcome of a call that returns is logged at debug as
 * "forbidden NAME: ok" or "forbidden NAME: <strerror>" (the test greps it).
 */

/* Do what $KS_TEST_FORBIDDEN names, if anything. Returns 0, or -EINVAL
 * for a name not in the list. A call that should not return may: then the
 * process goes on (and the test notices). */
int forbidden_try(void);
