/* qmp-thin-monitor.c: the high-water-mark policy of thin-provisioned disks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built on the public API only: what it does, any client of the library
 * could do.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-json.h"
#include "qmp-thin-monitor-private.h"

/**
 * SECTION:qmp-thin-monitor
 * @Title: QmpThinMonitor
 * @Short_description: Extend thin disks before they fill up, resume VMs
 *   that paused because they did
 *
 * A #QmpThinMonitor runs the loop every thin-provisioning agent needs, for
 * the disks of one VM (one #QmpClient). For each storage node it watches
 * (a #QmpThinDisk: the node whose write offsets follow the host's
 * allocation, the `file` node under a qcow2 node, say) it arms a write
 * threshold at
 *
 * |[
 * threshold = physical_size - chunk_size * (100 - free_percent) / 100
 * ]|
 *
 * (oVirt's rule; see qmp_thin_compute_threshold()) and asks for more
 * storage with #QmpThinMonitor::extend-needed when
 *
 * - the guest's writes cross the threshold (`BLOCK_WRITE_THRESHOLD`);
 * - the allocation is already past the threshold when it is armed;
 * - the storage ran out and the VM paused (werror=enospc or stop: the
 *   client's #QmpClient:stop-reason is %QMP_STOP_KIND_NOSPACE, whether or
 *   not a `BLOCK_IO_ERROR` came), and the disk is short;
 * - either happened while no client was connected (the client's resync
 *   derived it).
 *
 * The consumer grows the storage its own way (an LVM extension, a larger
 * file, a `blockdev-reopen` of a raw node with a larger `size`), at once
 * from inside the handler or later from anywhere in the same thread, and
 * calls qmp_thin_monitor_extended(). The monitor arms the threshold again,
 * checks the allocation against it and, when the VM is paused for lack of
 * space on its disks and none of them is still short, resumes it with
 * `cont`. It never resumes a VM paused for another reason, or paused on a
 * disk it does not watch. An extension that failed is reported with
 * qmp_thin_monitor_extend_failed(): the disk stays
 * %QMP_THIN_DISK_STATE_EXCEEDED and the VM stays paused.
 *
 * The monitor decides from the state, not from the order or the
 * timestamps of events, which QEMU 9.2 and later throttle and delay
 * (see the chapter on thin provisioning): whenever the stop reason
 * changes, an extension is reported, an arming completes or the client is
 * ready again, it looks at what the client and QEMU report now. Races it
 * takes care of:
 *
 * - one need, one signal: what comes while the consumer has not answered
 *   (the pause after the threshold, duplicates, derived events after a
 *   reconnection) only raises #QmpThinDisk:wanted-size;
 * - a pause for lack of space asks for a disk only if the disk is short
 *   now: its allocation (read when the pause begins) is past its
 *   threshold, or it was resumed at this very size and paused again. A
 *   failing write issued before an extension landed, or an extension made
 *   while the client was away, asks for nothing: the VM is resumed and
 *   the retried write tells;
 * - a `BLOCK_WRITE_THRESHOLD` of an older threshold is ignored;
 * - an extension smaller than the write that needed it: the VM pauses
 *   again on `cont` and the monitor asks again;
 * - a user's pause is never resumed, also when the user paused a VM that
 *   was paused for lack of space already (the client attributes the
 *   pause to the caller's stop);
 * - reconnections: every time the client is ready again the monitor arms
 *   every disk again (a new QEMU instance has lost them all) and checks
 *   the allocation;
 * - handlers that run a nested main loop, or dispose the monitor, from
 *   any signal.
 *
 * The wanted size covers the write that needed it (the end of the write
 * that crossed the threshold, or the highest allocated offset) plus one
 * chunk, rounded up to a MiB and capped at #QmpThinDisk:maximum-size;
 * with %QMP_THIN_SIZING_ADAPTIVE (#QmpThinDisk:sizing) the step and the
 * room at the threshold grow with the measured write rate and extension
 * latency (#QmpThinTiming).
 *
 * |[<!-- language="C" -->
 * static void
 * on_extend_needed (QmpThinMonitor *monitor, QmpThinDisk *disk,
 *                   guint64 wanted_size, QmpExtendReason reason, gpointer data)
 * {
 *   g_autoptr(GError) error = NULL;
 *
 *   // lvextend, truncate, blockdev-reopen...: the consumer's business.
 *   if (grow_storage (qmp_thin_disk_get_node_name (disk), wanted_size, &error))
 *     qmp_thin_monitor_extended (monitor, qmp_thin_disk_get_node_name (disk), wanted_size);
 *   else
 *     qmp_thin_monitor_extend_failed (monitor, qmp_thin_disk_get_node_name (disk), error);
 * }
 *
 *   monitor = qmp_thin_monitor_new (client);
 *   g_signal_connect (monitor, "extend-needed", G_CALLBACK (on_extend_needed), NULL);
 *   qmp_thin_monitor_add_disk (monitor, "vda-storage", 2 * GiB,
 *                              QMP_THIN_DEFAULT_CHUNK_SIZE, QMP_THIN_DEFAULT_FREE_PERCENT);
 * ]|
 *
 * The monitor follows each disk through the block graph: after a
 * snapshot, an active commit or a mirror the guest writes another node,
 * and the disk moves there (#QmpThinMonitor::disk-moved); while a mirror
 * or a commit runs, its target's storage is watched too
 * (#QmpThinMonitor::replica-added). An optional poll
 * (#QmpThinMonitor:poll-interval) catches a threshold that fired with no
 * event; an allocation past what the image can use is an error
 * (%QMP_ERROR_IMPROBABLE_ALLOCATION); a VM paused on an ordinary I/O
 * error can be resumed with backoff (#QmpThinMonitor:io-error-policy)
 * and a long pause reported (#QmpThinMonitor::paused-too-long). The
 * chapter on thin provisioning tells each case.
 *
 * A monitor and its client belong to the thread of the client's
 * #GMainContext.
 */

#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

G_DEFINE_FINAL_TYPE (QmpThinMonitor, qmp_thin_monitor, G_TYPE_OBJECT)

GParamSpec *_qmp_thin_monitor_properties[N_PROPS];
guint _qmp_thin_monitor_signals[N_SIGNALS];

#define properties _qmp_thin_monitor_properties
#define signals _qmp_thin_monitor_signals

static QmpExtendReason need_reason (QmpThinMonitor  *self,
                                    QmpThinDisk     *disk,
                                    QmpExtendReason  otherwise);

/* ------------------------------------------------------------------------ */
/* Asking for an extension */

static guint64
round_up_mib (guint64 value)
{
  if (value > G_MAXUINT64 - (MiB - 1))
    return G_MAXUINT64;
  return (value + MiB - 1) / MiB * MiB;
}

void
_qmp_thin_monitor_emit_error (QmpThinMonitor *self,
            QmpThinDisk    *disk,
            const GError   *error)
{
  g_debug ("thin %s%s: %s", disk != NULL ? "disk " : "monitor", disk != NULL ? disk->node_name : "",
           error->message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, disk, error);
}

/* A handler disposed the monitor (or removed the disk): nothing it held
 * may be touched any more. Checked after every emission. */
gboolean
_qmp_thin_monitor_gone (QmpThinMonitor *self)
{
  return self->client == NULL;
}

/* The disk needs more storage; @write_end is the end of the write that
 * needed it, when known. Emits ::extend-needed once per need. */
void
_qmp_thin_monitor_need (QmpThinMonitor  *self,
      QmpThinDisk     *disk,
      QmpExtendReason  reason,
      guint64          write_end)
{
  g_autoptr(QmpThinMonitor) hold_monitor G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(QmpThinDisk) hold_disk G_GNUC_UNUSED = g_object_ref (disk);
  guint64 base = MAX (disk->physical_size, write_end);
  guint64 step = _qmp_thin_disk_step (disk);
  guint64 wanted = round_up_mib (base > G_MAXUINT64 - step ? G_MAXUINT64 : base + step);
  gint64 crossed_at = disk->crossed_at;

  disk->crossed_at = 0;

  if (_qmp_thin_monitor_improbable (self, disk, write_end))
    return;
  if (disk->state == QMP_THIN_DISK_STATE_DISABLED)
    {
      /* Told once: only the consumer can help (a larger maximum, or
       * storage of its own accord, then qmp_thin_monitor_extended()). */
      if (disk->disabled == DISABLED_MAXIMUM && !disk->told_maximum)
        {
          g_autoptr(GError) error = g_error_new (QMP_ERROR, QMP_ERROR_MAXIMUM_SIZE,
                                                 "Thin disk %s needs more storage but reached its "
                                                 "maximum size of %" G_GUINT64_FORMAT " bytes",
                                                 disk->node_name, disk->maximum_size);

          disk->told_maximum = TRUE;
          _qmp_thin_monitor_emit_error (self, disk, error);
        }
      return;
    }
  if (disk->maximum_size > 0)
    wanted = MIN (wanted, disk->maximum_size);

  if (disk->asked)
    {
      /* Coalesced: the consumer is on it; it may need more. */
      if (wanted > disk->wanted_size)
        _qmp_thin_disk_set_uint64 (disk, &disk->wanted_size, wanted, DISK_PROP_WANTED_SIZE);
      g_debug ("thin disk %s: coalesced a %s need", disk->node_name,
               _qmp_json_enum_nick (QMP_TYPE_EXTEND_REASON, reason));
      return;
    }

  disk->asked = TRUE;
  if (crossed_at > 0)
    _qmp_thin_monitor_record (self, disk, QMP_THIN_PHASE_NOTICE, g_get_real_time () - crossed_at);
  disk->asked_at = g_get_monotonic_time ();
  _qmp_thin_disk_supersede (disk);
  _qmp_thin_disk_set_uint64 (disk, &disk->wanted_size, wanted, DISK_PROP_WANTED_SIZE);
  _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_EXCEEDED);
  g_signal_emit (self, signals[SIGNAL_EXTEND_NEEDED], 0, disk, wanted, reason);
}

/* ------------------------------------------------------------------------ */
/* Arming thresholds and checking the allocation */

/* One arming of one or more disks: their thresholds are set (pipelined),
 * then one query-blockstats checks their allocation. */
typedef struct {
  QmpThinMonitor *monitor;      /* unowned: valid while not cancelled */
  GCancellable *cancellable;    /* owned: the monitor's at the start */
  GPtrArray *disks;             /* owned QmpThinDisk */
  GArray *serials;              /* guint: each disk's serial at the start */
  GArray *armed;                /* gboolean: QEMU accepted the threshold */
  guint n_waiting;
} Arming;

typedef struct {
  Arming *arming;
  guint index;
} ArmingCall;

static void
arming_free (Arming *arming)
{
  g_object_unref (arming->cancellable);
  g_ptr_array_unref (arming->disks);
  g_array_unref (arming->serials);
  g_array_unref (arming->armed);
  g_free (arming);
}

/* TRUE while the result of @arming still means something for disk @i. */
static gboolean
arming_current (Arming *arming,
                guint   i)
{
  QmpThinDisk *disk = arming->disks->pdata[i];

  return disk->monitor == arming->monitor && disk->serial == g_array_index (arming->serials, guint, i);
}

gboolean
_qmp_thin_is_disconnection (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
}

/* Every node of @stats and its file children, as seen in a
 * query-blockstats: which watched node is under which node (and, for the
 * node of a guest device, under which device: QEMU names a disk by any
 * of the three), and how far the watched ones are allocated. */
void
_qmp_thin_monitor_learn_stats (QmpThinMonitor *self,
             GPtrArray      *stats)
{
  for (guint i = 0; i < stats->len; i++)
    {
      QmpBlockStats *entry = stats->pdata[i];
      const char *tops[] = {
        qmp_block_stats_get_node_name (entry),
        qmp_block_stats_get_device (entry),
        qmp_block_stats_get_qdev (entry),
      };

      for (QmpBlockStats *node = entry; node != NULL; node = qmp_block_stats_get_parent (node))
        {
          const char *name = qmp_block_stats_get_node_name (node);
          QmpThinDisk *disk = name ? g_hash_table_lookup (self->by_node, name) : NULL;

          if (disk == NULL)
            continue;
          for (guint j = 0; j < G_N_ELEMENTS (tops); j++)
            if (tops[j] != NULL && *tops[j] != '\0' && g_strcmp0 (tops[j], name) != 0)
              g_hash_table_replace (self->roots, g_strdup (tops[j]), g_strdup (name));
          if (node == stats->pdata[i])
            _qmp_thin_disk_set_uint64 (disk, &disk->highest_offset,
                             MAX (disk->highest_offset, qmp_block_stats_get_wr_highest_offset (node)),
                             DISK_PROP_HIGHEST_OFFSET);
          break;
        }
    }
}

static void
arming_stats_ready (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Arming *arming = user_data;
  QmpThinMonitor *self = arming->monitor;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, &error);
  g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func (g_object_unref);

  if (g_cancellable_is_cancelled (arming->cancellable))
    {
      arming_free (arming);
      return;
    }
  g_object_ref (self);

  if (stats != NULL)
    _qmp_thin_monitor_learn_stats (self, stats);
  else if (!_qmp_thin_is_disconnection (error))
    g_debug ("thin monitor: cannot check the allocation of its disks: %s", error->message);

  for (guint i = 0; i < arming->disks->len && !_qmp_thin_monitor_gone (self); i++)
    {
      QmpThinDisk *disk = arming->disks->pdata[i];

      if (!arming_current (arming, i) || !g_array_index (arming->armed, gboolean, i))
        continue;
      disk->arming = FALSE;
      if (disk->extended_at > 0)
        _qmp_thin_monitor_record (self, disk, QMP_THIN_PHASE_REARM, g_get_monotonic_time () - disk->extended_at);
      disk->extended_at = 0;
      if (stats == NULL && _qmp_thin_is_disconnection (error))
        {
          /* Armed again when the client is ready again. */
          _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_UNSET);
          continue;
        }
      if (stats != NULL && _qmp_thin_monitor_learn_rate (self, disk))
        {
          _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_ARMED);
          g_ptr_array_add (again, g_object_ref (disk));
          continue;
        }
      if (stats != NULL && disk->highest_offset >= disk->threshold)
        _qmp_thin_monitor_need (self, disk, need_reason (self, disk, QMP_EXTEND_REASON_THRESHOLD), disk->highest_offset);
      else
        _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_ARMED);
    }

  if (again->len > 0 && !_qmp_thin_monitor_gone (self))
    _qmp_thin_monitor_arm (self, again);
  else if (!_qmp_thin_monitor_gone (self))
    _qmp_thin_monitor_update (self);
  arming_free (arming);
  g_object_unref (self);
}

static void
arming_set_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ArmingCall *call = user_data;
  Arming *arming = call->arming;
  guint i = call->index;
  g_autoptr(GError) error = NULL;
  gboolean ok = qmp_client_set_write_threshold_finish (QMP_CLIENT (source), result, &error);

  g_free (call);

  if (!g_cancellable_is_cancelled (arming->cancellable) && arming_current (arming, i))
    {
      QmpThinDisk *disk = arming->disks->pdata[i];

      g_array_index (arming->armed, gboolean, i) = ok;
      if (!ok)
        {
          disk->arming = FALSE;
          disk->extended_at = 0;
        }
      if (!ok && _qmp_thin_is_disconnection (error))
        {
          _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_UNSET);
        }
      else if (!ok)
        {
          g_autoptr(QmpThinDisk) hold G_GNUC_UNUSED = g_object_ref (disk);

          _qmp_thin_disk_disable (disk, DISABLED_ERROR);
          _qmp_thin_monitor_emit_error (arming->monitor, disk, error);
        }
    }

  if (--arming->n_waiting > 0)
    return;
  if (g_cancellable_is_cancelled (arming->cancellable) || _qmp_thin_monitor_gone (arming->monitor))
    {
      arming_free (arming);
      return;
    }
  for (guint j = 0; j < arming->disks->len; j++)
    if (g_array_index (arming->armed, gboolean, j) && arming_current (arming, j))
      {
        /* Armed first, checked second: a write that lands in between is
         * either seen by the check or fires the threshold. */
        qmp_client_query_blockstats_async (QMP_CLIENT (source), TRUE, arming->cancellable,
                                           arming_stats_ready, arming);
        return;
      }
  _qmp_thin_monitor_update (arming->monitor);
  arming_free (arming);
}

/* Arms the threshold of @disks (QmpThinDisk) and checks their allocation.
 * Disks waiting for an extension, or disabled for good, are left alone. */
void
_qmp_thin_monitor_arm (QmpThinMonitor *self,
           GPtrArray      *disks)
{
  Arming *arming;

  if (qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;

  arming = g_new0 (Arming, 1);
  arming->monitor = self;
  arming->cancellable = g_object_ref (self->cancellable);
  arming->disks = g_ptr_array_new_with_free_func (g_object_unref);
  arming->serials = g_array_new (FALSE, FALSE, sizeof (guint));
  arming->armed = g_array_new (FALSE, TRUE, sizeof (gboolean));

  for (guint i = 0; i < disks->len; i++)
    {
      QmpThinDisk *disk = disks->pdata[i];
      ArmingCall *call;
      guint64 threshold;

      if (disk->asked || disk->disabled == DISABLED_REMOVED)
        continue;
      if (disk->maximum_size > 0 && disk->physical_size >= disk->maximum_size)
        {
          /* Nothing more to give: disarmed, and nothing to ask. */
          if (disk->state != QMP_THIN_DISK_STATE_DISABLED)
            {
              _qmp_thin_disk_disable (disk, DISABLED_MAXIMUM);
              qmp_client_set_write_threshold_async (self->client, disk->node_name, 0,
                                                    self->cancellable, NULL, NULL);
            }
          continue;
        }
      if (disk->state == QMP_THIN_DISK_STATE_DISABLED)
        _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_UNSET);

      threshold = _qmp_thin_disk_compute_threshold (disk);
      _qmp_thin_disk_supersede (disk);
      disk->arming = TRUE;
      _qmp_thin_disk_set_uint64 (disk, &disk->threshold, threshold, DISK_PROP_THRESHOLD);
      g_ptr_array_add (arming->disks, g_object_ref (disk));
      g_array_append_val (arming->serials, disk->serial);
      g_array_set_size (arming->armed, arming->disks->len);

      call = g_new (ArmingCall, 1);
      call->arming = arming;
      call->index = arming->disks->len - 1;
      arming->n_waiting++;
      qmp_client_set_write_threshold_async (self->client, disk->node_name, threshold,
                                            self->cancellable, arming_set_ready, call);
    }

  if (arming->n_waiting == 0)
    {
      arming_free (arming);
      _qmp_thin_monitor_update (self);
    }
}

static void
arm_all (QmpThinMonitor *self)
{
  _qmp_thin_monitor_arm (self, self->disks);
}

/* ------------------------------------------------------------------------ */
/* Deciding from the state: needs and resuming
 *
 * Level-triggered: whenever something changes (the stop reason, an
 * extension, an arming that completed, the disks), the update looks at
 * what the client reports now and what the monitor knows of each disk, and
 * decides. Events only bring news sooner: QEMU 9.2 and later throttle and
 * delay BLOCK_IO_ERROR, and an event that comes late or never must not
 * leave a VM paused.
 */

QmpThinCall *
_qmp_thin_call_new (QmpThinMonitor *self)
{
  QmpThinCall *call = g_new0 (QmpThinCall, 1);

  call->monitor = self;
  call->cancellable = g_object_ref (self->cancellable);
  return call;
}

void
_qmp_thin_call_free (QmpThinCall *call)
{
  g_object_unref (call->cancellable);
  g_free (call);
}

/* The stop reason, when the VM is paused for lack of space. */
static QmpStopReason *
nospace_pause (QmpThinMonitor *self)
{
  QmpStopReason *reason = qmp_client_get_stop_reason (self->client);

  if (reason == NULL || qmp_stop_reason_get_kind (reason) != QMP_STOP_KIND_NOSPACE)
    return NULL;
  return reason;
}

/* The watched disk behind a disk a stop reason names: by the node attached
 * to the device, its block backend or its guest device (learnt from
 * query-blockstats), or the watched node itself. */
static QmpThinDisk *
disk_for_block (QmpThinMonitor *self,
                QmpBlockInfo   *block)
{
  const char *names[] = {
    qmp_block_info_get_node_name (block),
    qmp_block_info_get_device (block),
    qmp_block_info_get_qdev (block),
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *watched;
      QmpThinDisk *disk;

      if (names[i] == NULL || *names[i] == '\0')
        continue;
      watched = g_hash_table_lookup (self->roots, names[i]);
      disk = g_hash_table_lookup (self->by_node, watched != NULL ? watched : names[i]);
      if (disk != NULL)
        return disk;
    }
  return NULL;
}

/* Why @disk needs storage now: the pause it caused, if any, else @otherwise. */
static QmpExtendReason
need_reason (QmpThinMonitor  *self,
             QmpThinDisk     *disk,
             QmpExtendReason  otherwise)
{
  QmpStopReason *reason = nospace_pause (self);
  GPtrArray *blocks;

  if (reason == NULL)
    return otherwise;
  blocks = qmp_stop_reason_get_disks (reason);
  for (guint i = 0; i < blocks->len; i++)
    if (disk_for_block (self, blocks->pdata[i]) == disk)
      return qmp_stop_reason_get_derived (reason) ? QMP_EXTEND_REASON_MISSED : QMP_EXTEND_REASON_NOSPACE;
  return otherwise;
}

/* A disk the VM paused on is short unless it has room by the threshold
 * rule (an extension landed since the failing write, or the write was
 * issued before the last one did), as vdsm decides. Resumed once at this
 * size and paused again, it is short whatever the allocation says. */
gboolean
_qmp_thin_disk_short (QmpThinDisk *disk)
{
  /* The threshold its size calls for, armed or not (a disk at its
   * maximum size has none armed). */
  guint64 threshold = _qmp_thin_disk_compute_threshold (disk);

  return disk->highest_offset >= threshold ||
         (disk->resumed_size > 0 && disk->physical_size <= disk->resumed_size);
}

static void
cont_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(QmpThinCall) call = user_data;
  g_autoptr(GError) error = NULL;
  QmpThinMonitor *self = call->monitor;

  qmp_client_cont_finish (QMP_CLIENT (source), result, &error);
  if (g_cancellable_is_cancelled (call->cancellable))
    return;

  self->resuming = FALSE;
  if (error == NULL)
    {
      self->n_resumes++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RESUMES]);
    }
  else if (!_qmp_thin_is_disconnection (error))
    {
      g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = g_object_ref (self);

      _qmp_thin_monitor_emit_error (self, NULL, error);
    }
}

/* Resumes the VM when it is paused for lack of space on disks of this
 * monitor only, and none of them is short any more. */
static void
maybe_resume (QmpThinMonitor *self)
{
  QmpStopReason *reason;
  GPtrArray *blocks;

  if (self->resuming || qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;
  reason = nospace_pause (self);
  if (reason == NULL)
    return;

  for (guint i = 0; i < self->disks->len; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      if (disk->asked || disk->arming || disk->state == QMP_THIN_DISK_STATE_EXCEEDED ||
          disk->state == QMP_THIN_DISK_STATE_EXTENDING || disk->state == QMP_THIN_DISK_STATE_UNSET)
        return;
    }

  /* A full disk the monitor does not watch is somebody else's to extend. */
  blocks = qmp_stop_reason_get_disks (reason);
  for (guint i = 0; i < blocks->len; i++)
    {
      QmpThinDisk *disk = disk_for_block (self, blocks->pdata[i]);

      if (disk == NULL)
        {
          g_debug ("thin monitor: the VM is paused for lack of space on %s, not a disk of this monitor",
                   qmp_stop_reason_get_node_names (reason)[i]);
          return;
        }
      /* Armed, or at its maximum size with room the consumer gave it
       * during this pause: the retried write tells. */
      if (disk->state != QMP_THIN_DISK_STATE_ARMED &&
          !(disk->disabled == DISABLED_MAXIMUM && !_qmp_thin_disk_short (disk)))
        return;
    }
  if (blocks->len == 0)
    return;

  for (guint i = 0; i < blocks->len; i++)
    {
      QmpThinDisk *disk = disk_for_block (self, blocks->pdata[i]);

      disk->resumed_size = disk->physical_size;
    }
  g_debug ("thin monitor: every disk has room again: resuming the VM");
  self->resuming = TRUE;
  qmp_client_cont_async (self->client, self->cancellable, cont_ready, _qmp_thin_call_new (self));
}

/* The allocation of the disks when the VM paused for lack of space, and
 * the devices a pause names that no arming showed yet: then decide. */
static void
lookup_ready (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(QmpThinCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, &error);
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = NULL;

  if (g_cancellable_is_cancelled (call->cancellable))
    return;
  hold = g_object_ref (call->monitor);
  call->monitor->looking_up = FALSE;
  if (stats != NULL)
    {
      _qmp_thin_monitor_learn_stats (call->monitor, stats);
      _qmp_thin_monitor_sample_pause (call->monitor);
    }
  _qmp_thin_monitor_update (call->monitor);
}

/* Counts the pauses for lack of space and how long they last. */
static void
update_pause (QmpThinMonitor *self,
              gboolean        nospace)
{
  if (nospace && !self->paused_nospace)
    {
      self->paused_nospace = TRUE;
      self->looked_up = FALSE;
      self->pause_start = g_get_monotonic_time ();
      self->n_nospace_pauses++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_NOSPACE_PAUSES]);
    }
  else if (!nospace && self->paused_nospace)
    {
      gint64 paused = g_get_monotonic_time () - self->pause_start;

      self->paused_nospace = FALSE;
      self->nospace_paused_usec += paused;
      _qmp_thin_monitor_pause_ended (self, paused);
    }
}

/* Decides from what the client and the monitor know now: asks for the
 * disks a pause for lack of space found short, and resumes the VM once
 * none is. */
void
_qmp_thin_monitor_update (QmpThinMonitor *self)
{
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(GPtrArray) short_disks = g_ptr_array_new_with_free_func (g_object_unref);
  QmpStopReason *reason;
  GPtrArray *blocks;

  if (_qmp_thin_monitor_gone (self))
    return;
  _qmp_thin_monitor_update_pauses (self);
  _qmp_thin_monitor_tend_jobs (self);
  if (_qmp_thin_monitor_gone (self))
    return;
  reason = nospace_pause (self);
  update_pause (self, reason != NULL);
  if (reason == NULL || qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;

  /* Decided from the allocation and the graph as they are now: the disk
   * that ran out may be one a snapshot made since the last reading. */
  if (!self->looked_up && self->disks->len > 0)
    {
      self->looked_up = TRUE;
      self->looking_up = TRUE;
      qmp_client_query_blockstats_async (self->client, TRUE, self->cancellable,
                                         lookup_ready, _qmp_thin_call_new (self));
      _qmp_thin_monitor_read_graph (self);
    }
  if (self->looking_up || self->graph_reading)
    return;

  blocks = qmp_stop_reason_get_disks (reason);
  for (guint i = 0; i < blocks->len; i++)
    {
      QmpThinDisk *disk = disk_for_block (self, blocks->pdata[i]);

      if (disk != NULL)
        disk->in_pause = TRUE;
      /* An arming in flight will tell the allocation, then decide. */
      if (disk != NULL && !disk->asked && !disk->arming && disk->state != QMP_THIN_DISK_STATE_UNSET &&
          _qmp_thin_disk_short (disk))
        g_ptr_array_add (short_disks, g_object_ref (disk));
    }

  /* Each emission may change anything (a handler extends at once, or
   * disposes the monitor). */
  for (guint i = 0; i < short_disks->len && !_qmp_thin_monitor_gone (self); i++)
    {
      QmpThinDisk *disk = short_disks->pdata[i];

      if (disk->monitor == self && !disk->asked)
        _qmp_thin_monitor_need (self, disk, need_reason (self, disk, QMP_EXTEND_REASON_NOSPACE), disk->highest_offset);
    }
  if (!_qmp_thin_monitor_gone (self))
    maybe_resume (self);
}

/* ------------------------------------------------------------------------ */
/* What the client reports */

static void
on_block_write_threshold (QmpClient              *client,
                          QmpWriteThresholdEvent *event,
                          gpointer                user_data)
{
  QmpThinMonitor *self = user_data;
  const char *node_name = qmp_write_threshold_event_get_node_name (event);
  guint64 threshold = qmp_write_threshold_event_get_write_threshold (event);
  guint64 exceeded = qmp_write_threshold_event_get_amount_exceeded (event);
  QmpThinDisk *disk = node_name != NULL ? g_hash_table_lookup (self->by_node, node_name) : NULL;

  if (disk == NULL)
    return;
  /* Of a threshold armed before the last extension (it fired while the
   * consumer extended, or while the client was away): the allocation
   * check of the new one decides. */
  if (threshold != disk->threshold)
    {
      g_debug ("thin disk %s: ignoring the event of an older threshold (%" G_GUINT64_FORMAT ")",
               disk->node_name, threshold);
      _qmp_thin_monitor_update (self);
      return;
    }
  if (exceeded != QMP_AMOUNT_EXCEEDED_UNKNOWN && exceeded <= G_MAXUINT64 - threshold)
    _qmp_thin_disk_set_uint64 (disk, &disk->highest_offset, MAX (disk->highest_offset, threshold + exceeded),
                     DISK_PROP_HIGHEST_OFFSET);
  _qmp_thin_monitor_crossed (self, disk, event);
  _qmp_thin_monitor_need (self, disk,
        qmp_event_get_derived (QMP_EVENT (event)) ? QMP_EXTEND_REASON_MISSED :
        need_reason (self, disk, QMP_EXTEND_REASON_THRESHOLD),
        disk->highest_offset);
  _qmp_thin_monitor_update (self);
}

static void
on_stop_reason_changed (QmpClient     *client,
                        QmpStopReason *reason,
                        gpointer       user_data)
{
  /* Not @reason: a handler that ran before this one may have spun a main
   * loop and delivered newer ones. */
  _qmp_thin_monitor_update (user_data);
}

static void
on_state (QmpClient  *client,
          GParamSpec *pspec,
          gpointer    user_data)
{
  QmpThinMonitor *self = user_data;

  if (qmp_client_get_state (client) != QMP_CLIENT_STATE_READY)
    {
      /* A cont lost with the connection: the next resync tells. */
      self->resuming = FALSE;
      _qmp_thin_monitor_stop_pauses (self);
      _qmp_thin_monitor_lost_clock (self);
      return;
    }
  /* Connected or reconnected: a new QEMU has no thresholds, the same one
   * may have fired some meanwhile (derived events follow), and the
   * allocation may have grown. Where each disk sits in the graph is read
   * again with the allocation: a new QEMU may have another. */
  g_hash_table_remove_all (self->roots);
  /* A job may have stopped on a full target meanwhile. */
  self->jobs_stopped = TRUE;
  arm_all (self);
  _qmp_thin_monitor_read_graph (self);
}

static void
on_job_status_change (QmpClient *client,
                      QmpEvent  *event,
                      gpointer   user_data)
{
  /* A job started (its target is to be watched) or ended (the device may
   * have pivoted to it). */
  _qmp_thin_monitor_read_graph (user_data);
}

/* ------------------------------------------------------------------------ */
/* QmpThinMonitor */

static void
qmp_thin_monitor_dispose (GObject *object)
{
  QmpThinMonitor *self = QMP_THIN_MONITOR (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->poll_source, g_source_remove);
  _qmp_thin_monitor_stop_pauses (self);
  _qmp_thin_monitor_disconnect_jobs (self);
  if (self->client != NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
        g_clear_signal_handler (&self->handlers[i], self->client);
    }
  if (self->disks != NULL)
    {
      for (guint i = 0; i < self->disks->len; i++)
        {
          QmpThinDisk *disk = self->disks->pdata[i];

          disk->monitor = NULL;
          disk->disabled = DISABLED_REMOVED;
        }
      g_clear_pointer (&self->disks, g_ptr_array_unref);
    }
  g_clear_object (&self->client);
  G_OBJECT_CLASS (qmp_thin_monitor_parent_class)->dispose (object);
}

static void
qmp_thin_monitor_finalize (GObject *object)
{
  QmpThinMonitor *self = QMP_THIN_MONITOR (object);

  g_hash_table_unref (self->by_node);
  g_hash_table_unref (self->roots);
  g_hash_table_unref (self->declared);
  g_hash_table_unref (self->left);
  g_free (self->shape);
  _qmp_thin_monitor_finalize_jobs (self);
  g_object_unref (self->cancellable);
  _qmp_thin_monitor_clear_measure (self);
  G_OBJECT_CLASS (qmp_thin_monitor_parent_class)->finalize (object);
}

static void
qmp_thin_monitor_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  QmpThinMonitor *self = QMP_THIN_MONITOR (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_N_NOSPACE_PAUSES:
      g_value_set_uint (value, self->n_nospace_pauses);
      break;
    case PROP_N_RESUMES:
      g_value_set_uint (value, self->n_resumes);
      break;
    case PROP_POLL_INTERVAL:
      g_value_set_uint (value, self->poll_interval);
      break;
    case PROP_N_POLLS:
      g_value_set_uint (value, self->n_polls);
      break;
    case PROP_IO_ERROR_POLICY:
      g_value_set_enum (value, self->io_error_policy);
      break;
    case PROP_IO_ERROR_RETRY_DELAY:
      g_value_set_uint (value, self->retry_delay);
      break;
    case PROP_IO_ERROR_RETRY_MAX_DELAY:
      g_value_set_uint (value, self->retry_max_delay);
      break;
    case PROP_N_IO_ERROR_RETRIES:
      g_value_set_uint (value, self->n_io_error_retries);
      break;
    case PROP_PAUSE_LIMIT:
      g_value_set_uint (value, self->pause_limit);
      break;
    case PROP_N_JOB_RESUMES:
      g_value_set_uint (value, self->n_job_resumes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_thin_monitor_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  QmpThinMonitor *self = QMP_THIN_MONITOR (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_POLL_INTERVAL:
      qmp_thin_monitor_set_poll_interval (self, g_value_get_uint (value));
      break;
    case PROP_IO_ERROR_POLICY:
      qmp_thin_monitor_set_io_error_policy (self, g_value_get_enum (value));
      break;
    case PROP_IO_ERROR_RETRY_DELAY:
      self->retry_delay = g_value_get_uint (value);
      break;
    case PROP_IO_ERROR_RETRY_MAX_DELAY:
      self->retry_max_delay = g_value_get_uint (value);
      break;
    case PROP_PAUSE_LIMIT:
      qmp_thin_monitor_set_pause_limit (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_thin_monitor_constructed (GObject *object)
{
  QmpThinMonitor *self = QMP_THIN_MONITOR (object);

  G_OBJECT_CLASS (qmp_thin_monitor_parent_class)->constructed (object);
  g_return_if_fail (QMP_IS_CLIENT (self->client));

  self->handlers[0] = g_signal_connect (self->client, "block-write-threshold",
                                        G_CALLBACK (on_block_write_threshold), self);
  self->handlers[1] = g_signal_connect (self->client, "stop-reason-changed",
                                        G_CALLBACK (on_stop_reason_changed), self);
  self->handlers[2] = g_signal_connect (self->client, "notify::state",
                                        G_CALLBACK (on_state), self);
  self->handlers[3] = g_signal_connect (self->client, "event::JOB_STATUS_CHANGE",
                                        G_CALLBACK (on_job_status_change), self);
  _qmp_thin_monitor_connect_jobs (self);
  _qmp_thin_monitor_connect_measure (self, &self->handlers[4]);

  /* A VM already paused for lack of space counts from now. */
  update_pause (self, nospace_pause (self) != NULL);
}

static void
qmp_thin_monitor_class_init (QmpThinMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = qmp_thin_monitor_dispose;
  object_class->finalize = qmp_thin_monitor_finalize;
  object_class->get_property = qmp_thin_monitor_get_property;
  object_class->set_property = qmp_thin_monitor_set_property;
  object_class->constructed = qmp_thin_monitor_constructed;

  /**
   * QmpThinMonitor:client:
   *
   * The client of the VM whose disks are watched.
   *
   * Since: 1.0
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", "Client", "Client of the VM", QMP_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:n-nospace-pauses:
   *
   * How many times the VM paused for lack of space since the monitor was
   * made (a VM already paused so when it was made counts as one).
   *
   * Since: 1.0
   */
  properties[PROP_N_NOSPACE_PAUSES] =
    g_param_spec_uint ("n-nospace-pauses", "ENOSPC pauses", "Pauses for lack of space",
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:n-resumes:
   *
   * How many times the monitor resumed the VM.
   *
   * Since: 1.0
   */
  properties[PROP_N_RESUMES] =
    g_param_spec_uint ("n-resumes", "Resumes", "Times the monitor resumed the VM",
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  _qmp_thin_monitor_class_init_follow (klass);
  _qmp_thin_monitor_class_init_pauses (klass);
  _qmp_thin_monitor_class_init_jobs (klass);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * QmpThinMonitor::extend-needed:
   * @monitor: the #QmpThinMonitor
   * @disk: the disk that needs more storage
   * @wanted_size: the physical size to grow it to, in bytes
   * @reason: why
   *
   * Emitted when @disk needs more storage, once per need: until the
   * consumer calls qmp_thin_monitor_extended() or
   * qmp_thin_monitor_extend_failed() for it, further needs only raise
   * #QmpThinDisk:wanted-size. The consumer may extend from the handler
   * or later, to @wanted_size or to whatever it can.
   *
   * Since: 1.0
   */
  signals[SIGNAL_EXTEND_NEEDED] =
    g_signal_new ("extend-needed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, QMP_TYPE_THIN_DISK, G_TYPE_UINT64, QMP_TYPE_EXTEND_REASON);

  /**
   * QmpThinMonitor::error:
   * @monitor: the #QmpThinMonitor
   * @disk: (nullable): the disk concerned, %NULL for the VM
   * @error: what went wrong
   *
   * Emitted when something the monitor cannot fix by itself went wrong:
   * a disk's threshold cannot be armed (the disk is then
   * %QMP_THIN_DISK_STATE_DISABLED until the client is ready again), the
   * consumer reported a failed extension, or `cont` failed. Each is also
   * logged as a warning.
   *
   * Since: 1.0
   */
  signals[SIGNAL_ERROR] =
    g_signal_new ("error",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, QMP_TYPE_THIN_DISK, G_TYPE_ERROR);
}

static void
qmp_thin_monitor_init (QmpThinMonitor *self)
{
  self->disks = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_node = g_hash_table_new (g_str_hash, g_str_equal);
  self->roots = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->declared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->left = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->cancellable = g_cancellable_new ();
  self->retry_delay = 1000;
  self->retry_max_delay = 60000;
  _qmp_thin_monitor_init_measure (self);
}

/**
 * qmp_thin_monitor_new:
 * @client: the client of the VM, connected or not
 *
 * Makes a monitor for the thin disks of the VM behind @client. It arms
 * the thresholds of its disks whenever @client is ready: now if it is,
 * and after every (re)connection.
 *
 * Returns: (transfer full): a new #QmpThinMonitor
 *
 * Since: 1.0
 */
QmpThinMonitor *
qmp_thin_monitor_new (QmpClient *client)
{
  g_return_val_if_fail (QMP_IS_CLIENT (client), NULL);
  return g_object_new (QMP_TYPE_THIN_MONITOR, "client", client, NULL);
}

/**
 * qmp_thin_monitor_get_client:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:client.
 *
 * Returns: (transfer none): the client
 *
 * Since: 1.0
 */
QmpClient *
qmp_thin_monitor_get_client (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), NULL);
  return monitor->client;
}

/**
 * qmp_thin_monitor_add_disk:
 * @monitor: a #QmpThinMonitor
 * @node_name: the storage node to watch: the one whose write offsets
 *   follow the host's allocation (the `file` node under a qcow2 node, or
 *   the raw node of a raw disk)
 * @physical_size: the size of the storage now, in bytes (not 0)
 * @chunk_size: how much one extension adds, in bytes (not 0);
 *   %QMP_THIN_DEFAULT_CHUNK_SIZE
 * @free_percent: how much of a chunk should still be free when the
 *   threshold fires, 0 to 100; %QMP_THIN_DEFAULT_FREE_PERCENT
 *
 * Starts watching @node_name: arms its threshold (see
 * qmp_thin_compute_threshold()) when the client is ready, and checks its
 * allocation: a disk already past its threshold is
 * %QMP_THIN_DISK_STATE_EXCEEDED at once. A node that cannot be armed (it
 * does not exist) becomes %QMP_THIN_DISK_STATE_DISABLED and
 * #QmpThinMonitor::error says why.
 *
 * Returns: (transfer none): the disk, or %NULL when @node_name is watched
 *   already
 *
 * Since: 1.0
 */
QmpThinDisk *
qmp_thin_monitor_add_disk (QmpThinMonitor *monitor,
                           const char     *node_name,
                           guint64         physical_size,
                           guint64         chunk_size,
                           guint           free_percent)
{
  QmpThinDisk *disk;
  g_autoptr(GPtrArray) one = NULL;

  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), NULL);
  g_return_val_if_fail (node_name != NULL && *node_name != '\0', NULL);
  g_return_val_if_fail (physical_size > 0, NULL);
  g_return_val_if_fail (chunk_size > 0, NULL);
  g_return_val_if_fail (free_percent <= 100, NULL);

  if (g_hash_table_contains (monitor->by_node, node_name))
    return NULL;

  disk = _qmp_thin_disk_new (monitor, node_name, physical_size, chunk_size, free_percent);
  g_ptr_array_add (monitor->disks, disk);
  g_hash_table_insert (monitor->by_node, disk->node_name, disk);

  one = g_ptr_array_new ();
  g_ptr_array_add (one, disk);
  _qmp_thin_monitor_arm (monitor, one);
  /* Where it sits, and what it can use. */
  _qmp_thin_monitor_read_graph (monitor);
  return disk;
}

/**
 * qmp_thin_monitor_remove_disk:
 * @monitor: a #QmpThinMonitor
 * @node_name: a node given to qmp_thin_monitor_add_disk()
 *
 * Stops watching @node_name and disarms its threshold. The #QmpThinDisk
 * stays %QMP_THIN_DISK_STATE_DISABLED for whoever still holds it.
 *
 * Returns: %TRUE when @node_name was watched
 *
 * Since: 1.0
 */
gboolean
qmp_thin_monitor_remove_disk (QmpThinMonitor *monitor,
                              const char     *node_name)
{
  QmpThinDisk *disk;

  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), FALSE);
  g_return_val_if_fail (node_name != NULL, FALSE);

  disk = g_hash_table_lookup (monitor->by_node, node_name);
  if (disk == NULL || disk->replica_of != NULL)
    return FALSE;

  /* Its replicas first: they go with it. */
  for (guint i = monitor->disks->len; i > 0; i--)
    {
      QmpThinDisk *replica = monitor->disks->pdata[i - 1];

      if (replica->replica_of == disk)
        _qmp_thin_monitor_drop_disk (monitor, replica);
    }
  _qmp_thin_monitor_drop_disk (monitor, disk);

  /* The VM may have waited for this one only. */
  _qmp_thin_monitor_update (monitor);
  return TRUE;
}

/* Stops watching @disk: disarmed, forgotten, %QMP_THIN_DISK_STATE_DISABLED
 * for whoever still holds it. */
void
_qmp_thin_monitor_drop_disk (QmpThinMonitor *self,
                             QmpThinDisk    *disk)
{
  g_autoptr(QmpThinDisk) hold G_GNUC_UNUSED = g_object_ref (disk);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->roots);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_str_equal (value, disk->node_name))
      g_hash_table_iter_remove (&iter);
  g_hash_table_remove (self->by_node, disk->node_name);

  if (qmp_client_get_state (self->client) == QMP_CLIENT_STATE_READY && disk->threshold > 0)
    qmp_client_set_write_threshold_async (self->client, disk->node_name, 0, self->cancellable, NULL, NULL);
  disk->monitor = NULL;
  _qmp_thin_disk_disable (disk, DISABLED_REMOVED);
  g_ptr_array_remove (self->disks, disk);
}

/**
 * qmp_thin_monitor_get_disk:
 * @monitor: a #QmpThinMonitor
 * @node_name: a node name
 *
 * Finds the disk watching @node_name.
 *
 * Returns: (transfer none) (nullable): the disk, or %NULL
 *
 * Since: 1.0
 */
QmpThinDisk *
qmp_thin_monitor_get_disk (QmpThinMonitor *monitor,
                           const char     *node_name)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), NULL);
  g_return_val_if_fail (node_name != NULL, NULL);
  return g_hash_table_lookup (monitor->by_node, node_name);
}

/**
 * qmp_thin_monitor_list_disks:
 * @monitor: a #QmpThinMonitor
 *
 * Lists the disks watched, in the order they were added.
 *
 * Returns: (transfer container) (element-type QmpThinDisk): the disks
 *
 * Since: 1.0
 */
GPtrArray *
qmp_thin_monitor_list_disks (QmpThinMonitor *monitor)
{
  GPtrArray *list;

  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), NULL);

  list = g_ptr_array_new_full (monitor->disks->len, g_object_unref);
  for (guint i = 0; i < monitor->disks->len; i++)
    g_ptr_array_add (list, g_object_ref (monitor->disks->pdata[i]));
  return list;
}

/* The consumer answers a need of a node a disk left since (a snapshot, a
 * commit or a mirror moved the disk, or the job of a replica ended), or
 * grew it of its own accord: the disk asked again for its new node if that
 * needs storage; this answer concerns a node that is no longer written. */
static gboolean
answer_left (QmpThinMonitor *self,
             const char     *node_name,
             const char     *what)
{
  QmpThinDisk *disk = g_hash_table_lookup (self->left, node_name);

  if (disk == NULL)
    return FALSE;
  g_debug ("thin monitor: %s of %s, which %s left: nothing to do", what, node_name,
           disk->monitor == self ? disk->node_name : "a replica that ended");
  _qmp_thin_monitor_update (self);
  return TRUE;
}

/**
 * qmp_thin_monitor_extended:
 * @monitor: a #QmpThinMonitor
 * @node_name: the disk's node
 * @new_physical_size: the size of its storage now, in bytes
 *
 * Tells the monitor that the consumer grew the storage of @node_name (in
 * answer to #QmpThinMonitor::extend-needed or of its own accord). The disk
 * goes %QMP_THIN_DISK_STATE_EXTENDING while the monitor arms its new
 * threshold and checks the allocation, then %QMP_THIN_DISK_STATE_ARMED,
 * or %QMP_THIN_DISK_STATE_EXCEEDED with a new #QmpThinMonitor::extend-needed
 * when it is still short. If the VM is paused for lack of space and none
 * of the monitor's disks is short any more, the monitor resumes it.
 *
 * May be called from a #QmpThinMonitor::extend-needed handler.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_extended (QmpThinMonitor *monitor,
                           const char     *node_name,
                           guint64         new_physical_size)
{
  QmpThinDisk *disk;
  g_autoptr(GPtrArray) one = NULL;

  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));
  g_return_if_fail (node_name != NULL);
  g_return_if_fail (new_physical_size > 0);

  disk = g_hash_table_lookup (monitor->by_node, node_name);
  if (disk == NULL && answer_left (monitor, node_name, "extension"))
    return;
  g_return_if_fail (disk != NULL);

  if (new_physical_size < disk->physical_size)
    g_debug ("thin disk %s: the storage shrank from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT " bytes",
             node_name, disk->physical_size, new_physical_size);
  _qmp_thin_disk_set_uint64 (disk, &disk->physical_size, new_physical_size, DISK_PROP_PHYSICAL_SIZE);
  if (disk->asked && disk->asked_at > 0)
    _qmp_thin_monitor_record (monitor, disk, QMP_THIN_PHASE_EXTEND, g_get_monotonic_time () - disk->asked_at);
  disk->asked_at = 0;
  disk->extended_at = g_get_monotonic_time ();
  disk->asked = FALSE;
  disk->told_improbable = FALSE;
  disk->n_extensions++;
  _qmp_thin_disk_notify (disk, DISK_PROP_N_EXTENSIONS);
  if (disk->state != QMP_THIN_DISK_STATE_DISABLED)
    _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_EXTENDING);

  one = g_ptr_array_new ();
  g_ptr_array_add (one, disk);
  if (qmp_client_get_state (monitor->client) == QMP_CLIENT_STATE_READY)
    _qmp_thin_monitor_arm (monitor, one);
  else
    /* Armed when the client is ready again. */
    _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_UNSET);
}

/**
 * qmp_thin_monitor_extend_failed:
 * @monitor: a #QmpThinMonitor
 * @node_name: the disk's node
 * @error: why the extension failed
 *
 * Tells the monitor that the consumer could not grow the storage of
 * @node_name. The disk stays %QMP_THIN_DISK_STATE_EXCEEDED, a VM paused
 * for lack of space stays paused, the failure is logged and
 * #QmpThinMonitor::error emitted. The next event that shows the need
 * (another `BLOCK_IO_ERROR` after someone resumed the VM, a reconnection)
 * asks again; so does qmp_thin_monitor_extended() with a larger size.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_extend_failed (QmpThinMonitor *monitor,
                                const char     *node_name,
                                const GError   *error)
{
  g_autoptr(QmpThinDisk) disk = NULL;
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = NULL;

  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));
  g_return_if_fail (node_name != NULL);
  g_return_if_fail (error != NULL);

  disk = g_hash_table_lookup (monitor->by_node, node_name);
  if (disk == NULL && answer_left (monitor, node_name, "failed extension"))
    return;
  g_return_if_fail (disk != NULL);
  g_object_ref (disk);
  hold = g_object_ref (monitor);

  disk->asked = FALSE;
  _qmp_thin_disk_supersede (disk);
  _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_EXCEEDED);
  _qmp_thin_monitor_emit_error (monitor, disk, error);
}

/**
 * qmp_thin_monitor_get_n_nospace_pauses:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:n-nospace-pauses.
 *
 * Returns: how many times the VM paused for lack of space
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_n_nospace_pauses (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->n_nospace_pauses;
}

/**
 * qmp_thin_monitor_get_nospace_paused_usec:
 * @monitor: a #QmpThinMonitor
 *
 * How long the VM was paused for lack of space since the monitor was
 * made, the current pause included, as the monitor saw it (from the
 * #QmpClient::stop-reason-changed that began each pause to the one that
 * ended it).
 *
 * Returns: the time, in microseconds
 *
 * Since: 1.0
 */
gint64
qmp_thin_monitor_get_nospace_paused_usec (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->nospace_paused_usec +
         (monitor->paused_nospace ? g_get_monotonic_time () - monitor->pause_start : 0);
}

/**
 * qmp_thin_monitor_get_n_resumes:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:n-resumes.
 *
 * Returns: how many times the monitor resumed the VM
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_n_resumes (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->n_resumes;
}
