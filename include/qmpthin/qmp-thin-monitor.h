/* qmp-thin-monitor.h: the high-water-mark policy of thin-provisioned disks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <gio/gio.h>
#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>
#include <qmpthin/qmp-client.h>
#include <qmpthin/qmp-thin-timing.h>

G_BEGIN_DECLS

/**
 * QMP_THIN_DEFAULT_CHUNK_SIZE:
 *
 * The default extension step of qmp_thin_monitor_add_disk(): 2560 MiB
 * (2684354560 bytes), as oVirt's vdsm uses.
 *
 * Since: 1.0
 */
#define QMP_THIN_DEFAULT_CHUNK_SIZE G_GUINT64_CONSTANT (2684354560)

/**
 * QMP_THIN_DEFAULT_FREE_PERCENT:
 *
 * The default free percentage of qmp_thin_monitor_add_disk(): 20.
 *
 * Since: 1.0
 */
#define QMP_THIN_DEFAULT_FREE_PERCENT 20

/**
 * QMP_TYPE_THIN_DISK:
 *
 * The #GType of #QmpThinDisk.
 *
 * Since: 1.0
 */
#define QMP_TYPE_THIN_DISK (qmp_thin_disk_get_type ())

/**
 * QmpThinDisk:
 *
 * One storage node a #QmpThinMonitor watches. The structure is opaque;
 * see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpThinDisk, qmp_thin_disk, QMP, THIN_DISK, GObject)

QMP_AVAILABLE_IN_1_0
const char       *qmp_thin_disk_get_node_name      (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_physical_size  (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_chunk_size     (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint             qmp_thin_disk_get_free_percent   (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_maximum_size   (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
void              qmp_thin_disk_set_maximum_size   (QmpThinDisk *disk,
                                                    guint64      maximum_size);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_threshold      (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
QmpThinDiskState  qmp_thin_disk_get_state          (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_highest_offset (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_wanted_size    (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
guint             qmp_thin_disk_get_n_extensions   (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
const char       *qmp_thin_disk_get_device         (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
QmpThinDisk      *qmp_thin_disk_get_replica_of     (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
const char       *qmp_thin_disk_get_job            (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
QmpThinSizing     qmp_thin_disk_get_sizing         (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
void              qmp_thin_disk_set_sizing         (QmpThinDisk  *disk,
                                                    QmpThinSizing sizing);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_disk_get_write_rate     (QmpThinDisk *disk);
QMP_AVAILABLE_IN_1_0
QmpThinTiming    *qmp_thin_disk_get_timing         (QmpThinDisk  *disk,
                                                    QmpThinPhase  phase);

QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_compute_threshold       (guint64      physical_size,
                                                    guint64      chunk_size,
                                                    guint        free_percent);
QMP_AVAILABLE_IN_1_0
guint64           qmp_thin_estimate_maximum_size   (const char  *format,
                                                    guint64      virtual_size,
                                                    guint64      cluster_size);

/**
 * QMP_TYPE_THIN_MONITOR:
 *
 * The #GType of #QmpThinMonitor.
 *
 * Since: 1.0
 */
#define QMP_TYPE_THIN_MONITOR (qmp_thin_monitor_get_type ())

/**
 * QmpThinMonitor:
 *
 * The high-water-mark policy for the thin disks of one VM. The structure
 * is opaque.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpThinMonitor, qmp_thin_monitor, QMP, THIN_MONITOR, GObject)

QMP_AVAILABLE_IN_1_0
QmpThinMonitor *qmp_thin_monitor_new                  (QmpClient      *client);
QMP_AVAILABLE_IN_1_0
QmpClient      *qmp_thin_monitor_get_client           (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
QmpThinDisk    *qmp_thin_monitor_add_disk             (QmpThinMonitor *monitor,
                                                       const char     *node_name,
                                                       guint64         physical_size,
                                                       guint64         chunk_size,
                                                       guint           free_percent);
QMP_AVAILABLE_IN_1_0
gboolean        qmp_thin_monitor_remove_disk          (QmpThinMonitor *monitor,
                                                       const char     *node_name);
QMP_AVAILABLE_IN_1_0
QmpThinDisk    *qmp_thin_monitor_get_disk             (QmpThinMonitor *monitor,
                                                       const char     *node_name);
QMP_AVAILABLE_IN_1_0
GPtrArray      *qmp_thin_monitor_list_disks           (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_extended             (QmpThinMonitor *monitor,
                                                       const char     *node_name,
                                                       guint64         new_physical_size);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_extend_failed        (QmpThinMonitor *monitor,
                                                       const char     *node_name,
                                                       const GError   *error);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_n_nospace_pauses (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
gint64          qmp_thin_monitor_get_nospace_paused_usec (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_n_resumes        (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
QmpThinTiming  *qmp_thin_monitor_get_timing           (QmpThinMonitor *monitor,
                                                       QmpThinPhase    phase);

QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_declare_storage      (QmpThinMonitor *monitor,
                                                       const char     *node_name,
                                                       guint64         physical_size);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_refresh              (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_poll_interval    (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_set_poll_interval    (QmpThinMonitor *monitor,
                                                       guint           interval_ms);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_n_polls          (QmpThinMonitor *monitor);

QMP_AVAILABLE_IN_1_0
QmpIoErrorPolicy qmp_thin_monitor_get_io_error_policy (QmpThinMonitor  *monitor);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_set_io_error_policy  (QmpThinMonitor  *monitor,
                                                       QmpIoErrorPolicy policy);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_n_io_error_retries (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_n_job_resumes    (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
guint           qmp_thin_monitor_get_pause_limit      (QmpThinMonitor *monitor);
QMP_AVAILABLE_IN_1_0
void            qmp_thin_monitor_set_pause_limit      (QmpThinMonitor *monitor,
                                                       guint           limit_ms);

G_END_DECLS
