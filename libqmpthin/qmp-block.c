/* qmp-block.c: block devices and nodes, their state and write thresholds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-events.h>

#include "qmp-json.h"
#include "qmp-models-private.h"

/**
 * SECTION:qmp-block
 * @Title: Block devices and nodes
 * @Short_description: query-block, query-blockstats, query-named-block-nodes, write thresholds
 *
 * Typed access to what a thin-provisioning agent reads and arms:
 *
 * - qmp_client_query_block_async() lists the guest's disks
 *   (#QmpBlockInfo) with their I/O status: %QMP_IO_STATUS_NOSPACE after a
 *   pause on a full disk. See #QmpIoStatus for how far to trust it.
 * - qmp_client_query_blockstats_async() with @query_nodes gives every
 *   named node's #QmpBlockStats:wr-highest-offset. On a storage (protocol)
 *   node it is the host allocation's high-water mark, 0 until the first
 *   write after QEMU opened the node.
 * - qmp_client_query_named_block_nodes_async() lists the nodes
 *   (#QmpBlockNode) with their armed #QmpBlockNode:write-threshold; 0 means
 *   none, also after a threshold fired.
 * - qmp_client_set_write_threshold_async() arms a threshold (0 disarms).
 *   Arm it on the storage node (the protocol node under the format node,
 *   as libvirt does): its offsets follow host allocation, while a format
 *   node's offsets are guest offsets.
 *
 * Every result keeps the whole JSON object QEMU sent (the `get_json`
 * accessors) for the members that have no property.
 */

/* ------------------------------------------------------------------------ */
/* QmpBlockInfo */

struct _QmpBlockInfo
{
  GObject parent_instance;

  JsonObject *json;             /* owned, sealed; the strings point into it */
  const char *device;
  const char *qdev;
  const char *node_name;
  const char *io_status_string;
  QmpIoStatus io_status;
  guint64 write_threshold;
  gboolean inserted;
};

G_DEFINE_FINAL_TYPE (QmpBlockInfo, qmp_block_info, G_TYPE_OBJECT)

enum {
  BI_PROP_0,
  BI_PROP_DEVICE,
  BI_PROP_QDEV,
  BI_PROP_NODE_NAME,
  BI_PROP_INSERTED,
  BI_PROP_IO_STATUS,
  BI_PROP_IO_STATUS_STRING,
  BI_PROP_WRITE_THRESHOLD,
  BI_N_PROPS
};

static GParamSpec *bi_properties[BI_N_PROPS];

static void
qmp_block_info_finalize (GObject *object)
{
  g_clear_pointer (&QMP_BLOCK_INFO (object)->json, json_object_unref);
  G_OBJECT_CLASS (qmp_block_info_parent_class)->finalize (object);
}

static void
qmp_block_info_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  QmpBlockInfo *self = QMP_BLOCK_INFO (object);

  switch (prop_id)
    {
    case BI_PROP_DEVICE:
      g_value_set_string (value, self->device);
      break;
    case BI_PROP_QDEV:
      g_value_set_string (value, self->qdev);
      break;
    case BI_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case BI_PROP_INSERTED:
      g_value_set_boolean (value, self->inserted);
      break;
    case BI_PROP_IO_STATUS:
      g_value_set_enum (value, self->io_status);
      break;
    case BI_PROP_IO_STATUS_STRING:
      g_value_set_string (value, self->io_status_string);
      break;
    case BI_PROP_WRITE_THRESHOLD:
      g_value_set_uint64 (value, self->write_threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_block_info_class_init (QmpBlockInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_block_info_finalize;
  object_class->get_property = qmp_block_info_get_property;

  /**
   * QmpBlockInfo:device:
   *
   * The block backend's name: the `id` of `-drive`, "" for a `-blockdev`
   * disk.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_DEVICE] =
    g_param_spec_string ("device", "Device", "Block backend name", NULL, flags);

  /**
   * QmpBlockInfo:qdev:
   *
   * The guest device: its id (`datadisk`) or QOM path
   * (`/machine/peripheral/datadisk/virtio-backend`); %NULL when absent.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_QDEV] =
    g_param_spec_string ("qdev", "Qdev", "Guest device", NULL, flags);

  /**
   * QmpBlockInfo:node-name:
   *
   * The node attached to the device (the format node of a qcow2 disk);
   * %NULL when no medium is inserted.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Root node of the device", NULL, flags);

  /**
   * QmpBlockInfo:inserted:
   *
   * Whether a medium is inserted (always for a hard disk).
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_INSERTED] =
    g_param_spec_boolean ("inserted", "Inserted", "Whether a medium is inserted", FALSE, flags);

  /**
   * QmpBlockInfo:io-status:
   *
   * The device's I/O status, %QMP_IO_STATUS_NONE when QEMU keeps none.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_IO_STATUS] =
    g_param_spec_enum ("io-status", "I/O status", "I/O status", QMP_TYPE_IO_STATUS,
                       QMP_IO_STATUS_NONE, flags);

  /**
   * QmpBlockInfo:io-status-string:
   *
   * The I/O status as QEMU spelled it; %NULL when absent.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_IO_STATUS_STRING] =
    g_param_spec_string ("io-status-string", "I/O status string", "I/O status as sent",
                         NULL, flags);

  /**
   * QmpBlockInfo:write-threshold:
   *
   * The write threshold armed on the device's root node, in bytes; 0
   * when none. Thresholds are best armed on the storage node below:
   * qmp_client_query_named_block_nodes_async() shows those.
   *
   * Since: 1.0
   */
  bi_properties[BI_PROP_WRITE_THRESHOLD] =
    g_param_spec_uint64 ("write-threshold", "Write threshold", "Threshold of the root node",
                         0, G_MAXUINT64, 0, flags);

  g_object_class_install_properties (object_class, BI_N_PROPS, bi_properties);
}

static void
qmp_block_info_init (QmpBlockInfo *self)
{
}

/**
 * qmp_block_info_new_from_json:
 * @object: one entry of the return value of `query-block`
 * @error: return location for a #GError
 *
 * Reads one `query-block` entry; `device` is required. @object is sealed
 * (made immutable): the result points into it.
 *
 * Returns: (transfer full): the device, or %NULL with a
 *   %QMP_ERROR_PROTOCOL error
 *
 * Since: 1.0
 */
QmpBlockInfo *
qmp_block_info_new_from_json (JsonObject  *object,
                              GError     **error)
{
  g_autoptr(QmpBlockInfo) self = NULL;
  JsonObject *inserted;

  g_return_val_if_fail (object != NULL, NULL);

  if (_qmp_json_get_string (object, "device") == NULL)
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "A query-block entry lacks a string device");
      return NULL;
    }

  self = g_object_new (QMP_TYPE_BLOCK_INFO, NULL);
  self->json = json_object_ref (object);
  json_object_seal (self->json);
  self->device = _qmp_json_get_string (object, "device");
  self->qdev = _qmp_json_get_string (object, "qdev");
  self->io_status_string = _qmp_json_get_string (object, "io-status");
  self->io_status = _qmp_json_enum_from_string (QMP_TYPE_IO_STATUS, self->io_status_string,
                                                QMP_IO_STATUS_NONE, QMP_IO_STATUS_UNKNOWN);
  inserted = _qmp_json_get_object (object, "inserted");
  if (inserted != NULL)
    {
      self->inserted = TRUE;
      self->node_name = _qmp_json_get_string (inserted, "node-name");
      self->write_threshold = _qmp_json_get_uint64 (inserted, "write_threshold", 0);
    }
  return g_steal_pointer (&self);
}

/**
 * qmp_block_info_get_device:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:device.
 *
 * Returns: the block backend's name, "" for `-blockdev` disks
 *
 * Since: 1.0
 */
const char *
qmp_block_info_get_device (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), NULL);
  return info->device;
}

/**
 * qmp_block_info_get_qdev:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:qdev.
 *
 * Returns: (nullable): the guest device
 *
 * Since: 1.0
 */
const char *
qmp_block_info_get_qdev (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), NULL);
  return info->qdev;
}

/**
 * qmp_block_info_get_node_name:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:node-name.
 *
 * Returns: (nullable): the node attached to the device
 *
 * Since: 1.0
 */
const char *
qmp_block_info_get_node_name (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), NULL);
  return info->node_name;
}

/**
 * qmp_block_info_get_inserted:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:inserted.
 *
 * Returns: %TRUE if a medium is inserted
 *
 * Since: 1.0
 */
gboolean
qmp_block_info_get_inserted (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), FALSE);
  return info->inserted;
}

/**
 * qmp_block_info_get_io_status:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:io-status.
 *
 * Returns: the I/O status
 *
 * Since: 1.0
 */
QmpIoStatus
qmp_block_info_get_io_status (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), QMP_IO_STATUS_NONE);
  return info->io_status;
}

/**
 * qmp_block_info_get_io_status_string:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:io-status-string.
 *
 * Returns: (nullable): the I/O status as QEMU spelled it
 *
 * Since: 1.0
 */
const char *
qmp_block_info_get_io_status_string (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), NULL);
  return info->io_status_string;
}

/**
 * qmp_block_info_get_write_threshold:
 * @info: a #QmpBlockInfo
 *
 * Gets #QmpBlockInfo:write-threshold.
 *
 * Returns: the root node's threshold in bytes, 0 for none
 *
 * Since: 1.0
 */
guint64
qmp_block_info_get_write_threshold (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), 0);
  return info->write_threshold;
}

/**
 * qmp_block_info_is_named:
 * @info: a #QmpBlockInfo
 * @name: a node name, a block backend name or a QOM path
 *
 * Tells whether @name designates this device, in whichever way QEMU named
 * it: by the node attached to it (#QmpBlockInfo:node-name, what
 * `BLOCK_IO_ERROR` names), by its block backend (#QmpBlockInfo:device;
 * the empty name of a `-blockdev` disk matches nothing) or by the guest
 * device (#QmpBlockInfo:qdev: a QOM path such as
 * `/machine/peripheral/vda/virtio-backend`, the `qom-path` of a
 * `BLOCK_IO_ERROR` from QEMU 9.2 and later, or the device's id).
 *
 * Returns: %TRUE if @name designates the device
 *
 * Since: 1.0
 */
gboolean
qmp_block_info_is_named (QmpBlockInfo *info,
                         const char   *name)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), FALSE);

  if (name == NULL || *name == '\0')
    return FALSE;
  return g_strcmp0 (info->node_name, name) == 0 ||
         g_strcmp0 (info->device, name) == 0 ||
         g_strcmp0 (info->qdev, name) == 0;
}

/* The device a BLOCK_IO_ERROR names, as a query-block entry would show it
 * during the pause: how a stop reason lists the disks of a pause it saw
 * the errors of. */
QmpBlockInfo *
_qmp_block_info_new_for_error (QmpBlockIoErrorEvent *event)
{
  g_autoptr(JsonObject) object = json_object_new ();
  const char *node_name = qmp_block_io_error_event_get_node_name (event);
  const char *qom_path = qmp_block_io_error_event_get_qom_path (event);
  const char *device = qmp_block_io_error_event_get_device (event);

  json_object_set_string_member (object, "device", device != NULL ? device : "");
  if (qom_path != NULL)
    json_object_set_string_member (object, "qdev", qom_path);
  json_object_set_string_member (object, "io-status",
                                 qmp_block_io_error_event_get_nospace (event) ? "nospace" : "failed");
  if (node_name != NULL)
    {
      JsonObject *inserted = json_object_new ();

      json_object_set_string_member (inserted, "node-name", node_name);
      json_object_set_object_member (object, "inserted", inserted);
    }
  return qmp_block_info_new_from_json (object, NULL);
}

/**
 * qmp_block_info_get_json:
 * @info: a #QmpBlockInfo
 *
 * Gives the whole entry, for members without a property.
 *
 * Returns: (transfer none): the sealed JSON object
 *
 * Since: 1.0
 */
JsonObject *
qmp_block_info_get_json (QmpBlockInfo *info)
{
  g_return_val_if_fail (QMP_IS_BLOCK_INFO (info), NULL);
  return info->json;
}

/* ------------------------------------------------------------------------ */
/* QmpBlockStats */

struct _QmpBlockStats
{
  GObject parent_instance;

  JsonObject *json;             /* owned, sealed; the strings point into it */
  const char *device;
  const char *node_name;
  const char *qdev;
  guint64 wr_highest_offset;
  QmpBlockStats *parent;        /* owned, nullable */
  QmpBlockStats *backing;       /* owned, nullable */
};

G_DEFINE_FINAL_TYPE (QmpBlockStats, qmp_block_stats, G_TYPE_OBJECT)

enum {
  BS_PROP_0,
  BS_PROP_DEVICE,
  BS_PROP_NODE_NAME,
  BS_PROP_QDEV,
  BS_PROP_WR_HIGHEST_OFFSET,
  BS_PROP_PARENT,
  BS_PROP_BACKING,
  BS_N_PROPS
};

static GParamSpec *bs_properties[BS_N_PROPS];

static void
qmp_block_stats_finalize (GObject *object)
{
  QmpBlockStats *self = QMP_BLOCK_STATS (object);

  g_clear_pointer (&self->json, json_object_unref);
  g_clear_object (&self->parent);
  g_clear_object (&self->backing);
  G_OBJECT_CLASS (qmp_block_stats_parent_class)->finalize (object);
}

static void
qmp_block_stats_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QmpBlockStats *self = QMP_BLOCK_STATS (object);

  switch (prop_id)
    {
    case BS_PROP_DEVICE:
      g_value_set_string (value, self->device);
      break;
    case BS_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case BS_PROP_QDEV:
      g_value_set_string (value, self->qdev);
      break;
    case BS_PROP_WR_HIGHEST_OFFSET:
      g_value_set_uint64 (value, self->wr_highest_offset);
      break;
    case BS_PROP_PARENT:
      g_value_set_object (value, self->parent);
      break;
    case BS_PROP_BACKING:
      g_value_set_object (value, self->backing);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_block_stats_class_init (QmpBlockStatsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_block_stats_finalize;
  object_class->get_property = qmp_block_stats_get_property;

  /**
   * QmpBlockStats:device:
   *
   * The block backend's name; "" or %NULL for nodes and `-blockdev` disks.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_DEVICE] =
    g_param_spec_string ("device", "Device", "Block backend name", NULL, flags);

  /**
   * QmpBlockStats:node-name:
   *
   * The node these statistics are of; %NULL when absent.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Node name", NULL, flags);

  /**
   * QmpBlockStats:qdev:
   *
   * The guest device, for entries of devices; %NULL otherwise.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_QDEV] =
    g_param_spec_string ("qdev", "Qdev", "Guest device", NULL, flags);

  /**
   * QmpBlockStats:wr-highest-offset:
   *
   * The end of the highest write since the node was opened, in bytes
   * (`stats.wr_highest_offset`): on a storage node, the host
   * allocation's high-water mark. 0 until the first write.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_WR_HIGHEST_OFFSET] =
    g_param_spec_uint64 ("wr-highest-offset", "Highest write offset", "End of the highest write",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpBlockStats:parent:
   *
   * The statistics of the node's `file` child (QEMU calls it `parent`),
   * down to the storage node: qcow2 → raw → file, say. %NULL for a node
   * without one.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_PARENT] =
    g_param_spec_object ("parent", "Parent", "Statistics of the file child",
                         QMP_TYPE_BLOCK_STATS, flags);

  /**
   * QmpBlockStats:backing:
   *
   * The statistics of the node's backing image, %NULL without one.
   *
   * Since: 1.0
   */
  bs_properties[BS_PROP_BACKING] =
    g_param_spec_object ("backing", "Backing", "Statistics of the backing image",
                         QMP_TYPE_BLOCK_STATS, flags);

  g_object_class_install_properties (object_class, BS_N_PROPS, bs_properties);
}

static void
qmp_block_stats_init (QmpBlockStats *self)
{
}

/**
 * qmp_block_stats_new_from_json:
 * @object: one entry of the return value of `query-blockstats`
 * @error: return location for a #GError
 *
 * Reads one `query-blockstats` entry; `stats` is required. @object is
 * sealed (made immutable): the result points into it.
 *
 * Returns: (transfer full): the statistics, or %NULL with a
 *   %QMP_ERROR_PROTOCOL error
 *
 * Since: 1.0
 */
QmpBlockStats *
qmp_block_stats_new_from_json (JsonObject  *object,
                               GError     **error)
{
  g_autoptr(QmpBlockStats) self = NULL;
  JsonObject *stats;

  g_return_val_if_fail (object != NULL, NULL);

  stats = _qmp_json_get_object (object, "stats");
  if (stats == NULL)
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "A query-blockstats entry lacks its stats object");
      return NULL;
    }

  self = g_object_new (QMP_TYPE_BLOCK_STATS, NULL);
  self->json = json_object_ref (object);
  json_object_seal (self->json);
  self->device = _qmp_json_get_string (object, "device");
  self->node_name = _qmp_json_get_string (object, "node-name");
  self->qdev = _qmp_json_get_string (object, "qdev");
  self->wr_highest_offset = _qmp_json_get_uint64 (stats, "wr_highest_offset", 0);
  if (_qmp_json_get_object (object, "parent") != NULL)
    {
      self->parent = qmp_block_stats_new_from_json (_qmp_json_get_object (object, "parent"), error);
      if (self->parent == NULL)
        return NULL;
    }
  if (_qmp_json_get_object (object, "backing") != NULL)
    {
      self->backing = qmp_block_stats_new_from_json (_qmp_json_get_object (object, "backing"), error);
      if (self->backing == NULL)
        return NULL;
    }
  return g_steal_pointer (&self);
}

/**
 * qmp_block_stats_get_device:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:device.
 *
 * Returns: (nullable): the block backend's name
 *
 * Since: 1.0
 */
const char *
qmp_block_stats_get_device (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->device;
}

/**
 * qmp_block_stats_get_node_name:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:node-name.
 *
 * Returns: (nullable): the node's name
 *
 * Since: 1.0
 */
const char *
qmp_block_stats_get_node_name (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->node_name;
}

/**
 * qmp_block_stats_get_qdev:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:qdev.
 *
 * Returns: (nullable): the guest device
 *
 * Since: 1.0
 */
const char *
qmp_block_stats_get_qdev (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->qdev;
}

/**
 * qmp_block_stats_get_wr_highest_offset:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:wr-highest-offset.
 *
 * Returns: the end of the highest write, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_block_stats_get_wr_highest_offset (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), 0);
  return stats->wr_highest_offset;
}

/**
 * qmp_block_stats_get_parent:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:parent.
 *
 * Returns: (transfer none) (nullable): the statistics of the file child
 *
 * Since: 1.0
 */
QmpBlockStats *
qmp_block_stats_get_parent (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->parent;
}

/**
 * qmp_block_stats_get_backing:
 * @stats: a #QmpBlockStats
 *
 * Gets #QmpBlockStats:backing.
 *
 * Returns: (transfer none) (nullable): the statistics of the backing image
 *
 * Since: 1.0
 */
QmpBlockStats *
qmp_block_stats_get_backing (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->backing;
}

/**
 * qmp_block_stats_get_json:
 * @stats: a #QmpBlockStats
 *
 * Gives the whole entry, for the counters without a property.
 *
 * Returns: (transfer none): the sealed JSON object
 *
 * Since: 1.0
 */
JsonObject *
qmp_block_stats_get_json (QmpBlockStats *stats)
{
  g_return_val_if_fail (QMP_IS_BLOCK_STATS (stats), NULL);
  return stats->json;
}

/* ------------------------------------------------------------------------ */
/* QmpBlockNode */

struct _QmpBlockNode
{
  GObject parent_instance;

  JsonObject *json;             /* owned, sealed; the strings point into it */
  const char *node_name;
  const char *driver;
  const char *filename;
  guint64 write_threshold;
  guint64 virtual_size;
  guint64 cluster_size;
  gboolean read_only;
};

G_DEFINE_FINAL_TYPE (QmpBlockNode, qmp_block_node, G_TYPE_OBJECT)

enum {
  BN_PROP_0,
  BN_PROP_NODE_NAME,
  BN_PROP_DRIVER,
  BN_PROP_FILENAME,
  BN_PROP_WRITE_THRESHOLD,
  BN_PROP_VIRTUAL_SIZE,
  BN_PROP_CLUSTER_SIZE,
  BN_PROP_READ_ONLY,
  BN_N_PROPS
};

static GParamSpec *bn_properties[BN_N_PROPS];

static void
qmp_block_node_finalize (GObject *object)
{
  g_clear_pointer (&QMP_BLOCK_NODE (object)->json, json_object_unref);
  G_OBJECT_CLASS (qmp_block_node_parent_class)->finalize (object);
}

static void
qmp_block_node_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  QmpBlockNode *self = QMP_BLOCK_NODE (object);

  switch (prop_id)
    {
    case BN_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case BN_PROP_DRIVER:
      g_value_set_string (value, self->driver);
      break;
    case BN_PROP_FILENAME:
      g_value_set_string (value, self->filename);
      break;
    case BN_PROP_WRITE_THRESHOLD:
      g_value_set_uint64 (value, self->write_threshold);
      break;
    case BN_PROP_VIRTUAL_SIZE:
      g_value_set_uint64 (value, self->virtual_size);
      break;
    case BN_PROP_CLUSTER_SIZE:
      g_value_set_uint64 (value, self->cluster_size);
      break;
    case BN_PROP_READ_ONLY:
      g_value_set_boolean (value, self->read_only);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_block_node_class_init (QmpBlockNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_block_node_finalize;
  object_class->get_property = qmp_block_node_get_property;

  /**
   * QmpBlockNode:node-name:
   *
   * The node's name.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Node name", NULL, flags);

  /**
   * QmpBlockNode:driver:
   *
   * The node's block driver (`qcow2`, `raw`, `file`…); %NULL when absent.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_DRIVER] =
    g_param_spec_string ("driver", "Driver", "Block driver", NULL, flags);

  /**
   * QmpBlockNode:filename:
   *
   * The node's file name as QEMU shows it (a `json:` string for nodes
   * without a plain file); %NULL when absent.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_FILENAME] =
    g_param_spec_string ("filename", "Filename", "File name", NULL, flags);

  /**
   * QmpBlockNode:write-threshold:
   *
   * The armed write threshold in bytes; 0 when none is armed, which is
   * also the case once an armed threshold fired.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_WRITE_THRESHOLD] =
    g_param_spec_uint64 ("write-threshold", "Write threshold", "Armed threshold",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpBlockNode:virtual-size:
   *
   * The size of the node as its parents see it, in bytes (`image`'s
   * `virtual-size`): the disk's size for a format node, the storage's
   * for a protocol node (a logical volume, a file); 0 when absent.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_VIRTUAL_SIZE] =
    g_param_spec_uint64 ("virtual-size", "Virtual size", "Size seen by the parents, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpBlockNode:cluster-size:
   *
   * The image format's cluster size in bytes (`image`'s `cluster-size`);
   * 0 for formats without clusters.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_CLUSTER_SIZE] =
    g_param_spec_uint64 ("cluster-size", "Cluster size", "Cluster size, bytes",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpBlockNode:read-only:
   *
   * Whether the node is opened read-only (`ro`): the backing nodes of a
   * chain are.
   *
   * Since: 1.0
   */
  bn_properties[BN_PROP_READ_ONLY] =
    g_param_spec_boolean ("read-only", "Read-only", "Opened read-only", FALSE, flags);

  g_object_class_install_properties (object_class, BN_N_PROPS, bn_properties);
}

static void
qmp_block_node_init (QmpBlockNode *self)
{
}

/**
 * qmp_block_node_new_from_json:
 * @object: one entry of the return value of `query-named-block-nodes`
 * @error: return location for a #GError
 *
 * Reads one `query-named-block-nodes` entry; `node-name` is required.
 * @object is sealed (made immutable): the result points into it.
 *
 * Returns: (transfer full): the node, or %NULL with a %QMP_ERROR_PROTOCOL
 *   error
 *
 * Since: 1.0
 */
QmpBlockNode *
qmp_block_node_new_from_json (JsonObject  *object,
                              GError     **error)
{
  g_autoptr(QmpBlockNode) self = NULL;
  JsonObject *image;

  g_return_val_if_fail (object != NULL, NULL);

  if (_qmp_json_get_string (object, "node-name") == NULL)
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "A query-named-block-nodes entry lacks a string node-name");
      return NULL;
    }

  self = g_object_new (QMP_TYPE_BLOCK_NODE, NULL);
  self->json = json_object_ref (object);
  json_object_seal (self->json);
  self->node_name = _qmp_json_get_string (object, "node-name");
  self->driver = _qmp_json_get_string (object, "drv");
  self->filename = _qmp_json_get_string (object, "file");
  self->write_threshold = _qmp_json_get_uint64 (object, "write_threshold", 0);
  self->read_only = _qmp_json_get_boolean (object, "ro", FALSE);
  image = _qmp_json_get_object (object, "image");
  if (image != NULL)
    {
      self->virtual_size = _qmp_json_get_uint64 (image, "virtual-size", 0);
      self->cluster_size = _qmp_json_get_uint64 (image, "cluster-size", 0);
    }
  return g_steal_pointer (&self);
}

/**
 * qmp_block_node_get_node_name:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:node-name.
 *
 * Returns: the node's name
 *
 * Since: 1.0
 */
const char *
qmp_block_node_get_node_name (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), NULL);
  return node->node_name;
}

/**
 * qmp_block_node_get_driver:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:driver.
 *
 * Returns: (nullable): the block driver
 *
 * Since: 1.0
 */
const char *
qmp_block_node_get_driver (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), NULL);
  return node->driver;
}

/**
 * qmp_block_node_get_filename:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:filename.
 *
 * Returns: (nullable): the file name
 *
 * Since: 1.0
 */
const char *
qmp_block_node_get_filename (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), NULL);
  return node->filename;
}

/**
 * qmp_block_node_get_write_threshold:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:write-threshold.
 *
 * Returns: the armed threshold in bytes, 0 for none
 *
 * Since: 1.0
 */
guint64
qmp_block_node_get_write_threshold (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), 0);
  return node->write_threshold;
}

/**
 * qmp_block_node_get_virtual_size:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:virtual-size.
 *
 * Returns: the size in bytes, 0 when QEMU did not say
 *
 * Since: 1.0
 */
guint64
qmp_block_node_get_virtual_size (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), 0);
  return node->virtual_size;
}

/**
 * qmp_block_node_get_cluster_size:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:cluster-size.
 *
 * Returns: the cluster size in bytes, 0 for none
 *
 * Since: 1.0
 */
guint64
qmp_block_node_get_cluster_size (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), 0);
  return node->cluster_size;
}

/**
 * qmp_block_node_get_read_only:
 * @node: a #QmpBlockNode
 *
 * Gets #QmpBlockNode:read-only.
 *
 * Returns: whether the node is opened read-only
 *
 * Since: 1.0
 */
gboolean
qmp_block_node_get_read_only (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), FALSE);
  return node->read_only;
}

/**
 * qmp_block_node_get_json:
 * @node: a #QmpBlockNode
 *
 * Gives the whole entry, for members without a property.
 *
 * Returns: (transfer none): the sealed JSON object
 *
 * Since: 1.0
 */
JsonObject *
qmp_block_node_get_json (QmpBlockNode *node)
{
  g_return_val_if_fail (QMP_IS_BLOCK_NODE (node), NULL);
  return node->json;
}
