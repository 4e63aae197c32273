/* qmp-tracker.h: what QEMU is doing, from its events and its state (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-tracker.h is private to libqmpthin."
#endif

#include <json-glib/json-glib.h>

#include <qmpthin/qmp-event.h>
#include <qmpthin/qmp-stop-reason.h>

G_BEGIN_DECLS

typedef struct _QmpTracker QmpTracker;
typedef struct _QmpTrackedCommand QmpTrackedCommand;

/* QEMU's answer to a question of the tracker: its return value (borrowed),
 * or why there is none: QEMU refused (a #QMP_COMMAND_ERROR, an answer in
 * itself: the server lacks the command), or the connection ended. */
typedef void (*QmpTrackerReplyFunc) (QmpTracker   *tracker,
                                     JsonNode     *value,
                                     const GError *error,
                                     gpointer      data);

/* Work to do at a point of the wire order (see QmpTrackerHooks.in_order). */
typedef void (*QmpTrackerFunc) (gpointer data);

/* How the tracker reaches QEMU and the client. */
typedef struct {
  /* Asks QEMU @command. @reply runs exactly once: in wire order with the
   * events, or, with @resync, as soon as it is read (the connect waits for
   * it, maybe in a _sync call). */
  void (*send)                (const char          *command,
                               JsonObject          *arguments,
                               gboolean             resync,
                               QmpTrackerReplyFunc  reply,
                               gpointer             reply_data,
                               gpointer             user_data);
  /* The stop reason changed, in wire order. @announce is %FALSE for the
   * first reason a client learns: no change, only a value to read. */
  void (*stop_reason_changed) (QmpStopReason       *reason,
                               gboolean             announce,
                               gpointer             user_data);
  /* An event derived from QEMU's state, to emit as QEMU's own are. */
  void (*derived_event)       (QmpEvent            *event,
                               gpointer             user_data);
  /* Runs @func at this point of the wire order: after what was read
   * before, before what is read after; @data_free frees @data then, or
   * when the connection's messages are dropped. */
  void (*in_order)            (QmpTrackerFunc       func,
                               gpointer             data,
                               GDestroyNotify       data_free,
                               gpointer             user_data);
  /* The resync is over. What it found is to be delivered before the
   * connect completes, in this order: ::stop-reason-changed when
   * @reason_changed, then the @derived events (#QmpEvent). */
  void (*resync_done)         (gboolean             reason_changed,
                               GPtrArray           *derived,
                               gpointer             user_data);
  /* The resync could not read QEMU's state: the connect fails with
   * @error (transfer full). */
  void (*resync_failed)       (GError              *error,
                               gpointer             user_data);
} QmpTrackerHooks;

QmpTracker        *_qmp_tracker_new                 (const char            *name,
                                                     const QmpTrackerHooks *hooks,
                                                     gpointer               user_data);
QmpTracker        *_qmp_tracker_ref                 (QmpTracker            *tracker);
void               _qmp_tracker_unref               (QmpTracker            *tracker);
void               _qmp_tracker_detach              (QmpTracker            *tracker);

QmpStopReason     *_qmp_tracker_get_stop_reason     (QmpTracker            *tracker);
void               _qmp_tracker_declare_threshold   (QmpTracker            *tracker,
                                                     const char            *node_name,
                                                     guint64                threshold);

void               _qmp_tracker_connection_opened   (QmpTracker            *tracker);
void               _qmp_tracker_connection_closed   (QmpTracker            *tracker);
void               _qmp_tracker_event               (QmpTracker            *tracker,
                                                     QmpEvent              *event);

QmpTrackedCommand *_qmp_tracker_command_sent        (QmpTracker            *tracker,
                                                     const char            *command,
                                                     JsonObject            *arguments);
void               _qmp_tracker_command_answered    (QmpTrackedCommand     *command,
                                                     gboolean               accepted,
                                                     gboolean               in_order);
void               _qmp_tracker_command_free        (QmpTrackedCommand     *command);

void               _qmp_tracker_resync_begin        (QmpTracker            *tracker,
                                                     gboolean               new_instance);
void               _qmp_tracker_resync_run          (QmpTracker            *tracker);
void               _qmp_tracker_resync_abort        (QmpTracker            *tracker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpTracker, _qmp_tracker_unref)

G_END_DECLS
