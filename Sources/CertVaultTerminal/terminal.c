#include "CertVaultTerminal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

// Every signal whose default action ends or stops the process, and SIGCONT.
static const int signals[] = {SIGINT,  SIGTERM, SIGHUP,    SIGQUIT, SIGTSTP,   SIGTTIN, SIGTTOU,  SIGCONT,
                              SIGABRT, SIGSEGV, SIGBUS,    SIGILL,  SIGTRAP,   SIGFPE,  SIGSYS,   SIGPIPE,
                              SIGALRM, SIGUSR1, SIGUSR2,   SIGXCPU, SIGXFSZ,   SIGVTALRM, SIGPROF, SIGPWR,
                              SIGSTKFLT};
static const int crash_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS, SIGQUIT};
#define NSIGNALS ((int)(sizeof signals / sizeof signals[0]))

static volatile sig_atomic_t held = 0;
static volatile sig_atomic_t defer_hangup = 0;
static volatile sig_atomic_t hangup_pending = 0;
static int tty = -1;
static struct termios original;
static struct termios quiet;
// What a continue puts back: the mode of the prompt or line being read, else quiet.
static struct termios resume;
static volatile sig_atomic_t has_resume = 0;
static struct sigaction previous[NSIGNALS];

static void put_back(void) {
    if (tty >= 0) (void)tcsetattr(tty, TCSANOW, &original);
}

// After a stop, in the foreground again: the mode of the line being read, or echo off.
static void echo_off_again(void) {
    if (held && tcgetpgrp(tty) == getpgrp()) (void)tcsetattr(tty, TCSANOW, has_resume ? &resume : &quiet);
}

static void on_signal(int sig) {
    int saved_errno = errno;
    if (defer_hangup && (sig == SIGHUP || sig == SIGTERM)) {
        hangup_pending = 1;
        errno = saved_errno;
        return;
    }
    if (sig == SIGCONT) {
        // Back in the foreground after a stop: echo off again.
        echo_off_again();
        errno = saved_errno;
        return;
    }
    if (held) put_back();
    if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        // Suspend as the default action would, with the terminal as the
        // shell expects it; SIGCONT turns echo off again.
        struct sigaction dfl, mine;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, &mine);
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, sig);
        raise(sig);
        sigprocmask(SIG_UNBLOCK, &unblock, NULL);
        sigaction(sig, &mine, NULL);
        // Continued, or never stopped (the kernel drops a terminal stop for
        // an orphaned process group): echo off again either way, never
        // leaving a prompt to read with echo on.
        echo_off_again();
        errno = saved_errno;
        return;
    }
    // Everything else ends the process: what was there before this hold
    // (the default action, or the Swift runtime's crash report) runs now.
    for (int i = 0; i < NSIGNALS; i++) {
        if (signals[i] == sig) sigaction(sig, &previous[i], NULL);
    }
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, sig);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    raise(sig);
    errno = saved_errno;
}

int cv_terminal_hold(void) {
    if (held) return 1;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return 0;
    // A command in the background must not touch the terminal (SIGTTOU).
    if (tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &original) != 0) {
        close(fd);
        return 0;
    }
    quiet = original;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    tty = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    // A read at a prompt goes on after a stop and continue, never cut short.
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < NSIGNALS; i++) sigaddset(&action.sa_mask, signals[i]);
    // Block them while the hold is set up, so none finds it half made.
    sigset_t all, before;
    sigemptyset(&all);
    for (int i = 0; i < NSIGNALS; i++) sigaddset(&all, signals[i]);
    sigprocmask(SIG_BLOCK, &all, &before);
    for (int i = 0; i < NSIGNALS; i++) {
        struct sigaction old;
        sigaction(signals[i], NULL, &old);
        previous[i] = old;
        // A signal the caller's parent set to be ignored stays ignored (nohup).
        if (old.sa_handler == SIG_IGN) continue;
        sigaction(signals[i], &action, NULL);
    }
    int ok = tcsetattr(fd, TCSANOW, &quiet) == 0;
    if (ok) held = 1;
    sigprocmask(SIG_SETMASK, &before, NULL);
    if (!ok) {
        cv_terminal_release();
        return 0;
    }
    return 1;
}

void cv_terminal_release(void) {
    if (tty < 0) return;
    sigset_t all, before;
    sigemptyset(&all);
    for (int i = 0; i < NSIGNALS; i++) sigaddset(&all, signals[i]);
    sigprocmask(SIG_BLOCK, &all, &before);
    if (held) put_back();
    held = 0;
    for (int i = 0; i < NSIGNALS; i++) sigaction(signals[i], &previous[i], NULL);
    close(tty);
    tty = -1;
    sigprocmask(SIG_SETMASK, &before, NULL);
}

int cv_terminal_held(void) { return held ? 1 : 0; }

void cv_terminal_set_resume_mode(const struct termios *mode) {
    has_resume = 0;
    if (mode) {
        resume = *mode;
        has_resume = 1;
    }
}

void cv_crash_reports_off(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) sigaction(crash_signals[i], &dfl, NULL);
}

void cv_terminal_defer_hangup(int on) { defer_hangup = on ? 1 : 0; }

int cv_terminal_hangup_pending(void) { return hangup_pending ? 1 : 0; }
