/* qmp-thin-jobs.c: block jobs stopped on a full replica, resumed once it grew
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A mirror or a commit started with on-target-error (or on-error) `stop`
 * or `enospc` pauses when its target runs out of space, as the VM does
 * with werror=enospc. The monitor watches the target as a replica: it
 * asks for its storage, and once no replica of the job waits for
 * storage any more it resumes the job with `block-job-resume`. Decided
 * from `query-block-jobs` (the job paused, its io-status `nospace`) and
 * the allocation read with it, never from `BLOCK_JOB_ERROR` alone: that
 * event only says when to look.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-json.h"
#include "qmp-thin-monitor-private.h"

typedef struct {
  QmpThinCall *call;            /* owned */
  JsonNode *jobs;               /* owned */
  GPtrArray *stats;             /* owned */
  guint n_waiting;
} JobsReading;

static void
jobs_reading_free (JobsReading *reading)
{
  _qmp_thin_call_free (reading->call);
  g_clear_pointer (&reading->jobs, json_node_unref);
  g_clear_pointer (&reading->stats, g_ptr_array_unref);
  g_free (reading);
}

/* The sum of the storage under @job's replicas, and whether one of them
 * waits for the consumer or is being armed. */
static guint64
replicas_of_job (QmpThinMonitor *self,
                 const char     *job,
                 GPtrArray      *replicas,
                 gboolean       *waiting)
{
  guint64 storage = 0;

  *waiting = FALSE;
  for (guint i = 0; i < self->disks->len; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      if (disk->replica_of == NULL || g_strcmp0 (disk->job, job) != 0)
        continue;
      g_ptr_array_add (replicas, g_object_ref (disk));
      storage += disk->physical_size;
      if (disk->asked || disk->arming || disk->state == QMP_THIN_DISK_STATE_EXTENDING)
        *waiting = TRUE;
    }
  return storage;
}

static void
resume_ready (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(QmpThinCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  if (g_cancellable_is_cancelled (call->cancellable))
    return;
  /* Resumed meanwhile by someone else, or gone: the next reading tells. */
  if (reply == NULL && !_qmp_thin_is_disconnection (error))
    g_debug ("thin monitor: block-job-resume failed: %s", error->message);
}

/* One job paused for lack of space on its target: ask for the replicas
 * that are short, or resume it when none is and one grew since it was
 * last resumed. Returns whether the job stays stopped. */
static gboolean
tend_job (QmpThinMonitor *self,
          const char     *job)
{
  g_autoptr(GPtrArray) replicas = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonObject) arguments = NULL;
  guint64 *resumed_at = g_hash_table_lookup (self->job_resumes, job);
  gboolean waiting, asked = FALSE;
  guint64 storage = replicas_of_job (self, job, replicas, &waiting);

  if (replicas->len == 0)
    {
      g_debug ("thin monitor: job %s stopped on a full target the monitor does not watch", job);
      return FALSE;
    }
  if (waiting)
    return TRUE;
  for (guint i = 0; i < replicas->len && !_qmp_thin_monitor_gone (self); i++)
    {
      QmpThinDisk *replica = replicas->pdata[i];

      if (replica->monitor == self && !replica->asked && _qmp_thin_disk_short (replica))
        {
          _qmp_thin_monitor_need (self, replica, QMP_EXTEND_REASON_NOSPACE, replica->highest_offset);
          asked = TRUE;
        }
    }
  if (asked || _qmp_thin_monitor_gone (self))
    return TRUE;

  /* Stopped again with no more storage than when it was resumed: the
   * room it had was not enough, and resuming once more would only stop
   * it again. Asked for, as a disk that paused the VM at that size. */
  if (resumed_at != NULL && *resumed_at == storage)
    {
      for (guint i = 0; i < replicas->len && !_qmp_thin_monitor_gone (self); i++)
        {
          QmpThinDisk *replica = replicas->pdata[i];

          if (replica->monitor == self && !replica->asked && replica->state != QMP_THIN_DISK_STATE_DISABLED)
            _qmp_thin_monitor_need (self, replica, QMP_EXTEND_REASON_NOSPACE,
                                    MAX (replica->highest_offset, replica->physical_size));
        }
      return TRUE;
    }

  g_debug ("thin monitor: resuming job %s, stopped for lack of space on its target", job);
  g_hash_table_insert (self->job_resumes, g_strdup (job), g_memdup2 (&storage, sizeof storage));
  arguments = json_object_new ();
  json_object_set_string_member (arguments, "device", job);
  qmp_client_execute_async (self->client, "block-job-resume", arguments, self->cancellable,
                            resume_ready, _qmp_thin_call_new (self));
  self->n_job_resumes++;
  g_object_notify_by_pspec (G_OBJECT (self), _qmp_thin_monitor_properties[PROP_N_JOB_RESUMES]);
  return FALSE;
}

static void
apply_jobs (QmpThinMonitor *self,
            JsonNode       *jobs,
            GPtrArray      *stats)
{
  g_autoptr(GPtrArray) stopped = g_ptr_array_new_with_free_func (g_free);
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (jobs) ? json_node_get_array (jobs) : NULL;
  gboolean still = FALSE;

  _qmp_thin_monitor_learn_stats (self, stats);
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *job = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      const char *id = job != NULL ? _qmp_json_get_string (job, "device") : NULL;

      /* A job a user paused has io-status ok: never resumed. */
      if (id != NULL && json_object_get_boolean_member_with_default (job, "paused", FALSE) &&
          g_strcmp0 (_qmp_json_get_string (job, "io-status"), "nospace") == 0)
        g_ptr_array_add (stopped, g_strdup (id));
    }
  /* Each need may run a handler that changes anything. */
  for (guint i = 0; i < stopped->len && !_qmp_thin_monitor_gone (self); i++)
    still |= tend_job (self, stopped->pdata[i]);
  if (!_qmp_thin_monitor_gone (self))
    self->jobs_stopped = still;
}

static void
jobs_step (JobsReading *reading)
{
  QmpThinMonitor *self = reading->call->monitor;

  if (--reading->n_waiting > 0)
    return;
  if (!g_cancellable_is_cancelled (reading->call->cancellable))
    {
      g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = g_object_ref (self);

      self->jobs_reading = FALSE;
      if (reading->jobs != NULL && reading->stats != NULL)
        apply_jobs (self, reading->jobs, reading->stats);
      if (!_qmp_thin_monitor_gone (self) && self->jobs_again)
        {
          self->jobs_again = FALSE;
          _qmp_thin_monitor_tend_jobs (self);
        }
    }
  jobs_reading_free (reading);
}

static void
jobs_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  JobsReading *reading = user_data;
  g_autoptr(GError) error = NULL;

  reading->jobs = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);
  if (reading->jobs == NULL && !_qmp_thin_is_disconnection (error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("thin monitor: query-block-jobs failed: %s", error->message);
  jobs_step (reading);
}

static void
jobs_stats_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  JobsReading *reading = user_data;

  reading->stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, NULL);
  jobs_step (reading);
}

/* Reads the jobs and the allocation (pipelined) when a job may be stopped
 * on a full target, and no replica waits for the consumer: called
 * whenever the monitor looks at the state again. */
void
_qmp_thin_monitor_tend_jobs (QmpThinMonitor *self)
{
  JobsReading *reading;
  gboolean waiting = FALSE;

  /* The graph being read may bring the replicas: its end looks again. */
  if (!self->jobs_stopped || self->graph_reading ||
      qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;
  if (self->jobs_reading)
    {
      self->jobs_again = TRUE;
      return;
    }
  /* Nothing to decide while the consumer extends a replica: its
   * extension will bring the monitor back here. */
  for (guint i = 0; i < self->disks->len && !waiting; i++)
    {
      QmpThinDisk *disk = self->disks->pdata[i];

      waiting = disk->replica_of != NULL && (disk->asked || disk->arming);
    }
  if (waiting)
    return;
  self->jobs_reading = TRUE;
  reading = g_new0 (JobsReading, 1);
  reading->call = _qmp_thin_call_new (self);
  reading->n_waiting = 2;
  qmp_client_execute_async (self->client, "query-block-jobs", NULL, self->cancellable, jobs_ready, reading);
  qmp_client_query_blockstats_async (self->client, TRUE, self->cancellable, jobs_stats_ready, reading);
}

static void
on_block_job_error (QmpClient *client,
                    QmpEvent  *event,
                    gpointer   user_data)
{
  QmpThinMonitor *self = user_data;

  /* Only when to look: the job's state says whether it stopped, and why. */
  self->jobs_stopped = TRUE;
  _qmp_thin_monitor_tend_jobs (self);
}

void
_qmp_thin_monitor_connect_jobs (QmpThinMonitor *self)
{
  self->job_resumes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->job_error_handler = g_signal_connect (self->client, "event::BLOCK_JOB_ERROR",
                                              G_CALLBACK (on_block_job_error), self);
}

void
_qmp_thin_monitor_disconnect_jobs (QmpThinMonitor *self)
{
  if (self->client != NULL)
    g_clear_signal_handler (&self->job_error_handler, self->client);
}

void
_qmp_thin_monitor_finalize_jobs (QmpThinMonitor *self)
{
  g_clear_pointer (&self->job_resumes, g_hash_table_unref);
}

/* ------------------------------------------------------------------------ */
/* Public API */

void
_qmp_thin_monitor_class_init_jobs (QmpThinMonitorClass *klass)
{
  /**
   * QmpThinMonitor:n-job-resumes:
   *
   * How many times the monitor resumed a block job (a mirror, a commit)
   * that stopped because its target, a replica the monitor watches, ran
   * out of space (`on-target-error` or `on-error` set to `stop` or
   * `enospc`): once none of the job's replicas waited for storage any
   * more. A job a user paused is never resumed, nor one stopped again
   * with no more storage than it had when last resumed.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_N_JOB_RESUMES] =
    g_param_spec_uint ("n-job-resumes", "Job resumes", "Block jobs resumed after their target grew",
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

/**
 * qmp_thin_monitor_get_n_job_resumes:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:n-job-resumes.
 *
 * Returns: how many times the monitor resumed a block job stopped for
 *   lack of space on its target
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_n_job_resumes (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->n_job_resumes;
}
