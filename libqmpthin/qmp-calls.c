/* qmp-calls.c: the commands waiting for QEMU's reply
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The table of calls in flight, keyed by the id each command was sent
 * with, their timeouts and cancellations, and the one path that completes
 * a call: whatever ends it (QEMU's reply, its error, a timeout, a
 * cancellation, the end of the connection), _qmp_calls_complete() takes
 * it out of the table first, so nothing can complete it twice.
 *
 * No I/O and no client: the session sends the commands and routes the
 * replies here.
 */

#include <string.h>

#include <qmpthin/qmp-errors.h>

#include "qmp-calls.h"
#include "qmp-errors-private.h"


struct _QmpCalls
{
  GMainContext *context;        /* owned: the session's */
  /* The session's dispatch source, which is also the timer of every call
   * that completes in its context; unowned, NULL once it is gone. */
  GSource *timer;
  /* When the timer's owner wants it to wake for a reason of its own (the
   * session's liveness check), monotonic; -1 for never. The timer keeps
   * it when the calls' deadlines go. */
  gint64 owner_wake;
  GHashTable *table;            /* id -> QmpCall*, owned */
  /* "qmpthin-" and a random token: QEMU gives the reply to a command of
   * a client that went away to the next client of its monitor (before
   * its greeting, or after), which may be another QmpClient, or another
   * process after an agent's restart; with its own token, a table never
   * takes such a reply for one of its calls. */
  char *id_prefix;              /* owned */
  guint64 next_serial;
  GQueue timed;                 /* QmpCall with a deadline, earliest first */
};

QmpCalls *
_qmp_calls_new (GMainContext *context)
{
  QmpCalls *calls = g_new0 (QmpCalls, 1);

  calls->context = g_main_context_ref (context);
  calls->table = g_hash_table_new (g_str_hash, g_str_equal);
  calls->id_prefix = g_strdup_printf ("qmpthin-%08" G_GINT32_MODIFIER "x-", g_random_int ());
  calls->next_serial = 1;
  calls->owner_wake = -1;
  g_queue_init (&calls->timed);
  return calls;
}

void
_qmp_calls_free (QmpCalls *calls)
{
  /* Every call holds its client: none can be left when it goes. */
  g_assert (g_hash_table_size (calls->table) == 0);
  g_hash_table_unref (calls->table);
  g_main_context_unref (calls->context);
  g_free (calls->id_prefix);
  g_free (calls);
}

void
_qmp_calls_set_timer (QmpCalls *calls,
                      GSource  *timer)
{
  calls->timer = timer;
}

guint
_qmp_calls_get_size (QmpCalls *calls)
{
  return g_hash_table_size (calls->table);
}

static void
call_free (QmpCall *call)
{
  QmpCalls *calls = call->calls;

  /* The timer keeps a deadline that is gone: the one dispatch it costs
   * when it comes finds nothing expired and sets the next wake-up
   * (_qmp_calls_expire()). Moving it here would write to the context's
   * wake-up eventfd for every command answered. */
  if (call->timed_link != NULL)
    g_queue_delete_link (&calls->timed, call->timed_link);
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_source_unref (call->timeout_source);
    }
  if (call->cancel_source != NULL)
    {
      g_source_destroy (call->cancel_source);
      g_source_unref (call->cancel_source);
    }
  if (call->observer_free != NULL)
    call->observer_free (call->observer);
  g_clear_object (&call->task);
  g_free (call->command);
  g_free (call->id);
  g_free (call);
}

/* Takes the call out of the table and completes its task with @value
 * (transfer full) or @error (transfer full). Returns the task, for the
 * caller to check whether the callback already ran. */
GTask *
_qmp_calls_complete (QmpCalls *calls,
                     QmpCall  *call,
                     JsonNode *value,
                     GError   *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&call->task);

  g_hash_table_steal (calls->table, call->id);
  call_free (call);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) json_node_unref);
  return g_steal_pointer (&task);
}

/* Completes the call with QEMU's @reply: its return value, or its error
 * as a #QMP_COMMAND_ERROR. */
GTask *
_qmp_calls_complete_reply (QmpCalls   *calls,
                           QmpCall    *call,
                           QmpMessage *reply)
{
  if (reply->kind == QMP_MESSAGE_RETURN)
    {
      /* Shared with the caller: sealed, so json_node_copy() shares it too
       * and nobody changes what another reads. */
      json_node_seal (reply->value);
      return _qmp_calls_complete (calls, call, json_node_ref (reply->value), NULL);
    }
  return _qmp_calls_complete (calls, call, NULL,
                              _qmp_command_error_new (reply->error_class, reply->error_desc));
}

static void
call_time_out (QmpCall *call)
{
  GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "No reply from QEMU to “%s” within %u ms",
                               call->command, call->timeout);

  g_object_unref (_qmp_calls_complete (call->calls, call, NULL, error));
}

static gboolean
on_call_timeout (gpointer user_data)
{
  call_time_out (user_data);
  return G_SOURCE_REMOVE;
}

/* The timer wakes at @time at the latest. */
static void
wake_at (QmpCalls *calls,
         gint64    time)
{
  gint64 current;

  if (calls->timer == NULL)
    return;
  current = g_source_get_ready_time (calls->timer);
  if (current < 0 || time < current)
    g_source_set_ready_time (calls->timer, time);
}

/* One timer for every call completing in the session's context: a
 * GSource per command (created, attached, destroyed) was some 4,000
 * instructions of each round trip. Commands mostly share one timeout, so
 * a new deadline usually goes last. */
static void
timed_add (QmpCalls *calls,
           QmpCall  *call)
{
  GList *before = calls->timed.tail;

  while (before != NULL && ((QmpCall *) before->data)->deadline > call->deadline)
    before = before->prev;
  call->timed_link = g_list_alloc ();
  call->timed_link->data = call;
  if (before == NULL)
    g_queue_push_head_link (&calls->timed, call->timed_link);
  else
    g_queue_insert_after_link (&calls->timed, before, call->timed_link);
  if (calls->timed.head == call->timed_link)
    wake_at (calls, call->deadline);
}

/* The timer wakes at @time (monotonic; -1: never) for its owner, besides
 * the calls' deadlines. */
void
_qmp_calls_set_owner_wake (QmpCalls *calls,
                           gint64    time)
{
  calls->owner_wake = time;
  if (time >= 0)
    wake_at (calls, time);
}

/* From the timer: fails the calls past their deadline, and sets the next
 * wake-up. */
void
_qmp_calls_expire (QmpCalls *calls)
{
  QmpCall *head;
  gint64 now;

  if (calls->owner_wake >= 0)
    wake_at (calls, calls->owner_wake);
  if (calls->timed.length == 0)
    return;
  now = g_get_monotonic_time ();
  while ((head = g_queue_peek_head (&calls->timed)) != NULL && head->deadline <= now)
    call_time_out (head);
  if (head != NULL)
    wake_at (calls, head->deadline);
}

static gboolean
on_call_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  QmpCall *call = user_data;
  GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Command “%s” was cancelled", call->command);

  g_object_unref (_qmp_calls_complete (call->calls, call, NULL, error));
  return G_SOURCE_REMOVE;
}

/* A new call of @command, sent on connection @generation, that @task
 * waits for: the caller sends the command with the call's id. A timeout
 * of 0 waits as long as the connection lives. */
QmpCall *
_qmp_calls_add (QmpCalls     *calls,
                const char   *command,
                GTask        *task,
                guint         timeout_ms,
                GCancellable *cancellable,
                QmpCallFlags  flags,
                guint         generation)
{
  QmpCall *call = g_new0 (QmpCall, 1);
  GMainContext *context = g_task_get_context (task);

  call->calls = calls;
  call->id = g_strdup_printf ("%s%" G_GUINT64_FORMAT, calls->id_prefix, calls->next_serial++);
  call->command = g_strdup (command);
  call->task = g_object_ref (task);
  call->flags = flags;
  call->timeout = timeout_ms;
  call->generation = generation;

  if (timeout_ms > 0 && context == calls->context)
    {
      call->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
      timed_add (calls, call);
    }
  else if (timeout_ms > 0)
    {
      /* Elsewhere (a _sync call's private context), a source of its own. */
      call->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (call->timeout_source, on_call_timeout, call, NULL);
      g_source_set_static_name (call->timeout_source, "[qmpthin] command timeout");
      g_source_attach (call->timeout_source, context);
    }
  if (cancellable != NULL)
    {
      call->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (call->cancel_source, G_SOURCE_FUNC (on_call_cancelled), call, NULL);
      g_source_set_static_name (call->cancel_source, "[qmpthin] command cancel");
      g_source_attach (call->cancel_source, context);
    }

  g_hash_table_insert (calls->table, call->id, call);
  return call;
}

/* Attaches @observer to @call, freed with @observer_free when the call
 * completes, however it does. */
void
_qmp_calls_observe (QmpCall        *call,
                    gpointer        observer,
                    GDestroyNotify  observer_free)
{
  g_assert (call->observer == NULL);
  call->observer = observer;
  call->observer_free = observer_free;
}

static const char *
id_string (JsonNode *id)
{
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (id);
}

/* The call a reply with @id answers, if it is still waiting. */
QmpCall *
_qmp_calls_lookup (QmpCalls *calls,
                   JsonNode *id)
{
  const char *key = id_string (id);

  return key != NULL ? g_hash_table_lookup (calls->table, key) : NULL;
}

/* Whether @id is one this table gave out: a reply to it that finds no
 * call comes late (the call timed out or was cancelled), not from
 * nowhere. */
gboolean
_qmp_calls_issued (QmpCalls *calls,
                   JsonNode *id)
{
  const char *key = id_string (id);

  return key != NULL && g_str_has_prefix (key, calls->id_prefix) &&
         g_ascii_strtoull (key + strlen (calls->id_prefix), NULL, 10) < calls->next_serial;
}

/* Fails the calls sent on connections up to @max_generation with
 * G_IO_ERROR_CLOSED; with @direct_only, only those completed outside the
 * ordered dispatch. */
void
_qmp_calls_fail (QmpCalls     *calls,
                 const GError *reason,
                 gboolean      direct_only,
                 guint         max_generation)
{
  GHashTableIter iter;
  QmpCall *call;
  g_autoptr(GPtrArray) failing = g_ptr_array_new_with_free_func (g_free);

  g_hash_table_iter_init (&iter, calls->table);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    if ((!direct_only || (call->flags & QMP_CALL_DIRECT)) && call->generation <= max_generation)
      g_ptr_array_add (failing, g_strdup (call->id));

  /* Completing runs callbacks, which may add calls (not on a connection
   * that is gone) or end others (closing the client): each is looked up
   * again before it is failed. */
  for (guint i = 0; i < failing->len; i++)
    {
      call = g_hash_table_lookup (calls->table, failing->pdata[i]);
      if (call == NULL)
        continue;
      g_object_unref (_qmp_calls_complete (calls, call, NULL,
                                           g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                        "Connection to QEMU closed before “%s” was answered%s%s",
                                                        call->command,
                                                        reason ? ": " : "",
                                                        reason ? reason->message : "")));
    }
}
