/* qmp-thin-follow.c: QmpThinMonitor follows its disks through the block graph
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Snapshots, commits and mirrors change which node a disk's guest writes;
 * the poll catches what no event told; the guard stops extending a disk
 * whose allocation makes no sense. Documented in the QmpThinMonitor
 * section and the thin-provisioning chapter.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-thin-monitor-private.h"

/* ------------------------------------------------------------------------ */
/* The guard */

/* An allocation past the disk's maximum size: more than its guest could
 * have written. Told once, and the disk is extended no more until the
 * consumer says it grew it (or raises the maximum and extends). */
gboolean
_qmp_thin_monitor_improbable (QmpThinMonitor *self,
                              QmpThinDisk    *disk,
                              guint64         write_end)
{
  g_autoptr(GError) error = NULL;

  if (disk->maximum_size == 0 || write_end <= disk->maximum_size || disk->disabled == DISABLED_REMOVED)
    return FALSE;
  if (disk->told_improbable)
    return TRUE;

  disk->told_improbable = TRUE;
  disk->asked = FALSE;
  _qmp_thin_disk_disable (disk, DISABLED_IMPROBABLE);
  error = g_error_new (QMP_ERROR, QMP_ERROR_IMPROBABLE_ALLOCATION,
                       "Thin disk %s is allocated up to %" G_GUINT64_FORMAT " bytes, past the %"
                       G_GUINT64_FORMAT " its image can use: not extending it",
                       disk->node_name, write_end, disk->maximum_size);
  _qmp_thin_monitor_emit_error (self, disk, error);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reading the graph */

typedef struct {
  QmpThinCall *call;
  JsonNode *graph;              /* owned */
  GPtrArray *nodes;             /* owned QmpBlockNode */
  GError *error;                /* the graph's */
  guint n_waiting;
} Reading;

static void
reading_free (Reading *reading)
{
  _qmp_thin_call_free (reading->call);
  g_clear_pointer (&reading->graph, json_node_unref);
  g_clear_pointer (&reading->nodes, g_ptr_array_unref);
  g_clear_error (&reading->error);
  g_free (reading);
}

static QmpBlockNode *
find_node (GPtrArray  *nodes,
           const char *name)
{
  for (guint i = 0; nodes != NULL && i < nodes->len; i++)
    if (g_strcmp0 (qmp_block_node_get_node_name (nodes->pdata[i]), name) == 0)
      return nodes->pdata[i];
  return NULL;
}

/* The size of the storage under @node_name: as the consumer declared it,
 * else as QEMU reports the node (a logical volume's, a file's, a raw
 * node's size=), else @otherwise. */
static guint64
storage_size (QmpThinMonitor *self,
              GPtrArray      *nodes,
              const char     *node_name,
              guint64         otherwise)
{
  guint64 *declared = g_hash_table_lookup (self->declared, node_name);
  QmpBlockNode *node = find_node (nodes, node_name);

  if (declared != NULL)
    return *declared;
  if (node != NULL && qmp_block_node_get_virtual_size (node) > 0)
    return qmp_block_node_get_virtual_size (node);
  return otherwise;
}

/* The monitor knows the storage of a node it leaves better than anything
 * QEMU reports: remembered as if declared, until the consumer declares
 * it again. A base that comes back (an active commit's) keeps its size,
 * and a file node's size (a sparse file's, larger than the raw node's
 * size= that limits it) is not taken for its storage's. */
static void
remember_storage (QmpThinMonitor *self,
                  const char     *node_name,
                  guint64         physical_size)
{
  guint64 *size;

  if (physical_size == 0)
    return;
  size = g_new (guint64, 1);
  *size = physical_size;
  g_hash_table_replace (self->declared, g_strdup (node_name), size);
}

/* A disk whose consumer set no maximum size gets what its image can use. */
static void
estimate_maximum (QmpThinDisk *disk,
                  GPtrArray   *nodes)
{
  QmpBlockNode *top = disk->place.top != NULL ? find_node (nodes, disk->place.top) : NULL;
  guint64 maximum;

  if (disk->maximum_set || top == NULL || disk->place.depth == 0 || qmp_block_node_get_driver (top) == NULL)
    return;
  maximum = qmp_thin_estimate_maximum_size (qmp_block_node_get_driver (top),
                                            qmp_block_node_get_virtual_size (top),
                                            qmp_block_node_get_cluster_size (top));
  if (maximum > 0)
    _qmp_thin_disk_set_uint64 (disk, &disk->maximum_size, maximum, DISK_PROP_MAXIMUM_SIZE);
}

/* The disk's guest writes @node_name now. The node it left keeps no
 * threshold, and an answer to a need of it is taken for what it is. */
typedef struct {
  guint64 physical_size;
  guint64 highest_offset;
  guint64 wanted_size;          /* 0: no need pending */
} Taken;

static void
move_disk (QmpThinMonitor *self,
           QmpThinDisk    *disk,
           const char     *node_name,
           const Taken    *taken)
{
  g_autofree char *previous = g_strdup (disk->node_name);

  g_debug ("thin disk %s: its guest writes %s now", previous, node_name);
  if (qmp_client_get_state (self->client) == QMP_CLIENT_STATE_READY && disk->threshold > 0)
    qmp_client_set_write_threshold_async (self->client, previous, 0, self->cancellable, NULL, NULL);
  g_hash_table_replace (self->left, g_strdup (previous), g_object_ref (disk));
  remember_storage (self, previous, disk->physical_size);

  g_hash_table_remove (self->by_node, previous);
  _qmp_thin_disk_set_string (disk, &disk->node_name, node_name, DISK_PROP_NODE_NAME);
  g_hash_table_insert (self->by_node, disk->node_name, disk);
  /* The names QEMU gave the disk still name it: a VM that paused for lack
   * of space on a node that left with the move (the filter of the job
   * that pivoted, the old top) is paused on this disk, and the write that
   * failed goes to the new node when the VM resumes. */
  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, self->roots);
    while (g_hash_table_iter_next (&iter, &key, &value))
      if (g_str_equal (value, previous))
        g_hash_table_iter_replace (&iter, g_strdup (node_name));
  }
  _qmp_thin_disk_supersede (disk);
  disk->asked = taken->wanted_size > 0;
  disk->arming = FALSE;
  disk->resumed_size = 0;
  disk->told_maximum = FALSE;
  disk->told_improbable = FALSE;
  disk->disabled = DISABLED_NOT;
  _qmp_thin_disk_set_uint64 (disk, &disk->physical_size, taken->physical_size, DISK_PROP_PHYSICAL_SIZE);
  _qmp_thin_disk_set_uint64 (disk, &disk->threshold, 0, DISK_PROP_THRESHOLD);
  _qmp_thin_disk_set_uint64 (disk, &disk->highest_offset, taken->highest_offset, DISK_PROP_HIGHEST_OFFSET);
  if (taken->wanted_size > 0)
    _qmp_thin_disk_set_uint64 (disk, &disk->wanted_size, taken->wanted_size, DISK_PROP_WANTED_SIZE);
  _qmp_thin_disk_set_state (disk, disk->asked ? QMP_THIN_DISK_STATE_EXCEEDED : QMP_THIN_DISK_STATE_UNSET);
  g_signal_emit (self, _qmp_thin_monitor_signals[SIGNAL_DISK_MOVED], 0, disk, previous);
}

static QmpThinDisk *
replica_on (QmpThinMonitor *self,
            QmpThinDisk    *disk,
            const char     *node_name)
{
  QmpThinDisk *replica = g_hash_table_lookup (self->by_node, node_name);

  return replica != NULL && replica->replica_of == disk ? replica : NULL;
}

static void
add_replica (QmpThinMonitor *self,
             QmpThinDisk    *disk,
             const char     *node_name,
             const char     *job,
             guint64         physical_size,
             GPtrArray      *armed)
{
  QmpThinDisk *replica = _qmp_thin_disk_new (self, node_name, physical_size, disk->chunk_size,
                                             disk->free_percent);
  guint at;

  g_debug ("thin disk %s: job %s writes it to %s too", disk->node_name, job, node_name);
  replica->replica_of = g_object_ref (disk);
  replica->job = g_strdup (job);
  replica->maximum_set = disk->maximum_set;
  replica->maximum_size = disk->maximum_size;
  replica->sizing = disk->sizing;
  replica->place.device = g_strdup (disk->place.device);
  replica->place.depth = disk->place.depth;
  replica->placed = TRUE;
  /* After its disk and the disk's other replicas. */
  g_ptr_array_find (self->disks, disk, &at);
  while (at + 1 < self->disks->len && ((QmpThinDisk *) self->disks->pdata[at + 1])->replica_of == disk)
    at++;
  g_ptr_array_insert (self->disks, at + 1, replica);
  g_hash_table_insert (self->by_node, replica->node_name, replica);
  g_ptr_array_add (armed, g_object_ref (replica));
  g_signal_emit (self, _qmp_thin_monitor_signals[SIGNAL_REPLICA_ADDED], 0, replica);
}

/* The job of @replica ended. When its disk pivoted to it (@promoted),
 * the disk takes its node, its threshold and its pending need over. */
static void
remove_replica (QmpThinMonitor *self,
                QmpThinDisk    *replica,
                gboolean        promoted)
{
  g_autoptr(QmpThinDisk) hold G_GNUC_UNUSED = g_object_ref (replica);

  g_debug ("thin disk %s: the job %s ended%s", replica->node_name, replica->job,
           promoted ? ", its disk pivoted to it" : "");
  if (promoted)
    replica->threshold = 0;
  else
    {
      g_hash_table_replace (self->left, g_strdup (replica->node_name), g_object_ref (replica));
      remember_storage (self, replica->node_name, replica->physical_size);
    }
  /* Its job ended: a later job of the same id starts afresh. */
  if (replica->job != NULL)
    g_hash_table_remove (self->job_resumes, replica->job);
  _qmp_thin_monitor_drop_disk (self, replica);
  g_signal_emit (self, _qmp_thin_monitor_signals[SIGNAL_REPLICA_REMOVED], 0, replica);
}

/* What one reading of the graph changes for one disk: where it sits, the
 * node its guest writes now, the replicas its jobs write. */
static void
follow_disk (QmpThinMonitor *self,
             QmpThinDisk    *disk,
             QmpThinGraph   *graph,
             GPtrArray      *nodes,
             GPtrArray      *armed)
{
  g_autofree char *top = NULL;
  g_autofree char *storage = NULL;
  g_autoptr(GPtrArray) targets = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) names = NULL;

  if (!disk->placed)
    {
      if (!_qmp_thin_graph_locate (graph, disk->node_name, &disk->place))
        return;
      disk->placed = TRUE;
      _qmp_thin_disk_notify (disk, DISK_PROP_DEVICE);
    }

  storage = _qmp_thin_graph_follow (graph, &disk->place, &top);
  if (storage == NULL)
    return;
  g_free (disk->place.top);
  disk->place.top = g_strdup (top);
  estimate_maximum (disk, nodes);

  if (!g_str_equal (storage, disk->node_name))
    {
      QmpThinDisk *replica = replica_on (self, disk, storage);
      Taken taken = { storage_size (self, nodes, storage, disk->physical_size), 0, 0 };

      /* The node a replica had is the disk's now. */
      if (replica != NULL)
        {
          taken.physical_size = replica->physical_size;
          taken.highest_offset = replica->highest_offset;
          taken.wanted_size = replica->asked ? replica->wanted_size : 0;
          remove_replica (self, replica, TRUE);
        }
      else if (g_hash_table_contains (self->by_node, storage))
        {
          g_debug ("thin disk %s: its guest writes %s, which another disk watches", disk->node_name, storage);
          return;
        }
      move_disk (self, disk, storage, &taken);
      estimate_maximum (disk, nodes);
      if (_qmp_thin_monitor_gone (self) || disk->monitor != self)
        return;
      g_ptr_array_add (armed, g_object_ref (disk));
    }

  /* The jobs reading its active layer, and the storage they write. */
  targets = _qmp_thin_graph_targets (graph, disk->place.top, disk->place.depth, &jobs);
  for (guint i = self->disks->len; i > 0; i--)
    {
      QmpThinDisk *replica = self->disks->pdata[i - 1];
      gboolean still = FALSE;

      if (replica->replica_of != disk)
        continue;
      for (guint j = 0; j < targets->len && !still; j++)
        still = g_str_equal (targets->pdata[j], replica->node_name);
      if (!still)
        remove_replica (self, replica, FALSE);
    }
  for (guint i = 0; i < targets->len; i++)
    if (!g_str_equal (targets->pdata[i], disk->node_name) && replica_on (self, disk, targets->pdata[i]) == NULL &&
        !g_hash_table_contains (self->by_node, targets->pdata[i]))
      add_replica (self, disk, targets->pdata[i], jobs->pdata[i],
                   storage_size (self, nodes, targets->pdata[i], disk->physical_size), armed);

  /* The names QEMU gives the disk in errors and stop reasons. */
  names = _qmp_thin_graph_names_above (graph, disk->node_name);
  for (guint i = 0; i < names->len; i++)
    g_hash_table_replace (self->roots, g_strdup (names->pdata[i]), g_strdup (disk->node_name));
}

static void
apply_reading (QmpThinMonitor *self,
               Reading        *reading)
{
  g_autoptr(QmpThinGraph) graph = NULL;
  g_autoptr(GPtrArray) armed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) disks = NULL;
  g_autoptr(GError) error = NULL;

  if (reading->error != NULL)
    {
      if (g_error_matches (reading->error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND))
        {
          g_debug ("thin monitor: QEMU shows no block graph: the disks stay on their nodes");
          self->graph_unavailable = TRUE;
        }
      else if (!_qmp_thin_is_disconnection (reading->error))
        g_debug ("thin monitor: cannot read the block graph: %s", reading->error->message);
      return;
    }
  graph = _qmp_thin_graph_new (reading->graph, &error);
  if (graph == NULL)
    {
      g_debug ("thin monitor: cannot read the block graph: %s", error->message);
      return;
    }

  /* The disks the consumer added, each with its replicas; a handler may
   * change anything. */
  disks = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->disks->len; i++)
    if (((QmpThinDisk *) self->disks->pdata[i])->replica_of == NULL)
      g_ptr_array_add (disks, g_object_ref (self->disks->pdata[i]));
  for (guint i = 0; i < disks->len && !_qmp_thin_monitor_gone (self); i++)
    {
      QmpThinDisk *disk = disks->pdata[i];

      if (disk->monitor == self)
        follow_disk (self, disk, graph, reading->nodes, armed);
    }
  if (!_qmp_thin_monitor_gone (self) && armed->len > 0)
    _qmp_thin_monitor_arm (self, armed);
}

static void
reading_step (Reading *reading)
{
  QmpThinMonitor *self = reading->call->monitor;
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = NULL;

  if (--reading->n_waiting > 0)
    return;
  if (g_cancellable_is_cancelled (reading->call->cancellable))
    {
      reading_free (reading);
      return;
    }
  hold = g_object_ref (self);
  self->graph_reading = FALSE;
  apply_reading (self, reading);
  reading_free (reading);
  if (_qmp_thin_monitor_gone (self))
    return;
  if (self->graph_again)
    {
      self->graph_again = FALSE;
      _qmp_thin_monitor_read_graph (self);
    }
  _qmp_thin_monitor_update (self);
}

static void
graph_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Reading *reading = user_data;

  reading->graph = qmp_client_execute_finish (QMP_CLIENT (source), result, &reading->error);
  reading_step (reading);
}

static void
nodes_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Reading *reading = user_data;

  /* Sizes only: without them the disks keep theirs. */
  reading->nodes = qmp_client_query_named_block_nodes_finish (QMP_CLIENT (source), result, NULL);
  reading_step (reading);
}

/* Reads the block graph and the nodes (pipelined), then follows every
 * disk. Readings asked for while one is in flight make one more after it. */
void
_qmp_thin_monitor_read_graph (QmpThinMonitor *self)
{
  Reading *reading;

  if (self->graph_unavailable || self->disks->len == 0 ||
      qmp_client_get_state (self->client) != QMP_CLIENT_STATE_READY)
    return;
  if (self->graph_reading)
    {
      self->graph_again = TRUE;
      return;
    }
  self->graph_reading = TRUE;
  reading = g_new0 (Reading, 1);
  reading->call = _qmp_thin_call_new (self);
  reading->n_waiting = 2;
  qmp_client_execute_async (self->client, "x-debug-query-block-graph", NULL, self->cancellable,
                            graph_ready, reading);
  qmp_client_query_named_block_nodes_async (self->client, self->cancellable, nodes_ready, reading);
}

/* ------------------------------------------------------------------------ */
/* The safety-net poll */

/* What the graph looks like from a query-blockstats: the node names, and
 * the nodes each one's chains hold. A snapshot or a job changes it. */
static char *
shape_of (GPtrArray *stats)
{
  GString *shape = g_string_new (NULL);

  for (guint i = 0; i < stats->len; i++)
    {
      QmpBlockStats *entry = stats->pdata[i];

      g_string_append_printf (shape, "%s/%s/%s<", qmp_block_stats_get_node_name (entry),
                              qmp_block_stats_get_device (entry), qmp_block_stats_get_qdev (entry));
      for (QmpBlockStats *below = qmp_block_stats_get_backing (entry); below != NULL;
           below = qmp_block_stats_get_backing (below))
        g_string_append_printf (shape, "%s<", qmp_block_stats_get_node_name (below));
      g_string_append_c (shape, ';');
    }
  return g_string_free (shape, FALSE);
}

static void
poll_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(QmpThinCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, &error);
  g_autoptr(QmpThinMonitor) hold G_GNUC_UNUSED = NULL;
  g_autoptr(GPtrArray) disks = NULL;
  g_autofree char *shape = NULL;
  QmpThinMonitor *self = call->monitor;

  if (g_cancellable_is_cancelled (call->cancellable))
    return;
  hold = g_object_ref (self);
  self->polling = FALSE;
  if (stats == NULL)
    {
      if (!_qmp_thin_is_disconnection (error))
        g_debug ("thin monitor: the poll failed: %s", error->message);
      return;
    }
  self->n_polls++;
  g_object_notify_by_pspec (G_OBJECT (self), _qmp_thin_monitor_properties[PROP_N_POLLS]);
  _qmp_thin_monitor_learn_stats (self, stats);

  /* The first poll reads the graph too: what it sees may have changed
   * since the graph was read (a snapshot sends no event). */
  shape = shape_of (stats);
  if (g_strcmp0 (shape, self->shape) != 0)
    {
      _qmp_thin_monitor_read_graph (self);
      g_free (self->shape);
      self->shape = g_steal_pointer (&shape);
    }

  /* A disk armed and past its threshold with no event: the event was
   * lost, or the threshold is not armed any more. */
  disks = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->disks->len; i++)
    g_ptr_array_add (disks, g_object_ref (self->disks->pdata[i]));
  for (guint i = 0; i < disks->len && !_qmp_thin_monitor_gone (self); i++)
    {
      QmpThinDisk *disk = disks->pdata[i];

      if (disk->monitor == self && disk->state == QMP_THIN_DISK_STATE_ARMED && !disk->arming &&
          disk->threshold > 0 && disk->highest_offset >= disk->threshold)
        {
          g_debug ("thin disk %s: allocated to %" G_GUINT64_FORMAT ", past its threshold, with no event",
                   disk->node_name, disk->highest_offset);
          _qmp_thin_monitor_need (self, disk, QMP_EXTEND_REASON_MISSED, disk->highest_offset);
        }
    }
  if (!_qmp_thin_monitor_gone (self))
    _qmp_thin_monitor_update (self);
}

static gboolean
on_poll (gpointer user_data)
{
  QmpThinMonitor *self = user_data;

  if (!self->polling && self->disks->len > 0 && qmp_client_get_state (self->client) == QMP_CLIENT_STATE_READY)
    {
      self->polling = TRUE;
      qmp_client_query_blockstats_async (self->client, TRUE, self->cancellable, poll_ready,
                                         _qmp_thin_call_new (self));
    }
  return G_SOURCE_CONTINUE;
}

static guint
add_poll_source (QmpThinMonitor *self,
                 guint           delay,
                 GSourceFunc     func)
{
  guint id = g_timeout_add_full (G_PRIORITY_DEFAULT, delay, func, self, NULL);

  g_source_set_name_by_id (id, "[qmpthin] thin monitor poll");
  return id;
}

/* The first poll, then one every interval. */
static gboolean
on_first_poll (gpointer user_data)
{
  QmpThinMonitor *self = user_data;

  self->poll_source = add_poll_source (self, self->poll_interval, on_poll);
  on_poll (self);
  return G_SOURCE_REMOVE;
}

/* The first poll comes after a random part of the interval: an agent
 * that sets the same interval on many monitors at once gets their polls
 * spread over it, not all of them in one burst every interval. */
void
_qmp_thin_monitor_restart_poll (QmpThinMonitor *self)
{
  g_clear_handle_id (&self->poll_source, g_source_remove);
  if (self->poll_interval == 0 || _qmp_thin_monitor_gone (self))
    return;
  self->poll_source = add_poll_source (self, (guint) g_random_int_range (1, (gint32) MIN (self->poll_interval, G_MAXINT32 - 1) + 1),
                                       on_first_poll);
}

/* ------------------------------------------------------------------------ */
/* Public API */

/* What the monitor says of the graph it follows, and the poll. */
void
_qmp_thin_monitor_class_init_follow (QmpThinMonitorClass *klass)
{
  /**
   * QmpThinMonitor:poll-interval:
   *
   * How often, in milliseconds, the monitor reads the allocation of all
   * its disks in one `query-blockstats`, as a safety net: a disk armed and
   * past its threshold with no event (the event was lost, or the
   * threshold disarmed behind the monitor's back) is asked for with
   * %QMP_EXTEND_REASON_MISSED, and new nodes (a snapshot nobody told the
   * monitor of) make it read the graph again. 0, the default, polls not;
   * oVirt's vdsm polls every 2000 ms. The first poll after the interval
   * is set comes after a random part of it, so that the polls of many
   * monitors set at once are spread over the interval.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_POLL_INTERVAL] =
    g_param_spec_uint ("poll-interval", "Poll interval", "Safety-net poll interval, ms (0: off)",
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor:n-polls:
   *
   * How many polls completed (see #QmpThinMonitor:poll-interval).
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_properties[PROP_N_POLLS] =
    g_param_spec_uint ("n-polls", "Polls", "Polls completed", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinMonitor::disk-moved:
   * @monitor: the #QmpThinMonitor
   * @disk: the disk
   * @previous_node: the node the disk's guest wrote until now
   *
   * Emitted when the guest of @disk writes another storage node: a
   * snapshot put an overlay over it, an active commit pivoted to the base,
   * a mirror pivoted to its target. #QmpThinDisk:node-name is the new node;
   * the monitor stopped arming @previous_node, took the new node's
   * #QmpThinDisk:physical-size (see qmp_thin_monitor_declare_storage()),
   * and arms it. A need of @previous_node the consumer answers later is
   * taken for what it is: the new node is asked for if it needs storage.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_signals[SIGNAL_DISK_MOVED] =
    g_signal_new ("disk-moved",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, QMP_TYPE_THIN_DISK, G_TYPE_STRING);

  /**
   * QmpThinMonitor::replica-added:
   * @monitor: the #QmpThinMonitor
   * @replica: the new disk
   *
   * Emitted when a block job starts writing a disk's data to other
   * storage (a mirror's target, an active commit's base): the monitor
   * watches that storage too, as @replica (see #QmpThinDisk:replica-of),
   * and asks for it with #QmpThinMonitor::extend-needed like for any disk.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_signals[SIGNAL_REPLICA_ADDED] =
    g_signal_new ("replica-added",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_THIN_DISK);

  /**
   * QmpThinMonitor::replica-removed:
   * @monitor: the #QmpThinMonitor
   * @replica: the replica
   *
   * Emitted when the job of @replica ended: either its disk pivoted to
   * the replica's node (#QmpThinMonitor::disk-moved follows), or the job
   * was cancelled or failed and the replica is not written any more.
   *
   * Since: 1.0
   */
  _qmp_thin_monitor_signals[SIGNAL_REPLICA_REMOVED] =
    g_signal_new ("replica-removed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, QMP_TYPE_THIN_DISK);
}

/**
 * qmp_thin_monitor_declare_storage:
 * @monitor: a #QmpThinMonitor
 * @node_name: a storage node the consumer made: the protocol node of a
 *   snapshot overlay, of a mirror's target
 * @physical_size: the size of its storage, in bytes (not 0)
 *
 * Tells the monitor how large the storage under @node_name is, before the
 * graph change that brings it in (`blockdev-snapshot`, `blockdev-mirror`).
 * When a disk moves to that node, or the node becomes a replica, this is
 * its #QmpThinDisk:physical-size. Without it the monitor takes the size
 * QEMU reports for the node, which is the storage's for a logical volume
 * or a raw node with `size`, but the file's for a sparse file.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_declare_storage (QmpThinMonitor *monitor,
                                  const char     *node_name,
                                  guint64         physical_size)
{
  guint64 *size;

  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));
  g_return_if_fail (node_name != NULL && *node_name != '\0');
  g_return_if_fail (physical_size > 0);

  size = g_new (guint64, 1);
  *size = physical_size;
  g_hash_table_replace (monitor->declared, g_strdup (node_name), size);
}

/**
 * qmp_thin_monitor_refresh:
 * @monitor: a #QmpThinMonitor
 *
 * Reads the block graph again now and follows every disk: to call after a
 * graph change no event tells, such as a `blockdev-snapshot` the consumer
 * made. The monitor reads it by itself when the client is ready, when a
 * block job starts or ends, when the VM pauses for lack of space, and
 * when #QmpThinMonitor:poll-interval is set and the poll sees new nodes.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_refresh (QmpThinMonitor *monitor)
{
  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));
  _qmp_thin_monitor_read_graph (monitor);
}

/**
 * qmp_thin_monitor_get_poll_interval:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:poll-interval.
 *
 * Returns: the interval in milliseconds, 0 when the monitor does not poll
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_poll_interval (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->poll_interval;
}

/**
 * qmp_thin_monitor_set_poll_interval:
 * @monitor: a #QmpThinMonitor
 * @interval_ms: the interval in milliseconds, 0 to stop polling
 *
 * Sets #QmpThinMonitor:poll-interval.
 *
 * Since: 1.0
 */
void
qmp_thin_monitor_set_poll_interval (QmpThinMonitor *monitor,
                                    guint           interval_ms)
{
  g_return_if_fail (QMP_IS_THIN_MONITOR (monitor));

  if (monitor->poll_interval == interval_ms)
    return;
  monitor->poll_interval = interval_ms;
  _qmp_thin_monitor_restart_poll (monitor);
  g_object_notify_by_pspec (G_OBJECT (monitor), _qmp_thin_monitor_properties[PROP_POLL_INTERVAL]);
}

/**
 * qmp_thin_monitor_get_n_polls:
 * @monitor: a #QmpThinMonitor
 *
 * Gets #QmpThinMonitor:n-polls.
 *
 * Returns: how many polls completed
 *
 * Since: 1.0
 */
guint
qmp_thin_monitor_get_n_polls (QmpThinMonitor *monitor)
{
  g_return_val_if_fail (QMP_IS_THIN_MONITOR (monitor), 0);
  return monitor->n_polls;
}
