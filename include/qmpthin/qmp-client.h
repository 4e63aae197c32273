/* qmp-client.h: a connection to one QEMU Machine Protocol server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>
#include <qmpthin/qmp-event.h>
#include <qmpthin/qmp-stop-reason.h>

G_BEGIN_DECLS

/**
 * QMP_CLIENT_DEFAULT_COMMAND_TIMEOUT:
 *
 * The default of #QmpClient:command-timeout, in milliseconds.
 *
 * Since: 1.0
 */
#define QMP_CLIENT_DEFAULT_COMMAND_TIMEOUT 30000

/**
 * QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT:
 *
 * The default of #QmpClient:connect-timeout, in milliseconds.
 *
 * Since: 1.0
 */
#define QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT 10000

/**
 * QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The default of #QmpClient:max-message-size, in bytes (10 MiB).
 *
 * Since: 1.0
 */
#define QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE (10 * 1024 * 1024)

/**
 * QMP_TIMEOUT_DEFAULT:
 *
 * Passed as the timeout of qmp_client_execute_full_async(): use the
 * client's #QmpClient:command-timeout.
 *
 * Since: 1.0
 */
#define QMP_TIMEOUT_DEFAULT (-1)

/**
 * QMP_TIMEOUT_NONE:
 *
 * Passed as a timeout: wait for the reply for as long as the connection
 * lives.
 *
 * Since: 1.0
 */
#define QMP_TIMEOUT_NONE 0

/**
 * QMP_TYPE_CLIENT:
 *
 * The #GType of #QmpClient.
 *
 * Since: 1.0
 */
#define QMP_TYPE_CLIENT (qmp_client_get_type ())

/**
 * QmpClient:
 *
 * A connection to one QMP server. The structure is opaque.
 *
 * Since: 1.0
 */

QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpClient, qmp_client, QMP, CLIENT, GObject)

QMP_AVAILABLE_IN_1_0
QmpClient          *qmp_client_new                   (const char           *address);
QMP_AVAILABLE_IN_1_0
QmpClient          *qmp_client_new_for_stream        (GIOStream            *stream);

QMP_AVAILABLE_IN_1_0
void                qmp_client_connect_async         (QmpClient            *client,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_connect_finish        (QmpClient            *client,
                                                      GAsyncResult         *result,
                                                      GError              **error);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_connect_sync          (QmpClient            *client,
                                                      GCancellable         *cancellable,
                                                      GError              **error);

QMP_AVAILABLE_IN_1_0
void                qmp_client_execute_async         (QmpClient            *client,
                                                      const char           *command,
                                                      JsonObject           *arguments,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QMP_AVAILABLE_IN_1_0
void                qmp_client_execute_full_async    (QmpClient            *client,
                                                      const char           *command,
                                                      JsonObject           *arguments,
                                                      int                   timeout_msec,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QMP_AVAILABLE_IN_1_0
JsonNode           *qmp_client_execute_finish        (QmpClient            *client,
                                                      GAsyncResult         *result,
                                                      GError              **error);
QMP_AVAILABLE_IN_1_0
JsonNode           *qmp_client_execute_full_finish   (QmpClient            *client,
                                                      GAsyncResult         *result,
                                                      GError              **error);
QMP_AVAILABLE_IN_1_0
JsonNode           *qmp_client_execute_sync          (QmpClient            *client,
                                                      const char           *command,
                                                      JsonObject           *arguments,
                                                      GCancellable         *cancellable,
                                                      GError              **error);
QMP_AVAILABLE_IN_1_0
JsonNode           *qmp_client_execute_full_sync     (QmpClient            *client,
                                                      const char           *command,
                                                      JsonObject           *arguments,
                                                      int                   timeout_msec,
                                                      GCancellable         *cancellable,
                                                      GError              **error);

QMP_AVAILABLE_IN_1_0
void                qmp_client_close_async           (QmpClient            *client,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_close_finish          (QmpClient            *client,
                                                      GAsyncResult         *result,
                                                      GError              **error);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_close_sync            (QmpClient            *client,
                                                      GCancellable         *cancellable,
                                                      GError              **error);

QMP_AVAILABLE_IN_1_0
const char         *qmp_client_get_address           (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
QmpClientState      qmp_client_get_state             (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
const char         *qmp_client_get_qemu_version      (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_qemu_major        (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_qemu_minor        (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_qemu_micro        (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
const char         *qmp_client_get_qemu_package      (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
const char * const *qmp_client_get_capabilities      (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_has_capability        (QmpClient            *client,
                                                      const char           *capability);

QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_command_timeout   (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_set_command_timeout   (QmpClient            *client,
                                                      guint                 timeout_msec);
QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_connect_timeout   (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_set_connect_timeout   (QmpClient            *client,
                                                      guint                 timeout_msec);
QMP_AVAILABLE_IN_1_0
gsize               qmp_client_get_max_message_size  (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_set_max_message_size  (QmpClient            *client,
                                                      gsize                 max_message_size);
QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_n_pending         (QmpClient            *client);

QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_get_auto_reconnect    (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_set_auto_reconnect    (QmpClient            *client,
                                                      gboolean              auto_reconnect);

QMP_AVAILABLE_IN_1_0
guint               qmp_client_get_liveness_interval (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_set_liveness_interval (QmpClient            *client,
                                                      guint                 interval_msec);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_client_get_responsive        (QmpClient            *client);

QMP_AVAILABLE_IN_1_0
QmpStopReason      *qmp_client_get_stop_reason       (QmpClient            *client);
QMP_AVAILABLE_IN_1_0
void                qmp_client_declare_write_threshold (QmpClient          *client,
                                                      const char           *node_name,
                                                      guint64               write_threshold);

G_END_DECLS
