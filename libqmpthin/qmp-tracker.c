/* qmp-tracker.c: what QEMU is doing, from its events and its state
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker keeps the client's picture of QEMU: why the VM is not
 * running (#QmpStopReason), and which write thresholds are armed. It is
 * fed, in wire order, QEMU's events and what the caller's commands
 * changed, and after every negotiation it runs the resync, which reads
 * QEMU's state and derives what a client that was away missed. It asks
 * QEMU and tells the client only through the hooks it was given: no
 * socket, no session, so tests feed it messages alone (test-tracker).
 *
 * Events explain a pause; QEMU's state decides. A STOP comes after what
 * announced it: the BLOCK_IO_ERRORs with action stop of the failing
 * requests, a WATCHDOG or GUEST_PANICKED whose action pauses the VM, a
 * SHUTDOWN, or a stop command of the caller (its STOP comes before its
 * reply). QEMU 9.2 to 10.x throttle BLOCK_IO_ERROR, action stop included,
 * to one a second per device, and send the last one of a window when the
 * window ends with its original timestamp: a pause may come with no error
 * before its STOP, and the error a second later or never. A STOP that
 * nothing explains makes the tracker ask QEMU at once (query-status and
 * query-block, whose io-status names the full disks), and an error that
 * arrives while the VM is still paused refines the reason.
 *
 * All of it happens in wire order, replies included, so what QEMU
 * answers describes the state after the events delivered before it.
 */

#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-events.h>
#include <qmpthin/qmp-status.h>

#include "qmp-json.h"
#include "qmp-models-private.h"
#include "qmp-tracker.h"

/* The resync in progress: what it read so far. */
typedef struct
{
  guint serial;                 /* answers to another resync are ignored */
  gboolean new_instance;        /* the server is not the one known before */
  gboolean negotiated;          /* _qmp_tracker_resync_run() was called */
  gboolean status_pending;      /* query-status sent, its reply not read */
  gboolean asked_blocks;
  gboolean asked_nodes;
  QmpStatusInfo *status;        /* owned, nullable: no run state */
  GPtrArray *blocks;            /* owned, nullable: QmpBlockInfo */
  GPtrArray *nodes;             /* owned, nullable: QmpBlockNode */
} Resync;

struct _QmpTracker
{
  gint ref_count;
  char *name;                   /* owned: for debug messages */
  QmpTrackerHooks hooks;
  gpointer user_data;
  gboolean detached;            /* the client is gone: answers are dropped */

  /* Write thresholds armed by the client, kept across connections:
   * node name -> guint64* armed threshold. */
  GHashTable *armed;

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
  gboolean user_paused;         /* the pause in progress is the caller's (a stop of theirs) */
  guint connection;             /* bumped whenever a connection opens or closes */

  Resync *resync;               /* owned, nullable */
  guint resync_serial;
};

/* What a command of the caller changes once QEMU accepted it. */
typedef enum {
  EFFECT_STOP,                  /* the caller pauses the VM */
  EFFECT_THRESHOLD,             /* a write threshold is armed (0: disarmed) */
} Effect;

struct _QmpTrackedCommand
{
  QmpTracker *tracker;          /* owned */
  Effect effect;
  guint connection;             /* the connection it was sent on */
  gboolean handed;              /* its effect was applied, or queued */
  char *node;                   /* owned, EFFECT_THRESHOLD */
  guint64 threshold;
};

static void resync_free (Resync *resync);

QmpTracker *
_qmp_tracker_new (const char            *name,
                  const QmpTrackerHooks *hooks,
                  gpointer               user_data)
{
  QmpTracker *self = g_new0 (QmpTracker, 1);

  self->ref_count = 1;
  self->name = g_strdup (name);
  self->hooks = *hooks;
  self->user_data = user_data;
  self->armed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->pause_errors = g_ptr_array_new_with_free_func (g_object_unref);
  self->resumed_usec = -1;
  return self;
}

QmpTracker *
_qmp_tracker_ref (QmpTracker *self)
{
  self->ref_count++;
  return self;
}

void
_qmp_tracker_unref (QmpTracker *self)
{
  if (--self->ref_count > 0)
    return;
  g_clear_pointer (&self->resync, resync_free);
  g_hash_table_unref (self->armed);
  g_clear_object (&self->stop_reason);
  g_ptr_array_unref (self->pause_errors);
  g_free (self->name);
  g_free (self);
}

/* The client is going: what QEMU still answers is dropped, and nothing is
 * told any more. Questions in flight hold the tracker, not the client. */
void
_qmp_tracker_detach (QmpTracker *self)
{
  self->detached = TRUE;
  g_clear_pointer (&self->resync, resync_free);
}

QmpStopReason *
_qmp_tracker_get_stop_reason (QmpTracker *self)
{
  return self->stop_reason;
}

/* Asks QEMU @command, through the client. */
static void
ask (QmpTracker          *self,
     const char          *command,
     JsonObject          *arguments,
     gboolean             resync,
     QmpTrackerReplyFunc  reply,
     gpointer             reply_data)
{
  self->hooks.send (command, arguments, resync, reply, reply_data, self->user_data);
}

/* ------------------------------------------------------------------------ */
/* Write thresholds */

/* Remembered to tell after a reconnection which thresholds fired while
 * the client was away. */
void
_qmp_tracker_declare_threshold (QmpTracker *self,
                                const char *node_name,
                                guint64     threshold)
{
  if (threshold == 0)
    g_hash_table_remove (self->armed, node_name);
  else
    g_hash_table_insert (self->armed, g_strdup (node_name), g_memdup2 (&threshold, sizeof threshold));
}

static void
track_threshold (QmpTracker             *self,
                 QmpWriteThresholdEvent *fired)
{
  const char *node = qmp_write_threshold_event_get_node_name (fired);
  guint64 *armed = node != NULL ? g_hash_table_lookup (self->armed, node) : NULL;

  /* One-shot; unless armed again since (the reply that armed the new one
   * may have been read before this event was delivered). */
  if (armed != NULL && *armed == qmp_write_threshold_event_get_write_threshold (fired))
    g_hash_table_remove (self->armed, node);
}

/* ------------------------------------------------------------------------ */
/* Stop tracking */

static void
publish_stop_reason (QmpTracker    *self,
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
  self->hooks.stop_reason_changed (reason, TRUE, self->user_data);
}

static gint64
current_pause_since (QmpTracker *self)
{
  return self->stop_reason != NULL ? qmp_stop_reason_get_since_usec (self->stop_reason) : -1;
}

static QmpStopReason *
reason_new (QmpStopKind  kind,
            const char  *run_state,
            gint64       since,
            gboolean     derived)
{
  return _qmp_stop_reason_new_for_disks (kind, run_state, NULL, since, derived);
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
 * memory. What QEMU sent beats what the tracker derived from io-status
 * (stale for -blockdev disks once a pause ended), and an error that says
 * nospace beats one that does not. */
static void
remember_pause_error (QmpTracker           *self,
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
reason_for_errors (QmpTracker *self,
                   gint64      since,
                   gboolean    derived)
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
pause_refinable (QmpTracker *self)
{
  QmpStopKind kind;

  if (self->stop_reason == NULL || self->user_paused)
    return FALSE;
  kind = qmp_stop_reason_get_kind (self->stop_reason);
  return kind == QMP_STOP_KIND_UNKNOWN || kind == QMP_STOP_KIND_IO_ERROR || kind == QMP_STOP_KIND_NOSPACE;
}

static void
track_io_error (QmpTracker           *self,
                QmpBlockIoErrorEvent *error)
{
  gint64 sent = qmp_event_get_timestamp_usec (QMP_EVENT (error));

  if (qmp_block_io_error_event_get_action (error) != QMP_BLOCK_ERROR_ACTION_STOP)
    return;
  /* Throttled and sent late, past the RESUME that ended its pause: it
   * explains nothing any more. Both timestamps are QEMU's. */
  if (sent >= 0 && self->resumed_usec >= 0 && sent < self->resumed_usec)
    {
      g_debug ("%s: an I/O error of %s from a pause that ended", self->name, io_error_disk (error));
      return;
    }
  remember_pause_error (self, error);
  if (pause_refinable (self))
    publish_stop_reason (self, reason_for_errors (self, current_pause_since (self), FALSE));
}

static QmpEvent *
derived_event (const char *name,
               JsonObject *data)
{
  return _qmp_event_new_full (name, g_get_real_time (), data, TRUE);
}

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

static gboolean
io_status_failed (QmpBlockInfo *block)
{
  QmpIoStatus io_status = qmp_block_info_get_io_status (block);

  return io_status == QMP_IO_STATUS_NOSPACE || io_status == QMP_IO_STATUS_FAILED;
}

/* A question about a STOP nothing explained. */
typedef struct {
  guint pause_serial;           /* the pause asked about */
  QmpStatusInfo *status;        /* owned, nullable: query-status's answer */
} Explanation;

static void
explanation_free (Explanation *explanation)
{
  g_clear_object (&explanation->status);
  g_free (explanation);
}

static void
explain_status_ready (QmpTracker   *self,
                      JsonNode     *value,
                      const GError *error,
                      gpointer      data)
{
  Explanation *explanation = data;

  if (value != NULL && JSON_NODE_HOLDS_OBJECT (value))
    explanation->status = qmp_status_info_new_from_json (json_node_get_object (value), NULL);
}

/* QEMU answered for a STOP nothing explained: its run state, and for an
 * I/O error pause the disks whose io-status shows an error. */
static void
explain_block_ready (QmpTracker   *self,
                     JsonNode     *value,
                     const GError *error,
                     gpointer      data)
{
  Explanation *explanation = data;
  g_autoptr(GPtrArray) blocks = NULL;
  g_autoptr(GPtrArray) derived = g_ptr_array_new_with_free_func (g_object_unref);
  QmpStatusInfo *status = explanation->status;
  QmpStopReason *reason;
  QmpStopKind kind;
  guint serial;

  if (self->detached || explanation->pause_serial != self->pause_serial || status == NULL)
    {
      /* Gone, resumed or stopped again since, or QEMU could not answer
       * (the connection is closing): the pause stays as it was told. */
      explanation_free (explanation);
      return;
    }
  if (value != NULL)
    blocks = _qmp_json_parse_object_array (value, "query-block",
                                           (gpointer) qmp_block_info_new_from_json, NULL);
  kind = qmp_stop_kind_from_run_state (qmp_status_info_get_status (status));
  if (kind == QMP_STOP_KIND_IO_ERROR && blocks != NULL)
    for (guint i = 0; i < blocks->len; i++)
      if (io_status_failed (blocks->pdata[i]))
        {
          QmpBlockIoErrorEvent *io_error = io_error_from_block (blocks->pdata[i], FALSE);

          remember_pause_error (self, io_error);
          g_ptr_array_add (derived, io_error);
        }

  if (self->user_paused)
    reason = reason_new (QMP_STOP_KIND_PAUSED_BY_USER, qmp_status_info_get_status_string (status),
                         current_pause_since (self), FALSE);
  else if (kind == QMP_STOP_KIND_IO_ERROR && self->pause_errors->len > 0)
    reason = reason_for_errors (self, current_pause_since (self), FALSE);
  else
    reason = reason_new (kind, qmp_status_info_get_status_string (status),
                         kind == QMP_STOP_KIND_RUNNING ? -1 : current_pause_since (self), FALSE);
  g_debug ("%s: QEMU says the VM is %s", self->name, qmp_status_info_get_status_string (status));
  serial = self->pause_serial;
  publish_stop_reason (self, reason);

  /* As a resync derives them, unless a handler's nested main loop
   * delivered a RESUME meanwhile. */
  for (guint i = 0; i < derived->len && self->pause_serial == serial && !self->detached; i++)
    self->hooks.derived_event (derived->pdata[i], self->user_data);
  explanation_free (explanation);
}

/* Asks QEMU why the VM paused, both questions in one write. */
static void
explain_pause (QmpTracker *self)
{
  Explanation *explanation = g_new0 (Explanation, 1);

  explanation->pause_serial = self->pause_serial;
  g_debug ("%s: a STOP nothing explained: asking QEMU", self->name);
  ask (self, "query-status", NULL, FALSE, explain_status_ready, explanation);
  ask (self, "query-block", NULL, FALSE, explain_block_ready, explanation);
}

static void
track_stop (QmpTracker *self,
            QmpEvent   *event)
{
  gint64 since = qmp_event_get_timestamp_usec (event);
  const char *cause = g_steal_pointer (&self->stop_cause);
  QmpStopReason *reason;

  self->pause_serial++;
  if (self->stops_in_flight > 0)
    {
      self->user_paused = TRUE;
      reason = reason_new (QMP_STOP_KIND_PAUSED_BY_USER, "paused", since, FALSE);
    }
  else if (self->pause_errors->len > 0)
    reason = reason_for_errors (self, since, FALSE);
  else if (g_strcmp0 (cause, "SHUTDOWN") == 0)
    reason = reason_new (QMP_STOP_KIND_SHUTDOWN, "shutdown", since, FALSE);
  else if (g_strcmp0 (cause, "GUEST_PANICKED") == 0)
    reason = reason_new (QMP_STOP_KIND_GUEST_PANICKED, "guest-panicked", since, FALSE);
  else if (g_strcmp0 (cause, "WATCHDOG") == 0)
    reason = reason_new (QMP_STOP_KIND_WATCHDOG, "watchdog", since, FALSE);
  else
    {
      /* Asked before it is told: a handler may run a nested main loop. */
      explain_pause (self);
      reason = reason_new (QMP_STOP_KIND_UNKNOWN, NULL, since, FALSE);
    }
  publish_stop_reason (self, reason);
}

static void
track_resume (QmpTracker *self,
              QmpEvent   *event)
{
  gint64 sent = qmp_event_get_timestamp_usec (event);

  self->pause_serial++;
  if (sent >= 0)
    self->resumed_usec = MAX (self->resumed_usec, sent);
  g_ptr_array_set_size (self->pause_errors, 0);
  self->stop_cause = NULL;
  self->user_paused = FALSE;
  publish_stop_reason (self, reason_new (QMP_STOP_KIND_RUNNING, "running", -1, FALSE));
}

/* A cause holds for the STOP that follows only if its action pauses the
 * VM: a WATCHDOG that reset it or a GUEST_PANICKED that let it run
 * explains nothing. */
static const char *
cause_if_it_pauses (QmpEvent   *event,
                    const char *cause)
{
  if (g_strcmp0 (_qmp_json_get_string (qmp_event_get_data (event), "action"), "pause") == 0)
    return cause;
  return NULL;
}

/* A live event, in wire order, before its signals are emitted: keeps the
 * stop reason and the armed thresholds current. */
void
_qmp_tracker_event (QmpTracker *self,
                    QmpEvent   *event)
{
  const char *name = qmp_event_get_name (event);

  if (QMP_IS_BLOCK_IO_ERROR_EVENT (event))
    track_io_error (self, QMP_BLOCK_IO_ERROR_EVENT (event));
  else if (QMP_IS_WRITE_THRESHOLD_EVENT (event))
    track_threshold (self, QMP_WRITE_THRESHOLD_EVENT (event));
  else if (g_str_equal (name, "SHUTDOWN"))
    self->stop_cause = "SHUTDOWN";
  else if (g_str_equal (name, "GUEST_PANICKED"))
    self->stop_cause = cause_if_it_pauses (event, "GUEST_PANICKED");
  else if (g_str_equal (name, "WATCHDOG"))
    self->stop_cause = cause_if_it_pauses (event, "WATCHDOG");
  else if (g_str_equal (name, "STOP"))
    track_stop (self, event);
  else if (g_str_equal (name, "RESUME"))
    track_resume (self, event);
  else if (g_str_equal (name, "SUSPEND"))
    publish_stop_reason (self, reason_new (QMP_STOP_KIND_SUSPENDED, "suspended",
                                           qmp_event_get_timestamp_usec (event), FALSE));
}

void
_qmp_tracker_connection_opened (QmpTracker *self)
{
  self->connection++;
  self->stops_in_flight = 0;
}

void
_qmp_tracker_connection_closed (QmpTracker *self)
{
  self->connection++;
}

/* ------------------------------------------------------------------------ */
/* The caller's commands */

/* QEMU acknowledged a stop of the caller's. Its STOP came before, unless
 * the VM was paused already (on an I/O error, say): QEMU then sends none,
 * and the run state stays, but the pause is now the caller's, and nothing
 * may resume it on the library's account. */
static void
stop_acknowledged (QmpTracker *self,
                   guint       connection)
{
  if (connection != self->connection)
    return;
  if (self->stops_in_flight > 0)
    self->stops_in_flight--;
  if (self->stop_reason == NULL || !qmp_stop_reason_is_paused (self->stop_reason) ||
      qmp_stop_reason_get_kind (self->stop_reason) == QMP_STOP_KIND_PAUSED_BY_USER)
    return;
  self->user_paused = TRUE;
  publish_stop_reason (self, reason_new (QMP_STOP_KIND_PAUSED_BY_USER,
                                         qmp_stop_reason_get_run_state_string (self->stop_reason),
                                         current_pause_since (self), FALSE));
}

/* The acknowledgement of a stop handed over ahead of the wire order,
 * waiting for its place. */
typedef struct {
  QmpTracker *tracker;          /* owned */
  guint connection;
} Acknowledgement;

static void
acknowledgement_run (gpointer data)
{
  Acknowledgement *ack = data;

  if (!ack->tracker->detached)
    stop_acknowledged (ack->tracker, ack->connection);
}

static void
acknowledgement_free (gpointer data)
{
  Acknowledgement *ack = data;

  _qmp_tracker_unref (ack->tracker);
  g_free (ack);
}

/* The caller sends @command: what it changes, if the tracker cares, to
 * hand back with its answer; %NULL otherwise. */
QmpTrackedCommand *
_qmp_tracker_command_sent (QmpTracker *self,
                           const char *command,
                           JsonObject *arguments)
{
  QmpTrackedCommand *tracked;

  if (g_str_equal (command, "block-set-write-threshold"))
    {
      const char *node = arguments != NULL ? _qmp_json_get_string (arguments, "node-name") : NULL;
      JsonNode *threshold = arguments != NULL ? json_object_get_member (arguments, "write-threshold") : NULL;

      if (node == NULL || threshold == NULL || !JSON_NODE_HOLDS_VALUE (threshold) ||
          json_node_get_value_type (threshold) != G_TYPE_INT64 || json_node_get_int (threshold) < 0)
        return NULL;
      tracked = g_new0 (QmpTrackedCommand, 1);
      tracked->effect = EFFECT_THRESHOLD;
      tracked->node = g_strdup (node);
      tracked->threshold = json_node_get_int (threshold);
    }
  else if (g_str_equal (command, "stop"))
    {
      /* Whatever STOP comes before its reply is the caller's. */
      tracked = g_new0 (QmpTrackedCommand, 1);
      tracked->effect = EFFECT_STOP;
      self->stops_in_flight++;
    }
  else
    return NULL;

  tracked->tracker = _qmp_tracker_ref (self);
  tracked->connection = self->connection;
  return tracked;
}

/* QEMU answered @tracked: @accepted when it carried it out. @in_order is
 * %FALSE for an answer handed over as soon as it was read (a _sync call's),
 * whose effect on the pause waits for its place in the wire order. */
void
_qmp_tracker_command_answered (QmpTrackedCommand *tracked,
                               gboolean           accepted,
                               gboolean           in_order)
{
  QmpTracker *self = tracked->tracker;

  if (!accepted || tracked->handed || self->detached)
    return;
  tracked->handed = TRUE;
  switch (tracked->effect)
    {
    case EFFECT_THRESHOLD:
      _qmp_tracker_declare_threshold (self, tracked->node, tracked->threshold);
      break;
    case EFFECT_STOP:
      if (in_order)
        {
          stop_acknowledged (self, tracked->connection);
        }
      else
        {
          Acknowledgement *ack = g_new0 (Acknowledgement, 1);

          ack->tracker = _qmp_tracker_ref (self);
          ack->connection = tracked->connection;
          self->hooks.in_order (acknowledgement_run, ack, acknowledgement_free, self->user_data);
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The command is over, answered or not. */
void
_qmp_tracker_command_free (QmpTrackedCommand *tracked)
{
  QmpTracker *self = tracked->tracker;

  /* A stop that failed, timed out or was cancelled explains no STOP. */
  if (tracked->effect == EFFECT_STOP && !tracked->handed &&
      tracked->connection == self->connection && self->stops_in_flight > 0)
    self->stops_in_flight--;
  _qmp_tracker_unref (self);
  g_free (tracked->node);
  g_free (tracked);
}

/* ------------------------------------------------------------------------ */
/* Resync: QEMU never replays events, so after every negotiation the
 * client reads what it may have missed before it declares itself ready:
 * query-status, query-block when the VM is not running, and
 * query-named-block-nodes when thresholds are armed. */

static void resync_step (QmpTracker *self);

static void
resync_free (Resync *resync)
{
  g_clear_object (&resync->status);
  g_clear_pointer (&resync->blocks, g_ptr_array_unref);
  g_clear_pointer (&resync->nodes, g_ptr_array_unref);
  g_free (resync);
}

/* The resync an answer of @data is for, if it still runs. */
static Resync *
resync_current (QmpTracker *self,
                gpointer    data)
{
  if (self->resync == NULL || self->resync->serial != GPOINTER_TO_UINT (data))
    return NULL;
  return self->resync;
}

/* Whether an answer lets the resync go on: QEMU's refusal does (the
 * server lacks the command, an answer in itself), a lost connection
 * does not. */
static gboolean
resync_answered (QmpTracker   *self,
                 const GError *error)
{
  if (error == NULL || error->domain == QMP_COMMAND_ERROR)
    return TRUE;
  g_clear_pointer (&self->resync, resync_free);
  self->hooks.resync_failed (g_error_copy (error), self->user_data);
  return FALSE;
}

static void
resync_status_ready (QmpTracker   *self,
                     JsonNode     *value,
                     const GError *error,
                     gpointer      data)
{
  Resync *resync = resync_current (self, data);

  if (resync == NULL || !resync_answered (self, error))
    return;
  resync->status_pending = FALSE;
  /* No query-status: a server without run states (qemu-storage-daemon). */
  if (value != NULL && JSON_NODE_HOLDS_OBJECT (value))
    resync->status = qmp_status_info_new_from_json (json_node_get_object (value), NULL);
  /* Sent right behind qmp_capabilities: a server that answers it first
   * leaves the rest to _qmp_tracker_resync_run(). */
  if (resync->negotiated)
    resync_step (self);
}

static void
resync_blocks_ready (QmpTracker   *self,
                     JsonNode     *value,
                     const GError *error,
                     gpointer      data)
{
  Resync *resync = resync_current (self, data);

  if (resync == NULL || !resync_answered (self, error))
    return;
  if (value != NULL)
    resync->blocks = _qmp_json_parse_object_array (value, "query-block",
                                                   (gpointer) qmp_block_info_new_from_json, NULL);
  resync_step (self);
}

static void
resync_nodes_ready (QmpTracker   *self,
                    JsonNode     *value,
                    const GError *error,
                    gpointer      data)
{
  Resync *resync = resync_current (self, data);

  if (resync == NULL || !resync_answered (self, error))
    return;
  if (value != NULL)
    resync->nodes = _qmp_json_parse_object_array (value, "query-named-block-nodes",
                                                  (gpointer) qmp_block_node_new_from_json, NULL);
  resync_step (self);
}

/* The stop reason the state read gives, with the derived BLOCK_IO_ERRORs
 * of the disks to blame. */
static QmpStopReason *
derive_stop_reason (QmpTracker *self,
                    Resync     *resync,
                    GPtrArray  *derived)
{
  QmpStopReason *old = self->stop_reason;
  QmpStopKind kind;
  QmpStopKind old_kind;
  const char *run_state;
  gboolean same_pause;
  gint64 since;

  if (resync->status == NULL)
    {
      g_ptr_array_set_size (self->pause_errors, 0);
      return reason_new (QMP_STOP_KIND_NOT_APPLICABLE, NULL, -1, TRUE);
    }

  kind = qmp_stop_kind_from_run_state (qmp_status_info_get_status (resync->status));
  run_state = qmp_status_info_get_status_string (resync->status);
  old_kind = old != NULL ? qmp_stop_reason_get_kind (old) : QMP_STOP_KIND_UNKNOWN;
  same_pause = !resync->new_instance && old != NULL && qmp_stop_reason_is_paused (old);

  /* The errors seen live of a pause that goes on still explain it; those
   * of another QEMU, or of a pause that ended, do not. */
  if (kind != QMP_STOP_KIND_IO_ERROR || !same_pause ||
      (old_kind != QMP_STOP_KIND_IO_ERROR && old_kind != QMP_STOP_KIND_NOSPACE))
    g_ptr_array_set_size (self->pause_errors, 0);
  if (kind == QMP_STOP_KIND_RUNNING)
    self->user_paused = FALSE;

  /* io-status is stale with -blockdev once a pause ended (QEMU never
   * resets it): trust it only while the VM is paused on an error. */
  if (kind == QMP_STOP_KIND_IO_ERROR && resync->blocks != NULL)
    {
      /* A pause this client saw as an I/O error is still one while the VM
       * stays paused on an error: with -blockdev, io-status keeps saying
       * nospace after the first ENOSPC pause, even for a later EIO. Taking
       * it for lack of space would have the caller extend and resume into
       * the same error again. */
      gboolean known_io_error = same_pause && old_kind == QMP_STOP_KIND_IO_ERROR;

      for (guint i = 0; i < resync->blocks->len; i++)
        if (io_status_failed (resync->blocks->pdata[i]))
          {
            QmpBlockIoErrorEvent *error = io_error_from_block (resync->blocks->pdata[i], known_io_error);

            remember_pause_error (self, error);
            g_ptr_array_add (derived, error);
          }
    }

  /* The same pause seen before the connection was lost keeps its start. */
  since = same_pause ? qmp_stop_reason_get_since_usec (old) : -1;
  if (self->user_paused)
    return reason_new (QMP_STOP_KIND_PAUSED_BY_USER, run_state, since, TRUE);
  if (kind == QMP_STOP_KIND_IO_ERROR && self->pause_errors->len > 0)
    return reason_for_errors (self, since, TRUE);
  return reason_new (kind, run_state, old_kind == kind ? since : -1, TRUE);
}

/* A threshold the client armed that now reads 0 fired meanwhile. */
static void
derive_thresholds (QmpTracker *self,
                   Resync     *resync,
                   GPtrArray  *derived)
{
  if (resync->nodes == NULL)
    return;
  for (guint i = 0; i < resync->nodes->len; i++)
    {
      QmpBlockNode *node = resync->nodes->pdata[i];
      const char *name = qmp_block_node_get_node_name (node);
      guint64 *armed = g_hash_table_lookup (self->armed, name);
      g_autoptr(JsonObject) data = NULL;

      if (armed == NULL)
        continue;
      if (qmp_block_node_get_write_threshold (node) != 0)
        {
          /* Still armed, or armed again by someone else: remember that. */
          *armed = qmp_block_node_get_write_threshold (node);
          continue;
        }
      data = json_object_new ();
      json_object_set_string_member (data, "node-name", name);
      json_object_set_int_member (data, "write-threshold", (gint64) *armed);
      g_ptr_array_add (derived, derived_event ("BLOCK_WRITE_THRESHOLD", data));
      g_hash_table_remove (self->armed, name);
    }
}

/* What the state read says happened while nobody was connected. */
static void
resync_derive (QmpTracker *self)
{
  Resync *resync = g_steal_pointer (&self->resync);
  g_autoptr(GPtrArray) derived = g_ptr_array_new_with_free_func (g_object_unref);
  QmpStopReason *old = self->stop_reason;
  QmpStopReason *reason;
  gboolean changed = FALSE;

  /* Explanations asked on the lost connection are answered by this. */
  self->pause_serial++;
  self->stop_cause = NULL;
  if (resync->new_instance)
    {
      self->user_paused = FALSE;
      self->resumed_usec = -1;
    }

  reason = derive_stop_reason (self, resync, derived);
  derive_thresholds (self, resync, derived);
  resync_free (resync);

  if (old != NULL && _qmp_stop_reason_equal (old, reason))
    {
      /* The pause the client knew goes on: what it knew of it stays. */
      g_object_unref (reason);
    }
  else if (old == NULL)
    {
      /* The first reason a client learns is no change: it is there when
       * the connect completes. */
      self->stop_reason = reason;
      self->hooks.stop_reason_changed (reason, FALSE, self->user_data);
    }
  else
    {
      g_set_object (&self->stop_reason, reason);
      g_object_unref (reason);
      changed = TRUE;
    }
  self->hooks.resync_done (changed, derived, self->user_data);
}

static void
resync_step (QmpTracker *self)
{
  Resync *resync = self->resync;

  /* query-status went out with qmp_capabilities: its reply moves on. */
  if (resync->status_pending)
    return;

  if (resync->status != NULL && !qmp_status_info_get_running (resync->status) &&
      resync->blocks == NULL && !resync->asked_blocks)
    {
      resync->asked_blocks = TRUE;
      ask (self, "query-block", NULL, TRUE, resync_blocks_ready, GUINT_TO_POINTER (resync->serial));
      return;
    }

  if (g_hash_table_size (self->armed) > 0 && !resync->asked_nodes)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();

      resync->asked_nodes = TRUE;
      json_object_set_boolean_member (arguments, "flat", TRUE);
      ask (self, "query-named-block-nodes", arguments, TRUE, resync_nodes_ready,
            GUINT_TO_POINTER (resync->serial));
      return;
    }

  resync_derive (self);
}

/* A connection is being negotiated: the resync's first question goes in
 * the same write as qmp_capabilities. QEMU runs commands in order, so it
 * runs negotiated, and connecting costs one round trip, not two. A server
 * without query-status answers CommandNotFound: it has no run state. */
void
_qmp_tracker_resync_begin (QmpTracker *self,
                           gboolean    new_instance)
{
  Resync *resync = g_new0 (Resync, 1);

  g_clear_pointer (&self->resync, resync_free);
  resync->serial = ++self->resync_serial;
  resync->new_instance = new_instance;
  resync->status_pending = TRUE;
  self->resync = resync;
  ask (self, "query-status", NULL, TRUE, resync_status_ready, GUINT_TO_POINTER (resync->serial));
}

/* The negotiation succeeded: the resync goes on as QEMU answers. */
void
_qmp_tracker_resync_run (QmpTracker *self)
{
  g_return_if_fail (self->resync != NULL);

  /* A new QEMU has none of the old one's thresholds: they did not fire,
   * they are gone, and the caller must arm them again. */
  if (self->resync->new_instance && g_hash_table_size (self->armed) > 0)
    {
      g_debug ("%s: a new QEMU instance: forgetting %u armed thresholds",
               self->name, g_hash_table_size (self->armed));
      g_hash_table_remove_all (self->armed);
    }
  self->resync->negotiated = TRUE;
  resync_step (self);
}

/* The connect failed: answers still to come are dropped. */
void
_qmp_tracker_resync_abort (QmpTracker *self)
{
  g_clear_pointer (&self->resync, resync_free);
}
