/* qmp-client.c: a connection to one QEMU Machine Protocol server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-client.h>
#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-events.h>

#include "qmp-client-private.h"
#include "qmp-debug.h"
#include "qmp-models-private.h"
#include "qmp-session.h"
#include "qmp-tracker.h"

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

struct _QmpClient
{
  GObject parent_instance;

  QmpSession *session;          /* owned: the connection, commands, delivery */
  QmpTracker *tracker;          /* owned: the stop reason, armed thresholds */

  /* From the greeting of the current (or last) connection. */
  char *qemu_version;           /* owned, nullable */
  guint qemu_major;
  guint qemu_minor;
  guint qemu_micro;
  char *qemu_package;           /* owned, nullable */
  GStrv capabilities;           /* owned, nullable */
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
  PROP_LIVENESS_INTERVAL,
  PROP_RESPONSIVE,
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

/* ------------------------------------------------------------------------ */
/* Signals */

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
announce_stop_reason (QmpClient *self)
{
  QmpStopReason *reason = _qmp_tracker_get_stop_reason (self->tracker);

  if (reason == NULL)
    return;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_REASON]);
  g_signal_emit (self, signals[SIGNAL_STOP_REASON_CHANGED], 0, reason);
}

/* ------------------------------------------------------------------------ */
/* What the session tells */

static void
session_state_changed (gpointer user_data)
{
  g_object_notify_by_pspec (user_data, properties[PROP_STATE]);
}

static void
clear_greeting (QmpClient *self)
{
  g_clear_pointer (&self->qemu_version, g_free);
  g_clear_pointer (&self->qemu_package, g_free);
  g_clear_pointer (&self->capabilities, g_strfreev);
  self->qemu_major = self->qemu_minor = self->qemu_micro = 0;
}

static void
session_greeting (QmpMessage *message,
                  gpointer    user_data)
{
  QmpClient *self = user_data;
  guint n_caps = json_array_get_length (message->capabilities);

  g_object_freeze_notify (G_OBJECT (self));
  clear_greeting (self);
  self->qemu_major = message->qemu_major;
  self->qemu_minor = message->qemu_minor;
  self->qemu_micro = message->qemu_micro;
  self->qemu_version = g_strdup_printf ("%u.%u.%u", self->qemu_major,
                                        self->qemu_minor, self->qemu_micro);
  self->qemu_package = g_strdup (message->qemu_package);
  self->capabilities = g_new0 (char *, n_caps + 1);
  for (guint i = 0; i < n_caps; i++)
    self->capabilities[i] = g_strdup (json_array_get_string_element (message->capabilities, i));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_VERSION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MAJOR]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MINOR]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_MICRO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QEMU_PACKAGE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPABILITIES]);
  g_object_thaw_notify (G_OBJECT (self));

  _qmp_debug ("%s: QEMU %s (%s)", _qmp_session_get_name (self->session), self->qemu_version,
              self->qemu_package ? self->qemu_package : "no package");
}

static void
session_event (QmpMessage *message,
               gpointer    user_data)
{
  QmpClient *self = user_data;
  g_autoptr(QmpEvent) event = _qmp_event_new_full (message->event_name, message->timestamp_usec,
                                                   message->event_data, FALSE);

  _qmp_tracker_event (self->tracker, event);
  emit_signals (self, event);
}

static gpointer
session_command_sent (const char *command,
                      JsonObject *arguments,
                      gpointer    user_data)
{
  QmpClient *self = user_data;

  return _qmp_tracker_command_sent (self->tracker, command, arguments);
}

static void
session_command_answered (gpointer observer,
                          gboolean accepted,
                          gboolean in_order,
                          gpointer user_data)
{
  _qmp_tracker_command_answered (observer, accepted, in_order);
}

static void
session_connection_changed (gboolean up,
                            gpointer user_data)
{
  QmpClient *self = user_data;

  if (up)
    _qmp_tracker_connection_opened (self->tracker);
  else
    _qmp_tracker_connection_closed (self->tracker);
}

static void
session_resync_begin (gboolean new_instance,
                      gpointer user_data)
{
  _qmp_tracker_resync_begin (QMP_CLIENT (user_data)->tracker, new_instance);
}

static void
session_resync_run (gpointer user_data)
{
  _qmp_tracker_resync_run (QMP_CLIENT (user_data)->tracker);
}

static void
session_resync_abort (gpointer user_data)
{
  _qmp_tracker_resync_abort (QMP_CLIENT (user_data)->tracker);
}

static void
session_disconnected (const GError *error,
                      gpointer      user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_DISCONNECTED], 0, error);
}

static void
session_reconnected (gboolean new_instance,
                     gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_RECONNECTED], 0, new_instance);
}

static const QmpSessionHooks session_hooks = {
  .state_changed = session_state_changed,
  .greeting = session_greeting,
  .event = session_event,
  .command_sent = session_command_sent,
  .command_answered = session_command_answered,
  .observer_free = (GDestroyNotify) _qmp_tracker_command_free,
  .connection_changed = session_connection_changed,
  .resync_begin = session_resync_begin,
  .resync_run = session_resync_run,
  .resync_abort = session_resync_abort,
  .disconnected = session_disconnected,
  .reconnected = session_reconnected,
  .responsive_changed = _qmp_client_responsive_changed,
};

/* ------------------------------------------------------------------------ */
/* What the tracker asks and tells */

/* A question of the tracker to QEMU, waiting for its answer. It holds the
 * tracker, not the client: the library's own questions never keep the
 * client alive. */
typedef struct {
  QmpTracker *tracker;          /* owned */
  QmpTrackerReplyFunc reply;
  gpointer reply_data;
} Question;

static void
question_ready (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Question *question = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = g_task_propagate_pointer (G_TASK (result), &error);

  question->reply (question->tracker, value, error, question->reply_data);
  _qmp_tracker_unref (question->tracker);
  g_free (question);
}

static void
tracker_send (const char          *command,
              JsonObject          *arguments,
              gboolean             resync,
              QmpTrackerReplyFunc  reply,
              gpointer             reply_data,
              gpointer             user_data)
{
  QmpClient *self = user_data;
  GMainContext *context = _qmp_session_get_context (self->session);
  Question *question = g_new0 (Question, 1);
  g_autoptr(GTask) task = NULL;

  question->tracker = _qmp_tracker_ref (self->tracker);
  question->reply = reply;
  question->reply_data = reply_data;
  if (resync)
    {
      _qmp_session_execute_connecting (self->session, command, arguments, question_ready, question);
      return;
    }
  /* Answered in wire order in the client's context. The task has no
   * source object: it must not keep the client alive. */
  g_main_context_push_thread_default (context);
  task = g_task_new (NULL, NULL, question_ready, question);
  g_main_context_pop_thread_default (context);
  g_task_set_source_tag (task, tracker_send);
  _qmp_session_execute (self->session, command, arguments, QMP_TIMEOUT_DEFAULT,
                        QMP_CALL_HAS_CALLBACK, NULL, task);
}

static void
tracker_stop_reason_changed (QmpStopReason *reason,
                             gboolean       announce,
                             gpointer       user_data)
{
  QmpClient *self = user_data;
  GMainContext *context = _qmp_session_get_context (self->session);

  if (announce)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_REASON]);
      g_signal_emit (self, signals[SIGNAL_STOP_REASON_CHANGED], 0, reason);
      return;
    }
  /* The first reason, found by a connect that may run in a _sync call's
   * context: its handlers get the client's. */
  g_main_context_push_thread_default (context);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_REASON]);
  g_main_context_pop_thread_default (context);
}

static void
tracker_derived_event (QmpEvent *event,
                       gpointer  user_data)
{
  emit_signals (user_data, event);
}

static void
tracker_in_order (QmpTrackerFunc  func,
                  gpointer        data,
                  GDestroyNotify  data_free,
                  gpointer        user_data)
{
  _qmp_session_deliver_in_order (QMP_CLIENT (user_data)->session, func, data, data_free);
}

/* A finding of the resync: an event, or the new stop reason (no event). */
typedef struct {
  QmpClient *client;            /* unowned: its session holds the finding */
  QmpEvent *event;              /* owned, nullable */
} Finding;

static void
finding_deliver (gpointer data)
{
  Finding *finding = data;

  if (finding->event != NULL)
    emit_signals (finding->client, finding->event);
  else
    announce_stop_reason (finding->client);
}

static void
finding_free (gpointer data)
{
  Finding *finding = data;

  g_clear_object (&finding->event);
  g_free (finding);
}

static void
deliver_finding (QmpClient *self,
                 QmpEvent  *event)
{
  Finding *finding = g_new0 (Finding, 1);

  finding->client = self;
  finding->event = event != NULL ? g_object_ref (event) : NULL;
  _qmp_session_deliver_on_ready (self->session, finding_deliver, finding, finding_free);
}

static void
tracker_resync_done (gboolean   reason_changed,
                     GPtrArray *derived,
                     gpointer   user_data)
{
  QmpClient *self = user_data;

  if (reason_changed)
    deliver_finding (self, NULL);
  for (guint i = 0; i < derived->len; i++)
    deliver_finding (self, derived->pdata[i]);
  _qmp_session_resync_done (self->session, NULL);
}

static void
tracker_resync_failed (GError   *error,
                       gpointer  user_data)
{
  QmpClient *self = user_data;

  _qmp_session_resync_done (self->session, error);
}

static const QmpTrackerHooks tracker_hooks = {
  .send = tracker_send,
  .stop_reason_changed = tracker_stop_reason_changed,
  .derived_event = tracker_derived_event,
  .in_order = tracker_in_order,
  .resync_done = tracker_resync_done,
  .resync_failed = tracker_resync_failed,
};

/* The session under @client, for its calls (qmp-client-calls.c). */
QmpSession *
_qmp_client_get_session (QmpClient *client)
{
  return client->session;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
qmp_client_dispose (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);

  _qmp_session_dispose (self->session);
  /* Answers to the tracker's questions still in flight are dropped. */
  if (self->tracker != NULL)
    _qmp_tracker_detach (self->tracker);

  G_OBJECT_CLASS (qmp_client_parent_class)->dispose (object);
}

static void
qmp_client_finalize (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);

  _qmp_session_free (self->session);
  g_clear_pointer (&self->tracker, _qmp_tracker_unref);
  clear_greeting (self);

  G_OBJECT_CLASS (qmp_client_parent_class)->finalize (object);
}

static void
qmp_client_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  QmpClient *self = QMP_CLIENT (object);
  QmpSessionConfig *config = _qmp_session_get_config (self->session);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_string (value, _qmp_session_get_address (self->session));
      break;
    case PROP_STREAM:
      g_value_set_object (value, _qmp_session_get_stream (self->session));
      break;
    case PROP_STATE:
      g_value_set_enum (value, _qmp_session_get_state (self->session));
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
      g_value_set_uint (value, config->command_timeout);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, config->connect_timeout);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, _qmp_session_get_max_message_size (self->session));
      break;
    case PROP_STOP_REASON:
      g_value_set_object (value, qmp_client_get_stop_reason (self));
      break;
    case PROP_AUTO_RECONNECT:
      g_value_set_boolean (value, _qmp_session_get_auto_reconnect (self->session));
      break;
    case PROP_RECONNECT_MIN_DELAY:
      g_value_set_uint (value, config->reconnect_min_delay);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint (value, config->reconnect_max_delay);
      break;
    case PROP_LIVENESS_INTERVAL:
      g_value_set_uint (value, qmp_client_get_liveness_interval (self));
      break;
    case PROP_RESPONSIVE:
      g_value_set_boolean (value, qmp_client_get_responsive (self));
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
  QmpSessionConfig *config = _qmp_session_get_config (self->session);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      _qmp_session_set_address (self->session, g_value_get_string (value));
      break;
    case PROP_STREAM:
      _qmp_session_set_initial_stream (self->session, g_value_get_object (value));
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
      config->reconnect_min_delay = g_value_get_uint (value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      config->reconnect_max_delay = g_value_get_uint (value);
      break;
    case PROP_LIVENESS_INTERVAL:
      qmp_client_set_liveness_interval (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_client_constructed (GObject *object)
{
  QmpClient *self = QMP_CLIENT (object);
  GIOStream *stream = _qmp_session_get_stream (self->session);

  G_OBJECT_CLASS (qmp_client_parent_class)->constructed (object);

  self->tracker = _qmp_tracker_new (_qmp_session_get_name (self->session), &tracker_hooks, self);
  if (stream != NULL &&
      (!G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream)) ||
       !G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream))))
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

  _qmp_client_class_init_liveness (object_class, &properties[PROP_LIVENESS_INTERVAL],
                                   &properties[PROP_RESPONSIVE]);
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
  self->session = _qmp_session_new (G_OBJECT (self), &session_hooks);
  _qmp_session_get_config (self->session)->automatic_connect_timeout = QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT;
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
  return _qmp_session_get_address (client->session);
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
  return _qmp_session_get_state (client->session);
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
  return _qmp_session_get_config (client->session)->command_timeout;
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

  if (_qmp_session_get_config (client->session)->command_timeout == timeout_msec)
    return;
  _qmp_session_get_config (client->session)->command_timeout = timeout_msec;
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
  return _qmp_session_get_config (client->session)->connect_timeout;
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

  if (_qmp_session_get_config (client->session)->connect_timeout == timeout_msec)
    return;
  _qmp_session_get_config (client->session)->connect_timeout = timeout_msec;
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
  return _qmp_session_get_max_message_size (client->session);
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

  if (_qmp_session_get_max_message_size (client->session) == max_message_size)
    return;
  _qmp_session_set_max_message_size (client->session, max_message_size);
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_MAX_MESSAGE_SIZE]);
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
  return client->tracker != NULL ? _qmp_tracker_get_stop_reason (client->tracker) : NULL;
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
  _qmp_tracker_declare_threshold (client->tracker, node_name, write_threshold);
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
  return _qmp_session_get_auto_reconnect (client->session);
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
  if (_qmp_session_get_auto_reconnect (client->session) == auto_reconnect)
    return;
  _qmp_session_set_auto_reconnect (client->session, auto_reconnect);
  g_object_notify_by_pspec (G_OBJECT (client), properties[PROP_AUTO_RECONNECT]);
}
