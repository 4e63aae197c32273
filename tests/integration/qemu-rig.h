/* qemu-rig.h: a real QEMU for integration tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _QmpTestQemu QmpTestQemu;

/* TRUE when QEMU can be run: $QMP_TEST_QEMU, or qemu-system-x86_64 in
 * PATH. Otherwise the current test is skipped, or failed when the
 * environment variable CI is "true" (CI installs QEMU) or when
 * $QMP_TEST_QEMU names a program that cannot be found. */
gboolean     qmp_test_qemu_require     (void);

/* Starts QEMU with a QMP monitor on DIR/qmp.sock, DIR being a fresh
 * temporary directory that belongs to this QEMU, plus @extra_args
 * (NULL-terminated, may be NULL; "@DIR@" in an argument is replaced by
 * DIR), with its output in DIR/qemu.log. Returns once the socket accepts
 * connections; aborts the test program with QEMU's output if it does not.
 * QEMU gets SIGKILL when the thread that called this exits, so call it
 * from the test's main thread. */
QmpTestQemu *qmp_test_qemu_start       (const char * const *extra_args);

/* The version of the QEMU in use as its `--version` states it
 * ("10.0.2"), and in @package (optional) its package text, the part in
 * parentheses ("" when it has none): what its QMP greeting must say, read
 * another way. Aborts the test program when QEMU does not tell. */
char        *qmp_test_qemu_get_version (char **package);

/* QEMU's tool @name (qemu-img, qemu-io) from the same release as the QEMU
 * in use: next to it, else in PATH. Never NULL: a tool that is missing
 * fails where it is run, with its name. */
char        *qmp_test_qemu_find_tool   (const char *name);

/* Like qmp_test_qemu_require(), for qemu-storage-daemon (next to the QEMU
 * in use, or in PATH). */
gboolean     qmp_test_storage_daemon_require (void);

/* The same for qemu-storage-daemon: its QMP monitor on DIR/qmp.sock, and
 * @extra_args (--blockdev, --nbd-server, --export...). */
QmpTestQemu *qmp_test_storage_daemon_start (const char * const *extra_args);

/* @signal_number to the process (its own PID): SIGSTOP freezes it, so
 * that commands stay unanswered. */
void         qmp_test_qemu_send_signal (QmpTestQemu *qemu,
                                        int          signal_number);

/* SIGKILL to the process (its own PID) and reap it: it gets no chance to
 * say goodbye on its monitor. */
void         qmp_test_qemu_kill        (QmpTestQemu *qemu);

/* Starts the same program with the same arguments again, after
 * qmp_test_qemu_kill() or its exit: the same socket path, a new process.
 * Output is appended to the same log. */
void         qmp_test_qemu_restart     (QmpTestQemu *qemu);

/* "unix:DIR/qmp.sock", for qmp_client_new(). */
const char  *qmp_test_qemu_get_address (QmpTestQemu *qemu);

/* The work directory, for disks, serial logs and further sockets. */
const char  *qmp_test_qemu_get_dir     (QmpTestQemu *qemu);

/* Waits for QEMU to exit by itself (and reaps it); FALSE on timeout. */
gboolean     qmp_test_qemu_wait_exit   (QmpTestQemu *qemu,
                                        guint        timeout_ms);

/* Stops QEMU if it still runs (SIGTERM, then SIGKILL after 5 s, to its own
 * PID only), reaps it and removes the work directory recursively. */
void         qmp_test_qemu_free        (QmpTestQemu *qemu);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpTestQemu, qmp_test_qemu_free)

G_END_DECLS
