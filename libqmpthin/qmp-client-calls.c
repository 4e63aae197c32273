/* qmp-client-calls.c: what a caller asks of QmpClient
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Connecting, running commands and closing, each as an async call with
 * its finish function and as a _sync call, on the client's session
 * (qmp-session.c). The object itself, its properties and signals, and
 * how the session and the tracker reach it are in qmp-client.c.
 */

#include <qmpthin/qmp-client.h>
#include <qmpthin/qmp-errors.h>

#include "qmp-client-private.h"

/* ------------------------------------------------------------------------ */
/* Connecting */

/* A client is used from the thread that runs its context. A call from
 * another thread is caught when that thread is iterating the context at
 * the time, which costs one acquire; a context nobody runs cannot tell. */
static gboolean
called_from_client_thread (QmpClient *self)
{
  GMainContext *context = _qmp_session_get_context (_qmp_client_get_session (self));

  if (!g_main_context_acquire (context))
    return FALSE;
  g_main_context_release (context);
  return TRUE;
}

/**
 * qmp_client_connect_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready or failed
 * @user_data: data for @callback
 *
 * Connects to QEMU: opens the connection, reads QEMU's greeting (which
 * fills #QmpClient:qemu-version and #QmpClient:capabilities), negotiates
 * capabilities and reads QEMU's state (the resync: see #QmpStopReason).
 * #QmpClient:state goes from %QMP_CLIENT_STATE_CONNECTING through
 * %QMP_CLIENT_STATE_NEGOTIATING and %QMP_CLIENT_STATE_SYNCING to
 * %QMP_CLIENT_STATE_READY. When the connect completes,
 * #QmpClient:stop-reason is set and what the resync derived was
 * delivered.
 *
 * The whole sequence must finish within #QmpClient:connect-timeout. A QMP
 * monitor serves one client at a time: while another client is connected,
 * QEMU accepts the connection but sends no greeting, and the call fails
 * with %G_IO_ERROR_TIMED_OUT. Over a UNIX socket, a path with no socket
 * fails at once (%G_IO_ERROR_NOT_FOUND), as does a file that is not a
 * socket (%G_IO_ERROR_NOT_SUPPORTED); a socket nothing listens on (the
 * QEMU that made it exited) is tried for a second, then fails with
 * %G_IO_ERROR_CONNECTION_REFUSED; one whose backlog is full (a client is
 * connected, another waits) is tried again, with a growing delay, until
 * the timeout. With #QmpClient:auto-reconnect on, a failed connect is
 * also tried again in the background (see that property).
 *
 * A client that failed to connect, or whose connection was closed, can be
 * connected again, except one made with qmp_client_new_for_stream().
 *
 * Since: 1.0
 */
void
qmp_client_connect_async (QmpClient           *client,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (called_from_client_thread (client));

  _qmp_session_connect (_qmp_client_get_session (client), cancellable, qmp_client_connect_async,
                        callback, user_data);
}

/**
 * qmp_client_connect_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_connect_async().
 *
 * Returns: %TRUE when the client is ready
 *
 * Since: 1.0
 */
gboolean
qmp_client_connect_finish (QmpClient     *client,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == qmp_client_connect_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qmp_client_connect_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects like qmp_client_connect_async() and waits for the result,
 * without running the client's main context.
 *
 * Returns: %TRUE when the client is ready
 *
 * Since: 1.0
 */
gboolean
qmp_client_connect_sync (QmpClient     *client,
                         GCancellable  *cancellable,
                         GError       **error)
{
  QmpSyncWait wait = { NULL, };
  QmpSession *session;
  gboolean ok;

  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (called_from_client_thread (client), FALSE);

  session = _qmp_client_get_session (client);
  _qmp_session_sync_begin (session, &wait);
  qmp_client_connect_async (client, cancellable, _qmp_sync_wait_ready, &wait);
  _qmp_session_sync_run (session, &wait);
  ok = qmp_client_connect_finish (client, wait.result, error);
  _qmp_session_sync_end (session, &wait);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Commands */

/* A caller's command; direct for _sync calls. */
static void
execute_user (QmpClient           *self,
              const char          *command,
              JsonObject          *arguments,
              int                  timeout_msec,
              gboolean             direct,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  QmpSession *session = _qmp_client_get_session (self);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  QmpCallFlags flags = (direct ? QMP_CALL_DIRECT : 0) | (callback != NULL ? QMP_CALL_HAS_CALLBACK : 0);

  g_task_set_source_tag (task, qmp_client_execute_async);

  if (_qmp_session_get_state (session) != QMP_CLIENT_STATE_READY && _qmp_session_is_connected (session))
    {
      g_task_return_new_error (task, QMP_ERROR, QMP_ERROR_NOT_CONNECTED,
                               "Cannot execute “%s”: the client is not ready yet", command);
      return;
    }

  _qmp_session_execute (session, command, arguments, timeout_msec, flags, cancellable, task);
}

/**
 * qmp_client_execute_async:
 * @client: a #QmpClient
 * @command: the QMP command, e.g. "query-status"
 * @arguments: (nullable): the command's arguments
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the reply
 * @user_data: data for @callback
 *
 * Sends @command with @arguments (serialised at once: the caller may
 * change or free them afterwards) and calls @callback with the reply. Uses
 * #QmpClient:command-timeout; see qmp_client_execute_full_async() for a
 * timeout of its own.
 *
 * Since: 1.0
 */
void
qmp_client_execute_async (QmpClient           *client,
                          const char          *command,
                          JsonObject          *arguments,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  qmp_client_execute_full_async (client, command, arguments, QMP_TIMEOUT_DEFAULT,
                                 cancellable, callback, user_data);
}

/**
 * qmp_client_execute_full_async:
 * @client: a #QmpClient
 * @command: the QMP command, e.g. "block-set-write-threshold"
 * @arguments: (nullable): the command's arguments
 * @timeout_msec: how long to wait for the reply, in milliseconds;
 *   %QMP_TIMEOUT_DEFAULT for #QmpClient:command-timeout, %QMP_TIMEOUT_NONE
 *   to wait as long as the connection lives
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the reply
 * @user_data: data for @callback
 *
 * Like qmp_client_execute_async(), with a timeout for this call only.
 *
 * Since: 1.0
 */
void
qmp_client_execute_full_async (QmpClient           *client,
                               const char          *command,
                               JsonObject          *arguments,
                               int                  timeout_msec,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (command != NULL && *command != '\0');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (timeout_msec >= -1);
  g_return_if_fail (called_from_client_thread (client));

  execute_user (client, command, arguments, timeout_msec, FALSE, cancellable, callback, user_data);
}

/**
 * qmp_client_execute_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_execute_async() or qmp_client_execute_full_async().
 *
 * The returned node is immutable (see json_node_seal()): it is shared with
 * the parsed message instead of copied. Use json_node_copy() to change it.
 *
 * Returns: (transfer full): the command's return value (often an empty
 *   object), or %NULL with @error set
 *
 * Since: 1.0
 */
JsonNode *
qmp_client_execute_finish (QmpClient     *client,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == qmp_client_execute_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * qmp_client_execute_full_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_execute_full_async(); the same as
 * qmp_client_execute_finish(), named for bindings that pair an async call
 * with its finish function by name.
 *
 * Returns: (transfer full): the command's return value, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
JsonNode *
qmp_client_execute_full_finish (QmpClient     *client,
                                GAsyncResult  *result,
                                GError       **error)
{
  return qmp_client_execute_finish (client, result, error);
}

/**
 * qmp_client_execute_sync:
 * @client: a #QmpClient
 * @command: the QMP command
 * @arguments: (nullable): the command's arguments
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @command and waits for its reply. Safe to call from a signal
 * handler or callback of @client: see the section on main contexts.
 *
 * Returns: (transfer full): the command's return value, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
JsonNode *
qmp_client_execute_sync (QmpClient     *client,
                         const char    *command,
                         JsonObject    *arguments,
                         GCancellable  *cancellable,
                         GError       **error)
{
  return qmp_client_execute_full_sync (client, command, arguments, QMP_TIMEOUT_DEFAULT,
                                       cancellable, error);
}

/**
 * qmp_client_execute_full_sync:
 * @client: a #QmpClient
 * @command: the QMP command
 * @arguments: (nullable): the command's arguments
 * @timeout_msec: how long to wait for the reply, in milliseconds, or
 *   %QMP_TIMEOUT_DEFAULT or %QMP_TIMEOUT_NONE
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like qmp_client_execute_sync(), with a timeout for this call only.
 *
 * Returns: (transfer full): the command's return value, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
JsonNode *
qmp_client_execute_full_sync (QmpClient     *client,
                              const char    *command,
                              JsonObject    *arguments,
                              int            timeout_msec,
                              GCancellable  *cancellable,
                              GError       **error)
{
  QmpSyncWait wait = { NULL, };
  QmpSession *session;
  JsonNode *value;

  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  g_return_val_if_fail (command != NULL && *command != '\0', NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (called_from_client_thread (client), NULL);

  g_return_val_if_fail (timeout_msec >= -1, NULL);

  session = _qmp_client_get_session (client);
  _qmp_session_sync_begin (session, &wait);
  execute_user (client, command, arguments, timeout_msec, TRUE, cancellable,
                _qmp_sync_wait_ready, &wait);
  _qmp_session_sync_run (session, &wait);
  value = qmp_client_execute_finish (client, wait.result, error);
  _qmp_session_sync_end (session, &wait);
  return value;
}

/**
 * qmp_client_get_n_pending:
 * @client: a #QmpClient
 *
 * Counts the commands sent and still waiting for their reply.
 *
 * Returns: the number of commands in flight
 *
 * Since: 1.0
 */
guint
qmp_client_get_n_pending (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return _qmp_session_get_n_calls (_qmp_client_get_session (client));
}

/* ------------------------------------------------------------------------ */
/* Closing */

/**
 * qmp_client_close_async:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is closed
 * @user_data: data for @callback
 *
 * Closes the connection. Commands in flight fail with %G_IO_ERROR_CLOSED,
 * events read but not yet delivered are dropped, and
 * #QmpClient::disconnected is emitted with a %NULL error. Closing a client
 * that is not connected does nothing and succeeds.
 *
 * Since: 1.0
 */
void
qmp_client_close_async (QmpClient           *client,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QMP_IS_CLIENT (client));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, qmp_client_close_async);
  _qmp_session_close (_qmp_client_get_session (client));
  g_task_return_boolean (task, TRUE);
}

/**
 * qmp_client_close_finish:
 * @client: a #QmpClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes qmp_client_close_async().
 *
 * Returns: %TRUE when the client is closed
 *
 * Since: 1.0
 */
gboolean
qmp_client_close_finish (QmpClient     *client,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == qmp_client_close_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * qmp_client_close_sync:
 * @client: a #QmpClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Closes the connection as qmp_client_close_async() does.
 *
 * Returns: %TRUE when the client is closed
 *
 * Since: 1.0
 */
gboolean
qmp_client_close_sync (QmpClient     *client,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);

  _qmp_session_close (_qmp_client_get_session (client));
  return TRUE;
}

