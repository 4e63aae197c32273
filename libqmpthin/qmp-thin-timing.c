/* qmp-thin-timing.c: the measured timing of extensions, and the adaptive
 * sizing built on it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of the thin disk: QmpThinTiming (the durations of one phase), the
 * write rate of a disk, and the margins and steps of its sizing mode.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-thin-disk-private.h"

/**
 * SECTION:qmp-thin-timing
 * @Title: QmpThinTiming
 * @Short_description: How long extensions take, measured
 *
 * A #QmpThinMonitor times every extension it asks for, in phases
 * (#QmpThinPhase): from the threshold QEMU saw crossed to
 * #QmpThinMonitor::extend-needed, from there to
 * qmp_thin_monitor_extended() (the consumer's back end), from there to the
 * new threshold armed; and each pause of the VM for lack of space. Each
 * disk keeps a #QmpThinTiming per phase (qmp_thin_disk_get_timing()), and
 * the monitor one per phase for all its disks
 * (qmp_thin_monitor_get_timing()). Durations are in microseconds; the
 * monitor measures them on the monotonic clock, except
 * %QMP_THIN_PHASE_NOTICE, which starts at QEMU's timestamp of the event
 * and so assumes QEMU's clock and the monitor's agree (the same host).
 *
 * The counts and durations are plain numbers, readable from any language:
 *
 * |[<!-- language="Python" -->
 * timing = monitor.get_timing(Qmp.ThinPhase.EXTEND)
 * print(timing.props.count, timing.props.mean_usec, timing.props.max_usec)
 * ]|
 *
 * With %QMP_THIN_SIZING_ADAPTIVE (#QmpThinDisk:sizing) the monitor sizes
 * a disk's extensions and thresholds from these durations and from the
 * disk's #QmpThinDisk:write-rate; the chapter on thin provisioning gives
 * the rule and its limits.
 */

struct _QmpThinTiming
{
  GObject parent_instance;

  guint count;
  gint64 last;                  /* µs */
  gint64 max;                   /* µs */
  gint64 total;                 /* µs */
};

enum {
  TIMING_PROP_0,
  TIMING_PROP_COUNT,
  TIMING_PROP_LAST_USEC,
  TIMING_PROP_MEAN_USEC,
  TIMING_PROP_MAX_USEC,
  TIMING_PROP_TOTAL_USEC,
  TIMING_N_PROPS
};

static GParamSpec *timing_properties[TIMING_N_PROPS];

G_DEFINE_FINAL_TYPE (QmpThinTiming, qmp_thin_timing, G_TYPE_OBJECT)

#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

/* The room at the threshold covers this many times what the disk writes
 * while one extension runs: a writer may speed up, the back end may slow
 * down. */
#define SAFETY_FACTOR 2

/* The first rate rests on a single interval, the one of the guest's first
 * writes (the image's metadata allocated, the guest starting up, the
 * host busy starting it): a guest that then runs faster than it was
 * measured gets twice the allowance until a second interval measured it. */
#define FIRST_RATE_FACTOR (2 * SAFETY_FACTOR)

/* Two samples closer than this in time give no rate: QEMU's timestamps
 * are exact to the microsecond, but a rate over so short a time is
 * mostly noise. */
#define MIN_SAMPLE_USEC 1000

static void
qmp_thin_timing_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QmpThinTiming *self = QMP_THIN_TIMING (object);

  switch (prop_id)
    {
    case TIMING_PROP_COUNT:
      g_value_set_uint (value, self->count);
      break;
    case TIMING_PROP_LAST_USEC:
      g_value_set_int64 (value, self->last);
      break;
    case TIMING_PROP_MEAN_USEC:
      g_value_set_int64 (value, qmp_thin_timing_get_mean_usec (self));
      break;
    case TIMING_PROP_MAX_USEC:
      g_value_set_int64 (value, self->max);
      break;
    case TIMING_PROP_TOTAL_USEC:
      g_value_set_int64 (value, self->total);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_thin_timing_class_init (QmpThinTimingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = qmp_thin_timing_get_property;

  /**
   * QmpThinTiming:count:
   *
   * How many times the phase was measured.
   *
   * Since: 1.0
   */
  timing_properties[TIMING_PROP_COUNT] =
    g_param_spec_uint ("count", "Count", "Times measured", 0, G_MAXUINT, 0, flags);

  /**
   * QmpThinTiming:last-usec:
   *
   * The last duration, in microseconds; 0 before the first.
   *
   * Since: 1.0
   */
  timing_properties[TIMING_PROP_LAST_USEC] =
    g_param_spec_int64 ("last-usec", "Last", "Last duration, µs", 0, G_MAXINT64, 0, flags);

  /**
   * QmpThinTiming:mean-usec:
   *
   * The mean duration, in microseconds; 0 before the first.
   *
   * Since: 1.0
   */
  timing_properties[TIMING_PROP_MEAN_USEC] =
    g_param_spec_int64 ("mean-usec", "Mean", "Mean duration, µs", 0, G_MAXINT64, 0, flags);

  /**
   * QmpThinTiming:max-usec:
   *
   * The longest duration, in microseconds; 0 before the first.
   *
   * Since: 1.0
   */
  timing_properties[TIMING_PROP_MAX_USEC] =
    g_param_spec_int64 ("max-usec", "Maximum", "Longest duration, µs", 0, G_MAXINT64, 0, flags);

  /**
   * QmpThinTiming:total-usec:
   *
   * The sum of the durations, in microseconds.
   *
   * Since: 1.0
   */
  timing_properties[TIMING_PROP_TOTAL_USEC] =
    g_param_spec_int64 ("total-usec", "Total", "Sum of the durations, µs", 0, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, TIMING_N_PROPS, timing_properties);
}

static void
qmp_thin_timing_init (QmpThinTiming *self)
{
}

QmpThinTiming *
_qmp_thin_timing_new (void)
{
  return g_object_new (QMP_TYPE_THIN_TIMING, NULL);
}

/* One more duration of the phase (negative ones, from clocks that do not
 * agree, count as 0). */
void
_qmp_thin_timing_add (QmpThinTiming *timing,
                      gint64         usec)
{
  GObject *object = G_OBJECT (timing);

  usec = MAX (usec, 0);
  g_object_freeze_notify (object);
  timing->count++;
  timing->last = usec;
  timing->total = usec > G_MAXINT64 - timing->total ? G_MAXINT64 : timing->total + usec;
  g_object_notify_by_pspec (object, timing_properties[TIMING_PROP_COUNT]);
  g_object_notify_by_pspec (object, timing_properties[TIMING_PROP_LAST_USEC]);
  g_object_notify_by_pspec (object, timing_properties[TIMING_PROP_MEAN_USEC]);
  g_object_notify_by_pspec (object, timing_properties[TIMING_PROP_TOTAL_USEC]);
  if (usec > timing->max)
    {
      timing->max = usec;
      g_object_notify_by_pspec (object, timing_properties[TIMING_PROP_MAX_USEC]);
    }
  g_object_thaw_notify (object);
}

/**
 * qmp_thin_timing_get_count:
 * @timing: a #QmpThinTiming
 *
 * Gets #QmpThinTiming:count.
 *
 * Returns: how many times the phase was measured
 *
 * Since: 1.0
 */
guint
qmp_thin_timing_get_count (QmpThinTiming *timing)
{
  g_return_val_if_fail (QMP_IS_THIN_TIMING (timing), 0);
  return timing->count;
}

/**
 * qmp_thin_timing_get_last_usec:
 * @timing: a #QmpThinTiming
 *
 * Gets #QmpThinTiming:last-usec.
 *
 * Returns: the last duration, in microseconds
 *
 * Since: 1.0
 */
gint64
qmp_thin_timing_get_last_usec (QmpThinTiming *timing)
{
  g_return_val_if_fail (QMP_IS_THIN_TIMING (timing), 0);
  return timing->last;
}

/**
 * qmp_thin_timing_get_mean_usec:
 * @timing: a #QmpThinTiming
 *
 * Gets #QmpThinTiming:mean-usec.
 *
 * Returns: the mean duration, in microseconds
 *
 * Since: 1.0
 */
gint64
qmp_thin_timing_get_mean_usec (QmpThinTiming *timing)
{
  g_return_val_if_fail (QMP_IS_THIN_TIMING (timing), 0);
  return timing->count > 0 ? timing->total / timing->count : 0;
}

/**
 * qmp_thin_timing_get_max_usec:
 * @timing: a #QmpThinTiming
 *
 * Gets #QmpThinTiming:max-usec.
 *
 * Returns: the longest duration, in microseconds
 *
 * Since: 1.0
 */
gint64
qmp_thin_timing_get_max_usec (QmpThinTiming *timing)
{
  g_return_val_if_fail (QMP_IS_THIN_TIMING (timing), 0);
  return timing->max;
}

/**
 * qmp_thin_timing_get_total_usec:
 * @timing: a #QmpThinTiming
 *
 * Gets #QmpThinTiming:total-usec.
 *
 * Returns: the sum of the durations, in microseconds
 *
 * Since: 1.0
 */
gint64
qmp_thin_timing_get_total_usec (QmpThinTiming *timing)
{
  g_return_val_if_fail (QMP_IS_THIN_TIMING (timing), 0);
  return timing->total;
}

/* ------------------------------------------------------------------------ */
/* The disk's sizing */

void
_qmp_thin_disk_init_sizing (QmpThinDisk *disk)
{
  for (guint i = 0; i < G_N_ELEMENTS (disk->timings); i++)
    disk->timings[i] = _qmp_thin_timing_new ();
}

/* The allocation of the disk was @allocation at @running_usec, a time on
 * QEMU's clock from which the VM's pauses were taken out (the guest writes
 * nothing while paused). Between two samples the allocation grew at the
 * rate the guest writes; the estimate follows a faster writer at once and
 * a slower one by halves, so that one quiet spell does not shrink the
 * margins of a writer that goes on. */
void
_qmp_thin_disk_sample (QmpThinDisk *disk,
                       gint64       running_usec,
                       guint64      allocation)
{
  if (disk->sample_at > 0 && allocation > disk->sample_allocation &&
      running_usec >= disk->sample_at + MIN_SAMPLE_USEC)
    {
      double rate = (double) (allocation - disk->sample_allocation) * G_USEC_PER_SEC /
                    (double) (running_usec - disk->sample_at);
      guint64 measured = rate >= (double) G_MAXUINT64 ? G_MAXUINT64 : (guint64) rate;
      guint64 estimate = measured >= disk->write_rate ? measured :
                         disk->write_rate / 2 + measured / 2;

      g_debug ("thin disk %s: wrote %" G_GUINT64_FORMAT " bytes in %" G_GINT64_FORMAT
               " us running: %" G_GUINT64_FORMAT " bytes/s, estimate %" G_GUINT64_FORMAT,
               disk->node_name, allocation - disk->sample_allocation, running_usec - disk->sample_at,
               measured, estimate);
      if (disk->rate_intervals < G_MAXUINT)
        disk->rate_intervals++;
      _qmp_thin_disk_set_uint64 (disk, &disk->write_rate, estimate, DISK_PROP_WRITE_RATE);
    }
  else if (disk->sample_at > 0 && allocation > disk->sample_allocation &&
           running_usec >= disk->sample_at)
    /* Too close to tell: the next sample measures from the older one. */
    return;
  else if (disk->sample_at > 0 && allocation == disk->sample_allocation && running_usec >= disk->sample_at)
    /* Nothing written since: measured from the older one, which is not
     * the rate of the writes but tells how long it took. */
    return;
  disk->sample_at = running_usec;
  disk->sample_allocation = allocation;
}

static guint64
round_up_mib (double value)
{
  if (value >= (double) (G_MAXUINT64 - MiB))
    return G_MAXUINT64 / MiB * MiB;
  return ((guint64) value + MiB - 1) / MiB * MiB;
}

/* A phase's duration for the sizing: the larger of its last and its mean. */
static gint64
phase_latency (QmpThinDisk  *disk,
               QmpThinPhase  phase)
{
  QmpThinTiming *timing = disk->timings[phase];

  return MAX (timing->last, qmp_thin_timing_get_mean_usec (timing));
}

/* What the disk writes while an extension runs, with the safety factor
 * (twice that while the rate rests on one interval): 0 when the rate or
 * the back end's latency is not known yet. */
static guint64
headroom (QmpThinDisk *disk)
{
  gint64 latency;

  if (disk->sizing != QMP_THIN_SIZING_ADAPTIVE || disk->write_rate == 0 ||
      disk->timings[QMP_THIN_PHASE_EXTEND]->count == 0)
    return 0;
  latency = phase_latency (disk, QMP_THIN_PHASE_NOTICE) + phase_latency (disk, QMP_THIN_PHASE_EXTEND) +
            phase_latency (disk, QMP_THIN_PHASE_REARM);
  return round_up_mib ((double) disk->write_rate * (double) latency / G_USEC_PER_SEC *
                       (disk->rate_intervals > 1 ? SAFETY_FACTOR : FIRST_RATE_FACTOR));
}

/* The room left at the threshold: the fixed rule's, or the headroom when
 * larger. */
guint64
_qmp_thin_disk_margin (QmpThinDisk *disk)
{
  guint64 margin = disk->chunk_size / 100 * (100 - disk->free_percent) +
                   disk->chunk_size % 100 * (100 - disk->free_percent) / 100;

  return MAX (margin, headroom (disk));
}

/* What one extension adds past the need: the chunk, or the margin plus
 * the headroom when larger, so that the next threshold lies one headroom
 * past the need (past where the writer is when the extension lands), and
 * extensions do not follow each other back to back. */
guint64
_qmp_thin_disk_step (QmpThinDisk *disk)
{
  guint64 room = headroom (disk);
  guint64 margin = _qmp_thin_disk_margin (disk);

  return MAX (disk->chunk_size, margin > G_MAXUINT64 - room ? G_MAXUINT64 : margin + room);
}

/* The threshold the disk's size calls for now; 1 when the storage is
 * smaller than the margin (0 would disarm it). */
guint64
_qmp_thin_disk_compute_threshold (QmpThinDisk *disk)
{
  guint64 margin;

  if (disk->sizing != QMP_THIN_SIZING_ADAPTIVE)
    return qmp_thin_compute_threshold (disk->physical_size, disk->chunk_size, disk->free_percent);
  if (disk->physical_size == 0)
    return 0;
  margin = _qmp_thin_disk_margin (disk);
  return margin >= disk->physical_size ? 1 : disk->physical_size - margin;
}

/**
 * qmp_thin_disk_get_sizing:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:sizing.
 *
 * Returns: how the monitor sizes the disk's extensions
 *
 * Since: 1.0
 */
QmpThinSizing
qmp_thin_disk_get_sizing (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), QMP_THIN_SIZING_FIXED);
  return disk->sizing;
}

/**
 * qmp_thin_disk_set_sizing:
 * @disk: a #QmpThinDisk
 * @sizing: how to size its extensions and thresholds
 *
 * Sets #QmpThinDisk:sizing. It applies from the next threshold armed and
 * the next extension asked for.
 *
 * Since: 1.0
 */
void
qmp_thin_disk_set_sizing (QmpThinDisk   *disk,
                          QmpThinSizing  sizing)
{
  g_return_if_fail (QMP_IS_THIN_DISK (disk));
  g_return_if_fail (sizing == QMP_THIN_SIZING_FIXED || sizing == QMP_THIN_SIZING_ADAPTIVE);

  if (disk->sizing == sizing)
    return;
  disk->sizing = sizing;
  _qmp_thin_disk_notify (disk, DISK_PROP_SIZING);
}

/**
 * qmp_thin_disk_get_write_rate:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:write-rate.
 *
 * Returns: the estimated write rate, in bytes per second; 0 when not
 *   known yet
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_write_rate (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->write_rate;
}

/**
 * qmp_thin_disk_get_timing:
 * @disk: a #QmpThinDisk
 * @phase: a phase of the extensions
 *
 * Gets the durations of @phase for the extensions of @disk: see
 * #QmpThinTiming. The object is the disk's for its whole life and changes
 * (with notifications) as extensions happen.
 *
 * Returns: (transfer none): the timing of @phase
 *
 * Since: 1.0
 */
QmpThinTiming *
qmp_thin_disk_get_timing (QmpThinDisk  *disk,
                          QmpThinPhase  phase)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), NULL);
  g_return_val_if_fail ((guint) phase < G_N_ELEMENTS (disk->timings), NULL);
  return disk->timings[phase];
}
