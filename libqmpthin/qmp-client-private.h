/* qmp-client-private.h: library-internal helpers shared between units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <qmpthin/qmpthin.h>

G_BEGIN_DECLS

GError *_qmp_command_error_new (const char *class_name,
                                const char *desc);

G_END_DECLS
