/* qmp-block.h: block devices and nodes, their state and write thresholds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>

G_BEGIN_DECLS

/**
 * QMP_TYPE_BLOCK_INFO:
 *
 * The #GType of #QmpBlockInfo.
 *
 * Since: 1.0
 */
#define QMP_TYPE_BLOCK_INFO (qmp_block_info_get_type ())

/**
 * QmpBlockInfo:
 *
 * One block device of `query-block`. The structure is opaque; see the
 * properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpBlockInfo, qmp_block_info, QMP, BLOCK_INFO, GObject)

QMP_AVAILABLE_IN_1_0
QmpBlockInfo *qmp_block_info_new_from_json        (JsonObject    *object,
                                                   GError       **error);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_info_get_device           (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_info_get_qdev             (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_info_get_node_name        (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
gboolean      qmp_block_info_get_inserted         (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
QmpIoStatus   qmp_block_info_get_io_status        (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_info_get_io_status_string (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
guint64       qmp_block_info_get_write_threshold  (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
JsonObject   *qmp_block_info_get_json             (QmpBlockInfo  *info);
QMP_AVAILABLE_IN_1_0
gboolean      qmp_block_info_is_named             (QmpBlockInfo  *info,
                                                   const char    *name);

/**
 * QMP_TYPE_BLOCK_STATS:
 *
 * The #GType of #QmpBlockStats.
 *
 * Since: 1.0
 */
#define QMP_TYPE_BLOCK_STATS (qmp_block_stats_get_type ())

/**
 * QmpBlockStats:
 *
 * The statistics of one device or node of `query-blockstats`. The
 * structure is opaque; see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpBlockStats, qmp_block_stats, QMP, BLOCK_STATS, GObject)

QMP_AVAILABLE_IN_1_0
QmpBlockStats *qmp_block_stats_new_from_json         (JsonObject     *object,
                                                      GError        **error);
QMP_AVAILABLE_IN_1_0
const char    *qmp_block_stats_get_device            (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
const char    *qmp_block_stats_get_node_name         (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
const char    *qmp_block_stats_get_qdev              (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
guint64        qmp_block_stats_get_wr_highest_offset (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
QmpBlockStats *qmp_block_stats_get_parent            (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
QmpBlockStats *qmp_block_stats_get_backing           (QmpBlockStats  *stats);
QMP_AVAILABLE_IN_1_0
JsonObject    *qmp_block_stats_get_json              (QmpBlockStats  *stats);

/**
 * QMP_TYPE_BLOCK_NODE:
 *
 * The #GType of #QmpBlockNode.
 *
 * Since: 1.0
 */
#define QMP_TYPE_BLOCK_NODE (qmp_block_node_get_type ())

/**
 * QmpBlockNode:
 *
 * One named block node of `query-named-block-nodes`. The structure is
 * opaque; see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpBlockNode, qmp_block_node, QMP, BLOCK_NODE, GObject)

QMP_AVAILABLE_IN_1_0
QmpBlockNode *qmp_block_node_new_from_json       (JsonObject    *object,
                                                  GError       **error);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_node_get_node_name       (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_node_get_driver          (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
const char   *qmp_block_node_get_filename        (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
guint64       qmp_block_node_get_write_threshold (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
guint64       qmp_block_node_get_virtual_size    (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
guint64       qmp_block_node_get_cluster_size    (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
gboolean      qmp_block_node_get_read_only       (QmpBlockNode  *node);
QMP_AVAILABLE_IN_1_0
JsonObject   *qmp_block_node_get_json            (QmpBlockNode  *node);

G_END_DECLS
