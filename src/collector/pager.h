/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The terminal, as journalctl (systemd 252) treats it.
 *
 * Colour: $SYSTEMD_COLORS when it is a boolean (or "16", "256"), else no
 * colour when $NO_COLOR is set or $TERM is unset or "dumb", else colour
 * when standard output is a terminal. Decide before pager_open.
 *
 * Pager: only when standard output is a terminal and $TERM is not dumb.
 * $SYSTEMD_PAGER, else $PAGER (words, with '' and "" quoting); empty or
 * "cat" means none; else "pager", "less", "more", and if none runs the
 * output is copied through unchanged. The pager gets $LESS set to
 * $SYSTEMD_LESS or "FRSXMK" (quit at end of a short page, raw colour
 * escapes, chop long lines, no init, prompt, quit on ^C) and, in a UTF-8
 * locale, $LESSCHARSET=utf-8 unless $SYSTEMD_LESSCHARSET says otherwise.
 * Standard error goes to the pager too when it is a terminal.
 */

#include <stdbool.h>

bool pager_color(void);

/* -e: the pager (less) starts at the end: " +G" is added to $LESS. */
void pager_jump_to_end(void);

/* Start the pager (when one applies). 0 or -errno. */
__attribute__((warn_unused_result)) int pager_open(void);

/* Flush, let the pager finish, wait for it. */
void pager_close(void);
