/* qemu-rig.h: a real QEMU for integration tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _QmpTestQemu QmpTestQemu;

/* TRUE when QEMU can be run. Otherwise the test is skipped, or failed when
 * the environment variable CI is "true" (CI installs QEMU). */
gboolean     qmp_test_qemu_require   (void);

/* Starts qemu-system-x86_64 with a QMP monitor on a socket in a fresh
 * temporary directory, plus @extra_args (NULL-terminated, may be NULL);
 * "@DIR@" in an argument is replaced by that directory. Returns once the
 * socket accepts connections. QEMU dies with the test process. */
QmpTestQemu *qmp_test_qemu_start     (const char * const *extra_args);
const char  *qmp_test_qemu_get_address (QmpTestQemu *qemu);
const char  *qmp_test_qemu_get_dir     (QmpTestQemu *qemu);
/* Waits for QEMU to exit by itself; FALSE on timeout. */
gboolean     qmp_test_qemu_wait_exit (QmpTestQemu *qemu,
                                      guint        timeout_ms);
/* Stops QEMU (SIGTERM, then SIGKILL), reaps it and removes its directory. */
void         qmp_test_qemu_free      (QmpTestQemu *qemu);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpTestQemu, qmp_test_qemu_free)

G_END_DECLS
