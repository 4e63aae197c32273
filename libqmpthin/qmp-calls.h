/* qmp-calls.h: the commands waiting for QEMU's reply (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-calls.h is private to libqmpthin."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "qmp-message.h"

G_BEGIN_DECLS

typedef struct _QmpCalls QmpCalls;
typedef struct _QmpCall QmpCall;

typedef enum {
  /* Completed as soon as its reply is read, not in the ordered dispatch:
   * _sync calls and the connect's own commands, which run while the
   * client's context may be blocked. */
  QMP_CALL_DIRECT = 1 << 0,
  /* Someone waits for the result: its callback is the reply's place in
   * the order of delivery. */
  QMP_CALL_HAS_CALLBACK = 1 << 1,
  /* The session's liveness probe: nobody waits for its result, its reply
   * only tells that QEMU answers. */
  QMP_CALL_PROBE = 1 << 2,
} QmpCallFlags;

/* One command waiting for its reply. Read-only outside qmp-calls.c. */
struct _QmpCall
{
  QmpCalls *calls;              /* unowned */
  char *id;                     /* owned; key in the table */
  char *command;                /* owned; for messages */
  GTask *task;                  /* owned; completes exactly once */
  QmpCallFlags flags;
  guint timeout;                /* ms, 0 for none */
  guint generation;             /* the connection it was sent on */
  /* What the layer above attached (see _qmp_calls_observe()). */
  gpointer observer;
  GDestroyNotify observer_free;

  /*< private >*/
  GList *timed_link;            /* owned, nullable: in the calls' timed queue */
  gint64 deadline;              /* monotonic, with timed_link */
  GSource *timeout_source;      /* owned, nullable; in the task's context */
  GSource *cancel_source;       /* owned, nullable; in the task's context */
};

QmpCalls *_qmp_calls_new             (GMainContext *context);
void      _qmp_calls_free            (QmpCalls     *calls);
void      _qmp_calls_set_timer       (QmpCalls     *calls,
                                      GSource      *timer);
void      _qmp_calls_set_owner_wake  (QmpCalls     *calls,
                                      gint64        time);

QmpCall  *_qmp_calls_add             (QmpCalls     *calls,
                                      const char   *command,
                                      GTask        *task,
                                      guint         timeout_ms,
                                      GCancellable *cancellable,
                                      QmpCallFlags  flags,
                                      guint         generation);
void      _qmp_calls_observe         (QmpCall      *call,
                                      gpointer      observer,
                                      GDestroyNotify observer_free);

QmpCall  *_qmp_calls_lookup          (QmpCalls     *calls,
                                      JsonNode     *id);
gboolean  _qmp_calls_issued          (QmpCalls     *calls,
                                      JsonNode     *id);
guint     _qmp_calls_get_size        (QmpCalls     *calls);

GTask    *_qmp_calls_complete        (QmpCalls     *calls,
                                      QmpCall      *call,
                                      JsonNode     *value,
                                      GError       *error);
GTask    *_qmp_calls_complete_reply  (QmpCalls     *calls,
                                      QmpCall      *call,
                                      QmpMessage   *reply);
void      _qmp_calls_fail            (QmpCalls     *calls,
                                      const GError *reason,
                                      gboolean      direct_only,
                                      guint         max_generation);
void      _qmp_calls_expire          (QmpCalls     *calls);

G_END_DECLS
