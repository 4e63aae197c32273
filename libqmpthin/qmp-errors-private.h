/* qmp-errors-private.h: making the errors of QEMU's replies (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-errors-private.h is private to libqmpthin."
#endif

#include <glib.h>

G_BEGIN_DECLS

GError *_qmp_command_error_new (const char *class_name,
                                const char *desc);

G_END_DECLS
