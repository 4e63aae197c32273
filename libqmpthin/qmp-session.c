/* qmp-session.c: one client's connections to QEMU, in order
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The session is the engine under QmpClient: it connects (open, greeting,
 * negotiation, then the resync the layer above runs), sends commands and
 * routes their replies to the calls waiting for them (qmp-calls.c),
 * delivers what QEMU sent in wire order from one dispatch source, closes,
 * reconnects with backoff, and lets _sync calls wait in a private context.
 * Bytes are the channel's business (qmp-channel.c), addresses the
 * address's (qmp-address.c). It reaches the client and the tracker only
 * through the hooks it was given, and knows QEMU's messages, not what
 * they mean: an event is handed up as it came.
 *
 * Delivery is ordered by one queue. Events, the replies of calls that
 * complete in order, the end of a connection and work the layers above
 * put there (the resync's findings, the effect of a _sync call's reply)
 * go out from the dispatch source, which is also the timer of the calls
 * and the writer: one source per client, however many commands.
 */

#include <qmpthin/qmp-errors.h>

#include "qmp-debug.h"
#include "qmp-session-private.h"

/* How many messages may wait for dispatch before the session stops
 * reading the socket: QEMU is then the one that buffers, so a slow
 * consumer of an event storm keeps the client's memory bounded. */
#define INCOMING_HIGH_WATER 1024

/* Messages delivered in one dispatch before other sources get a turn. */
#define DISPATCH_BUDGET 256

static void connection_lost (QmpSession *self,
                             GError     *error);

/* ------------------------------------------------------------------------ */
/* State */

const char *
_qmp_session_get_name (QmpSession *self)
{
  return self->address != NULL ? self->address : "the QMP stream";
}

/* The connect machinery runs in the connect's context, which for a _sync
 * connect is a private one, the thread-default while GTask calls the
 * machinery's callbacks. The caller's handlers it runs (of notify::state,
 * say) get the owner's context as the thread-default, so that the async
 * calls they make complete where the caller runs, not in a context
 * nobody iterates once the connect is done. */
void
_qmp_session_set_state (QmpSession     *self,
           QmpClientState  state)
{
  if (self->state == state)
    return;
  _qmp_debug ("%s: state %d -> %d", _qmp_session_get_name (self), self->state, state);
  self->state = state;
  g_main_context_push_thread_default (self->context);
  self->hooks.state_changed (self->owner);
  g_main_context_pop_thread_default (self->context);
  _qmp_session_update_responsive (self);
  _qmp_session_liveness_check (self);
}

QmpSessionConfig *
_qmp_session_get_config (QmpSession *self)
{
  return &self->config;
}

GMainContext *
_qmp_session_get_context (QmpSession *self)
{
  return self->context;
}

QmpClientState
_qmp_session_get_state (QmpSession *self)
{
  return self->state;
}

GIOStream *
_qmp_session_get_stream (QmpSession *self)
{
  return self->channel != NULL ? _qmp_channel_get_stream (self->channel) : self->initial_stream;
}

gboolean
_qmp_session_is_connected (QmpSession *self)
{
  return self->channel != NULL;
}

guint
_qmp_session_get_n_calls (QmpSession *self)
{
  return _qmp_calls_get_size (self->calls);
}

gsize
_qmp_session_get_max_message_size (QmpSession *self)
{
  return self->max_message_size;
}

void
_qmp_session_set_max_message_size (QmpSession *self,
                                   gsize       max_message_size)
{
  self->max_message_size = max_message_size;
  if (self->channel != NULL)
    _qmp_channel_set_max_message_size (self->channel, max_message_size);
}

/* ------------------------------------------------------------------------ */
/* The delivery queue */

void
_qmp_session_incoming_free (Incoming *incoming)
{
  g_clear_pointer (&incoming->message, _qmp_message_free);
  g_clear_error (&incoming->error);
  if (incoming->data_free != NULL)
    incoming->data_free (incoming->data);
  g_free (incoming);
}

Incoming *
_qmp_session_incoming_new (QmpSession   *self,
              IncomingKind  kind)
{
  Incoming *incoming = g_new0 (Incoming, 1);

  incoming->kind = kind;
  incoming->generation = self->generation;
  return incoming;
}

/* The dispatch source runs when it is due (something waits to be
 * delivered or written: a flag its prepare and check read), or at its
 * ready time (the calls' earliest deadline, or the owner's wake-up).
 *
 * A ready time of 0 would do for "due", but GLib writes to the context's
 * wake-up eventfd at every change of a ready time, and reads it back in
 * the next iteration: six system calls a round trip, more than the
 * round trip's own. The context runs prepare before it polls again, so
 * the flag needs no wake-up when the thread that sets it is the one that
 * iterates the context, as it is for every message read and every
 * command sent from a handler or a callback. */
typedef struct
{
  GSource source;
  gboolean due;
} DispatchSource;

static gboolean
dispatch_source_prepare (GSource *source,
                         int     *timeout)
{
  *timeout = -1;
  return ((DispatchSource *) source)->due;
}

static gboolean
dispatch_source_check (GSource *source)
{
  return ((DispatchSource *) source)->due;
}

static void
dispatch_soon (QmpSession *self)
{
  DispatchSource *source = (DispatchSource *) self->dispatch_source;

  if (source == NULL || source->due)
    return;
  source->due = TRUE;
  /* Nobody iterates the context now (a _sync call outside any main
   * loop), or another thread does: it may be blocked in poll(). */
  if (!g_main_context_is_owner (self->context))
    g_main_context_wakeup (self->context);
}

void
_qmp_session_schedule_dispatch (QmpSession *self)
{
  if (self->dispatch_blocker == NULL && self->incoming.length > 0 &&
      self->state != QMP_CLIENT_STATE_SYNCING)
    dispatch_soon (self);
}

/* Whether the session reads on however much is queued: a _sync call waits
 * for its reply, or a connection being set up waits for the replies of its
 * resync. What it reads meanwhile cannot all be delivered before that
 * reply, so stopping at the high water mark would stall it; the queue is
 * then bounded by what QEMU sends during one command. */
static gboolean
must_read (QmpSession *self)
{
  return self->sync_waits != NULL || self->connecting_generation != 0;
}

/* The channel's own source reads while the queue has room: it stops at
 * the high water mark, and starts again once half of it drained. */
static void
update_reading (QmpSession *self)
{
  gboolean wanted;

  if (self->channel == NULL)
    return;
  if (must_read (self))
    wanted = TRUE;
  else if (_qmp_channel_get_reading (self->channel))
    wanted = self->incoming.length < INCOMING_HIGH_WATER;
  else
    wanted = self->incoming.length < INCOMING_HIGH_WATER / 2;
  _qmp_channel_set_reading (self->channel, wanted);
}

void
_qmp_session_enqueue (QmpSession *self,
         Incoming   *incoming)
{
  g_queue_push_tail (&self->incoming, incoming);
  _qmp_session_schedule_dispatch (self);
  if (self->incoming.length >= INCOMING_HIGH_WATER)
    update_reading (self);
}

/* Runs @func at this point of the wire order: after everything read so
 * far, before what is read next. */
void
_qmp_session_deliver_in_order (QmpSession     *self,
                               QmpSessionFunc  func,
                               gpointer        data,
                               GDestroyNotify  data_free)
{
  Incoming *incoming = _qmp_session_incoming_new (self, INCOMING_DELIVER);

  incoming->func = func;
  incoming->data = data;
  incoming->data_free = data_free;
  _qmp_session_enqueue (self, incoming);
}

/* ------------------------------------------------------------------------ */
/* Writing and reading */

static void
send_command (QmpSession *self,
              const char *command,
              JsonObject *arguments,
              const char *id)
{
  g_autofree char *line = NULL;
  gsize length;

  line = _qmp_message_build_command (command, arguments, id, &length);
  /* Written from the dispatch source in the next iteration, with every
   * other command of this one. */
  if (_qmp_channel_queue (self->channel, line, length))
    dispatch_soon (self);
}

/* What the channel read, in wire order: the greeting moves the connect
 * on, the reply of a direct call completes it at once, everything else
 * waits in the queue for its turn. */
static void
on_channel_message (QmpMessage *message,
                    gpointer    user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GObject) hold G_GNUC_UNUSED = g_object_ref (self->owner);
  Incoming *incoming;

  /* Proof of life, noted for the next liveness check; the dispatch looks
   * at once when QEMU was found silent. */
  if (self->liveness_interval != 0)
    {
      self->heard = g_get_monotonic_time ();
      if (self->silent)
        dispatch_soon (self);
    }
  if (message->kind == QMP_MESSAGE_GREETING && _qmp_session_awaits_greeting (self))
    {
      _qmp_session_greeting (self, message);
      _qmp_message_free (message);
      return;
    }
  if (message->kind == QMP_MESSAGE_RETURN || message->kind == QMP_MESSAGE_ERROR)
    {
      QmpCall *call = _qmp_calls_lookup (self->calls, message->id);

      if (call != NULL && (call->flags & QMP_CALL_DIRECT))
        {
          /* Completed at once; what it changes waits for its place in the
           * order of events (a stop's STOP comes before its reply). */
          if (call->observer != NULL)
            self->hooks.command_answered (call->observer, message->kind == QMP_MESSAGE_RETURN,
                                          FALSE, self->owner);
          g_object_unref (_qmp_calls_complete_reply (self->calls, call, message));
          _qmp_message_free (message);
          return;
        }
    }
  incoming = _qmp_session_incoming_new (self, INCOMING_MESSAGE);
  incoming->message = message;
  _qmp_session_enqueue (self, incoming);
}

static void
on_channel_broken (GError   *error,
                   gpointer  user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GObject) hold G_GNUC_UNUSED = g_object_ref (self->owner);

  connection_lost (self, error);
}

static const QmpChannelHooks channel_hooks = {
  .message = on_channel_message,
  .broken = on_channel_broken,
};

/* ------------------------------------------------------------------------ */
/* Connections */

void
_qmp_session_set_connection (QmpSession *self,
                GIOStream  *stream)
{
  self->channel = _qmp_channel_new (stream, self->context, self->parser, self->max_message_size,
                                    _qmp_session_get_name (self), self->wire_trace,
                                    &channel_hooks, self);
  self->generation++;
  if (self->connect_task != NULL)
    self->connecting_generation = self->generation;
  _qmp_session_liveness_reset (self);
  self->hooks.connection_changed (TRUE, self->owner);
  update_reading (self);
}

/* Stops all I/O of the current connection and closes it. Calls and
 * queued messages are left alone. */
void
_qmp_session_shutdown (QmpSession *self)
{
  g_autoptr(QmpChannel) channel = g_steal_pointer (&self->channel);

  if (channel == NULL)
    return;
  _qmp_channel_close (channel);
  self->generation++;
  _qmp_session_liveness_reset (self);
  self->hooks.connection_changed (FALSE, self->owner);
}

/* The connection broke (EOF, reset, protocol error). Messages read before
 * the break are still delivered, in order; then the closing entry fails
 * what is left and emits ::disconnected. Calls that complete outside the
 * ordered dispatch fail at once, since their reply cannot be in the
 * queue. */
static void
connection_lost (QmpSession *self,
                 GError     *error)
{
  Incoming *incoming;

  g_assert (error != NULL);

  if (self->connect_task != NULL)
    {
      _qmp_session_shutdown (self);
      _qmp_session_connect_fail (self, error);
      return;
    }

  g_debug ("%s: connection lost: %s", _qmp_session_get_name (self), error->message);
  _qmp_session_shutdown (self);
  _qmp_calls_fail (self->calls, error, TRUE, G_MAXUINT);

  incoming = _qmp_session_incoming_new (self, INCOMING_CLOSED);
  incoming->error = error;
  _qmp_session_enqueue (self, incoming);
}

/* ------------------------------------------------------------------------ */
/* Dispatch: the only place events are handed up and queued replies
 * complete */

static void
clear_dispatch_blocker (QmpSession *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->dispatch_blocker);

  if (task != NULL)
    g_signal_handlers_disconnect_by_data (task, self);
}

static void
on_blocker_completed (GObject    *task,
                      GParamSpec *pspec,
                      gpointer    user_data)
{
  QmpSession *self = user_data;

  if (!g_task_get_completed (G_TASK (task)))
    return;
  clear_dispatch_blocker (self);
  _qmp_session_schedule_dispatch (self);
}

static void
dispatch_reply (QmpSession *self,
                QmpMessage *message)
{
  QmpCall *call = _qmp_calls_lookup (self->calls, message->id);
  const char *name = _qmp_session_get_name (self);

  if (call == NULL)
    {
      g_autofree char *id = _qmp_message_id_to_string (message->id);

      if (_qmp_calls_issued (self->calls, message->id))
        g_debug ("%s: dropping the late reply to %s (timed out, cancelled or answered already)",
                 name, id);
      else if (message->id == NULL && message->kind == QMP_MESSAGE_ERROR)
        g_debug ("%s: QEMU sent an error without an id: %s: %s",
                 name, message->error_class, message->error_desc);
      else
        g_debug ("%s: ignoring a reply with an unknown id %s", name, id);
      return;
    }

  if (call->observer != NULL)
    self->hooks.command_answered (call->observer, message->kind == QMP_MESSAGE_RETURN,
                                  TRUE, self->owner);
  if (call->flags & QMP_CALL_PROBE)
    self->probe_sent = 0;
  g_object_unref (_qmp_calls_complete_reply (self->calls, call, message));
}

static void
dispatch_closed (QmpSession *self,
                 Incoming   *incoming)
{
  _qmp_calls_fail (self->calls, incoming->error, FALSE, incoming->generation);
  /* Unless the caller already connected again. */
  if (self->channel == NULL && self->connect_task == NULL)
    _qmp_session_set_state (self, QMP_CLIENT_STATE_CLOSED);
  self->hooks.disconnected (incoming->error, self->owner);
  if (self->channel == NULL && self->connect_task == NULL)
    _qmp_session_schedule_reconnect (self);
}

void
_qmp_session_dispatch_one (QmpSession *self,
              Incoming   *incoming)
{
  QmpMessage *message = incoming->message;

  switch (incoming->kind)
    {
    case INCOMING_CLOSED:
      dispatch_closed (self, incoming);
      return;
    case INCOMING_DELIVER:
      incoming->func (incoming->data);
      return;
    case INCOMING_MESSAGE:
    default:
      break;
    }

  switch (message->kind)
    {
    case QMP_MESSAGE_EVENT:
      self->hooks.event (message, self->owner);
      break;
    case QMP_MESSAGE_RETURN:
    case QMP_MESSAGE_ERROR:
      dispatch_reply (self, message);
      break;
    case QMP_MESSAGE_GREETING:
    default:
      g_debug ("%s: ignoring an unexpected QMP greeting", _qmp_session_get_name (self));
      break;
    }
}

/* The call a queued reply completes, when its callback is what the order
 * of delivery waits for. */
static GTask *
reply_task (QmpSession *self,
            Incoming   *incoming)
{
  QmpCall *call;

  if (incoming->kind != INCOMING_MESSAGE ||
      (incoming->message->kind != QMP_MESSAGE_RETURN && incoming->message->kind != QMP_MESSAGE_ERROR))
    return NULL;
  call = _qmp_calls_lookup (self->calls, incoming->message->id);
  if (call == NULL || !(call->flags & QMP_CALL_HAS_CALLBACK) ||
      g_task_get_context (call->task) != self->context)
    return NULL;
  return call->task;
}

static gboolean
dispatch_incoming (gpointer user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GObject) hold G_GNUC_UNUSED = g_object_ref (self->owner);
  guint budget = DISPATCH_BUDGET;
  gint64 ready;

  ((DispatchSource *) self->dispatch_source)->due = FALSE;
  /* A ready time that came is done with; _qmp_calls_expire() sets the
   * next. One still to come stays, so that a command sent and answered
   * in between changes nothing (see dispatch_soon()). */
  ready = g_source_get_ready_time (self->dispatch_source);
  if (ready >= 0 && ready <= g_source_get_time (self->dispatch_source))
    g_source_set_ready_time (self->dispatch_source, -1);
  /* Before the flush: a probe goes out in this very write. */
  _qmp_session_liveness_check (self);
  if (self->channel != NULL)
    _qmp_channel_flush (self->channel);

  /* Handlers may run a nested main loop, which dispatches this source
   * again (it may recurse): each level takes the next message, so delivery
   * still starts in wire order. */
  while (budget-- > 0 && self->dispatch_blocker == NULL)
    {
      Incoming *incoming = g_queue_peek_head (&self->incoming);
      GTask *task;

      if (incoming == NULL)
        break;
      /* What a connection reads before it is ready (events that arrive
       * while resync reads QEMU's state) waits for the end of the resync;
       * what earlier connections read still goes out. */
      if (self->connecting_generation != 0 && incoming->generation == self->connecting_generation)
        break;
      g_queue_pop_head (&self->incoming);

      task = reply_task (self, incoming);
      if (task != NULL)
        g_object_ref (task);
      _qmp_session_dispatch_one (self, incoming);
      /* GTask runs the callback right away unless the task was created
       * during this very main loop iteration; then it defers it to an
       * idle, and everything after this reply must wait for it. */
      if (task != NULL && !g_task_get_completed (task))
        {
          self->dispatch_blocker = task;
          g_signal_connect (task, "notify::completed", G_CALLBACK (on_blocker_completed), self);
        }
      else if (task != NULL)
        {
          g_object_unref (task);
        }
      _qmp_session_incoming_free (incoming);
    }

  /* After the replies that were read in time. */
  _qmp_calls_expire (self->calls);
  _qmp_session_schedule_dispatch (self);
  update_reading (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
dispatch_source_dispatch (GSource     *source,
                          GSourceFunc  callback,
                          gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs dispatch_source_funcs = {
  .prepare = dispatch_source_prepare,
  .check = dispatch_source_check,
  .dispatch = dispatch_source_dispatch,
};

/* ------------------------------------------------------------------------ */
/* Commands */

/* Sends @command; @task completes with its return value. A timeout of -1
 * is the configured command timeout. */
void
_qmp_session_execute (QmpSession   *self,
                      const char   *command,
                      JsonObject   *arguments,
                      int           timeout_msec,
                      QmpCallFlags  flags,
                      GCancellable *cancellable,
                      GTask        *task)
{
  QmpCall *call;

  if (g_task_return_error_if_cancelled (task))
    return;

  /* One rule: a call made while there is no connection is NOT_CONNECTED,
   * whatever came before; G_IO_ERROR_CLOSED is for the calls the end of a
   * connection caught in flight. */
  if (self->channel == NULL)
    {
      g_task_return_new_error (task, QMP_ERROR, QMP_ERROR_NOT_CONNECTED,
                               "Cannot execute “%s”: %s is not connected%s", command,
                               _qmp_session_get_name (self),
                               self->state == QMP_CLIENT_STATE_CLOSED ? " (it was closed)" : "");
      return;
    }

  call = _qmp_calls_add (self->calls, command, task,
                         timeout_msec < 0 ? self->config.command_timeout : (guint) timeout_msec,
                         cancellable, flags, self->generation);
  if (self->hooks.command_sent != NULL)
    {
      gpointer observer = self->hooks.command_sent (command, arguments, self->owner);

      if (observer != NULL)
        _qmp_calls_observe (call, observer, self->hooks.observer_free);
    }
  send_command (self, command, arguments, call->id);
}

/* A command of the connect in progress (the negotiation, the resync's
 * questions): answered as soon as it is read, in the connect's context,
 * with no timeout of its own (the connect's covers it). */
void
_qmp_session_execute_connecting (QmpSession          *self,
                                 const char          *command,
                                 JsonObject          *arguments,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GMainContext *context = self->connect_task != NULL ? g_task_get_context (self->connect_task)
                                                     : self->context;
  g_autoptr(GTask) task = NULL;

  /* Completes in the connect's context, which may be a _sync call's. */
  g_main_context_push_thread_default (context);
  task = g_task_new (self->owner, NULL, callback, user_data);
  g_main_context_pop_thread_default (context);
  g_task_set_source_tag (task, _qmp_session_execute_connecting);
  _qmp_session_execute (self, command, arguments, 0, QMP_CALL_DIRECT | QMP_CALL_HAS_CALLBACK,
                        NULL, task);
}

/* ------------------------------------------------------------------------ */
/* _sync calls: a private context that reads and writes the connection */

static void
sync_wait_update_sources (QmpSession  *self,
                          QmpSyncWait *wait)
{
  if (wait->read_source != NULL && wait->read_channel != self->channel)
    {
      g_source_destroy (wait->read_source);
      g_clear_pointer (&wait->read_source, g_source_unref);
      wait->read_channel = NULL;
    }
  if (wait->read_source == NULL && self->channel != NULL)
    {
      wait->read_source = _qmp_channel_create_read_source (self->channel);
      g_source_attach (wait->read_source, wait->context);
      wait->read_channel = self->channel;
    }

  if (wait->write_source != NULL && g_source_is_destroyed (wait->write_source))
    g_clear_pointer (&wait->write_source, g_source_unref);
  if (wait->write_source == NULL && self->channel != NULL && _qmp_channel_has_output (self->channel))
    {
      wait->write_source = _qmp_channel_create_write_source (self->channel);
      g_source_attach (wait->write_source, wait->context);
    }
}

void
_qmp_sync_wait_ready (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  QmpSyncWait *wait = user_data;

  wait->result = g_object_ref (result);
}

/* The _sync call's task is made between _qmp_session_sync_begin() and
 * _qmp_session_sync_run(), while the private context is the
 * thread-default, so that it completes there. */
void
_qmp_session_sync_begin (QmpSession  *self,
                         QmpSyncWait *wait)
{
  wait->context = g_main_context_new ();
  g_main_context_push_thread_default (wait->context);
  self->sync_waits = g_slist_prepend (self->sync_waits, wait);
}

/* Not the thread-default while it runs: the caller's code that runs
 * meanwhile (a notify::state handler during a connect, say) and starts an
 * async call gets its callback in its own context, which goes on after
 * this returns. The library's own steps name the context they run in. */
void
_qmp_session_sync_run (QmpSession  *self,
                       QmpSyncWait *wait)
{
  g_main_context_pop_thread_default (wait->context);
  while (wait->result == NULL)
    {
      sync_wait_update_sources (self, wait);
      g_main_context_iteration (wait->context, TRUE);
    }
}

void
_qmp_session_sync_end (QmpSession  *self,
                       QmpSyncWait *wait)
{
  if (wait->read_source != NULL)
    {
      g_source_destroy (wait->read_source);
      g_source_unref (wait->read_source);
    }
  if (wait->write_source != NULL)
    {
      g_source_destroy (wait->write_source);
      g_source_unref (wait->write_source);
    }
  self->sync_waits = g_slist_remove (self->sync_waits, wait);
  /* Let anything the private context still holds (sources of completed
   * tasks) go before it is dropped. */
  while (g_main_context_iteration (wait->context, FALSE))
    ;
  g_main_context_unref (wait->context);
  g_clear_object (&wait->result);

  /* What was read meanwhile is delivered by the owner's context. */
  _qmp_session_schedule_dispatch (self);
  update_reading (self);
  if (self->channel != NULL && _qmp_channel_has_output (self->channel))
    dispatch_soon (self);
}

/* ------------------------------------------------------------------------ */
/* Closing */

/* Closes at once: calls fail, messages not yet delivered are dropped,
 * ::disconnected is emitted with a %NULL error. */
void
_qmp_session_close (QmpSession *self)
{
  g_autoptr(GError) closed = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "The client was closed");
  Incoming *incoming;
  gboolean was_connected;

  /* The caller wants it closed: no automatic reconnection either. */
  self->closed_by_caller = TRUE;
  _qmp_session_cancel_reconnect (self);

  if (self->connect_task != NULL)
    {
      _qmp_session_connect_fail (self, g_error_copy (closed));
      _qmp_session_set_state (self, QMP_CLIENT_STATE_CLOSED);
      return;
    }

  was_connected = self->channel != NULL;
  _qmp_session_shutdown (self);

  /* A closing entry still queued already failed nothing; its ::disconnected
   * is replaced by this one. */
  while ((incoming = g_queue_pop_head (&self->incoming)) != NULL)
    {
      if (incoming->kind == INCOMING_CLOSED)
        was_connected = TRUE;
      _qmp_session_incoming_free (incoming);
    }
  clear_dispatch_blocker (self);

  _qmp_calls_fail (self->calls, closed, FALSE, G_MAXUINT);
  if (was_connected)
    {
      _qmp_session_set_state (self, QMP_CLIENT_STATE_CLOSED);
      self->hooks.disconnected (NULL, self->owner);
    }
}

/* ------------------------------------------------------------------------ */
/* Construction */

/* A session for @owner, which it reaches through @hooks (their user_data
 * is @owner), in the thread-default context. It has no address yet. */
QmpSession *
_qmp_session_new (GObject               *owner,
                  const QmpSessionHooks *hooks)
{
  QmpSession *self = g_new0 (QmpSession, 1);
  const char *debug = g_getenv ("QMP_DEBUG");

  self->owner = owner;
  self->hooks = *hooks;
  self->context = g_main_context_ref_thread_default ();
  self->state = QMP_CLIENT_STATE_DISCONNECTED;
  self->max_message_size = G_MAXSSIZE;
  self->liveness_wake = -1;
  self->parser = _qmp_message_parser_new ();
  self->calls = _qmp_calls_new (self->context);
  g_queue_init (&self->incoming);

  if (debug != NULL)
    {
      const GDebugKey keys[] = { { "wire", 1 } };

      self->wire_trace = (g_parse_debug_string (debug, keys, G_N_ELEMENTS (keys)) & 1) != 0;
    }

  self->dispatch_source = g_source_new (&dispatch_source_funcs, sizeof (DispatchSource));
  g_source_set_callback (self->dispatch_source, dispatch_incoming, self, NULL);
  g_source_set_can_recurse (self->dispatch_source, TRUE);
  g_source_set_static_name (self->dispatch_source, "[qmpthin] dispatch");
  g_source_attach (self->dispatch_source, self->context);
  _qmp_calls_set_timer (self->calls, self->dispatch_source);
  return self;
}

/* Where the session connects: an address, or a stream made by the caller
 * (nullable both; set once, at the owner's construction). */
void
_qmp_session_set_address (QmpSession *self,
                          const char *address)
{
  g_assert (self->address == NULL);
  self->address = g_strdup (address);
}

void
_qmp_session_set_initial_stream (QmpSession *self,
                                 GIOStream  *stream)
{
  g_assert (self->initial_stream == NULL);
  g_set_object (&self->initial_stream, stream);
}

const char *
_qmp_session_get_address (QmpSession *self)
{
  return self->address;
}

/* The owner goes: everything closes, and nothing runs again. */
void
_qmp_session_dispose (QmpSession *self)
{
  _qmp_session_close (self);
  if (self->dispatch_source != NULL)
    {
      _qmp_calls_set_timer (self->calls, NULL);
      g_source_destroy (self->dispatch_source);
      g_clear_pointer (&self->dispatch_source, g_source_unref);
    }
}

void
_qmp_session_free (QmpSession *self)
{
  _qmp_calls_free (self->calls);
  g_queue_clear_full (&self->incoming, (GDestroyNotify) _qmp_session_incoming_free);
  g_clear_object (&self->initial_stream);
  g_clear_pointer (&self->parser, _qmp_message_parser_free);
  g_free (self->address);
  g_main_context_unref (self->context);
  g_free (self);
}
