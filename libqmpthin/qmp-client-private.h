/* qmp-client-private.h: what QmpClient's files share (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-client-private.h is private to libqmpthin."
#endif

#include <qmpthin/qmp-client.h>

#include "qmp-session.h"

G_BEGIN_DECLS

QmpSession *_qmp_client_get_session          (QmpClient     *client);

/* qmp-client-liveness.c */
void        _qmp_client_class_init_liveness (GObjectClass  *object_class,
                                             GParamSpec   **liveness_interval,
                                             GParamSpec   **responsive);
void        _qmp_client_responsive_changed  (gpointer       user_data);

G_END_DECLS
