/* qmp-client-liveness.c: whether QEMU answers, as QmpClient tells it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The properties #QmpClient:liveness-interval and #QmpClient:responsive,
 * the signal #QmpClient::responsive-changed and their accessors. The
 * session does the work (qmp-session-liveness.c); qmp-client.c installs
 * what is made here with the rest of the class.
 */

#include <qmpthin/qmp-client.h>

#include "qmp-client-private.h"

static GParamSpec *liveness_interval_pspec;
static GParamSpec *responsive_pspec;
static guint responsive_changed_signal;

/* Makes the two properties, for qmp-client.c to install under its ids,
 * and the signal. */
void
_qmp_client_class_init_liveness (GObjectClass  *object_class,
                                 GParamSpec   **liveness_interval,
                                 GParamSpec   **responsive)
{
  /**
   * QmpClient:liveness-interval:
   *
   * How often an idle connection is checked, in milliseconds; 0 (the
   * default) checks nothing.
   *
   * Once QEMU has sent nothing for an interval, the client sends it a
   * probe (`query-jobs`, answered by QEMU's main loop like any command,
   * with the shortest reply there is when no block job runs); when QEMU then lets another interval pass without answering
   * the probe or sending anything else, #QmpClient:responsive goes
   * %FALSE. So a QEMU that stops (SIGSTOP, a device model stuck holding
   * QEMU's big lock) is noticed within two intervals of the last message
   * it sent. Anything QEMU sends, a reply or an event, counts as an
   * answer: a busy connection is never probed. The checks of all clients
   * fall on a shared grid of an eighth of the interval, so that many idle
   * clients wake together, and either wait may end up to an eighth early.
   *
   * Commands in flight keep their own timeouts: the check fails none.
   * QEMU runs the commands of a monitor one at a time, so a probe queued
   * behind a command slower than the interval is not answered before it,
   * and #QmpClient:responsive is %FALSE meanwhile unless QEMU sends events:
   * choose an interval longer than the slowest command you expect. The
   * probe counts in qmp_client_get_n_pending() while it is in flight, and
   * one probe at most is in flight. A change applies at once, and restarts
   * the clock.
   *
   * Since: 1.0
   */
  *liveness_interval =
    g_param_spec_uint ("liveness-interval", "Liveness interval", "Idle time before a probe, ms",
                       0, G_MAXINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  liveness_interval_pspec = *liveness_interval;

  /**
   * QmpClient:responsive:
   *
   * Whether QEMU answers: %TRUE while the client is
   * %QMP_CLIENT_STATE_READY and QEMU was not found silent by the check of
   * #QmpClient:liveness-interval (with the check off, while the client is
   * ready). It goes %FALSE when the connection ends or QEMU leaves a probe
   * unanswered, and %TRUE again when a connect completes or QEMU sends
   * anything. #QmpClient::responsive-changed follows its notification.
   *
   * Since: 1.0
   */
  *responsive =
    g_param_spec_boolean ("responsive", "Responsive", "Whether QEMU answers", FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  responsive_pspec = *responsive;

  /**
   * QmpClient::responsive-changed:
   * @client: the #QmpClient
   * @responsive: the new #QmpClient:responsive
   *
   * Emitted when #QmpClient:responsive changes, right after its
   * notification: QEMU stopped answering (its monitor is open but
   * silent), answers again, or the client was connected or disconnected.
   * Commands in flight are not failed by it: they keep their own
   * timeouts.
   *
   * Since: 1.0
   */
  responsive_changed_signal =
    g_signal_new ("responsive-changed",
                  G_TYPE_FROM_CLASS (object_class),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

/* The session's hook: #QmpClient:responsive changed. */
void
_qmp_client_responsive_changed (gpointer user_data)
{
  QmpClient *self = user_data;
  gboolean responsive = qmp_client_get_responsive (self);

  g_object_notify_by_pspec (G_OBJECT (self), responsive_pspec);
  g_signal_emit (self, responsive_changed_signal, 0, responsive);
}

/**
 * qmp_client_get_liveness_interval:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:liveness-interval.
 *
 * Returns: the interval in milliseconds, 0 when QEMU is not checked
 *
 * Since: 1.0
 */
guint
qmp_client_get_liveness_interval (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), 0);
  return _qmp_session_get_liveness_interval (_qmp_client_get_session (client));
}

/**
 * qmp_client_set_liveness_interval:
 * @client: a #QmpClient
 * @interval_msec: the interval in milliseconds, 0 to check nothing
 *
 * Sets #QmpClient:liveness-interval.
 *
 * Since: 1.0
 */
void
qmp_client_set_liveness_interval (QmpClient *client,
                                  guint      interval_msec)
{
  QmpSession *session;

  g_return_if_fail (QMP_IS_CLIENT (client));
  g_return_if_fail (interval_msec <= G_MAXINT);

  session = _qmp_client_get_session (client);
  if (_qmp_session_get_liveness_interval (session) == interval_msec)
    return;
  _qmp_session_set_liveness_interval (session, interval_msec);
  g_object_notify_by_pspec (G_OBJECT (client), liveness_interval_pspec);
}

/**
 * qmp_client_get_responsive:
 * @client: a #QmpClient
 *
 * Gets #QmpClient:responsive.
 *
 * Returns: %TRUE if the client is ready and QEMU was not found silent
 *
 * Since: 1.0
 */
gboolean
qmp_client_get_responsive (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), FALSE);
  return _qmp_session_get_responsive (_qmp_client_get_session (client));
}
