/* qmp-thin-measure.c: what QmpThinMonitor measures of its extensions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The durations of the phases of each extension (QmpThinTiming), and the
 * samples of each disk's allocation the write rate comes from: at the
 * thresholds QEMU reports crossed and at the pauses for lack of space,
 * on QEMU's timestamps, and, until a disk has a rate, at the check of the
 * allocation after an arming, on the monitor's clock brought to QEMU's;
 * with the VM's pauses (STOP to RESUME, also on QEMU's timestamps) taken
 * out. Events explain, state decides: these measurements size
 * extensions, they never decide whether one is needed.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-json.h"
#include "qmp-thin-monitor-private.h"

void
_qmp_thin_monitor_init_measure (QmpThinMonitor *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->timings); i++)
    self->timings[i] = _qmp_thin_timing_new ();
}

void
_qmp_thin_monitor_clear_measure (QmpThinMonitor *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->timings); i++)
    g_clear_object (&self->timings[i]);
}

/* One more duration of @phase for @disk (NULL: the VM), counted in the
 * monitor's too. */
void
_qmp_thin_monitor_record (QmpThinMonitor *self,
                          QmpThinDisk    *disk,
                          QmpThinPhase    phase,
                          gint64          usec)
{
  g_debug ("thin %s%s: %s took %" G_GINT64_FORMAT " us", disk != NULL ? "disk " : "monitor",
           disk != NULL ? disk->node_name : "",
           _qmp_json_enum_nick (QMP_TYPE_THIN_PHASE, phase), usec);
  if (disk != NULL)
    _qmp_thin_timing_add (disk->timings[phase], usec);
  if (disk == NULL || phase != QMP_THIN_PHASE_PAUSE)
    _qmp_thin_timing_add (self->timings[phase], usec);
}

/* @qemu_usec, a timestamp of QEMU's, as running time: without the VM's
 * pauses. An event of a pause in progress (sent late) counts at its start. */
static gint64
running_time (QmpThinMonitor *self,
              gint64          qemu_usec)
{
  if (self->qemu_stopped_at > 0)
    qemu_usec = MIN (qemu_usec, self->qemu_stopped_at);
  return qemu_usec - self->qemu_paused_usec;
}

/* An event QEMU stamped at @qemu_usec arrived now: the monitor's clock
 * runs ahead of QEMU's by at most the difference. */
static void
observe_clock (QmpThinMonitor *self,
               gint64          qemu_usec)
{
  gint64 lead = g_get_real_time () - qemu_usec;

  if (qemu_usec <= 0)
    return;
  if (!self->clock_known || lead < self->clock_lead)
    self->clock_lead = lead;
  self->clock_known = TRUE;
}

/* The allocation of @disk that the check after an arming read is one of
 * now, on QEMU's clock as the events tell it: while the disk has no rate
 * yet, a sample of it between two thresholds. When it gives the disk its
 * first rate, an adaptive disk's threshold, just armed without it, may
 * leave too little room for this writer: lowered to where the rate puts
 * it, and TRUE when it must be armed again; when the writer is already
 * past it, the threshold is only set, so that the check asks for the
 * extension now. The next threshold is then sized with the rate, not the
 * one after. */
gboolean
_qmp_thin_monitor_learn_rate (QmpThinMonitor *self,
                              QmpThinDisk    *disk)
{
  guint64 threshold;

  /* Once the rate is known, the samples at the crossings follow it: one
   * a round trip after another would mostly measure the guest's bursts. */
  if (!self->clock_known || disk->sample_at == 0 || disk->write_rate > 0)
    return FALSE;
  _qmp_thin_disk_sample (disk, running_time (self, g_get_real_time () - self->clock_lead),
                         disk->highest_offset);
  if (disk->write_rate == 0)
    return FALSE;
  threshold = _qmp_thin_disk_compute_threshold (disk);
  if (threshold >= disk->threshold)
    return FALSE;
  g_debug ("thin disk %s: its first rate, %" G_GUINT64_FORMAT " bytes/s, puts its threshold at %"
           G_GUINT64_FORMAT, disk->node_name, disk->write_rate, threshold);
  if (disk->highest_offset < threshold)
    return TRUE;
  _qmp_thin_disk_set_uint64 (disk, &disk->threshold, threshold, DISK_PROP_THRESHOLD);
  return FALSE;
}

/* A threshold of @disk fired (@event is QEMU's, for the threshold armed
 * now): the allocation at its timestamp is a sample of the write rate,
 * and the timestamp starts %QMP_THIN_PHASE_NOTICE. */
void
_qmp_thin_monitor_crossed (QmpThinMonitor         *self,
                           QmpThinDisk            *disk,
                           QmpWriteThresholdEvent *event)
{
  gint64 at = qmp_event_get_timestamp_usec (QMP_EVENT (event));
  guint64 threshold = qmp_write_threshold_event_get_write_threshold (event);
  guint64 exceeded = qmp_write_threshold_event_get_amount_exceeded (event);

  /* A derived event was made up on resync: its time is not the
   * crossing's. */
  if (qmp_event_get_derived (QMP_EVENT (event)) || at <= 0)
    return;
  observe_clock (self, at);
  disk->crossed_at = at;
  if (exceeded != QMP_AMOUNT_EXCEEDED_UNKNOWN && exceeded <= G_MAXUINT64 - threshold)
    _qmp_thin_disk_sample (disk, running_time (self, at), threshold + exceeded);
}

/* The allocation the lookup of a pause for lack of space read is the one
 * at its STOP: a sample of every disk, when the STOP was seen. */
void
_qmp_thin_monitor_sample_pause (QmpThinMonitor *self)
{
  if (self->qemu_stopped_at <= 0)
    return;
  for (guint i = 0; i < self->disks->len; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      _qmp_thin_disk_sample (disk, running_time (self, self->qemu_stopped_at), disk->highest_offset);
    }
}

/* A pause for lack of space that lasted @usec ended: the monitor's, and
 * each disk's that it named. */
void
_qmp_thin_monitor_pause_ended (QmpThinMonitor *self,
                               gint64          usec)
{
  _qmp_thin_monitor_record (self, NULL, QMP_THIN_PHASE_PAUSE, usec);
  for (guint i = 0; i < self->disks->len; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      if (disk->in_pause)
        _qmp_thin_monitor_record (self, disk, QMP_THIN_PHASE_PAUSE, usec);
      disk->in_pause = FALSE;
    }
}

/* The connection ended: the pauses seen so far may not be all there are
 * until the next samples. */
void
_qmp_thin_monitor_lost_clock (QmpThinMonitor *self)
{
  self->qemu_stopped_at = 0;
  self->clock_known = FALSE;
  for (guint i = 0; i < self->disks->len; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      disk->sample_at = 0;
      disk->crossed_at = 0;
    }
}

static void
on_stop (QmpClient *client,
         QmpEvent  *event,
         gpointer   user_data)
{
  QmpThinMonitor *self = user_data;

  if (qmp_event_get_derived (event))
    return;
  observe_clock (self, qmp_event_get_timestamp_usec (event));
  if (self->qemu_stopped_at == 0)
    self->qemu_stopped_at = qmp_event_get_timestamp_usec (event);
}

static void
on_resume (QmpClient *client,
           QmpEvent  *event,
           gpointer   user_data)
{
  QmpThinMonitor *self = user_data;
  gint64 at = qmp_event_get_timestamp_usec (event);

  if (qmp_event_get_derived (event))
    return;
  observe_clock (self, at);
  if (self->qemu_stopped_at == 0)
    return;
  if (at > self->qemu_stopped_at)
    self->qemu_paused_usec += at - self->qemu_stopped_at;
  self->qemu_stopped_at = 0;
}

void
_qmp_thin_monitor_connect_measure (QmpThinMonitor *self,
                                   gulong         *handlers)
{
  handlers[0] = g_signal_connect (self->client, "stop", G_CALLBACK (on_stop), self);
  handlers[1] = g_signal_connect (self->client, "resume", G_CALLBACK (on_resume), self);
}

/**
 * qmp_thin_monitor_get_timing:
 * @monitor: a #QmpThinMonitor
 * @phase: a phase of the extensions
 *
 * Gets the durations of @phase for all the disks of @monitor (see
 * #QmpThinTiming); for %QMP_THIN_PHASE_PAUSE, the pauses of the VM for
 * lack of space, counted once however many disks each named. The object
 * is the monitor's for its whole life.
 *
 * Returns: (transfer none): the timing of @phase
 *
 * Since: 1.0
 */
QmpThinTiming *
qmp_thin_monitor_get_timing (QmpThinMonitor *monitor,
                             QmpThinPhase    phase)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), NULL);
  g_return_val_if_fail ((guint) phase < G_N_ELEMENTS (monitor->timings), NULL);
  return monitor->timings[phase];
}
