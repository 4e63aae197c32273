/* qmp-enums.h: enumerations of the libqmpthin API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * QmpClientState:
 * @QMP_CLIENT_STATE_DISCONNECTED: not connected yet
 * @QMP_CLIENT_STATE_CONNECTING: opening the connection and waiting for
 *   QEMU's greeting
 * @QMP_CLIENT_STATE_NEGOTIATING: the greeting was read, `qmp_capabilities`
 *   is in flight
 * @QMP_CLIENT_STATE_SYNCING: negotiated; reading QEMU's current state
 *   before the client is declared ready
 * @QMP_CLIENT_STATE_READY: commands can be executed and events are delivered
 * @QMP_CLIENT_STATE_CLOSED: the connection was closed, by the caller or by
 *   the peer; the reason is given by #QmpClient::disconnected
 *
 * The life cycle of a #QmpClient connection, published as
 * #QmpClient:state.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_CLIENT_STATE_DISCONNECTED,
  QMP_CLIENT_STATE_CONNECTING,
  QMP_CLIENT_STATE_NEGOTIATING,
  QMP_CLIENT_STATE_SYNCING,
  QMP_CLIENT_STATE_READY,
  QMP_CLIENT_STATE_CLOSED,
} QmpClientState;

G_END_DECLS
