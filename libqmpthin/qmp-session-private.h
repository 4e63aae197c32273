/* qmp-session-private.h: what the session's files share (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qmp-session.c delivers, sends and closes; qmp-session-connect.c gets
 * connected (the connect step machine and automatic reconnection). Both
 * see the session's state through this header, and nothing else does.
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-session-private.h is private to libqmpthin."
#endif

#include "qmp-address.h"
#include "qmp-channel.h"
#include "qmp-session.h"

G_BEGIN_DECLS

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

  /* Liveness (qmp-session-liveness.c); times are monotonic, in µs. */
  guint liveness_interval;      /* ms, 0: off */
  gint64 heard;                 /* when QEMU last sent something (while on) */
  gint64 probe_sent;            /* when the probe in flight went out; 0: none */
  gint64 liveness_wake;         /* when the check is due next; -1: never */
  gboolean silent;              /* QEMU left a probe unanswered for an interval */
  gint64 silent_heard;          /* heard when it was found silent */
  gboolean responsive;          /* what the owner was last told */
};

/* qmp-session.c */
void      _qmp_session_set_state          (QmpSession     *session,
                                           QmpClientState  state);
Incoming *_qmp_session_incoming_new       (QmpSession     *session,
                                           IncomingKind    kind);
void      _qmp_session_incoming_free      (Incoming       *incoming);
void      _qmp_session_enqueue            (QmpSession     *session,
                                           Incoming       *incoming);
void      _qmp_session_schedule_dispatch  (QmpSession     *session);
void      _qmp_session_dispatch_one       (QmpSession     *session,
                                           Incoming       *incoming);
void      _qmp_session_set_connection     (QmpSession     *session,
                                           GIOStream      *stream);
void      _qmp_session_shutdown           (QmpSession     *session);

/* qmp-session-connect.c */
void      _qmp_session_greeting           (QmpSession     *session,
                                           QmpMessage     *greeting);
gboolean  _qmp_session_awaits_greeting    (QmpSession     *session);
void      _qmp_session_connect_fail       (QmpSession     *session,
                                           GError         *error);
void      _qmp_session_schedule_reconnect (QmpSession     *session);
void      _qmp_session_cancel_reconnect   (QmpSession     *session);

/* qmp-session-liveness.c */
void      _qmp_session_liveness_reset     (QmpSession     *session);
void      _qmp_session_liveness_check     (QmpSession     *session);
void      _qmp_session_update_responsive  (QmpSession     *session);

G_END_DECLS
