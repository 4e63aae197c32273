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

#include "qmp-address.h"
#include "qmp-channel.h"
#include "qmp-debug.h"
#include "qmp-session.h"

/* How many messages may wait for dispatch before the session stops
 * reading the socket: QEMU is then the one that buffers, so a slow
 * consumer of an event storm keeps the client's memory bounded. */
#define INCOMING_HIGH_WATER 1024

/* Messages delivered in one dispatch before other sources get a turn. */
#define DISPATCH_BUDGET 256

/* How long a UNIX socket that refuses connections is tried again: nothing
 * listens on it, which lasts for good when the QEMU that made it exited
 * (it leaves the file behind), and a moment only between QEMU's bind()
 * and listen(). */
#define REFUSED_RETRY_MS 1000

typedef enum {
  INCOMING_MESSAGE,             /* what QEMU sent */
  INCOMING_CLOSED,              /* the connection ended */
  INCOMING_DELIVER,             /* work of a layer above, at its place */
} IncomingKind;

/* One entry of the delivery queue, in wire order. */
typedef struct
{
  IncomingKind kind;
  guint generation;             /* the connection it belongs to */
  gboolean on_ready;            /* a resync finding: out before the connect completes */
  QmpMessage *message;          /* INCOMING_MESSAGE */
  GError *error;                /* INCOMING_CLOSED: why (never NULL) */
  QmpSessionFunc func;          /* INCOMING_DELIVER */
  gpointer data;
  GDestroyNotify data_free;
} Incoming;

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

struct _QmpSession
{
  GObject *owner;               /* unowned: owns the session; the source of its tasks */
  QmpSessionHooks hooks;
  QmpSessionConfig config;

  /* Set at construction, then constant. */
  char *address;                /* nullable for a caller's stream */
  GMainContext *context;        /* owned: where the owner lives */
  gboolean wire_trace;

  /* A caller's stream not yet connected; consumed by the first connect. */
  GIOStream *initial_stream;    /* owned, nullable */

  QmpClientState state;
  gsize max_message_size;

  QmpChannel *channel;          /* owned, nullable: the connection */
  guint generation;             /* bumped when a connection opens or ends */
  /* The connection being connected: what it delivers waits until it is
   * ready, and is dropped if it never gets there. 0: none. */
  guint connecting_generation;
  QmpMessageParser *parser;     /* owned, kept across connections */

  /* What was read and waits to be delivered, in wire order (Incoming*). */
  GQueue incoming;
  GSource *dispatch_source;     /* owned; in context */
  /* A reply whose callback GTask deferred to an idle: nothing after it is
   * delivered until that callback ran. */
  GTask *dispatch_blocker;      /* owned, nullable */
  QmpCalls *calls;              /* owned */

  GTask *connect_task;          /* owned, nullable: the connect in progress */
  GSList *sync_waits;           /* QmpSyncWait*, unowned, innermost first */

  /* Reconnecting after a lost connection. */
  gboolean auto_reconnect;
  guint reconnect_attempt;      /* attempts since the connection was lost */
  GSource *reconnect_source;    /* owned, nullable: the next attempt; in context */
  gboolean reconnecting;        /* the connect in progress is an automatic one */
  gboolean closed_by_caller;    /* no automatic reconnection until connect */
  QmpSocketIdentity socket_identity;  /* of the last connection's socket file */
  gboolean new_instance;        /* the last connect reached a new server */
};

static void connection_lost (QmpSession *self,
                             GError     *error);
static void connect_step    (GTask      *task);
static void connect_fail    (QmpSession *self,
                             GError     *error);
static void schedule_reconnect (QmpSession *self);

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
static void
set_state (QmpSession     *self,
           QmpClientState  state)
{
  if (self->state == state)
    return;
  _qmp_debug ("%s: state %d -> %d", _qmp_session_get_name (self), self->state, state);
  self->state = state;
  g_main_context_push_thread_default (self->context);
  self->hooks.state_changed (self->owner);
  g_main_context_pop_thread_default (self->context);
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

static void
incoming_free (Incoming *incoming)
{
  g_clear_pointer (&incoming->message, _qmp_message_free);
  g_clear_error (&incoming->error);
  if (incoming->data_free != NULL)
    incoming->data_free (incoming->data);
  g_free (incoming);
}

static Incoming *
incoming_new (QmpSession   *self,
              IncomingKind  kind)
{
  Incoming *incoming = g_new0 (Incoming, 1);

  incoming->kind = kind;
  incoming->generation = self->generation;
  return incoming;
}

static void
schedule_dispatch (QmpSession *self)
{
  if (self->dispatch_blocker == NULL && self->incoming.length > 0 &&
      self->state != QMP_CLIENT_STATE_SYNCING && self->dispatch_source != NULL)
    g_source_set_ready_time (self->dispatch_source, 0);
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

static void
enqueue (QmpSession *self,
         Incoming   *incoming)
{
  g_queue_push_tail (&self->incoming, incoming);
  schedule_dispatch (self);
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
  Incoming *incoming = incoming_new (self, INCOMING_DELIVER);

  incoming->func = func;
  incoming->data = data;
  incoming->data_free = data_free;
  enqueue (self, incoming);
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
  if (_qmp_channel_queue (self->channel, line, length) && self->dispatch_source != NULL)
    g_source_set_ready_time (self->dispatch_source, 0);
}

static void handle_greeting (QmpSession *self,
                             QmpMessage *message);

/* What the channel read, in wire order: the greeting moves the connect
 * on, the reply of a direct call completes it at once, everything else
 * waits in the queue for its turn. */
static void
on_channel_message (QmpMessage *message,
                    gpointer    user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GObject) hold = g_object_ref (self->owner);
  Incoming *incoming;

  if (message->kind == QMP_MESSAGE_GREETING && self->connect_task != NULL &&
      ((ConnectContext *) g_task_get_task_data (self->connect_task))->step == CONNECT_STEP_GREETING)
    {
      handle_greeting (self, message);
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
  incoming = incoming_new (self, INCOMING_MESSAGE);
  incoming->message = message;
  enqueue (self, incoming);
}

static void
on_channel_broken (GError   *error,
                   gpointer  user_data)
{
  QmpSession *self = user_data;
  g_autoptr(GObject) hold = g_object_ref (self->owner);

  connection_lost (self, error);
}

static const QmpChannelHooks channel_hooks = {
  .message = on_channel_message,
  .broken = on_channel_broken,
};

/* ------------------------------------------------------------------------ */
/* Connections */

static void
set_connection (QmpSession *self,
                GIOStream  *stream)
{
  self->channel = _qmp_channel_new (stream, self->context, self->parser, self->max_message_size,
                                    _qmp_session_get_name (self), self->wire_trace,
                                    &channel_hooks, self);
  self->generation++;
  if (self->connect_task != NULL)
    self->connecting_generation = self->generation;
  self->hooks.connection_changed (TRUE, self->owner);
  update_reading (self);
}

/* Stops all I/O of the current connection and closes it. Calls and
 * queued messages are left alone. */
static void
connection_shutdown (QmpSession *self)
{
  g_autoptr(QmpChannel) channel = g_steal_pointer (&self->channel);

  if (channel == NULL)
    return;
  _qmp_channel_close (channel);
  self->generation++;
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
      connection_shutdown (self);
      connect_fail (self, error);
      return;
    }

  g_debug ("%s: connection lost: %s", _qmp_session_get_name (self), error->message);
  connection_shutdown (self);
  _qmp_calls_fail (self->calls, error, TRUE, G_MAXUINT);

  incoming = incoming_new (self, INCOMING_CLOSED);
  incoming->error = error;
  enqueue (self, incoming);
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
  schedule_dispatch (self);
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
  g_object_unref (_qmp_calls_complete_reply (self->calls, call, message));
}

static void
dispatch_closed (QmpSession *self,
                 Incoming   *incoming)
{
  _qmp_calls_fail (self->calls, incoming->error, FALSE, incoming->generation);
  /* Unless the caller already connected again. */
  if (self->channel == NULL && self->connect_task == NULL)
    set_state (self, QMP_CLIENT_STATE_CLOSED);
  self->hooks.disconnected (incoming->error, self->owner);
  if (self->channel == NULL && self->connect_task == NULL)
    schedule_reconnect (self);
}

static void
dispatch_one (QmpSession *self,
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
  g_autoptr(GObject) hold = g_object_ref (self->owner);
  guint budget = DISPATCH_BUDGET;

  g_source_set_ready_time (self->dispatch_source, -1);
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
      dispatch_one (self, incoming);
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
      incoming_free (incoming);
    }

  /* After the replies that were read in time. */
  _qmp_calls_expire (self->calls);
  schedule_dispatch (self);
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
  schedule_dispatch (self);
  update_reading (self);
  if (self->channel != NULL && _qmp_channel_has_output (self->channel) && self->dispatch_source != NULL)
    g_source_set_ready_time (self->dispatch_source, 0);
}

/* ------------------------------------------------------------------------ */
/* Connecting */

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
  g_queue_clear_full (&ctx->findings, (GDestroyNotify) incoming_free);
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
          incoming_free (incoming);
        }
      link = next;
    }
  self->connecting_generation = 0;
}

/* Ends the connect in progress with an error: the session is back to
 * DISCONNECTED (never was connected) and can try again. */
static void
connect_fail (QmpSession *self,
              GError     *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);
  g_autoptr(GObject) hold = g_object_ref (self->owner);
  gboolean try_again;

  g_assert (task != NULL);
  /* With auto-reconnect the first connect is retried too (an agent may
   * start before its VM), unless the caller cancelled it or the address
   * can never work. An automatic attempt reschedules itself. */
  try_again = !self->reconnecting &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  self->hooks.resync_abort (self->owner);
  connection_shutdown (self);
  _qmp_calls_fail (self->calls, error, FALSE, G_MAXUINT);
  drop_connecting_incoming (self);
  set_state (self, QMP_CLIENT_STATE_DISCONNECTED);
  /* Drops the timeout and cancellation sources, and the findings. */
  g_task_set_task_data (task, NULL, NULL);
  g_task_return_error (task, error);
  if (try_again)
    schedule_reconnect (self);
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
    connect_fail (self, error);
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
    connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
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
      connect_fail (self, failure);
      return;
    }

  note_socket_identity (self, ctx);
  set_connection (self, stream);
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
        connect_fail (ctx->session, g_error_new (QMP_ERROR, QMP_ERROR_NEGOTIATION_FAILED,
                                                 "QEMU refused qmp_capabilities: %s", error->message));
      else
        connect_fail (ctx->session, g_steal_pointer (&error));
      return;
    }

  ctx->step++;
  connect_step (task);
}

static void
handle_greeting (QmpSession *self,
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
  Incoming *incoming = incoming_new (self, INCOMING_DELIVER);

  incoming->on_ready = TRUE;
  incoming->func = func;
  incoming->data = data;
  incoming->data_free = data_free;
  if (ctx == NULL)
    {
      /* No connect to wait for: in order, like everything else. */
      enqueue (self, incoming);
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
      connect_fail (self, error);
      return;
    }
  g_return_if_fail (ctx->step == CONNECT_STEP_SYNC);

  if (self->reconnecting)
    {
      incoming = incoming_new (self, INCOMING_DELIVER);
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
      dispatch_one (self, incoming);
      incoming_free (incoming);
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

      set_connection (self, stream);
      return TRUE;
    }
  if (self->address == NULL)
    {
      connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                       "A client made for a stream cannot connect again"));
      return FALSE;
    }
  if (ctx->address == NULL)
    ctx->address = _qmp_address_parse (self->address, &error);
  if (ctx->address == NULL)
    {
      connect_fail (self, g_steal_pointer (&error));
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
      set_state (self, QMP_CLIENT_STATE_CONNECTING);
      ctx->step++;
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_OPEN:
      if (!connect_open (task))
        return;
      ctx->step++;
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_GREETING:
      /* handle_greeting() moves on when QEMU's first line is read. */
      return;

    case CONNECT_STEP_NEGOTIATE:
      set_state (self, QMP_CLIENT_STATE_NEGOTIATING);
      if (self->connect_task != task)
        return;   /* a notify handler closed the client */
      _qmp_session_execute_connecting (self, "qmp_capabilities", NULL, negotiate_ready,
                                       g_object_ref (task));
      /* The resync's first question goes in the same write. */
      self->hooks.resync_begin (self->new_instance, self->owner);
      return;

    case CONNECT_STEP_SYNC:
      set_state (self, QMP_CLIENT_STATE_SYNCING);
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
        set_state (self, QMP_CLIENT_STATE_READY);
        /* What the resync found is told before the connect completes:
         * a caller that reads the stop reason once connected has heard of
         * every change first. The events QEMU sent meanwhile follow. */
        deliver_findings (self);
        schedule_dispatch (self);
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

static void
cancel_reconnect (QmpSession *self)
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
      schedule_reconnect (self);
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
static void
schedule_reconnect (QmpSession *self)
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
    cancel_reconnect (self);
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
  cancel_reconnect (self);
  connect_start (self, cancellable, source_tag, callback, user_data);
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
  cancel_reconnect (self);

  if (self->connect_task != NULL)
    {
      connect_fail (self, g_error_copy (closed));
      set_state (self, QMP_CLIENT_STATE_CLOSED);
      return;
    }

  was_connected = self->channel != NULL;
  connection_shutdown (self);

  /* A closing entry still queued already failed nothing; its ::disconnected
   * is replaced by this one. */
  while ((incoming = g_queue_pop_head (&self->incoming)) != NULL)
    {
      if (incoming->kind == INCOMING_CLOSED)
        was_connected = TRUE;
      incoming_free (incoming);
    }
  clear_dispatch_blocker (self);

  _qmp_calls_fail (self->calls, closed, FALSE, G_MAXUINT);
  if (was_connected)
    {
      set_state (self, QMP_CLIENT_STATE_CLOSED);
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
  self->parser = _qmp_message_parser_new ();
  self->calls = _qmp_calls_new (self->context);
  g_queue_init (&self->incoming);

  if (debug != NULL)
    {
      const GDebugKey keys[] = { { "wire", 1 } };

      self->wire_trace = (g_parse_debug_string (debug, keys, G_N_ELEMENTS (keys)) & 1) != 0;
    }

  self->dispatch_source = g_source_new (&dispatch_source_funcs, sizeof (GSource));
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
  g_queue_clear_full (&self->incoming, (GDestroyNotify) incoming_free);
  g_clear_object (&self->initial_stream);
  g_clear_pointer (&self->parser, _qmp_message_parser_free);
  g_free (self->address);
  g_main_context_unref (self->context);
  g_free (self);
}
