/* qmp-thin-disk.c: one disk a QmpThinMonitor watches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The disk's properties, and the state QmpThinMonitor keeps of it
 * (qmp-thin-disk-private.h). Documented in the QmpThinMonitor section.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-json.h"
#include "qmp-thin-disk-private.h"

G_DEFINE_FINAL_TYPE (QmpThinDisk, qmp_thin_disk, G_TYPE_OBJECT)

static GParamSpec *disk_properties[DISK_N_PROPS];

static void
qmp_thin_disk_finalize (GObject *object)
{
  QmpThinDisk *self = QMP_THIN_DISK (object);

  g_free (self->node_name);
  g_free (self->job);
  g_clear_object (&self->replica_of);
  for (guint i = 0; i < G_N_ELEMENTS (self->timings); i++)
    g_clear_object (&self->timings[i]);
  _qmp_thin_place_clear (&self->place);
  G_OBJECT_CLASS (qmp_thin_disk_parent_class)->finalize (object);
}

static void
qmp_thin_disk_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  QmpThinDisk *self = QMP_THIN_DISK (object);

  switch (prop_id)
    {
    case DISK_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case DISK_PROP_PHYSICAL_SIZE:
      g_value_set_uint64 (value, self->physical_size);
      break;
    case DISK_PROP_CHUNK_SIZE:
      g_value_set_uint64 (value, self->chunk_size);
      break;
    case DISK_PROP_FREE_PERCENT:
      g_value_set_uint (value, self->free_percent);
      break;
    case DISK_PROP_MAXIMUM_SIZE:
      g_value_set_uint64 (value, self->maximum_size);
      break;
    case DISK_PROP_THRESHOLD:
      g_value_set_uint64 (value, self->threshold);
      break;
    case DISK_PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case DISK_PROP_HIGHEST_OFFSET:
      g_value_set_uint64 (value, self->highest_offset);
      break;
    case DISK_PROP_WANTED_SIZE:
      g_value_set_uint64 (value, self->wanted_size);
      break;
    case DISK_PROP_N_EXTENSIONS:
      g_value_set_uint (value, self->n_extensions);
      break;
    case DISK_PROP_DEVICE:
      g_value_set_string (value, self->place.device);
      break;
    case DISK_PROP_REPLICA_OF:
      g_value_set_object (value, self->replica_of);
      break;
    case DISK_PROP_JOB:
      g_value_set_string (value, self->job);
      break;
    case DISK_PROP_SIZING:
      g_value_set_enum (value, self->sizing);
      break;
    case DISK_PROP_WRITE_RATE:
      g_value_set_uint64 (value, self->write_rate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_thin_disk_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  QmpThinDisk *self = QMP_THIN_DISK (object);

  switch (prop_id)
    {
    case DISK_PROP_MAXIMUM_SIZE:
      qmp_thin_disk_set_maximum_size (self, g_value_get_uint64 (value));
      break;
    case DISK_PROP_SIZING:
      qmp_thin_disk_set_sizing (self, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_thin_disk_class_init (QmpThinDiskClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_thin_disk_finalize;
  object_class->get_property = qmp_thin_disk_get_property;
  object_class->set_property = qmp_thin_disk_set_property;

  /**
   * QmpThinDisk:node-name:
   *
   * The storage node watched: the one whose write offsets follow the
   * host's allocation. It changes when the disk moves in the block graph
   * (see #QmpThinMonitor::disk-moved).
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Storage node watched", NULL, flags);

  /**
   * QmpThinDisk:physical-size:
   *
   * The size of the storage under the node, in bytes: the size of the
   * logical volume, say. Set by qmp_thin_monitor_add_disk() and
   * qmp_thin_monitor_extended().
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_PHYSICAL_SIZE] =
    g_param_spec_uint64 ("physical-size", "Physical size", "Size of the storage, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpThinDisk:chunk-size:
   *
   * How much one extension adds, in bytes.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_CHUNK_SIZE] =
    g_param_spec_uint64 ("chunk-size", "Chunk size", "Extension step, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpThinDisk:free-percent:
   *
   * How much of a chunk should be free when the threshold fires, in
   * percent: 0 fires when a whole chunk is left, 100 when nothing is.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_FREE_PERCENT] =
    g_param_spec_uint ("free-percent", "Free percent", "Free part of a chunk at the threshold",
                       0, 100, QMP_THIN_DEFAULT_FREE_PERCENT, flags);

  /**
   * QmpThinDisk:maximum-size:
   *
   * The storage never grows past this size, in bytes (the virtual size
   * plus the format's overhead, say); 0, the default, for no limit. Wanted
   * sizes are capped to it, and a disk that reached it is
   * %QMP_THIN_DISK_STATE_DISABLED: no threshold, nothing more to ask.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_MAXIMUM_SIZE] =
    g_param_spec_uint64 ("maximum-size", "Maximum size", "Largest size of the storage, bytes",
                         0, G_MAXUINT64, 0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinDisk:threshold:
   *
   * The write threshold the monitor armed last, in bytes (QEMU disarms it
   * when it fires); 0 before the first.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_THRESHOLD] =
    g_param_spec_uint64 ("threshold", "Threshold", "Write threshold armed last, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpThinDisk:state:
   *
   * Where the disk stands.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_STATE] =
    g_param_spec_enum ("state", "State", "Where the disk stands",
                       QMP_TYPE_THIN_DISK_STATE, QMP_THIN_DISK_STATE_UNSET, flags);

  /**
   * QmpThinDisk:highest-offset:
   *
   * The last known end of the highest write to the node
   * (`wr_highest_offset`, or the end of the write that crossed the
   * threshold), in bytes: the allocation's high-water mark.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_HIGHEST_OFFSET] =
    g_param_spec_uint64 ("highest-offset", "Highest offset", "Allocation high-water mark, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpThinDisk:wanted-size:
   *
   * The physical size the monitor asked for last, in bytes; 0 before the
   * first #QmpThinMonitor::extend-needed. Grows when more events come in
   * while the consumer is extending.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_WANTED_SIZE] =
    g_param_spec_uint64 ("wanted-size", "Wanted size", "Size asked for last, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpThinDisk:n-extensions:
   *
   * How many times qmp_thin_monitor_extended() was called for the disk.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_N_EXTENSIONS] =
    g_param_spec_uint ("n-extensions", "Extensions", "Extensions so far",
                       0, G_MAXUINT, 0, flags);

  /**
   * QmpThinDisk:device:
   *
   * The guest device the disk belongs to, as the block graph names its
   * backend (the QOM path of the device's backend with `-blockdev`, the
   * drive id with `-drive`); %NULL until the monitor read the graph, or
   * when no device uses the node.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_DEVICE] =
    g_param_spec_string ("device", "Device", "Guest device of the disk", NULL, flags);

  /**
   * QmpThinDisk:replica-of:
   *
   * For a replica (the storage a block job writes the disk's data to: a
   * mirror's target, an active commit's base), the disk it replicates;
   * %NULL for a disk the consumer added.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_REPLICA_OF] =
    g_param_spec_object ("replica-of", "Replica of", "Disk this one replicates",
                         QMP_TYPE_THIN_DISK, flags);

  /**
   * QmpThinDisk:job:
   *
   * For a replica, the id of the block job that writes it.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_JOB] =
    g_param_spec_string ("job", "Job", "Block job writing the replica", NULL, flags);

  /**
   * QmpThinDisk:sizing:
   *
   * How the monitor sizes the disk's extensions and thresholds:
   * %QMP_THIN_SIZING_FIXED (the default) from #QmpThinDisk:chunk-size and
   * #QmpThinDisk:free-percent alone, %QMP_THIN_SIZING_ADAPTIVE also from
   * the measured #QmpThinDisk:write-rate and extension latency. A
   * replica takes the sizing of its disk.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_SIZING] =
    g_param_spec_enum ("sizing", "Sizing", "How extensions are sized",
                       QMP_TYPE_THIN_SIZING, QMP_THIN_SIZING_FIXED,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpThinDisk:write-rate:
   *
   * How fast the guest allocates the disk's storage, in bytes per second
   * of running time, as the monitor estimates it from the allocation at
   * the thresholds QEMU reported crossed, at the pauses for lack of space
   * and, until it has one, at the check after a threshold is armed (on
   * QEMU's clock, the
   * pauses taken out); 0 until two such moments were seen. It follows a faster writer at once and a slower
   * one by halves.
   *
   * Since: 1.0
   */
  disk_properties[DISK_PROP_WRITE_RATE] =
    g_param_spec_uint64 ("write-rate", "Write rate", "Estimated allocation rate, bytes/s",
                         0, G_MAXUINT64, 0, flags);

  g_object_class_install_properties (object_class, DISK_N_PROPS, disk_properties);
}

static void
qmp_thin_disk_init (QmpThinDisk *self)
{
}

void
_qmp_thin_disk_set_state (QmpThinDisk      *disk,
                          QmpThinDiskState  state)
{
  if (disk->state == state)
    return;
  g_debug ("thin disk %s: %s -> %s", disk->node_name,
           _qmp_json_enum_nick (QMP_TYPE_THIN_DISK_STATE, disk->state),
           _qmp_json_enum_nick (QMP_TYPE_THIN_DISK_STATE, state));
  disk->state = state;
  if (state != QMP_THIN_DISK_STATE_DISABLED)
    {
      disk->disabled = DISABLED_NOT;
      disk->told_maximum = FALSE;
    }
  g_object_notify_by_pspec (G_OBJECT (disk), disk_properties[DISK_PROP_STATE]);
}

void
_qmp_thin_disk_notify (QmpThinDisk         *disk,
                       QmpThinDiskProperty  property)
{
  g_object_notify_by_pspec (G_OBJECT (disk), disk_properties[property]);
}

void
_qmp_thin_disk_set_uint64 (QmpThinDisk         *disk,
                           guint64             *field,
                           guint64              value,
                           QmpThinDiskProperty  property)
{
  if (*field == value)
    return;
  *field = value;
  _qmp_thin_disk_notify (disk, property);
}

void
_qmp_thin_disk_set_string (QmpThinDisk         *disk,
                           char               **field,
                           const char          *value,
                           QmpThinDiskProperty  property)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  _qmp_thin_disk_notify (disk, property);
}

/* A disk of @monitor, not armed yet. */
QmpThinDisk *
_qmp_thin_disk_new (QmpThinMonitor *monitor,
                    const char     *node_name,
                    guint64         physical_size,
                    guint64         chunk_size,
                    guint           free_percent)
{
  QmpThinDisk *disk = g_object_new (QMP_TYPE_THIN_DISK, NULL);

  disk->monitor = monitor;
  disk->node_name = g_strdup (node_name);
  disk->physical_size = physical_size;
  disk->chunk_size = chunk_size;
  disk->free_percent = free_percent;
  _qmp_thin_disk_init_sizing (disk);
  return disk;
}

/* Whatever is in flight for the disk (an arming) no longer counts. */
void
_qmp_thin_disk_supersede (QmpThinDisk *disk)
{
  disk->serial++;
  disk->arming = FALSE;
}

void
_qmp_thin_disk_disable (QmpThinDisk         *disk,
                        QmpThinDiskDisabled  why)
{
  disk->asked = FALSE;
  _qmp_thin_disk_supersede (disk);
  _qmp_thin_disk_set_state (disk, QMP_THIN_DISK_STATE_DISABLED);
  disk->disabled = why;
}

/**
 * qmp_thin_disk_get_node_name:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:node-name.
 *
 * Returns: the storage node's name
 *
 * Since: 1.0
 */
const char *
qmp_thin_disk_get_node_name (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), NULL);
  return disk->node_name;
}

/**
 * qmp_thin_disk_get_physical_size:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:physical-size.
 *
 * Returns: the size of the storage, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_physical_size (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->physical_size;
}

/**
 * qmp_thin_disk_get_chunk_size:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:chunk-size.
 *
 * Returns: the extension step, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_chunk_size (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->chunk_size;
}

/**
 * qmp_thin_disk_get_free_percent:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:free-percent.
 *
 * Returns: the free part of a chunk at the threshold, in percent
 *
 * Since: 1.0
 */
guint
qmp_thin_disk_get_free_percent (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->free_percent;
}

/**
 * qmp_thin_disk_get_maximum_size:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:maximum-size.
 *
 * Returns: the largest size of the storage in bytes, 0 for no limit
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_maximum_size (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->maximum_size;
}

/**
 * qmp_thin_disk_set_maximum_size:
 * @disk: a #QmpThinDisk
 * @maximum_size: the largest size of the storage in bytes, 0 for no limit
 *
 * Sets #QmpThinDisk:maximum-size. It takes effect at the next arming (the
 * next extension, or when the client is ready again).
 *
 * Since: 1.0
 */
void
qmp_thin_disk_set_maximum_size (QmpThinDisk *disk,
                                guint64      maximum_size)
{
  g_return_if_fail (QMP_IS_THIN_DISK (disk));
  disk->maximum_set = TRUE;
  _qmp_thin_disk_set_uint64 (disk, &disk->maximum_size, maximum_size, DISK_PROP_MAXIMUM_SIZE);
}

/**
 * qmp_thin_disk_get_threshold:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:threshold.
 *
 * Returns: the write threshold armed last, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_threshold (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->threshold;
}

/**
 * qmp_thin_disk_get_state:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:state.
 *
 * Returns: where the disk stands
 *
 * Since: 1.0
 */
QmpThinDiskState
qmp_thin_disk_get_state (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), QMP_THIN_DISK_STATE_DISABLED);
  return disk->state;
}

/**
 * qmp_thin_disk_get_highest_offset:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:highest-offset.
 *
 * Returns: the last known allocation high-water mark, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_highest_offset (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->highest_offset;
}

/**
 * qmp_thin_disk_get_wanted_size:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:wanted-size.
 *
 * Returns: the size asked for last, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_thin_disk_get_wanted_size (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->wanted_size;
}

/**
 * qmp_thin_disk_get_n_extensions:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:n-extensions.
 *
 * Returns: the number of extensions so far
 *
 * Since: 1.0
 */
guint
qmp_thin_disk_get_n_extensions (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), 0);
  return disk->n_extensions;
}

/**
 * qmp_thin_disk_get_device:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:device.
 *
 * Returns: (nullable): the guest device's backend, %NULL when unknown
 *
 * Since: 1.0
 */
const char *
qmp_thin_disk_get_device (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), NULL);
  return disk->place.device;
}

/**
 * qmp_thin_disk_get_replica_of:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:replica-of.
 *
 * Returns: (transfer none) (nullable): the disk @disk replicates, %NULL
 *   when @disk is no replica
 *
 * Since: 1.0
 */
QmpThinDisk *
qmp_thin_disk_get_replica_of (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), NULL);
  return disk->replica_of;
}

/**
 * qmp_thin_disk_get_job:
 * @disk: a #QmpThinDisk
 *
 * Gets #QmpThinDisk:job.
 *
 * Returns: (nullable): the id of the job writing the replica, %NULL when
 *   @disk is no replica
 *
 * Since: 1.0
 */
const char *
qmp_thin_disk_get_job (QmpThinDisk *disk)
{
  g_return_val_if_fail (QMP_IS_THIN_DISK (disk), NULL);
  return disk->job;
}

/**
 * qmp_thin_compute_threshold:
 * @physical_size: the size of the storage, in bytes
 * @chunk_size: the extension step, in bytes
 * @free_percent: the free part of a chunk at the threshold, 0 to 100
 *
 * Computes the write threshold of a disk: @physical_size minus
 * @chunk_size × (100 − @free_percent) / 100. When the storage is smaller
 * than that margin, the threshold is 1: the first write asks for more (a
 * threshold of 0 would disarm it).
 *
 * Returns: the threshold, in bytes; 0 when @physical_size is 0
 *
 * Since: 1.0
 */
guint64
qmp_thin_compute_threshold (guint64 physical_size,
                            guint64 chunk_size,
                            guint   free_percent)
{
  guint64 margin;

  g_return_val_if_fail (free_percent <= 100, 0);

  if (physical_size == 0)
    return 0;
  /* chunk × (100 − free) / 100 without overflowing 64 bits. */
  margin = chunk_size / 100 * (100 - free_percent) + chunk_size % 100 * (100 - free_percent) / 100;
  if (margin >= physical_size)
    return 1;
  return physical_size - margin;
}

/* Rounds @value up to a multiple of @step, 0 when it would overflow. */
static guint64
round_up (guint64 value,
          guint64 step)
{
  guint64 rest = value % step;

  if (rest == 0)
    return value;
  return value > G_MAXUINT64 - (step - rest) ? 0 : value + (step - rest);
}

static guint64
div_round_up (guint64 value,
              guint64 step)
{
  return value / step + (value % step != 0);
}

/**
 * qmp_thin_estimate_maximum_size:
 * @format: the image format of the disk's format node (`qcow2`, `raw`…)
 * @virtual_size: the disk's size as the guest sees it, in bytes
 * @cluster_size: the image's cluster size in bytes (qcow2: 65536 unless
 *   chosen otherwise); ignored for raw
 *
 * Estimates the most storage an image can use: what a guest writing
 * every byte of its disk makes the image grow to. For raw it is
 * @virtual_size. For qcow2 (16-bit refcounts, no extended L2 entries, no
 * bitmaps or snapshots inside) it is @virtual_size rounded up to a
 * cluster, plus the metadata a fully allocated image holds: the header,
 * the L1 and L2 tables, and the refcount table and blocks that count
 * every cluster, themselves included. This is what `qemu-img measure`
 * reports as the fully allocated size of a new image.
 *
 * #QmpThinMonitor uses it as the #QmpThinDisk:maximum-size of a disk whose
 * consumer set none: an extension past it is never needed, and an
 * allocation past it is improbable.
 *
 * Returns: the size in bytes, 0 for a format it cannot tell or sizes that
 *   do not fit in 64 bits
 *
 * Since: 1.0
 */
guint64
qmp_thin_estimate_maximum_size (const char *format,
                                guint64     virtual_size,
                                guint64     cluster_size)
{
  const guint64 entry = 8;      /* bytes of an L1, L2 or refcount table entry */
  guint64 data, clusters, l2_entries, l1_entries, meta, refcounts_per_block, entries_per_cluster;
  guint64 blocks = 0, table = 0, total = 0, last;

  g_return_val_if_fail (format != NULL, 0);

  if (g_str_equal (format, "raw"))
    return virtual_size;
  if (!g_str_equal (format, "qcow2") || cluster_size < 512 || (cluster_size & (cluster_size - 1)) != 0 ||
      virtual_size > G_MAXUINT64 / 2)
    return 0;

  data = round_up (virtual_size, cluster_size);
  if (data == 0 && virtual_size != 0)
    return 0;
  entries_per_cluster = cluster_size / entry;
  /* The header, then one L2 entry per data cluster, in whole tables. */
  meta = cluster_size;
  l2_entries = round_up (data / cluster_size, entries_per_cluster);
  meta += l2_entries * entry;
  /* One L1 entry per L2 table, in whole clusters. */
  l1_entries = round_up (l2_entries * entry / cluster_size, entries_per_cluster);
  meta += l1_entries * entry;

  /* Refcount blocks for every cluster, theirs and the refcount table's
   * included: grown until it covers itself. */
  clusters = (meta + data) / cluster_size;
  refcounts_per_block = cluster_size * 8 / 16;
  do
    {
      last = total;
      blocks = div_round_up (clusters + table + blocks, refcounts_per_block);
      table = div_round_up (blocks, entries_per_cluster);
      total = clusters + blocks + table;
    }
  while (total != last);

  return meta + (blocks + table) * cluster_size + data;
}
