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
  g_free (QMP_THIN_DISK (object)->node_name);
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
   * host's allocation.
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
