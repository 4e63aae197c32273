/* qmp-reactor.h: one epoll source per main context for many sockets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-reactor.h is private to libqmpthin."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Called from the context's dispatch when the watched descriptor is
 * readable, has hung up or failed (level-triggered: again on every
 * iteration until it is read or the watch is freed). */
typedef void (*QmpWatchFunc) (gpointer user_data);

typedef struct _QmpWatch QmpWatch;

QmpWatch *_qmp_watch_new  (GMainContext *context,
                          int           fd,
                          QmpWatchFunc  func,
                          gpointer      user_data);
void      _qmp_watch_free (QmpWatch     *watch);

G_END_DECLS
