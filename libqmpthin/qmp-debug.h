/* qmp-debug.h: debug messages of every connection (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-debug.h is private to libqmpthin."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* g_debug() formats its message before the log writer drops it: for the
 * messages of every connection (it changes state four times), this one
 * formats only when GLib's default filter would show the message
 * (G_MESSAGES_DEBUG=Qmp). */
#define _qmp_debug(...)                                                     \
  G_STMT_START {                                                            \
    if (G_UNLIKELY (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG,    \
                                                      G_LOG_DOMAIN)))       \
      g_debug (__VA_ARGS__);                                                \
  } G_STMT_END

G_END_DECLS
