/* qmp-stop-reason.h: why a VM is not running
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib-object.h>
#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>

G_BEGIN_DECLS

/**
 * QMP_TYPE_STOP_REASON:
 *
 * The #GType of #QmpStopReason.
 *
 * Since: 1.0
 */
#define QMP_TYPE_STOP_REASON (qmp_stop_reason_get_type ())

/**
 * QmpStopReason:
 *
 * Why a VM is (not) running. The structure is opaque; see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpStopReason, qmp_stop_reason, QMP, STOP_REASON, GObject)

QMP_AVAILABLE_IN_1_0
QmpStopReason      *qmp_stop_reason_new                  (QmpStopKind          kind,
                                                          const char          *run_state,
                                                          const char * const  *node_names,
                                                          gint64               since_usec,
                                                          gboolean             derived);
QMP_AVAILABLE_IN_1_0
QmpStopKind         qmp_stop_reason_get_kind             (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
QmpRunState         qmp_stop_reason_get_run_state        (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
const char         *qmp_stop_reason_get_run_state_string (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
const char * const *qmp_stop_reason_get_node_names       (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
GPtrArray          *qmp_stop_reason_get_disks            (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_stop_reason_involves_disk        (QmpStopReason       *reason,
                                                          const char          *name);
QMP_AVAILABLE_IN_1_0
gint64              qmp_stop_reason_get_since_usec       (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_stop_reason_get_derived          (QmpStopReason       *reason);
QMP_AVAILABLE_IN_1_0
gboolean            qmp_stop_reason_is_paused            (QmpStopReason       *reason);

QMP_AVAILABLE_IN_1_0
QmpStopKind         qmp_stop_kind_from_run_state         (QmpRunState          run_state);

G_END_DECLS
