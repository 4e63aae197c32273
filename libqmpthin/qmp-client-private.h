/* qmp-client-private.h: library-internal helpers shared between units
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <qmpthin/qmpthin.h>

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

GError *_qmp_command_error_new (const char *class_name,
                                const char *desc);

G_END_DECLS

G_BEGIN_DECLS

/* Reading members of QEMU's JSON: absent members and members of the wrong
 * type give the default, since newer or buggy QEMUs must not break typed
 * parsing. */
const char *_qmp_json_get_string  (JsonObject *object,
                                   const char *member);
gboolean    _qmp_json_get_boolean (JsonObject *object,
                                   const char *member,
                                   gboolean    default_value);
guint64     _qmp_json_get_uint64  (JsonObject *object,
                                   const char *member,
                                   guint64     default_value);
JsonObject *_qmp_json_get_object  (JsonObject *object,
                                   const char *member);
int         _qmp_enum_from_string (GType       enum_type,
                                   const char *nick,
                                   int         absent_value,
                                   int         unknown_value);

GType       _qmp_event_type_for_name (const char *name);
QmpEvent   *_qmp_event_new_full      (const char *name,
                                      gint64      timestamp_usec,
                                      JsonObject *data,
                                      gboolean    derived);

QmpBlockInfo  *_qmp_block_info_new_for_error  (QmpBlockIoErrorEvent *event);
QmpStopReason *_qmp_stop_reason_new_for_disks (QmpStopKind           kind,
                                               const char           *run_state,
                                               GPtrArray            *disks,
                                               gint64                since_usec,
                                               gboolean              derived);
gboolean       _qmp_stop_reason_equal         (QmpStopReason        *a,
                                               QmpStopReason        *b);

/* Typed commands: execute, then turn the return value into a result with
 * parser (NULL keeps the JsonNode). */
typedef gpointer (*QmpResultParser) (JsonNode  *value,
                                     GError   **error);

void     _qmp_client_call_async  (QmpClient           *client,
                                  const char          *command,
                                  JsonObject          *arguments,
                                  QmpResultParser      parser,
                                  GDestroyNotify       result_free,
                                  gpointer             source_tag,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
gpointer _qmp_client_call_finish (QmpClient           *client,
                                  GAsyncResult        *result,
                                  gpointer             source_tag,
                                  GError             **error);
gpointer _qmp_client_call_sync   (QmpClient           *client,
                                  const char          *command,
                                  JsonObject          *arguments,
                                  QmpResultParser      parser,
                                  GCancellable        *cancellable,
                                  GError             **error);
GPtrArray *_qmp_parse_object_array (JsonNode   *value,
                                    const char *command,
                                    gpointer  (*new_from_json) (JsonObject *object,
                                                                GError    **error),
                                    GError    **error);

G_END_DECLS
