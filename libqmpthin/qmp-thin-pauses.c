/* qmp-thin-pauses.c: QmpThinMonitor and the pauses that are not for lack of space
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A VM paused on an ordinary I/O error (a storage path that went away for
 * a while, say) is resumed with backoff when #QmpThinMonitor:io-error-policy
 * says so; a VM paused on an error for longer than #QmpThinMonitor:pause-limit
 * is reported. A user's pause is never touched. Both decide from the
 * client's stop reason as it is now.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-thin-monitor-private.h"

static QmpStopKind
current_kind (QmpThinMonitor *self)
{
  if (qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return QMP_STOP_KIND_UNKNOWN;
  return qmp_stop_reason_get_kind (qmp_client_get_stop_reason (self->client));
}

/* ------------------------------------------------------------------------ */
/* Resuming after an I/O error */

static void
retry_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(QmpThinCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = NULL;
  QmpThinMonitor *self = call->monitor;

  qmp_client_cont_finish (QMP_CLIENT (source), result, &error);
  if (g_cancellable_is_cancelled (call->cancellable))
    return;
  hold = g_object_ref (self);
  self->resuming = FALSE;
  if (error == NULL)
    {
      self->n_io_error_retries++;
      g_object_notify_by_pspec (G_OBJECT (self), _qmp_thin_monitor_properties[PROP_N_IO_ERROR_RETRIES]);
    }
  else if (!_qmp_thin_is_disconnection (error))
    _qmp_thin_monitor_emit_error (self, NULL, error);
}

static gboolean
on_retry (gpointer user_data)
{
  QmpThinMonitor *self = user_data;

  self->retry_source = 0;
  /* Still paused on an I/O error, and still nobody's pause but QEMU's. */
  if (self->io_error_policy != QMP_IO_ERROR_POLICY_RETRY || self->resuming ||
      current_kind (self) != QMP_STOP_KIND_IO_ERROR)
    return G_SOURCE_REMOVE;

  g_debug ("thin monitor: resuming a VM paused on an I/O error (next retry after %u ms)",
           MIN (self->retry_next * 2, self->retry_max_delay));
  self->last_retry = g_get_monotonic_time ();
  self->retry_next = MIN (self->retry_next * 2, self->retry_max_delay);
  self->resuming = TRUE;
  qmp_client_cont_async (self->client, self->cancellable, retry_ready, _qmp_thin_call_new (self));
  return G_SOURCE_REMOVE;
}

static void
update_retry (QmpThinMonitor *self,
              QmpStopKind     kind)
{
  if (self->io_error_policy != QMP_IO_ERROR_POLICY_RETRY || kind != QMP_STOP_KIND_IO_ERROR)
    {
      g_clear_handle_id (&self->retry_source, g_source_remove);
      return;
    }
  if (self->retry_source != 0 || self->resuming)
    return;

  /* The error came back soon after the last retry: wait longer this time.
   * It ran for longer than the wait: a new failure, from the start. */
  if (self->retry_next == 0 || self->last_retry == 0 ||
      g_get_monotonic_time () - self->last_retry > (gint64) self->retry_next * 1000)
    self->retry_next = MIN (self->retry_delay, self->retry_max_delay);
  self->retry_source = g_timeout_add_full (G_PRIORITY_DEFAULT, self->retry_next, on_retry, self, NULL);
  g_source_set_name_by_id (self->retry_source, "[qmpthin] thin monitor I/O error retry");
}

/* ------------------------------------------------------------------------ */
/* Pauses that last too long */

static gboolean
on_pause_limit (gpointer user_data)
{
  QmpThinMonitor *self = user_data;
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(QmpStopReason) reason = NULL;

  self->pause_limit_source = 0;
  reason = g_object_ref (qmp_client_get_stop_reason (self->client));
  g_signal_emit (self, _qmp_thin_monitor_signals[SIGNAL_PAUSED_TOO_LONG], 0, reason);
  return G_SOURCE_REMOVE;
}

static void
update_limit (QmpThinMonitor *self,
              QmpStopKind     kind)
{
  gboolean error_pause = kind == QMP_STOP_KIND_NOSPACE || kind == QMP_STOP_KIND_IO_ERROR;

  if (!error_pause || self->pause_limit == 0)
    {
      g_clear_handle_id (&self->pause_limit_source, g_source_remove);
      g_clear_object (&self->long_pause);
      return;
    }
  /* Told once a pause; a pause that changes from lack of space to another
   * error (or back) is one pause: QEMU did not run the VM in between. */
  if (self->long_pause != NULL)
    return;
  self->long_pause = g_object_ref (qmp_client_get_stop_reason (self->client));
  self->pause_limit_source = g_timeout_add_full (G_PRIORITY_DEFAULT, self->pause_limit, on_pause_limit,
                                                 self, NULL);
  g_source_set_name_by_id (self->pause_limit_source, "[qmpthin] thin monitor pause limit");
}

void
_qmp_thin_monitor_update_pauses (QmpThinMonitor *self)
{
  QmpStopKind kind = current_kind (self);

  /* Not ready: what QEMU does meanwhile is unknown; the next connection
   * tells. */
  if (kind == QMP_STOP_KIND_UNKNOWN && qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;
  update_retry (self, kind);
  update_limit (self, kind);
}

void
_qmp_thin_monitor_stop_pauses (QmpThinMonitor *self)
{
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->pause_limit_source, g_source_remove);
  g_clear_object (&self->long_pause);
}

/* ------------------------------------------------------------------------ */
/* Public API */

/* The policy for pauses on I/O errors, and the pause limit. */
void
_qmp_thin_monitor_class_init_pauses (QmpThinMonitorClass *klass)
{
  /**
   * QmpThinMonitor:io-error-policy:
   *
   * What the monitor does with a VM paused on an ordinary I/O error (not
   * for lack of space): %QMP_IO_ERROR_POLICY_LEAVE_PAUSED, the default,
   * or %QMP_IO_ERROR_POLICY_RETRY, which resumes it after
   * #QmpThinMonitor:io-error-retry-delay, then after twice as long each
   * time the error comes back within the last wait, up to
   * #QmpThinMonitor:io-error-retry-max-delay. A pause the client
   * attributes to a user is never resumed.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_IO_ERROR_POLICY] =
    g_param_spec_enum ("io-error-policy", "I/O error policy", "What to do with a VM paused on an I/O error",
                       QMP_TYPE_IO_ERROR_POLICY, QMP_IO_ERROR_POLICY_LEAVE_PAUSED,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:io-error-retry-delay:
   *
   * The wait, in milliseconds, before the first `cont` of a VM paused on
   * an I/O error under %QMP_IO_ERROR_POLICY_RETRY. Default 1000.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_IO_ERROR_RETRY_DELAY] =
    g_param_spec_uint ("io-error-retry-delay", "I/O error retry delay", "First retry's delay, ms",
                       1, G_MAXINT, 1000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:io-error-retry-max-delay:
   *
   * The longest wait, in milliseconds, between two `cont` of a VM that
   * keeps pausing on an I/O error. Default 60000.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_IO_ERROR_RETRY_MAX_DELAY] =
    g_param_spec_uint ("io-error-retry-max-delay", "I/O error retry maximum delay", "Longest retry delay, ms",
                       1, G_MAXINT, 60000,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:n-io-error-retries:
   *
   * How many times the monitor resumed a VM paused on an I/O error.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_N_IO_ERROR_RETRIES] =
    g_param_spec_uint ("n-io-error-retries", "I/O error retries", "Resumes after I/O errors",
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:pause-limit:
   *
   * How long, in milliseconds, a VM may stay paused on an error (for lack
   * of space or another I/O error) before #QmpThinMonitor::paused-too-long
   * tells; 0, the default, for no limit.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_PAUSE_LIMIT] =
    g_param_spec_uint ("pause-limit", "Pause limit", "Longest error pause before a signal, ms (0: none)",
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor::paused-too-long:
   * @monitor: the #QmpThinMonitor
   * @reason: why the VM is paused
   *
   * Emitted once a pause when the VM stayed paused on an error (for lack
   * of space, or an I/O error) for #QmpThinMonitor:pause-limit: the
   * storage cannot be extended, or keeps failing. A user's pause is
   * never reported.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_signals[SIGNAL_PAUSED_TOO_LONG] =
    g_signal_new ("paused-too-long",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_STOP_REASON);
}

/**
 * qmp_thin_monitor_get_io_error_policy:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:io-error-policy.
 *
 * Returns: what the monitor does with a VM paused on an I/O error
 *
 * Since: 1.0
 */
QmpIoErrorPolicy
qmp_thin_monitor_get_io_error_policy (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), QMP_IO_ERROR_POLICY_LEAVE_PAUSED);
  return monitor->io_error_policy;
}

/**
 * qmp_thin_monitor_set_io_error_policy:
 * @monitor: a #QmpThinMonitor
 * @policy: what to do with a VM paused on an I/O error
 *
 * Sets #QmpThinMonitor:io-error-policy; takes effect at once for a VM
 * paused now.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_set_io_error_policy (QmpThinMonitor   *monitor,
                                      QmpIoErrorPolicy  policy)
{
  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));

  if (monitor->io_error_policy == policy)
    return;
  monitor->io_error_policy = policy;
  g_object_notify_by_pspec (G_OBJECT (monitor), _qmp_thin_monitor_properties[PROP_IO_ERROR_POLICY]);
  _qmp_thin_monitor_update (monitor);
}

/**
 * qmp_thin_monitor_get_n_io_error_retries:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:n-io-error-retries.
 *
 * Returns: how many times the monitor resumed a VM paused on an I/O error
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_n_io_error_retries (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->n_io_error_retries;
}

/**
 * qmp_thin_monitor_get_pause_limit:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:pause-limit.
 *
 * Returns: the limit in milliseconds, 0 for none
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_pause_limit (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->pause_limit;
}

/**
 * qmp_thin_monitor_set_pause_limit:
 * @monitor: a #QmpThinMonitor
 * @limit_ms: the limit in milliseconds, 0 for none
 *
 * Sets #QmpThinMonitor:pause-limit. A pause under way is timed from when
 * the monitor sees the limit set.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_set_pause_limit (QmpThinMonitor *monitor,
                                  guint           limit_ms)
{
  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));

  if (monitor->pause_limit == limit_ms)
    return;
  monitor->pause_limit = limit_ms;
  g_clear_handle_id (&monitor->pause_limit_source, g_source_remove);
  g_clear_object (&monitor->long_pause);
  g_object_notify_by_pspec (G_OBJECT (monitor), _qmp_thin_monitor_properties[PROP_PAUSE_LIMIT]);
  _qmp_thin_monitor_update (monitor);
}
