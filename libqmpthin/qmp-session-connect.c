/* qmp-session-connect.c: getting a session connected
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The connect step machine: open the connection (the caller's stream, a
 * UNIX socket tried again while that can help, or TCP), read QEMU's
 * greeting, negotiate, let the layer above resync, then declare the
 * session ready, having delivered what the resync found. All within one
 * timeout. And automatic reconnection, a connect of nobody's, with
 * bounded exponential backoff.
 */

#include <qmpthin/qmp-errors.h>

#include "qmp-debug.h"
#include "qmp-session-private.h"

/* How long a UNIX socket that refuses connections is tried again: nothing
 * listens on it, which lasts for good when the QEMU that made it exited
 * (it leaves the file behind), and a moment only between QEMU's bind()
 * and listen(). */
#define REFUSED_RETRY_MS 1000

typedef enum {
  CONNECT_STEP_FIRST,
  CONNECT_STEP_OPEN,
  CONNECT_STEP_GREETING,
  CONNECT_STEP_NEGOTIATE,
  CONNECT_STEP_SYNC,
  CONNECT_STEP_LAST,
} ConnectStep;

typedef struct
{
  QmpSession *session;          /* unowned: the task holds its owner */
  ConnectStep step;
  GSource *timeout_source;      /* owned; in the task's context */
  GSource *cancel_source;       /* owned, nullable */
  GSource *retry_source;        /* owned, nullable: the next attempt to open */
  guint retry_delay;            /* ms before the next attempt */
  guint timeout;                /* ms for the whole connect, 0: none */
  gint64 refused_since;         /* monotonic: the first ECONNREFUSED; 0: none */
  QmpAddress *address;          /* owned, nullable: parsed when opening */
  gboolean busy;                /* the last attempt found the backlog full */
  GQueue findings;              /* Incoming*, owned: delivered on ready */
} ConnectContext;

static void connect_step (GTask *task);

static void
connect_context_free (ConnectContext *ctx)
{
  if (ctx->timeout_source != NULL)
    {
      g_source_destroy (ctx->timeout_source);
      g_source_unref (ctx->timeout_source);
    }
  if (ctx->cancel_source != NULL)
    {
      g_source_destroy (ctx->cancel_source);
      g_source_unref (ctx->cancel_source);
    }
  if (ctx->retry_source != NULL)
    {
      g_source_destroy (ctx->retry_source);
      g_source_unref (ctx->retry_source);
    }
  g_queue_clear_full (&ctx->findings, (GDestroyNotify) _qmp_session_incoming_free);
  g_clear_pointer (&ctx->address, _qmp_address_free);
  g_free (ctx);
}

/* What a connection that failed to connect had read (events sent during
 * the resync, say) is dropped with it: delivered now, it would describe a
 * state the client never reported, and the next resync reads QEMU's state
 * again anyway. */
static void
drop_connecting_incoming (QmpSession *self)
{
  GList *link = self->incoming.head;

  while (link != NULL)
    {
      GList *next = link->next;
      Incoming *incoming = link->data;

      if (incoming->generation == self->connecting_generation)
        {
          g_queue_delete_link (&self->incoming, link);
          _qmp_session_incoming_free (incoming);
        }
      link = next;
    }
  self->connecting_generation = 0;
}

/* Ends the connect in progress with an error: the session is back to
 * DISCONNECTED (never was connected) and can try again. */
void
_qmp_session_connect_fail (QmpSession *self,
              GError     *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);
  g_autoptr(GObject) hold G_GNUC_UNUSED = g_object_ref (self->owner);
  gboolean try_again;

  g_assert (task != NULL);
  /* With auto-reconnect the first connect is retried too (an agent may
   * start before its VM), unless the caller cancelled it or the address
   * can never work. An automatic attempt reschedules itself. */
  try_again = !self->reconnecting &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  self->hooks.resync_abort (self->owner);
  _qmp_session_shutdown (self);
  _qmp_calls_fail (self->calls, error, FALSE, G_MAXUINT);
  drop_connecting_incoming (self);
  _qmp_session_set_state (self, QMP_CLIENT_STATE_DISCONNECTED);
  /* Drops the timeout and cancellation sources, and the findings. */
  g_task_set_task_data (task, NULL, NULL);
  g_task_return_error (task, error);
  if (try_again)
    _qmp_session_schedule_reconnect (self);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  GTask *task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpSession *self = ctx->session;
  const char *name = _qmp_session_get_name (self);
  GError *error;

  g_clear_pointer (&ctx->timeout_source, g_source_unref);

  switch (ctx->step)
    {
    case CONNECT_STEP_GREETING:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "No QMP greeting from %s within %u ms: QEMU serves one QMP client "
                           "at a time per monitor, so another client is probably connected",
                           name, ctx->timeout);
      break;
    case CONNECT_STEP_NEGOTIATE:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "QEMU at %s did not answer qmp_capabilities within %u ms",
                           name, ctx->timeout);
      break;
    case CONNECT_STEP_SYNC:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "QEMU at %s did not answer the queries of the resync within %u ms",
                           name, ctx->timeout);
      break;
    case CONNECT_STEP_FIRST:
    case CONNECT_STEP_OPEN:
      if (ctx->busy)
        {
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "QEMU at %s did not accept the connection within %u ms: it serves "
                               "one QMP client at a time, and another one is connected with one "
                               "more waiting", name, ctx->timeout);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case CONNECT_STEP_LAST:
    default:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "Could not connect to %s within %u ms", name, ctx->timeout);
      break;
    }

  if (self->connect_task == task)
    _qmp_session_connect_fail (self, error);
  else
    g_error_free (error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_cancelled (GCancellable *cancellable,
                      gpointer      user_data)
{
  GTask *task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpSession *self = ctx->session;

  g_clear_pointer (&ctx->cancel_source, g_source_unref);
  if (self->connect_task == task)
    _qmp_session_connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     "Connecting to %s was cancelled", _qmp_session_get_name (self)));
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_retry (gpointer user_data)
{
  GTask *task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);

  g_clear_pointer (&ctx->retry_source, g_source_unref);
  connect_step (task);
  return G_SOURCE_REMOVE;
}

/* Tries the UNIX socket again after a growing delay, until the connect
 * timeout, where that can help (see _qmp_address_explain_failure()).
 * Returns FALSE when it cannot, with *failure set to the error to report,
 * if the cause has words of its own. */
static gboolean
connect_retry_later (GTask         *task,
                     const GError  *error,
                     GError       **failure)
{
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpAddressRetry retry;

  *failure = _qmp_address_explain_failure (ctx->address, error, &retry);
  ctx->busy = retry == QMP_ADDRESS_RETRY;
  if (retry == QMP_ADDRESS_RETRY_BRIEFLY)
    {
      if (ctx->refused_since == 0)
        ctx->refused_since = g_get_monotonic_time ();
      if (g_get_monotonic_time () - ctx->refused_since >= REFUSED_RETRY_MS * 1000)
        retry = QMP_ADDRESS_FAILED;
    }
  if (retry == QMP_ADDRESS_FAILED || ctx->timeout == 0)
    return FALSE;
  g_clear_error (failure);

  ctx->retry_delay = ctx->retry_delay == 0 ? 10 : MIN (ctx->retry_delay * 2, 500);
  g_debug ("%s: %s; trying again in %u ms", _qmp_session_get_name (ctx->session), error->message,
           ctx->retry_delay);
  ctx->retry_source = g_timeout_source_new (ctx->retry_delay);
  g_source_set_callback (ctx->retry_source, on_connect_retry, task, NULL);
  g_source_set_static_name (ctx->retry_source, "[qmpthin] connect retry");
  g_source_attach (ctx->retry_source, g_task_get_context (task));
  return TRUE;
}

/* Records the socket file's identity and whether it changed: QEMU
 * creates it anew when it starts, so another one is another QEMU. */
static void
note_socket_identity (QmpSession     *self,
                      ConnectContext *ctx)
{
  QmpSocketIdentity identity;

  self->new_instance = FALSE;
  if (!_qmp_address_read_identity (ctx->address, &identity))
    return;
  self->new_instance = !_qmp_socket_identity_equal (&self->socket_identity, &identity);
  self->socket_identity = identity;
}

/* Where opening the socket ends, @stream or @error. */
static void
connect_opened (GTask        *task,
                GIOStream    *stream,
                const GError *error)
{
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpSession *self = ctx->session;

  if (stream == NULL)
    {
      GError *failure = NULL;

      if (connect_retry_later (task, error, &failure))
        return;
      if (failure == NULL)
        {
          failure = g_error_copy (error);
          g_prefix_error (&failure, "Could not connect to %s: ", _qmp_session_get_name (self));
        }
      _qmp_session_connect_fail (self, failure);
      return;
    }

  note_socket_identity (self, ctx);
  _qmp_session_set_connection (self, stream);
  ctx->step++;
  connect_step (task);
}

static void
connect_open_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (ctx == NULL || ctx->session->connect_task != task)
    return;   /* timed out or cancelled meanwhile */
  connect_opened (task, G_IO_STREAM (connection), error);
}

static void
negotiate_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;

  value = g_task_propagate_pointer (G_TASK (result), &error);
  if (ctx == NULL || ctx->session->connect_task != task)
    return;
  if (value == NULL)
    {
      if (error->domain == QMP_COMMAND_ERROR)
        _qmp_session_connect_fail (ctx->session, g_error_new (QMP_ERROR, QMP_ERROR_NEGOTIATION_FAILED,
                                                 "QEMU refused qmp_capabilities: %s", error->message));
      else
        _qmp_session_connect_fail (ctx->session, g_steal_pointer (&error));
      return;
    }

  ctx->step++;
  connect_step (task);
}

void
_qmp_session_greeting (QmpSession *self,
                 QmpMessage *message)
{
  GTask *task = self->connect_task;
  ConnectContext *ctx = g_task_get_task_data (task);

  g_main_context_push_thread_default (self->context);
  self->hooks.greeting (message, self->owner);
  g_main_context_pop_thread_default (self->context);

  if (self->connect_task != task)
    return;   /* a notify handler closed the client */
  ctx->step++;
  connect_step (task);
}

/* A finding of the resync, delivered before the connect completes, in
 * the order given: the stop reason, the derived events. */
void
_qmp_session_deliver_on_ready (QmpSession     *self,
                               QmpSessionFunc  func,
                               gpointer        data,
                               GDestroyNotify  data_free)
{
  ConnectContext *ctx = self->connect_task != NULL ? g_task_get_task_data (self->connect_task) : NULL;
  Incoming *incoming = _qmp_session_incoming_new (self, INCOMING_DELIVER);

  incoming->on_ready = TRUE;
  incoming->func = func;
  incoming->data = data;
  incoming->data_free = data_free;
  if (ctx == NULL)
    {
      /* No connect to wait for: in order, like everything else. */
      _qmp_session_enqueue (self, incoming);
      return;
    }
  g_queue_push_tail (&ctx->findings, incoming);
}

static void
emit_reconnected (gpointer data)
{
  QmpSession *self = data;

  self->hooks.reconnected (self->new_instance, self->owner);
}

/* The resync is over: its findings go to the head of the queue, then
 * ::reconnected, so that its handlers run once everything missed was
 * told; the events that arrived during the resync follow. */
void
_qmp_session_resync_done (QmpSession *self,
                          GError     *error)
{
  GTask *task = self->connect_task;
  ConnectContext *ctx = task != NULL ? g_task_get_task_data (task) : NULL;
  Incoming *incoming;

  if (ctx == NULL)
    {
      /* The connect is over already. */
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    {
      _qmp_session_connect_fail (self, error);
      return;
    }
  g_return_if_fail (ctx->step == CONNECT_STEP_SYNC);

  if (self->reconnecting)
    {
      incoming = _qmp_session_incoming_new (self, INCOMING_DELIVER);
      incoming->on_ready = TRUE;
      incoming->func = emit_reconnected;
      incoming->data = self;
      g_queue_push_tail (&ctx->findings, incoming);
    }
  while ((incoming = g_queue_pop_tail (&ctx->findings)) != NULL)
    {
      incoming->generation = self->generation;
      g_queue_push_head (&self->incoming, incoming);
    }
  ctx->step++;
  connect_step (task);
}

/* Delivers the head of the queue that the resync put there. */
static void
deliver_findings (QmpSession *self)
{
  guint generation = self->generation;
  Incoming *incoming;

  g_main_context_push_thread_default (self->context);
  while (self->generation == generation && self->dispatch_blocker == NULL &&
         (incoming = g_queue_peek_head (&self->incoming)) != NULL &&
         incoming->generation == generation && incoming->on_ready)
    {
      g_queue_pop_head (&self->incoming);
      _qmp_session_dispatch_one (self, incoming);
      _qmp_session_incoming_free (incoming);
    }
  g_main_context_pop_thread_default (self->context);
}

/* Opens the connection: the caller's stream, a UNIX socket at once, or
 * TCP through GSocketClient. Returns FALSE when the step completes later
 * (or failed). */
static gboolean
connect_open (GTask *task)
{
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpSession *self = ctx->session;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) socket_client = NULL;

  if (self->initial_stream != NULL)
    {
      g_autoptr(GIOStream) stream = g_steal_pointer (&self->initial_stream);

      _qmp_session_set_connection (self, stream);
      return TRUE;
    }
  if (self->address == NULL)
    {
      _qmp_session_connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                       "A client made for a stream cannot connect again"));
      return FALSE;
    }
  if (ctx->address == NULL)
    ctx->address = _qmp_address_parse (self->address, &error);
  if (ctx->address == NULL)
    {
      _qmp_session_connect_fail (self, g_steal_pointer (&error));
      return FALSE;
    }
  if (_qmp_address_get_path (ctx->address) != NULL)
    {
      g_autoptr(GIOStream) stream = _qmp_address_open_unix (ctx->address, &error);

      if (stream != NULL || error != NULL)
        {
          connect_opened (task, stream, error);
          return FALSE;
        }
    }
  /* Completes in the connect's context, which may be a _sync call's (not
   * the thread-default while it runs). */
  socket_client = g_socket_client_new ();
  g_main_context_push_thread_default (g_task_get_context (task));
  g_socket_client_connect_async (socket_client, _qmp_address_get_connectable (ctx->address),
                                 g_task_get_cancellable (task),
                                 connect_open_ready, g_object_ref (task));
  g_main_context_pop_thread_default (g_task_get_context (task));
  return FALSE;
}

static void
connect_step (GTask *task)
{
  ConnectContext *ctx = g_task_get_task_data (task);
  QmpSession *self = ctx->session;

  switch (ctx->step)
    {
    case CONNECT_STEP_FIRST:
      _qmp_session_set_state (self, QMP_CLIENT_STATE_CONNECTING);
      ctx->step++;
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_OPEN:
      if (!connect_open (task))
        return;
      ctx->step++;
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_GREETING:
      /* _qmp_session_greeting() moves on when QEMU's first line is read. */
      return;

    case CONNECT_STEP_NEGOTIATE:
      _qmp_session_set_state (self, QMP_CLIENT_STATE_NEGOTIATING);
      if (self->connect_task != task)
        return;   /* a notify handler closed the client */
      _qmp_session_execute_connecting (self, "qmp_capabilities", NULL, negotiate_ready,
                                       g_object_ref (task));
      /* The resync's first question goes in the same write. */
      self->hooks.resync_begin (self->new_instance, self->owner);
      return;

    case CONNECT_STEP_SYNC:
      _qmp_session_set_state (self, QMP_CLIENT_STATE_SYNCING);
      if (self->connect_task != task)
        return;
      self->hooks.resync_run (self->owner);
      return;

    case CONNECT_STEP_LAST:
      {
        g_autoptr(GTask) done = g_steal_pointer (&self->connect_task);

        /* Drops the timeout and cancellation sources. */
        g_task_set_task_data (done, NULL, NULL);
        self->connecting_generation = 0;
        _qmp_session_set_state (self, QMP_CLIENT_STATE_READY);
        /* What the resync found is told before the connect completes:
         * a caller that reads the stop reason once connected has heard of
         * every change first. The events QEMU sent meanwhile follow. */
        deliver_findings (self);
        _qmp_session_schedule_dispatch (self);
        g_task_return_boolean (done, TRUE);
        return;
      }

    default:
      g_assert_not_reached ();
    }
}

static void
connect_start (QmpSession          *self,
               GCancellable        *cancellable,
               gpointer             source_tag,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ConnectContext *ctx;
  guint timeout;

  task = g_task_new (self->owner, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  if (self->connect_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Already connecting to %s", _qmp_session_get_name (self));
      return;
    }
  if (self->channel != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               "Already connected to %s", _qmp_session_get_name (self));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  ctx = g_new0 (ConnectContext, 1);
  ctx->session = self;
  ctx->step = CONNECT_STEP_FIRST;
  g_queue_init (&ctx->findings);
  g_task_set_task_data (task, ctx, (GDestroyNotify) connect_context_free);
  self->connect_task = g_object_ref (task);

  /* An automatic attempt is nobody's call: unbounded, its task would keep
   * the client, and QEMU's monitor, after the caller dropped it. */
  timeout = self->config.connect_timeout;
  if (timeout == 0 && self->reconnecting)
    timeout = self->config.automatic_connect_timeout;
  ctx->timeout = timeout;
  if (timeout > 0)
    {
      ctx->timeout_source = g_timeout_source_new (timeout);
      g_source_set_callback (ctx->timeout_source, on_connect_timeout, task, NULL);
      g_source_set_static_name (ctx->timeout_source, "[qmpthin] connect timeout");
      g_source_attach (ctx->timeout_source, g_task_get_context (task));
    }
  if (cancellable != NULL)
    {
      ctx->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (ctx->cancel_source, G_SOURCE_FUNC (on_connect_cancelled), task, NULL);
      g_source_attach (ctx->cancel_source, g_task_get_context (task));
    }

  connect_step (task);
}

/* ------------------------------------------------------------------------ */
/* Automatic reconnection */

void
_qmp_session_cancel_reconnect (QmpSession *self)
{
  if (self->reconnect_source != NULL)
    {
      g_source_destroy (self->reconnect_source);
      g_clear_pointer (&self->reconnect_source, g_source_unref);
    }
}

static void
reconnect_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GError) error = NULL;

  self->reconnecting = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_debug ("%s: reconnecting failed: %s", _qmp_session_get_name (self), error->message);
      _qmp_session_schedule_reconnect (self);
      return;
    }
  /* ::reconnected follows what the resync derived, in the queue. */
  self->reconnect_attempt = 0;
  if (self->new_instance)
    g_debug ("%s: reconnected to a new QEMU instance", _qmp_session_get_name (self));
}

static gboolean
on_reconnect (gpointer user_data)
{
  QmpSession *self = user_data;

  g_clear_pointer (&self->reconnect_source, g_source_unref);
  self->reconnecting = TRUE;
  connect_start (self, NULL, on_reconnect, reconnect_ready, self);
  return G_SOURCE_REMOVE;
}

/* Bounded exponential backoff with jitter: attempt n waits between half and
 * all of min(max, min * 2^n), so that many clients of a restarted host do
 * not reconnect in lockstep. */
void
_qmp_session_schedule_reconnect (QmpSession *self)
{
  guint64 delay;

  if (!self->auto_reconnect || self->closed_by_caller || self->address == NULL ||
      self->reconnect_source != NULL || self->channel != NULL || self->connect_task != NULL ||
      self->dispatch_source == NULL)
    return;

  delay = (guint64) MAX (self->config.reconnect_min_delay, 1) << MIN (self->reconnect_attempt, 30);
  delay = MIN (delay, MAX (self->config.reconnect_max_delay, self->config.reconnect_min_delay));
  delay = delay / 2 + g_random_int_range (0, (gint32) (delay / 2) + 1);
  self->reconnect_attempt++;

  g_debug ("%s: reconnecting in %" G_GUINT64_FORMAT " ms (attempt %u)",
           _qmp_session_get_name (self), delay, self->reconnect_attempt);
  self->reconnect_source = g_timeout_source_new ((guint) delay);
  g_source_set_callback (self->reconnect_source, on_reconnect, self, NULL);
  g_source_set_static_name (self->reconnect_source, "[qmpthin] reconnect");
  g_source_attach (self->reconnect_source, self->context);
}

gboolean
_qmp_session_get_auto_reconnect (QmpSession *self)
{
  return self->auto_reconnect;
}

void
_qmp_session_set_auto_reconnect (QmpSession *self,
                                 gboolean    auto_reconnect)
{
  self->auto_reconnect = auto_reconnect;
  if (!auto_reconnect)
    _qmp_session_cancel_reconnect (self);
}

/* A connect of the caller's: it allows automatic reconnection again, and
 * replaces a pending automatic attempt. */
void
_qmp_session_connect (QmpSession          *self,
                      GCancellable        *cancellable,
                      gpointer             source_tag,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  self->closed_by_caller = FALSE;
  _qmp_session_cancel_reconnect (self);
  connect_start (self, cancellable, source_tag, callback, user_data);
}


/* Whether the connect in progress waits for QEMU's greeting. */
gboolean
_qmp_session_awaits_greeting (QmpSession *self)
{
  ConnectContext *ctx;

  if (self->connect_task == NULL)
    return FALSE;
  ctx = g_task_get_task_data (self->connect_task);
  return ctx->step == CONNECT_STEP_GREETING;
}
