/* qmp-status.h: the run state of a VM, and pausing and resuming it
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
 * QMP_TYPE_STATUS_INFO:
 *
 * The #GType of #QmpStatusInfo.
 *
 * Since: 1.0
 */
#define QMP_TYPE_STATUS_INFO (qmp_status_info_get_type ())

/**
 * QmpStatusInfo:
 *
 * The result of `query-status`. The structure is opaque; see the
 * properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpStatusInfo, qmp_status_info, QMP, STATUS_INFO, GObject)

QMP_AVAILABLE_IN_1_0
QmpStatusInfo *qmp_status_info_new_from_json     (JsonObject     *object,
                                                  GError        **error);
QMP_AVAILABLE_IN_1_0
gboolean       qmp_status_info_get_running       (QmpStatusInfo  *info);
QMP_AVAILABLE_IN_1_0
QmpRunState    qmp_status_info_get_status        (QmpStatusInfo  *info);
QMP_AVAILABLE_IN_1_0
const char    *qmp_status_info_get_status_string (QmpStatusInfo  *info);
QMP_AVAILABLE_IN_1_0
JsonObject    *qmp_status_info_get_json          (QmpStatusInfo  *info);

G_END_DECLS
