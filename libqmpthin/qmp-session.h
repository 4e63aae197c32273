/* qmp-session.h: one client's connections to QEMU, in order (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-session.h is private to libqmpthin."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <qmpthin/qmp-enums.h>

#include "qmp-calls.h"
#include "qmp-message.h"

G_BEGIN_DECLS

typedef struct _QmpSession QmpSession;

/* How a session reaches the layers above it: the client and, through the
 * client, the tracker. Each is called in wire order from the session's
 * context (the connect's steps from the connect's), with the owner held. */
typedef struct {
  /* QmpClient:state changed; the owner's context is the thread-default. */
  void     (*state_changed)      (gpointer      user_data);
  /* QEMU's greeting of a new connection; the owner's context is the
   * thread-default. */
  void     (*greeting)           (QmpMessage   *greeting,
                                  gpointer      user_data);
  /* One of QEMU's events. */
  void     (*event)              (QmpMessage   *event,
                                  gpointer      user_data);
  /* A command goes out: what to attach to its call (freed with
   * observer_free when the call ends), or %NULL. */
  gpointer (*command_sent)       (const char   *command,
                                  JsonObject   *arguments,
                                  gpointer      user_data);
  /* QEMU answered a command that has an observer: @accepted unless it
   * refused. @in_order is %FALSE for a call completed as soon as its reply
   * was read (QMP_CALL_DIRECT), ahead of the events read before it. */
  void     (*command_answered)   (gpointer      observer,
                                  gboolean      accepted,
                                  gboolean      in_order,
                                  gpointer      user_data);
  GDestroyNotify observer_free;
  /* A connection opened (@up) or ended. */
  void     (*connection_changed) (gboolean      up,
                                  gpointer      user_data);
  /* The negotiation is on its way: the resync may send its first
   * questions (_qmp_session_execute_connecting()) in the same write. */
  void     (*resync_begin)       (gboolean      new_instance,
                                  gpointer      user_data);
  /* The negotiation succeeded: the resync runs, and ends with
   * _qmp_session_resync_done(). */
  void     (*resync_run)         (gpointer      user_data);
  /* The connect failed: the resync's answers still to come are void. */
  void     (*resync_abort)       (gpointer      user_data);
  /* A connection ended: @error, or %NULL when the caller closed it. */
  void     (*disconnected)       (const GError *error,
                                  gpointer      user_data);
  /* An automatic reconnection got through, after its resync. */
  void     (*reconnected)        (gboolean      new_instance,
                                  gpointer      user_data);
  /* _qmp_session_get_responsive() changed; the owner's context is the
   * thread-default. */
  void     (*responsive_changed) (gpointer      user_data);
} QmpSessionHooks;

/* What the owner sets; the session reads it when it needs it. */
typedef struct {
  guint command_timeout;        /* ms, 0: none */
  guint connect_timeout;        /* ms, 0: none */
  /* The bound of an automatic attempt when connect_timeout is 0: nobody's
   * call, unbounded it would keep the owner, and QEMU's monitor. */
  guint automatic_connect_timeout;
  guint reconnect_min_delay;    /* ms */
  guint reconnect_max_delay;    /* ms */
} QmpSessionConfig;

/* Work to do at its place in the order of delivery. */
typedef void (*QmpSessionFunc) (gpointer data);

QmpSession       *_qmp_session_new                  (GObject               *owner,
                                                     const QmpSessionHooks *hooks);
void              _qmp_session_set_address          (QmpSession            *session,
                                                     const char            *address);
void              _qmp_session_set_initial_stream   (QmpSession            *session,
                                                     GIOStream             *stream);
const char       *_qmp_session_get_address          (QmpSession            *session);
void              _qmp_session_dispose              (QmpSession            *session);
void              _qmp_session_free                 (QmpSession            *session);

QmpSessionConfig *_qmp_session_get_config           (QmpSession            *session);
const char       *_qmp_session_get_name             (QmpSession            *session);
GMainContext     *_qmp_session_get_context          (QmpSession            *session);
QmpClientState    _qmp_session_get_state            (QmpSession            *session);
GIOStream        *_qmp_session_get_stream           (QmpSession            *session);
gboolean          _qmp_session_is_connected         (QmpSession            *session);
guint             _qmp_session_get_n_calls          (QmpSession            *session);
gsize             _qmp_session_get_max_message_size (QmpSession            *session);
void              _qmp_session_set_max_message_size (QmpSession            *session,
                                                     gsize                  max_message_size);
gboolean          _qmp_session_get_auto_reconnect   (QmpSession            *session);
void              _qmp_session_set_auto_reconnect   (QmpSession            *session,
                                                     gboolean               auto_reconnect);
guint             _qmp_session_get_liveness_interval (QmpSession           *session);
void              _qmp_session_set_liveness_interval (QmpSession           *session,
                                                     guint                  interval_ms);
gboolean          _qmp_session_get_responsive       (QmpSession            *session);

void              _qmp_session_connect              (QmpSession            *session,
                                                     GCancellable          *cancellable,
                                                     gpointer               source_tag,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
void              _qmp_session_close                (QmpSession            *session);

void              _qmp_session_execute              (QmpSession            *session,
                                                     const char            *command,
                                                     JsonObject            *arguments,
                                                     int                    timeout_msec,
                                                     QmpCallFlags           flags,
                                                     GCancellable          *cancellable,
                                                     GTask                 *task);
void              _qmp_session_execute_connecting   (QmpSession            *session,
                                                     const char            *command,
                                                     JsonObject            *arguments,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);

void              _qmp_session_deliver_in_order     (QmpSession            *session,
                                                     QmpSessionFunc         func,
                                                     gpointer               data,
                                                     GDestroyNotify         data_free);
void              _qmp_session_deliver_on_ready     (QmpSession            *session,
                                                     QmpSessionFunc         func,
                                                     gpointer               data,
                                                     GDestroyNotify         data_free);
void              _qmp_session_resync_done          (QmpSession            *session,
                                                     GError                *error);

/* A _sync call in progress: a private context that reads and writes the
 * connection while the caller waits. On the caller's stack. */
typedef struct
{
  GMainContext *context;        /* owned */
  GAsyncResult *result;         /* owned once the call completed */
  GSource *read_source;         /* owned, nullable */
  GSource *write_source;        /* owned, nullable */
  gpointer read_channel;        /* unowned: the channel read_source reads */
} QmpSyncWait;

void              _qmp_session_sync_begin           (QmpSession            *session,
                                                     QmpSyncWait           *wait);
void              _qmp_session_sync_run             (QmpSession            *session,
                                                     QmpSyncWait           *wait);
void              _qmp_session_sync_end             (QmpSession            *session,
                                                     QmpSyncWait           *wait);
void              _qmp_sync_wait_ready              (GObject               *source,
                                                     GAsyncResult          *result,
                                                     gpointer               wait);

G_END_DECLS
