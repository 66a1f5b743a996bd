#ifndef CERTVAULT_TERMINAL_H
#define CERTVAULT_TERMINAL_H

#include <termios.h>

// The command line's hold on the terminal, in C because a signal handler
// must touch nothing but async-signal-safe calls and plain static memory.
// Only the certvault executable calls these: the library never installs a
// signal handler or changes a terminal.

/// Opens /dev/tty and, when this process is in the terminal's foreground
/// process group, turns its echo off until cv_terminal_release(): keys
/// typed ahead while the command works are neither shown nor (prompts
/// flush them) taken as an answer. Installs handlers for the signals that
/// end or suspend a process (INT, TERM, HUP, QUIT, TSTP, CONT, and the
/// crash signals ABRT, SEGV, BUS, ILL, TRAP, FPE) that put the terminal
/// back as it was before re-raising the signal with its default action;
/// on SIGCONT echo goes off again. Terminal stops (TSTP, TTIN, TTOU) give
/// the terminal back first. Returns 1 when held, 0 when there is no
/// terminal to hold (or it cannot be changed), with nothing installed.
int cv_terminal_hold(void);

/// Puts the terminal back as cv_terminal_hold() found it and restores the
/// signal dispositions it replaced. Safe to call twice, or without a hold.
void cv_terminal_release(void);

/// Whether a hold is in effect.
int cv_terminal_held(void);

/// The mode a continue after a stop puts back while a prompt or a line
/// is being read (NULL: echo off, as held).
void cv_terminal_set_resume_mode(const struct termios *mode);

/// Puts the crash signals (ABRT, SEGV, BUS, ILL, TRAP, FPE, SYS, QUIT) back
/// to their default action, taking them from the Swift runtime's
/// backtracer: an interactive crash report that can print any of the
/// process's memory must not be offered in a process that holds keys. The
/// executable calls it first thing; core dumps are off as well.
void cv_crash_reports_off(void);

/// While on (the interactive shell), SIGHUP and SIGTERM do not end the
/// process at once: they are noted, and a read waiting at the shell's
/// prompt is interrupted, so that the shell wipes its keys and leaves.
void cv_terminal_defer_hangup(int on);

/// Whether a SIGHUP or SIGTERM was noted while deferred.
int cv_terminal_hangup_pending(void);

#endif
