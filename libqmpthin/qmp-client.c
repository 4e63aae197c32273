/* qmp-client.c: a connection to one QEMU Machine Protocol server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-address.h"
#include "qmp-debug.h"
#include "qmp-errors-private.h"
#include "qmp-json.h"
#include "qmp-message.h"
#include "qmp-models-private.h"
#include "qmp-stream.h"
#include "qmp-reactor.h"

/**
 * SECTION:qmp-client
 * @Title: QmpClient
 * @Short_description: A connection to QEMU's QMP monitor
 *
 * #QmpClient connects to one QMP server (a QEMU process, or
 * qemu-storage-daemon), negotiates capabilities, runs commands and
 * delivers events.
 *
 * |[<!-- language="C" -->
 * static void
 * on_stop (QmpClient *client, QmpEvent *event, gpointer user_data)
 * {
 *   g_print ("VM paused\n");
 * }
 *
 * g_autoptr(QmpClient) client = qmp_client_new ("unix:/run/vm1/qmp.sock");
 * g_autoptr(GError) error = NULL;
 * g_autoptr(JsonNode) status = NULL;
 *
 * g_signal_connect (client, "event::STOP", G_CALLBACK (on_stop), NULL);
 * if (!qmp_client_connect_sync (client, NULL, &error))
 *   g_error ("%s", error->message);
 * status = qmp_client_execute_sync (client, "query-status", NULL, NULL, &error);
 * ]|
 *
 * ## Addresses
 *
 * qmp_client_new() takes `unix:/path/to/socket`, a bare `/path/to/socket`,
 * or `tcp:host:port` (`tcp:[::1]:4444` for IPv6). A connection made by the
 * caller (a socket received over D-Bus, one end of a socketpair) is used
 * with qmp_client_new_for_stream(); its streams must be pollable, as those
 * of a #GSocketConnection are.
 *
 * ## Commands
 *
 * Every command gets a unique id; any number of commands may be in
 * flight, and replies are matched by id in whatever order QEMU sends them.
 * Each call completes exactly once: with QEMU's return value, with QEMU's
 * error (#QMP_COMMAND_ERROR), with %G_IO_ERROR_TIMED_OUT when
 * #QmpClient:command-timeout (or the per-call timeout of
 * qmp_client_execute_full_async()) runs out, with %G_IO_ERROR_CANCELLED
 * when its #GCancellable is cancelled, or with %G_IO_ERROR_CLOSED when the
 * connection goes away first. A reply that arrives after its call timed
 * out or was cancelled is dropped; a reply with an id the client never
 * sent is logged and ignored.
 *
 * A command that was sent cannot be taken back: cancelling or timing out a
 * call only stops waiting for its reply, QEMU may still carry it out.
 *
 * ## Lifetime
 *
 * A call in flight holds a reference on its client, as every #GTask holds
 * its source object: dropping your last reference does not close the
 * connection while calls are in flight. They complete (by QEMU's reply,
 * a timeout, a cancellation), their callbacks run, then the client goes.
 * A call without a timeout (%QMP_TIMEOUT_NONE, or
 * #QmpClient:command-timeout 0) that QEMU never answers keeps the client,
 * and with it QEMU's monitor, which serves one client at a time, until the
 * client is closed: close a client (qmp_client_close_async(), which fails
 * such calls with %G_IO_ERROR_CLOSED) rather than only dropping it. What
 * the library does on its own never keeps a client: its questions to QEMU
 * hold no reference, and an automatic reconnection attempt ends after
 * #QmpClient:connect-timeout, or %QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT when
 * that is 0.
 *
 * ## Threads and main contexts
 *
 * A client belongs to the #GMainContext that is the thread-default when it
 * is created, and must be used from the thread that runs that context,
 * like a #GDBusConnection. Every signal is emitted there, and events and
 * replies are delivered in the order QEMU sent them.
 *
 * The `_sync` calls may be made from anywhere in that thread, including
 * from a signal handler or an async callback of the same client: they
 * read the connection themselves in a private #GMainContext and return
 * when their own reply arrives, so they never wait for the client's
 * context (which may be the one blocked calling them). Events and other
 * replies read meanwhile are queued and delivered, still in order, when
 * the client's context runs again. A handler may also run a nested
 * #GMainLoop on the client's context to wait for an async call: delivery
 * goes on from the nested loop, in order.
 *
 * ## Wire trace
 *
 * Set `QMP_DEBUG=wire` in the environment (together with
 * `G_MESSAGES_DEBUG=Qmp`) to log every line sent and received with
 * g_debug(). It costs nothing when unset.
 *
 * The debug messages of every connection (state changes, QEMU's version)
 * follow GLib's default filter even under a custom log writer: they are
 * formatted only when `G_MESSAGES_DEBUG` names the `Qmp` domain (or `all`)
 * or g_log_set_debug_enabled() is on.
 */

/* How many messages may wait for dispatch before the client stops reading
 * the socket: QEMU is then the one that buffers, so a slow consumer of an
 * event storm keeps the client's memory bounded. */
#define INCOMING_HIGH_WATER 1024

/* Messages delivered in one dispatch before other sources get a turn. */
#define DISPATCH_BUDGET 256

/* Reads per readiness callback, QMP_STREAM_READ_SIZE each. Every message
 * of a read is parsed before the first one is dispatched, so the parsed
 * trees of one read must stay in the CPU cache until they are delivered
 * and freed: a 16 KiB read (some 75 events, a few hundred KiB of trees)
 * does; 64 KiB (300 events) delivered an event storm a third slower, and
 * four 64 KiB reads at half the speed. */
#define READS_PER_CALLBACK 1

#define ID_PREFIX "qmpthin-"

typedef struct _QmpPending QmpPending;

/* What a command changes in the client's picture of QEMU once QEMU
 * accepted it, applied in wire order with the events (see
 * apply_effect()). */
typedef enum {
  EFFECT_NONE,
  EFFECT_STOP,                  /* the caller paused the VM */
  EFFECT_THRESHOLD,             /* a write threshold is armed (0: disarmed) */
} CommandEffect;

/* One command waiting for its reply. Owned by QmpClient.pending. */
struct _QmpPending
{
  QmpClient *client;            /* unowned: the task holds a reference */
  char *id;                     /* key in QmpClient.pending */
  char *command;                /* for messages */
  GTask *task;                  /* owned */
  /* A timeout in the client's context is one entry of QmpClient.timed,
   * fired by the dispatch source; elsewhere (a _sync call's private
   * context) a source of its own. */
  GList *timed_link;            /* owned, nullable: in QmpClient.timed */
  gint64 deadline;              /* monotonic, with timed_link */
  GSource *timeout_source;      /* owned, nullable; in the task's context */
  GSource *cancel_source;       /* owned, nullable; in the task's context */
  /* Completed as soon as its reply is read instead of through the ordered
   * dispatch: set for _sync calls and the library's own commands, which
   * run while the client's context may be blocked. */
  gboolean direct;
  gboolean has_callback;
  guint timeout;                /* ms, 0 for none */
  guint generation;             /* connection it was sent on */
  CommandEffect effect;
  /* The effect was applied, or queued (the reply to a direct stop, see
   * on_line()): nothing is left to undo when the command completes. */
  gboolean effect_handed;
  /* For EFFECT_THRESHOLD: what is armed once QEMU accepts it. */
  char *threshold_node;         /* owned, nullable */
  guint64 threshold;
};

typedef enum {
  INCOMING_MESSAGE,
  INCOMING_CLOSED,
  INCOMING_DERIVED,             /* an event derived by resync */
  INCOMING_STOP_REASON,         /* announce the stop reason resync found */
  INCOMING_RECONNECTED,         /* an automatic reconnection ended its resync */
  INCOMING_STOP_ACKNOWLEDGED,   /* the reply to a direct stop, at its place */
} IncomingKind;

/* One entry of QmpClient.incoming, in wire order. */
typedef struct
{
  IncomingKind kind;
  QmpMessage *message;          /* INCOMING_MESSAGE */
  GError *error;                /* INCOMING_CLOSED: why (never NULL) */
  QmpEvent *event;              /* INCOMING_DERIVED */
  gboolean new_instance;        /* INCOMING_RECONNECTED */
  guint generation;             /* connection it was read from */
} Incoming;

/* A _sync call in progress: a private context that reads the connection. */
typedef struct
{
  GMainContext *context;        /* owned */
  GAsyncResult *result;         /* owned once the call completed */
  GSource *read_source;         /* owned, nullable */
  GSource *write_source;        /* owned, nullable */
  GIOStream *read_stream;       /* unowned: the stream read_source polls */
} SyncWait;

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
  ConnectStep step;
  GSource *timeout_source;      /* owned; in the task's context */
  GSource *cancel_source;       /* owned, nullable */
  GSource *retry_source;        /* owned, nullable: the next attempt to open */
  guint retry_delay;            /* ms before the next attempt */
  guint timeout;                /* ms for the whole connect, 0: none */
  gint64 refused_since;         /* monotonic: the first ECONNREFUSED; 0: none */
  QmpAddress *address;          /* owned, nullable: parsed when opening */
  gboolean busy;                /* the last attempt found the backlog full */
  /* What resync read. */
  QmpStatusInfo *status;        /* owned, nullable: no run state */
  GPtrArray *blocks;            /* owned, nullable: QmpBlockInfo */
  GPtrArray *nodes;             /* owned, nullable: QmpBlockNode */
  gboolean status_pending;      /* query-status sent, its reply not read */
  gboolean asked_blocks;
  gboolean asked_nodes;
} ConnectContext;

struct _QmpClient
{
  GObject parent_instance;

  /* Set at construction, then constant. */
  char *address;                /* nullable for a caller's stream */
  GMainContext *context;        /* owned: where signals are emitted */
  gboolean wire_trace;

  /* A caller's stream not yet connected; consumed by the first connect. */
  GIOStream *initial_stream;    /* owned, nullable */

  QmpClientState state;
  guint command_timeout;
  guint connect_timeout;
  gsize max_message_size;

  /* From the greeting of the current (or last) connection. */
  char *qemu_version;           /* owned, nullable */
  guint qemu_major;
  guint qemu_minor;
  guint qemu_micro;
  char *qemu_package;           /* owned, nullable */
  GStrv capabilities;           /* owned, nullable */

  /* The connection; all NULL while there is none. */
  GIOStream *connection;        /* owned */
  GPollableInputStream *input;  /* unowned, from connection */
  GPollableOutputStream *output;/* unowned, from connection */
  GSource *read_source;         /* owned, nullable; in context */
  QmpWatch *read_watch;         /* owned, nullable: read_source's stand-in
                                 * for sockets (qmp-reactor.c) */
  GSource *write_source;        /* owned, nullable; in context */
  QmpStream *framer;            /* owned */
  GByteArray *outbuf;           /* owned: bytes not yet written */
  guint generation;             /* bumped for every connection */
  /* The connection being connected: what it delivers waits until it is
   * ready, and is dropped if it never gets there. 0: none. */
  guint connecting_generation;

  QmpMessageParser *parser;     /* owned, kept across connections */

  /* Messages read and waiting to be delivered, in wire order (Incoming*). */
  GQueue incoming;
  GSource *dispatch_source;     /* owned; in context */
  GQueue timed;                 /* QmpPending with a deadline, earliest first */
  /* A reply whose callback GTask deferred to an idle: nothing after it is
   * delivered until that callback ran. */
  GTask *dispatch_blocker;      /* owned, nullable */

  GHashTable *pending;          /* id -> QmpPending*, owned */
  guint64 next_serial;

  GTask *connect_task;          /* owned, nullable: the connect in progress */
  GSList *sync_waits;           /* SyncWait*, unowned, innermost first */

  /* What QEMU is and was doing, kept across connections. */
  GHashTable *armed;            /* owned: node name -> guint64* armed threshold */

  /* Stop tracking (see that section): all of it changes in wire order,
   * from the dispatch of events and replies. */
  QmpStopReason *stop_reason;   /* owned, nullable before the first resync */
  /* The BLOCK_IO_ERRORs with action stop of the pause in progress, or of
   * the next one while the VM runs: one per disk, live or derived from
   * io-status. Cleared by RESUME. */
  GPtrArray *pause_errors;      /* owned: QmpBlockIoErrorEvent* */
  /* The event that announced the next STOP (SHUTDOWN, or a WATCHDOG or
   * GUEST_PANICKED whose action pauses the VM); only that STOP uses it. */
  const char *stop_cause;       /* static, nullable */
  gint64 resumed_usec;          /* QEMU's timestamp of the last RESUME, -1: none */
  guint pause_serial;           /* bumped by every STOP, RESUME and resync */
  guint stops_in_flight;        /* stop commands of this connection not yet acknowledged */
  gboolean user_paused;         /* the pause in progress is the caller's (a stop of ours) */

  /* Reconnecting after a lost connection. */
  gboolean auto_reconnect;
  guint reconnect_min_delay;    /* ms */
  guint reconnect_max_delay;    /* ms */
  guint reconnect_attempt;      /* attempts since the connection was lost */
  GSource *reconnect_source;    /* owned, nullable: the next attempt; in context */
  gboolean reconnecting;        /* the connect in progress is an automatic one */
  gboolean closed_by_caller;    /* no automatic reconnection until connect */
  QmpSocketIdentity socket_identity;  /* of the last connection's socket file */
  gboolean new_instance;        /* the last connect reached a new server */
};

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_STREAM,
  PROP_STATE,
  PROP_QEMU_VERSION,
  PROP_QEMU_MAJOR,
  PROP_QEMU_MINOR,
  PROP_QEMU_MICRO,
  PROP_QEMU_PACKAGE,
  PROP_CAPABILITIES,
  PROP_COMMAND_TIMEOUT,
  PROP_CONNECT_TIMEOUT,
  PROP_MAX_MESSAGE_SIZE,
  PROP_STOP_REASON,
  PROP_AUTO_RECONNECT,
  PROP_RECONNECT_MIN_DELAY,
  PROP_RECONNECT_MAX_DELAY,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_BLOCK_IO_ERROR,
  SIGNAL_BLOCK_WRITE_THRESHOLD,
  SIGNAL_STOP,
  SIGNAL_RESUME,
  SIGNAL_STOP_REASON_CHANGED,
  SIGNAL_RECONNECTED,
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (QmpClient, qmp_client, G_TYPE_OBJECT)

static void connection_lost (QmpClient *self,
                             GError    *error);
static void execute_internal (QmpClient    *self,
                              const char   *command,
                              JsonObject   *arguments,
                              int           timeout_msec,
                              gboolean      direct,
                              gboolean      has_callback,
                              GCancellable *cancellable,
                              GTask        *task);
static void connect_step (GTask *task);
static void update_read_source (QmpClient *self);

/* ------------------------------------------------------------------------ */
/* State */

/* The connect machinery runs in the connect's context, which for
 * qmp_client_connect_sync() is a private one, the thread-default while
 * GTask calls the machinery's callbacks. The caller's handlers it runs (of
 * notify::state, say) get the client's context as the thread-default, so
 * that the async calls they make complete where the caller runs, not in a
 * context nobody iterates once the connect is done. */
static void
notify_in_client_context (QmpClient  *self,
                          GParamSpec *pspec)
{
  g_main_context_push_thread_default (self->context);
  if (pspec != NULL)
    g_object_notify_by_pspec (G_OBJECT (self), pspec);
  else
    g_object_thaw_notify (G_OBJECT (self));
  g_main_context_pop_thread_default (self->context);
}

static void
set_state (QmpClient      *self,
           QmpClientState  state)
{
  if (self->state == state)
    return;
  _qmp_debug ("%s: state %d -> %d", self->address ? self->address : "stream", self->state, state);
  self->state = state;
  notify_in_client_context (self, properties[PROP_STATE]);
}

static const char *
client_name (QmpClient *self)
{
  return self->address != NULL ? self->address : "the QMP stream";
}

/* ------------------------------------------------------------------------ */
/* Pending commands: one path completes each exactly once. */

static void
pending_free (QmpPending *pending)
{
  if (pending->timed_link != NULL)
    {
      QmpClient *self = pending->client;

      g_queue_delete_link (&self->timed, pending->timed_link);
      /* No wake-up for a deadline that is gone (an immediate dispatch,
       * ready time 0, stays). */
      if (self->timed.length == 0 && self->dispatch_source != NULL &&
          g_source_get_ready_time (self->dispatch_source) > 0)
        g_source_set_ready_time (self->dispatch_source, -1);
    }
  if (pending->timeout_source != NULL)
    {
      g_source_destroy (pending->timeout_source);
      g_source_unref (pending->timeout_source);
    }
  if (pending->cancel_source != NULL)
    {
      g_source_destroy (pending->cancel_source);
      g_source_unref (pending->cancel_source);
    }
  g_clear_object (&pending->task);
  g_free (pending->threshold_node);
  g_free (pending->command);
  g_free (pending->id);
  g_free (pending);
}

/* Removes the pending command from the table and completes its task with
 * value (transfer full) or error (transfer full). Returns the task, for
 * the caller to check whether the callback already ran. */
static GTask *
pending_complete (QmpClient  *self,
                  QmpPending *pending,
                  JsonNode   *value,
                  GError     *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&pending->task);

  /* A stop that failed, timed out or was cancelled explains no STOP. */
  if (pending->effect == EFFECT_STOP && !pending->effect_handed &&
      pending->generation == self->generation && self->stops_in_flight > 0)
    self->stops_in_flight--;

  g_hash_table_steal (self->pending, pending->id);
  pending_free (pending);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) json_node_unref);
  return g_steal_pointer (&task);
}

static void
pending_time_out (QmpPending *pending)
{
  GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "No reply from QEMU to “%s” within %u ms",
                               pending->command, pending->timeout);

  g_object_unref (pending_complete (pending->client, pending, NULL, error));
}

static gboolean
on_pending_timeout (gpointer user_data)
{
  pending_time_out (user_data);
  return G_SOURCE_REMOVE;
}

/* The dispatch source wakes at @time at the latest. */
static void
wake_dispatch_at (QmpClient *self,
                  gint64     time)
{
  gint64 current;

  if (self->dispatch_source == NULL)
    return;
  current = g_source_get_ready_time (self->dispatch_source);
  if (current < 0 || time < current)
    g_source_set_ready_time (self->dispatch_source, time);
}

/* One timer for every command completing in the client's context: a
 * GSource per command (created, attached, destroyed) was some 4,000
 * instructions of each round trip. Commands mostly share one timeout, so
 * a new deadline usually goes last. */
static void
timed_add (QmpClient  *self,
           QmpPending *pending)
{
  GList *before = self->timed.tail;

  while (before != NULL && ((QmpPending *) before->data)->deadline > pending->deadline)
    before = before->prev;
  pending->timed_link = g_list_alloc ();
  pending->timed_link->data = pending;
  if (before == NULL)
    g_queue_push_head_link (&self->timed, pending->timed_link);
  else
    g_queue_insert_after_link (&self->timed, before, pending->timed_link);
  if (self->timed.head == pending->timed_link)
    wake_dispatch_at (self, pending->deadline);
}

/* From the dispatch source: fails the commands past their deadline. */
static void
timed_expire (QmpClient *self)
{
  QmpPending *head;
  gint64 now;

  if (self->timed.length == 0)
    return;
  now = g_get_monotonic_time ();
  while ((head = g_queue_peek_head (&self->timed)) != NULL && head->deadline <= now)
    pending_time_out (head);
  if (head != NULL)
    wake_dispatch_at (self, head->deadline);
}

static gboolean
on_pending_cancelled (GCancellable *cancellable,
                      gpointer      user_data)
{
  QmpPending *pending = user_data;
  GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Command “%s” was cancelled", pending->command);

  g_object_unref (pending_complete (pending->client, pending, NULL, error));
  return G_SOURCE_REMOVE;
}

/* Fails the pending commands sent on connections up to max_generation;
 * with direct_only, only those completed outside the ordered dispatch. */
static void
fail_pending (QmpClient    *self,
              const GError *reason,
              gboolean      direct_only,
              guint         max_generation)
{
  GHashTableIter iter;
  QmpPending *pending;
  g_autoptr(GPtrArray) failing = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &pending))
    if ((!direct_only || pending->direct) && pending->generation <= max_generation)
      g_ptr_array_add (failing, pending);

  /* Completing runs callbacks, which may add commands: work on a copy. */
  for (guint i = 0; i < failing->len; i++)
    {
      pending = g_ptr_array_index (failing, i);
      g_object_unref (pending_complete (self, pending, NULL,
                                        g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                     "Connection to QEMU closed before “%s” was answered%s%s",
                                                     pending->command,
                                                     reason ? ": " : "",
                                                     reason ? reason->message : "")));
    }
}

/* ------------------------------------------------------------------------ */
/* Writing */

static void
flush_output (QmpClient *self)
{
  g_autoptr(GError) error = NULL;
  gssize written;

  if (self->connection == NULL || self->outbuf->len == 0)
    return;

  written = g_pollable_output_stream_write_nonblocking (self->output,
                                                        self->outbuf->data,
                                                        self->outbuf->len,
                                                        NULL, &error);
  if (written < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return;
      connection_lost (self, g_steal_pointer (&error));
      return;
    }
  g_byte_array_remove_range (self->outbuf, 0, written);
}

static gboolean
output_pending (QmpClient *self)
{
  return self->connection != NULL && self->outbuf->len > 0;
}

/* Writability of the client's own write source. */
static gboolean
on_writable (GObject  *stream,
             gpointer  user_data)
{
  QmpClient *self = user_data;

  flush_output (self);
  if (output_pending (self))
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&self->write_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Writability of a _sync call's private write source. */
static gboolean
on_sync_writable (GObject  *stream,
                  gpointer  user_data)
{
  QmpClient *self = user_data;

  flush_output (self);
  return output_pending (self) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Writing from the next main loop iteration sends every command queued
 * in this one with a single write. The dispatch source, always attached,
 * does that write (see write_queued()): no source is made per command.
 * A socket that cannot take everything gets a write source until it has. */
static void
ensure_write_source (QmpClient *self)
{
  if (self->write_source == NULL && self->dispatch_source != NULL && output_pending (self))
    g_source_set_ready_time (self->dispatch_source, 0);
}

/* From the dispatch source: writes what was queued. */
static void
write_queued (QmpClient *self)
{
  if (self->write_source != NULL || !output_pending (self))
    return;
  flush_output (self);
  if (output_pending (self))
    {
      self->write_source = g_pollable_output_stream_create_source (self->output, NULL);
      g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_writable), self, NULL);
      g_source_set_static_name (self->write_source, "[qmpthin] write");
      g_source_attach (self->write_source, self->context);
    }
}

static void
queue_output (QmpClient  *self,
              const char *line,
              gsize       length)
{
  if (self->wire_trace)
    g_debug ("%s -> %.*s", client_name (self), (int) length - 1, line);

  g_byte_array_append (self->outbuf, (const guint8 *) line, length);
  ensure_write_source (self);
}

/* ------------------------------------------------------------------------ */
/* Reading */

typedef struct
{
  QmpClient *client;
  /* Work that may run user code, done once the framer has returned:
   * the greeting, and the replies of direct commands (Incoming*). */
  GQueue deferred;
  GError *error;
} ReadContext;

static void
incoming_free (Incoming *incoming)
{
  g_clear_pointer (&incoming->message, _qmp_message_free);
  g_clear_error (&incoming->error);
  g_clear_object (&incoming->event);
  g_free (incoming);
}

static void
schedule_dispatch (QmpClient *self)
{
  if (self->dispatch_blocker == NULL && self->incoming.length > 0 &&
      self->state != QMP_CLIENT_STATE_SYNCING)
    g_source_set_ready_time (self->dispatch_source, 0);
}

static void
enqueue (QmpClient *self,
         Incoming  *incoming)
{
  g_queue_push_tail (&self->incoming, incoming);
  schedule_dispatch (self);
}

static QmpPending *
lookup_pending (QmpClient *self,
                JsonNode  *id)
{
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) ||
      json_node_get_value_type (id) != G_TYPE_STRING)
    return NULL;
  return g_hash_table_lookup (self->pending, json_node_get_string (id));
}

static gboolean
on_line (const char *line,
         gsize       length,
         gpointer    user_data)
{
  ReadContext *rc = user_data;
  QmpClient *self = rc->client;
  Incoming *incoming;
  QmpMessage *message;

  if (self->wire_trace)
    g_debug ("%s <- %.*s", client_name (self), (int) length, line);

  message = _qmp_message_parser_parse (self->parser, line, length, &rc->error);

  if (self->state == QMP_CLIENT_STATE_CONNECTING &&
      (message == NULL || message->kind != QMP_MESSAGE_GREETING))
    {
      /* Whatever QEMU sends first must be its greeting. */
      g_autofree char *excerpt = g_strndup (line, MIN (length, 80));

      g_clear_error (&rc->error);
      g_set_error (&rc->error, QMP_ERROR, QMP_ERROR_INVALID_GREETING,
                   "%s did not start with a QMP greeting: “%s%s”",
                   client_name (self), excerpt, length > 80 ? "…" : "");
      g_clear_pointer (&message, _qmp_message_free);
      return FALSE;
    }
  if (message == NULL)
    return FALSE;

  incoming = g_new0 (Incoming, 1);
  incoming->kind = INCOMING_MESSAGE;
  incoming->message = message;
  incoming->generation = self->generation;

  if (message->kind == QMP_MESSAGE_GREETING && self->state == QMP_CLIENT_STATE_CONNECTING)
    {
      g_queue_push_tail (&rc->deferred, incoming);
    }
  else if (message->kind == QMP_MESSAGE_RETURN || message->kind == QMP_MESSAGE_ERROR)
    {
      QmpPending *pending = lookup_pending (self, message->id);

      if (pending != NULL && pending->direct)
        {
          g_queue_push_tail (&rc->deferred, incoming);
          /* Completed at once, but the caller's stop counts from here in
           * the order of events (its STOP comes before the reply). */
          if (pending->effect == EFFECT_STOP && message->kind == QMP_MESSAGE_RETURN)
            {
              Incoming *acknowledged = g_new0 (Incoming, 1);

              acknowledged->kind = INCOMING_STOP_ACKNOWLEDGED;
              acknowledged->generation = self->generation;
              pending->effect_handed = TRUE;
              enqueue (self, acknowledged);
            }
        }
      else
        enqueue (self, incoming);
    }
  else
    {
      enqueue (self, incoming);
    }

  return TRUE;
}

static void handle_greeting (QmpClient  *self,
                             QmpMessage *message);
static void apply_effect (QmpClient     *self,
                          CommandEffect  effect,
                          const char    *threshold_node,
                          guint64        threshold,
                          guint          generation);

static void
complete_from_message (QmpClient  *self,
                       QmpPending *pending,
                       QmpMessage *message)
{
  g_autoptr(GTask) task = NULL;

  if (message->kind == QMP_MESSAGE_RETURN && pending->effect != EFFECT_NONE && !pending->effect_handed)
    {
      pending->effect_handed = TRUE;
      apply_effect (self, pending->effect, pending->threshold_node, pending->threshold,
                    pending->generation);
    }

  if (message->kind == QMP_MESSAGE_RETURN)
    {
      /* Shared with the caller: sealed, so json_node_copy() shares it too
       * and nobody changes what another reads. */
      json_node_seal (message->value);
      task = pending_complete (self, pending, json_node_ref (message->value), NULL);
    }
  else
    task = pending_complete (self, pending, NULL,
                             _qmp_command_error_new (message->error_class, message->error_desc));
}

static void
run_deferred (QmpClient *self,
              GQueue    *deferred)
{
  Incoming *incoming;

  while ((incoming = g_queue_pop_head (deferred)) != NULL)
    {
      QmpMessage *message = incoming->message;

      if (incoming->generation == self->generation && self->connection != NULL)
        {
          if (message->kind == QMP_MESSAGE_GREETING)
            {
              handle_greeting (self, message);
            }
          else
            {
              /* Still there unless it timed out or was cancelled since. */
              QmpPending *pending = lookup_pending (self, message->id);

              if (pending != NULL)
                complete_from_message (self, pending, message);
            }
        }
      incoming_free (incoming);
    }
}

/* Whether the client reads on however much is queued: a _sync call waits
 * for its reply, or a connection being set up waits for the replies of its
 * resync. What it reads meanwhile cannot all be delivered before that
 * reply, so stopping at the high water mark would stall it; the queue is
 * then bounded by what QEMU sends during one command. */
static gboolean
must_read (QmpClient *self)
{
  return self->sync_waits != NULL || self->connecting_generation != 0;
}

/* One read buffer per thread, shared by its clients: the framer takes
 * every byte of a read (it keeps a partial line itself), and nothing it
 * calls runs the caller's code, so the buffer is free again once
 * _qmp_stream_feed() returns. A buffer per client would cost each one QMP_STREAM_READ_SIZE
 * of memory as soon as a large reply or a burst of events filled it. */
static char *
get_read_buffer (void)
{
  static GPrivate buffer_key = G_PRIVATE_INIT (g_free);
  char *buffer = g_private_get (&buffer_key);

  if (buffer == NULL)
    {
      buffer = g_malloc (QMP_STREAM_READ_SIZE);
      g_private_set (&buffer_key, buffer);
    }
  return buffer;
}

/* Reads what the socket has (a bounded amount), frames and routes it.
 * Called from the client's read source and from _sync waits. */
static void
pump_read (QmpClient *self)
{
  g_autoptr(QmpClient) hold = g_object_ref (self);
  ReadContext rc = { self, G_QUEUE_INIT, NULL };
  guint generation = self->generation;
  char *read_buffer = get_read_buffer ();

  for (guint i = 0; i < READS_PER_CALLBACK; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      if (self->connection == NULL || self->generation != generation)
        break;
      if (self->incoming.length >= INCOMING_HIGH_WATER && !must_read (self))
        break;

      n = g_pollable_input_stream_read_nonblocking (self->input, read_buffer,
                                                    QMP_STREAM_READ_SIZE, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (n <= 0)
        {
          /* EOF and ECONNRESET are both QEMU closing: `quit` does either. */
          if (n == 0 ||
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
            {
              g_clear_error (&error);
              error = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                   "QEMU closed the QMP connection %s", client_name (self));
            }
          else
            {
              g_prefix_error (&error, "Reading from %s: ", client_name (self));
            }
          run_deferred (self, &rc.deferred);
          if (self->generation == generation)
            connection_lost (self, g_steal_pointer (&error));
          break;
        }

      if (!_qmp_stream_feed (self->framer, read_buffer, n, on_line, &rc, &error))
        rc.error = g_steal_pointer (&error);

      /* Messages before a bad one still count: QEMU sent them. */
      run_deferred (self, &rc.deferred);
      if (rc.error != NULL)
        {
          if (self->generation == generation)
            connection_lost (self, g_steal_pointer (&rc.error));
          g_clear_error (&rc.error);
          break;
        }
    }

  update_read_source (self);
}

static gboolean
on_readable (GObject  *stream,
             gpointer  user_data)
{
  pump_read (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_socket_readable (gpointer user_data)
{
  pump_read (user_data);
}

static gboolean
reading (QmpClient *self)
{
  return self->read_source != NULL || self->read_watch != NULL;
}

static void
stop_reading (QmpClient *self)
{
  g_clear_pointer (&self->read_watch, _qmp_watch_free);
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
}

static void
start_reading (QmpClient *self)
{
  /* A socket joins the context's shared epoll source: a thousand
   * clients in one context cost an iteration what is ready, not a
   * thousand descriptors to poll. */
  if (G_IS_SOCKET_CONNECTION (self->connection))
    {
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->connection));

      self->read_watch = _qmp_watch_new (self->context, g_socket_get_fd (socket),
                                        on_socket_readable, self);
      if (self->read_watch != NULL)
        return;
    }

  self->read_source = g_pollable_input_stream_create_source (self->input, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->read_source, "[qmpthin] read");
  /* Completing a connect may run the caller's callback from here, and
   * it may wait in a nested main loop for a reply: reading must go on. */
  g_source_set_can_recurse (self->read_source, TRUE);
  g_source_attach (self->read_source, self->context);
}

/* The client's own read source runs while the connection is up and the
 * dispatch queue has room. */
static void
update_read_source (QmpClient *self)
{
  gboolean wanted;

  /* Stop at the high water mark, start again once half of it drained. */
  if (self->connection == NULL)
    wanted = FALSE;
  else if (must_read (self))
    wanted = TRUE;
  else if (reading (self))
    wanted = self->incoming.length < INCOMING_HIGH_WATER;
  else
    wanted = self->incoming.length < INCOMING_HIGH_WATER / 2;

  if (wanted && !reading (self))
    start_reading (self);
  else if (!wanted && reading (self))
    stop_reading (self);
}

/* ------------------------------------------------------------------------ */
/* Connection set-up and tear-down */

static void
set_connection (QmpClient *self,
                GIOStream *stream)
{
  self->connection = g_object_ref (stream);
  self->input = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream));
  self->output = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
  self->framer = _qmp_stream_new (self->max_message_size);
  self->outbuf = g_byte_array_new ();
  self->generation++;
  self->stops_in_flight = 0;
  if (self->connect_task != NULL)
    self->connecting_generation = self->generation;
  update_read_source (self);
}

/* Stops all I/O of the current connection and closes it. Pending commands
 * and queued messages are left alone. */
static void
connection_shutdown (QmpClient *self)
{
  g_autoptr(GIOStream) connection = g_steal_pointer (&self->connection);

  if (connection == NULL)
    return;

  stop_reading (self);
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  self->input = NULL;
  self->output = NULL;
  g_clear_pointer (&self->framer, _qmp_stream_free);
  g_clear_pointer (&self->outbuf, g_byte_array_unref);
  self->generation++;

  /* Closing a socket does not block; nobody waits for the result. */
  g_io_stream_close (connection, NULL, NULL);
}

static void connect_fail (QmpClient *self,
                          GError    *error);

/* The connection broke (EOF, reset, protocol error) or the caller closed it.
 * Messages read before the break are still delivered, in order; then the
 * closing entry fails what is left and emits ::disconnected. Commands that
 * complete outside the ordered dispatch fail at once, since their reply
 * cannot be in the queue. */
static void
connection_lost (QmpClient *self,
                 GError    *error)
{
  Incoming *incoming;

  g_assert (error != NULL);

  if (self->connect_task != NULL)
    {
      connection_shutdown (self);
      connect_fail (self, error);
      return;
    }

  g_debug ("%s: connection lost: %s", client_name (self), error->message);
  connection_shutdown (self);
  fail_pending (self, error, TRUE, G_MAXUINT);

  incoming = g_new0 (Incoming, 1);
  incoming->kind = INCOMING_CLOSED;
  incoming->error = error;
  incoming->generation = self->generation;
  enqueue (self, incoming);
}

/* ------------------------------------------------------------------------ */
/* Dispatch: the only place events are emitted and queued replies complete */

static void
clear_dispatch_blocker (QmpClient *self)
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
  QmpClient *self = user_data;

  if (!g_task_get_completed (G_TASK (task)))
    return;
  clear_dispatch_blocker (self);
  schedule_dispatch (self);
}

static void
dispatch_reply (QmpClient  *self,
                QmpMessage *message)
{
  QmpPending *pending = lookup_pending (self, message->id);

  if (pending == NULL)
    {
      g_autofree char *id = _qmp_message_id_to_string (message->id);
      const char *sid = NULL;

      if (message->id != NULL && JSON_NODE_HOLDS_VALUE (message->id) &&
          json_node_get_value_type (message->id) == G_TYPE_STRING)
        sid = json_node_get_string (message->id);

      if (sid != NULL && g_str_has_prefix (sid, ID_PREFIX) &&
          g_ascii_strtoull (sid + strlen (ID_PREFIX), NULL, 10) < self->next_serial)
        g_debug ("%s: dropping the late reply to %s (timed out, cancelled or answered already)",
                 client_name (self), id);
      else if (message->id == NULL && message->kind == QMP_MESSAGE_ERROR)
        g_debug ("%s: QEMU sent an error without an id: %s: %s",
                 client_name (self), message->error_class, message->error_desc);
      else
        g_debug ("%s: ignoring a reply with an unknown id %s", client_name (self), id);
      return;
    }

  complete_from_message (self, pending, message);
}

/* ------------------------------------------------------------------------ */
/* Stop tracking: why the VM is not running
 *
 * Events explain a pause; QEMU's state decides. A STOP comes after what
 * announced it: the BLOCK_IO_ERRORs with action stop of the failing
 * requests, a WATCHDOG or GUEST_PANICKED whose action pauses the VM, a
 * SHUTDOWN, or a stop command of this client (its STOP comes before its
 * reply). QEMU 9.2 to 10.x throttle BLOCK_IO_ERROR, action stop included,
 * to one a second per device, and send the last one of a window when the
 * window ends with its original timestamp: a pause may come with no error
 * before its STOP, and the error a second later or never. A STOP that
 * nothing explains makes the client ask QEMU at once (query-status and
 * query-block, whose io-status names the full disks), and an error that
 * arrives while the VM is still paused refines the reason.
 *
 * All of it happens in wire order, replies included (the effect of a
 * direct command's reply is queued at its place, see on_line()), so what
 * QEMU answers describes the state after the events delivered before it.
 */

static void
publish_stop_reason (QmpClient     *self,
                     QmpStopReason *reason)
{
  g_autoptr(QmpStopReason) old = g_steal_pointer (&self->stop_reason);

  /* The same pause told again (a resync, a repeated error) keeps what was
   * known of it and is not news. */
  if (old != NULL && _qmp_stop_reason_equal (old, reason))
    {
      self->stop_reason = g_steal_pointer (&old);
      g_object_unref (reason);
      return;
    }
  self->stop_reason = reason;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_REASON]);
  g_signal_emit (self, signals[SIGNAL_STOP_REASON_CHANGED], 0, reason);
}

static gint64
current_pause_since (QmpClient *self)
{
  return self->stop_reason != NULL ? qmp_stop_reason_get_since_usec (self->stop_reason) : -1;
}

static const char *
io_error_disk (QmpBlockIoErrorEvent *error)
{
  const char *name = qmp_block_io_error_event_get_node_name (error);

  if (name == NULL || *name == '\0')
    name = qmp_block_io_error_event_get_device (error);
  if (name == NULL || *name == '\0')
    name = qmp_block_io_error_event_get_qom_path (error);
  return name;
}

/* Keeps one error per disk: QEMU reports every failed request, and they go
 * on failing until the VM actually stops, so an error storm costs no
 * memory. What QEMU sent beats what the client derived from io-status
 * (stale for -blockdev disks once a pause ended), and an error that says
 * nospace beats one that does not. */
static void
remember_pause_error (QmpClient            *self,
                      QmpBlockIoErrorEvent *error)
{
  const char *disk = io_error_disk (error);
  gboolean derived = qmp_event_get_derived (QMP_EVENT (error));

  for (guint i = 0; i < self->pause_errors->len; i++)
    {
      QmpBlockIoErrorEvent *known = self->pause_errors->pdata[i];
      gboolean known_derived = qmp_event_get_derived (QMP_EVENT (known));

      if (g_strcmp0 (io_error_disk (known), disk) != 0)
        continue;
      if ((known_derived && !derived) ||
          (known_derived == derived && !qmp_block_io_error_event_get_nospace (known) &&
           qmp_block_io_error_event_get_nospace (error)))
        {
          g_object_unref (known);
          self->pause_errors->pdata[i] = g_object_ref (error);
        }
      return;
    }
  g_ptr_array_add (self->pause_errors, g_object_ref (error));
}

/* NOSPACE when a disk ran out of space, else IO_ERROR, naming the disks. */
static QmpStopReason *
reason_for_errors (QmpClient *self,
                   gint64     since,
                   gboolean   derived)
{
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean nospace = FALSE;

  for (guint i = 0; i < self->pause_errors->len; i++)
    {
      QmpBlockIoErrorEvent *error = self->pause_errors->pdata[i];

      nospace |= qmp_block_io_error_event_get_nospace (error);
      g_ptr_array_add (disks, _qmp_block_info_new_for_error (error));
    }
  return _qmp_stop_reason_new_for_disks (nospace ? QMP_STOP_KIND_NOSPACE : QMP_STOP_KIND_IO_ERROR,
                                         "io-error", disks, since, derived);
}

/* A pause that errors may explain better: one nothing explained yet, or an
 * I/O error pause. Never the caller's pause, whatever errors say. */
static gboolean
pause_refinable (QmpClient *self)
{
  QmpStopKind kind;

  if (self->stop_reason == NULL || self->user_paused)
    return FALSE;
  kind = qmp_stop_reason_get_kind (self->stop_reason);
  return kind == QMP_STOP_KIND_UNKNOWN || kind == QMP_STOP_KIND_IO_ERROR || kind == QMP_STOP_KIND_NOSPACE;
}

static void
track_io_error (QmpClient            *self,
                QmpBlockIoErrorEvent *error)
{
  gint64 sent = qmp_event_get_timestamp_usec (QMP_EVENT (error));

  if (qmp_block_io_error_event_get_action (error) != QMP_BLOCK_ERROR_ACTION_STOP)
    return;
  /* Throttled and sent late, past the RESUME that ended its pause: it
   * explains nothing any more. Both timestamps are QEMU's. */
  if (sent >= 0 && self->resumed_usec >= 0 && sent < self->resumed_usec)
    {
      g_debug ("%s: an I/O error of %s from a pause that ended", client_name (self),
               io_error_disk (error));
      return;
    }
  remember_pause_error (self, error);
  if (pause_refinable (self))
    publish_stop_reason (self, reason_for_errors (self, current_pause_since (self), FALSE));
}

typedef struct {
  GWeakRef client;              /* the library's questions never keep it alive */
  guint pause_serial;           /* the pause asked about */
  QmpStatusInfo *status;        /* owned, nullable: query-status's answer */
} Explanation;

static void
explanation_free (Explanation *explanation)
{
  g_weak_ref_clear (&explanation->client);
  g_clear_object (&explanation->status);
  g_free (explanation);
}

static void
explain_status_ready (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Explanation *explanation = user_data;
  g_autoptr(JsonNode) value = g_task_propagate_pointer (G_TASK (result), NULL);

  if (value != NULL && JSON_NODE_HOLDS_OBJECT (value))
    explanation->status = qmp_status_info_new_from_json (json_node_get_object (value), NULL);
}

static QmpEvent *derived_event (const char *name,
                                JsonObject *data);
static void      emit_signals  (QmpClient  *self,
                                QmpEvent   *event);

/* The derived BLOCK_IO_ERROR of a disk whose io-status tells of an error;
 * with @not_nospace, whatever io-status says, an error other than a full
 * disk. */
static QmpBlockIoErrorEvent *
io_error_from_block (QmpBlockInfo *block,
                     gboolean      not_nospace)
{
  QmpIoStatus io_status = not_nospace ? QMP_IO_STATUS_FAILED : qmp_block_info_get_io_status (block);
  const char *node = qmp_block_info_get_node_name (block);
  const char *qdev = qmp_block_info_get_qdev (block);
  g_autoptr(JsonObject) data = json_object_new ();

  json_object_set_string_member (data, "device", qmp_block_info_get_device (block));
  if (node != NULL)
    json_object_set_string_member (data, "node-name", node);
  /* A QOM path, as QEMU 9.2 puts it in the event; not a device's id. */
  if (qdev != NULL && qdev[0] == '/')
    json_object_set_string_member (data, "qom-path", qdev);
  json_object_set_string_member (data, "action", "stop");
  json_object_set_boolean_member (data, "nospace", io_status == QMP_IO_STATUS_NOSPACE);
  json_object_set_string_member (data, "reason",
                                 io_status == QMP_IO_STATUS_NOSPACE ? "No space left on device" : "I/O error");
  return QMP_BLOCK_IO_ERROR_EVENT (derived_event ("BLOCK_IO_ERROR", data));
}

/* QEMU answered for a STOP nothing explained: its run state, and for an
 * I/O error pause the disks whose io-status shows an error. */
static void
explain_block_ready (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Explanation *explanation = user_data;
  g_autoptr(QmpClient) self = g_weak_ref_get (&explanation->client);
  g_autoptr(JsonNode) value = g_task_propagate_pointer (G_TASK (result), NULL);
  g_autoptr(GPtrArray) blocks = NULL;
  g_autoptr(GPtrArray) derived = g_ptr_array_new_with_free_func (g_object_unref);
  QmpStatusInfo *status = explanation->status;
  QmpStopReason *reason;
  QmpStopKind kind;
  guint serial;

  if (self == NULL || explanation->pause_serial != self->pause_serial || status == NULL)
    {
      /* Gone, resumed or stopped again since, or QEMU could not answer
       * (the connection is closing): the pause stays as it was told. */
      explanation_free (explanation);
      return;
    }
  if (value != NULL)
    blocks = _qmp_parse_object_array (value, "query-block",
                                      (gpointer) qmp_block_info_new_from_json, NULL);
  kind = qmp_stop_kind_from_run_state (qmp_status_info_get_status (status));
  if (kind == QMP_STOP_KIND_IO_ERROR && blocks != NULL)
    for (guint i = 0; i < blocks->len; i++)
      {
        QmpIoStatus io_status = qmp_block_info_get_io_status (blocks->pdata[i]);

        if (io_status == QMP_IO_STATUS_NOSPACE || io_status == QMP_IO_STATUS_FAILED)
          {
            QmpBlockIoErrorEvent *error = io_error_from_block (blocks->pdata[i], FALSE);

            remember_pause_error (self, error);
            g_ptr_array_add (derived, error);
          }
      }

  if (self->user_paused)
    reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_PAUSED_BY_USER,
                                             qmp_status_info_get_status_string (status),
                                             NULL, current_pause_since (self), FALSE);
  else if (kind == QMP_STOP_KIND_IO_ERROR && self->pause_errors->len > 0)
    reason = reason_for_errors (self, current_pause_since (self), FALSE);
  else
    reason = _qmp_stop_reason_new_for_disks (kind, qmp_status_info_get_status_string (status),
                                             NULL, kind == QMP_STOP_KIND_RUNNING ? -1 : current_pause_since (self),
                                             FALSE);
  g_debug ("%s: QEMU says the VM is %s", client_name (self),
           qmp_status_info_get_status_string (status));
  serial = self->pause_serial;
  publish_stop_reason (self, reason);

  /* As a resync derives them, unless a handler's nested main loop
   * delivered a RESUME meanwhile. */
  for (guint i = 0; i < derived->len && self->pause_serial == serial; i++)
    emit_signals (self, derived->pdata[i]);
  explanation_free (explanation);
}

static void execute_internal (QmpClient    *self,
                              const char   *command,
                              JsonObject   *arguments,
                              int           timeout_msec,
                              gboolean      direct,
                              gboolean      has_callback,
                              GCancellable *cancellable,
                              GTask        *task);

/* One of the library's own commands, answered in wire order in the
 * client's context. The task has no source object: it must not keep the
 * client alive. */
static void
ask_qemu (QmpClient           *self,
          const char          *command,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_main_context_push_thread_default (self->context);
  task = g_task_new (NULL, NULL, callback, user_data);
  g_main_context_pop_thread_default (self->context);
  g_task_set_source_tag (task, ask_qemu);
  execute_internal (self, command, NULL, QMP_TIMEOUT_DEFAULT, FALSE, TRUE, NULL, task);
}

/* Asks QEMU why the VM paused, both questions in one write. */
static void
explain_pause (QmpClient *self)
{
  Explanation *explanation = g_new0 (Explanation, 1);

  g_weak_ref_init (&explanation->client, self);
  explanation->pause_serial = self->pause_serial;
  g_debug ("%s: a STOP nothing explained: asking QEMU", client_name (self));
  ask_qemu (self, "query-status", explain_status_ready, explanation);
  ask_qemu (self, "query-block", explain_block_ready, explanation);
}

static void
track_stop (QmpClient *self,
            QmpEvent  *event)
{
  gint64 since = qmp_event_get_timestamp_usec (event);
  const char *cause = g_steal_pointer (&self->stop_cause);
  QmpStopReason *reason;

  self->pause_serial++;
  if (self->stops_in_flight > 0)
    {
      self->user_paused = TRUE;
      reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_PAUSED_BY_USER, "paused", NULL, since, FALSE);
    }
  else if (self->pause_errors->len > 0)
    reason = reason_for_errors (self, since, FALSE);
  else if (g_strcmp0 (cause, "SHUTDOWN") == 0)
    reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_SHUTDOWN, "shutdown", NULL, since, FALSE);
  else if (g_strcmp0 (cause, "GUEST_PANICKED") == 0)
    reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_GUEST_PANICKED, "guest-panicked", NULL, since, FALSE);
  else if (g_strcmp0 (cause, "WATCHDOG") == 0)
    reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_WATCHDOG, "watchdog", NULL, since, FALSE);
  else
    {
      /* Asked before it is told: a handler may run a nested main loop. */
      explain_pause (self);
      reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_UNKNOWN, NULL, NULL, since, FALSE);
    }
  publish_stop_reason (self, reason);
}

static void
track_resume (QmpClient *self,
              QmpEvent  *event)
{
  gint64 sent = qmp_event_get_timestamp_usec (event);

  self->pause_serial++;
  if (sent >= 0)
    self->resumed_usec = MAX (self->resumed_usec, sent);
  g_ptr_array_set_size (self->pause_errors, 0);
  self->stop_cause = NULL;
  self->user_paused = FALSE;
  publish_stop_reason (self, _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_RUNNING, "running", NULL, -1, FALSE));
}

/* QEMU acknowledged a stop of the caller's. Its STOP came before, unless
 * the VM was paused already (on an I/O error, say): QEMU then sends none,
 * and the run state stays, but the pause is now the caller's, and nothing
 * may resume it on the library's account. */
static void
track_stop_acknowledged (QmpClient *self)
{
  if (self->stops_in_flight > 0)
    self->stops_in_flight--;
  if (self->stop_reason == NULL || !qmp_stop_reason_is_paused (self->stop_reason) ||
      qmp_stop_reason_get_kind (self->stop_reason) == QMP_STOP_KIND_PAUSED_BY_USER)
    return;
  self->user_paused = TRUE;
  publish_stop_reason (self, _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_PAUSED_BY_USER,
                                                             qmp_stop_reason_get_run_state_string (self->stop_reason),
                                                             NULL, current_pause_since (self), FALSE));
}

static void
remember_threshold (QmpClient  *self,
                    const char *node_name,
                    guint64     threshold)
{
  if (threshold == 0)
    g_hash_table_remove (self->armed, node_name);
  else
    g_hash_table_insert (self->armed, g_strdup (node_name), g_memdup2 (&threshold, sizeof threshold));
}

static void
apply_effect (QmpClient     *self,
              CommandEffect  effect,
              const char    *threshold_node,
              guint64        threshold,
              guint          generation)
{
  switch (effect)
    {
    case EFFECT_THRESHOLD:
      /* Remembered to tell after a reconnection which thresholds fired
       * while the client was away. */
      remember_threshold (self, threshold_node, threshold);
      break;
    case EFFECT_STOP:
      if (generation == self->generation)
        track_stop_acknowledged (self);
      break;
    case EFFECT_NONE:
    default:
      break;
    }
}

/* A cause holds for the STOP that follows only if its action pauses the
 * VM: a WATCHDOG that reset it or a GUEST_PANICKED that let it run
 * explains nothing. */
static gboolean
action_pauses (QmpEvent *event)
{
  return g_strcmp0 (_qmp_json_get_string (qmp_event_get_data (event), "action"), "pause") == 0;
}

/* Keeps the stop reason and the armed thresholds current from live events. */
static void
track_event (QmpClient *self,
             QmpEvent  *event)
{
  const char *name = qmp_event_get_name (event);

  if (QMP_IS_BLOCK_IO_ERROR_EVENT (event))
    {
      track_io_error (self, QMP_BLOCK_IO_ERROR_EVENT (event));
    }
  else if (QMP_IS_WRITE_THRESHOLD_EVENT (event))
    {
      QmpWriteThresholdEvent *fired = QMP_WRITE_THRESHOLD_EVENT (event);
      const char *node = qmp_write_threshold_event_get_node_name (fired);
      guint64 *armed = node != NULL ? g_hash_table_lookup (self->armed, node) : NULL;

      /* One-shot; unless armed again since (the reply that armed the new
       * one may have been read before this event was delivered). */
      if (armed != NULL && *armed == qmp_write_threshold_event_get_write_threshold (fired))
        g_hash_table_remove (self->armed, node);
    }
  else if (g_str_equal (name, "SHUTDOWN"))
    self->stop_cause = "SHUTDOWN";
  else if (g_str_equal (name, "GUEST_PANICKED"))
    self->stop_cause = action_pauses (event) ? "GUEST_PANICKED" : NULL;
  else if (g_str_equal (name, "WATCHDOG"))
    self->stop_cause = action_pauses (event) ? "WATCHDOG" : NULL;
  else if (g_str_equal (name, "STOP"))
    track_stop (self, event);
  else if (g_str_equal (name, "RESUME"))
    track_resume (self, event);
  else if (g_str_equal (name, "SUSPEND"))
    {
      publish_stop_reason (self, _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_SUSPENDED, "suspended", NULL,
                                                                 qmp_event_get_timestamp_usec (event), FALSE));
    }
}

static void
emit_signals (QmpClient *self,
              QmpEvent  *event)
{
  const char *name = qmp_event_get_name (event);
  /* Only names some handler was connected for have a quark already: do
   * not let a peer grow the quark table with invented names. */
  GQuark detail = g_quark_try_string (name);

  g_signal_emit (self, signals[SIGNAL_EVENT], detail, event);

  if (QMP_IS_BLOCK_IO_ERROR_EVENT (event))
    g_signal_emit (self, signals[SIGNAL_BLOCK_IO_ERROR], 0, event);
  else if (QMP_IS_WRITE_THRESHOLD_EVENT (event))
    g_signal_emit (self, signals[SIGNAL_BLOCK_WRITE_THRESHOLD], 0, event);
  else if (g_str_equal (name, "STOP"))
    g_signal_emit (self, signals[SIGNAL_STOP], 0, event);
  else if (g_str_equal (name, "RESUME"))
    g_signal_emit (self, signals[SIGNAL_RESUME], 0, event);
}

static void
emit_event (QmpClient  *self,
            QmpMessage *message)
{
  g_autoptr(QmpEvent) event = _qmp_event_new_full (message->event_name,
                                                   message->timestamp_usec,
                                                   message->event_data, FALSE);

  track_event (self, event);
  emit_signals (self, event);
}

static void schedule_reconnect (QmpClient *self);
static void cancel_reconnect (QmpClient *self);

static void
dispatch_closed (QmpClient *self,
                 Incoming  *incoming)
{
  g_autoptr(QmpClient) hold = g_object_ref (self);

  fail_pending (self, incoming->error, FALSE, incoming->generation);
  /* Unless the caller already connected again. */
  if (self->connection == NULL && self->connect_task == NULL)
    set_state (self, QMP_CLIENT_STATE_CLOSED);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, incoming->error);
  if (self->connection == NULL && self->connect_task == NULL)
    schedule_reconnect (self);
}

static void
dispatch_one (QmpClient *self,
              Incoming  *incoming)
{
  QmpMessage *message = incoming->message;

  switch (incoming->kind)
    {
    case INCOMING_CLOSED:
      dispatch_closed (self, incoming);
      return;
    case INCOMING_DERIVED:
      emit_signals (self, incoming->event);
      return;
    case INCOMING_STOP_REASON:
      if (self->stop_reason != NULL)
        {
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_REASON]);
          g_signal_emit (self, signals[SIGNAL_STOP_REASON_CHANGED], 0, self->stop_reason);
        }
      return;
    case INCOMING_RECONNECTED:
      g_signal_emit (self, signals[SIGNAL_RECONNECTED], 0, incoming->new_instance);
      return;
    case INCOMING_STOP_ACKNOWLEDGED:
      apply_effect (self, EFFECT_STOP, NULL, 0, incoming->generation);
      return;
    case INCOMING_MESSAGE:
    default:
      break;
    }

  switch (message->kind)
    {
    case QMP_MESSAGE_EVENT:
      emit_event (self, message);
      break;
    case QMP_MESSAGE_RETURN:
    case QMP_MESSAGE_ERROR:
      dispatch_reply (self, message);
      break;
    case QMP_MESSAGE_GREETING:
    default:
      g_debug ("%s: ignoring an unexpected QMP greeting", client_name (self));
      break;
    }
}

static gboolean
dispatch_incoming (gpointer user_data)
{
  QmpClient *self = user_data;
  g_autoptr(QmpClient) hold = g_object_ref (self);
  guint budget = DISPATCH_BUDGET;

  g_source_set_ready_time (self->dispatch_source, -1);
  write_queued (self);

  /* Handlers may run a nested main loop, which dispatches this source
   * again (it may recurse): each level takes the next message, so delivery
   * still starts in wire order. */
  while (budget-- > 0 && self->dispatch_blocker == NULL)
    {
      Incoming *incoming = g_queue_peek_head (&self->incoming);

      if (incoming == NULL)
        break;
      /* What a connection reads before it is ready (events that arrive
       * while resync reads QEMU's state) waits for the end of the resync;
       * what earlier connections read still goes out. */
      if (self->connecting_generation != 0 && incoming->generation == self->connecting_generation)
        break;
      g_queue_pop_head (&self->incoming);

      if (incoming->kind == INCOMING_MESSAGE &&
          (incoming->message->kind == QMP_MESSAGE_RETURN ||
           incoming->message->kind == QMP_MESSAGE_ERROR))
        {
          QmpPending *pending = lookup_pending (self, incoming->message->id);

          if (pending != NULL && pending->has_callback &&
              g_task_get_context (pending->task) == self->context)
            {
              GTask *task = g_object_ref (pending->task);

              dispatch_one (self, incoming);
              /* GTask runs the callback right away unless the task was
               * created during this very main loop iteration; then it
               * defers it to an idle, and everything after this reply
               * must wait for it. */
              if (!g_task_get_completed (task))
                {
                  self->dispatch_blocker = task;
                  g_signal_connect (task, "notify::completed",
                                    G_CALLBACK (on_blocker_completed), self);
                }
              else
                {
                  g_object_unref (task);
                }
              incoming_free (incoming);
              continue;
            }
        }
      dispatch_one (self, incoming);
      incoming_free (incoming);
    }

  /* After the replies that were read in time. */
  timed_expire (self);
  schedule_dispatch (self);
  update_read_source (self);
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
/* Executing commands */

static QmpPending *
pending_new (QmpClient    *self,
             const char   *command,
             int           timeout_msec,
             gboolean      direct,
             gboolean      has_callback,
             GCancellable *cancellable,
             GTask        *task)
{
  QmpPending *pending = g_new0 (QmpPending, 1);
  guint timeout = timeout_msec < 0 ? self->command_timeout : (guint) timeout_msec;

  pending->client = self;
  pending->id = g_strdup_printf (ID_PREFIX "%" G_GUINT64_FORMAT, self->next_serial++);
  pending->command = g_strdup (command);
  pending->task = g_object_ref (task);
  pending->direct = direct;
  pending->has_callback = has_callback;
  pending->timeout = timeout;
  pending->generation = self->generation;

  if (timeout > 0 && g_task_get_context (task) == self->context)
    {
      pending->deadline = g_get_monotonic_time () + (gint64) timeout * 1000;
      timed_add (self, pending);
    }
  else if (timeout > 0)
    {
      pending->timeout_source = g_timeout_source_new (timeout);
      g_source_set_callback (pending->timeout_source, on_pending_timeout, pending, NULL);
      g_source_set_static_name (pending->timeout_source, "[qmpthin] command timeout");
      g_source_attach (pending->timeout_source, g_task_get_context (task));
    }
  if (cancellable != NULL)
    {
      pending->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (pending->cancel_source, G_SOURCE_FUNC (on_pending_cancelled),
                             pending, NULL);
      g_source_set_static_name (pending->cancel_source, "[qmpthin] command cancel");
      g_source_attach (pending->cancel_source, g_task_get_context (task));
    }

  g_hash_table_insert (self->pending, pending->id, pending);
  return pending;
}

/* Sends a command; the task completes with its return value. */
static void
execute_internal (QmpClient    *self,
                  const char   *command,
                  JsonObject   *arguments,
                  int           timeout_msec,
                  gboolean      direct,
                  gboolean      has_callback,
                  GCancellable *cancellable,
                  GTask        *task)
{
  QmpPending *pending;
  g_autofree char *line = NULL;
  gsize length;

  if (g_task_return_error_if_cancelled (task))
    return;

  /* One rule: a call made while there is no connection is
   * NOT_CONNECTED, whatever came before; G_IO_ERROR_CLOSED is for the
   * calls the end of a connection caught in flight. */
  if (self->connection == NULL)
    {
      g_task_return_new_error (task, QMP_ERROR, QMP_ERROR_NOT_CONNECTED,
                               "Cannot execute “%s”: %s is not connected%s", command,
                               client_name (self),
                               self->state == QMP_CLIENT_STATE_CLOSED ? " (it was closed)" : "");
      return;
    }

  pending = pending_new (self, command, timeout_msec, direct, has_callback, cancellable, task);
  if (g_str_equal (command, "block-set-write-threshold") && arguments != NULL)
    {
      const char *node = _qmp_json_get_string (arguments, "node-name");
      JsonNode *threshold = json_object_get_member (arguments, "write-threshold");

      if (node != NULL && threshold != NULL && JSON_NODE_HOLDS_VALUE (threshold) &&
          json_node_get_value_type (threshold) == G_TYPE_INT64 && json_node_get_int (threshold) >= 0)
        {
          pending->effect = EFFECT_THRESHOLD;
          pending->threshold_node = g_strdup (node);
          pending->threshold = json_node_get_int (threshold);
        }
    }
  else if (g_str_equal (command, "stop"))
    {
      /* Whatever STOP comes before its reply is the caller's. */
      pending->effect = EFFECT_STOP;
      self->stops_in_flight++;
    }
  line = _qmp_message_build_command (command, arguments, pending->id, &length);
  queue_output (self, line, length);
}

/* ------------------------------------------------------------------------ */
/* _sync calls: a private context that reads and writes the connection */

static void
sync_wait_update_sources (QmpClient *self,
                          SyncWait  *wait)
{
  if (wait->read_source != NULL && wait->read_stream != self->connection)
    {
      g_source_destroy (wait->read_source);
      g_clear_pointer (&wait->read_source, g_source_unref);
      wait->read_stream = NULL;
    }
  if (wait->read_source == NULL && self->connection != NULL)
    {
      wait->read_source = g_pollable_input_stream_create_source (self->input, NULL);
      g_source_set_callback (wait->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
      g_source_set_static_name (wait->read_source, "[qmpthin] sync read");
      g_source_attach (wait->read_source, wait->context);
      wait->read_stream = self->connection;
    }

  if (wait->write_source != NULL && g_source_is_destroyed (wait->write_source))
    g_clear_pointer (&wait->write_source, g_source_unref);
  if (wait->write_source == NULL && self->connection != NULL && self->outbuf->len > 0)
    {
      wait->write_source = g_pollable_output_stream_create_source (self->output, NULL);
      g_source_set_callback (wait->write_source, G_SOURCE_FUNC (on_sync_writable), self, NULL);
      g_source_set_static_name (wait->write_source, "[qmpthin] sync write");
      g_source_attach (wait->write_source, wait->context);
    }
}

static void
sync_wait_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SyncWait *wait = user_data;

  wait->result = g_object_ref (result);
}

/* The _sync call's task is made between sync_wait_begin() and
 * sync_wait_run(), while the private context is the thread-default, so
 * that it completes there. */
static void
sync_wait_begin (QmpClient *self,
                 SyncWait  *wait)
{
  wait->context = g_main_context_new ();
  g_main_context_push_thread_default (wait->context);
  self->sync_waits = g_slist_prepend (self->sync_waits, wait);
}

/* Not the thread-default while it runs: the caller's code that runs
 * meanwhile (a notify::state handler during a connect, say) and starts an
 * async call gets its callback in its own context, which goes on after
 * this returns. The library's own steps name the context they run in. */
static void
sync_wait_run (QmpClient *self,
               SyncWait  *wait)
{
  g_main_context_pop_thread_default (wait->context);
  while (wait->result == NULL)
    {
      sync_wait_update_sources (self, wait);
      g_main_context_iteration (wait->context, TRUE);
    }
}

static void
sync_wait_end (QmpClient *self,
               SyncWait  *wait)
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

  /* What was read meanwhile is delivered by the client's context. */
  schedule_dispatch (self);
  update_read_source (self);
  ensure_write_source (self);
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
  g_clear_object (&ctx->status);
  g_clear_pointer (&ctx->blocks, g_ptr_array_unref);
  g_clear_pointer (&ctx->nodes, g_ptr_array_unref);
  g_clear_pointer (&ctx->address, _qmp_address_free);
  g_free (ctx);
}

static void
clear_greeting (QmpClient *self)
{
  g_clear_pointer (&self->qemu_version, g_free);
  g_clear_pointer (&self->qemu_package, g_free);
  g_clear_pointer (&self->capabilities, g_strfreev);
  self->qemu_major = self->qemu_minor = self->qemu_micro = 0;
}

/* What a connection that failed to connect had read (events sent during
 * the resync, say) is dropped with it: delivered now, it would describe a
 * state the client never reported, and the next resync reads QEMU's state
 * again anyway. */
static void
drop_connecting_incoming (QmpClient *self)
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

/* Ends the connect in progress with an error: the client is back to
 * DISCONNECTED (never was connected) and can try again. */
static void
connect_fail (QmpClient *self,
              GError    *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

  g_autoptr(QmpClient) hold = g_object_ref (self);
  gboolean try_again;

  g_assert (task != NULL);
  /* With auto-reconnect the first connect is retried too (an agent may
   * start before its VM), unless the caller cancelled it or the address
   * can never work. An automatic attempt reschedules itself. */
  try_again = !self->reconnecting &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  connection_shutdown (self);
  fail_pending (self, error, FALSE, G_MAXUINT);
  drop_connecting_incoming (self);
  set_state (self, QMP_CLIENT_STATE_DISCONNECTED);
  /* Drops the timeout and cancellation sources. */
  g_task_set_task_data (task, NULL, NULL);
  g_task_return_error (task, error);
  if (try_again)
    schedule_reconnect (self);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  GTask *task = user_data;
  QmpClient *self = g_task_get_source_object (task);
  ConnectContext *ctx = g_task_get_task_data (task);
  GError *error;

  g_clear_pointer (&ctx->timeout_source, g_source_unref);

  switch (ctx->step)
    {
    case CONNECT_STEP_GREETING:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "No QMP greeting from %s within %u ms: QEMU serves one QMP client "
                           "at a time per monitor, so another client is probably connected",
                           client_name (self), ctx->timeout);
      break;
    case CONNECT_STEP_NEGOTIATE:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "QEMU at %s did not answer qmp_capabilities within %u ms",
                           client_name (self), ctx->timeout);
      break;
    case CONNECT_STEP_SYNC:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "QEMU at %s did not answer the queries of the resync within %u ms",
                           client_name (self), ctx->timeout);
      break;
    case CONNECT_STEP_FIRST:
    case CONNECT_STEP_OPEN:
      if (ctx->busy)
        {
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "QEMU at %s did not accept the connection within %u ms: it serves "
                               "one QMP client at a time, and another one is connected with one "
                               "more waiting", client_name (self), ctx->timeout);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case CONNECT_STEP_LAST:
    default:
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "Could not connect to %s within %u ms",
                           client_name (self), ctx->timeout);
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
  QmpClient *self = g_task_get_source_object (task);
  ConnectContext *ctx = g_task_get_task_data (task);

  g_clear_pointer (&ctx->cancel_source, g_source_unref);
  if (self->connect_task == task)
    connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     "Connecting to %s was cancelled", client_name (self)));
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

/* How long a UNIX socket that refuses connections is tried again: nothing
 * listens on it, which lasts for good when the QEMU that made it exited
 * (it leaves the file behind), and a moment only between QEMU's bind()
 * and listen(). */
#define REFUSED_RETRY_MS 1000

/* Tries the UNIX socket again after a growing delay, until the connect
 * timeout, where that can help (see _qmp_address_explain_failure()).
 * Returns FALSE when it cannot, with *failure set to the error to report,
 * if the cause has words of its own. */
static gboolean
connect_retry_later (GTask         *task,
                     const GError  *error,
                     GError       **failure)
{
  QmpClient *self = g_task_get_source_object (task);
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
  g_debug ("%s: %s; trying again in %u ms", client_name (self), error->message, ctx->retry_delay);
  ctx->retry_source = g_timeout_source_new (ctx->retry_delay);
  g_source_set_callback (ctx->retry_source, on_connect_retry, task, NULL);
  g_source_set_static_name (ctx->retry_source, "[qmpthin] connect retry");
  g_source_attach (ctx->retry_source, g_task_get_context (task));
  return TRUE;
}

/* Records the socket file's identity and whether it changed: QEMU
 * creates it anew when it starts, so another one is another QEMU. */
static void
note_socket_identity (QmpClient      *self,
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
  QmpClient *self = g_task_get_source_object (task);
  ConnectContext *ctx = g_task_get_task_data (task);

  if (stream == NULL)
    {
      GError *failure = NULL;

      if (connect_retry_later (task, error, &failure))
        return;
      if (failure == NULL)
        {
          failure = g_error_copy (error);
          g_prefix_error (&failure, "Could not connect to %s: ", client_name (self));
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
  QmpClient *self = g_task_get_source_object (task);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (self->connect_task != task)
    return;   /* timed out or cancelled meanwhile */
  connect_opened (task, G_IO_STREAM (connection), error);
}

static void
negotiate_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  QmpClient *self = QMP_CLIENT (source);
  ConnectContext *ctx = g_task_get_task_data (task);
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;

  value = qmp_client_execute_finish (self, result, &error);
  if (self->connect_task != task)
    return;
  if (value == NULL)
    {
      if (error->domain == QMP_COMMAND_ERROR)
        {
          GError *failure = g_error_new (QMP_ERROR, QMP_ERROR_NEGOTIATION_FAILED,
                                         "QEMU refused qmp_capabilities: %s", error->message);
          connect_fail (self, failure);
        }
      else
        {
          connect_fail (self, g_steal_pointer (&error));
        }
      return;
    }

  ctx->step++;
  connect_step (task);
}

static void
handle_greeting (QmpClient  *self,
                 QmpMessage *message)
{
  GTask *task = self->connect_task;
  ConnectContext *ctx;
  guint n_caps;

  g_return_if_fail (task != NULL);
  ctx = g_task_get_task_data (task);

  g_object_freeze_notify (G_OBJECT (self));
  clear_greeting (self);
  self->qemu_major = message->qemu_major;
  self->qemu_minor = message->qemu_minor;
  self->qemu_micro = message->qemu_micro;
  self->qemu_version = g_strdup_printf ("%u.%u.%u", self->qemu_major,
                                        self->qemu_minor, self->qemu_micro);
  self->qemu_package = g_strdup (message->qemu_package);
  n_caps = json_array_get_length (message->capabilities);
  self->capabilities = g_new0 (char *, n_caps + 1);
  for (guint i = 0; i < n_caps; i++)
    self->capabilities[i] = g_strdup (json_array_get_string_element (message->capabilities, i));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_VERSION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MAJOR]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MINOR]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MICRO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_PACKAGE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPABILITIES]);
  notify_in_client_context (self, NULL);

  _qmp_debug ("%s: QEMU %s (%s)", client_name (self), self->qemu_version,
              self->qemu_package ? self->qemu_package : "no package");

  if (self->connect_task != task)
    return;   /* a notify handler closed the client */
  ctx->step++;
  connect_step (task);
}

/* ------------------------------------------------------------------------ */
/* Resync: QEMU never replays events, so after every negotiation the client
 * reads what it may have missed before it declares itself ready. */

static void sync_step (GTask *task);

static void
sync_send (GTask               *task,
           const char          *command,
           JsonObject          *arguments,
           GAsyncReadyCallback  callback)
{
  QmpClient *self = g_task_get_source_object (task);
  g_autoptr(GTask) command_task = NULL;

  /* Completes in the connect's context, which may be a _sync call's. */
  g_main_context_push_thread_default (g_task_get_context (task));
  command_task = g_task_new (self, NULL, callback, g_object_ref (task));
  g_main_context_pop_thread_default (g_task_get_context (task));
  g_task_set_source_tag (command_task, qmp_client_execute_async);
  execute_internal (self, command, arguments, QMP_TIMEOUT_NONE, TRUE, TRUE, NULL, command_task);
}

/* Returns the reply, or NULL: QEMU refused the command (the server lacks
 * it, an answer in itself), or the connect failed and ended. */
static JsonNode *
sync_reply (GTask        *task,
            GObject      *source,
            GAsyncResult *result,
            gboolean     *failed)
{
  QmpClient *self = QMP_CLIENT (source);
  g_autoptr(GError) error = NULL;
  JsonNode *value = qmp_client_execute_finish (self, result, &error);

  *failed = FALSE;
  if (self->connect_task != task)
    {
      *failed = TRUE;
      g_clear_pointer (&value, json_node_unref);
      return NULL;
    }
  if (value == NULL && error->domain != QMP_COMMAND_ERROR)
    {
      *failed = TRUE;
      connect_fail (self, g_steal_pointer (&error));
    }
  return value;
}

static void
sync_status_ready (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  gboolean failed;
  g_autoptr(JsonNode) value = sync_reply (task, source, result, &failed);

  if (failed)
    return;
  ctx->status_pending = FALSE;
  /* No query-status: a server without run states (qemu-storage-daemon). */
  if (value != NULL && JSON_NODE_HOLDS_OBJECT (value))
    ctx->status = qmp_status_info_new_from_json (json_node_get_object (value), NULL);
  /* Sent right behind qmp_capabilities: a server that answers it first
   * leaves the rest to negotiate_ready(). */
  if (QMP_CLIENT (source)->state == QMP_CLIENT_STATE_SYNCING)
    sync_step (task);
}

static void
sync_block_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  gboolean failed;
  g_autoptr(JsonNode) value = sync_reply (task, source, result, &failed);

  if (failed)
    return;
  if (value != NULL)
    ctx->blocks = _qmp_parse_object_array (value, "query-block",
                                           (gpointer) qmp_block_info_new_from_json, NULL);
  sync_step (task);
}

static void
sync_nodes_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectContext *ctx = g_task_get_task_data (task);
  gboolean failed;
  g_autoptr(JsonNode) value = sync_reply (task, source, result, &failed);

  if (failed)
    return;
  if (value != NULL)
    ctx->nodes = _qmp_parse_object_array (value, "query-named-block-nodes",
                                          (gpointer) qmp_block_node_new_from_json, NULL);
  sync_step (task);
}

static QmpEvent *
derived_event (const char *name,
               JsonObject *data)
{
  return _qmp_event_new_full (name, g_get_real_time (), data, TRUE);
}

/* What the state read says happened while nobody was connected. */
static void
sync_derive (QmpClient *self,
             ConnectContext *ctx)
{
  g_autoptr(GPtrArray) derived = g_ptr_array_new_with_free_func (g_object_unref);
  QmpStopReason *old = self->stop_reason;
  QmpStopReason *reason;
  Incoming *incoming;

  /* Explanations asked on the lost connection are answered by this. */
  self->pause_serial++;
  self->stop_cause = NULL;
  if (self->new_instance)
    {
      self->user_paused = FALSE;
      self->resumed_usec = -1;
    }

  if (ctx->status == NULL)
    {
      g_ptr_array_set_size (self->pause_errors, 0);
      reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_NOT_APPLICABLE, NULL, NULL, -1, TRUE);
    }
  else
    {
      QmpStopKind kind = qmp_stop_kind_from_run_state (qmp_status_info_get_status (ctx->status));
      const char *run_state = qmp_status_info_get_status_string (ctx->status);
      QmpStopKind old_kind = old != NULL ? qmp_stop_reason_get_kind (old) : QMP_STOP_KIND_UNKNOWN;
      gboolean same_pause = !self->new_instance && old != NULL && qmp_stop_reason_is_paused (old);
      gint64 since;

      /* The errors seen live of a pause that goes on still explain it;
       * those of another QEMU, or of a pause that ended, do not. */
      if (kind != QMP_STOP_KIND_IO_ERROR || !same_pause ||
          (old_kind != QMP_STOP_KIND_IO_ERROR && old_kind != QMP_STOP_KIND_NOSPACE))
        g_ptr_array_set_size (self->pause_errors, 0);
      if (kind == QMP_STOP_KIND_RUNNING)
        self->user_paused = FALSE;

      /* io-status is stale with -blockdev once a pause ended (QEMU never
       * resets it): trust it only while the VM is paused on an error. */
      if (kind == QMP_STOP_KIND_IO_ERROR && ctx->blocks != NULL)
        {
          /* A pause this client saw as an I/O error is still one while the
           * VM stays paused on an error: with -blockdev, io-status keeps
           * saying nospace after the first ENOSPC pause, even for a later
           * EIO. Taking it for lack of space would have the caller extend
           * and resume into the same error again. */
          gboolean known_io_error = same_pause && old_kind == QMP_STOP_KIND_IO_ERROR;

          for (guint i = 0; i < ctx->blocks->len; i++)
            {
              QmpBlockInfo *block = ctx->blocks->pdata[i];
              QmpIoStatus io_status = qmp_block_info_get_io_status (block);
              QmpBlockIoErrorEvent *error;

              if (io_status != QMP_IO_STATUS_NOSPACE && io_status != QMP_IO_STATUS_FAILED)
                continue;
              error = io_error_from_block (block, known_io_error);
              remember_pause_error (self, error);
              g_ptr_array_add (derived, error);
            }
        }

      /* The same pause seen before the connection was lost keeps its start. */
      since = same_pause && old_kind == kind ? qmp_stop_reason_get_since_usec (old) : -1;
      if (self->user_paused)
        reason = _qmp_stop_reason_new_for_disks (QMP_STOP_KIND_PAUSED_BY_USER, run_state, NULL,
                                                 same_pause ? qmp_stop_reason_get_since_usec (old) : -1, TRUE);
      else if (kind == QMP_STOP_KIND_IO_ERROR && self->pause_errors->len > 0)
        reason = reason_for_errors (self, same_pause ? qmp_stop_reason_get_since_usec (old) : -1, TRUE);
      else
        reason = _qmp_stop_reason_new_for_disks (kind, run_state, NULL, since, TRUE);
    }

  /* A threshold the client armed that now reads 0 fired meanwhile. */
  if (ctx->nodes != NULL)
    for (guint i = 0; i < ctx->nodes->len; i++)
      {
        QmpBlockNode *node = ctx->nodes->pdata[i];
        const char *name = qmp_block_node_get_node_name (node);
        guint64 *armed = g_hash_table_lookup (self->armed, name);
        g_autoptr(JsonObject) data = NULL;

        if (armed == NULL)
          continue;
        if (qmp_block_node_get_write_threshold (node) != 0)
          {
            /* Still armed, or re-armed by someone else: remember that. */
            *armed = qmp_block_node_get_write_threshold (node);
            continue;
          }
        data = json_object_new ();
        json_object_set_string_member (data, "node-name", name);
        json_object_set_int_member (data, "write-threshold", (gint64) *armed);
        g_ptr_array_add (derived, derived_event ("BLOCK_WRITE_THRESHOLD", data));
        g_hash_table_remove (self->armed, name);
      }

  /* Delivered first, before the events that arrived during resync: the
   * stop reason if it changed, what was derived, then ::reconnected, so
   * that its handlers run once everything missed was told. */
  if (self->reconnecting)
    {
      incoming = g_new0 (Incoming, 1);
      incoming->kind = INCOMING_RECONNECTED;
      incoming->new_instance = self->new_instance;
      incoming->generation = self->generation;
      g_queue_push_head (&self->incoming, incoming);
    }
  for (guint i = derived->len; i-- > 0;)
    {
      incoming = g_new0 (Incoming, 1);
      incoming->kind = INCOMING_DERIVED;
      incoming->event = g_object_ref (derived->pdata[i]);
      incoming->generation = self->generation;
      g_queue_push_head (&self->incoming, incoming);
    }
  if (old != NULL && _qmp_stop_reason_equal (old, reason))
    {
      /* The pause the client knew goes on: what it knew of it stays. */
      g_object_unref (reason);
      return;
    }
  g_set_object (&self->stop_reason, reason);
  g_object_unref (reason);
  if (old == NULL)
    {
      /* The first reason a client learns is no change: it is there when
       * the connect completes. */
      notify_in_client_context (self, properties[PROP_STOP_REASON]);
      return;
    }
  incoming = g_new0 (Incoming, 1);
  incoming->kind = INCOMING_STOP_REASON;
  incoming->generation = self->generation;
  g_queue_push_head (&self->incoming, incoming);
}

static void
sync_step (GTask *task)
{
  QmpClient *self = g_task_get_source_object (task);
  ConnectContext *ctx = g_task_get_task_data (task);

  if (self->state != QMP_CLIENT_STATE_SYNCING)
    {
      /* A new QEMU has none of the old one's thresholds: they did not
       * fire, they are gone, and the caller must arm them again. */
      if (self->new_instance && g_hash_table_size (self->armed) > 0)
        {
          g_debug ("%s: a new QEMU instance: forgetting %u armed thresholds",
                   client_name (self), g_hash_table_size (self->armed));
          g_hash_table_remove_all (self->armed);
        }
      set_state (self, QMP_CLIENT_STATE_SYNCING);
      if (self->connect_task != task)
        return;
    }

  /* query-status went out with qmp_capabilities: its reply moves on. */
  if (ctx->status_pending)
    return;

  if (ctx->status != NULL && !qmp_status_info_get_running (ctx->status) &&
      ctx->blocks == NULL && !ctx->asked_blocks)
    {
      ctx->asked_blocks = TRUE;
      sync_send (task, "query-block", NULL, sync_block_ready);
      return;
    }

  if (g_hash_table_size (self->armed) > 0 && !ctx->asked_nodes)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();

      ctx->asked_nodes = TRUE;
      json_object_set_boolean_member (arguments, "flat", TRUE);
      sync_send (task, "query-named-block-nodes", arguments, sync_nodes_ready);
      return;
    }

  sync_derive (self, ctx);
  ctx->step++;
  connect_step (task);
}

static void dispatch_one (QmpClient *self,
                          Incoming  *incoming);

/* Delivers the head of the queue that the resync put there: the stop
 * reason if it changed, the derived events, ::reconnected. */
static void
deliver_resync (QmpClient *self)
{
  guint generation = self->generation;
  Incoming *incoming;

  g_main_context_push_thread_default (self->context);
  while (self->generation == generation && self->dispatch_blocker == NULL &&
         (incoming = g_queue_peek_head (&self->incoming)) != NULL &&
         incoming->generation == generation &&
         (incoming->kind == INCOMING_STOP_REASON || incoming->kind == INCOMING_DERIVED ||
          incoming->kind == INCOMING_RECONNECTED))
    {
      g_queue_pop_head (&self->incoming);
      dispatch_one (self, incoming);
      incoming_free (incoming);
    }
  g_main_context_pop_thread_default (self->context);
}

static void
connect_step (GTask *task)
{
  QmpClient *self = g_task_get_source_object (task);
  ConnectContext *ctx = g_task_get_task_data (task);

  switch (ctx->step)
    {
    case CONNECT_STEP_FIRST:
      set_state (self, QMP_CLIENT_STATE_CONNECTING);
      ctx->step++;
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_OPEN:
      if (self->initial_stream != NULL)
        {
          g_autoptr(GIOStream) stream = g_steal_pointer (&self->initial_stream);

          set_connection (self, stream);
          ctx->step++;
        }
      else
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GSocketClient) socket_client = NULL;

          if (self->address == NULL)
            {
              connect_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                               "A client made for a stream cannot connect again"));
              return;
            }
          if (ctx->address == NULL)
            ctx->address = _qmp_address_parse (self->address, &error);
          if (ctx->address == NULL)
            {
              connect_fail (self, g_steal_pointer (&error));
              return;
            }
          if (_qmp_address_get_path (ctx->address) != NULL)
            {
              g_autoptr(GIOStream) stream = _qmp_address_open_unix (ctx->address, &error);

              if (stream != NULL || error != NULL)
                {
                  connect_opened (task, stream, error);
                  return;
                }
            }
          /* Completes in the connect's context, which may be a _sync
           * call's (not the thread-default while it runs). */
          socket_client = g_socket_client_new ();
          g_main_context_push_thread_default (g_task_get_context (task));
          g_socket_client_connect_async (socket_client, _qmp_address_get_connectable (ctx->address),
                                         g_task_get_cancellable (task),
                                         connect_open_ready, g_object_ref (task));
          g_main_context_pop_thread_default (g_task_get_context (task));
          return;
        }
      G_GNUC_FALLTHROUGH;

    case CONNECT_STEP_GREETING:
      /* handle_greeting() moves on when QEMU's first line is read. */
      return;

    case CONNECT_STEP_NEGOTIATE:
      {
        g_autoptr(GTask) cap_task = NULL;

        set_state (self, QMP_CLIENT_STATE_NEGOTIATING);
        if (self->connect_task != task)
          return;   /* a notify handler closed the client */
        g_main_context_push_thread_default (g_task_get_context (task));
        cap_task = g_task_new (self, NULL, negotiate_ready, g_object_ref (task));
        g_main_context_pop_thread_default (g_task_get_context (task));
        g_task_set_source_tag (cap_task, qmp_client_execute_async);
        execute_internal (self, "qmp_capabilities", NULL, QMP_TIMEOUT_NONE, TRUE, TRUE, NULL, cap_task);
        /* Resync's first question goes in the same write: QEMU runs
         * commands in order, so it runs negotiated, and connecting costs
         * one round trip, not two. A server without query-status answers
         * CommandNotFound: it has no run state. */
        ctx->status_pending = TRUE;
        sync_send (task, "query-status", NULL, sync_status_ready);
        return;
      }

    case CONNECT_STEP_SYNC:
      sync_step (task);
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
        deliver_resync (self);
        schedule_dispatch (self);
        g_task_return_boolean (done, TRUE);
        return;
      }

    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------------ */
/* Automatic reconnection */

static void connect_start (QmpClient           *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data);

static void
cancel_reconnect (QmpClient *self)
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
  QmpClient *self = QMP_CLIENT (source);
  g_autoptr(GError) error = NULL;

  self->reconnecting = FALSE;
  if (!qmp_client_connect_finish (self, result, &error))
    {
      g_debug ("%s: reconnecting failed: %s", client_name (self), error->message);
      schedule_reconnect (self);
      return;
    }
  /* ::reconnected follows what the resync derived, in the queue. */
  self->reconnect_attempt = 0;
  if (self->new_instance)
    g_debug ("%s: reconnected to a new QEMU instance", client_name (self));
}

static gboolean
on_reconnect (gpointer user_data)
{
  QmpClient *self = user_data;

  g_clear_pointer (&self->reconnect_source, g_source_unref);
  self->reconnecting = TRUE;
  connect_start (self, NULL, reconnect_ready, NULL);
  return G_SOURCE_REMOVE;
}

/* Bounded exponential backoff with jitter: attempt n waits between half and
 * all of min(max, min * 2^n), so that many clients of a restarted host do
 * not reconnect in lockstep. */
static void
schedule_reconnect (QmpClient *self)
{
  guint64 delay;

  if (!self->auto_reconnect || self->closed_by_caller || self->address == NULL ||
      self->reconnect_source != NULL || self->connection != NULL || self->connect_task != NULL)
    return;

  delay = (guint64) MAX (self->reconnect_min_delay, 1) << MIN (self->reconnect_attempt, 30);
  delay = MIN (delay, MAX (self->reconnect_max_delay, self->reconnect_min_delay));
  delay = delay / 2 + g_random_int_range (0, (gint32) (delay / 2) + 1);
  self->reconnect_attempt++;

  g_debug ("%s: reconnecting in %" G_GUINT64_FORMAT " ms (attempt %u)",
           client_name (self), delay, self->reconnect_attempt);
  self->reconnect_source = g_timeout_source_new ((guint) delay);
  g_source_set_callback (self->reconnect_source, on_reconnect, self, NULL);
  g_source_set_static_name (self->reconnect_source, "[qmpthin] reconnect");
  g_source_attach (self->reconnect_source, self->context);
}

/* A client is used from the thread that runs its context. A call from
 * another thread is caught when that thread is iterating the context at
 * the time, which costs one acquire; a context nobody runs cannot tell. */
static gboolean
called_from_client_thread (QmpClient *self)
{
  if (!g_main_context_acquire (self->context))
    return FALSE;
  g_main_context_release (self->context);
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

  /* Connecting by hand allows automatic reconnection again, and replaces a
   * pending automatic attempt. */
  client->closed_by_caller = FALSE;
  cancel_reconnect (client);
  connect_start (client, cancellable, callback, user_data);
}

static void
connect_start (QmpClient           *client,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ConnectContext *ctx;
  guint timeout;

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, qmp_client_connect_async);

  if (client->connect_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Already connecting to %s", client_name (client));
      return;
    }
  if (client->connection != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               "Already connected to %s", client_name (client));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  ctx = g_new0 (ConnectContext, 1);
  ctx->step = CONNECT_STEP_FIRST;
  g_task_set_task_data (task, ctx, (GDestroyNotify) connect_context_free);
  client->connect_task = g_object_ref (task);

  /* An automatic attempt is nobody's call: unbounded, its task would keep
   * the client, and QEMU's monitor, after the caller dropped it. */
  timeout = client->connect_timeout;
  if (timeout == 0 && client->reconnecting)
    timeout = QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT;
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
  SyncWait wait = { NULL, };
  gboolean ok;

  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (called_from_client_thread (client), FALSE);

  sync_wait_begin (client, &wait);
  qmp_client_connect_async (client, cancellable, sync_wait_ready, &wait);
  sync_wait_run (client, &wait);
  ok = qmp_client_connect_finish (client, wait.result, error);
  sync_wait_end (client, &wait);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Public execute API */

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
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, qmp_client_execute_async);

  if (self->state != QMP_CLIENT_STATE_READY && self->connection != NULL)
    {
      g_task_return_new_error (task, QMP_ERROR, QMP_ERROR_NOT_CONNECTED,
                               "Cannot execute “%s”: the client is not ready yet", command);
      return;
    }

  execute_internal (self, command, arguments, timeout_msec, direct, callback != NULL,
                    cancellable, task);
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
  SyncWait wait = { NULL, };
  JsonNode *value;

  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  g_return_val_if_fail (command != NULL && *command != '\0', NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (called_from_client_thread (client), NULL);

  g_return_val_if_fail (timeout_msec >= -1, NULL);

  sync_wait_begin (client, &wait);
  execute_user (client, command, arguments, timeout_msec, TRUE, cancellable,
                sync_wait_ready, &wait);
  sync_wait_run (client, &wait);
  value = qmp_client_execute_finish (client, wait.result, error);
  sync_wait_end (client, &wait);
  return value;
}

/* ------------------------------------------------------------------------ */
/* Closing */

/* Closes at once: pending commands fail, messages not yet delivered are
 * dropped, ::disconnected is emitted with a %NULL error. */
static void
close_now (QmpClient *self)
{
  g_autoptr(GError) closed = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                          "The client was closed");
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

  was_connected = self->connection != NULL;
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

  fail_pending (self, closed, FALSE, G_MAXUINT);
  if (was_connected)
    {
      set_state (self, QMP_CLIENT_STATE_CLOSED);
      g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, NULL);
    }
}

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
  close_now (client);
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

  close_now (client);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
qmp_client_dispose (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);

  close_now (self);
  if (self->dispatch_source != NULL)
    {
      g_source_destroy (self->dispatch_source);
      g_clear_pointer (&self->dispatch_source, g_source_unref);
    }

  G_OBJECT_CLASS (qmp_client_parent_class)->dispose (object);
}

static void
qmp_client_finalize (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);

  g_assert (g_hash_table_size (self->pending) == 0);
  g_hash_table_unref (self->pending);
  g_queue_clear_full (&self->incoming, (GDestroyNotify) incoming_free);
  g_clear_object (&self->initial_stream);
  g_clear_pointer (&self->parser, _qmp_message_parser_free);
  g_hash_table_unref (self->armed);
  g_clear_object (&self->stop_reason);
  g_ptr_array_unref (self->pause_errors);
  clear_greeting (self);
  g_free (self->address);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (qmp_client_parent_class)->finalize (object);
}

static void
qmp_client_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  QmpClient *self = QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_STREAM:
      g_value_set_object (value, self->connection != NULL ? self->connection : self->initial_stream);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_QEMU_VERSION:
      g_value_set_string (value, self->qemu_version);
      break;
    case PROP_QEMU_MAJOR:
      g_value_set_uint (value, self->qemu_major);
      break;
    case PROP_QEMU_MINOR:
      g_value_set_uint (value, self->qemu_minor);
      break;
    case PROP_QEMU_MICRO:
      g_value_set_uint (value, self->qemu_micro);
      break;
    case PROP_QEMU_PACKAGE:
      g_value_set_string (value, self->qemu_package);
      break;
    case PROP_CAPABILITIES:
      g_value_set_boxed (value, self->capabilities);
      break;
    case PROP_COMMAND_TIMEOUT:
      g_value_set_uint (value, self->command_timeout);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, self->max_message_size);
      break;
    case PROP_STOP_REASON:
      g_value_set_object (value, self->stop_reason);
      break;
    case PROP_AUTO_RECONNECT:
      g_value_set_boolean (value, self->auto_reconnect);
      break;
    case PROP_RECONNECT_MIN_DELAY:
      g_value_set_uint (value, self->reconnect_min_delay);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint (value, self->reconnect_max_delay);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_client_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  QmpClient *self = QMP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      self->address = g_value_dup_string (value);
      break;
    case PROP_STREAM:
      self->initial_stream = g_value_dup_object (value);
      break;
    case PROP_COMMAND_TIMEOUT:
      qmp_client_set_command_timeout (self, g_value_get_uint (value));
      break;
    case PROP_CONNECT_TIMEOUT:
      qmp_client_set_connect_timeout (self, g_value_get_uint (value));
      break;
    case PROP_MAX_MESSAGE_SIZE:
      qmp_client_set_max_message_size (self, g_value_get_uint64 (value));
      break;
    case PROP_AUTO_RECONNECT:
      qmp_client_set_auto_reconnect (self, g_value_get_boolean (value));
      break;
    case PROP_RECONNECT_MIN_DELAY:
      self->reconnect_min_delay = g_value_get_uint (value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      self->reconnect_max_delay = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_client_constructed (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);

  G_OBJECT_CLASS (qmp_client_parent_class)->constructed (object);

  if (self->initial_stream != NULL &&
      (!G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (self->initial_stream)) ||
       !G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (self->initial_stream))))
    g_critical ("QmpClient needs a GIOStream with pollable input and output streams");
}

static void
qmp_client_class_init (QmpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = qmp_client_dispose;
  object_class->finalize = qmp_client_finalize;
  object_class->get_property = qmp_client_get_property;
  object_class->set_property = qmp_client_set_property;
  object_class->constructed = qmp_client_constructed;

  /**
   * QmpClient:address:
   *
   * The address the client connects to (see qmp_client_new()), or %NULL
   * for a client made with qmp_client_new_for_stream().
   *
   * Since: 1.0
   */
  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", "Address", "Address", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:stream:
   *
   * The connection: the caller's stream given at construction, or the
   * socket connection once connected; %NULL when there is none.
   *
   * Since: 1.0
   */
  properties[PROP_STREAM] =
    g_param_spec_object ("stream", "Stream", "Stream", G_TYPE_IO_STREAM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:state:
   *
   * Where the connection is in its life cycle.
   *
   * Since: 1.0
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", "State", "State", QMP_TYPE_CLIENT_STATE,
                       QMP_CLIENT_STATE_DISCONNECTED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:qemu-version:
   *
   * QEMU's version from its greeting, as "major.minor.micro" (e.g.
   * "7.2.22"); %NULL before the greeting was read.
   *
   * Since: 1.0
   */
  properties[PROP_QEMU_VERSION] =
    g_param_spec_string ("qemu-version", "Qemu version", "Qemu version", NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:qemu-major:
   *
   * The major part of #QmpClient:qemu-version (0 before the greeting).
   *
   * Since: 1.0
   */
  properties[PROP_QEMU_MAJOR] =
    g_param_spec_uint ("qemu-major", "Qemu major", "Qemu major", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:qemu-minor:
   *
   * The minor part of #QmpClient:qemu-version (0 before the greeting).
   *
   * Since: 1.0
   */
  properties[PROP_QEMU_MINOR] =
    g_param_spec_uint ("qemu-minor", "Qemu minor", "Qemu minor", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:qemu-micro:
   *
   * The micro part of #QmpClient:qemu-version (0 before the greeting).
   *
   * Since: 1.0
   */
  properties[PROP_QEMU_MICRO] =
    g_param_spec_uint ("qemu-micro", "Qemu micro", "Qemu micro", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:qemu-package:
   *
   * The package string of QEMU's greeting (a distribution's version, e.g.
   * "Debian 1:7.2+dfsg-7+deb12u18"); %NULL when QEMU sent none.
   *
   * Since: 1.0
   */
  properties[PROP_QEMU_PACKAGE] =
    g_param_spec_string ("qemu-package", "Qemu package", "Qemu package", NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:capabilities:
   *
   * The capabilities QEMU offered in its greeting (e.g. "oob"); %NULL
   * before the greeting was read.
   *
   * Since: 1.0
   */
  properties[PROP_CAPABILITIES] =
    g_param_spec_boxed ("capabilities", "Capabilities", "Capabilities", G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:command-timeout:
   *
   * How long a command waits for its reply, in milliseconds, unless the
   * call sets its own; 0 waits as long as the connection lives (and keeps
   * the client alive as long: see the section on lifetime). A change
   * applies to commands sent afterwards.
   *
   * Since: 1.0
   */
  properties[PROP_COMMAND_TIMEOUT] =
    g_param_spec_uint ("command-timeout", "Command timeout", "Command timeout", 0, G_MAXINT,
                       QMP_CLIENT_DEFAULT_COMMAND_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:connect-timeout:
   *
   * How long connecting may take in all (opening the socket, the greeting
   * and the negotiation), in milliseconds; 0 waits for ever.
   *
   * Since: 1.0
   */
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", "Connect timeout", "Connect timeout", 0, G_MAXINT,
                       QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:max-message-size:
   *
   * The largest message accepted from the server, in bytes, line
   * terminator excluded. A longer line closes the connection with
   * %QMP_ERROR_MESSAGE_TOO_LARGE as soon as it passes the limit, so a
   * peer cannot make the client buffer more than this.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", "Max message size", "Max message size", 1, G_MAXSSIZE,
                         QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:stop-reason:
   *
   * Whether the VM runs and, if not, why; %NULL until the first
   * connection was resynchronised: it is set when a connect completes.
   * See #QmpStopReason and the section on resynchronisation.
   *
   * Since: 1.0
   */
  properties[PROP_STOP_REASON] =
    g_param_spec_object ("stop-reason", "Stop reason", "Why the VM is not running",
                         QMP_TYPE_STOP_REASON,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:auto-reconnect:
   *
   * Whether the client connects again by itself after losing its
   * connection (QEMU restarted, the socket was reset), and after a
   * connect that failed (an agent started before its VM: the connect
   * reports its error, then the client keeps trying), with a bounded
   * exponential backoff between #QmpClient:reconnect-min-delay and
   * #QmpClient:reconnect-max-delay, each delay shortened by a random
   * jitter of up to half. A cancelled connect, or an address that can
   * never work, is not tried again. Every attempt goes through the resync,
   * so the client is READY only with QEMU's current state, and
   * #QmpClient::reconnected tells when an attempt got through; commands in
   * flight when the connection was lost fail once with %G_IO_ERROR_CLOSED
   * and are never sent again. Closing the client stops the attempts. Off by
   * default.
   *
   * Since: 1.0
   */
  properties[PROP_AUTO_RECONNECT] =
    g_param_spec_boolean ("auto-reconnect", "Auto reconnect", "Reconnect after a lost connection",
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:reconnect-min-delay:
   *
   * The delay before the first automatic reconnection attempt, in
   * milliseconds; it doubles with every failed attempt.
   *
   * Since: 1.0
   */
  properties[PROP_RECONNECT_MIN_DELAY] =
    g_param_spec_uint ("reconnect-min-delay", "Reconnect min delay", "First delay, ms",
                       1, G_MAXINT, 100,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * QmpClient:reconnect-max-delay:
   *
   * The longest delay between automatic reconnection attempts, in
   * milliseconds.
   *
   * Since: 1.0
   */
  properties[PROP_RECONNECT_MAX_DELAY] =
    g_param_spec_uint ("reconnect-max-delay", "Reconnect max delay", "Longest delay, ms",
                       1, G_MAXINT, 30000,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QmpClient::reconnected:
   * @client: the #QmpClient
   * @new_instance: %TRUE when the server is not the one of the lost
   *   connection: the UNIX socket file was created anew, as a restarted
   *   QEMU does
   *
   * Emitted when an automatic connection attempt succeeded, after a lost
   * connection or after a first connect that failed: the client is READY
   * again, #QmpClient:stop-reason tells QEMU's current state, and
   * #QmpClient::stop-reason-changed (if it changed) and the derived events
   * of the resync were emitted just before. Events QEMU sent during the
   * resync follow.
   *
   * A new QEMU instance has lost whatever the old one had: the client
   * forgets the write thresholds it had armed (no derived
   * #QmpClient::block-write-threshold for them: they did not fire) and the
   * caller must arm them again. A new instance is recognised by its UNIX
   * socket file only; over TCP @new_instance is always %FALSE.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RECONNECTED] =
    g_signal_new ("reconnected",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BOOLEAN);

  /**
   * QmpClient::stop-reason-changed:
   * @client: the #QmpClient
   * @reason: the new #QmpClient:stop-reason
   *
   * Emitted when #QmpClient:stop-reason tells something new (its kind, the
   * run state, the disks): before the `STOP` or `RESUME` event that
   * changed it is delivered, when QEMU answered for a `STOP` nothing
   * explained, when a late error refines a pause, and when a reconnection
   * finds another reason than the one known before (then before the
   * connect completes). The first reason a client learns, on its first
   * connect, is no change: it is set (notify::stop-reason) before the
   * connect completes, to be read then.
   *
   * Read the reason from qmp_client_get_stop_reason() rather than @reason
   * when a handler may run a nested main loop before yours: by then it may
   * be newer.
   *
   * Since: 1.0
   */
  signals[SIGNAL_STOP_REASON_CHANGED] =
    g_signal_new ("stop-reason-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_STOP_REASON);

  /**
   * QmpClient::event:
   * @client: the #QmpClient
   * @event: the event
   *
   * Emitted for every event QEMU sends, in the order QEMU sent them
   * relative to each other and to command replies. The signal is detailed
   * by the event's name: connect to `event::BLOCK_IO_ERROR` to get only
   * those.
   *
   * Since: 1.0
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_EVENT);

  /**
   * QmpClient::block-io-error:
   * @client: the #QmpClient
   * @event: the event
   *
   * Emitted for every `BLOCK_IO_ERROR`, right after #QmpClient::event.
   * With #QmpBlockIoErrorEvent:nospace and action
   * %QMP_BLOCK_ERROR_ACTION_STOP, a thin disk ran out of space and the VM
   * paused: extend the storage, then resume with qmp_client_cont_async().
   *
   * QEMU 7.2 does not throttle this event: a guest retrying against a full
   * disk with `werror=report` makes thousands a second. Never count them;
   * query the state instead.
   *
   * Since: 1.0
   */
  signals[SIGNAL_BLOCK_IO_ERROR] =
    g_signal_new ("block-io-error",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_BLOCK_IO_ERROR_EVENT);

  /**
   * QmpClient::block-write-threshold:
   * @client: the #QmpClient
   * @event: the event
   *
   * Emitted for every `BLOCK_WRITE_THRESHOLD`, right after
   * #QmpClient::event: writes crossed the threshold armed with
   * qmp_client_set_write_threshold_async(). Extend the storage, then arm
   * the next threshold: this one fired and is disarmed.
   *
   * Since: 1.0
   */
  signals[SIGNAL_BLOCK_WRITE_THRESHOLD] =
    g_signal_new ("block-write-threshold",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_WRITE_THRESHOLD_EVENT);

  /**
   * QmpClient::stop:
   * @client: the #QmpClient
   * @event: the `STOP` event
   *
   * Emitted when the VM paused, for whatever reason, right after
   * #QmpClient::event. A `BLOCK_IO_ERROR` with action
   * %QMP_BLOCK_ERROR_ACTION_STOP comes just before it when a disk error
   * paused the VM.
   *
   * Since: 1.0
   */
  signals[SIGNAL_STOP] =
    g_signal_new ("stop",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_EVENT);

  /**
   * QmpClient::resume:
   * @client: the #QmpClient
   * @event: the `RESUME` event
   *
   * Emitted when the VM runs again, right after #QmpClient::event.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESUME] =
    g_signal_new ("resume",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_EVENT);

  /**
   * QmpClient::disconnected:
   * @client: the #QmpClient
   * @error: (nullable): why the connection ended, or %NULL when the caller
   *   closed it
   *
   * Emitted once per connection when it ends, after every message read
   * before the end was delivered and every command still in flight
   * failed. @error is %G_IO_ERROR_CLOSED when QEMU closed the connection
   * (it quit or crashed), or a #QMP_ERROR when the client closed it
   * because the peer broke the protocol.
   *
   * Since: 1.0
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
qmp_client_init (QmpClient *self)
{
  const char *debug = g_getenv ("QMP_DEBUG");

  self->context = g_main_context_ref_thread_default ();
  self->state = QMP_CLIENT_STATE_DISCONNECTED;
  self->pending = g_hash_table_new (g_str_hash, g_str_equal);
  self->parser = _qmp_message_parser_new ();
  self->next_serial = 1;
  g_queue_init (&self->incoming);
  self->armed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->pause_errors = g_ptr_array_new_with_free_func (g_object_unref);
  self->resumed_usec = -1;

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
}

/* ------------------------------------------------------------------------ */
/* Construction and accessors */

/**
 * qmp_client_new:
 * @address: where QEMU's QMP socket is: `unix:PATH`, `/PATH` or
 *   `tcp:HOST:PORT`
 *
 * Creates a client for the QMP server at @address. Nothing is opened
 * until qmp_client_connect_async() or qmp_client_connect_sync(); an
 * invalid address makes the connect fail with %G_IO_ERROR_INVALID_ARGUMENT.
 *
 * The client belongs to the thread-default #GMainContext of the caller.
 *
 * Returns: (transfer full): a new #QmpClient
 *
 * Since: 1.0
 */
QmpClient *
qmp_client_new (const char *address)
{
  g_return_val_if_fail (address != NULL, NULL);

  return g_object_new (QMP_TYPE_CLIENT, "address", address, NULL);
}

/**
 * qmp_client_new_for_stream:
 * @stream: an open connection to a QMP server, with pollable streams
 *
 * Creates a client for a connection the caller made (a #GSocketConnection
 * from a socket passed by another process, one end of a socketpair). The
 * greeting is read when qmp_client_connect_async() is called. Such a client
 * cannot reconnect once the stream is closed.
 *
 * Returns: (transfer full): a new #QmpClient
 *
 * Since: 1.0
 */
QmpClient *
qmp_client_new_for_stream (GIOStream *stream)
{
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  return g_object_new (QMP_TYPE_CLIENT, "stream", stream, NULL);
}

/**
 * qmp_client_get_address:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:address.
 *
 * Returns: (nullable): the address, or %NULL for a client made for a stream
 *
 * Since: 1.0
 */
const char *
qmp_client_get_address (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return client->address;
}

/**
 * qmp_client_get_state:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:state.
 *
 * Returns: the state of the connection
 *
 * Since: 1.0
 */
QmpClientState
qmp_client_get_state (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), QMP_CLIENT_STATE_DISCONNECTED);
  return client->state;
}

/**
 * qmp_client_get_qemu_version:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:qemu-version.
 *
 * Returns: (nullable): QEMU's version, e.g. "7.2.22"
 *
 * Since: 1.0
 */
const char *
qmp_client_get_qemu_version (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return client->qemu_version;
}

/**
 * qmp_client_get_qemu_major:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:qemu-major.
 *
 * Returns: QEMU's major version
 *
 * Since: 1.0
 */
guint
qmp_client_get_qemu_major (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->qemu_major;
}

/**
 * qmp_client_get_qemu_minor:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:qemu-minor.
 *
 * Returns: QEMU's minor version
 *
 * Since: 1.0
 */
guint
qmp_client_get_qemu_minor (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->qemu_minor;
}

/**
 * qmp_client_get_qemu_micro:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:qemu-micro.
 *
 * Returns: QEMU's micro version
 *
 * Since: 1.0
 */
guint
qmp_client_get_qemu_micro (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->qemu_micro;
}

/**
 * qmp_client_get_qemu_package:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:qemu-package.
 *
 * Returns: (nullable): the package string of QEMU's greeting
 *
 * Since: 1.0
 */
const char *
qmp_client_get_qemu_package (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return client->qemu_package;
}

/**
 * qmp_client_get_capabilities:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:capabilities.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   capabilities QEMU offered
 *
 * Since: 1.0
 */
const char * const *
qmp_client_get_capabilities (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return (const char * const *) client->capabilities;
}

/**
 * qmp_client_has_capability:
 * @client: a #QmpClient
 * @capability: a QMP capability, e.g. "oob"
 *
 * Tells whether QEMU offered @capability in its greeting.
 *
 * Returns: %TRUE if it did
 *
 * Since: 1.0
 */
gboolean
qmp_client_has_capability (QmpClient  *client,
                           const char *capability)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  g_return_val_if_fail (capability != NULL, FALSE);
  return client->capabilities != NULL &&
         g_strv_contains ((const char * const *) client->capabilities, capability);
}

/**
 * qmp_client_get_command_timeout:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:command-timeout.
 *
 * Returns: the timeout in milliseconds, 0 for none
 *
 * Since: 1.0
 */
guint
qmp_client_get_command_timeout (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->command_timeout;
}

/**
 * qmp_client_set_command_timeout:
 * @client: a #QmpClient
 * @timeout_msec: the timeout in milliseconds, 0 for none
 *
 * Sets #QmpClient:command-timeout.
 *
 * Since: 1.0
 */
void
qmp_client_set_command_timeout (QmpClient *client,
                                guint      timeout_msec)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (timeout_msec <= G_MAXINT);

  if (client->command_timeout == timeout_msec)
    return;
  client->command_timeout = timeout_msec;
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_COMMAND_TIMEOUT]);
}

/**
 * qmp_client_get_connect_timeout:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:connect-timeout.
 *
 * Returns: the timeout in milliseconds, 0 for none
 *
 * Since: 1.0
 */
guint
qmp_client_get_connect_timeout (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->connect_timeout;
}

/**
 * qmp_client_set_connect_timeout:
 * @client: a #QmpClient
 * @timeout_msec: the timeout in milliseconds, 0 for none
 *
 * Sets #QmpClient:connect-timeout. It applies to the next connect.
 *
 * Since: 1.0
 */
void
qmp_client_set_connect_timeout (QmpClient *client,
                                guint      timeout_msec)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (timeout_msec <= G_MAXINT);

  if (client->connect_timeout == timeout_msec)
    return;
  client->connect_timeout = timeout_msec;
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_CONNECT_TIMEOUT]);
}

/**
 * qmp_client_get_max_message_size:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:max-message-size.
 *
 * Returns: the limit in bytes
 *
 * Since: 1.0
 */
gsize
qmp_client_get_max_message_size (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return client->max_message_size;
}

/**
 * qmp_client_set_max_message_size:
 * @client: a #QmpClient
 * @max_message_size: the limit in bytes, at least 1
 *
 * Sets #QmpClient:max-message-size. It applies at once, also to the
 * current connection.
 *
 * Since: 1.0
 */
void
qmp_client_set_max_message_size (QmpClient *client,
                                 gsize      max_message_size)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (max_message_size > 0 && max_message_size <= G_MAXSSIZE);

  if (client->max_message_size == max_message_size)
    return;
  client->max_message_size = max_message_size;
  if (client->framer != NULL)
    _qmp_stream_set_max_message_size (client->framer, max_message_size);
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_MAX_MESSAGE_SIZE]);
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
  return g_hash_table_size (client->pending);
}

/**
 * qmp_client_get_stop_reason:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:stop-reason.
 *
 * Returns: (transfer none) (nullable): why the VM is not running, or %NULL
 *   before the first resync
 *
 * Since: 1.0
 */
QmpStopReason *
qmp_client_get_stop_reason (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return client->stop_reason;
}

/**
 * qmp_client_declare_write_threshold:
 * @client: a #QmpClient
 * @node_name: a block node
 * @write_threshold: the threshold that was armed on it, 0 for none
 *
 * Tells the client that a write threshold is armed on @node_name, as if it
 * had armed it itself. The client remembers the thresholds it arms, across
 * reconnections, to tell on resync which of them fired while it was away;
 * a restarted agent has no such memory, so it declares the thresholds it
 * had persisted before connecting, and gets the same derived
 * #QmpClient::block-write-threshold events.
 *
 * Since: 1.0
 */
void
qmp_client_declare_write_threshold (QmpClient  *client,
                                    const char *node_name,
                                    guint64     write_threshold)
{
  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (node_name != NULL);
  remember_threshold (client, node_name, write_threshold);
}

/**
 * qmp_client_get_auto_reconnect:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:auto-reconnect.
 *
 * Returns: %TRUE if the client reconnects by itself
 *
 * Since: 1.0
 */
gboolean
qmp_client_get_auto_reconnect (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  return client->auto_reconnect;
}

/**
 * qmp_client_set_auto_reconnect:
 * @client: a #QmpClient
 * @auto_reconnect: whether to reconnect after a lost connection
 *
 * Sets #QmpClient:auto-reconnect. Turning it off stops a pending attempt.
 *
 * Since: 1.0
 */
void
qmp_client_set_auto_reconnect (QmpClient *client,
                               gboolean   auto_reconnect)
{
  g_return_if_fail (QMP_IS_CLIENT (client));

  auto_reconnect = !!auto_reconnect;
  if (client->auto_reconnect == auto_reconnect)
    return;
  client->auto_reconnect = auto_reconnect;
  if (!auto_reconnect)
    cancel_reconnect (client);
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_AUTO_RECONNECT]);
}
