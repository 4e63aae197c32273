/* qmp-commands.c: the typed commands of QmpClient
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-commands.h>
#include <qmpthin/qmp-errors.h>

#include "qmp-json.h"

/**
 * SECTION:qmp-commands
 * @Title: Typed commands
 * @Short_description: The commands of thin provisioning, with typed results
 *
 * `query-status`, `cont`, `stop`, `query-block`, `query-blockstats`,
 * `query-named-block-nodes` and `block-set-write-threshold`, each on
 * qmp_client_execute_async(): they send their command and turn QEMU's
 * return value into the values of #QmpStatusInfo, #QmpBlockInfo,
 * #QmpBlockStats and #QmpBlockNode. Any other command is one
 * qmp_client_execute_async() away, with its JSON as QEMU sends it.
 *
 * Like every call of #QmpClient, each completes exactly once, and QEMU's
 * errors arrive as #QMP_COMMAND_ERROR.
 */

/* Turns a command's return value into its typed result. */
typedef gpointer (*QmpResultParser) (JsonNode  *value,
                                     GError   **error);

typedef struct
{
  QmpResultParser parser;
  GDestroyNotify result_free;
} CallData;

static void
call_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CallData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  gpointer parsed;

  value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);
  if (value == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (data->parser == NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&value), (GDestroyNotify) json_node_unref);
      return;
    }
  parsed = data->parser (value, &error);
  if (parsed == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, parsed, data->result_free);
}

static void
call_async (QmpClient           *client,
            const char          *command,
            JsonObject          *arguments,
            QmpResultParser      parser,
            GDestroyNotify       result_free,
            gpointer             source_tag,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  GTask *task = g_task_new (client, cancellable, callback, user_data);
  CallData *data = g_new0 (CallData, 1);

  data->parser = parser;
  data->result_free = result_free;
  g_task_set_task_data (task, data, g_free);
  g_task_set_source_tag (task, source_tag);
  qmp_client_execute_async (client, command, arguments, cancellable, call_ready, task);
}

static gpointer
call_finish (QmpClient     *client,
             GAsyncResult  *result,
             gpointer       source_tag,
             GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gpointer
call_sync (QmpClient     *client,
           const char    *command,
           JsonObject    *arguments,
           QmpResultParser parser,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(JsonNode) value = qmp_client_execute_sync (client, command, arguments,
                                                       cancellable, error);

  if (value == NULL)
    return NULL;
  if (parser == NULL)
    return g_steal_pointer (&value);
  return parser (value, error);
}

static gpointer
parse_status (JsonNode  *value,
              GError   **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (value))
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "The reply to query-status is not an object");
      return NULL;
    }
  return qmp_status_info_new_from_json (json_node_get_object (value), error);
}

/**
 * qmp_client_query_status_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Runs `query-status`.
 *
 * Since: 1.0
 */
void
qmp_client_query_status_async (QmpClient           *client,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  call_async (client, "query-status", NULL, parse_status, g_object_unref,
              qmp_client_query_status_async, cancellable, callback, user_data);
}

/**
 * qmp_client_query_status_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_query_status_async().
 *
 * Returns: (transfer full): the VM's status, or %NULL with @error set
 *
 * Since: 1.0
 */
QmpStatusInfo *
qmp_client_query_status_finish (QmpClient     *client,
                                GAsyncResult  *result,
                                GError       **error)
{
  return call_finish (client, result, qmp_client_query_status_async, error);
}

/**
 * qmp_client_query_status_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs `query-status` and waits for the result.
 *
 * Returns: (transfer full): the VM's status, or %NULL with @error set
 *
 * Since: 1.0
 */
QmpStatusInfo *
qmp_client_query_status_sync (QmpClient     *client,
                              GCancellable  *cancellable,
                              GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return call_sync (client, "query-status", NULL, parse_status, cancellable, error);
}

/**
 * qmp_client_cont_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Resumes the VM (`cont`). QEMU retries the requests that paused it; if
 * the storage is still full, the VM pauses again at once with a new
 * `BLOCK_IO_ERROR`. #QmpClient::resume is emitted when the VM runs.
 *
 * Since: 1.0
 */
void
qmp_client_cont_async (QmpClient           *client,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  call_async (client, "cont", NULL, NULL, NULL,
              qmp_client_cont_async, cancellable, callback, user_data);
}

/**
 * qmp_client_cont_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_cont_async().
 *
 * Returns: %TRUE if QEMU accepted the command
 *
 * Since: 1.0
 */
gboolean
qmp_client_cont_finish (QmpClient     *client,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_autoptr(JsonNode) value = call_finish (client, result, qmp_client_cont_async, error);

  return value != NULL;
}

/**
 * qmp_client_cont_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Resumes the VM and waits for QEMU's answer.
 *
 * Returns: %TRUE if QEMU accepted the command
 *
 * Since: 1.0
 */
gboolean
qmp_client_cont_sync (QmpClient     *client,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(JsonNode) value = NULL;

  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  value = call_sync (client, "cont", NULL, NULL, cancellable, error);
  return value != NULL;
}

/**
 * qmp_client_stop_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Pauses the VM (`stop`). #QmpClient::stop is emitted when it paused.
 *
 * Since: 1.0
 */
void
qmp_client_stop_async (QmpClient           *client,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  call_async (client, "stop", NULL, NULL, NULL,
              qmp_client_stop_async, cancellable, callback, user_data);
}

/**
 * qmp_client_stop_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_stop_async().
 *
 * Returns: %TRUE if QEMU accepted the command
 *
 * Since: 1.0
 */
gboolean
qmp_client_stop_finish (QmpClient     *client,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_autoptr(JsonNode) value = call_finish (client, result, qmp_client_stop_async, error);

  return value != NULL;
}

/**
 * qmp_client_stop_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Pauses the VM and waits for QEMU's answer.
 *
 * Returns: %TRUE if QEMU accepted the command
 *
 * Since: 1.0
 */
gboolean
qmp_client_stop_sync (QmpClient     *client,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(JsonNode) value = NULL;

  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  value = call_sync (client, "stop", NULL, NULL, cancellable, error);
  return value != NULL;
}

static gpointer
parse_block (JsonNode  *value,
             GError   **error)
{
  return _qmp_json_parse_object_array (value, "query-block",
                                       (gpointer) qmp_block_info_new_from_json, error);
}

static gpointer
parse_blockstats (JsonNode  *value,
                  GError   **error)
{
  return _qmp_json_parse_object_array (value, "query-blockstats",
                                       (gpointer) qmp_block_stats_new_from_json, error);
}

static gpointer
parse_named_block_nodes (JsonNode  *value,
                         GError   **error)
{
  return _qmp_json_parse_object_array (value, "query-named-block-nodes",
                                       (gpointer) qmp_block_node_new_from_json, error);
}

/**
 * qmp_client_query_block_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Runs `query-block`: the guest's block devices.
 *
 * Since: 1.0
 */
void
qmp_client_query_block_async (QmpClient           *client,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  call_async (client, "query-block", NULL, parse_block,
              (GDestroyNotify) g_ptr_array_unref, qmp_client_query_block_async,
              cancellable, callback, user_data);
}

/**
 * qmp_client_query_block_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_query_block_async().
 *
 * Returns: (transfer container) (element-type QmpBlockInfo): the devices,
 *   or %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_block_finish (QmpClient     *client,
                               GAsyncResult  *result,
                               GError       **error)
{
  return call_finish (client, result, qmp_client_query_block_async, error);
}

/**
 * qmp_client_query_block_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs `query-block` and waits for the result.
 *
 * Returns: (transfer container) (element-type QmpBlockInfo): the devices,
 *   or %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_block_sync (QmpClient     *client,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return call_sync (client, "query-block", NULL, parse_block, cancellable, error);
}

static JsonObject *
blockstats_arguments (gboolean query_nodes)
{
  JsonObject *arguments = json_object_new ();

  json_object_set_boolean_member (arguments, "query-nodes", query_nodes);
  return arguments;
}

/**
 * qmp_client_query_blockstats_async:
 * @client: a #QmpClient
 * @query_nodes: %TRUE for every named node, %FALSE for the devices only
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Runs `query-blockstats`.
 *
 * Since: 1.0
 */
void
qmp_client_query_blockstats_async (QmpClient           *client,
                                   gboolean             query_nodes,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(JsonObject) arguments = NULL;

  g_return_if_fail (QMP_IS_CLIENT (client));
  arguments = blockstats_arguments (query_nodes);
  call_async (client, "query-blockstats", arguments, parse_blockstats,
              (GDestroyNotify) g_ptr_array_unref, qmp_client_query_blockstats_async,
              cancellable, callback, user_data);
}

/**
 * qmp_client_query_blockstats_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_query_blockstats_async().
 *
 * Returns: (transfer container) (element-type QmpBlockStats): the
 *   statistics, or %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_blockstats_finish (QmpClient     *client,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return call_finish (client, result, qmp_client_query_blockstats_async, error);
}

/**
 * qmp_client_query_blockstats_sync:
 * @client: a #QmpClient
 * @query_nodes: %TRUE for every named node, %FALSE for the devices only
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs `query-blockstats` and waits for the result.
 *
 * Returns: (transfer container) (element-type QmpBlockStats): the
 *   statistics, or %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_blockstats_sync (QmpClient     *client,
                                  gboolean       query_nodes,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  g_autoptr(JsonObject) arguments = NULL;

  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  arguments = blockstats_arguments (query_nodes);
  return call_sync (client, "query-blockstats", arguments, parse_blockstats,
                                cancellable, error);
}

static JsonObject *
named_block_nodes_arguments (void)
{
  JsonObject *arguments = json_object_new ();

  /* Without "flat", every node repeats its whole backing chain. */
  json_object_set_boolean_member (arguments, "flat", TRUE);
  return arguments;
}

/**
 * qmp_client_query_named_block_nodes_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Runs `query-named-block-nodes` (flat): every named node with its armed
 * write threshold.
 *
 * Since: 1.0
 */
void
qmp_client_query_named_block_nodes_async (QmpClient           *client,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(JsonObject) arguments = NULL;

  g_return_if_fail (QMP_IS_CLIENT (client));
  arguments = named_block_nodes_arguments ();
  call_async (client, "query-named-block-nodes", arguments, parse_named_block_nodes,
              (GDestroyNotify) g_ptr_array_unref,
              qmp_client_query_named_block_nodes_async,
              cancellable, callback, user_data);
}

/**
 * qmp_client_query_named_block_nodes_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_query_named_block_nodes_async().
 *
 * Returns: (transfer container) (element-type QmpBlockNode): the nodes, or
 *   %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_named_block_nodes_finish (QmpClient     *client,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  return call_finish (client, result, qmp_client_query_named_block_nodes_async, error);
}

/**
 * qmp_client_query_named_block_nodes_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs `query-named-block-nodes` and waits for the result.
 *
 * Returns: (transfer container) (element-type QmpBlockNode): the nodes, or
 *   %NULL with @error set
 *
 * Since: 1.0
 */
GPtrArray *
qmp_client_query_named_block_nodes_sync (QmpClient     *client,
                                         GCancellable  *cancellable,
                                         GError       **error)
{
  g_autoptr(JsonObject) arguments = NULL;

  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  arguments = named_block_nodes_arguments ();
  return call_sync (client, "query-named-block-nodes", arguments,
                                parse_named_block_nodes, cancellable, error);
}

static JsonObject *
write_threshold_arguments (const char *node_name,
                           guint64     write_threshold)
{
  JsonObject *arguments = json_object_new ();

  json_object_set_string_member (arguments, "node-name", node_name);
  json_object_set_int_member (arguments, "write-threshold", (gint64) write_threshold);
  return arguments;
}

/**
 * qmp_client_set_write_threshold_async:
 * @client: a #QmpClient
 * @node_name: the node to watch, best the storage node of a thin disk
 * @write_threshold: the offset in bytes whose crossing fires
 *   `BLOCK_WRITE_THRESHOLD`; 0 disarms
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Arms (or disarms) the write threshold of a node with
 * `block-set-write-threshold`. The threshold fires once: QEMU disarms it
 * when it emits the event. An unknown node fails with
 * %QMP_COMMAND_ERROR_GENERIC_ERROR and QEMU's text.
 *
 * Since: 1.0
 */
void
qmp_client_set_write_threshold_async (QmpClient           *client,
                                      const char          *node_name,
                                      guint64              write_threshold,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(JsonObject) arguments = NULL;

  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (node_name != NULL);
  g_return_if_fail (write_threshold <= G_MAXINT64);

  arguments = write_threshold_arguments (node_name, write_threshold);
  call_async (client, "block-set-write-threshold", arguments, NULL, NULL,
              qmp_client_set_write_threshold_async, cancellable, callback, user_data);
}

/**
 * qmp_client_set_write_threshold_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_set_write_threshold_async().
 *
 * Returns: %TRUE if the threshold is set
 *
 * Since: 1.0
 */
gboolean
qmp_client_set_write_threshold_finish (QmpClient     *client,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  g_autoptr(JsonNode) value =
    call_finish (client, result, qmp_client_set_write_threshold_async, error);

  return value != NULL;
}

/**
 * qmp_client_set_write_threshold_sync:
 * @client: a #QmpClient
 * @node_name: the node to watch
 * @write_threshold: the offset in bytes, 0 to disarm
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Arms (or disarms) a write threshold and waits for QEMU's answer.
 *
 * Returns: %TRUE if the threshold is set
 *
 * Since: 1.0
 */
gboolean
qmp_client_set_write_threshold_sync (QmpClient     *client,
                                     const char    *node_name,
                                     guint64        write_threshold,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  g_autoptr(JsonObject) arguments = NULL;
  g_autoptr(JsonNode) value = NULL;

  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (node_name != NULL, FALSE);
  g_return_val_if_fail (write_threshold <= G_MAXINT64, FALSE);

  arguments = write_threshold_arguments (node_name, write_threshold);
  value = call_sync (client, "block-set-write-threshold", arguments, NULL,
                     cancellable, error);
  return value != NULL;
}
